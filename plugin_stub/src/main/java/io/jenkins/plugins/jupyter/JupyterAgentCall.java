package io.jenkins.plugins.jupyter;

import hudson.model.TaskListener;
import hudson.remoting.VirtualChannel;
import io.jenkins.plugins.jupyter.client.AgentStep;
import io.jenkins.plugins.jupyter.client.StepOutcome;
import java.io.File;
import java.io.IOException;
import jenkins.MasterToSlaveFileCallable;
import jenkins.security.MasterToSlaveCallable;

/**
 * The step, run on the agent that holds the workspace ({@code workspace.act(this)}). What
 * crosses the channel: the {@link AgentStep} (strings, the token, a few build variables),
 * the TaskListener (its log stream is remoted), and back a {@link StepOutcome}. No Run,
 * StepContext or configuration object.
 */
final class JupyterAgentCall extends MasterToSlaveFileCallable<StepOutcome> {
    private static final long serialVersionUID = 1L;
    private final AgentStep step;
    private final TaskListener listener;

    JupyterAgentCall(AgentStep step, TaskListener listener) {
        this.step = step;
        this.listener = listener;
    }

    @Override
    public StepOutcome invoke(File workspace, VirtualChannel channel) throws IOException, InterruptedException {
        return step.run(workspace.toPath(), listener.getLogger());
    }

    /** Close a build's session on the agent's own service, at the build's end. */
    static final class CloseSession extends MasterToSlaveCallable<Boolean, IOException> {
        private static final long serialVersionUID = 1L;
        private final String url;
        private final String token;
        private final String session;
        private final String dataDir;

        CloseSession(String url, String token, String session, String dataDir) {
            this.url = url;
            this.token = token;
            this.session = session;
            this.dataDir = dataDir;
        }

        @Override
        public Boolean call() throws IOException {
            try {
                return AgentStep.closeSession(url, token, session, dataDir);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }
}
