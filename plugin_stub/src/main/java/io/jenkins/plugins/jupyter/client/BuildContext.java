package io.jenkins.plugins.jupyter.client;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What a run learns from the build's environment: its lineage ({@code jenkins} field of the
 * request), the default session (BUILD_TAG, so the steps of one build share a kernel) and an
 * idempotency key unique to the build and the step, so a retried POST never runs twice.
 */
public final class BuildContext {
    /** The service accepts Idempotency-Key values of 1 to 200 characters. */
    static final int MAX_KEY = 200;

    private final Map<String, String> env;
    private final long buildStart;
    private final String stepId;

    /**
     * @param env the build's environment (JOB_NAME, BUILD_NUMBER, BUILD_URL, BUILD_TAG,
     *     GIT_COMMIT, NODE_NAME; those missing are left out)
     * @param buildStart the build's start time (ms): with BUILD_URL it tells this build from
     *     a namesake on another controller, or in a job deleted and created again
     * @param stepId this step's identity inside the build: a Pipeline FlowNode id, or the
     *     freestyle builder's position
     */
    public BuildContext(Map<String, String> env, long buildStart, String stepId) {
        this.env = env;
        this.buildStart = buildStart;
        this.stepId = stepId;
    }

    /** The request's {@code jenkins} object. */
    public Map<String, Object> lineage() {
        Map<String, Object> out = new LinkedHashMap<>();
        putIfSet(out, "job_name", env.get("JOB_NAME"));
        String number = env.get("BUILD_NUMBER");
        if (number != null && number.matches("[0-9]+")) {
            out.put("build_number", Long.parseLong(number));
        }
        putIfSet(out, "build_url", env.get("BUILD_URL"));
        putIfSet(out, "git_commit", env.get("GIT_COMMIT"));
        putIfSet(out, "node_name", env.get("NODE_NAME"));
        putIfSet(out, "step", stepId);
        return out;
    }

    /** Build variables by prefix (BUILD_URL, BUILD_TAG, JOB_NAME, GIT_COMMIT, ...) and by name. */
    static final String[] KERNEL_PREFIXES = {"BUILD_", "JOB_", "GIT_"};
    static final String[] KERNEL_NAMES = {"WORKSPACE", "NODE_NAME", "JENKINS_URL"};
    /** A variable bound by withCredentials may match a prefix (GIT_TOKEN): never sent. */
    static final Pattern SECRET_NAME = Pattern.compile("(?i).*(TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|PRIVATE).*");

    /**
     * The build variables a kernel gets in its environment (and the run's record keeps):
     * BUILD_*, JOB_*, GIT_*, WORKSPACE, NODE_NAME and JENKINS_URL, but none whose name looks
     * like a secret's. Sorted, so that a retried request is the same request.
     */
    public Map<String, String> kernelVariables() {
        Map<String, String> out = new TreeMap<>();
        env.forEach((name, value) -> {
            boolean wanted = java.util.Arrays.asList(KERNEL_NAMES).contains(name)
                    || java.util.Arrays.stream(KERNEL_PREFIXES).anyMatch(name::startsWith);
            if (wanted && value != null && !SECRET_NAME.matcher(name).matches()) {
                out.put(name, value);
            }
        });
        return out;
    }

    /** The build's session name, BUILD_TAG ("jenkins-JOB-NUMBER"); null outside a build. */
    public String defaultSession() {
        String tag = env.get("BUILD_TAG");
        return tag == null || tag.isBlank() ? null : tag;
    }

    /**
     * "BUILD_TAG/step-ID/HASH", HASH naming the build instance (BUILD_URL and start time);
     * all of it hashed when longer than the service allows.
     */
    public String idempotencyKey() {
        String tag = defaultSession();
        String build = tag != null ? tag : env.getOrDefault("JOB_NAME", "build") + "-" + env.getOrDefault("BUILD_NUMBER", "0");
        String instance = sha256(env.getOrDefault("BUILD_URL", "") + "@" + buildStart).substring(0, 12);
        String key = build + "/step-" + stepId + "/" + instance;
        return key.length() <= MAX_KEY ? key : "sha256-" + sha256(key);
    }

    private static void putIfSet(Map<String, Object> out, String key, String value) {
        if (value != null && !value.isBlank()) {
            out.put(key, value);
        }
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
