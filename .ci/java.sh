#!/usr/bin/env bash
# Android core CI: install a JDK, JUnit 5 and Android's org.json (and aapt2 + framework-res for the app shell's
# static check) when missing, compile android_demo/core with `javac --release 8`, run its JUnit tests on the
# committed golden files (or -Dgolden=$GOLDEN_DIR), and print one line "N passed, N failed" from the XML report.
# Exits non-zero when a test fails or when no test ran. Needs root (or sudo) only when packages are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
CORE=android_demo/core
BUILD=${JAVA_BUILD_DIR:-$CORE/build}
JSON_JAR=/usr/share/java/com.android.json.jar
JUNIT_JAR=/usr/share/java/junit-platform-console-standalone.jar
FRAMEWORK_RES=/usr/share/android-framework-res/framework-res.apk

need=()
command -v javac >/dev/null || need+=(default-jdk-headless)
[ -f "$JUNIT_JAR" ] || need+=(junit5)
[ -f "$JSON_JAR" ] || need+=(libandroid-json-java)
if [ -d android_demo/app ]; then
  command -v aapt2 >/dev/null || need+=(aapt)
  [ -f "$FRAMEWORK_RES" ] || need+=(android-framework-res)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

rm -rf "$BUILD" && mkdir -p "$BUILD/main" "$BUILD/test" "$BUILD/reports"
javac --release 8 -Xlint:all -Werror -encoding UTF-8 -cp "$JSON_JAR" -d "$BUILD/main" $(find "$CORE/src/main/java" -name '*.java')
if grep -rn "^import android\." "$CORE/src/main/java"; then
  echo "android_demo/core must not import android.*" >&2; exit 1
fi
javac --release 8 -Xlint:all,-options -encoding UTF-8 -cp "$JSON_JAR:$JUNIT_JAR:$BUILD/main" -d "$BUILD/test" \
  $(find "$CORE/src/test/java" -name '*.java')
golden=${GOLDEN_DIR:-$CORE/src/test/resources/golden}
set +e
java -Dgolden="$golden" -jar "$JUNIT_JAR" --disable-banner --details=none --fail-if-no-tests \
  -cp "$BUILD/main:$BUILD/test:$JSON_JAR" --scan-classpath "$BUILD/test" --reports-dir "$BUILD/reports"
junit_rc=$?
set -e
xml="$BUILD/reports/TEST-junit-jupiter.xml"
[ -f "$xml" ] || { echo "0 passed, 0 failed (no JUnit report: no Java test ran)"; exit 1; }
tests=$(grep -o '<testsuite [^>]*' "$xml" | grep -o ' tests="[0-9]*"' | grep -o '[0-9]*')
failures=$(grep -o '<testsuite [^>]*' "$xml" | grep -o ' failures="[0-9]*"' | grep -o '[0-9]*')
errors=$(grep -o '<testsuite [^>]*' "$xml" | grep -o ' errors="[0-9]*"' | grep -o '[0-9]*')
skipped=$(grep -o '<testsuite [^>]*' "$xml" | grep -o ' skipped="[0-9]*"' | grep -o '[0-9]*')
failed=$((failures + errors))
echo "$((tests - failed - skipped)) passed, $failed failed"
[ "$junit_rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$tests" -gt 0 ] || exit 1

if [ -d android_demo/app ]; then
  android_demo/app/check_resources.sh "$BUILD/aapt2"
fi
