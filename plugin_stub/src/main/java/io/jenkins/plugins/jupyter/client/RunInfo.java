package io.jenkins.plugins.jupyter.client;

import java.util.Map;

/** A run as the service shows it ({@code GET /api/v1/runs/{id}}), the fields this client reads. */
public record RunInfo(
        String id, String status, Integer exitCode, String message, String kernel, String sessionId, String sessionName) {

    static RunInfo from(Map<String, Object> json) {
        Object exit = json.get("exit_code");
        return new RunInfo(
                (String) json.get("id"),
                (String) json.get("status"),
                exit == null ? null : ((Number) exit).intValue(),
                (String) json.get("message"),
                (String) json.get("kernel"),
                (String) json.get("session_id"),
                (String) json.get("session_name"));
    }

    public boolean finished() {
        return exitCode != null;
    }
}
