package io.jenkins.plugins.jupyter;

import static io.jenkins.plugins.jupyter.client.ServiceProcess.TOKEN;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.instanceOf;
import static org.hamcrest.Matchers.lessThan;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import hudson.model.TaskListener;
import hudson.remoting.Callable;
import hudson.remoting.Future;
import hudson.remoting.VirtualChannel;
import io.jenkins.plugins.jupyter.client.AgentStep;
import io.jenkins.plugins.jupyter.client.ClientOptions;
import io.jenkins.plugins.jupyter.client.JupyterResult;
import io.jenkins.plugins.jupyter.client.LogCapture;
import io.jenkins.plugins.jupyter.client.ServiceClient;
import io.jenkins.plugins.jupyter.client.ServiceException;
import io.jenkins.plugins.jupyter.client.ServiceProcess;
import io.jenkins.plugins.jupyter.client.StepOutcome;
import io.jenkins.plugins.jupyter.client.StepSettings;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.Serializable;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.Timeout;

/**
 * The step's agent side, as Jenkins runs it: the controller serializes a
 * {@link JupyterAgentCall} into the agent, which runs it against the workspace and its own
 * service; an abort interrupts the agent's thread (remoting's Cancel does exactly that).
 * Here the "channel" is a serialization round trip and a thread; the service is real, with
 * the workspace as an allowed root.
 */
public class AgentSideTest {
    static Path workspace;
    static ServiceProcess service;

    @Rule
    public Timeout timeout = Timeout.seconds(60);

    @BeforeClass
    public static void startService() throws Exception {
        service = ServiceProcess.shared();
        workspace = ServiceProcess.workspace();
    }

    /** A build log that survives serialization: the copy on the "agent" writes to the same capture. */
    static final class Listener implements TaskListener {
        private static final long serialVersionUID = 1L;
        static final Map<String, LogCapture> LOGS = new java.util.concurrent.ConcurrentHashMap<>();
        final String id = UUID.randomUUID().toString();

        Listener() {
            LOGS.put(id, new LogCapture());
        }

        LogCapture log() {
            return LOGS.get(id);
        }

        @Override
        public PrintStream getLogger() {
            return log().stream;
        }
    }

    static Map<String, String> buildEnv() {
        Map<String, String> env = new HashMap<>();
        env.put("BUILD_TAG", "jenkins-agent-side-" + UUID.randomUUID());
        env.put("BUILD_NUMBER", "42");
        env.put("JOB_NAME", "agent-side");
        env.put("BUILD_URL", "http://jenkins.example.com/job/agent-side/42/");
        env.put("WORKSPACE", workspace.toString());
        env.put("NODE_NAME", "agent-1");
        env.put("GIT_TOKEN", "not-for-the-kernel");
        env.put("PATH", "/usr/bin");
        return env;
    }

    static AgentStep step(StepSettings settings, Map<String, String> env) {
        return new AgentStep(settings, service.url(), TOKEN, env, System.currentTimeMillis(), UUID.randomUUID().toString(), "python3");
    }

    @SuppressWarnings("unchecked")
    static <T extends Serializable> T roundTrip(T object) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(object);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (T) in.readObject();
        }
    }

    static String notebook(String... cells) {
        StringBuilder b = new StringBuilder("{\"cells\": [");
        for (int i = 0; i < cells.length; i++) {
            String tags = i == 0 ? "{\"tags\": [\"parameters\"]}" : "{}";
            b.append(i > 0 ? "," : "").append("{\"cell_type\": \"code\", \"metadata\": ").append(tags)
                    .append(", \"source\": ").append(io.jenkins.plugins.jupyter.client.Json.write(cells[i]))
                    .append(", \"outputs\": [], \"execution_count\": null}");
        }
        return b.append("], \"metadata\": {\"kernelspec\": {\"name\": \"python3\", \"display_name\": \"Python 3\","
                + " \"language\": \"python\"}}, \"nbformat\": 4, \"nbformat_minor\": 4}").toString();
    }

    /** Only small serializable things cross the channel: no Run, StepContext or configuration. */
    static void assertOnlySmallThingsIn(Class<?> type) {
        Set<Class<?>> allowed = Set.of(String.class, long.class, boolean.class, Integer.class, LinkedHashMap.class,
                AgentStep.class, StepSettings.class, TaskListener.class);
        for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (!Modifier.isStatic(f.getModifiers()) && !Modifier.isTransient(f.getModifiers())) {
                    assertTrue(c.getSimpleName() + "." + f.getName() + " is a " + f.getType(), allowed.contains(f.getType()));
                    if (f.getType() == AgentStep.class || f.getType() == StepSettings.class) {
                        assertOnlySmallThingsIn(f.getType());
                    }
                }
            }
        }
    }

    /**
     * The default topology: no URL configured, the agent's own service found by the
     * discovery file in its data dir (the token from the file it names), the notebook run
     * in its folder of the workspace.
     */
    @Test
    public void the_agent_call_crosses_serialized_finds_the_agents_service_and_runs_a_notebook_in_place() throws Exception {
        Path dataDir = Files.createTempDirectory(workspace, "data-");
        Files.writeString(dataDir.resolve("token"), TOKEN + "\n");
        Files.writeString(dataDir.resolve("service.json"), "{\"url\": \"" + service.url() + "\", \"pid\": " + service.pid()
                + ", \"token_file\": \"" + dataDir.resolve("token") + "\"}");
        Map<String, String> env = buildEnv();
        env.put("JENKINS_KERNEL_DATA_DIR", dataDir.toString()); // as a node property may set it
        Path project = Files.createDirectories(workspace.resolve("project"));
        Files.writeString(project.resolve("data.csv"), "x\n1\n2\n3\n");
        Files.writeString(project.resolve("analysis.ipynb"), notebook("factor = 1",
                "import os\nrows = open('data.csv').read().split()[1:]\ntotal = sum(int(r) for r in rows) * factor\n"
                        + "open('result.txt', 'w').write(str(total))\n"
                        + "print('total', total, os.environ['BUILD_NUMBER'], os.environ.get('GIT_TOKEN'), os.environ['SEED'])"));
        StepSettings settings = StepSettings.notebook("project/analysis.ipynb").parameters(Map.of("factor", "2"))
                .env(Map.of("SEED", "7")).outputDir("reports/analysis");
        Listener listener = new Listener();
        assertOnlySmallThingsIn(JupyterAgentCall.class);
        AgentStep noUrl = new AgentStep(settings, null, null, env, System.currentTimeMillis(), "5", "python3");
        JupyterAgentCall onAgent = roundTrip(new JupyterAgentCall(noUrl, listener));

        StepOutcome outcome = roundTrip(onAgent.invoke(workspace.toFile(), null));

        String log = listener.log().text();
        assertEquals(log, JupyterResult.SUCCESS, outcome.result());
        assertThat(log, containsString("[jupyter] using this agent's service " + service.url()
                + " (found by " + dataDir.resolve("service.json") + ")"));
        assertThat(log, containsString("total 12 42 None 7\n")); // data.csv beside it, build variables, no secret
        assertEquals("12", Files.readString(project.resolve("result.txt"))); // written beside it
        assertTrue(Files.isRegularFile(workspace.resolve("reports/analysis/executed.ipynb")));
        assertTrue(outcome.artifacts().contains("junit.xml"));
        assertEquals(service.url() + "/ui/runs/" + outcome.runId(), outcome.dashboardUrl());
        assertThat(log, containsString("[jupyter] dashboard: " + outcome.dashboardUrl() + "\n"));
    }

    @Test
    public void interrupting_the_agents_thread_as_remoting_cancel_does_cancels_the_run_within_two_seconds() throws Exception {
        Listener listener = new Listener();
        Files.writeString(workspace.resolve("sleeper.ipynb"), notebook("x = 1", "import time\nprint('sleeping', flush=True)\ntime.sleep(600)"));
        StepSettings sleeper = StepSettings.notebook("sleeper.ipynb");
        JupyterAgentCall onAgent = roundTrip(new JupyterAgentCall(step(sleeper, buildEnv()), listener));
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        Thread agentThread = new Thread(() -> {
            try {
                onAgent.invoke(workspace.toFile(), null);
                ended.complete(null);
            } catch (Throwable e) {
                ended.complete(e);
            }
        }, "agent");
        agentThread.start();
        assertTrue("the run did not start", listener.log().await("sleeping\n", 30_000));

        long t0 = System.nanoTime();
        agentThread.interrupt();
        // the agent's thread returns once the service has accepted the cancel
        assertThat(ended.get(5, TimeUnit.SECONDS), instanceOf(InterruptedException.class));
        assertThat((System.nanoTime() - t0) / 1_000_000, lessThan(2000L));
        Matcher m = Pattern.compile("\\[jupyter\\] run ([0-9a-f]+):").matcher(listener.log().text());
        assertTrue(m.find());
        assertThat(listener.log().text(), containsString("[jupyter] aborting: cancelling run " + m.group(1)));
        assertEquals("cancelled", awaitStatus(m.group(1)));
    }

    @Test
    public void a_notebook_outside_the_allowed_roots_fails_with_the_services_403_in_one_line() throws Exception {
        Path elsewhere = Files.createTempDirectory("jk-not-allowed-");
        try {
            Files.writeString(elsewhere.resolve("nb.ipynb"), notebook("x = 1"));
            step(StepSettings.notebook(elsewhere.resolve("nb.ipynb").toString()), buildEnv()).run(workspace, new LogCapture().stream);
            fail("ran");
        } catch (ServiceException e) {
            assertEquals(403, e.httpStatus());
            assertThat(e.getMessage(), containsString("is outside the allowed roots"));
            assertFalse(e.getMessage().contains("\n"));
        } finally {
            Files.deleteIfExists(elsewhere.resolve("nb.ipynb"));
            Files.delete(elsewhere);
        }
    }

    @Test
    public void test_connection_shows_the_version_and_checks_the_token() throws Exception {
        ClientOptions quick = ClientOptions.defaults().withGiveUpAfter(Duration.ofSeconds(2));
        String answer = new ServiceClient(service.url(), TOKEN, quick).testConnection();
        assertThat(answer, containsString("jenkins-kernel " + version() + " at " + service.url() + " answers, and accepts the token"));
        try {
            new ServiceClient(service.url(), "wrong", quick).testConnection();
            fail("accepted");
        } catch (ServiceException e) {
            assertThat(e.getMessage(), containsString("refused the token"));
        }
    }

    /** A fake agent: callables arrive serialized and run on the agent's own thread. */
    static final class AgentChannel implements VirtualChannel {
        final CountDownLatch go = new CountDownLatch(1);

        @Override
        public <V, T extends Throwable> V call(Callable<V, T> callable) {
            throw new UnsupportedOperationException();
        }

        @Override
        public <V, T extends Throwable> Future<V> callAsync(Callable<V, T> callable) throws IOException {
            CompletableFuture<V> result = new CompletableFuture<>();
            Callable<V, T> onAgent;
            try {
                onAgent = roundTrip(callable);
            } catch (Exception e) {
                throw new IOException(e);
            }
            new Thread(() -> {
                try {
                    go.await();
                    result.complete(onAgent.call());
                } catch (Throwable e) {
                    result.completeExceptionally(e);
                }
            }, "agent").start();
            return new Future<V>() {
                @Override public boolean cancel(boolean interrupt) { return result.cancel(interrupt); }
                @Override public boolean isCancelled() { return result.isCancelled(); }
                @Override public boolean isDone() { return result.isDone(); }
                @Override public V get() throws InterruptedException, java.util.concurrent.ExecutionException { return result.get(); }
                @Override public V get(long t, TimeUnit u) throws InterruptedException, java.util.concurrent.ExecutionException,
                        java.util.concurrent.TimeoutException { return result.get(t, u); }
            };
        }

        @Override
        public <T> T export(Class<T> type, T instance) {
            return instance;
        }
    }

    @Test
    public void the_builds_end_closes_its_session_from_the_agent_without_waiting_for_it() throws Exception {
        Map<String, String> env = buildEnv();
        String session = env.get("BUILD_TAG");
        assertEquals(session, step(StepSettings.cell("a = 1"), env).buildSession());
        ServiceClient client = new ServiceClient(service.url(), TOKEN, ClientOptions.defaults());
        client.startRun(io.jenkins.plugins.jupyter.client.RunRequest.code("a = 1").sessionName(session), null); // a warm kernel

        AgentChannel agent = new AgentChannel(); // its thread waits until the build's end has returned
        long t0 = System.nanoTime();
        Future<Boolean> closing = JupyterSessionCleanup.closeInBackground(agent,
                new JupyterAgentCall.CloseSession(service.url(), TOKEN, session, null));
        assertThat("the build's end waited", (System.nanoTime() - t0) / 1_000_000, lessThan(500L));
        assertFalse(closing.isDone());
        agent.go.countDown();
        assertTrue("closed on the agent", closing.get(20, TimeUnit.SECONDS));
        assertFalse("gone", client.deleteSessionNamed(session));
    }

    static String awaitStatus(String runId) throws Exception {
        ServiceClient client = new ServiceClient(service.url(), TOKEN, ClientOptions.defaults());
        long start = 0;
        for (ServiceClient.LogChunk c; (c = client.readLog(runId, start, OutputStream.nullOutputStream())).more(); ) {
            start = c.nextStart();
        }
        return client.getRun(runId).status();
    }

    static String version() throws Exception {
        Process p = new ProcessBuilder(ServiceProcess.command(), "--version").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        p.waitFor();
        return out.substring(out.lastIndexOf(' ') + 1);
    }

}
