// Test-only stub of hudson.model.Actionable: the signatures the plugin uses (see ../shared/JENKINS-API.md), never packaged.
package hudson.model;

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

/** Test-only: keeps its actions in a list, as the real one does. */
public abstract class Actionable {
    private final List<Action> actions = new CopyOnWriteArrayList<>();
    public <T extends Action> List<T> getActions(Class<T> type) {
        List<T> out = new ArrayList<>();
        for (Action a : actions) { if (type.isInstance(a)) { out.add(type.cast(a)); } }
        return Collections.unmodifiableList(out);
    }
    public void addAction(Action a) { actions.add(a); }
    public boolean addOrReplaceAction(Action a) { actions.removeIf(x -> x.getClass() == a.getClass()); actions.add(a); return true; }
}
