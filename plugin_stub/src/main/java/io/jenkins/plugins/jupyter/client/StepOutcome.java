package io.jenkins.plugins.jupyter.client;

import java.io.Serializable;
import java.util.ArrayList;

/**
 * What a step's run on the agent sends back to the controller: small and serializable.
 *
 * @param result the build result it maps to
 * @param summary one line: the run, how it ended, the build result
 * @param runId the run's id on the service (the step's return value)
 * @param dashboardUrl where a person sees the run (the build's "Jupyter run" link)
 * @param description "notebook train.ipynb" or "cell"
 * @param artifacts the files written into the workspace
 */
public record StepOutcome(JupyterResult result, String summary, String runId, String dashboardUrl, String description,
        ArrayList<String> artifacts) implements Serializable {
    private static final long serialVersionUID = 1L;
}
