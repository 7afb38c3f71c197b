package io.jenkins.plugins.jupyter;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.instanceOf;
import static org.hamcrest.Matchers.not;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import hudson.model.Job;
import hudson.model.Result;
import hudson.model.Run;
import io.jenkins.plugins.jupyter.client.BuildContext;
import io.jenkins.plugins.jupyter.client.JupyterResult;
import io.jenkins.plugins.jupyter.client.LogCapture;
import io.jenkins.plugins.jupyter.client.ServiceException;
import io.jenkins.plugins.jupyter.client.StepOutcome;
import io.jenkins.plugins.jupyter.client.StepSettings;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jenkinsci.plugins.structs.describable.CustomDescribableModel;
import org.jenkinsci.plugins.workflow.actions.WarningAction;
import org.jenkinsci.plugins.workflow.graph.FlowNode;
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.Timeout;

/**
 * The Jenkins glue's own logic, compiled against the test-only stubs (src/stubs) and run
 * without Jenkins: argument binding, results, the abort cause, the run link.
 */
public class GlueTest {
    @Rule
    public Timeout timeout = Timeout.seconds(10);

    static final class TestJob extends Job<TestJob, TestRun> {}

    static final class TestRun extends Run<TestJob, TestRun> {}

    /** What structs' DescribableModel does with the bound arguments: constructor, then setters. */
    static final CustomDescribableModel.StandardInstantiator STRUCTS = new CustomDescribableModel.StandardInstantiator() {
        @Override
        @SuppressWarnings("unchecked")
        public <T> T instantiate(Class<T> type, Map<String, Object> args) {
            JupyterNotebookStep step = new JupyterNotebookStep((String) args.get("path"));
            step.setParameters((List<NotebookParameter>) args.get("parameters"));
            step.setEnv((String) args.get("env"));
            return type.cast(step);
        }
    };

    static Map<String, Object> args(Object parameters, Object env) {
        Map<String, Object> args = new LinkedHashMap<>();
        args.put("path", "nb/train.ipynb");
        args.put("parameters", parameters);
        args.put("env", env);
        return args;
    }

    static Object requestParameters(JupyterNotebookStep step) {
        StepSettings settings = StepSettings.notebook(step.getPath()).parameters(NotebookParameter.toMap(step.getParameters()));
        return settings.request("{}", new BuildContext(Map.of(), 0, "1"), null).get("parameters");
    }

    @Test
    public void scripted_map_parameters_bind_as_name_value_pairs_and_are_typed_like_the_cli() throws Exception {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("epochs", 300);
        map.put("learning_rate", "0.05"); // params.LEARNING_RATE: a string, no toDouble()
        map.put("run_name", "run 1");
        map.put("verbose", true);
        JupyterNotebookStep step = new ScriptedArguments.ForNotebook().instantiate(args(map, Map.of("SEED", 7)), STRUCTS);

        assertEquals("[epochs=300, learning_rate=0.05, run_name=run 1, verbose=true]", step.getParameters().toString());
        assertEquals("SEED=7", step.getEnv());
        Map<String, Object> typed = new LinkedHashMap<>();
        typed.put("epochs", 300L);
        typed.put("learning_rate", 0.05);
        typed.put("run_name", "run 1");
        typed.put("verbose", true);
        assertEquals(typed, requestParameters(step));
    }

    @Test
    public void the_describable_list_of_the_snippet_generator_and_declarative_binds_unchanged() throws Exception {
        List<NotebookParameter> list = new ArrayList<>(List.of(new NotebookParameter("epochs", "300")));
        JupyterNotebookStep step = new ScriptedArguments.ForNotebook().instantiate(args(list, List.of("A=1", "B=x y")), STRUCTS);
        assertSame(list.get(0), step.getParameters().get(0));
        assertEquals("A=1\nB=x y", step.getEnv()); // withEnv's list form
        assertEquals(Map.of("epochs", 300L), requestParameters(step));
    }

    @Test
    public void a_list_value_or_a_parameter_named_twice_is_refused_with_its_name() {
        try {
            ScriptedArguments.bind(args(Map.of("layers", new ArrayList<>(List.of(1, 2))), null));
            fail("bound");
        } catch (IllegalArgumentException e) {
            assertEquals("parameter layers: give a string, a number or a boolean, not ArrayList", e.getMessage());
        }
        try {
            NotebookParameter.toMap(List.of(new NotebookParameter("a", "1"), new NotebookParameter("a", "2")));
            fail("bound");
        } catch (IllegalArgumentException e) {
            assertEquals("the notebook parameter a is given twice", e.getMessage());
        }
    }

    static StepOutcome outcome(JupyterResult result) {
        return new StepOutcome(result, "run r1 ended cancelled (exit code 4); build result " + result, "r1",
                "http://127.0.0.1:8765/ui/runs/r1", "notebook train.ipynb", new ArrayList<>());
    }

    @Test
    public void a_run_cancelled_on_the_service_ends_the_step_aborted_with_our_cause_not_as_an_actual_interruption() throws Exception {
        LogCapture log = new LogCapture();
        try {
            Outcomes.apply(outcome(JupyterResult.ABORTED), new TestRun(), new FlowNode() {}, () -> log.stream);
            fail("no interruption");
        } catch (FlowInterruptedException e) {
            assertSame(Result.ABORTED, e.getResult());
            assertFalse("Jenkins did not abort the build", e.isActualInterruption());
            assertEquals(1, e.getCauses().size());
            assertEquals("aborted: the Jupyter run was cancelled", e.getCauses().get(0).getShortDescription());
            assertEquals("r1", ((RunCancelled) e.getCauses().get(0)).getRunId());
        }
        assertThat(log.text(), containsString("[jupyter] aborted: the Jupyter run was cancelled (run r1)"));
        try { // freestyle: core turns an InterruptedException into ABORTED
            Outcomes.apply(outcome(JupyterResult.ABORTED), new TestRun(), null, () -> log.stream);
            fail("no interruption");
        } catch (InterruptedException e) {
            assertThat(e, not(instanceOf(FlowInterruptedException.class)));
        }
    }

    @Test
    public void unstable_marks_the_build_and_puts_a_warning_on_the_steps_flow_node() throws Exception {
        TestRun build = new TestRun();
        FlowNode node = new FlowNode() {};
        Outcomes.apply(outcome(JupyterResult.UNSTABLE), build, node, () -> new LogCapture().stream);
        assertSame(Result.UNSTABLE, build.getResult());
        WarningAction warning = node.getActions(WarningAction.class).get(0);
        assertSame(Result.UNSTABLE, warning.getResult());
        assertThat(warning.getMessage(), containsString("run r1"));
    }

    @Test
    public void success_leaves_the_build_alone_and_failure_is_a_one_line_abort() throws Exception {
        TestRun build = new TestRun();
        FlowNode node = new FlowNode() {};
        Outcomes.apply(outcome(JupyterResult.SUCCESS), build, node, () -> new LogCapture().stream);
        assertNull(build.getResult());
        assertTrue(node.getActions(WarningAction.class).isEmpty());
        try {
            Outcomes.apply(outcome(JupyterResult.FAILURE), build, node, () -> new LogCapture().stream);
            fail("no failure");
        } catch (hudson.AbortException e) {
            assertThat(e.getMessage(), containsString("build result FAILURE"));
        }
    }

    @Test
    public void the_jupyter_run_link_points_at_the_runs_dashboard() {
        JupyterRunLink link = new JupyterRunLink(outcome(JupyterResult.SUCCESS).dashboardUrl(), "notebook train.ipynb");
        assertEquals("http://127.0.0.1:8765/ui/runs/r1", link.getUrlName());
        assertEquals("Jupyter run: notebook train.ipynb", link.getDisplayName());
        assertTrue(link.getIconFileName().startsWith("/plugin/jupyter-kernel/"));
    }

    @Test
    public void an_empty_service_url_means_each_agents_own_service_and_a_bad_one_is_refused() {
        JupyterGlobalConfiguration global = new JupyterGlobalConfiguration();
        hudson.util.FormValidation empty = global.doCheckServiceUrl("");
        assertEquals("OK", empty.kind);
        assertThat(empty.getMessage(), containsString("each agent uses its own service (http://127.0.0.1:8765)"));
        assertEquals("OK", global.doCheckServiceUrl("http://jupyter.example.com:8765").kind);
        assertEquals("ERROR", global.doCheckServiceUrl("ftp://jupyter.example.com").kind);
        assertEquals("ERROR", global.doCheckServiceUrl("http://bad host").kind);
    }

    @Test
    public void the_agents_one_line_error_is_kept_through_filepaths_wrapper() {
        ServiceException cause = new ServiceException("cannot reach the jupyter service at http://x", 0, "unreachable", null);
        IOException wrapped = new IOException("remote file operation failed: /ws at hudson.remoting.Channel@1:agent: " + cause, cause);
        assertEquals("cannot reach the jupyter service at http://x", JupyterInvocation.oneLine(wrapped));
    }
}
