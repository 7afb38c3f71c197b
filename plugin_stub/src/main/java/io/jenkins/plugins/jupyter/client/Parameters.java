package io.jenkins.plugins.jupyter.client;

import java.math.BigInteger;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Notebook parameter values as the CLI's {@code -p NAME VALUE} types them, so a build
 * parameter (always a string in Jenkins) means the same in {@code jupyterNotebook} as in
 * {@code jenkins-kernel run -p}: 3, 0.5, true, null are numbers, booleans and null; anything
 * else stays text. Values that are not strings (a Groovy number, a list) are sent as they are.
 */
public final class Parameters {
    private static final Pattern INT = Pattern.compile("[-+]?(0|[1-9][0-9_]*)");
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern FLOAT = Pattern.compile("[-+]?(\\.[0-9]+|[0-9][0-9_]*(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");

    private Parameters() {}

    public static Map<String, Object> typed(Map<String, ?> parameters) {
        Map<String, Object> out = new LinkedHashMap<>();
        parameters.forEach((name, value) -> out.put(name, value instanceof CharSequence s ? scalar(s.toString()) : value));
        return out;
    }

    /** One value typed like a YAML 1.2 core scalar (as the CLI does); text otherwise. */
    public static Object scalar(String text) {
        String t = text.strip();
        String low = t.toLowerCase(java.util.Locale.ROOT);
        if (low.equals("null") || low.equals("~")) {
            return null;
        }
        if (low.equals("true") || low.equals("false")) {
            return Boolean.valueOf(low);
        }
        if (INT.matcher(t).matches()) {
            BigInteger big = new BigInteger(t.replace("_", "").replace("+", ""));
            return big.bitLength() < 64 ? (Object) big.longValue() : big;
        }
        if (FLOAT.matcher(t).matches()) {
            return Double.valueOf(t.replace("_", ""));
        }
        return text;
    }

    /**
     * {@code name=value} lines (the freestyle step's text box) as a map of their text values,
     * typed later like every other value (so only strings cross to the agent); blank lines
     * and lines starting with # are skipped.
     */
    public static Map<String, String> lines(String lines) {
        Map<String, String> out = new LinkedHashMap<>();
        if (lines == null) {
            return out;
        }
        for (String line : lines.split("\\R")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            int eq = l.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("parameter line '" + l + "' is not NAME=VALUE");
            }
            out.put(l.substring(0, eq).strip(), l.substring(eq + 1).strip());
        }
        return out;
    }

    /** The step's {@code env}: NAME=VALUE lines, each NAME a shell variable name. */
    public static Map<String, String> envLines(String lines) {
        Map<String, String> out = new LinkedHashMap<>();
        lines(lines).forEach((name, value) -> {
            if (!ENV_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("env line '" + name + "=" + value + "': " + name + " is not a variable name");
            }
            out.put(name, value);
        });
        return out;
    }
}
