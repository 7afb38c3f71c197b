package io.jenkins.plugins.jupyter;

import hudson.Extension;
import hudson.model.AbstractDescribableImpl;
import hudson.model.Descriptor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jenkinsci.Symbol;
import org.kohsuke.stapler.DataBoundConstructor;

/**
 * One notebook parameter, {@code notebookParameter(name: 'epochs', value: '300')}: its value
 * is text, typed on the agent the way {@code jenkins-kernel run -p} types it (300 a number,
 * true a boolean), so a build parameter (always a string) needs no conversion in Groovy.
 */
public final class NotebookParameter extends AbstractDescribableImpl<NotebookParameter> {
    private final String name;
    private final String value;

    @DataBoundConstructor
    public NotebookParameter(String name, String value) {
        this.name = Strings.blankToNull(name);
        this.value = value == null ? "" : value;
    }

    public String getName() { return name; }
    public String getValue() { return value; }

    /** The parameters by name, in order; a blank or repeated name is an error. */
    static Map<String, String> toMap(List<NotebookParameter> parameters) {
        Map<String, String> out = new LinkedHashMap<>();
        for (NotebookParameter p : parameters) {
            if (p.name == null) {
                throw new IllegalArgumentException("a notebook parameter has no name (value '" + p.value + "')");
            }
            if (out.put(p.name, p.value) != null) {
                throw new IllegalArgumentException("the notebook parameter " + p.name + " is given twice");
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return name + "=" + value;
    }

    @Extension
    @Symbol("notebookParameter")
    public static final class DescriptorImpl extends Descriptor<NotebookParameter> {
        @Override
        public String getDisplayName() {
            return "Notebook parameter";
        }
    }
}
