package io.jenkins.plugins.jupyter;

import com.cloudbees.plugins.credentials.CredentialsProvider;
import com.cloudbees.plugins.credentials.common.StandardListBoxModel;
import hudson.AbortException;
import hudson.Extension;
import hudson.ExtensionList;
import hudson.model.Item;
import hudson.model.Run;
import hudson.security.ACL;
import hudson.util.FormValidation;
import hudson.util.ListBoxModel;
import io.jenkins.plugins.jupyter.client.ClientOptions;
import io.jenkins.plugins.jupyter.client.ServiceClient;
import java.net.URI;
import java.util.Collections;
import jenkins.model.GlobalConfiguration;
import jenkins.model.Jenkins;
import org.jenkinsci.Symbol;
import org.jenkinsci.plugins.plaincredentials.StringCredentials;
import org.kohsuke.stapler.AncestorInPath;
import org.kohsuke.stapler.DataBoundSetter;
import org.kohsuke.stapler.QueryParameter;
import org.kohsuke.stapler.verb.POST;

/**
 * Manage Jenkins > System > Jupyter kernels: where the jenkins-kernel service is, the Secret text
 * credential that holds its token, and the default kernel of jupyterCell. Every step may
 * override the URL and the credential.
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

    public String getServiceUrl() {
        return serviceUrl;
    }

    @DataBoundSetter
    public void setServiceUrl(String serviceUrl) {
        this.serviceUrl = Strings.blankToNull(serviceUrl);
        save();
    }

    public String getCredentialsId() {
        return credentialsId;
    }

    @DataBoundSetter
    public void setCredentialsId(String credentialsId) {
        this.credentialsId = Strings.blankToNull(credentialsId);
        save();
    }

    public String getDefaultKernel() {
        return defaultKernel;
    }

    @DataBoundSetter
    public void setDefaultKernel(String defaultKernel) {
        this.defaultKernel = Strings.blankToNull(defaultKernel);
        save();
    }

    /**
     * A client for one step of {@code build}: the step's URL and credential if it gives
     * them, else these. User errors are one-line AbortExceptions saying what to set where.
     */
    ServiceClient connect(Run<?, ?> build, String urlOverride, String credentialsIdOverride, ClientOptions options)
            throws AbortException {
        String url = Strings.firstNonBlank(urlOverride, serviceUrl);
        if (url == null) {
            throw new AbortException("no jupyter service URL: set it in Manage Jenkins > System > Jupyter kernels, "
                    + "or give the step serviceUrl: 'http://HOST:8765'");
        }
        String id = Strings.firstNonBlank(credentialsIdOverride, credentialsId);
        if (id == null) {
            throw new AbortException("no credential for the jupyter service at " + url + ": create a Secret text "
                    + "credential holding its token and select it in Manage Jenkins > System > Jupyter kernels "
                    + "(or give the step credentialsId)");
        }
        StringCredentials token = CredentialsProvider.findCredentialById(id, StringCredentials.class, build,
                Collections.emptyList());
        if (token == null) {
            throw new AbortException("the credential '" + id + "' for the jupyter service at " + url
                    + " is not a Secret text credential this build can use: check its id and kind (Secret text)");
        }
        CredentialsProvider.track(build, token);
        try {
            return new ServiceClient(url, token.getSecret().getPlainText(), options);
        } catch (IllegalArgumentException e) {
            throw new AbortException("the jupyter service URL '" + url + "' is not a valid URL: " + e.getMessage());
        }
    }

    public FormValidation doCheckServiceUrl(@QueryParameter String value) {
        if (value == null || value.isBlank()) {
            return FormValidation.warning("Steps need a service URL, here or in their serviceUrl");
        }
        try {
            URI uri = URI.create(value.strip());
            if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
                return FormValidation.error("An http:// or https:// URL, e.g. http://jupyter.example.com:8765");
            }
        } catch (IllegalArgumentException e) {
            return FormValidation.error("Not a URL: " + e.getMessage());
        }
        return FormValidation.ok();
    }

    @POST
    public ListBoxModel doFillCredentialsIdItems(@AncestorInPath Item item, @QueryParameter String credentialsId) {
        return credentialsItems(item, credentialsId);
    }

    /** The Secret text credentials a user may pick here or in a step (the steps' descriptors call this). */
    static ListBoxModel credentialsItems(Item item, String credentialsId) {
        StandardListBoxModel result = new StandardListBoxModel();
        boolean allowed = item == null
                ? Jenkins.get().hasPermission(Jenkins.ADMINISTER)
                : item.hasPermission(Item.EXTENDED_READ) || item.hasPermission(CredentialsProvider.USE_ITEM);
        if (!allowed) {
            return result.includeCurrentValue(credentialsId);
        }
        return result.includeEmptyValue()
                .includeAs(ACL.SYSTEM2, item, StringCredentials.class, Collections.emptyList())
                .includeCurrentValue(credentialsId);
    }
}
