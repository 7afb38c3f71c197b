package io.jenkins.plugins.jupyter;

import hudson.AbortException;
import hudson.EnvVars;
import hudson.Extension;
import hudson.FilePath;
import hudson.model.Item;
import hudson.model.Run;
import hudson.model.TaskListener;
import hudson.util.ListBoxModel;
import io.jenkins.plugins.jupyter.client.Parameters;
import io.jenkins.plugins.jupyter.client.StepSettings;
import java.util.Set;
import org.jenkinsci.plugins.structs.describable.CustomDescribableModel;
import org.jenkinsci.plugins.workflow.graph.FlowNode;
import org.jenkinsci.plugins.workflow.steps.Step;
import org.jenkinsci.plugins.workflow.steps.StepContext;
import org.jenkinsci.plugins.workflow.steps.StepDescriptor;
import org.jenkinsci.plugins.workflow.steps.StepExecution;
import org.kohsuke.stapler.AncestorInPath;
import org.kohsuke.stapler.DataBoundConstructor;
import org.kohsuke.stapler.DataBoundSetter;
import org.kohsuke.stapler.QueryParameter;
import org.kohsuke.stapler.verb.POST;

/**
 * {@code jupyterCell 'print(1)'}: run one cell of code on the agent's jupyter service, in the
 * workspace. The cells of a build share one kernel (the session named by BUILD_TAG), like the
 * cells of one notebook. The workspace is required: its channel runs the client on the agent.
 */
@CustomDescribableModel.CustomDescription(ScriptedArguments.ForCell.class)
public class JupyterCellStep extends Step {
    private final String code;
    private String env;
    private String kernel;
    private String session;
    private Integer timeout;
    private boolean unstableOnCellError;
    private String serviceUrl;
    private String credentialsId;

    @DataBoundConstructor
    public JupyterCellStep(String code) {
        this.code = code;
    }

    @Override
    public StepExecution start(StepContext context) throws AbortException {
        StepSettings settings;
        try {
            settings = StepSettings.cell(code).env(Parameters.envLines(env)).kernel(kernel).session(session).timeout(timeout)
                    .unstableOnCellError(unstableOnCellError);
        } catch (IllegalArgumentException e) { // no code, or a bad env line
            throw new AbortException(e.getMessage());
        }
        return new JupyterStepExecution(context, new JupyterInvocation(settings, serviceUrl, credentialsId));
    }

    public String getCode() { return code; }
    public String getEnv() { return env; }
    public String getKernel() { return kernel; }
    public String getSession() { return session; }
    public Integer getTimeout() { return timeout; }
    public boolean isUnstableOnCellError() { return unstableOnCellError; }
    public String getServiceUrl() { return serviceUrl; }
    public String getCredentialsId() { return credentialsId; }

    @DataBoundSetter public void setEnv(String env) { this.env = Strings.blankToNull(env); }
    @DataBoundSetter public void setKernel(String kernel) { this.kernel = Strings.blankToNull(kernel); }
    @DataBoundSetter public void setSession(String session) { this.session = Strings.blankToNull(session); }
    @DataBoundSetter public void setTimeout(Integer timeout) { this.timeout = timeout; }
    @DataBoundSetter public void setUnstableOnCellError(boolean u) { this.unstableOnCellError = u; }
    @DataBoundSetter public void setServiceUrl(String serviceUrl) { this.serviceUrl = Strings.blankToNull(serviceUrl); }
    @DataBoundSetter public void setCredentialsId(String credentialsId) { this.credentialsId = Strings.blankToNull(credentialsId); }

    @Extension
    public static final class DescriptorImpl extends StepDescriptor {
        @Override
        public String getFunctionName() {
            return "jupyterCell";
        }

        @Override
        public String getDisplayName() {
            return "Run a cell of code on the agent's jupyter service";
        }

        @Override
        public Set<? extends Class<?>> getRequiredContext() {
            return Set.of(Run.class, FilePath.class, EnvVars.class, TaskListener.class, FlowNode.class);
        }

        @POST
        public ListBoxModel doFillCredentialsIdItems(@AncestorInPath Item item, @QueryParameter String credentialsId) {
            return JupyterGlobalConfiguration.credentialsItems(item, credentialsId);
        }
    }
}
