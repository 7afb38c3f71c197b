// Test-only stub of com.cloudbees.plugins.credentials.common.AbstractIdCredentialsListBoxModel: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package com.cloudbees.plugins.credentials.common;

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
public abstract class AbstractIdCredentialsListBoxModel<T extends AbstractIdCredentialsListBoxModel<T, C>, C extends IdCredentials> extends ListBoxModel {
    private static final long serialVersionUID = 1L;
    public AbstractIdCredentialsListBoxModel<T, C> includeEmptyValue() { throw new UnsupportedOperationException("stub"); }
    public AbstractIdCredentialsListBoxModel<T, C> includeAs(Authentication authentication, Item context, Class<? extends C> type, List<DomainRequirement> domainRequirements) { throw new UnsupportedOperationException("stub"); }
    public AbstractIdCredentialsListBoxModel<T, C> includeMatchingAs(Authentication authentication, ItemGroup context, Class<? extends C> type, List<DomainRequirement> domainRequirements, CredentialsMatcher matcher) { throw new UnsupportedOperationException("stub"); }
    public AbstractIdCredentialsListBoxModel<T, C> includeCurrentValue(String value) { throw new UnsupportedOperationException("stub"); }
}
