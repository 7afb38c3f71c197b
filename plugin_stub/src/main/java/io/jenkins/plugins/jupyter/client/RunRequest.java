package io.jenkins.plugins.jupyter.client;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The body of {@code POST /api/v1/runs}: one cell of code or one notebook, and how to run it.
 * Field names are the service's (see its openapi.json); unset fields are left out, so the
 * service's defaults apply.
 */
public final class RunRequest {
    private final Map<String, Object> body = new LinkedHashMap<>();
    private final String description;

    private RunRequest(String description) {
        this.description = description;
    }

    /** One cell of code, run in {@code kernel} (or the session's kernel). */
    public static RunRequest code(String code) {
        RunRequest r = new RunRequest("cell");
        r.body.put("code", code);
        return r;
    }

    /**
     * A notebook, from its file's text; the text is checked to be a JSON object here (so a
     * broken file fails with its name and the line) and then sent verbatim.
     */
    public static RunRequest notebook(String fileName, String notebookJson) {
        try {
            Json.parseObject(notebookJson);
        } catch (Json.SyntaxError e) {
            throw new IllegalArgumentException("the notebook " + fileName + " is not valid JSON: " + e.getMessage(), e);
        }
        String name = fileName.substring(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
        RunRequest r = new RunRequest("notebook " + name);
        r.body.put("notebook", new Json.Raw(notebookJson));
        r.body.put("notebook_name", name);
        return r;
    }

    private RunRequest put(String key, Object value) {
        if (value == null || (value instanceof String s && s.isBlank())) {
            body.remove(key);
        } else {
            body.put(key, value);
        }
        return this;
    }

    public RunRequest kernel(String kernel) {
        return put("kernel", kernel);
    }

    /** Create or reuse the session of this name: steps of one build share its kernel. */
    public RunRequest sessionName(String name) {
        return put("session_name", name);
    }

    /** Seconds the whole run may take; null or 0: no limit. */
    public RunRequest timeout(Integer seconds) {
        return put("timeout", seconds == null || seconds <= 0 ? null : seconds);
    }

    /** Seconds any one cell of a notebook may take; null or 0: no limit. */
    public RunRequest cellTimeout(Integer seconds) {
        return put("cell_timeout", seconds == null || seconds <= 0 ? null : seconds);
    }

    public RunRequest allowErrors(boolean allow) {
        return put("allow_errors", allow ? Boolean.TRUE : null);
    }

    /** Notebook parameters; string values are typed as {@link Parameters#typed} says. */
    public RunRequest parameters(Map<String, ?> parameters) {
        return put("parameters", parameters == null || parameters.isEmpty() ? null : Parameters.typed(parameters));
    }

    /**
     * The kernel's working directory, absolute (the notebook's folder on the agent): the
     * service runs there when it lies under one of its allowed roots, else answers 403.
     */
    public RunRequest cwd(String absolutePath) {
        return put("cwd", absolutePath);
    }

    /** Environment variables for the kernel (the build's and the step's {@code env}). */
    public RunRequest env(Map<String, String> env) {
        return put("env", env == null || env.isEmpty() ? null : new LinkedHashMap<>(env));
    }

    /** Where the run comes from: job_name, build_number, build_url, git_commit, node_name, step. */
    public RunRequest jenkins(Map<String, Object> context) {
        return put("jenkins", context == null || context.isEmpty() ? null : context);
    }

    /** "notebook train.ipynb" or "cell": for log lines. */
    public String description() {
        return description;
    }

    public Object get(String field) {
        return body.get(field);
    }

    public String toJson() {
        return Json.write(body);
    }
}
