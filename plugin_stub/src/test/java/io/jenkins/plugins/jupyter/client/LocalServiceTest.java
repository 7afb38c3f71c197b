package io.jenkins.plugins.jupyter.client;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.junit.rules.Timeout;

/** How the agent finds the service when none is configured: its data dir, as --server auto does. */
public class LocalServiceTest {
    @Rule
    public Timeout timeout = Timeout.seconds(10);

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    static void discovery(Path dataDir, String url, long pid, Path tokenFile) throws Exception {
        Files.writeString(dataDir.resolve("service.json"),
                "{\"url\": \"" + url + "\", \"pid\": " + pid + ", \"token_file\": \"" + tokenFile + "\"}");
    }

    @Test
    public void a_configured_url_and_credential_are_used_as_they_are() throws Exception {
        LocalService.Endpoint e = LocalService.resolve("https://big-box:8765", "t", Map.of());
        assertEquals(new LocalService.Endpoint("https://big-box:8765", "t", "configured"), e);
    }

    @Test
    public void a_configured_url_without_a_credential_says_which_is_missing() {
        try {
            LocalService.resolve("https://big-box:8765", null, Map.of());
            fail("resolved");
        } catch (ServiceException e) {
            assertThat(e.getMessage(), containsString("no credential for the jupyter service at https://big-box:8765"));
        }
    }

    @Test
    public void without_a_url_the_discovery_file_of_a_live_service_gives_url_and_token() throws Exception {
        Path dataDir = tmp.newFolder("data").toPath();
        Path tokenFile = dataDir.resolve("token");
        Files.writeString(tokenFile, "from-the-file\n");
        discovery(dataDir, "http://127.0.0.1:9999", ProcessHandle.current().pid(), tokenFile);
        LocalService.Endpoint e = LocalService.resolve(null, null, Map.of("JENKINS_KERNEL_DATA_DIR", dataDir.toString()));
        assertEquals("http://127.0.0.1:9999", e.url());
        assertEquals("from-the-file", e.token());
        assertEquals("a configured credential wins over the file", "cred",
                LocalService.resolve(null, "cred", Map.of("JENKINS_KERNEL_DATA_DIR", dataDir.toString())).token());
    }

    @Test
    public void a_service_with_tokens_of_its_own_settings_needs_a_credential() throws Exception {
        Path dataDir = tmp.newFolder("configured").toPath();
        Files.writeString(dataDir.resolve("service.json"), "{\"url\": \"http://127.0.0.1:9998\", \"pid\": "
                + ProcessHandle.current().pid() + ", \"token_file\": null}");
        Map<String, String> env = Map.of("JENKINS_KERNEL_DATA_DIR", dataDir.toString());
        try {
            LocalService.resolve(null, null, env);
            fail("resolved");
        } catch (ServiceException e) {
            assertThat(e.getMessage(), containsString("uses tokens of its own settings: select a Secret text credential"));
        }
        assertEquals(new LocalService.Endpoint("http://127.0.0.1:9998", "cred", dataDir.resolve("service.json").toString()),
                LocalService.resolve(null, "cred", env));
    }

    @Test
    public void a_discovery_file_left_by_an_ended_service_is_ignored_for_the_default_url() throws Exception {
        Path dataDir = tmp.newFolder("jenkins-kernel").toPath();
        Files.writeString(dataDir.resolve("token"), "tok");
        Process ended = new ProcessBuilder("true").start();
        ended.waitFor();
        discovery(dataDir, "http://127.0.0.1:9999", ended.pid(), dataDir.resolve("token"));
        Map<String, String> env = Map.of("XDG_DATA_HOME", dataDir.getParent().toString()); // XDG rule, as serve has it
        LocalService.Endpoint e = LocalService.resolve(null, null, env);
        assertEquals(LocalService.DEFAULT_URL, e.url());
        assertEquals("tok", e.token());
    }

    @Test
    public void with_no_url_and_no_service_on_the_agent_the_error_says_to_run_serve_detach() throws Exception {
        Path empty = tmp.newFolder("empty").toPath();
        try {
            LocalService.resolve(null, null, Map.of("JENKINS_KERNEL_DATA_DIR", empty.toString()));
            fail("resolved");
        } catch (ServiceException e) {
            assertThat(e.getMessage(), containsString("no jupyter service on this agent"));
            assertThat(e.getMessage(), containsString("run `jenkins-kernel serve --detach` on the agent"));
            assertFalse(e.getMessage().contains("\n"));
            assertEquals("no_local_service", e.code());
        }
    }

    @Test
    public void only_a_service_on_this_machine_gets_the_notebooks_folder_as_cwd() {
        assertTrue(AgentStep.isLoopback("http://127.0.0.1:8765"));
        assertTrue(AgentStep.isLoopback("http://localhost:8765"));
        assertTrue(AgentStep.isLoopback("http://[::1]:8765"));
        assertFalse(AgentStep.isLoopback("https://big-box.example.com:8765"));
    }
}
