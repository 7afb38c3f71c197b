package io.jenkins.plugins.jupyter.client;

/**
 * A run's exit code as a Jenkins build result (DESIGN.md, "Exit codes"). The names match
 * hudson.model.Result, so the glue maps them with {@code Result.fromString(name())}.
 */
public enum JupyterResult {
    SUCCESS, UNSTABLE, FAILURE, ABORTED;

    /**
     * 0 succeeded: SUCCESS; 1 failed (a cell raised): FAILURE, or UNSTABLE when
     * {@code unstableOnCellError}; 2 timed_out, 3 kernel_died, 5 rejected, 6 lost: FAILURE;
     * 4 cancelled: ABORTED. An unknown code is a FAILURE.
     */
    public static JupyterResult of(int exitCode, boolean unstableOnCellError) {
        switch (exitCode) {
            case 0: return SUCCESS;
            case 1: return unstableOnCellError ? UNSTABLE : FAILURE;
            case 4: return ABORTED;
            default: return FAILURE;
        }
    }
}
