// Test-only stub of hudson.remoting.VirtualChannel: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
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

public interface VirtualChannel {
    <V, T extends Throwable> V call(Callable<V, T> callable) throws IOException, T, InterruptedException;
    <V, T extends Throwable> Future<V> callAsync(Callable<V, T> callable) throws IOException;
    <T> T export(Class<T> type, T instance);
}
