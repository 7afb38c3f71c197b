package io.jenkins.plugins.jupyter.client;

import static io.jenkins.plugins.jupyter.client.ServiceProcess.TOKEN;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.greaterThan;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.Timeout;

/** A service that crashes (SIGKILL) and comes back while a build follows a run. */
public class ServiceRestartTest {
    @Rule
    public Timeout timeout = Timeout.seconds(90);

    @Test
    public void a_restarted_service_is_followed_from_the_log_offset_and_no_line_prints_twice() throws Exception {
        try (ServiceProcess service = ServiceProcess.start()) {
            ServiceClient client = new ServiceClient(service.url(), TOKEN,
                    ClientOptions.defaults().withGiveUpAfter(Duration.ofSeconds(60)));
            LogCapture log = new LogCapture();
            JupyterRun run = new JupyterRun(client, log.stream);
            RunRequest lines = RunRequest.code("import time\nfor i in range(2000):\n"
                    + "    print(f'line {i}', flush=True)\n    time.sleep(0.01)\n").kernel("python3");
            CompletableFuture<JupyterRun.Outcome> outcome = CompletableFuture.supplyAsync(() -> {
                try {
                    return run.execute(lines, "java-test-" + UUID.randomUUID(), null, false);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue("the run did not print", log.await("line 50\n", 30_000));

            service.kill();
            service.restart();
            JupyterRun.Outcome ended = outcome.get(60, TimeUnit.SECONDS);

            assertEquals("lost", ended.run().status());
            assertEquals(Integer.valueOf(6), ended.run().exitCode());
            assertEquals(JupyterResult.FAILURE, ended.result());
            List<String> printed = new ArrayList<>();
            String last = "";
            for (String line : log.text().split("\n")) {
                if (line.matches("line [0-9]+")) {
                    printed.add(line);
                }
                if (!line.isBlank()) {
                    last = line;
                }
            }
            assertThat(printed.size(), greaterThan(50));
            for (int i = 0; i < printed.size(); i++) {
                assertEquals("each line once, in order", "line " + i, printed.get(i));
            }
            assertThat(last, containsString("lost"));
            assertThat(last, containsString("(exit code 6): the service stopped while the run was in flight"));
            assertThat(log.text(), containsString("[jupyter] the service at " + service.url() + " answers again"));
        }
    }
}
