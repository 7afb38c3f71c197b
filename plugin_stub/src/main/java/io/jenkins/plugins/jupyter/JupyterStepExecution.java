package io.jenkins.plugins.jupyter;

import hudson.EnvVars;
import hudson.FilePath;
import hudson.model.Result;
import hudson.model.Run;
import hudson.model.TaskListener;
import io.jenkins.plugins.jupyter.client.JupyterResult;
import io.jenkins.plugins.jupyter.client.JupyterRun;
import org.jenkinsci.plugins.workflow.graph.FlowNode;
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException;
import org.jenkinsci.plugins.workflow.steps.StepContext;
import org.jenkinsci.plugins.workflow.steps.SynchronousNonBlockingStepExecution;

/**
 * How jupyterNotebook and jupyterCell run in a Pipeline: on a thread of their own (the CPS
 * thread never waits on HTTP); stop() aborts the HTTP call and cancels the run on the
 * service, and the build ends ABORTED. Returns the run's id on the service.
 */
final class JupyterStepExecution extends SynchronousNonBlockingStepExecution<String> {
    private static final long serialVersionUID = 1L;

    private final transient JupyterInvocation invocation;

    JupyterStepExecution(StepContext context, JupyterInvocation invocation) {
        super(context);
        this.invocation = invocation;
    }

    @Override
    protected String run() throws Exception {
        StepContext c = getContext();
        JupyterRun.Outcome outcome = invocation.perform(c.get(Run.class), c.get(FilePath.class), c.get(EnvVars.class),
                c.get(TaskListener.class), c.get(FlowNode.class).getId());
        if (outcome.result() == JupyterResult.ABORTED) { // cancelled on the service, not by this build
            throw new FlowInterruptedException(Result.ABORTED);
        }
        return outcome.run().id();
    }

    @Override
    public void stop(Throwable cause) throws Exception {
        if (invocation != null) { // null after a controller restart: nothing of ours runs
            invocation.abort(); // returns at once; the cancel is POSTed in the background
        }
        super.stop(cause);
    }
}
