package io.jenkins.plugins.jupyter;

import hudson.EnvVars;
import hudson.FilePath;
import hudson.model.Run;
import hudson.model.TaskListener;
import io.jenkins.plugins.jupyter.client.StepOutcome;
import org.jenkinsci.plugins.workflow.graph.FlowNode;
import org.jenkinsci.plugins.workflow.steps.StepContext;
import org.jenkinsci.plugins.workflow.steps.SynchronousNonBlockingStepExecution;

/**
 * How jupyterNotebook and jupyterCell run in a Pipeline: on a pool thread (the CPS thread
 * never waits on HTTP), the client on the agent. The inherited stop() interrupts that thread;
 * the interrupt reaches the agent as a remoting Cancel, which cancels the run on the service.
 * Returns the run's id on the service.
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
        Run<?, ?> build = c.get(Run.class);
        FlowNode node = c.get(FlowNode.class);
        TaskListener listener = c.get(TaskListener.class);
        StepOutcome outcome = invocation.perform(build, c.get(FilePath.class), c.get(EnvVars.class), listener, node.getId());
        Outcomes.apply(outcome, build, node, listener);
        return outcome.runId();
    }
}
