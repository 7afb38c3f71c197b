// Test-only stub of hudson.util.FormValidation: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package hudson.util;

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

/** Test-only: keeps its kind and message. */
public abstract class FormValidation extends IOException {
    private static final long serialVersionUID = 1L;
    public final String kind;
    private FormValidation(String kind, String message) { super(message); this.kind = kind; }
    private static FormValidation of(String kind, String message) { return new FormValidation(kind, message) { private static final long serialVersionUID = 1L; }; }
    public static FormValidation ok() { return of("OK", null); }
    public static FormValidation ok(String message) { return of("OK", message); }
    public static FormValidation error(String message) { return of("ERROR", message); }
    public static FormValidation warning(String message) { return of("WARNING", message); }
}
