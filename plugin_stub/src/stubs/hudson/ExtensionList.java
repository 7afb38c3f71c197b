// Test-only stub of hudson.ExtensionList: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
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

public class ExtensionList<T> { public static <U> U lookupSingleton(Class<U> type) { throw new UnsupportedOperationException("stub"); } }
