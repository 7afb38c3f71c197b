#!/usr/bin/env bash
# Compile the plugin's JDK-only client (io.jenkins.plugins.jupyter.client) and run its
# JUnit 4 tests against the real agent service from the project's venv. No Maven, no
# Jenkins jars: javac, java, and Debian's junit4 + hamcrest.
#   plugin_stub/run-tests.sh            all tests
#   plugin_stub/run-tests.sh ClassName  some test classes (simple names)
# Needs: JDK 17+ (javac), the venv (make venv), Debian packages: junit4 (pulls libhamcrest-java).
# Elsewhere, point JUNIT_JAR and HAMCREST_JAR at the jars, and JK_BIN at jenkins-kernel.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
project="$(dirname "$here")"
build="$here/target/client-tests"

jk_bin="${JK_BIN:-$project/.venv/bin/jenkins-kernel}"
missing=()
command -v javac >/dev/null || missing+=("openjdk-17-jdk-headless (javac)")
junit_jar=${JUNIT_JAR:-/usr/share/java/junit4.jar}
hamcrest_jar=${HAMCREST_JAR:-/usr/share/java/hamcrest.jar}
[[ -f $junit_jar ]] || missing+=("junit4 ($junit_jar)")
[[ -f $hamcrest_jar ]] || missing+=("libhamcrest-java ($hamcrest_jar)")
if ((${#missing[@]})); then
    echo "run-tests.sh: missing Debian packages: ${missing[*]}" >&2
    echo "  install them with: apt-get install -y --no-install-recommends junit4 openjdk-17-jdk-headless" >&2
    exit 2
fi
if [[ ! -x $jk_bin ]]; then
    echo "run-tests.sh: $jk_bin not found: create the venv first (make venv), or set JK_BIN" >&2
    exit 2
fi

rm -rf "$build"
mkdir -p "$build/main" "$build/test"
cp="$junit_jar:$hamcrest_jar"
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$build/main" \
    $(find "$here/src/main/java/io/jenkins/plugins/jupyter/client" -name '*.java')
javac --release 17 -encoding UTF-8 -d "$build/test" -cp "$build/main:$cp" \
    $(find "$here/src/test/java" -name '*.java')

classes=()
if (($#)); then
    for name in "$@"; do classes+=("io.jenkins.plugins.jupyter.client.$name"); done
else
    for f in "$here"/src/test/java/io/jenkins/plugins/jupyter/client/*Test.java; do
        classes+=("io.jenkins.plugins.jupyter.client.$(basename "$f" .java)")
    done
fi
cd "$here"
exec java -Djk.bin="$jk_bin" -cp "$build/main:$build/test:$cp" io.jenkins.plugins.jupyter.client.TestMain "${classes[@]}"
