// Test-only stub of hudson.FilePath: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package hudson;

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

public final class FilePath implements Serializable {
    private static final long serialVersionUID = 1L;
    public interface FileCallable<T> extends Serializable, RoleSensitive {
        T invoke(File f, VirtualChannel channel) throws IOException, InterruptedException;
    }
    public String getRemote() { throw new UnsupportedOperationException("stub"); }
    public FilePath child(String relOrAbsolute) { throw new UnsupportedOperationException("stub"); }
    public <T> T act(FileCallable<T> callable) throws IOException, InterruptedException { throw new UnsupportedOperationException("stub"); }
    public VirtualChannel getChannel() { throw new UnsupportedOperationException("stub"); }
}
