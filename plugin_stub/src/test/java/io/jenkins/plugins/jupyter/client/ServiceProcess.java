package io.jenkins.plugins.jupyter.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The real agent service ({@code jenkins-kernel serve}) in a child process, on a free port
 * with a temporary data dir: what the client tests talk to. Not a mock: the venv's own
 * service, with real kernels. {@link #kill()} is SIGKILL (a crash); {@link #restart()}
 * starts it again on the same port and data dir.
 */
public final class ServiceProcess implements AutoCloseable {
    public static final String TOKEN = "test-token-" + Long.toHexString(System.nanoTime());
    private static final Pattern SERVING = Pattern.compile("serving (http://[^ ]+) ");

    private final Path dataDir;
    private final List<String> extraArgs;
    private final StringBuffer stderr = new StringBuffer();
    private Process process;
    private String url;
    private int port;

    private ServiceProcess(Path dataDir, List<String> extraArgs) {
        this.dataDir = dataDir;
        this.extraArgs = extraArgs;
    }

    private static ServiceProcess shared;
    private static Path sharedWorkspace;

    /**
     * One service for the test classes that need no service of their own (a start costs
     * seconds on a busy machine): two warm python3 kernels, and a temporary "agent
     * workspace" as an allowed root (see {@link #workspace()}). Stopped when the JVM exits.
     */
    public static synchronized ServiceProcess shared() throws IOException, InterruptedException {
        if (shared == null) {
            sharedWorkspace = Files.createTempDirectory("jk-workspace-").toRealPath();
            shared = start("--warm", "python3=2", "--allowed-root", sharedWorkspace.toString());
            ServiceProcess s = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    s.close();
                    delete(sharedWorkspace);
                } catch (IOException | InterruptedException e) {
                    // the JVM is ending
                }
            }));
        }
        return shared;
    }

    /** The shared service's allowed root: where tests put their "workspace". */
    public static synchronized Path workspace() {
        return sharedWorkspace;
    }

    /** Start a service and wait (at most 60 s) until it says it serves. */
    public static ServiceProcess start(String... extraArgs) throws IOException, InterruptedException {
        ServiceProcess s = new ServiceProcess(Files.createTempDirectory("jk-java-test-"), List.of(extraArgs));
        s.launch(0);
        return s;
    }

    public String url() {
        return url;
    }

    /** The service's process id, as its discovery file names it. */
    public long pid() {
        return process.pid();
    }

    /** The path of the jenkins-kernel command: -Djk.bin, else .venv/bin beside plugin_stub. */
    public static String command() {
        String bin = System.getProperty("jk.bin");
        if (bin != null) {
            return bin;
        }
        Path here = Path.of("").toAbsolutePath();
        Path project = here.getFileName().toString().equals("plugin_stub") ? here.getParent() : here;
        return project.resolve(".venv/bin/jenkins-kernel").toString();
    }

    private void launch(int onPort) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(command(), "serve", "--port", String.valueOf(onPort),
                "--data-dir", dataDir.toString(), "--token", TOKEN));
        cmd.addAll(extraArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().keySet().removeIf(k -> k.startsWith("JENKINS_KERNEL_"));
        process = pb.start();
        CompletableFuture<String> serving = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    stderr.append(line).append('\n');
                    Matcher m = SERVING.matcher(line);
                    if (m.find()) {
                        serving.complete(m.group(1));
                    }
                }
            } catch (IOException ignored) {
                // the process ended
            }
            serving.complete(null);
        }, "service-stderr");
        reader.setDaemon(true);
        reader.start();
        try {
            url = serving.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            url = null;
        }
        if (url == null) {
            process.destroyForcibly();
            throw new IOException("the service did not start: " + String.join(" ", cmd) + "\n" + stderr);
        }
        port = Integer.parseInt(url.substring(url.lastIndexOf(':') + 1));
    }

    /** SIGKILL, as a crash would: runs in flight are left as they were. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** Start again on the same port and data dir (runs left in flight become lost). */
    void restart() throws IOException, InterruptedException {
        launch(port);
    }

    String stderr() {
        return stderr.toString();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy(); // SIGTERM: the service shuts its kernels down
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
        delete(dataDir);
    }

    static void delete(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
