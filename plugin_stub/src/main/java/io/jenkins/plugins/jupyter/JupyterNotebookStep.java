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
import java.util.ArrayList;
import java.util.List;
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
 * {@code jupyterNotebook path: 'notebooks/train.ipynb', parameters: [epochs: 300]}: run a
 * notebook of the workspace on the agent's jupyter service, in its own folder, its output
 * live in the build log, its reports downloaded into {@code outputDir}. Parameters are a
 * list of {@link NotebookParameter}s (what the Snippet Generator and Declarative describe);
 * {@link ScriptedArguments} also takes the scripted map form.
 */
@CustomDescribableModel.CustomDescription(ScriptedArguments.ForNotebook.class)
public class JupyterNotebookStep extends Step {
    private final String path;
    private List<NotebookParameter> parameters = new ArrayList<>();
    private String env;
    private String kernel;
    private Integer timeout;
    private Integer cellTimeout;
    private boolean allowErrors;
    private String outputDir;
    private String session;
    private boolean unstableOnCellError;
    private String serviceUrl;
    private String credentialsId;

    @DataBoundConstructor
    public JupyterNotebookStep(String path) {
        this.path = path;
    }

    @Override
    public StepExecution start(StepContext context) throws AbortException {
        StepSettings settings;
        try {
            settings = StepSettings.notebook(path).parameters(NotebookParameter.toMap(parameters))
                    .env(Parameters.envLines(env)).kernel(kernel).timeout(timeout).cellTimeout(cellTimeout)
                    .allowErrors(allowErrors).outputDir(outputDir).session(session).unstableOnCellError(unstableOnCellError);
        } catch (IllegalArgumentException e) { // a missing path, a bad env line, a parameter named twice
            throw new AbortException(e.getMessage());
        }
        return new JupyterStepExecution(context, new JupyterInvocation(settings, serviceUrl, credentialsId));
    }

    public String getPath() { return path; }
    public List<NotebookParameter> getParameters() { return parameters; }
    public String getEnv() { return env; }
    public String getKernel() { return kernel; }
    public Integer getTimeout() { return timeout; }
    public Integer getCellTimeout() { return cellTimeout; }
    public boolean isAllowErrors() { return allowErrors; }
    public String getOutputDir() { return outputDir; }
    public String getSession() { return session; }
    public boolean isUnstableOnCellError() { return unstableOnCellError; }
    public String getServiceUrl() { return serviceUrl; }
    public String getCredentialsId() { return credentialsId; }

    @DataBoundSetter public void setParameters(List<NotebookParameter> p) { this.parameters = p == null ? new ArrayList<>() : new ArrayList<>(p); }
    @DataBoundSetter public void setEnv(String env) { this.env = Strings.blankToNull(env); }
    @DataBoundSetter public void setKernel(String kernel) { this.kernel = Strings.blankToNull(kernel); }
    @DataBoundSetter public void setTimeout(Integer timeout) { this.timeout = timeout; }
    @DataBoundSetter public void setCellTimeout(Integer cellTimeout) { this.cellTimeout = cellTimeout; }
    @DataBoundSetter public void setAllowErrors(boolean allowErrors) { this.allowErrors = allowErrors; }
    @DataBoundSetter public void setOutputDir(String outputDir) { this.outputDir = Strings.blankToNull(outputDir); }
    @DataBoundSetter public void setSession(String session) { this.session = Strings.blankToNull(session); }
    @DataBoundSetter public void setUnstableOnCellError(boolean u) { this.unstableOnCellError = u; }
    @DataBoundSetter public void setServiceUrl(String serviceUrl) { this.serviceUrl = Strings.blankToNull(serviceUrl); }
    @DataBoundSetter public void setCredentialsId(String credentialsId) { this.credentialsId = Strings.blankToNull(credentialsId); }

    @Extension
    public static final class DescriptorImpl extends StepDescriptor {
        @Override
        public String getFunctionName() {
            return "jupyterNotebook";
        }

        @Override
        public String getDisplayName() {
            return "Run a Jupyter notebook on the agent's jupyter service";
        }

        /** FilePath: the workspace, whose channel runs the client on the agent. */
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
