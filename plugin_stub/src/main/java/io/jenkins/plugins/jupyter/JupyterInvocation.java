package io.jenkins.plugins.jupyter;

import hudson.AbortException;
import hudson.EnvVars;
import hudson.FilePath;
import hudson.model.Result;
import hudson.model.Run;
import hudson.model.TaskListener;
import io.jenkins.plugins.jupyter.client.BuildContext;
import io.jenkins.plugins.jupyter.client.ClientOptions;
import io.jenkins.plugins.jupyter.client.JupyterResult;
import io.jenkins.plugins.jupyter.client.JupyterRun;
import io.jenkins.plugins.jupyter.client.RunRequest;
import io.jenkins.plugins.jupyter.client.ServiceClient;
import io.jenkins.plugins.jupyter.client.ServiceException;
import io.jenkins.plugins.jupyter.client.StepSettings;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * The one implementation behind jupyterNotebook, jupyterCell and the freestyle step: resolve
 * the workspace, the credential and the log, then hand everything to the client package.
 */
final class JupyterInvocation {
    private final StepSettings settings;
    private final String serviceUrl;
    private final String credentialsId;
    private volatile JupyterRun run;
    private volatile boolean aborted;

    JupyterInvocation(StepSettings settings, String serviceUrl, String credentialsId) {
        this.settings = settings;
        this.serviceUrl = serviceUrl;
        this.credentialsId = credentialsId;
    }

    /**
     * Run the step. A failed run is an AbortException (FAILURE); a cell error with
     * unstableOnCellError sets UNSTABLE; the outcome's result is returned (SUCCESS, UNSTABLE,
     * or ABORTED when the run was cancelled on the service, which the caller turns into its
     * kind of interruption).
     */
    JupyterRun.Outcome perform(Run<?, ?> build, FilePath workspace, EnvVars env, TaskListener listener, String stepId)
            throws IOException, InterruptedException {
        JupyterGlobalConfiguration global = JupyterGlobalConfiguration.get();
        BuildContext context = new BuildContext(env, build.getStartTimeInMillis(), stepId);
        ServiceClient client = global.connect(build, serviceUrl, credentialsId, ClientOptions.defaults());
        RunRequest request;
        try {
            request = settings.request(readNotebook(workspace), context, global.getDefaultKernel());
        } catch (IllegalArgumentException e) {
            throw new AbortException(e.getMessage());
        }
        ServiceClient.ArtifactSink sink = settings.isNotebook()
                ? name -> workspace.child(settings.outputDir()).child(name).write()
                : null;
        if (settings.usesBuildSession(context)) {
            JupyterSessionCleanup.remember(build, serviceUrl, credentialsId, settings.sessionName(context));
        }
        run = new JupyterRun(client, listener.getLogger());
        if (aborted) { // stop() came before the run existed
            throw new InterruptedException("aborted");
        }
        JupyterRun.Outcome outcome;
        try {
            outcome = run.execute(request, context.idempotencyKey(), sink, settings.unstableOnCellError());
        } catch (ServiceException e) {
            throw new AbortException(e.getMessage());
        }
        listener.getLogger().println("[jupyter] " + outcome.summary());
        if (outcome.result() == JupyterResult.FAILURE) {
            throw new AbortException(outcome.summary());
        }
        if (outcome.result() == JupyterResult.UNSTABLE) {
            build.setResult(Result.UNSTABLE);
        }
        return outcome;
    }

    /** From Jenkins' stop(), on another thread: end the HTTP call now, cancel the run. */
    void abort() {
        aborted = true;
        JupyterRun r = run;
        if (r != null) {
            r.abort();
        }
    }

    private String readNotebook(FilePath workspace) throws IOException, InterruptedException {
        if (!settings.isNotebook()) {
            return null;
        }
        FilePath file = workspace.child(settings.notebookPath());
        if (!file.exists()) {
            throw new AbortException("no notebook at " + file.getRemote() + ": the path is relative to the workspace "
                    + "(check out the repository first, e.g. with checkout scm)");
        }
        try (InputStream in = file.read()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
