package io.jenkins.plugins.jupyter.client;

import java.util.Map;

/** One file a run produced: {@code executed.ipynb}, {@code junit.xml}, {@code images/cell03_17.png}, ... */
public record Artifact(String name, long size, String sha256) {

    static Artifact from(Map<String, Object> json) {
        return new Artifact((String) json.get("name"), ((Number) json.get("size")).longValue(), (String) json.get("sha256"));
    }
}
