#!/usr/bin/env bash
# Build an aarch64 Python 3.11 + edgepose runtime environment that runs here under qemu-user, no chroot:
#   SYSROOT/      Debian arm64 python3.11 and the libraries it links, unpacked with dpkg -x
#   SYSROOT/site  aarch64 wheels of the runtime (numpy, opencv, onnxruntime, ncnn, LiteRT) and pytest
#   SYSROOT/proc/cpuinfo  an aarch64 cpuinfo (onnxruntime segfaults on import without one; qemu's -L serves it)
# Usage: .ci/aarch64_sysroot.sh [SYSROOT]   (default .arm/sysroot; needs root for apt-get; ~2 min)
# Then: qemu-aarch64-static -cpu cortex-a72 -L SYSROOT SYSROOT/usr/bin/python3.11 ...  (PYTHONPATH=SYSROOT/site)
set -euo pipefail
cd "$(dirname "$0")/.."
SYSROOT="$(realpath -m "${1:-.arm/sysroot}")"
if [ -x "$SYSROOT/usr/bin/python3.11" ] && [ -f "$SYSROOT/site/.complete" ]; then
    echo "aarch64 sysroot ready: $SYSROOT"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! command -v qemu-aarch64-static >/dev/null || ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
fi
PACKAGES="python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libcrypt1 libdb5.3 libexpat1
 libffi8 liblzma5 libbz2-1.0 libncursesw6 libnsl2 libreadline8 libsqlite3-0 libssl3 libtinfo6 libtirpc3
 libuuid1 zlib1g libgcc-s1 libstdc++6 libgomp1 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0
 libkeyutils1 libcom-err2"
DEBS="$(mktemp -d)"
(cd "$DEBS" && apt-get download -qq $(for p in $PACKAGES; do echo "$p:arm64"; done))
rm -rf "$SYSROOT" && mkdir -p "$SYSROOT"
for deb in "$DEBS"/*.deb; do dpkg -x "$deb" "$SYSROOT"; done
rm -rf "$DEBS"
mkdir -p "$SYSROOT/proc"
cat > "$SYSROOT/proc/cpuinfo" <<'CPU'
processor	: 0
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

CPU
PLATFORMS=""
for tag in manylinux_2_28_aarch64 manylinux_2_27_aarch64 manylinux_2_24_aarch64 manylinux2014_aarch64 manylinux_2_17_aarch64; do
    PLATFORMS="$PLATFORMS --platform $tag"
done
python3 -m pip install -q --target "$SYSROOT/site" $PLATFORMS --only-binary=:all: --python-version 3.11 \
    --implementation cp -c constraints.txt numpy opencv-python-headless onnxruntime ncnn ai-edge-litert pytest
touch "$SYSROOT/site/.complete"
echo "aarch64 sysroot ready: $SYSROOT"
