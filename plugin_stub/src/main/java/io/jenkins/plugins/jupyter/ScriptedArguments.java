package io.jenkins.plugins.jupyter;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.jenkinsci.plugins.structs.describable.CustomDescribableModel;

/**
 * The scripted Pipeline forms that a Snippet Generator cannot describe, turned into the ones
 * it can before the step is bound: {@code parameters: [epochs: 300]} (a map) becomes a list
 * of {@link NotebookParameter}s, and {@code env: [A: '1']} or {@code env: ['A=1']} (like
 * withEnv) becomes NAME=VALUE lines. Values become text: String, number and boolean only.
 */
public abstract class ScriptedArguments<T> implements CustomDescribableModel<T> {
    @Override
    public T instantiate(Map<String, Object> arguments, StandardInstantiator standard) throws Exception {
        return standard.instantiate(getType(), bind(arguments));
    }

    /** The arguments with {@code parameters} and {@code env} in their describable forms. */
    static Map<String, Object> bind(Map<String, Object> arguments) {
        Map<String, Object> out = new LinkedHashMap<>(arguments);
        if (out.get("parameters") instanceof Map<?, ?> map) {
            List<NotebookParameter> list = new ArrayList<>();
            map.forEach((name, value) -> list.add(new NotebookParameter(String.valueOf(name), text("parameter " + name, value))));
            out.put("parameters", list);
        }
        Object env = out.get("env");
        if (env instanceof Map<?, ?> map) {
            out.put("env", map.entrySet().stream().map(e -> e.getKey() + "=" + text("env " + e.getKey(), e.getValue()))
                    .collect(Collectors.joining("\n")));
        } else if (env instanceof List<?> list) {
            out.put("env", list.stream().map(String::valueOf).collect(Collectors.joining("\n")));
        }
        return out;
    }

    /** A scalar as text (a GString too); a list or map is refused: parameters are scalars. */
    private static String text(String what, Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof CharSequence || value instanceof Number || value instanceof Boolean) {
            return value.toString();
        }
        throw new IllegalArgumentException(what + ": give a string, a number or a boolean, not "
                + value.getClass().getSimpleName());
    }

    public static final class ForNotebook extends ScriptedArguments<JupyterNotebookStep> {
        @Override
        public Class<JupyterNotebookStep> getType() {
            return JupyterNotebookStep.class;
        }
    }

    public static final class ForCell extends ScriptedArguments<JupyterCellStep> {
        @Override
        public Class<JupyterCellStep> getType() {
            return JupyterCellStep.class;
        }
    }
}
