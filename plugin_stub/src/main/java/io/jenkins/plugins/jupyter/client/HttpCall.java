package io.jenkins.plugins.jupyter.client;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One HTTP exchange whose body the JDK's client threads write into a target while the
 * calling thread only waits on a future. Why: in JDK 17 a thread blocked reading a
 * java.net.http response InputStream swallows interrupts, so a build thread reading one
 * could not be aborted. Here an interrupt ends the wait at once, and {@link #abort()} (from
 * any thread) cancels the body's subscription, which closes the connection.
 *
 * <p>The wait is also the idle watchdog: the headers must come within a deadline, and then
 * the body must not stall longer than the idle time, or the exchange is aborted.
 */
final class HttpCall implements HttpResponse.BodyHandler<Void> {
    /** Where a 2xx body goes, chosen once the status and headers are known. */
    interface Target {
        OutputStream open(HttpResponse.ResponseInfo info) throws IOException;
    }

    /** The target failed (e.g. a full disk): not the network's fault, not worth a retry. */
    static final class TargetFailed extends IOException {
        private static final long serialVersionUID = 1L;

        TargetFailed(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    private static final int MAX_ERROR_BODY = 64 * 1024;

    private final Runnable answered;
    private final Target target;
    private final ByteArrayOutputStream errorBody = new ByteArrayOutputStream();
    private volatile Flow.Subscription subscription;
    private volatile long lastProgress;
    private volatile boolean aborted;
    private volatile CompletableFuture<HttpResponse<Void>> future;

    /** @param answered runs when the headers have come, before any of the body is written */
    HttpCall(Runnable answered, Target target) {
        this.answered = answered;
        this.target = target;
    }

    void send(HttpClient http, HttpRequest request) {
        future = http.sendAsync(request, this);
        if (aborted) {
            abort();
        }
    }

    /** Ends the exchange from any thread; the waiting thread gets a CancellationException. */
    void abort() {
        aborted = true;
        Flow.Subscription s = subscription;
        if (s != null) {
            s.cancel();
        }
        CompletableFuture<HttpResponse<Void>> f = future;
        if (f != null) {
            f.cancel(true);
        }
    }

    /**
     * Wait for the whole exchange: the headers within {@code headersWithin} ms, then no
     * more than {@code idle} ms without a byte of the body.
     */
    HttpResponse<Void> await(long headersWithin, long idle) throws InterruptedException, ExecutionException, TimeoutException {
        long start = System.nanoTime();
        while (true) {
            boolean inBody = subscription != null;
            long deadline = inBody ? lastProgress + idle * 1_000_000 : start + headersWithin * 1_000_000;
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                abort();
                throw new TimeoutException(inBody ? "the answer stalled for " + idle / 1000 + " s"
                        : "no answer within " + headersWithin / 1000 + " s");
            }
            try {
                return future.get(left, TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                // look again: the headers may have come, or the body may have moved on
            }
        }
    }

    /** The body of a 4xx/5xx answer (its first 64 KiB). */
    String errorText() {
        synchronized (errorBody) {
            return errorBody.toString(StandardCharsets.UTF_8);
        }
    }

    @Override
    public HttpResponse.BodySubscriber<Void> apply(HttpResponse.ResponseInfo info) {
        return new HttpResponse.BodySubscriber<>() {
            private final CompletableFuture<Void> done = new CompletableFuture<>();
            private OutputStream out;

            @Override
            public CompletionStage<Void> getBody() {
                return done;
            }

            @Override
            public void onSubscribe(Flow.Subscription s) {
                lastProgress = System.nanoTime();
                subscription = s;
                if (aborted) {
                    s.cancel();
                    return;
                }
                answered.run();
                try {
                    out = info.statusCode() >= 400 ? errorBody : target.open(info);
                } catch (IOException | RuntimeException e) { // e.g. a header that is not a number
                    s.cancel();
                    done.completeExceptionally(new TargetFailed(e instanceof IOException io ? io : new IOException(e)));
                    return;
                }
                s.request(1);
            }

            @Override
            public void onNext(List<ByteBuffer> buffers) {
                lastProgress = System.nanoTime();
                try {
                    for (ByteBuffer b : buffers) {
                        write(b);
                    }
                } catch (IOException e) {
                    subscription.cancel();
                    done.completeExceptionally(new TargetFailed(e));
                    return;
                }
                subscription.request(1);
            }

            private void write(ByteBuffer b) throws IOException {
                byte[] bytes = new byte[b.remaining()];
                b.get(bytes);
                if (out == errorBody) {
                    synchronized (errorBody) {
                        errorBody.write(bytes, 0, Math.max(0, Math.min(bytes.length, MAX_ERROR_BODY - errorBody.size())));
                    }
                } else {
                    out.write(bytes);
                }
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onComplete() {
                try {
                    if (out != null) {
                        out.flush();
                    }
                    done.complete(null);
                } catch (IOException e) {
                    done.completeExceptionally(new TargetFailed(e));
                }
            }
        };
    }
}
