"""The Android demo's pure-Java core (android_demo/core) against golden vectors from this Python runtime.

Runs `.ci/java.sh` (javac --release 8 + the JUnit 5 console launcher, one `N passed, N failed` line) on the
committed golden files, and on golden files freshly written by android_demo/tools/make_golden.py from an
image and artifacts the committed ones never use. Skips when no JDK / JUnit 5 / Android org.json is installed
(Debian: default-jdk-headless junit5 libandroid-json-java; `.ci/java.sh` installs them as root).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import REPO, RTMDET_ONNX, SHARED, need, run_cli

JARS = (Path("/usr/share/java/junit-platform-console-standalone.jar"), Path("/usr/share/java/com.android.json.jar"))
COCO = SHARED / "data" / "mmpose" / "tests" / "data" / "coco"
DISTILLED = SHARED / "models" / "rtmpose-t-distilled" / "rtmpose-t-distilled.pth"


def _need_java() -> None:
    if shutil.which("javac") is None:
        pytest.skip("no javac (apt-get install default-jdk-headless, or run .ci/java.sh as root)")
    for jar in JARS:
        if not jar.is_file():
            pytest.skip(f"{jar} missing (apt-get install junit5 libandroid-json-java, or run .ci/java.sh as root)")
    if (REPO / "android_demo" / "app").is_dir() and shutil.which("aapt2") is None:
        pytest.skip("no aapt2 for the app shell's resource check (apt-get install aapt android-framework-res)")


def _run_java(build: Path, golden: Path | None = None) -> tuple[int, int, str]:
    """Run .ci/java.sh into `build`; → (passed, failed, output)."""
    env = {**os.environ, "JAVA_BUILD_DIR": str(build)}
    if golden is not None:
        env["GOLDEN_DIR"] = str(golden)
    result = subprocess.run(["bash", str(REPO / ".ci" / "java.sh")], capture_output=True, text=True, env=env,
                            timeout=300, cwd=REPO)
    out = result.stdout + result.stderr
    match = re.search(r"^(\d+) passed, (\d+) failed", out, re.M)
    assert match, f"no 'N passed, N failed' line:\n{out[-3000:]}"
    passed, failed = int(match[1]), int(match[2])
    assert (result.returncode == 0) == (failed == 0 and passed > 0), out[-3000:]
    return passed, failed, out


def test_java_core_passes_committed_goldens(tmp_path: Path) -> None:
    """Every JUnit test passes on the committed golden files, and some ran."""
    _need_java()
    passed, failed, out = _run_java(tmp_path / "build")
    assert failed == 0, out[-3000:]
    assert passed >= 10, out[-3000:]
    assert (REPO / "android_demo" / "core" / "src" / "test" / "resources" / "golden").is_dir()


@pytest.mark.slow
def test_java_core_passes_fresh_goldens(tmp_path: Path) -> None:
    """Golden files made now, from an image and artifacts the committed ones never use (RTMPose-t from the
    distilled checkpoint, flip on; RTMDet-nano converted here, whose outputs are split cls/box maps), pass
    the same JUnit tests without any code change: the issue's "done when"."""
    _need_java()
    image = need(COCO / "000000040083.jpg")
    need(RTMDET_ONNX)
    need(DISTILLED)
    art = tmp_path / "art"
    for args in (["rtmdet-nano", "--weights", str(RTMDET_ONNX)], ["rtmpose-t", "--weights", str(DISTILLED)]):
        result = run_cli("convert", *args, "-o", str(art), "--no-progress")
        assert result.returncode == 0, result.stderr[-2000:]
    golden = tmp_path / "golden"
    golden.mkdir()
    make = [sys.executable, str(REPO / "android_demo" / "tools" / "make_golden.py")]
    runs = [[str(art / "rtmpose-t-onnx-fp32"), str(image), "--boxes", "38,111,213,286", "258,139,398,293", "--flip",
             "-o", str(golden / "golden_fresh_pose.json")],
            [str(art / "rtmdet-nano-onnx-fp32"), str(image), "-o", str(golden / "golden_fresh_det.json")]]
    for args in runs:
        result = subprocess.run(make + args, capture_output=True, text=True, timeout=300, cwd=REPO)
        assert result.returncode == 0, result.stderr[-2000:]
    passed, failed, out = _run_java(tmp_path / "build", golden)
    assert failed == 0, out[-3000:]
    assert passed > 0
    summary = re.search(r"golden summary: (\d+) crops .*max crop diff (\d+) grey", out)
    assert summary and int(summary[1]) == 3 and int(summary[2]) <= 1, out[-3000:]


FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
APP = REPO / "android_demo" / "app"


def _need_aapt2() -> None:
    if shutil.which("aapt2") is None or not FRAMEWORK_RES.is_file():
        pytest.skip("no aapt2 / framework-res.apk (apt-get install aapt android-framework-res, or run .ci/java.sh "
                    "as root)")


def test_app_manifest_and_resources_link_against_the_framework(tmp_path: Path) -> None:
    """android_demo/app/check_resources.sh: aapt2 compile + link of the app shell's manifest and resources against
    framework-res.apk passes, prints one line, and writes only into the folder it is given."""
    _need_aapt2()
    result = subprocess.run(["bash", str(APP / "check_resources.sh"), str(tmp_path / "out")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines() == [result.stdout.strip()]
    assert result.stdout.startswith("aapt2 check: passed"), result.stdout
    assert (tmp_path / "out" / "app.ap_").is_file()


@pytest.mark.parametrize("file, good, bad", [
    ("src/main/res/layout/activity_main.xml", 'android:textSize="14sp"', 'android:textSiz="14sp"'),
    ("src/main/AndroidManifest.xml", 'android:exported="true"', 'android:exportd="true"'),
    ("src/main/res/layout/activity_main.xml", 'android:entries="@array/delegates"', 'android:entries="@array/delegate"'),
])
def test_app_resource_check_catches_typos(tmp_path: Path, file: str, good: str, bad: str) -> None:
    """A misspelt attribute or a dangling reference in a temp copy of the app makes the check fail, naming it."""
    _need_aapt2()
    copy = tmp_path / "app"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("build", "assets"))
    target = copy / file
    text = target.read_text()
    assert good in text
    target.write_text(text.replace(good, bad, 1))
    result = subprocess.run(["bash", str(copy / "check_resources.sh")], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0, result.stdout
    assert "aapt2 check: FAILED" in result.stdout
    assert bad.split("=")[0].split(":")[1] in result.stderr or bad.split("/")[-1].strip('"') in result.stderr
