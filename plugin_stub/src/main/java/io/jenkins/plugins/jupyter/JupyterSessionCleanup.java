package io.jenkins.plugins.jupyter;

import hudson.Extension;
import hudson.model.Computer;
import hudson.model.InvisibleAction;
import hudson.model.Run;
import hudson.model.TaskListener;
import hudson.model.listeners.RunListener;
import hudson.remoting.Future;
import hudson.remoting.VirtualChannel;
import java.io.IOException;
import java.util.Objects;
import jenkins.model.Jenkins;

/**
 * Remembers that a build's steps ran in its own session (BUILD_TAG) on an agent, and closes
 * that session when the build ends, from that agent (where its service is), without waiting:
 * the build's end never blocks on HTTP. If the agent is gone, the service's idle timeout
 * ends the session. A session the user named is left alone.
 */
public final class JupyterSessionCleanup extends InvisibleAction {
    private final String node;
    private final String serviceUrl;
    private final String credentialsId;
    private final String session;
    private final String dataDir;

    private JupyterSessionCleanup(String node, String serviceUrl, String credentialsId, String session, String dataDir) {
        this.node = node;
        this.serviceUrl = serviceUrl;
        this.credentialsId = credentialsId;
        this.session = session;
        this.dataDir = dataDir;
    }

    static synchronized void remember(Run<?, ?> build, String node, String serviceUrl, String credentialsId, String session,
            String dataDir) {
        JupyterSessionCleanup cleanup = new JupyterSessionCleanup(node, serviceUrl, credentialsId, session, dataDir);
        if (build.getActions(JupyterSessionCleanup.class).stream().noneMatch(cleanup::same)) {
            build.addAction(cleanup);
        }
    }

    private boolean same(JupyterSessionCleanup o) {
        return Objects.equals(node, o.node) && Objects.equals(serviceUrl, o.serviceUrl)
                && Objects.equals(credentialsId, o.credentialsId) && session.equals(o.session);
    }

    /** Start closing the session on the agent behind {@code channel}; returns at once. */
    static Future<Boolean> closeInBackground(VirtualChannel channel, JupyterAgentCall.CloseSession close) throws IOException {
        return channel.callAsync(close);
    }

    @Extension
    public static final class OnCompleted extends RunListener<Run<?, ?>> {
        @Override
        public void onCompleted(Run<?, ?> build, TaskListener listener) {
            for (JupyterSessionCleanup s : build.getActions(JupyterSessionCleanup.class)) {
                try {
                    Jenkins jenkins = Jenkins.get();
                    Computer computer = s.node == null || s.node.equals("built-in") ? jenkins.toComputer() : jenkins.getComputer(s.node);
                    VirtualChannel channel = computer == null ? null : computer.getChannel();
                    if (channel == null) {
                        listener.getLogger().println("[jupyter] agent " + s.node + " is offline: its service ends session "
                                + s.session + " when it has been idle for its session_idle_timeout");
                        continue;
                    }
                    String url = Strings.firstNonBlank(s.serviceUrl, JupyterGlobalConfiguration.get().getServiceUrl());
                    String token = JupyterGlobalConfiguration.get().token(build, url, s.credentialsId);
                    closeInBackground(channel, new JupyterAgentCall.CloseSession(url, token, s.session, s.dataDir));
                    listener.getLogger().println("[jupyter] closing the build's session " + s.session + " on " + s.node);
                } catch (IOException | RuntimeException e) { // the build is over: say it, do not fail it
                    listener.getLogger().println("[jupyter] could not close session " + s.session + ": " + e.getMessage());
                }
            }
        }
    }
}
