// Test-only stub of org.jenkinsci.plugins.workflow.steps.FlowInterruptedException: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
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

public final class FlowInterruptedException extends InterruptedException {
    private static final long serialVersionUID = 1L;
    private final Result result;
    private final boolean actualInterruption;
    private final List<CauseOfInterruption> causes;
    @Deprecated public FlowInterruptedException(Result result, CauseOfInterruption... causes) { this(result, true, causes); }
    public FlowInterruptedException(Result result, boolean actualInterruption, CauseOfInterruption... causes) {
        this.result = result; this.actualInterruption = actualInterruption; this.causes = Arrays.asList(causes);
    }
    public Result getResult() { return result; }
    public List<CauseOfInterruption> getCauses() { return causes; }
    public boolean isActualInterruption() { return actualInterruption; }
}
