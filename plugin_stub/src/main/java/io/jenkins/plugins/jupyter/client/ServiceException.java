package io.jenkins.plugins.jupyter.client;

import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.util.Map;

/**
 * A failure to talk to the jupyter service, said in one line a Jenkins user can act on:
 * which URL, what went wrong, what to do. The Jenkins glue turns it into an AbortException.
 *
 * <p>{@link #code()} is the service's error code ({@code bad_token}, {@code unknown_kernel},
 * ...) or one of ours: {@code unreachable}, {@code timeout}, {@code bad_response}.
 */
public class ServiceException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int httpStatus;
    private final String code;

    public ServiceException(String message, int httpStatus, String code, Throwable cause) {
        super(message, cause);
        this.httpStatus = httpStatus;
        this.code = code;
    }

    /** The HTTP status the service answered, or 0 when it did not answer. */
    public int httpStatus() {
        return httpStatus;
    }

    public String code() {
        return code;
    }

    /** Worth trying again: the service did not answer (in time), or answered 5xx. */
    public boolean retryable() {
        return httpStatus >= 500 || httpStatus == 0 && ("unreachable".equals(code) || "timeout".equals(code));
    }

    static ServiceException unreachable(String url, Throwable cause, long gaveUpAfterSeconds) {
        String why = cause.getMessage() == null || cause.getMessage().isBlank()
                ? cause.getClass().getSimpleName()
                : cause.getMessage();
        return new ServiceException(
                "cannot reach the jupyter service at " + url + " (" + why.replace('\n', ' ') + "; gave up after "
                        + gaveUpAfterSeconds + " s): check that it runs and that the service URL in "
                        + "Manage Jenkins > System > Jupyter kernels (or the step's serviceUrl) is right",
                0, "unreachable", cause);
    }

    static ServiceException answered(String url, int status, String code, String message, String hint) {
        if (status == 401) {
            return new ServiceException(
                    "the jupyter service at " + url + " refused the token (" + code + ": " + message + "): "
                            + "check the Secret text credential set in Manage Jenkins > System > Jupyter kernels "
                            + "(or the step's credentialsId); it must hold the service's token",
                    status, code, null);
        }
        String text = "the jupyter service at " + url + " answered " + status + " " + code + ": " + message;
        if (hint != null && !hint.isBlank()) {
            text += " (" + hint + ")";
        }
        return new ServiceException(text, status, code, null);
    }

    /** A network failure, said in words, as a retryable exception. */
    static ServiceException network(Throwable e) {
        if (e instanceof ServiceException se) {
            return se;
        }
        String why;
        if (e instanceof HttpConnectTimeoutException) {
            why = "the connection timed out";
        } else if (e instanceof HttpTimeoutException) {
            why = "no answer in time";
        } else if (e instanceof ConnectException) {
            why = e.getCause() instanceof UnresolvedAddressException ? "unknown host" : "connection refused";
        } else {
            why = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        }
        return new ServiceException(why, 0, "unreachable", e);
    }

    /** A 4xx/5xx answer: the service's {"error": {code, message, hint}}, or whatever came, in one line. */
    static ServiceException fromAnswer(String url, int status, String body) {
        String code = "http_" + status;
        String message = body.strip().replaceAll("\\s+", " ");
        String hint = null;
        try {
            Map<?, ?> err = (Map<?, ?>) Json.parseObject(body).get("error");
            code = String.valueOf(err.get("code"));
            message = String.valueOf(err.get("message"));
            hint = (String) err.get("hint");
        } catch (RuntimeException notOurs) { // e.g. a proxy's HTML page
            message = message.length() > 200 ? message.substring(0, 200) + "..." : message;
        }
        return answered(url, status, code, message, hint);
    }
}
