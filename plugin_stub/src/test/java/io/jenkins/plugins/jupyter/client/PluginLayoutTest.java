package io.jenkins.plugins.jupyter.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.Timeout;

/**
 * The Jenkins glue cannot be compiled here (no Jenkins jars), so its layout is checked from
 * the sources: every field of a step, builder or the global configuration has a help file
 * and a form entry, every view is well-formed, and the glue calls HTTP only via the client.
 */
public class PluginLayoutTest {
    static final Path GLUE = Path.of("src/main/java/io/jenkins/plugins/jupyter");
    static final Path VIEWS = Path.of("src/main/resources/io/jenkins/plugins/jupyter");
    static final String[] CONFIGURABLE = {
        "JupyterNotebookStep", "JupyterCellStep", "JupyterNotebookBuilder", "JupyterGlobalConfiguration", "NotebookParameter"
    };

    @Rule
    public Timeout timeout = Timeout.seconds(10);

    /** The fields a user sets: the @DataBoundConstructor's parameters and the @DataBoundSetter setters. */
    static List<String> fields(String cls) throws Exception {
        String src = Files.readString(GLUE.resolve(cls + ".java"));
        List<String> out = new ArrayList<>();
        Matcher ctor = Pattern.compile("@DataBoundConstructor\\s+public \\w+\\(([^)]*)\\)").matcher(src);
        while (ctor.find()) {
            for (String param : ctor.group(1).split(",")) {
                out.add(param.strip().replaceAll(".* ", ""));
            }
        }
        Matcher setter = Pattern.compile("@DataBoundSetter\\s+public void set(\\w)(\\w*)\\(").matcher(src);
        while (setter.find()) {
            out.add(setter.group(1).toLowerCase() + setter.group(2));
        }
        return out;
    }

    @Test
    public void every_field_has_a_help_file_and_a_form_entry() throws Exception {
        for (String cls : CONFIGURABLE) {
            List<String> fields = fields(cls);
            assertTrue(cls + " has fields", fields.size() >= 2);
            String jelly = Files.readString(VIEWS.resolve(cls + "/config.jelly"));
            for (String field : fields) {
                assertTrue(cls + "/help-" + field + ".html", Files.isRegularFile(VIEWS.resolve(cls + "/help-" + field + ".html")));
                assertTrue(cls + "/config.jelly has " + field, jelly.contains("field=\"" + field + "\""));
            }
        }
    }

    @Test
    public void the_freestyle_step_has_the_fields_of_jupyter_notebook() throws Exception {
        assertEquals(new TreeSet<>(fields("JupyterNotebookStep")), new TreeSet<>(fields("JupyterNotebookBuilder")));
    }

    @Test
    public void every_view_and_the_pom_are_well_formed_xml() throws Exception {
        List<Path> files = new ArrayList<>(List.of(Path.of("pom.xml"), Path.of("src/main/resources/index.jelly")));
        try (var walk = Files.walk(VIEWS)) {
            walk.filter(Files::isRegularFile).forEach(files::add);
        }
        for (Path f : files) {
            String text = Files.readString(f).replace("<?jelly escape-by-default='true'?>", "");
            DocumentBuilderFactory.newInstance().newDocumentBuilder()
                    .parse(new java.io.ByteArrayInputStream(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        }
        assertTrue(Files.readString(Path.of("pom.xml")).contains("<packaging>hpi</packaging>"));
    }

    @Test
    public void the_global_configuration_has_a_test_connection_button_that_posts() throws Exception {
        String jelly = Files.readString(VIEWS.resolve("JupyterGlobalConfiguration/config.jelly"));
        assertTrue(jelly.contains("method=\"testConnection\" with=\"serviceUrl,credentialsId\""));
        String src = Files.readString(GLUE.resolve("JupyterGlobalConfiguration.java"));
        assertTrue(src.matches("(?s).*@POST\\s+public FormValidation doTestConnection\\(.*"));
        assertTrue(src.contains("Jenkins.get().checkPermission(Jenkins.ADMINISTER);"));
    }

    /** Each dependency of the pom is used by the code, and the pom has what a hosted plugin needs. */
    @Test
    public void the_pom_has_hosting_metadata_and_no_unused_dependency() throws Exception {
        String pom = Files.readString(Path.of("pom.xml"));
        for (String tag : new String[] {"<url>", "<licenses>", "<scm>", "<artifactId>bom-${jenkins.baseline}.x</artifactId>"}) {
            assertTrue("pom.xml has " + tag, pom.contains(tag));
        }
        assertTrue("the stubs are never packaged", !pom.contains("<sourceDirectory>") && !pom.contains("build-helper"));
        java.util.Map<String, String> packageOf = java.util.Map.of(
                "workflow-step-api", "org.jenkinsci.plugins.workflow.steps.",
                "workflow-api", "org.jenkinsci.plugins.workflow.",
                "structs", "org.jenkinsci.plugins.structs.",
                "credentials", "com.cloudbees.plugins.credentials.",
                "plain-credentials", "org.jenkinsci.plugins.plaincredentials.");
        StringBuilder glue = new StringBuilder();
        try (var walk = Files.list(GLUE)) {
            for (Path f : (Iterable<Path>) walk.filter(p -> p.toString().endsWith(".java"))::iterator) {
                glue.append(Files.readString(f));
            }
        }
        String direct = pom.substring(pom.indexOf("</dependencyManagement>"));
        String deps = direct.substring(direct.indexOf("<dependencies>"), direct.indexOf("</dependencies>"));
        Matcher artifact = Pattern.compile("<artifactId>([^<]+)</artifactId>").matcher(deps);
        int count = 0;
        while (artifact.find()) {
            String prefix = packageOf.get(artifact.group(1));
            assertTrue("a dependency the check does not know: " + artifact.group(1), prefix != null);
            assertTrue(artifact.group(1) + " is used", glue.toString().contains("import " + prefix));
            count++;
        }
        assertEquals(packageOf.size(), count);
    }

    @Test
    public void the_glue_does_no_http_of_its_own() throws Exception {
        try (var walk = Files.list(GLUE)) {
            for (Path f : (Iterable<Path>) walk.filter(p -> p.toString().endsWith(".java"))::iterator) {
                String src = Files.readString(f);
                assertTrue(f + " uses java.net.http", !src.contains("java.net.http") && !src.contains("HttpURLConnection"));
                assertTrue(f + " is small enough to read at a glance", src.lines().count() < 160);
            }
        }
    }
}
