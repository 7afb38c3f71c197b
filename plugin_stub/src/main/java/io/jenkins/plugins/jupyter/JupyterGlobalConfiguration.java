package io.jenkins.plugins.jupyter;

import com.cloudbees.plugins.credentials.CredentialsMatchers;
import com.cloudbees.plugins.credentials.CredentialsProvider;
import com.cloudbees.plugins.credentials.CredentialsScope;
import com.cloudbees.plugins.credentials.common.StandardListBoxModel;
import com.cloudbees.plugins.credentials.domains.URIRequirementBuilder;
import hudson.AbortException;
import hudson.Extension;
import hudson.ExtensionList;
import hudson.model.Item;
import hudson.model.Queue;
import hudson.model.Run;
import hudson.model.queue.Tasks;
import hudson.security.ACL;
import hudson.util.FormValidation;
import hudson.util.ListBoxModel;
import io.jenkins.plugins.jupyter.client.ClientOptions;
import io.jenkins.plugins.jupyter.client.LocalService;
import io.jenkins.plugins.jupyter.client.ServiceClient;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import jenkins.model.GlobalConfiguration;
import jenkins.model.Jenkins;
import org.jenkinsci.Symbol;
import org.jenkinsci.plugins.plaincredentials.StringCredentials;
import org.kohsuke.stapler.AncestorInPath;
import org.kohsuke.stapler.DataBoundSetter;
import org.kohsuke.stapler.QueryParameter;
import org.kohsuke.stapler.verb.POST;

/**
 * Manage Jenkins > System > Jupyter kernels: the service URL (none: each agent's own
 * service), the Secret text credential that holds its token (none with no URL: the agent's
 * token file), and the default kernel of jupyterCell. Steps may override URL and credential.
 */
@Extension
@Symbol("jupyter")
public class JupyterGlobalConfiguration extends GlobalConfiguration {
    private String serviceUrl;
    private String credentialsId;
    private String defaultKernel;

    public JupyterGlobalConfiguration() {
        load();
    }

    public static JupyterGlobalConfiguration get() {
        return ExtensionList.lookupSingleton(JupyterGlobalConfiguration.class);
    }

    public String getServiceUrl() { return serviceUrl; }
    public String getCredentialsId() { return credentialsId; }
    public String getDefaultKernel() { return defaultKernel; }

    @DataBoundSetter public void setServiceUrl(String v) { serviceUrl = Strings.blankToNull(v); save(); }
    @DataBoundSetter public void setCredentialsId(String v) { credentialsId = Strings.blankToNull(v); save(); }
    @DataBoundSetter public void setDefaultKernel(String v) { defaultKernel = Strings.blankToNull(v); save(); }

    /**
     * The token for one step of {@code build}, resolved as the build (no HTTP): the step's
     * credential, else this one; null when neither is set and there is no URL (the agent's
     * own service and token file). User errors are one-line AbortExceptions.
     */
    String token(Run<?, ?> build, String url, String credentialsIdOverride) throws AbortException {
        String id = Strings.firstNonBlank(credentialsIdOverride, credentialsId);
        if (id == null) {
            return null; // with a URL, the agent says which credential is missing
        }
        StringCredentials token = CredentialsProvider.findCredentialById(id, StringCredentials.class, build,
                url == null ? List.of() : URIRequirementBuilder.fromUri(url).build());
        if (token == null) {
            throw new AbortException("the credential '" + id + "' for the jupyter service is not a Secret text "
                    + "credential this build can use: check its id, its kind (Secret text) and its scope (not System)");
        }
        CredentialsProvider.track(build, token);
        return token.getSecret().getPlainText();
    }

    public FormValidation doCheckServiceUrl(@QueryParameter String value) {
        if (value == null || value.isBlank()) {
            return FormValidation.ok("Empty: each agent uses its own service (" + LocalService.DEFAULT_URL + ")");
        }
        try {
            URI uri = URI.create(value.strip());
            return ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null
                    ? FormValidation.ok()
                    : FormValidation.error("An http:// or https:// URL, e.g. http://jupyter.example.com:8765");
        } catch (IllegalArgumentException e) {
            return FormValidation.error("Not a URL: " + e.getMessage());
        }
    }

    /** "Test connection": health and token, from the controller; the answer names the version. */
    @POST
    public FormValidation doTestConnection(@QueryParameter String serviceUrl, @QueryParameter String credentialsId) {
        Jenkins.get().checkPermission(Jenkins.ADMINISTER);
        String url = Strings.blankToNull(serviceUrl);
        if (url == null) {
            return FormValidation.warning("No URL: each agent uses its own service; check one on the agent with "
                    + "`jenkins-kernel service status`, or run a jupyterCell step there");
        }
        StringCredentials token = CredentialsMatchers.firstOrNull(CredentialsProvider.lookupCredentialsInItemGroup(
                StringCredentials.class, Jenkins.get(), ACL.SYSTEM2, URIRequirementBuilder.fromUri(url).build()),
                CredentialsMatchers.withId(Strings.blankToNull(credentialsId) == null ? "" : credentialsId.strip()));
        if (token == null) {
            return FormValidation.error("Select the Secret text credential that holds the service's token");
        }
        try {
            ClientOptions quick = ClientOptions.defaults().withGiveUpAfter(Duration.ofSeconds(5));
            return FormValidation.ok(new ServiceClient(url, token.getSecret().getPlainText(), quick).testConnection());
        } catch (IOException | IllegalArgumentException e) {
            return FormValidation.error(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return FormValidation.error("interrupted");
        }
    }

    @POST
    public ListBoxModel doFillCredentialsIdItems(@AncestorInPath Item item, @QueryParameter String credentialsId) {
        return credentialsItems(item, credentialsId);
    }

    /**
     * The Secret text credentials one may pick (the steps' descriptors call this too). For a
     * job: those its builds can use, listed as the job's authentication. On the global page:
     * those of Jenkins itself, without the System-scoped ones, which no build can use.
     */
    static ListBoxModel credentialsItems(Item item, String credentialsId) {
        StandardListBoxModel result = new StandardListBoxModel();
        if (item == null) {
            if (!Jenkins.get().hasPermission(Jenkins.ADMINISTER)) {
                return result.includeCurrentValue(credentialsId);
            }
            return result.includeEmptyValue()
                    .includeMatchingAs(ACL.SYSTEM2, Jenkins.get(), StringCredentials.class, List.of(),
                            CredentialsMatchers.not(CredentialsMatchers.withScope(CredentialsScope.SYSTEM)))
                    .includeCurrentValue(credentialsId);
        }
        if (!item.hasPermission(Item.EXTENDED_READ) && !item.hasPermission(CredentialsProvider.USE_ITEM)) {
            return result.includeCurrentValue(credentialsId);
        }
        return result.includeEmptyValue()
                .includeAs(item instanceof Queue.Task task ? Tasks.getAuthenticationOf2(task) : ACL.SYSTEM2, item,
                        StringCredentials.class, List.of())
                .includeCurrentValue(credentialsId);
    }
}
