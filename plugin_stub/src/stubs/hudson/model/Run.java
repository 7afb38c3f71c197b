// Test-only stub of hudson.model.Run: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package hudson.model;

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

/** Test-only: keeps its result and actions. */
public abstract class Run<JobT extends Job<JobT, RunT>, RunT extends Run<JobT, RunT>> extends Actionable {
    private Result result;
    public JobT getParent() { throw new UnsupportedOperationException("stub"); }
    public final long getStartTimeInMillis() { return 0L; }
    public Result getResult() { return result; }
    public void setResult(Result r) { result = r; }
    public EnvVars getEnvironment(TaskListener listener) throws IOException, InterruptedException { throw new UnsupportedOperationException("stub"); }
}
