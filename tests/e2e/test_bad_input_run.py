"""`edgepose run` and `edgepose card` on bad input: one table of cases, each run as a real subprocess.

Every case must exit with the expected code, print exactly one `edgepose:` line on stderr (warnings
aside) and no traceback, and leave no new file or folder behind. Tests run as root here, so a chmod 000
file is still readable: that case skips under root; /proc stands in for a folder nobody can write in.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import pytest

from ..conftest import RTMDET_ONNX, SHARED, assert_one_line_error, need, run_cli, snapshot

VTEST = SHARED / "data" / "opencv-doc-debian" / "vtest.avi"
IMAGE = SHARED / "data" / "opencv-doc-debian" / "basketball1.png"
MEDIAPIPE = SHARED / "models" / "mediapipe" / "pose_detection.tflite"
RTMDET_NCNN = SHARED / "models" / "rtmdet-nano" / "rtmdet-nano.param"
BOX = "100,50,400,450"


@dataclass
class Inputs:
    """What the cases build their arguments from: module-wide artifacts and a per-case empty folder."""

    pose: Path     # rtmpose-t ONNX artifact (built once per module)
    clip: Path     # 20-frame mp4v .avi cut from vtest
    image: Path
    tmp: Path      # this case's folder; files a case makes here before the run count as inputs

    def copy_pose(self) -> Path:
        target = self.tmp / "pose"
        shutil.copytree(self.pose, target)
        return target


@pytest.fixture(scope="module")
def module_inputs(tmp_path_factory, reference_artifact) -> Inputs:
    root = tmp_path_factory.mktemp("bad-run")
    shutil.copytree(reference_artifact("rtmpose-t"), root / "rtmpose-t-onnx-fp32")
    cap = cv2.VideoCapture(str(need(VTEST)))
    clip = root / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (384, 288))
    for _ in range(20):
        writer.write(cv2.resize(cap.read()[1], (384, 288)))
    writer.release()
    return Inputs(root / "rtmpose-t-onnx-fp32", clip, need(IMAGE), root)


def run(i: Inputs, *extra: str) -> list[str]:
    """`run --pose <artifact> --boxes BOX --no-progress` plus `extra`."""
    return ["run", "--pose", str(i.pose), "--boxes", BOX, "--no-progress", *extra]


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def truncated_model(i: Inputs) -> list[str]:
    pose = i.copy_pose()
    model = next(pose.glob("*.onnx"))
    model.write_bytes(model.read_bytes()[:50_000])
    return ["run", "--pose", str(pose), "--boxes", BOX, "--source", str(i.image)]


def corrupt_tflite(i: Inputs) -> list[str]:
    pose = i.copy_pose()
    card = json.loads((pose / "edgepose.json").read_text())
    card.update(format="tflite", files={"model": "m.tflite"})
    card["input"].update(layout="NHWC", shape=[1, 256, 192, 3])
    (pose / "edgepose.json").write_text(json.dumps(card))
    write(pose / "m.tflite", os.urandom(4096))
    return ["run", "--pose", str(pose), "--boxes", BOX, "--source", str(i.image)]


def other_onnx_model(i: Inputs) -> list[str]:
    pose = i.copy_pose()
    shutil.copyfile(need(RTMDET_ONNX), next(pose.glob("*.onnx")))
    return ["run", "--pose", str(pose), "--boxes", BOX, "--source", str(i.image)]


def empty_card(i: Inputs) -> list[str]:
    pose = i.copy_pose()
    (pose / "edgepose.json").write_text("")
    return ["run", "--pose", str(pose), "--boxes", BOX, "--source", str(i.image)]


def edited_card(change):
    """A case: the pose artifact with its card edited by hand (`change(data)`), run on one image."""
    def build(i: Inputs) -> list[str]:
        pose = i.copy_pose()
        data = json.loads((pose / "edgepose.json").read_text())
        change(data)
        (pose / "edgepose.json").write_text(json.dumps(data))
        return ["run", "--pose", str(pose), "--boxes", BOX, "--source", str(i.image)]
    return build


def _set(*path_and_value):
    *path, key, value = path_and_value

    def change(data):
        for part in path:
            data = data[part]
        data[key] = value
    return change


def symlink_loop(i: Inputs) -> list[str]:
    (i.tmp / "a").symlink_to(i.tmp / "b")
    (i.tmp / "b").symlink_to(i.tmp / "a")
    return run(i, "--source", str(i.tmp / "a"))


def unreadable_folder(i: Inputs) -> list[str]:
    write(i.tmp / "frames" / "a.jpg", b"not a jpeg")
    write(i.tmp / "frames" / "b.png", b"")
    return run(i, "--source", str(i.tmp / "frames"), "--json", str(i.tmp / "o.jsonl"))


def no_permission(i: Inputs) -> list[str]:
    if os.geteuid() == 0:
        pytest.skip("runs as root: chmod 000 does not stop root from reading")
    image = write(i.tmp / "locked.png", i.image.read_bytes())
    image.chmod(0)
    return run(i, "--source", str(image))


def image_named_avi(i: Inputs) -> list[str]:
    return run(i, "--source", str(write(i.tmp / "still.avi", i.image.read_bytes())))


def mp4_without_index(i: Inputs) -> list[str]:
    video = i.tmp / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for _ in range(10):
        writer.write(cv2.imread(str(i.image))[:48, :64])
    writer.release()
    video.write_bytes(video.read_bytes()[:-2000])  # the moov atom (the index) is at the end
    return run(i, "--source", str(video))


def fifo_json(i: Inputs) -> list[str]:
    os.mkfifo(i.tmp / "pipe.jsonl")
    return run(i, "--source", str(i.image), "--json", str(i.tmp / "pipe.jsonl"))


def full_out_folder(i: Inputs) -> list[str]:
    write(i.tmp / "annotated" / "keep.txt", b"user file")
    frames = i.tmp / "frames"
    shutil.copytree(i.image.parent, frames, ignore=shutil.ignore_patterns("*.avi", "*.txt"))
    return run(i, "--source", str(frames), "--out", str(i.tmp / "annotated"))


def card_wrong_model(i: Inputs) -> list[str]:
    return ["card", "rtmdet-onnx", str(next(i.pose.glob("*.onnx"))), "-o", str(i.tmp / "det")]


def card_ncnn_bad_bin(i: Inputs) -> list[str]:
    write(i.tmp / "rtmdet-nano.bin", os.urandom(3000))
    shutil.copyfile(need(RTMDET_NCNN), i.tmp / "rtmdet-nano.param")
    return ["card", "rtmdet-ncnn", str(i.tmp / "rtmdet-nano.param"), str(i.tmp / "rtmdet-nano.bin"),
            "-o", str(i.tmp / "det")]


Case = tuple[str, Callable[[Inputs], list[str]], int, str]
CASES: list[Case] = [
    # --show: the headless OpenCV has no windows; said before the (missing) model is even looked at
    ("show-headless", lambda i: ["run", "--pose", str(i.tmp / "none"), "--boxes", BOX, "--source", str(i.image),
                                 "--show"], 1, "opencv-python"),
    # outputs: checked before any work
    ("json-is-folder", lambda i: run(i, "--source", str(i.image), "--json", str(i.tmp)), 1, "is a folder"),
    ("json-parent-missing", lambda i: run(i, "--source", str(i.image), "--json", str(i.tmp / "no" / "o.jsonl")),
     1, "does not exist"),
    ("json-fifo", fifo_json, 1, "not a regular file"),
    ("json-unwritable-folder", lambda i: run(i, "--source", str(i.image), "--json", "/proc/edgepose-test.jsonl"),
     1, "cannot write in /proc"),
    ("json-is-source", lambda i: run(i, "--source", str(write(i.tmp / "in.png", i.image.read_bytes())),
                                     "--json", str(i.tmp / "in.png"), "--overwrite"), 1, "is the --source itself"),
    ("json-exists", lambda i: run(i, "--source", str(i.image), "--json", str(write(i.tmp / "old.jsonl", b"mine"))),
     1, "already exists; pass --overwrite"),
    ("out-video-exists", lambda i: run(i, "--source", str(i.clip), "--out", str(write(i.tmp / "old.mp4", b"mine"))),
     1, "already exists; pass --overwrite"),
    ("json-equals-out", lambda i: run(i, "--source", str(i.clip), "--json", str(i.tmp / "o.avi"),
                                      "--out", str(i.tmp / "o.avi")), 1, "same path"),
    ("out-png-for-video", lambda i: run(i, "--source", str(i.clip), "--out", str(i.tmp / "x.png")), 1,
     ".mp4, .mov, .avi, .mkv"),
    ("out-video-for-folder", lambda i: run(i, "--source", str(i.image.parent), "--out", str(i.tmp / "x.mp4")), 1,
     "names a folder"),
    ("out-folder-not-empty", full_out_folder, 1, "already exists"),
    # sources
    ("symlink-loop", symlink_loop, 1, "link loop"),
    ("no-such-source", lambda i: run(i, "--source", str(i.tmp / "nope.jpg")), 1, "no such file"),
    ("empty-folder", lambda i: run(i, "--source", str(i.tmp)), 1, "holds no images"),
    ("all-images-unreadable", unreadable_folder, 1, "none of the 2 images"),
    ("corrupt-image", lambda i: run(i, "--source", str(write(i.tmp / "x.jpg", b"\xff\xd8 junk"))), 1,
     "could not be decoded"),
    ("no-permission", no_permission, 1, "could not be decoded"),
    ("image-named-avi", image_named_avi, 1, "holds image data"),
    ("empty-video", lambda i: run(i, "--source", str(write(i.tmp / "e.mp4", b""))), 1, "file is empty"),
    ("mp4-without-index", mp4_without_index, 1, "not a readable video"),
    ("missing-camera", lambda i: run(i, "--source", "57"), 1, "cannot open camera 57"),
    # models
    ("missing-pose-folder", lambda i: ["run", "--pose", str(i.tmp / "nope"), "--boxes", BOX,
                                       "--source", str(i.image)], 1, "no model card"),
    ("empty-card", empty_card, 1, "not valid json"),
    ("card-mean-two-values", edited_card(_set("input", "mean", [123.7, 116.3])), 1, "input.mean must be 3 finite"),
    ("card-std-zero", edited_card(_set("input", "std", [58.4, 0, 57.4])), 1, "input.std must be > 0"),
    ("card-heatmap-decoder-on-simcc", edited_card(_set("decoder", {"type": "heatmap"})), 1,
     "decoder 'heatmap' reads outputs with roles heatmaps"),
    ("card-wrong-input-shape", edited_card(_set("input", "shape", [-1, 3, 256, 256])), 1,
     "the model takes input shape [-1, 3, 256, 192] (NCHW), its card says [-1, 3, 256, 256]"),
    ("truncated-onnx", truncated_model, 1, ".onnx"),
    ("corrupt-tflite", corrupt_tflite, 1, "m.tflite"),
    ("other-onnx-model", other_onnx_model, 1, "different model"),
    ("threads-0", lambda i: run(i, "--source", str(i.image), "--threads", "0"), 1, "threads must be"),
    # arguments argparse rejects (exit 2); a negative box is not one of them
    ("boxes-missing-value", lambda i: ["run", "--pose", str(i.pose), "--source", str(i.image), "--boxes"], 2,
     "--boxes"),
    ("negative-box-no-area", lambda i: run(i, "--source", str(i.image)) + ["--boxes", "-50,10,-60,300"], 1,
     "has x2 <= x1"),
    ("one-image-out-video", lambda i: run(i, "--source", str(i.image), "--out", str(i.tmp / "x.mp4")), 1,
     "the source is one image; --out names the annotated image"),
    ("box-nan", lambda i: run(i, "--source", str(i.image)) + ["--boxes", "10,nan,60,300"], 1, "is not finite"),
    ("box-xywh-by-mistake", lambda i: run(i, "--source", str(i.image)) + ["--boxes", "100,50,40,120"], 1,
     "not x, y, width, height"),
    # edgepose card: the files are opened with their runtime and checked against the card
    ("card-random-bytes", lambda i: ["card", "movenet-tflite", str(write(i.tmp / "m.tflite", os.urandom(5000))),
                                     "-o", str(i.tmp / "movenet")], 1, "m.tflite"),
    ("card-empty-file", lambda i: ["card", "movenet-tflite", str(write(i.tmp / "m.tflite", b"")),
                                   "-o", str(i.tmp / "movenet")], 1, "m.tflite"),
    ("card-other-tflite", lambda i: ["card", "movenet-tflite", str(need(MEDIAPIPE)), "-o", str(i.tmp / "mn")], 1,
     "different model"),
    ("card-pose-onnx-as-rtmdet", card_wrong_model, 1, "different model"),
    ("card-ncnn-random-bin", card_ncnn_bad_bin, 1, "rtmdet-nano.bin"),
    ("card-file-count", lambda i: ["card", "rtmdet-ncnn", str(i.image), "-o", str(i.tmp / "d")], 1,
     "takes 2 file(s)"),
]


@pytest.mark.parametrize("name, build, code, text", CASES, ids=[c[0] for c in CASES])
def test_bad_input(module_inputs, tmp_path, name, build, code, text):
    inputs = Inputs(module_inputs.pose, module_inputs.clip, module_inputs.image, tmp_path)
    args = build(inputs)
    before, shared_before = snapshot(tmp_path), snapshot(module_inputs.tmp)
    result = run_cli(*args)
    if code == 2:  # argparse's own usage error: exit 2, its message on stderr
        assert result.returncode == 2 and text in result.stderr and "Traceback" not in result.stderr
    else:
        assert_one_line_error(result, code, text)
    assert snapshot(tmp_path) == before, "left files behind"
    assert snapshot(module_inputs.tmp) == shared_before, "left files beside the shared inputs"


def run_with_file_limit(args: list[str], limit: int) -> subprocess.CompletedProcess:
    """The CLI with RLIMIT_FSIZE: any file growing past `limit` bytes fails like a full disk (EFBIG)."""
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run([sys.executable, "-m", "edgepose", *args], capture_output=True, text=True, timeout=300,
                          preexec_fn=limit_files)


@pytest.mark.parametrize("output", ["o.jsonl", "o.avi", "annotated"])
def test_full_disk_mid_run_leaves_nothing(module_inputs, tmp_path, output):
    """The disk fills up while writing: one line naming the output, no partial file or folder."""
    source = module_inputs.clip
    if output == "annotated":
        source = tmp_path / "frames"
        for k in range(3):
            write(source / f"{k}.png", module_inputs.image.read_bytes())
    before = snapshot(tmp_path)
    flag = "--json" if output.endswith(".jsonl") else "--out"
    result = run_with_file_limit(run(module_inputs, "--source", str(source), flag, str(tmp_path / output)), 6000)
    assert_one_line_error(result, 1, "cannot write")
    assert snapshot(tmp_path) == before


def test_existing_outputs_are_replaced_only_with_overwrite(module_inputs, tmp_path):
    """`run` shares the output policy of `convert` and `card`: a user's file is kept unless --overwrite."""
    out = write(tmp_path / "o.jsonl", b"mine")
    refused = run_cli(*run(module_inputs, "--source", str(module_inputs.image), "--json", str(out)))
    assert_one_line_error(refused, 1, "--overwrite")
    assert out.read_bytes() == b"mine"
    done = run_cli(*run(module_inputs, "--source", str(module_inputs.image), "--json", str(out), "--overwrite"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(out.read_text().splitlines()[0])["persons"]
