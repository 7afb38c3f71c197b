package io.jenkins.plugins.jupyter.client;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one {@code jupyterNotebook}, {@code jupyterCell} or freestyle step asks for, and the
 * request it makes of the service. This is the steps' logic, kept out of the Jenkins classes
 * (which only copy their fields in here) so that it is tested without Jenkins. Serializable:
 * it crosses to the agent inside the step's callable, so it holds only strings, numbers and
 * plain maps.
 */
public final class StepSettings implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String notebookPath;
    private final String code;
    private LinkedHashMap<String, Object> parameters;
    private LinkedHashMap<String, String> env;
    private String kernel;
    private String session;
    private Integer timeout;
    private Integer cellTimeout;
    private boolean allowErrors;
    private String outputDir;
    private boolean unstableOnCellError;

    private StepSettings(String notebookPath, String code) {
        this.notebookPath = notebookPath;
        this.code = code;
    }

    /** A notebook in the workspace, by its path relative to the workspace. */
    public static StepSettings notebook(String path) {
        if (path == null || path.isBlank()) {
            throw new IllegalArgumentException("the step needs the path of a notebook in the workspace, e.g. path: 'notebooks/train.ipynb'");
        }
        return new StepSettings(path.strip(), null);
    }

    /** One cell of code. */
    public static StepSettings cell(String code) {
        if (code == null) {
            throw new IllegalArgumentException("the step needs code, e.g. code: 'print(1)'");
        }
        return new StepSettings(null, code);
    }

    public StepSettings parameters(Map<String, ?> p) { parameters = p == null ? null : new LinkedHashMap<>(p); return this; }
    /** The step's {@code env}: variables for the kernel, added to the build's. */
    public StepSettings env(Map<String, String> e) { env = e == null ? null : new LinkedHashMap<>(e); return this; }
    public StepSettings kernel(String k) { kernel = blankToNull(k); return this; }
    public StepSettings session(String s) { session = blankToNull(s); return this; }
    public StepSettings timeout(Integer t) { timeout = t; return this; }
    public StepSettings cellTimeout(Integer t) { cellTimeout = t; return this; }
    public StepSettings allowErrors(boolean a) { allowErrors = a; return this; }
    public StepSettings outputDir(String o) { outputDir = blankToNull(o); return this; }
    public StepSettings unstableOnCellError(boolean u) { unstableOnCellError = u; return this; }

    public boolean isNotebook() {
        return notebookPath != null;
    }

    /** The workspace path of the notebook; null for a cell. */
    public String notebookPath() {
        return notebookPath;
    }

    public boolean unstableOnCellError() {
        return unstableOnCellError;
    }

    /**
     * The session to run in: the step's own, else, for a cell, the build's (BUILD_TAG) so
     * that consecutive jupyterCell steps share variables like the cells of one notebook. A
     * notebook gets a fresh kernel unless a session is named: it should not depend on what
     * earlier steps left in a kernel, and its own kernelspec may differ from theirs.
     */
    public String sessionName(BuildContext build) {
        if (session != null) {
            return session;
        }
        return isNotebook() ? null : build.defaultSession();
    }

    /** True when the run uses the build's own session, which is shut down when the build ends. */
    public boolean usesBuildSession(BuildContext build) {
        String name = sessionName(build);
        return name != null && name.equals(build.defaultSession());
    }

    /** Where in the workspace a notebook's reports go: outputDir, else jupyter/NOTEBOOK_NAME. */
    public String outputDir() {
        if (outputDir != null || !isNotebook()) {
            return outputDir;
        }
        String name = notebookPath.substring(notebookPath.lastIndexOf('/') + 1);
        return "jupyter/" + (name.endsWith(".ipynb") ? name.substring(0, name.length() - ".ipynb".length()) : name);
    }

    /**
     * The request for the service.
     *
     * @param notebookText the notebook file's text (null for a cell)
     * @param defaultKernel the global configuration's default kernel, for cells that name none
     *     (a notebook runs in the kernel its kernelspec names, unless the step names one); when
     *     null, the session's kernel or the service's default
     */
    public RunRequest request(String notebookText, BuildContext build, String defaultKernel) {
        return request(notebookText, build, defaultKernel, null);
    }

    /**
     * The request, run in {@code cwd} (the notebook's folder, or the workspace for a cell),
     * with the build's variables and the step's {@code env} for the kernel.
     */
    public RunRequest request(String notebookText, BuildContext build, String defaultKernel, String cwd) {
        Map<String, String> kernelEnv = build.kernelVariables();
        if (env != null) {
            kernelEnv.putAll(env);
        }
        RunRequest r = isNotebook() ? RunRequest.notebook(notebookPath, notebookText) : RunRequest.code(code);
        r.cwd(cwd).env(kernelEnv);
        return r.kernel(kernel != null || isNotebook() ? kernel : blankToNull(defaultKernel))
                .sessionName(sessionName(build))
                .timeout(timeout)
                .cellTimeout(isNotebook() ? cellTimeout : null)
                .allowErrors(isNotebook() && allowErrors)
                .parameters(isNotebook() ? parameters : null)
                .jenkins(build.lineage());
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }
}
