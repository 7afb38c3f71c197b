package io.jenkins.plugins.jupyter.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Which service a step talks to, decided on the agent: the configured URL if there is one,
 * else this machine's own service, as {@code jenkins-kernel run --server auto} finds it.
 *
 * <p>The machine's service is found in its data dir ({@code JENKINS_KERNEL_DATA_DIR}, else
 * {@code $XDG_DATA_HOME/jenkins-kernel}, else {@code ~/.local/share/jenkins-kernel}): the
 * discovery file {@code service.json} ({@code {"url", "pid", "token_file"}}) that a running
 * service writes, ignored when its pid is gone; else the token file {@code token} with the
 * default URL {@code http://127.0.0.1:8765}. A configured credential's token wins over the
 * token file.
 */
public final class LocalService {
    public static final String DEFAULT_URL = "http://127.0.0.1:8765";
    static final String DISCOVERY_FILE = "service.json";
    static final String TOKEN_FILE = "token";

    /** The service to call and its token. */
    public record Endpoint(String url, String token, String foundBy) {}

    private LocalService() {}

    /**
     * @param url the step's or the global configuration's URL; null for this machine's service
     * @param token the configured credential's secret; null to read the machine's token file
     * @param env the agent's environment (plus the build's JENKINS_KERNEL_DATA_DIR, if set)
     * @throws ServiceException (code {@code no_local_service}) when there is no URL and no
     *     service on this machine, saying what the admin runs on the agent
     */
    public static Endpoint resolve(String url, String token, Map<String, String> env) throws ServiceException {
        if (url != null && !url.isBlank()) {
            if (token == null) {
                throw new ServiceException("no credential for the jupyter service at " + url + ": create a Secret text "
                        + "credential holding its token and select it in Manage Jenkins > System > Jupyter kernels "
                        + "(or give the step credentialsId)", 0, "no_credential", null);
            }
            return new Endpoint(url.strip(), token, "configured");
        }
        Path dataDir = dataDir(env);
        Map<String, Object> discovery = readDiscovery(dataDir.resolve(DISCOVERY_FILE));
        if (discovery != null && discovery.get("url") instanceof String found) {
            String where = dataDir.resolve(DISCOVERY_FILE).toString();
            if (token != null) {
                return new Endpoint(found, token, where);
            }
            if (!(discovery.get("token_file") instanceof String tokenFile)) { // it was given its tokens
                throw new ServiceException("the jupyter service of this agent (" + found + ") uses tokens of its own "
                        + "settings: select a Secret text credential holding one in Manage Jenkins > System > Jupyter "
                        + "kernels (or give the step credentialsId)", 0, "no_credential", null);
            }
            String t = readToken(Path.of(tokenFile));
            if (t != null) {
                return new Endpoint(found, t, where);
            }
        }
        String t = token != null ? token : readToken(dataDir.resolve(TOKEN_FILE));
        if (t == null) {
            throw new ServiceException("no jupyter service on this agent (no " + dataDir.resolve(DISCOVERY_FILE) + " or "
                    + dataDir.resolve(TOKEN_FILE) + "): run `jenkins-kernel serve --detach` on the agent as the user that "
                    + "runs it, or set a service URL in Manage Jenkins > System > Jupyter kernels", 0, "no_local_service", null);
        }
        return new Endpoint(DEFAULT_URL, t, dataDir.resolve(TOKEN_FILE).toString());
    }

    /** The service's data dir, by the same rules as {@code jenkins-kernel serve}. */
    static Path dataDir(Map<String, String> env) {
        String explicit = env.get("JENKINS_KERNEL_DATA_DIR");
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit.startsWith("~/") ? home(env) + explicit.substring(1) : explicit);
        }
        String xdg = env.get("XDG_DATA_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(home(env), ".local", "share");
        return base.resolve("jenkins-kernel");
    }

    private static String home(Map<String, String> env) {
        String home = env.get("HOME");
        return home != null && !home.isBlank() ? home : System.getProperty("user.home");
    }

    /** The discovery file's object, or null when there is none or its service has exited. */
    private static Map<String, Object> readDiscovery(Path file) {
        try {
            Map<String, Object> d = Json.parseObject(Files.readString(file, StandardCharsets.UTF_8));
            if (d.get("pid") instanceof Number pid && ProcessHandle.of(pid.longValue()).map(ProcessHandle::isAlive).orElse(false)) {
                return d;
            }
            return null; // left behind by a service that has ended
        } catch (IOException | RuntimeException e) { // absent, unreadable or not ours
            return null;
        }
    }

    private static String readToken(Path file) {
        try {
            String t = Files.readString(file, StandardCharsets.UTF_8).strip();
            return t.isEmpty() ? null : t;
        } catch (IOException e) {
            return null;
        }
    }
}
