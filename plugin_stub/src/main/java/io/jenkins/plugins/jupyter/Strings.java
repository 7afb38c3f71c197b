package io.jenkins.plugins.jupyter;

/** Two string helpers of the glue. */
final class Strings {
    private Strings() {}

    static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }

    static String firstNonBlank(String a, String b) {
        return blankToNull(a) != null ? blankToNull(a) : blankToNull(b);
    }
}
