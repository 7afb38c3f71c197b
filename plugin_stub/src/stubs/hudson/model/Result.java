// Test-only stub of hudson.model.Result: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
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

public final class Result implements Serializable {
    private static final long serialVersionUID = 1L;
    public static final Result SUCCESS = new Result("SUCCESS"), UNSTABLE = new Result("UNSTABLE"), FAILURE = new Result("FAILURE"),
            NOT_BUILT = new Result("NOT_BUILT"), ABORTED = new Result("ABORTED");
    private final String name;
    private Result(String name) { this.name = name; }
    @Override public String toString() { return name; }
}
