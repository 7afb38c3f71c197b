package io.jenkins.plugins.jupyter;

import hudson.Extension;
import hudson.model.InvisibleAction;
import hudson.model.Run;
import hudson.model.TaskListener;
import hudson.model.listeners.RunListener;
import io.jenkins.plugins.jupyter.client.ClientOptions;
import java.time.Duration;
import java.util.Objects;

/**
 * Remembers that a build's steps ran in its own session (BUILD_TAG), and shuts that kernel
 * down when the build ends: the service would cull it when idle, this frees it at once. A
 * session the user named is left alone.
 */
public final class JupyterSessionCleanup extends InvisibleAction {
    private final String serviceUrl;
    private final String credentialsId;
    private final String session;

    private JupyterSessionCleanup(String serviceUrl, String credentialsId, String session) {
        this.serviceUrl = serviceUrl;
        this.credentialsId = credentialsId;
        this.session = session;
    }

    static synchronized void remember(Run<?, ?> build, String serviceUrl, String credentialsId, String session) {
        JupyterSessionCleanup cleanup = new JupyterSessionCleanup(serviceUrl, credentialsId, session);
        if (build.getActions(JupyterSessionCleanup.class).stream().noneMatch(cleanup::same)) {
            build.addAction(cleanup);
        }
    }

    private boolean same(JupyterSessionCleanup o) {
        return Objects.equals(serviceUrl, o.serviceUrl) && Objects.equals(credentialsId, o.credentialsId)
                && session.equals(o.session);
    }

    @Extension
    public static final class OnCompleted extends RunListener<Run<?, ?>> {
        @Override
        public void onCompleted(Run<?, ?> build, TaskListener listener) {
            ClientOptions quick = ClientOptions.defaults().withGiveUpAfter(Duration.ofSeconds(10));
            for (JupyterSessionCleanup s : build.getActions(JupyterSessionCleanup.class)) {
                try {
                    if (JupyterGlobalConfiguration.get().connect(build, s.serviceUrl, s.credentialsId, quick)
                            .deleteSessionNamed(s.session)) {
                        listener.getLogger().println("[jupyter] shut down the build's session " + s.session);
                    }
                } catch (Exception e) { // the build is over: say it, do not fail it
                    listener.getLogger().println("[jupyter] could not shut down session " + s.session + ": " + e.getMessage());
                }
            }
        }
    }
}
