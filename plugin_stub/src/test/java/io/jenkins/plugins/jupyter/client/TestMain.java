package io.jenkins.plugins.jupyter.client;

import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/**
 * Runs the client's tests with plain JUnit 4 and ends with the line CI reads:
 * "java-client: N passed, N failed". Exit code 1 if any failed.
 */
public final class TestMain {
    public static void main(String[] args) throws ClassNotFoundException {
        Class<?>[] classes = new Class<?>[args.length];
        for (int i = 0; i < args.length; i++) {
            classes[i] = Class.forName(args[i]);
        }
        JUnitCore junit = new JUnitCore();
        junit.addListener(new RunListener() {
            private long started;
            private boolean failed;

            @Override
            public void testStarted(Description d) {
                started = System.nanoTime();
                failed = false;
            }

            @Override
            public void testFailure(Failure f) {
                failed = true;
                System.out.println("FAIL " + name(f.getDescription()) + ": " + f.getMessage());
                System.out.println(f.getTrace());
            }

            @Override
            public void testFinished(Description d) {
                if (!failed) {
                    System.out.printf("ok   %s (%.1f s)%n", name(d), (System.nanoTime() - started) / 1e9);
                }
            }
        });
        Result result = junit.run(classes);
        int failed = result.getFailureCount();
        System.out.printf("java client tests ran in %.1f s%n", result.getRunTime() / 1000.0);
        System.out.printf("java-client: %d passed, %d failed%n", result.getRunCount() - failed, failed);
        System.exit(result.wasSuccessful() ? 0 : 1);
    }

    private static String name(Description d) {
        return d.getTestClass() == null ? d.getDisplayName() : d.getTestClass().getSimpleName() + "." + d.getMethodName();
    }
}
