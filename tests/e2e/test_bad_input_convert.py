"""`edgepose convert` as a user meets it: relative and unusual paths work, every bad input is one line on
stderr with nothing written, a partly failed or interrupted conversion says what it kept, Ctrl-C stops it
within seconds. Each case runs the real CLI in a fresh process."""
from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgepose.runtimes.card import load_card

from ..conftest import (RTMDET_ONNX, SHARED, assert_one_line_error, need, reference, run_cli, snapshot)
from ..converters.test_convert_user_onnx import tiny_onnx, write_fields

IMAGE = SHARED / "data" / "mmpose" / "tests" / "data" / "coco" / "000000196141.jpg"   # 640 x 429


def checkpoint() -> Path:
    return reference("rtmpose-t", "checkpoint_published.pth")


def _fake_artifact(folder: Path, *extra: str) -> None:
    folder.mkdir(parents=True)
    (folder / "edgepose.json").write_text(json.dumps({"files": {"model": "rtmpose-t.onnx"}}))
    (folder / "rtmpose-t.onnx").write_bytes(b"old")
    for name in extra:
        (folder / name).write_text("the user's own file")


# id → (setup(tmp) returning the CLI arguments after `convert`, text the one error line must contain)
CASES = {
    "output is a file": (lambda t: ["rtmpose-t", "--weights", str(checkpoint()), "-o", str(_file(t / "out"))],
                         "is a file"),
    "output under a file": (lambda t: ["rtmpose-t", "--weights", str(checkpoint()), "-o",
                                       str(_file(t / "out") / "sub")], "is a file"),
    "weights is a folder": (lambda t: ["rtmpose-t", "--weights", str(t), "-o", str(t / "out")], "is a folder"),
    "weights missing": (lambda t: ["rtmpose-t", "--weights", str(t / "nope.pth"), "-o", str(t / "out")],
                        "no such file"),
    "weights symlink loop": (lambda t: ["rtmpose-t", "--weights", str(_loop(t)), "-o", str(t / "out")],
                             "no such file"),
    "weights random bytes": (lambda t: ["rtmpose-t", "--weights", str(_file(t / "r.pth", bytes(range(256)) * 9)),
                                        "-o", str(t / "out")], "not a PyTorch file"),
    "weights empty": (lambda t: ["rtmpose-t", "--weights", str(_file(t / "e.pth", b"")), "-o", str(t / "out")],
                      "is empty"),
    "weights truncated": (lambda t: ["rtmpose-t", "--weights", str(_file(t / "c.pth", checkpoint().read_bytes()[:9999])),
                                     "-o", str(t / "out")], "truncated or damaged"),
    "verify box inverted": (lambda t: ["rtmpose-t", "--weights", str(checkpoint()), "--verify-image",
                                       str(need(IMAGE)), "--verify-box", "300,10,100,200", "-o", str(t / "out")],
                            "has no area"),
    "verify box off the image": (lambda t: ["rtmpose-t", "--weights", str(checkpoint()), "--verify-image",
                                            str(need(IMAGE)), "--verify-box", "700,10,900,200", "-o", str(t / "out")],
                                 "outside the 640x429 image"),
    "verify box, negative numbers": (lambda t: ["rtmpose-t", "--weights", str(checkpoint()), "--verify-image",
                                                str(need(IMAGE)), "--verify-box", "-500,-400,-100,-10", "-o",
                                                str(t / "out")], "outside the 640x429 image"),
    "verify box on a detector": (lambda t: ["rtmdet-nano", "--weights", str(need(RTMDET_ONNX)), "--verify-image",
                                            str(need(IMAGE)), "--verify-box", "10,10,100,200", "-o", str(t / "out")],
                                 "applies to pose models"),
    "verify image not an image": (lambda t: ["rtmpose-t", "--weights", str(checkpoint()), "--verify-image",
                                             str(_file(t / "x.jpg", b"text")), "-o", str(t / "out")],
                                  "could not be read as an image"),
    "overwrite, artifact holds a user file": (
        lambda t: (_fake_artifact(t / "out" / "rtmpose-t-onnx-fp32", "notes.txt"),
                   ["rtmpose-t", "--weights", str(checkpoint()), "-o", str(t / "out"), "--overwrite"])[1],
        "notes.txt"),
    "overwrite, artifact name is a file": (
        lambda t: (_file(t / "out" / "rtmpose-t-onnx-fp32"),
                   ["rtmpose-t", "--weights", str(checkpoint()), "-o", str(t / "out"), "--overwrite"])[1],
        "not an artifact directory"),
    "existing artifact without overwrite": (
        lambda t: (_fake_artifact(t / "out" / "rtmpose-t-onnx-fp32"),
                   ["rtmpose-t", "--weights", str(checkpoint()), "-o", str(t / "out")])[1], "already exists"),
}


def _file(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _loop(tmp: Path) -> Path:
    (tmp / "a.pth").symlink_to(tmp / "b.pth")
    (tmp / "b.pth").symlink_to(tmp / "a.pth")
    return tmp / "a.pth"


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, case):
    setup, text = CASES[case]
    args = setup(tmp_path)
    before = snapshot(tmp_path)
    result = run_cli("convert", *args, "--no-progress")
    assert_one_line_error(result, 1, text)
    assert snapshot(tmp_path) == before


@contextlib.contextmanager
def _tmpfs(where: Path, options: str):
    """A small tmpfs mounted at `where` (skips when this machine does not let us mount)."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}); needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@pytest.mark.parametrize("options, text", [("ro,size=1m", "cannot write"), ("size=1m", "no space left")],
                         ids=["read-only folder", "full disk"])
@pytest.mark.slow
def test_unwritable_output_is_one_line_and_leaves_nothing(tmp_path, options, text):
    with _tmpfs(tmp_path / "mnt", options) as mnt:
        start = time.perf_counter()
        result = run_cli("convert", "rtmpose-t", "--weights", str(checkpoint()), "-o", str(mnt / "out"),
                         "--no-progress")
        assert_one_line_error(result, 1, text)
        assert snapshot(mnt) == set()
        if "ro" in options:  # refused before any work, not after the export
            assert time.perf_counter() - start < 8


@pytest.mark.slow
def test_relative_output_and_unusual_names_work_for_every_target(tmp_path):
    """README's own `-o out/`, run from a folder with spaces and non-ASCII characters, weights there too."""
    folder = tmp_path / "my models é ü"
    folder.mkdir()
    (folder / "rtmpose t é.pth").symlink_to(checkpoint())
    result = run_cli("convert", "rtmpose-t", "--weights", "rtmpose t é.pth", "--target", "all", "-o", "out dir ß/",
                     "--no-progress", cwd=folder)
    assert result.returncode == 0, result.stderr[-2000:]
    for target in ("onnx", "ncnn", "tflite"):
        card = load_card(folder / "out dir ß" / f"rtmpose-t-{target}-fp32")
        assert card.verification["passed"], card.verification
    assert not [p for p in snapshot(folder) if Path(p).name.startswith(".")]


@pytest.mark.slow
def test_int8_into_a_relative_non_ascii_output(tmp_path):
    result = run_cli("convert", "rtmpose-t", "--weights", str(checkpoint()), "--target", "ncnn", "--int8",
                     "--calib", str(need(SHARED / "data" / "combined_coco17_gt.json")), "--samples", "12",
                     "--max-error", "off", "-o", "sortie é/", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    card = load_card(tmp_path / "sortie é" / "rtmpose-t-ncnn-int8")
    assert card.precision == "int8" and card.calibration["int8_layers"] > 0


@pytest.mark.slow
def test_partial_failure_keeps_finished_artifacts_and_says_what_was_not_written(tmp_path):
    model = tiny_onnx(tmp_path / "tiny.onnx", extra_op="Hardmax")   # onnxruntime runs it, ncnn has no such layer
    out = tmp_path / "out"
    result = run_cli("convert", str(model), "--card-fields", str(write_fields(tmp_path)), "--target", "onnx,ncnn",
                     "-o", str(out), "--no-progress")
    line = assert_one_line_error(result, 1, "1 of 2 artifacts not written")
    assert "tiny-ncnn-fp32" in line and "Hardmax" in line
    assert f"wrote {out / 'tiny-onnx-fp32'}" in result.stdout
    assert load_card(out / "tiny-onnx-fp32").verification["passed"]
    assert sorted(snapshot(out)) == sorted({"tiny-onnx-fp32", *(f"tiny-onnx-fp32/{f}" for f in
                                                                 ("edgepose.json", "tiny.onnx"))})


@pytest.mark.slow
def test_overwrite_replaces_only_the_artifact(tmp_path):
    out = tmp_path / "out"
    _fake_artifact(out / "rtmpose-t-onnx-fp32")
    _file(out / "notes.txt", b"mine")
    _file(out / ".rtmpose-t-onnx-fp32.old", b"mine too")   # the name the old replacement used to take
    result = run_cli("convert", "rtmpose-t", "--weights", str(checkpoint()), "-o", str(out), "--overwrite",
                     "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "notes.txt").read_bytes() == b"mine" and (out / ".rtmpose-t-onnx-fp32.old").read_bytes() == b"mine too"
    assert load_card(out / "rtmpose-t-onnx-fp32").verification["passed"]
    assert snapshot(out) == {"notes.txt", ".rtmpose-t-onnx-fp32.old", "rtmpose-t-onnx-fp32",
                             "rtmpose-t-onnx-fp32/edgepose.json", "rtmpose-t-onnx-fp32/rtmpose-t.onnx"}


def _interrupt_when(process: subprocess.Popen, ready, timeout: float = 120) -> float:
    """Send SIGINT once `ready()` holds; return the seconds the process took to exit after it."""
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert process.poll() is None, "the conversion ended before it could be interrupted"
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    return time.monotonic() - sent


@pytest.mark.slow
@pytest.mark.parametrize("swallow", [False, True], ids=["clean stop", "child ignores Ctrl-C"])
def test_ctrl_c_stops_within_seconds_and_keeps_finished_artifacts(tmp_path, swallow):
    """Ctrl-C after the first artifact: exit 130 within ~2 s, the finished artifact kept and named, nothing
    half-written. `swallow` makes the worker process ignore SIGINT, as a library stuck in C++ does."""
    env = {}
    if swallow:
        hooks = tmp_path / "hooks"
        _file(hooks / "sitecustomize.py", b"import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n")
        env["PYTHONPATH"] = str(hooks)
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "edgepose", "convert", "rtmpose-t", "--weights",
                                str(checkpoint()), "--target", "onnx,ncnn,tflite", "--precision", "fp32,fp16",
                                "-o", str(out), "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**__import__("os").environ, **env})
    took = _interrupt_when(process, lambda: (out / "rtmpose-t-onnx-fp32").is_dir())
    stdout, stderr = process.communicate()
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert_one_line_error(result, 130, "interrupted")
    assert took < 3.0, f"took {took:.1f} s to stop"
    kept = [line.split()[1] for line in stdout.splitlines() if line.startswith("kept ")]
    assert str(out / "rtmpose-t-onnx-fp32") in kept
    assert "not written:" in stdout
    for entry in out.iterdir():
        assert not entry.name.startswith("."), f"half-written {entry.name} left behind"
        assert str(entry) in kept
        assert load_card(entry).verification["passed"]


@pytest.mark.slow
def test_killed_supervisor_takes_its_conversion_with_it(tmp_path):
    """kill -9 of `edgepose convert` (a test's timeout does this) ends the worker doing the conversion too,
    instead of leaving it to run on as an orphan (it once ran 20 minutes after its test gave up)."""
    import os

    process = subprocess.Popen([sys.executable, "-m", "edgepose", "convert", "rtmpose-t", "--weights",
                                str(checkpoint()), "--target", "tflite", "-o", str(tmp_path / "out"), "--no-progress"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    deadline = time.monotonic() + 60
    while not children.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.1)
    worker = int(children.read_text().split()[0])
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        try:  # reaped by init once it exits; a zombie counts as gone
            if Path(f"/proc/{worker}/stat").read_text().split(")")[-1].split()[0] == "Z":
                break
        except OSError:
            break
        time.sleep(0.1)
    alive = Path(f"/proc/{worker}/stat").exists() and \
        Path(f"/proc/{worker}/stat").read_text().split(")")[-1].split()[0] != "Z"
    if alive:
        os.kill(worker, 9)
    assert not alive, "the conversion worker outlived its killed supervisor"
