// Test-only stub of org.jenkinsci.plugins.structs.describable.CustomDescribableModel: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package org.jenkinsci.plugins.structs.describable;

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

public interface CustomDescribableModel<T> {
    Class<T> getType();
    default T instantiate(Map<String, Object> arguments, StandardInstantiator standard) throws Exception {
        return standard.instantiate(getType(), arguments);
    }
    @Retention(RetentionPolicy.RUNTIME) @Target(ElementType.TYPE) @interface CustomDescription {
        Class<? extends CustomDescribableModel<?>> value();
    }
    interface StandardInstantiator { <T> T instantiate(Class<T> type, Map<String, Object> arguments) throws Exception; }
}
