package io.jenkins.plugins.jupyter.client;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.lessThanOrEqualTo;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.Timeout;

/** The parts of the client that need no service: JSON, parameters, build context, results. */
public class ClientUnitTest {
    @Rule
    public Timeout timeout = Timeout.seconds(10);

    @Test
    public void json_parses_what_the_service_sends() {
        Map<String, Object> o = Json.parseObject(
                "{\"a\": [1, -2.5e3, true, null, \"\\u00e9\\n\\\"x\\\"\"], \"big\": 12345678901234567890, \"o\": {}}");
        assertEquals(List.of(1L, -2500.0, true), ((List<?>) o.get("a")).subList(0, 3));
        assertNull(((List<?>) o.get("a")).get(3));
        assertEquals("\u00e9\n\"x\"", ((List<?>) o.get("a")).get(4));
        assertEquals(new java.math.BigInteger("12345678901234567890"), o.get("big"));
        assertEquals(Map.of(), o.get("o"));
    }

    @Test
    public void json_errors_say_where() {
        try {
            Json.parse("{\n  \"a\": 1,\n  oops\n}");
            fail("parsed");
        } catch (Json.SyntaxError e) {
            assertEquals("expected a string key at line 3 column 3", e.getMessage());
        }
    }

    @Test
    public void json_writes_strings_escaped_and_raw_text_verbatim() {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("code", "print(\"a\\tb\")\n\u0001");
        body.put("notebook", new Json.Raw("{\"n\": 1.0}"));
        body.put("list", List.of(1, 2.5, false));
        assertEquals("{\"code\":\"print(\\\"a\\\\tb\\\")\\n\\u0001\",\"notebook\":{\"n\": 1.0},\"list\":[1,2.5,false]}",
                Json.write(body));
        assertEquals(body.get("code"), Json.parseObject(Json.write(body)).get("code"));
    }

    @Test
    public void a_broken_notebook_is_refused_with_its_name_and_line() {
        try {
            RunRequest.notebook("notebooks/train.ipynb", "{\"cells\": [\n}");
            fail("accepted");
        } catch (IllegalArgumentException e) {
            assertThat(e.getMessage(), containsString("the notebook notebooks/train.ipynb is not valid JSON"));
            assertThat(e.getMessage(), containsString("line 2"));
        }
    }

    @Test
    public void a_notebook_request_is_sent_verbatim_with_its_file_name() {
        RunRequest r = RunRequest.notebook("dir/train.ipynb", "{\"cells\": [], \"x\": 1.0}").timeout(0).cellTimeout(30);
        assertEquals("{\"notebook\":{\"cells\": [], \"x\": 1.0},\"notebook_name\":\"train.ipynb\",\"cell_timeout\":30}",
                r.toJson());
    }

    @Test
    public void parameter_strings_are_typed_like_the_cli_does() {
        Map<String, Object> in = new LinkedHashMap<>();
        in.put("i", "3");
        in.put("f", "0.5");
        in.put("e", "1e-3");
        in.put("b", "True");
        in.put("n", "null");
        in.put("s", "no");
        in.put("already", 7);
        Map<String, Object> typed = Parameters.typed(in);
        assertEquals(3L, typed.get("i"));
        assertEquals(0.5, typed.get("f"));
        assertEquals(0.001, typed.get("e"));
        assertEquals(true, typed.get("b"));
        assertNull(typed.get("n"));
        assertTrue(typed.containsKey("n"));
        assertEquals("no", typed.get("s"));
        assertEquals(7, typed.get("already"));
        assertEquals(Map.of("alpha", 0.1, "name", "run 1"), Parameters.typed(Parameters.lines("# comment\nalpha = 0.1\n\nname=run 1\n")));
    }

    @Test
    public void the_build_context_gives_lineage_session_and_a_key_per_step() {
        Map<String, String> env = Map.of("JOB_NAME", "team/train", "BUILD_NUMBER", "12", "BUILD_TAG", "jenkins-team-train-12",
                "BUILD_URL", "https://ci.example.com/job/team/job/train/12/", "GIT_COMMIT", "abc123");
        BuildContext step3 = new BuildContext(env, 1000L, "3");
        assertEquals(Map.of("job_name", "team/train", "build_number", 12L, "build_url",
                "https://ci.example.com/job/team/job/train/12/", "git_commit", "abc123", "step", "3"), step3.lineage());
        assertEquals("jenkins-team-train-12", step3.defaultSession());
        assertThat(step3.idempotencyKey(), containsString("jenkins-team-train-12/step-3/"));
        assertFalse(step3.idempotencyKey().equals(new BuildContext(env, 1000L, "4").idempotencyKey()));
        assertFalse("a namesake build (job recreated) gets another key",
                step3.idempotencyKey().equals(new BuildContext(env, 2000L, "3").idempotencyKey()));
        assertEquals(step3.idempotencyKey(), new BuildContext(env, 1000L, "3").idempotencyKey());
        String longTag = "jenkins-" + "x".repeat(300);
        assertThat(new BuildContext(Map.of("BUILD_TAG", longTag), 0, "1").idempotencyKey().length(),
                lessThanOrEqualTo(BuildContext.MAX_KEY));
    }

    @Test
    public void exit_codes_map_to_build_results_as_design_md_says() {
        assertEquals(JupyterResult.SUCCESS, JupyterResult.of(0, false));
        assertEquals(JupyterResult.FAILURE, JupyterResult.of(1, false));
        assertEquals(JupyterResult.UNSTABLE, JupyterResult.of(1, true));
        for (int code : new int[] {2, 3, 5, 6, 99}) {
            assertEquals(JupyterResult.FAILURE, JupyterResult.of(code, true));
        }
        assertEquals(JupyterResult.ABORTED, JupyterResult.of(4, false));
    }

    @Test
    public void artifact_names_that_leave_the_output_folder_are_unsafe() {
        assertTrue(JupyterRun.safeName("images/cell03_17.png"));
        assertTrue(JupyterRun.safeName("executed.ipynb"));
        for (String bad : new String[] {"../x", "/etc/passwd", "a/../../b", "a\\b", "C:x", "", "a//b"}) {
            assertFalse(bad, JupyterRun.safeName(bad));
        }
    }

    @Test
    public void a_cell_step_runs_in_the_build_session_with_the_default_kernel() {
        BuildContext build = new BuildContext(Map.of("BUILD_TAG", "jenkins-job-4", "JOB_NAME", "job"), 0, "7");
        StepSettings cell = StepSettings.cell("print(1)").timeout(60);
        assertEquals("{\"code\":\"print(1)\",\"env\":{\"BUILD_TAG\":\"jenkins-job-4\",\"JOB_NAME\":\"job\"},"
                + "\"kernel\":\"python3\",\"session_name\":\"jenkins-job-4\",\"timeout\":60,"
                + "\"jenkins\":{\"job_name\":\"job\",\"step\":\"7\"}}", cell.request(null, build, "python3").toJson());
        assertTrue(cell.usesBuildSession(build));
        assertEquals("ir", StepSettings.cell("1").kernel("ir").request(null, build, "python3").get("kernel"));
        assertFalse(StepSettings.cell("1").session("shared").usesBuildSession(build));
    }

    @Test
    public void a_notebook_step_gets_a_fresh_kernel_and_reports_under_jupyter_by_default() {
        BuildContext build = new BuildContext(Map.of("BUILD_TAG", "jenkins-job-4"), 0, "8");
        StepSettings nb = StepSettings.notebook("notebooks/train.ipynb").parameters(Map.of("epochs", "300"))
                .cellTimeout(30).allowErrors(true);
        RunRequest r = nb.request("{\"cells\": []}", build, "python3");
        assertNull(r.get("session_name"));
        assertNull("the notebook's kernelspec decides", r.get("kernel"));
        assertEquals(Map.of("epochs", 300L), r.get("parameters"));
        assertEquals(30, r.get("cell_timeout"));
        assertEquals(true, r.get("allow_errors"));
        assertEquals("train.ipynb", r.get("notebook_name"));
        assertEquals("jupyter/train", nb.outputDir());
        assertEquals("out", StepSettings.notebook("a.ipynb").outputDir("out").outputDir());
        assertFalse(nb.usesBuildSession(build));
        assertEquals("jenkins-job-4", StepSettings.notebook("a.ipynb").session("jenkins-job-4").sessionName(build));
    }

    @Test
    public void the_kernel_gets_the_build_variables_and_the_steps_env_but_no_secret_looking_one() {
        Map<String, String> env = new java.util.TreeMap<>(Map.of("BUILD_NUMBER", "4", "BUILD_URL", "http://j/job/a/4/",
                "JOB_NAME", "a", "GIT_COMMIT", "abc", "GIT_TOKEN", "s3cret", "WORKSPACE", "/ws", "NODE_NAME", "agent-1",
                "JENKINS_URL", "http://j/", "PATH", "/usr/bin", "HOME", "/home/jenkins"));
        RunRequest r = StepSettings.cell("1").env(Map.of("SEED", "7", "BUILD_NUMBER", "step-wins"))
                .request(null, new BuildContext(env, 0, "1"), null, "/ws/sub");
        Map<String, String> expected = new java.util.TreeMap<>(Map.of("BUILD_NUMBER", "step-wins", "BUILD_URL", "http://j/job/a/4/",
                "JOB_NAME", "a", "GIT_COMMIT", "abc", "WORKSPACE", "/ws", "NODE_NAME", "agent-1", "JENKINS_URL", "http://j/",
                "SEED", "7"));
        assertEquals(expected, new java.util.TreeMap<>((Map<?, ?>) r.get("env")));
        assertEquals("/ws/sub", r.get("cwd"));
        assertEquals(Map.of("A", "1", "B", "two words"), Parameters.envLines("A=1\n# note\nB = two words\n"));
        try {
            Parameters.envLines("not a name=1");
            fail("accepted");
        } catch (IllegalArgumentException e) {
            assertEquals("env line 'not a name=1': not a name is not a variable name", e.getMessage());
        }
    }
}
