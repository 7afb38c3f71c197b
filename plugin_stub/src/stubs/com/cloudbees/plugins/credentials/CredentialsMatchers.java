// Test-only stub of com.cloudbees.plugins.credentials.CredentialsMatchers: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package com.cloudbees.plugins.credentials;

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

public class CredentialsMatchers {
    public static CredentialsMatcher always() { throw new UnsupportedOperationException("stub"); }
    public static CredentialsMatcher withId(String id) { throw new UnsupportedOperationException("stub"); }
    public static CredentialsMatcher withScope(CredentialsScope scope) { throw new UnsupportedOperationException("stub"); }
    public static CredentialsMatcher not(CredentialsMatcher matcher) { throw new UnsupportedOperationException("stub"); }
    public static <C extends Credentials> C firstOrNull(Iterable<C> credentials, CredentialsMatcher matcher) { throw new UnsupportedOperationException("stub"); }
}
