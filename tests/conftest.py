"""Shared fixtures. Real-data tests read ../shared (beside the repository) and skip when it is absent."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGEPOSE_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "reference" / "mmpose"
POSE_MODELS = ("rtmpose-t", "rtmpose-s", "litehrnet-18", "litehrnet-30", "mobilenetv2")
# every layer INT8 on random reference weights proves the route, one model per family: RTMPose-t's graph is
# RTMPose-s's (and the trained RTMPose-t INT8 fixture below runs it), LiteHRNet-30 is a deeper LiteHRNet-18
INT8_ROUTE_MODELS = ("rtmpose-s", "litehrnet-18", "mobilenetv2")
RTMDET_ONNX = SHARED / "models" / "rtmdet-nano" / "rtmdet-nano.onnx"


def need(path: Path) -> Path:
    """Skip the calling test when a shared data file is missing (e.g. on a user's machine)."""
    if not path.exists():
        pytest.skip(f"shared test data not found: {path} (clone with ../shared beside the repository)")
    return path


def reference(model: str, name: str) -> Path:
    return need(REFERENCE / model / name)


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m edgepose ARGS` in a fresh process (in `cwd`); returns the completed process (text mode)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edgepose", *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=cwd)


BUILD_TIMEOUT = 2400   # s: a session fixture's conversion of every target with INT8 (both workers busy)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Downloads go to a per-test cache, never to the user's ~/.cache."""
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path_factory.mktemp("cache")))


def snapshot(root: Path) -> set[str]:
    """Every file and folder under `root` (relative paths), to prove a failing command wrote nothing."""
    return {str(p.relative_to(root)) for p in Path(root).rglob("*")}


def assert_one_line_error(result: subprocess.CompletedProcess, code: int = 1, contains: str = "") -> str:
    """A failed CLI run as the README promises: exit `code`, no traceback, exactly one `edgepose:` line on
    stderr (warnings and progress aside), mentioning `contains`. Returns that line."""
    assert result.returncode == code, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("edgepose:")]
    assert len(lines) == 1, result.stderr[-3000:]
    noise = [line for line in result.stderr.splitlines() if line.startswith(("[ WARN", "[ERROR", "INFO:"))]
    assert not noise, f"third-party log lines around the error: {noise}"
    assert contains.lower() in lines[0].lower(), (contains, lines[0])
    return lines[0]


# Under pytest-xdist (the README's test command runs two workers), the tests that share one of these expensive
# session fixtures run in one worker (`--dist loadgroup`), so each is built once
SHARED_BUILDS = {"zoo_artifacts": "zoo", "rtmdet_int8": "int8", "trained_pose_int8": "int8"}


CONVERTING = ("reference_artifact", *SHARED_BUILDS)   # fixtures that convert models: their tests are slow


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist reads the groups from the marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = next((g for fixture, g in SHARED_BUILDS.items() if fixture in item.fixturenames), None)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
        if any(fixture in item.fixturenames for fixture in CONVERTING):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter):
    """Lines tests give for the CI log (`ci_line`: e.g. the summary of the emulated aarch64 test run), printed
    by the controlling process, where pytest-xdist workers' own output does not reach."""
    lines = [value for reports in terminalreporter.stats.values() for report in reports
             if getattr(report, "when", None) == "call"
             for name, value in getattr(report, "user_properties", ()) if name == "ci_line"]
    if lines:
        terminalreporter.section("results of other runners")
        for line in lines:
            terminalreporter.write_line(line)


def shared_dir(tmp_path_factory, name: str) -> Path:
    """A folder of this test run that every pytest-xdist worker sees (the per-worker base's parent)."""
    base = tmp_path_factory.getbasetemp()
    path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def reference_artifact(tmp_path_factory):
    """`reference_artifact(model)` → the ONNX fp32 artifact of a zoo model with MMPose's reference checkpoint
    (rtmdet-nano: its real ONNX export), converted in-process once per test run when first asked for (a file
    lock makes parallel workers wait for the first). Shared: a test that changes an artifact copies it first."""
    import fcntl

    from edgepose.converters.convert import artifact_name, convert
    from edgepose.converters.options import ConvertOptions

    root = shared_dir(tmp_path_factory, "reference-onnx")

    def artifact(model: str) -> Path:
        directory = root / artifact_name(model, "onnx", "fp32")
        with open(root / f"{model}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (directory / "edgepose.json").is_file():
                weights = RTMDET_ONNX if model == "rtmdet-nano" else REFERENCE / model / "checkpoint_published.pth"
                convert(model, root, str(need(weights)), ConvertOptions(progress=False))
        return directory
    return artifact


ZOO_TARGETS = ("onnx", "ncnn", "tflite")
COCO_TEST_DATA = SHARED / "data" / "mmpose" / "tests" / "data" / "coco"


def zoo_verify_args(model: str) -> list[str]:
    """--weights and a real verification input for a zoo model: MMPose's reference crop, or a COCO image."""
    if model == "rtmdet-nano":
        return ["--weights", str(need(RTMDET_ONNX)), "--verify-image", str(COCO_TEST_DATA / "000000196141.jpg")]
    info = json.loads(reference(model, "facts.json").read_text())["image"]
    return ["--weights", str(reference(model, "checkpoint_published.pth")), "--verify-image", str(SHARED / info["path"]),
            "--verify-box", ",".join(str(v) for v in info["bbox_xyxy"])]


@pytest.fixture(scope="session")
def zoo_artifacts(tmp_path_factory) -> tuple[Path, dict[str, subprocess.CompletedProcess]]:
    """Every zoo model converted once for the whole run, one `convert` per model (each target exported once):
    {onnx, ncnn, tflite} × {fp32, fp16}, plus for INT8_ROUTE_MODELS every layer INT8 (`--max-error off`: the
    reference weights are random, so this proves the route, not the accuracy), calibrated on the 31
    ground-truth persons of the shared COCO json. Returns (output folder, the finished process per model)."""
    out = tmp_path_factory.mktemp("zoo")
    runs = {}
    for model in (*POSE_MODELS, "rtmdet-nano"):
        int8 = [] if model not in INT8_ROUTE_MODELS else [
            "--int8", "--max-error", "off", "--calib", str(need(SHARED / "data" / "combined_coco17_gt.json"))]
        result = run_cli("convert", model, "--target", ",".join(ZOO_TARGETS), "--precision", "fp32,fp16", *int8,
                         "-o", str(out), "--no-progress", *zoo_verify_args(model), timeout=BUILD_TIMEOUT)
        assert result.returncode == 0, f"{model}: {result.stderr}"
        runs[model] = result
    return out, runs


DATA = SHARED / "data"
VTEST = DATA / "opencv-doc-debian" / "vtest.avi"
TRAINED_POSE = SHARED / "models" / "rtmpose-t-distilled" / "rtmpose-t-distilled.pth"
INT8_CALIB = [VTEST, DATA / "scikit-image-0.26.0", DATA / "tfjs-models" / "pose-detection" / "test_data" / "pose.jpg",
              DATA / "tfjs-models" / "shared" / "test_data" / "three_people.jpg",
              DATA / "opencv-doc-debian" / "basketball1.png", DATA / "opencv-doc-debian" / "basketball2.png",
              DATA / "mmpose" / "demo" / "resources" / "demo.mp4",
              DATA / "tfjs-models" / "pose-detection" / "test_data" / "pose_squats.mp4"]
INT8_HOLDOUT = [DATA / "mmpose" / "tests" / "data" / name for name in ("coco", "ochuman", "crowdpose")]
ACCURATE_BUDGET = "3.0"    # px, p95 keypoint shift: the INT8 bar for pose; every target's all-int8 mix fits it


def _eval_coco_args() -> list[str]:
    return ["--eval-coco", str(need(DATA / "combined_coco17_gt.json")), "--images", str(DATA)]


@pytest.fixture(scope="session")
def rtmdet_int8(tmp_path_factory) -> tuple[Path, str]:
    """RTMDet-nano (real weights) fp32, fp16 and INT8 on every target, INT8 at the default budget, calibrated on
    100 frames / images, measured on the held-out COCO / OCHuman / CrowdPose images. The aarch64 tests run its
    fp32 and fp16 artifacts too. Returns (output folder, stdout)."""
    out = tmp_path_factory.mktemp("rtmdet-int8")
    result = run_cli("convert", "rtmdet-nano", "--weights", str(need(RTMDET_ONNX)), "--target", "all",
                     "--precision", "fp32,fp16", "--int8",
                     "--calib", *map(str, map(need, INT8_CALIB)), "--holdout", *map(str, map(need, INT8_HOLDOUT)),
                     "--samples", "100", *_eval_coco_args(), "-o", str(out), "--no-progress", timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


@pytest.fixture(scope="session")
def trained_pose_int8(tmp_path_factory) -> tuple[Path, str]:
    """The distilled RTMPose-t (trained weights) fp32, fp16 and INT8 on every target, INT8 at the accurate budget,
    calibrated on vtest.avi's training frames 0-635 and measured on its held-out frames 636-794 (the model
    README's split). The aarch64 tests run its fp32 and fp16 artifacts too."""
    out = tmp_path_factory.mktemp("rtmpose-trained-int8")
    result = run_cli("card", "rtmdet-onnx", str(need(RTMDET_ONNX)), "-o", str(out / "det"))
    assert result.returncode == 0, result.stderr
    result = run_cli("convert", "rtmpose-t", "--weights", str(need(TRAINED_POSE)), "--target", "all",
                     "--precision", "fp32,fp16", "--int8",
                     "--calib", f"{need(VTEST)}#0-635", "--calib-det", str(out / "det"),
                     "--holdout", f"{VTEST}#636-794", "--samples", "96", "--max-error", ACCURATE_BUDGET,
                     *_eval_coco_args(), "-o", str(out), "--no-progress", timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, result.stderr
    return out, result.stdout
