package io.jenkins.plugins.jupyter.client;

import static io.jenkins.plugins.jupyter.client.ServiceProcess.TOKEN;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.instanceOf;
import static org.hamcrest.Matchers.lessThan;
import static org.hamcrest.Matchers.not;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.junit.rules.Timeout;

/** The client against the real service: a run from POST to build result, as a Jenkins step does it. */
public class JupyterRunTest {
    static ServiceProcess service;

    @Rule
    public Timeout timeout = Timeout.seconds(60);

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @BeforeClass
    public static void startService() throws Exception {
        service = ServiceProcess.shared();
    }

    static ServiceClient client() {
        return new ServiceClient(service.url(), TOKEN, ClientOptions.defaults().withGiveUpAfter(Duration.ofSeconds(20)));
    }

    static String key() {
        return "java-test-" + UUID.randomUUID();
    }

    static RunRequest cell(String code) {
        return RunRequest.code(code).kernel("python3");
    }

    @Test
    public void a_cell_that_succeeds_shows_its_output_and_ends_success() throws Exception {
        LogCapture log = new LogCapture();
        JupyterRun.Outcome outcome = new JupyterRun(client(), log.stream)
                .execute(cell("print('hello from the kernel')"), key(), null, false);
        assertEquals(Integer.valueOf(0), outcome.run().exitCode());
        assertEquals("succeeded", outcome.run().status());
        assertEquals(JupyterResult.SUCCESS, outcome.result());
        assertThat(log.text(), containsString("hello from the kernel\n"));
        assertThat(log.text(), containsString("[jupyter] run " + outcome.run().id() + ": cell on " + service.url()));
        assertThat(log.text(), containsString("(exit code 0)"));
    }

    @Test
    public void a_cell_error_ends_failure_with_exit_code_1_or_unstable_when_asked() throws Exception {
        LogCapture log = new LogCapture();
        JupyterRun.Outcome failed = new JupyterRun(client(), log.stream).execute(cell("1/0"), key(), null, false);
        assertEquals(Integer.valueOf(1), failed.run().exitCode());
        assertEquals(JupyterResult.FAILURE, failed.result());
        assertThat(log.text(), containsString("ZeroDivisionError"));
        assertThat(failed.summary(), containsString("ended failed (exit code 1): ZeroDivisionError"));

        JupyterRun.Outcome unstable = new JupyterRun(client(), new LogCapture().stream).execute(cell("1/0"), key(), null, true);
        assertEquals(JupyterResult.UNSTABLE, unstable.result());
    }

    @Test
    public void a_run_past_its_timeout_ends_with_exit_code_2() throws Exception {
        LogCapture log = new LogCapture();
        JupyterRun.Outcome outcome = new JupyterRun(client(), log.stream)
                .execute(cell("import time\ntime.sleep(60)").timeout(1), key(), null, false);
        assertEquals(Integer.valueOf(2), outcome.run().exitCode());
        assertEquals("timed_out", outcome.run().status());
        assertEquals(JupyterResult.FAILURE, outcome.result());
    }

    @Test
    public void abort_from_another_thread_cancels_the_run_within_two_seconds() throws Exception {
        LogCapture log = new LogCapture();
        JupyterRun run = new JupyterRun(client(), log.stream);
        CompletableFuture<Throwable> ended = executeInThread(run, cell("import time\nprint('sleeping', flush=True)\ntime.sleep(600)"));
        assertTrue("the run did not start", log.await("sleeping\n", 30_000));

        long t0 = System.nanoTime();
        CompletableFuture<Boolean> cancel = run.abort(); // what the step's stop() calls
        assertThat(ended.get(2, TimeUnit.SECONDS), instanceOf(InterruptedException.class));
        assertTrue("the service did not accept the cancel", cancel.get(2, TimeUnit.SECONDS));
        RunInfo info = awaitEnd(run.runId());
        assertThat(elapsedMillis(t0), lessThan(2000L));
        assertEquals("cancelled", info.status());
        assertEquals(Integer.valueOf(4), info.exitCode());
        assertThat(log.text(), containsString("[jupyter] aborting: cancelling run " + run.runId()));
    }

    @Test
    public void interrupting_the_build_thread_cancels_the_run_too() throws Exception {
        LogCapture log = new LogCapture();
        JupyterRun run = new JupyterRun(client(), log.stream);
        Thread[] thread = new Thread[1];
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        thread[0] = new Thread(() -> ended.complete(execute(run, cell("import time\nprint('sleeping', flush=True)\ntime.sleep(600)"))));
        thread[0].start();
        assertTrue("the run did not start", log.await("sleeping\n", 30_000));

        long t0 = System.nanoTime();
        thread[0].interrupt(); // what a freestyle abort does
        assertThat(ended.get(5, TimeUnit.SECONDS), instanceOf(InterruptedException.class));
        RunInfo info = awaitEnd(run.runId());
        assertThat(elapsedMillis(t0), lessThan(2000L));
        assertEquals("cancelled", info.status());
    }

    @Test
    public void an_unreachable_service_gives_a_one_line_error_naming_the_url() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort(); // free now, and nothing listens once closed
        }
        String url = "http://127.0.0.1:" + port;
        ServiceClient client = new ServiceClient(url, TOKEN, ClientOptions.defaults().withGiveUpAfter(Duration.ofSeconds(1)));
        LogCapture log = new LogCapture();
        long t0 = System.nanoTime();
        try {
            new JupyterRun(client, log.stream).execute(cell("print(1)"), key(), null, false);
            fail("no error");
        } catch (ServiceException e) {
            assertThat(e.getMessage(), containsString("cannot reach the jupyter service at " + url));
            assertThat(e.getMessage(), containsString("connection refused"));
            assertThat(e.getMessage(), containsString("check that it runs"));
            assertFalse("one line: " + e.getMessage(), e.getMessage().contains("\n"));
            assertEquals("unreachable", e.code());
        }
        assertThat(elapsedMillis(t0), lessThan(5000L));
        assertThat(log.text(), containsString("[jupyter] cannot start the cell (connection refused); trying again for up to 1 s"));
    }

    @Test
    public void a_wrong_token_gives_a_clear_error_about_the_credential() throws Exception {
        ServiceClient client = new ServiceClient(service.url(), "not-the-token", ClientOptions.defaults());
        try {
            new JupyterRun(client, new LogCapture().stream).execute(cell("print(1)"), key(), null, false);
            fail("no error");
        } catch (ServiceException e) {
            assertEquals(401, e.httpStatus());
            assertThat(e.getMessage(), containsString("the jupyter service at " + service.url() + " refused the token"));
            assertThat(e.getMessage(), containsString("check the Secret text credential"));
            assertFalse(e.getMessage().contains("\n"));
        }
    }

    @Test
    public void a_rejected_request_says_what_the_service_said() throws Exception {
        try {
            client().startRun(RunRequest.code("1").kernel("no-such-kernel"), key());
            fail("no error");
        } catch (ServiceException e) {
            assertEquals(400, e.httpStatus());
            assertThat(e.getMessage(), containsString("answered 400 unknown_kernel: no kernel named 'no-such-kernel'"));
            assertFalse(e.retryable());
        }
    }

    @Test
    public void a_retried_post_with_the_same_key_returns_the_same_run() throws Exception {
        String key = key();
        RunInfo first = client().startRun(cell("print(1)"), key);
        RunInfo again = client().startRun(cell("print(1)"), key);
        assertEquals(first.id(), again.id());
        awaitEnd(first.id());
    }

    @Test
    public void an_abort_while_the_post_is_in_flight_finds_the_run_by_its_key_and_cancels_it() throws Exception {
        String key = key();
        RunRequest sleeper = cell("import time\ntime.sleep(600)");
        RunInfo started = client().startRun(sleeper, key); // the POST that the abort cut short
        ServiceClient aborted = client();
        aborted.abort();
        assertTrue(aborted.cancelRunStartedWith(sleeper, key).get(10, TimeUnit.SECONDS));
        assertEquals("cancelled", awaitEnd(started.id()).status());
    }

    @Test
    public void consecutive_cells_of_a_build_share_its_session_which_can_be_deleted_after() throws Exception {
        BuildContext build = new BuildContext(
                Map.of("BUILD_TAG", "jenkins-java-test-" + UUID.randomUUID(), "JOB_NAME", "java-test", "BUILD_NUMBER", "7"),
                System.currentTimeMillis(), "3");
        ServiceClient client = client();
        LogCapture log = new LogCapture();
        new JupyterRun(client, log.stream).execute(cell("a = 41").sessionName(build.defaultSession())
                .jenkins(build.lineage()), build.idempotencyKey(), null, false);
        JupyterRun.Outcome second = new JupyterRun(client, log.stream).execute(
                cell("print(a + 1)").sessionName(build.defaultSession()).jenkins(build.lineage()),
                new BuildContext(Map.of("BUILD_TAG", build.defaultSession()), 0, "4").idempotencyKey(), null, false);
        assertEquals(Integer.valueOf(0), second.run().exitCode());
        assertThat(log.text(), containsString("42\n"));
        assertEquals(build.defaultSession(), second.run().sessionName());

        assertTrue(client.deleteSessionNamed(build.defaultSession()));
        assertFalse(client.deleteSessionNamed(build.defaultSession()));
    }

    @Test
    public void a_notebook_run_downloads_its_artifacts_but_not_its_input() throws Exception {
        String notebook = "{\"cells\": ["
                + "{\"cell_type\": \"code\", \"metadata\": {\"tags\": [\"parameters\"]}, \"source\": \"x = 1\","
                + " \"outputs\": [], \"execution_count\": null},"
                + "{\"cell_type\": \"code\", \"metadata\": {}, \"source\": \"print('answer', x * 2)\","
                + " \"outputs\": [], \"execution_count\": null}],"
                + " \"metadata\": {\"kernelspec\": {\"name\": \"python3\", \"display_name\": \"Python 3\", \"language\": \"python\"}},"
                + " \"nbformat\": 4, \"nbformat_minor\": 4}";
        Path out = tmp.newFolder("reports").toPath();
        LogCapture log = new LogCapture();
        JupyterRun.Outcome outcome = new JupyterRun(client(), log.stream).execute(
                RunRequest.notebook("nb/answer.ipynb", notebook).parameters(Map.of("x", "21")), key(),
                name -> open(out.resolve(name)), false);

        assertEquals(Integer.valueOf(0), outcome.run().exitCode());
        assertThat(log.text(), containsString("answer 42")); // "21" was typed as the CLI types -p x 21
        assertTrue(Files.isRegularFile(out.resolve("executed.ipynb")));
        assertTrue(Files.isRegularFile(out.resolve("junit.xml")));
        assertTrue(Files.isRegularFile(out.resolve("report.html")));
        assertFalse(Files.exists(out.resolve("input.ipynb")));
        assertThat(Files.readString(out.resolve("junit.xml")), containsString("<testsuite"));
        Json.parseObject(Files.readString(out.resolve("executed.ipynb")));
        assertTrue(outcome.artifacts().contains("junit.xml"));
        assertThat(outcome.artifacts().toString(), not(containsString("input")));
    }

    // -- helpers ---------------------------------------------------------------------------

    static OutputStream open(Path file) throws java.io.IOException {
        Files.createDirectories(file.getParent());
        return Files.newOutputStream(file);
    }

    static Throwable execute(JupyterRun run, RunRequest request) {
        try {
            run.execute(request, key(), null, false);
            return null;
        } catch (Throwable e) {
            return e;
        }
    }

    static CompletableFuture<Throwable> executeInThread(JupyterRun run, RunRequest request) {
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        new Thread(() -> ended.complete(execute(run, request)), "build").start();
        return ended;
    }

    /** Follow the run's log (long polls, no sleeps) to its end; the run as it ended. */
    static RunInfo awaitEnd(String runId) throws Exception {
        ServiceClient client = client();
        long start = 0;
        for (ServiceClient.LogChunk c; (c = client.readLog(runId, start, OutputStream.nullOutputStream())).more(); ) {
            start = c.nextStart();
        }
        RunInfo info = client.getRun(runId);
        assertTrue(info.finished());
        return info;
    }

    static long elapsedMillis(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }
}
