package io.jenkins.plugins.jupyter.client;

import java.time.Duration;

/**
 * How long the client waits, and for how long it keeps trying.
 *
 * @param connectTimeout a TCP connection to the service must be made within this
 * @param readTimeout the service must start answering within this (beyond a log long-poll's
 *     wait), and a body must not stall longer than this: the idle watchdog closes it
 * @param pollWait how long one {@code GET /log?wait=} may be held by the service when no new
 *     text comes: the log loop needs no sleeps, and a silent cell costs one request per pollWait
 * @param giveUpAfter network errors and 5xx answers are retried with backoff until the
 *     service has not answered for this long; then the step fails with a one-line error
 * @param maxBackoff the longest pause between two tries
 */
public record ClientOptions(
        Duration connectTimeout, Duration readTimeout, Duration pollWait, Duration giveUpAfter, Duration maxBackoff) {

    public static ClientOptions defaults() {
        return new ClientOptions(
                Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(30), Duration.ofMinutes(5),
                Duration.ofSeconds(5));
    }

    public ClientOptions withGiveUpAfter(Duration d) {
        return new ClientOptions(connectTimeout, readTimeout, pollWait, d, maxBackoff);
    }

    public ClientOptions withReadTimeout(Duration d) {
        return new ClientOptions(connectTimeout, d, pollWait, giveUpAfter, maxBackoff);
    }

    public ClientOptions withPollWait(Duration d) {
        return new ClientOptions(connectTimeout, readTimeout, d, giveUpAfter, maxBackoff);
    }
}
