// Test-only stub of org.jenkinsci.plugins.workflow.steps.SynchronousNonBlockingStepExecution: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
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

public abstract class SynchronousNonBlockingStepExecution<T> extends StepExecution {
    private static final long serialVersionUID = 1L;
    protected SynchronousNonBlockingStepExecution(StepContext context) { super(context); }
    protected abstract T run() throws Exception;
    @Override public final boolean start() throws Exception { throw new UnsupportedOperationException("stub"); }
}
