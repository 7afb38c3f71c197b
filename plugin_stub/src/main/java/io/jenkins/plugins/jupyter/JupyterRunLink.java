package io.jenkins.plugins.jupyter;

import hudson.model.Action;

/**
 * "Jupyter run" on the build's page: a link to the run on the service's dashboard (its
 * {@code dashboard_url}, else {@code <service>/ui/runs/<id>}). One per step that ran.
 */
public final class JupyterRunLink implements Action {
    private final String url;
    private final String what;

    JupyterRunLink(String url, String what) {
        this.url = url;
        this.what = what;
    }

    @Override
    public String getIconFileName() {
        return "/plugin/jupyter-kernel/jupyter.svg";
    }

    @Override
    public String getDisplayName() {
        return "Jupyter run: " + what;
    }

    /** An absolute URL: Jenkins links to it as it is. */
    @Override
    public String getUrlName() {
        return url;
    }
}
