// Test-only stub of jenkins.model.Jenkins: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package jenkins.model;

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

public class Jenkins implements AccessControlled, ItemGroup<Item> {
    public static final Permission ADMINISTER = new Permission(), MANAGE = new Permission(), SYSTEM_READ = new Permission();
    public static Jenkins get() { throw new UnsupportedOperationException("stub"); }
    public Computer getComputer(String name) { throw new UnsupportedOperationException("stub"); }
    public Computer toComputer() { throw new UnsupportedOperationException("stub"); }
}
