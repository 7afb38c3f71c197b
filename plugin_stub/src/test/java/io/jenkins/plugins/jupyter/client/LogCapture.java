package io.jenkins.plugins.jupyter.client;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** A build log for tests: collects what the client prints; a test can wait for a text to appear. */
public final class LogCapture extends OutputStream {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    public final PrintStream stream = new PrintStream(this, true, StandardCharsets.UTF_8);

    @Override
    public synchronized void write(int b) {
        bytes.write(b);
        notifyAll();
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        bytes.write(b, off, len);
        notifyAll();
    }

    public synchronized String text() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** Wait until the log contains {@code needle}; false if it did not within the time. */
    public synchronized boolean await(String needle, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (!text().contains(needle)) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return true;
    }
}
