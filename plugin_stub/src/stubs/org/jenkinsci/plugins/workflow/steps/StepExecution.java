// Test-only stub of org.jenkinsci.plugins.workflow.steps.StepExecution: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package org.jenkinsci.plugins.workflow.steps;

import com.cloudbees.plugins.credentials.*;
import com.cloudbees.plugins.credentials.common.*;
import com.cloudbees.plugins.credentials.domains.*;
import hudson.*;
import hudson.model.*;
import hudson.remoting.*;
import hudson.security.*;
import hudson.tasks.*;
import hudson.util.*;
import java.io.*;
import java.lang.annotation.*;
import java.util.*;
import java.util.concurrent.CopyOnWriteArrayList;
import jenkins.model.*;
import org.jenkinsci.remoting.*;
import org.springframework.security.core.Authentication;

public abstract class StepExecution implements Serializable {
    private static final long serialVersionUID = 1L;
    private final StepContext context;
    protected StepExecution(StepContext context) { this.context = context; }
    public StepContext getContext() { return context; }
    public abstract boolean start() throws Exception;
    public void stop(Throwable cause) throws Exception { getContext().onFailure(cause); }
}
