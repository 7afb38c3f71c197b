// Test-only stub of hudson.remoting.Callable: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package hudson.remoting;

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

public interface Callable<V, T extends Throwable> extends Serializable, RoleSensitive { V call() throws T; }
