package io.jenkins.plugins.jupyter.client;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything a step does on the agent that runs it, with what the controller sends over the
 * channel: the step's settings, the service URL (null: this machine's own service), the
 * credential's secret (null: the machine's token file), a few build variables, and the
 * step's identity. Only strings, numbers and plain maps: it is serialized into the agent.
 *
 * <p>Aborting: the controller's stop() interrupts its thread blocked in the remoting call,
 * remoting sends Cancel, the agent interrupts the thread running {@link #run}, and
 * {@link JupyterRun#execute} answers the interrupt by POSTing the run's cancel.
 */
public final class AgentStep implements Serializable {
    private static final long serialVersionUID = 1L;

    private final StepSettings settings;
    private final String serviceUrl;
    private final String token;
    private final LinkedHashMap<String, String> buildVariables; // a JDK class remoting lets through
    private final long buildStart;
    private final String stepId;
    private final String defaultKernel;

    /**
     * @param buildEnv the build's environment: only the variables a kernel gets (see
     *     {@link BuildContext#kernelVariables}) and JENKINS_KERNEL_DATA_DIR are kept
     */
    public AgentStep(StepSettings settings, String serviceUrl, String token, Map<String, String> buildEnv,
            long buildStart, String stepId, String defaultKernel) {
        this.settings = settings;
        this.serviceUrl = serviceUrl;
        this.token = token;
        this.buildVariables = new LinkedHashMap<>(new BuildContext(buildEnv, buildStart, stepId).kernelVariables());
        String dataDir = buildEnv.get("JENKINS_KERNEL_DATA_DIR");
        if (dataDir != null) {
            buildVariables.put("JENKINS_KERNEL_DATA_DIR", dataDir);
        }
        this.buildStart = buildStart;
        this.stepId = stepId;
        this.defaultKernel = defaultKernel;
    }

    /** The build's session (BUILD_TAG) when this step uses it, else null: what the build's end closes. */
    public String buildSession() {
        BuildContext context = context();
        return settings.usesBuildSession(context) ? settings.sessionName(context) : null;
    }

    /**
     * Run the step against {@code workspace}: the notebook is read there, runs in its own
     * folder (when the service is on this machine), and its reports are written there.
     *
     * @throws ServiceException a one-line error for the build log (no service, refused, ...)
     * @throws InterruptedException when aborted; the run has then been cancelled on the service
     */
    public StepOutcome run(Path workspace, PrintStream log) throws IOException, InterruptedException {
        Map<String, String> agentEnv = new HashMap<>(System.getenv());
        agentEnv.putAll(buildVariables); // the build's JENKINS_KERNEL_DATA_DIR wins
        LocalService.Endpoint endpoint = LocalService.resolve(serviceUrl, token, agentEnv);
        if (!"configured".equals(endpoint.foundBy())) {
            log.println("[jupyter] using this agent's service " + endpoint.url() + " (found by " + endpoint.foundBy() + ")");
        }
        ServiceClient client = new ServiceClient(endpoint.url(), endpoint.token(), ClientOptions.defaults());
        BuildContext context = context();
        String notebookText = null;
        Path folder = workspace;
        if (settings.isNotebook()) {
            Path file = workspace.resolve(settings.notebookPath()).normalize();
            if (!Files.isRegularFile(file)) {
                throw new ServiceException("no notebook at " + file + ": the path is relative to the workspace "
                        + "(check out the repository first, e.g. with checkout scm)", 0, "no_notebook", null);
            }
            notebookText = Files.readString(file, StandardCharsets.UTF_8);
            folder = file.getParent();
        }
        RunRequest request;
        try {
            // in place only on this machine: a remote service has no such folder
            request = settings.request(notebookText, context, defaultKernel, isLoopback(endpoint.url()) ? folder.toString() : null);
        } catch (IllegalArgumentException e) {
            throw new ServiceException(e.getMessage(), 0, "bad_notebook", e);
        }
        Path outputDir = settings.isNotebook() ? workspace.resolve(settings.outputDir()) : null;
        ServiceClient.ArtifactSink sink = outputDir == null ? null : name -> open(outputDir.resolve(name));
        JupyterRun run = new JupyterRun(client, log);
        JupyterRun.Outcome outcome = run.execute(request, context.idempotencyKey(), sink, settings.unstableOnCellError());
        log.println("[jupyter] " + outcome.summary());
        return new StepOutcome(outcome.result(), outcome.summary(), outcome.run().id(),
                outcome.run().dashboard(endpoint.url()), request.description(), new ArrayList<>(outcome.artifacts()));
    }

    /**
     * Close a build's session on the service the build's steps used (found as {@link #run}
     * finds it); false when it was already gone. Quick: the service answers a DELETE at once,
     * and an unreachable one is given up after 10 s.
     */
    public static boolean closeSession(String serviceUrl, String token, String session, String dataDir)
            throws IOException, InterruptedException {
        Map<String, String> agentEnv = new HashMap<>(System.getenv());
        if (dataDir != null) {
            agentEnv.put("JENKINS_KERNEL_DATA_DIR", dataDir);
        }
        LocalService.Endpoint endpoint = LocalService.resolve(serviceUrl, token, agentEnv);
        ClientOptions quick = ClientOptions.defaults().withGiveUpAfter(java.time.Duration.ofSeconds(10));
        return new ServiceClient(endpoint.url(), endpoint.token(), quick).deleteSessionNamed(session);
    }

    private BuildContext context() {
        return new BuildContext(buildVariables, buildStart, stepId);
    }

    /** True for a service on this machine: 127.0.0.0/8, ::1 or localhost. */
    static boolean isLoopback(String url) {
        String host = URI.create(url).getHost();
        return host != null && (host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]") || host.equals("::1"));
    }

    private static OutputStream open(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        return Files.newOutputStream(file);
    }
}
