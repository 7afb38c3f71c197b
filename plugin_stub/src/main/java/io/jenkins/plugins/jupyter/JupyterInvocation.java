package io.jenkins.plugins.jupyter;

import hudson.AbortException;
import hudson.EnvVars;
import hudson.FilePath;
import hudson.model.Run;
import hudson.model.TaskListener;
import io.jenkins.plugins.jupyter.client.AgentStep;
import io.jenkins.plugins.jupyter.client.ServiceException;
import io.jenkins.plugins.jupyter.client.StepOutcome;
import io.jenkins.plugins.jupyter.client.StepSettings;
import java.io.IOException;

/**
 * The one implementation behind jupyterNotebook, jupyterCell and the freestyle step. On the
 * controller: resolve the credential (no HTTP here), then run the client on the agent that
 * holds the workspace, through the workspace's channel. An interrupt of the calling thread
 * (an abort) becomes a remoting Cancel that interrupts the agent's thread, which cancels the
 * run on the service.
 */
final class JupyterInvocation {
    private final StepSettings settings;
    private final String serviceUrl;
    private final String credentialsId;

    JupyterInvocation(StepSettings settings, String serviceUrl, String credentialsId) {
        this.settings = settings;
        this.serviceUrl = serviceUrl;
        this.credentialsId = credentialsId;
    }

    /** Run the step on the agent; the outcome says how it ended (the caller maps it to a result). */
    StepOutcome perform(Run<?, ?> build, FilePath workspace, EnvVars env, TaskListener listener, String stepId)
            throws IOException, InterruptedException {
        JupyterGlobalConfiguration global = JupyterGlobalConfiguration.get();
        String url = Strings.firstNonBlank(serviceUrl, global.getServiceUrl());
        String token = global.token(build, url, credentialsId);
        AgentStep step = new AgentStep(settings, url, token, env, build.getStartTimeInMillis(), stepId, global.getDefaultKernel());
        String session = step.buildSession();
        if (session != null) {
            JupyterSessionCleanup.remember(build, env.get("NODE_NAME"), url, credentialsId, session, env.get("JENKINS_KERNEL_DATA_DIR"));
        }
        StepOutcome outcome;
        try {
            outcome = workspace.act(new JupyterAgentCall(step, listener));
        } catch (IOException e) { // FilePath.act wraps what the agent threw
            throw new AbortException(oneLine(e));
        }
        build.addAction(new JupyterRunLink(outcome.dashboardUrl(), outcome.description()));
        return outcome;
    }

    /** The client's one-line message when it is in the chain, else the exception's own. */
    static String oneLine(IOException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ServiceException) {
                return t.getMessage();
            }
        }
        return e.getMessage();
    }
}
