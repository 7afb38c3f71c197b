package io.jenkins.plugins.jupyter;

import hudson.AbortException;
import hudson.model.Result;
import hudson.model.Run;
import hudson.model.TaskListener;
import io.jenkins.plugins.jupyter.client.StepOutcome;
import org.jenkinsci.plugins.workflow.actions.WarningAction;
import org.jenkinsci.plugins.workflow.graph.FlowNode;
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException;

/** A step's outcome as Jenkins sees it: the build's result, the step's mark, or an exception. */
final class Outcomes {
    private Outcomes() {}

    /**
     * SUCCESS: nothing. UNSTABLE: the build is UNSTABLE and, in a Pipeline, the step's
     * FlowNode gets a WarningAction (the stage view shows which step). FAILURE: an
     * AbortException with the summary.
     *
     * <p>ABORTED (the run was cancelled on the service, from its dashboard or CLI, not by
     * Jenkins): in a Pipeline a FlowInterruptedException(ABORTED, actualInterruption=false,
     * {@link RunCancelled}). Not an actual interruption: Jenkins did not abort this build, so
     * an enclosing {@code retry} or {@code catchError} may treat it as the step's ending; a
     * real abort from Jenkins never comes here (it interrupts the step and ends it itself).
     * Freestyle: an InterruptedException, which core turns into ABORTED.
     */
    static void apply(StepOutcome outcome, Run<?, ?> build, FlowNode node, TaskListener listener)
            throws AbortException, InterruptedException {
        switch (outcome.result()) {
            case SUCCESS:
                return;
            case UNSTABLE:
                build.setResult(Result.UNSTABLE);
                if (node != null) {
                    node.addOrReplaceAction(new WarningAction(Result.UNSTABLE).withMessage(outcome.summary()));
                }
                return;
            case ABORTED:
                RunCancelled cause = new RunCancelled(outcome.runId());
                listener.getLogger().println("[jupyter] " + cause.getShortDescription() + " (run " + outcome.runId() + ")");
                if (node != null) {
                    throw new FlowInterruptedException(Result.ABORTED, false, cause);
                }
                throw new InterruptedException(cause.getShortDescription());
            default:
                throw new AbortException(outcome.summary());
        }
    }
}
