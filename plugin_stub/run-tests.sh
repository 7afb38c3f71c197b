#!/usr/bin/env bash
# Compile EVERY class of the plugin (src/main) against the test-only API stubs (src/stubs:
# the Jenkins, Pipeline, Credentials and remoting signatures it uses, never packaged) with
# javac -Xlint:all -Werror, then run the JUnit 4 tests (client and glue) against the real
# agent service from the project's venv. No Maven, no Jenkins jars: javac, java, and
# Debian's junit4 + hamcrest.
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
# one javac for both (it is slow to start): the stubs are warning-free too
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$build/main" \
    $(find "$here/src/stubs" "$here/src/main/java" -name '*.java')
echo "run-tests.sh: compiled $(find "$here/src/main/java" -name '*.java' | wc -l) classes of src/main against the stubs (javac -Xlint:all -Werror)"
javac --release 17 -encoding UTF-8 -d "$build/test" -cp "$build/main:$cp" \
    $(find "$here/src/test/java" -name '*.java')

# a test class's name from its file: src/test/java/a/b/CTest.java -> a.b.CTest
test_class() { local rel="${1#"$here/src/test/java/"}"; rel="${rel%.java}"; echo "${rel//\//.}"; }
classes=()
while IFS= read -r f; do
    name="$(basename "$f" .java)"
    if (($#)); then
        for wanted in "$@"; do [[ $name == "$wanted" ]] && classes+=("$(test_class "$f")"); done
    else
        classes+=("$(test_class "$f")")
    fi
done < <(find "$here/src/test/java" -name '*Test.java' | sort)
cd "$here"
exec java -Djk.bin="$jk_bin" -cp "$build/main:$build/test:$cp" io.jenkins.plugins.jupyter.client.TestMain "${classes[@]}"
