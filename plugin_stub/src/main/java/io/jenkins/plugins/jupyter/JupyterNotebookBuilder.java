package io.jenkins.plugins.jupyter;

import hudson.AbortException;
import hudson.EnvVars;
import hudson.Extension;
import hudson.FilePath;
import hudson.Launcher;
import hudson.model.AbstractProject;
import hudson.model.Item;
import hudson.model.Project;
import hudson.model.Run;
import hudson.model.TaskListener;
import hudson.tasks.BuildStepDescriptor;
import hudson.tasks.Builder;
import hudson.util.ListBoxModel;
import io.jenkins.plugins.jupyter.client.Parameters;
import io.jenkins.plugins.jupyter.client.StepSettings;
import java.io.IOException;
import jenkins.tasks.SimpleBuildStep;
import org.jenkinsci.Symbol;
import org.kohsuke.stapler.AncestorInPath;
import org.kohsuke.stapler.DataBoundConstructor;
import org.kohsuke.stapler.DataBoundSetter;
import org.kohsuke.stapler.QueryParameter;
import org.kohsuke.stapler.verb.POST;

/**
 * The freestyle build step "Run a Jupyter notebook": the fields of jupyterNotebook (its
 * parameters and env as NAME=VALUE lines, with build variables expanded) and the same
 * implementation. An abort interrupts the build thread, which cancels the run on the agent.
 */
public class JupyterNotebookBuilder extends Builder implements SimpleBuildStep {
    private final String path;
    private String parameters;
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
    public JupyterNotebookBuilder(String path) {
        this.path = path;
    }

    @Override
    public void perform(Run<?, ?> build, FilePath workspace, EnvVars env, Launcher launcher, TaskListener listener)
            throws InterruptedException, IOException {
        StepSettings settings;
        try {
            settings = StepSettings.notebook(env.expand(path)).parameters(Parameters.lines(env.expand(parameters)))
                    .env(Parameters.envLines(env.expand(this.env)))
                    .kernel(kernel).timeout(timeout).cellTimeout(cellTimeout).allowErrors(allowErrors)
                    .outputDir(env.expand(outputDir)).session(env.expand(session)).unstableOnCellError(unstableOnCellError);
        } catch (IllegalArgumentException e) { // no path, or a line that is not NAME=VALUE
            throw new AbortException(e.getMessage());
        }
        Outcomes.apply(new JupyterInvocation(settings, serviceUrl, credentialsId)
                .perform(build, workspace, env, listener, stepId(build)), build, null, listener);
    }

    /** This step's place among the project's build steps: part of the idempotency key. */
    private String stepId(Run<?, ?> build) {
        return build.getParent() instanceof Project<?, ?> p
                ? "builder-" + p.getBuildersList().toList().indexOf(this)
                : "builder-" + Integer.toHexString(System.identityHashCode(this));
    }

    public String getPath() { return path; }
    public String getParameters() { return parameters; }
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

    @DataBoundSetter public void setParameters(String parameters) { this.parameters = Strings.blankToNull(parameters); }
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
    @Symbol("jupyterNotebookBuilder")
    public static final class DescriptorImpl extends BuildStepDescriptor<Builder> {
        @Override
        @SuppressWarnings("rawtypes") // the real signature is raw
        public boolean isApplicable(Class<? extends AbstractProject> jobType) {
            return true;
        }

        @Override
        public String getDisplayName() {
            return "Run a Jupyter notebook on the agent's jupyter service";
        }

        @POST
        public ListBoxModel doFillCredentialsIdItems(@AncestorInPath Item item, @QueryParameter String credentialsId) {
            return JupyterGlobalConfiguration.credentialsItems(item, credentialsId);
        }
    }
}
