package io.jenkins.plugins.jupyter;

import jenkins.model.CauseOfInterruption;

/** Why a step ended ABORTED though Jenkins did not abort it: its run was cancelled on the service. */
public final class RunCancelled extends CauseOfInterruption {
    private static final long serialVersionUID = 1L;
    private final String runId;

    public RunCancelled(String runId) {
        this.runId = runId;
    }

    public String getRunId() {
        return runId;
    }

    @Override
    public String getShortDescription() {
        return "aborted: the Jupyter run was cancelled";
    }
}
