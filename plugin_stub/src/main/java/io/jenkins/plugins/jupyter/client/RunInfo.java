package io.jenkins.plugins.jupyter.client;

import java.util.Map;

/**
 * A run as the service shows it ({@code GET /api/v1/runs/{id}}), the fields this client reads.
 * {@code dashboardUrl} is the service's {@code dashboard_url} when it sends one (a service
 * that knows its public address), else null.
 */
public record RunInfo(
        String id, String status, Integer exitCode, String message, String kernel, String sessionId, String sessionName,
        String dashboardUrl) {

    static RunInfo from(Map<String, Object> json) {
        Object exit = json.get("exit_code");
        return new RunInfo(
                (String) json.get("id"),
                (String) json.get("status"),
                exit == null ? null : ((Number) exit).intValue(),
                (String) json.get("message"),
                (String) json.get("kernel"),
                (String) json.get("session_id"),
                (String) json.get("session_name"),
                json.get("dashboard_url") instanceof String s && !s.isBlank() ? s : null);
    }

    public boolean finished() {
        return exitCode != null;
    }

    /** Where a person sees this run: the service's dashboard_url, else {@code <service>/ui/runs/<id>}. */
    public String dashboard(String serviceUrl) {
        return dashboardUrl != null ? dashboardUrl : serviceUrl.replaceAll("/+$", "") + "/ui/runs/" + id;
    }
}
