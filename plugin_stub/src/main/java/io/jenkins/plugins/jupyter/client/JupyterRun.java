package io.jenkins.plugins.jupyter.client;

import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One step's run, start to end: POST it, follow its log into the build log, download its
 * artifacts, and say what the build result should be. {@link #abort()} (Jenkins' stop(), from
 * another thread) or an interrupt of the running thread cancels the run on the service.
 */
public final class JupyterRun {
    /** Files of a run that are its input, not its output: not downloaded. */
    static final Set<String> INPUTS = Set.of("input.ipynb", "input.txt");

    private final ServiceClient client;
    private final PrintStream log;
    private RunRequest request;
    private String idempotencyKey;
    private volatile String runId;
    private CompletableFuture<Boolean> cancelled;

    /** What happened: the run as it ended, the build result it maps to, the files downloaded. */
    public record Outcome(RunInfo run, JupyterResult result, List<String> artifacts) {
        /** One line for the build log or an AbortException. */
        public String summary() {
            String what = "run " + run.id() + " ended " + run.status() + " (exit code " + run.exitCode() + ")";
            String message = run.message() == null || run.message().isBlank() ? "" : ": " + run.message();
            return what + message + "; build result " + result;
        }
    }

    public JupyterRun(ServiceClient client, PrintStream log) {
        this.client = client;
        this.log = log;
        client.setNotices(log);
    }

    /**
     * Start, follow, download (into {@code sink}, unless null) and map the exit code.
     *
     * @throws InterruptedException when aborted (the run is cancelled on the service)
     * @throws ServiceException when the service refuses the run or cannot be reached
     */
    public Outcome execute(RunRequest request, String idempotencyKey, ServiceClient.ArtifactSink sink,
            boolean unstableOnCellError) throws IOException, InterruptedException {
        try {
            start(request, idempotencyKey);
            RunInfo run = follow();
            List<String> files = sink == null ? List.of() : download(sink);
            return new Outcome(run, JupyterResult.of(run.exitCode(), unstableOnCellError), files);
        } catch (InterruptedException e) {
            abort(); // a no-op if abort() came first
            awaitCancel(Duration.ofSeconds(10));
            throw e;
        }
    }

    /** The run's id once it is started, else null. */
    public String runId() {
        return runId;
    }

    public RunInfo start(RunRequest request, String idempotencyKey) throws IOException, InterruptedException {
        synchronized (this) {
            if (cancelled != null || Thread.interrupted()) { // aborted before anything was sent
                throw new InterruptedException("aborted before the run was started");
            }
            this.request = request;
            this.idempotencyKey = idempotencyKey;
        }
        RunInfo run = client.startRun(request, idempotencyKey);
        runId = run.id();
        log.println("[jupyter] run " + run.id() + ": " + request.description() + " on " + client.url()
                + " (kernel " + run.kernel() + (run.sessionName() != null ? ", session " + run.sessionName() : "") + ")");
        log.println("[jupyter] dashboard: " + run.dashboard(client.url()));
        return run;
    }

    /** Copy the run's console text to the log until the run ends; the run as it ended. */
    public RunInfo follow() throws IOException, InterruptedException {
        long start = 0;
        for (int settled = 0; ; ) {
            ServiceClient.LogChunk chunk = client.readLog(runId, start, log);
            start = chunk.nextStart();
            if (chunk.more()) {
                continue;
            }
            RunInfo run = client.getRun(runId);
            if (run.finished()) {
                return run;
            }
            if (++settled > 3) { // the log said "no more" but the run goes on: not this API
                throw new ServiceException("run " + runId + " on " + client.url() + " has no more log but has not ended ("
                        + run.status() + ")", 0, "bad_response", null);
            }
        }
    }

    /** Download every output artifact (not the input); their names, as the sink got them. */
    public List<String> download(ServiceClient.ArtifactSink sink) throws IOException, InterruptedException {
        List<String> names = new ArrayList<>();
        for (Artifact a : client.artifacts(runId)) {
            if (INPUTS.contains(a.name())) {
                continue;
            }
            if (!safeName(a.name())) {
                log.println("[jupyter] skipped an artifact with an unsafe name: " + a.name());
                continue;
            }
            client.download(runId, a, sink);
            names.add(a.name());
        }
        if (!names.isEmpty()) {
            log.println("[jupyter] downloaded " + names.size() + " artifact(s): " + String.join(", ", names));
        }
        return names;
    }

    /** A relative path that stays inside the output folder. */
    static boolean safeName(String name) {
        if (name.isEmpty() || name.startsWith("/") || name.contains("\\") || name.contains(":")) {
            return false;
        }
        for (String part : name.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                return false;
            }
        }
        return true;
    }

    /**
     * Stop following and cancel the run on the service, from any thread, without blocking:
     * the in-flight request is aborted at once and the cancel is POSTed in the background.
     * The returned future completes when the service has accepted the cancel (true), or
     * said the run had already ended (false).
     */
    public synchronized CompletableFuture<Boolean> abort() {
        if (cancelled != null) {
            return cancelled;
        }
        client.abort();
        String id = runId;
        if (id != null) {
            log.println("[jupyter] aborting: cancelling run " + id + " on " + client.url());
            cancelled = client.cancelRun(id);
        } else if (request != null && idempotencyKey != null) {
            log.println("[jupyter] aborting while the run was being started: cancelling it on " + client.url());
            cancelled = client.cancelRunStartedWith(request, idempotencyKey);
        } else { // nothing was sent
            cancelled = CompletableFuture.completedFuture(false);
        }
        cancelled.whenComplete((accepted, error) -> {
            if (error != null) {
                log.println("[jupyter] could not cancel the run: " + (error.getCause() != null ? error.getCause() : error).getMessage());
            }
        });
        return cancelled;
    }

    /** Wait (bounded) for the cancel POST of an abort to be answered. */
    private void awaitCancel(Duration within) {
        CompletableFuture<Boolean> c;
        synchronized (this) {
            c = cancelled;
        }
        try {
            c.get(within.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // said in the log by abort()
        }
    }
}
