// Test-only stub of com.cloudbees.plugins.credentials.CredentialsProvider: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
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

@SuppressWarnings("rawtypes") // raw in the real API too
public abstract class CredentialsProvider implements ExtensionPoint {
    public static final Permission USE_ITEM = new Permission(), USE_OWN = new Permission();
    public static <C extends IdCredentials> C findCredentialById(String id, Class<C> type, Run<?, ?> run, List<DomainRequirement> domainRequirements) { throw new UnsupportedOperationException("stub"); }
    public static <C extends Credentials> C track(Run run, C credentials) { throw new UnsupportedOperationException("stub"); }
    public static <C extends Credentials> List<C> lookupCredentialsInItemGroup(Class<C> type, ItemGroup itemGroup, Authentication authentication, List<DomainRequirement> domainRequirements) { throw new UnsupportedOperationException("stub"); }
}
