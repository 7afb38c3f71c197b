package io.jenkins.plugins.jupyter.client;

import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The agent service's HTTP API v1, as the Jenkins steps use it; the JDK's java.net.http only.
 *
 * <p>Every call is an {@link HttpCall}: the JDK's threads take the body, the calling thread
 * only waits, so an interrupt or {@link #abort()} from another thread (Jenkins' stop()) ends
 * a call at once, which a read on a response InputStream would not allow. Network
 * errors and 5xx answers are retried with backoff until the service has been silent for
 * {@link ClientOptions#giveUpAfter()}; a follow of the log resumes at the byte it reached.
 */
public final class ServiceClient {
    private static final String API = "/api/v1";

    private final String url;
    private final String token;
    private final ClientOptions options;
    private final HttpClient http;
    private final Set<HttpCall> inFlight = ConcurrentHashMap.newKeySet();
    private final CountDownLatch aborted = new CountDownLatch(1);
    private volatile PrintStream notices;

    /** @param url the service's base URL, e.g. {@code http://jupyter.example.com:8765} */
    public ServiceClient(String url, String token, ClientOptions options) {
        this.url = url.replaceAll("/+$", "");
        this.token = token;
        this.options = options;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(options.connectTimeout())
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
        URI.create(this.url + API); // a malformed URL fails here, not on the first call
    }

    public String url() {
        return url;
    }

    /** Where one-line notices about retries go (the build log); none if null. */
    public void setNotices(PrintStream notices) {
        this.notices = notices;
    }

    // -- the API ---------------------------------------------------------------------------

    /** POST the run; a retry with the same key returns the same run and never runs it twice. */
    public RunInfo startRun(RunRequest run, String idempotencyKey) throws IOException, InterruptedException {
        HttpRequest.Builder req = request("/runs", options.readTimeout())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(run.toJson(), StandardCharsets.UTF_8));
        if (idempotencyKey != null) {
            req.header("Idempotency-Key", idempotencyKey);
        }
        HttpRequest built = req.build();
        return RunInfo.from(retrying("start the " + run.description(), answered -> json(built, answered)));
    }

    public RunInfo getRun(String id) throws IOException, InterruptedException {
        HttpRequest req = request("/runs/" + enc(id), options.readTimeout()).GET().build();
        return RunInfo.from(retrying("read run " + id, answered -> json(req, answered)));
    }

    /**
     * The run's console text from byte {@code start}, copied to {@code out} as it arrives.
     * The service holds the answer up to pollWait while there is nothing new. A try that
     * fails midway is resumed at the byte it reached, so no byte is written twice.
     */
    public LogChunk readLog(String id, long start, OutputStream out) throws IOException, InterruptedException {
        long[] reached = {start};
        return retrying("follow the log of run " + id, answered -> {
            long from = reached[0];
            Duration wait = options.pollWait();
            HttpRequest req = request("/runs/" + enc(id) + "/log?start=" + from + "&wait=" + wait.toSeconds(),
                    wait.plus(options.readTimeout())).GET().build();
            LogChunk[] chunk = new LogChunk[1];
            exchange(req, answered, info -> {
                long next = info.headers().firstValue("X-Text-Size").map(Long::parseLong).orElse(from);
                boolean more = info.headers().firstValue("X-More-Data").map("true"::equalsIgnoreCase).orElse(false);
                boolean restarted = next < from; // the service's log is shorter than what was shown
                chunk[0] = new LogChunk(next, more, restarted);
                if (restarted) { // the body is the log from byte 0 (progressiveText's rule)
                    notice("the service's log of run " + id + " is shorter (" + next + " bytes) than what was shown ("
                            + from + "): was its data restored? Showing it again from the start");
                    return out;
                }
                return new FilterOutputStream(out) {
                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        out.write(b, off, len);
                        reached[0] += len;
                    }
                };
            });
            // the bytes written decide where to go on, so that nothing is shown twice
            return chunk[0].restarted() ? chunk[0] : new LogChunk(reached[0], chunk[0].more(), false);
        });
    }

    /** The answer to one {@code GET /log}: where to start next, and whether the run goes on. */
    public record LogChunk(long nextStart, boolean more, boolean restarted) {}

    /**
     * Ask the service to cancel the run: true when accepted, false when it had already
     * ended. Works after {@link #abort()}: it is how an abort reaches the service.
     */
    public CompletableFuture<Boolean> cancelRun(String id) {
        return cancelRun(id, 3);
    }

    private CompletableFuture<Boolean> cancelRun(String id, int tries) {
        HttpRequest req = request("/runs/" + enc(id) + "/cancel", options.readTimeout())
                .POST(HttpRequest.BodyPublishers.noBody()).build();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).thenApply(r -> {
            if (r.statusCode() == 202) {
                return true;
            }
            ServiceException e = ServiceException.fromAnswer(url, r.statusCode(), r.body());
            if ("run_finished".equals(e.code())) {
                return false;
            }
            throw new CompletionException(e);
        }).exceptionallyCompose(e -> {
            ServiceException cause = ServiceException.network(
                    e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
            if (tries <= 1 || !cause.retryable()) {
                return CompletableFuture.failedFuture(cause);
            }
            return CompletableFuture.supplyAsync(() -> null, CompletableFuture.delayedExecutor(500, TimeUnit.MILLISECONDS))
                    .thenCompose(x -> cancelRun(id, tries - 1));
        });
    }

    /**
     * Cancel the run that {@code POST /runs} with this idempotency key started (or starts
     * now, if the first POST never arrived): what an abort does when it comes while the
     * POST is in flight and the run's id is not known yet. Works after {@link #abort()}.
     */
    public CompletableFuture<Boolean> cancelRunStartedWith(RunRequest run, String idempotencyKey) {
        HttpRequest req = request("/runs", options.readTimeout())
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", idempotencyKey)
                .POST(HttpRequest.BodyPublishers.ofString(run.toJson(), StandardCharsets.UTF_8))
                .build();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).thenCompose(r -> {
            if (r.statusCode() >= 300) {
                return CompletableFuture.failedFuture(ServiceException.fromAnswer(url, r.statusCode(), r.body()));
            }
            return cancelRun((String) Json.parseObject(r.body()).get("id"));
        });
    }

    public List<Artifact> artifacts(String id) throws IOException, InterruptedException {
        HttpRequest req = request("/runs/" + enc(id) + "/artifacts", options.readTimeout()).GET().build();
        List<Artifact> out = new ArrayList<>();
        for (Object a : (List<?>) retrying("list the artifacts of run " + id, answered -> json(req, answered)).get("artifacts")) {
            out.add(Artifact.from(cast(a)));
        }
        return out;
    }

    /**
     * The artifact's bytes into a sink. They are fetched into a temporary file first and
     * checked against the listing's size and SHA-256; only then is the sink written, by the
     * calling thread (a Jenkins FilePath on an agent may block, and must be interruptible).
     */
    public void download(String id, Artifact artifact, ArtifactSink sink) throws IOException, InterruptedException {
        String path = "/runs/" + enc(id) + "/artifacts/" + encPath(artifact.name());
        HttpRequest req = request(path, options.readTimeout()).GET().build();
        Path tmp = Files.createTempFile("jupyter-artifact-", ".tmp");
        try {
            retrying("download " + artifact.name() + " of run " + id, answered -> {
                MessageDigest sha = sha256();
                try (OutputStream file = new DigestOutputStream(Files.newOutputStream(tmp), sha)) {
                    exchange(req, answered, info -> file);
                }
                String got = HexFormat.of().formatHex(sha.digest());
                long size = Files.size(tmp);
                if (size != artifact.size() || !got.equals(artifact.sha256())) {
                    throw new ServiceException("the download of " + artifact.name() + " from " + url + " is damaged ("
                            + size + " bytes, sha256 " + got + "; the service lists " + artifact.size() + " bytes, "
                            + artifact.sha256() + ")", 0, "bad_download", null);
                }
                return null;
            });
            try (OutputStream out = sink.open(artifact.name())) {
                Files.copy(tmp, out);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Where downloaded artifacts go: a workspace folder, a remote FilePath, a test's temp dir. */
    public interface ArtifactSink {
        OutputStream open(String name) throws IOException, InterruptedException;
    }

    public List<Map<String, Object>> sessions() throws IOException, InterruptedException {
        HttpRequest req = request("/sessions", options.readTimeout()).GET().build();
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object s : (List<?>) retrying("list sessions", answered -> json(req, answered)).get("sessions")) {
            out.add(cast(s));
        }
        return out;
    }

    /**
     * Shut down the session of this name (a build's BUILD_TAG): the service takes a name
     * in place of an id. False if there is none.
     */
    public boolean deleteSessionNamed(String name) throws IOException, InterruptedException {
        HttpRequest req = request("/sessions/" + enc(name), options.readTimeout()).DELETE().build();
        try {
            retrying("delete session " + name, answered -> json(req, answered));
            return true;
        } catch (ServiceException e) {
            if (e.httpStatus() == 404) {
                return false;
            }
            throw e;
        }
    }

    /**
     * The global configuration's "Test connection": the service answers its health check,
     * and accepts the token (a call that needs it). One line naming its version.
     */
    public String testConnection() throws IOException, InterruptedException {
        HttpRequest health = request("/health", options.readTimeout()).GET().build();
        Object version = retrying("check the health", answered -> json(health, answered)).get("version");
        HttpRequest authed = request("/kernelspecs", options.readTimeout()).GET().build();
        retrying("check the token", answered -> json(authed, answered));
        return "jenkins-kernel " + version + " at " + url + " answers, and accepts the token";
    }

    // -- abort -------------------------------------------------------------------------------

    /**
     * Ends every call in flight and every later one (they throw InterruptedException), from
     * any thread. {@link #cancelRun} still works, so the caller can then cancel the run.
     */
    public void abort() {
        aborted.countDown();
        for (HttpCall call : inFlight) {
            call.abort();
        }
    }

    public boolean isAborted() {
        return aborted.getCount() == 0;
    }

    // -- one exchange ------------------------------------------------------------------------

    /** One try; {@code answered} runs when the service's answer begins (before its body). */
    private interface Attempt<T> {
        T run(Runnable answered) throws IOException, InterruptedException;
    }

    private HttpRequest.Builder request(String path, Duration timeout) {
        return HttpRequest.newBuilder(URI.create(url + API + path))
                .timeout(timeout)
                .header("Authorization", "Bearer " + token)
                .header("Accept", "application/json")
                .header("User-Agent", "jenkins-kernel-plugin");
    }

    /**
     * One exchange: a 2xx body goes to the target; 4xx/5xx become a ServiceException; a
     * network failure a retryable one; an abort or interrupt an InterruptedException.
     */
    private HttpResponse<Void> exchange(HttpRequest req, Runnable answered, HttpCall.Target target)
            throws IOException, InterruptedException {
        HttpCall call = new HttpCall(answered, target);
        inFlight.add(call);
        try {
            if (isAborted()) { // checked after add(): an abort() from now on sees this call
                throw new InterruptedException("aborted");
            }
            call.send(http, req);
            long headersWithin = req.timeout().orElse(options.readTimeout()).plus(options.connectTimeout()).toMillis();
            HttpResponse<Void> response = call.await(headersWithin, options.readTimeout().toMillis());
            if (response.statusCode() >= 400) {
                throw ServiceException.fromAnswer(url, response.statusCode(), call.errorText());
            }
            return response;
        } catch (TimeoutException e) {
            throw new ServiceException(e.getMessage() + " from " + url, 0, "timeout", e);
        } catch (CancellationException e) {
            throw new InterruptedException("aborted");
        } catch (ExecutionException e) {
            if (isAborted()) {
                throw new InterruptedException("aborted");
            }
            if (e.getCause() instanceof HttpCall.TargetFailed failed) {
                throw (IOException) failed.getCause();
            }
            throw ServiceException.network(e.getCause());
        } catch (InterruptedException e) {
            call.abort();
            throw e;
        } finally {
            inFlight.remove(call);
        }
    }

    private Map<String, Object> json(HttpRequest req, Runnable answered) throws IOException, InterruptedException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        HttpResponse<Void> response = exchange(req, answered, info -> body);
        try {
            return Json.parseObject(body.toString(StandardCharsets.UTF_8));
        } catch (Json.SyntaxError e) {
            throw new ServiceException("the service at " + url + " sent a response that is not JSON ("
                    + e.getMessage() + "): is the URL that of the jupyter service?", response.statusCode(),
                    "bad_response", e);
        }
    }

    // -- retries -----------------------------------------------------------------------------

    /** Run the attempt until it succeeds, fails for good, or the service is silent too long. */
    private <T> T retrying(String what, Attempt<T> attempt) throws IOException, InterruptedException {
        long since = System.nanoTime();
        long backoff = 250;
        AtomicBoolean failing = new AtomicBoolean(); // "answered" runs on a client thread
        Runnable answered = () -> {
            if (failing.compareAndSet(true, false)) {
                notice("the service at " + url + " answers again");
            }
        };
        while (true) {
            try {
                return attempt.run(answered);
            } catch (ServiceException e) {
                if (!e.retryable()) {
                    throw e;
                }
                long silentMillis = (System.nanoTime() - since) / 1_000_000;
                long budget = options.giveUpAfter().toMillis();
                if (silentMillis >= budget) {
                    throw "unreachable".equals(e.code())
                            ? ServiceException.unreachable(url, e, Math.max(1, budget / 1000))
                            : new ServiceException(e.getMessage() + " (tried for " + budget / 1000 + " s)",
                                    e.httpStatus(), e.code(), e);
                }
                if (failing.compareAndSet(false, true)) {
                    notice("cannot " + what + " (" + e.getMessage() + "); trying again for up to "
                            + budget / 1000 + " s");
                }
                long pause = Math.min(backoff, budget - silentMillis);
                if (aborted.await(pause, TimeUnit.MILLISECONDS)) {
                    throw new InterruptedException("aborted");
                }
                backoff = Math.min(backoff * 2, options.maxBackoff().toMillis());
            }
        }
    }

    private void notice(String line) {
        PrintStream out = notices;
        if (out != null) {
            out.println("[jupyter] " + line);
        }
    }

    // -- small helpers -----------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Object o) {
        return (Map<String, Object>) o;
    }

    private static String enc(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** An artifact name keeps its slashes (images/cell03_17.png); each part is encoded. */
    private static String encPath(String name) {
        List<String> parts = new ArrayList<>();
        for (String part : name.split("/", -1)) {
            parts.add(enc(part));
        }
        return String.join("/", parts);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
