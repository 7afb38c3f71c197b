// Test-only stub of org.jenkinsci.plugins.workflow.actions.WarningAction: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package org.jenkinsci.plugins.workflow.actions;

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

/** Test-only: keeps its result and message. */
public class WarningAction extends InvisibleAction {
    private final Result result;
    private String message;
    public WarningAction(Result result) { this.result = result; }
    public WarningAction withMessage(String message) { this.message = message; return this; }
    public Result getResult() { return result; }
    public String getMessage() { return message; }
}
