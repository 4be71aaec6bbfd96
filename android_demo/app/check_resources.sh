#!/usr/bin/env bash
# Static check of the app shell's manifest and resources (no android.jar, Gradle or AGP here): aapt2 compile
# res/, then aapt2 link it with the manifest against the framework's own resources (Debian: aapt
# android-framework-res, Android 10 / API 29). Catches unknown or misspelt attributes, bad references and
# malformed XML; androidx/app: attributes cannot be linked this way, so the layouts use android: ones only.
# Usage: check_resources.sh [OUT_DIR]   (default: a temporary folder). Prints one line; non-zero on failure.
set -uo pipefail
APP=$(cd "$(dirname "$0")" && pwd)
FRAMEWORK_RES=${FRAMEWORK_RES:-/usr/share/android-framework-res/framework-res.apk}
PACKAGE=org.edgepose.demo   # the namespace in build.gradle.kts; AGP adds it to the manifest, so do we
command -v aapt2 >/dev/null || { echo "aapt2 check: FAILED, no aapt2 (apt-get install aapt)"; exit 2; }
[ -f "$FRAMEWORK_RES" ] || { echo "aapt2 check: FAILED, no $FRAMEWORK_RES (apt-get install android-framework-res)"; exit 2; }
out=${1:-}
if [ -z "$out" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
rm -rf "$out" && mkdir -p "$out"
log="$out/aapt2.log"
if ! aapt2 compile --dir "$APP/src/main/res" -o "$out/res.zip" >"$log" 2>&1; then
  cat "$log" >&2; echo "aapt2 check: FAILED (aapt2 compile of app/src/main/res, see above)"; exit 1
fi
sed "s|<manifest |<manifest package=\"$PACKAGE\" |" "$APP/src/main/AndroidManifest.xml" >"$out/AndroidManifest.xml"
if ! aapt2 link -I "$FRAMEWORK_RES" --manifest "$out/AndroidManifest.xml" --min-sdk-version 28 \
     --target-sdk-version 29 --java "$out/gen" -o "$out/app.ap_" "$out/res.zip" >>"$log" 2>&1; then
  cat "$log" >&2; echo "aapt2 check: FAILED (aapt2 link of the manifest and resources, see above)"; exit 1
fi
if grep -qi "warn" "$log"; then
  cat "$log" >&2; echo "aapt2 check: FAILED (aapt2 warnings, see above)"; exit 1
fi
n=$(find "$APP/src/main/res" -name "*.xml" | wc -l)
echo "aapt2 check: passed ($n resource files + AndroidManifest.xml linked against framework-res.apk)"
