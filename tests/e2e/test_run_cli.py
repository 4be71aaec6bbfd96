"""`edgepose run` end to end: MMPose-exact keypoints, detection skipping on a real video, and bad input."""
from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from edgepose.runtimes.card import load_card
from edgepose.runtimes.third_party import wrap

from ..conftest import RTMDET_ONNX, SHARED, assert_one_line_error, need, reference, run_cli

VTEST = SHARED / "data" / "opencv-doc-debian" / "vtest.avi"
MOVENET = SHARED / "models" / "movenet" / "lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, reference_artifact):
    root = tmp_path_factory.mktemp("run")
    shutil.copytree(reference_artifact("rtmpose-t"), root / "rtmpose-t-onnx-fp32")
    wrap("rtmdet-onnx", [need(RTMDET_ONNX)], root / "det")
    wrap("movenet-tflite", [need(MOVENET)], root / "movenet")
    return root


def reference_case() -> tuple[str, str]:
    info = json.loads(reference("rtmpose-t", "facts.json").read_text())["image"]
    return str(SHARED / info["path"]), ",".join(str(v) for v in info["bbox_xyxy"])


@pytest.mark.parametrize("flip", [False, True], ids=["noflip", "flip"])
def test_run_with_fixed_box_gives_mmpose_keypoints(artifacts, tmp_path, flip):
    image, box = reference_case()
    out = tmp_path / "out.jsonl"
    args = ["run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"), "--source", image, "--boxes", box,
            "--json", str(out), "--no-progress"] + (["--flip-test"] if flip else [])
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 1 and records[0]["frame"] == 0 and records[0]["detector_ran"] is False
    person = records[0]["persons"][0]
    assert person["id"] is None and len(person["keypoints"]) == 17
    tag = "flip" if flip else "noflip"
    expected = np.load(reference("rtmpose-t", f"image_kpts_{tag}.npy"))[0]
    assert np.abs(np.array(person["keypoints"]) - expected).max() <= 1e-3


@pytest.mark.slow
def test_video_with_detection_skipping(artifacts, tmp_path):
    out, video = tmp_path / "vtest.jsonl", tmp_path / "vtest.mp4"
    result = run_cli("run", "--pose", str(artifacts / "movenet"), "--det", str(artifacts / "det"),
                     "--source", str(need(VTEST)), "--det-interval", "10", "--json", str(out), "--out", str(video),
                     "--threads", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 795 and [r["frame"] for r in records] == list(range(795))
    detected = sum(r["detector_ran"] for r in records)
    share = detected / len(records)
    # every 10th frame at least, plus re-detections when a track is lost (15.1 % measured; 23.5 % at interval 5)
    assert 0.1 <= share <= 0.2, f"detector ran on {share:.1%} of frames with --det-interval 10"
    assert np.mean([len(r["persons"]) for r in records]) >= 3, "vtest has 2-8 people in most frames"
    assert all(isinstance(p["id"], int) for r in records for p in r["persons"])
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 795
    summary = re.search(r"^795 frames, detector on (\d+) \(\d+%\), [\d.]+ FPS; threads: pose 1, det 1; device: [^;]+; "
                        r"ms/frame: pre ([\d.]+), det ([\d.]+), pose ([\d.]+)", result.stdout, re.M)
    assert summary, result.stdout
    assert int(summary.group(1)) == detected and all(float(v) > 0 for v in summary.groups()[1:])


@pytest.mark.slow
def test_skipping_detections_keeps_keypoints_close_to_detecting_every_frame(artifacts):
    from edgepose.calibration.tracking_fidelity import compare_runs
    from edgepose.runtimes.detector import Detector
    from edgepose.runtimes.pipeline import Pipeline
    from edgepose.runtimes.pose import PoseModel
    from edgepose.runtimes.sources import FrameSource
    from edgepose.runtimes.tracker import TrackerConfig

    runs = {}
    for interval in (1, 5):
        pipeline = Pipeline(PoseModel(artifacts / "movenet"), Detector(artifacts / "det"),
                            config=TrackerConfig(det_interval=interval))
        runs[interval] = [pipeline(frame) for _, frame in FrameSource(str(need(VTEST)))]
    result = compare_runs(runs[5], runs[1])
    assert result.frames == 795 and result.matched > 2000
    assert result.keypoint_distance_pct <= 5.0, f"{result.keypoint_distance_pct:.2f}% of box height"


def test_bad_inputs_give_one_line_and_exit_1(artifacts, tmp_path):
    image, box = reference_case()
    pose = str(artifacts / "rtmpose-t-onnx-fp32")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "edgepose.json").write_text((artifacts / "rtmpose-t-onnx-fp32" / "edgepose.json").read_text())
    (tmp_path / "bad.avi").write_text("not a video")
    (tmp_path / "empty.mp4").write_bytes(b"")
    cases = {
        "missing model file": (["--pose", str(broken), "--source", image, "--boxes", box], "which is missing"),
        "wrong task": (["--pose", str(artifacts / "det"), "--source", image, "--boxes", box], "detection model"),
        "detector as pose": (["--pose", pose, "--det", pose, "--source", image], "--det needs an RTMDet"),
        "unreadable video": (["--pose", pose, "--source", str(tmp_path / "bad.avi"), "--boxes", box], "not a readable video"),
        "empty video": (["--pose", pose, "--source", str(tmp_path / "empty.mp4"), "--boxes", box], "not a readable video"),
        "no such source": (["--pose", pose, "--source", str(tmp_path / "nope.jpg"), "--boxes", box], "no such file"),
        "zero-area box": (["--pose", pose, "--source", image, "--boxes", "10,10,10,50"], "has x2 <= x1"),
        "malformed boxes": (["--pose", pose, "--source", image, "--boxes", "1,2,3"], "four numbers"),
        "det and boxes": (["--pose", pose, "--det", str(artifacts / "det"), "--source", image, "--boxes", box],
                          "exactly one of"),
        "bad interval": (["--pose", pose, "--det", str(artifacts / "det"), "--source", image, "--det-interval", "0"],
                         "det_interval=0 is invalid"),
    }
    for name, (args, message) in cases.items():
        out = tmp_path / f"{name}.jsonl"
        result = run_cli("run", *args, "--json", str(out), "--no-progress")
        assert result.returncode == 1, f"{name}: exit {result.returncode}\n{result.stderr}"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], f"{name}: {result.stderr}"
        assert not out.exists(), f"{name}: left an output file"


def test_out_of_image_boxes_are_skipped_not_fatal(artifacts, tmp_path):
    image, box = reference_case()
    out = tmp_path / "o.jsonl"
    result = run_cli("run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"), "--source", image,
                     "--boxes", f"{box};5000,5000,5100,5200", "--json", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(out.read_text())["persons"]) == 1


def test_folder_skips_unreadable_images_and_out_writes_one_image_per_input(artifacts, tmp_path):
    """A bad file is skipped with a warning and counted; images of different sizes each get an annotated
    image of their own size in the --out folder (a video would have dropped all but one size)."""
    image, box = reference_case()
    folder = tmp_path / "frames"
    folder.mkdir()
    picture = cv2.imread(image)
    for name, scale in (("a.jpg", 1.0), ("b.png", 0.5), ("c.jpg", 1.5)):
        cv2.imwrite(str(folder / name), cv2.resize(picture, None, fx=scale, fy=scale))
    (folder / "bad.jpg").write_bytes(b"corrupt")
    out, annotated = tmp_path / "o.jsonl", tmp_path / "annotated"
    result = run_cli("run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"), "--source", str(folder),
                     "--boxes", box, "--json", str(out), "--out", str(annotated), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "bad.jpg" in result.stderr and "1 unreadable image skipped" in result.stdout
    assert [json.loads(line)["image"] for line in out.read_text().splitlines()] == ["a.jpg", "b.png", "c.jpg"]
    assert sorted(p.name for p in annotated.iterdir()) == ["a.jpg", "b.png", "c.jpg"]
    for name in ("a.jpg", "b.png", "c.jpg"):
        assert cv2.imread(str(annotated / name)).shape == cv2.imread(str(folder / name)).shape
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated", "frames", "o.jsonl"]


def test_negative_box_coordinates_are_values_not_options(artifacts, tmp_path):
    image, box = reference_case()
    x1, y1, x2, y2 = (float(v) for v in box.split(","))
    out = tmp_path / "o.jsonl"
    result = run_cli("run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"), "--source", image,
                     "--boxes", f"-50,{y1},{x2},{y2}", "--json", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["persons"][0]["box"][0] == -50


def test_allow_negative_numbers_helper():
    import argparse

    from edgepose.cli import allow_negative_numbers

    parser = argparse.ArgumentParser()
    parser.add_argument("--verify-box")
    allow_negative_numbers(parser)
    assert parser.parse_args(["--verify-box", "-5,-6.5,10,20"]).verify_box == "-5,-6.5,10,20"


MPEG4 = {"FMP4", "MP4V", "XVID", "DIVX"}  # FFmpeg reads an MPEG-4 part 2 stream back under any of these tags


@pytest.mark.parametrize("suffix, fourccs", [(".avi", {"MJPG"}), (".mkv", MPEG4), (".mp4", MPEG4), (".mov", MPEG4)])
def test_video_suffix_picks_a_codec_that_reads_back(artifacts, tmp_path, suffix, fourccs):
    _, box = reference_case()
    clip = short_clip(tmp_path, 6)
    video = tmp_path / f"out{suffix}"
    result = run_cli("run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"), "--source", str(clip),
                     "--boxes", box, "--out", str(video), "--no-progress")
    assert result.returncode == 0, result.stderr
    cap = cv2.VideoCapture(str(video))
    code = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().upper()
    assert code in fourccs and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6


def short_clip(folder, frames: int, fourcc: str = "mp4v"):
    """The first `frames` frames of vtest, 384x288, as an .avi."""
    cap = cv2.VideoCapture(str(need(VTEST)))
    clip = folder / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*fourcc), 10, (384, 288))
    for _ in range(frames):
        writer.write(cv2.resize(cap.read()[1], (384, 288)))
    writer.release()
    return clip


def test_truncated_video_says_how_many_frames_it_read(artifacts, tmp_path):
    _, box = reference_case()
    clip = short_clip(tmp_path, 30)
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size * 6 // 10])
    out = tmp_path / "o.jsonl"
    result = run_cli("run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"), "--source", str(clip),
                     "--boxes", box, "--json", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    read = len(out.read_text().splitlines())
    assert 0 < read < 30
    assert f"ended after {read} of the 30 frames" in result.stderr and "truncated" in result.stderr
    assert "ac-tex" not in result.stderr and "[mpeg4" not in result.stderr, "FFmpeg decoder noise"


def test_progress_is_not_redrawn_into_a_pipe(artifacts, tmp_path):
    _, box = reference_case()
    result = run_cli("run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"), "--source",
                     str(short_clip(tmp_path, 20)), "--boxes", box)
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and len(result.stderr.splitlines()) <= 1, result.stderr


def test_ctrl_c_keeps_the_finished_frames(artifacts, tmp_path):
    """SIGINT mid-video: the frame in progress is finished, the JSON lines and the video are closed,
    renamed into place and hold the same frames; exit 130."""
    _, box = reference_case()
    out, video = tmp_path / "o.jsonl", tmp_path / "o.mp4"
    cmd = [sys.executable, "-m", "edgepose", "run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"),
           "--source", str(need(VTEST)), "--boxes", box, "--flip-test", "--json", str(out), "--out", str(video),
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    part = tmp_path / ".o.part.jsonl"
    deadline = time.monotonic() + 120
    while not (part.exists() and part.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    lines = out.read_text().splitlines()
    frames = len(lines)
    assert 0 < frames < 795
    assert [json.loads(line)["frame"] for line in lines] == list(range(frames))
    assert f"interrupted after {frames} frames; wrote" in stderr and "Traceback" not in stderr
    cap = cv2.VideoCapture(str(video))
    decoded = 0
    while cap.read()[0]:
        decoded += 1
    assert decoded == frames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.jsonl", "o.mp4"]


def test_show_fails_in_one_line_before_models_load(tmp_path):
    """opencv-python-headless (what edgepose installs) cannot open windows: one line saying what to install."""
    from edgepose.runtimes.draw import check_display
    from edgepose.runtimes.errors import ConfigError

    try:
        check_display()
        pytest.skip("this OpenCV can open a window here")
    except ConfigError:
        pass
    result = run_cli("run", "--pose", str(tmp_path / "not-loaded"), "--source", str(tmp_path), "--boxes",
                     "0,0,10,10", "--show")
    assert_one_line_error(result, 1, "pip install opencv-python")


def test_card_checks_the_model_file_against_the_card(tmp_path):
    """Random bytes or a different model: one line, no artifact directory."""
    junk = tmp_path / "movenet.tflite"
    junk.write_bytes(np.random.default_rng(0).bytes(4000))
    other = need(SHARED / "models" / "mediapipe" / "pose_detection.tflite")
    for model, text in ((junk, "movenet.tflite"), (other, "different model")):
        result = run_cli("card", "movenet-tflite", str(model), "-o", str(tmp_path / "out"))
        assert_one_line_error(result, 1, text)
        assert not (tmp_path / "out").exists()
    result = run_cli("card", "movenet-tflite", str(need(MOVENET)), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert load_card(tmp_path / "out").input.dtype == "uint8"


def test_nan_model_outputs_drop_the_person(artifacts, tmp_path):
    """A real ONNX model whose heatmaps are NaN: the frame is written with no person, nothing crashes."""
    import onnx
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [17, 3, 4, 4], [float("nan")] * (17 * 3 * 16))
    node = helper.make_node("Conv", ["input", "w"], ["heatmaps"], kernel_shape=[4, 4], strides=[4, 4])
    graph = helper.make_graph([node], "nan", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 256, 192])],
                              [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, [1, 17, 64, 48])], [weight])
    model_dir = tmp_path / "nan-model"
    model_dir.mkdir()
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model_dir / "nan.onnx")
    card = json.loads((artifacts / "rtmpose-t-onnx-fp32" / "edgepose.json").read_text())
    card.update(files={"model": "nan.onnx"}, decoder={"type": "heatmap", "refine": "quarter_offset"},
                outputs=[{"name": "heatmaps", "role": "heatmaps", "shape": [1, 17, 64, 48]}])
    card["input"]["shape"] = [1, 3, 256, 192]
    (model_dir / "edgepose.json").write_text(json.dumps(card))
    assert load_card(model_dir).decoder["type"] == "heatmap"
    image, box = reference_case()
    out = tmp_path / "o.jsonl"
    result = run_cli("run", "--pose", str(model_dir), "--source", image, "--boxes", box, "--json", str(out),
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["persons"] == []


@pytest.mark.parametrize("extra", [["--kpt-threshold", "1000"], ["--flip-test"]], ids=["unreachable-threshold", "flip"])
def test_every_detected_person_is_reported_on_a_still_image(artifacts, tmp_path, extra):
    """A still image is a detector frame: each person the detector finds is in the output, however low the pose
    scores (a keypoint threshold nothing reaches used to empty the output with exit 0)."""
    from edgepose.runtimes.detector import Detector
    from edgepose.runtimes.pipeline import DET_SCORE

    image = need(SHARED / "data" / "mmpose" / "tests" / "data" / "coco" / "000000196141.jpg")
    dets = Detector(artifacts / "det")(cv2.imread(str(image)))
    expected = int((dets.scores >= DET_SCORE).sum())
    assert expected >= 3
    out = tmp_path / "p.jsonl"
    result = run_cli("run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"), "--det", str(artifacts / "det"),
                     "--source", str(image), "--json", str(out), "--no-progress", *extra)
    assert result.returncode == 0, result.stderr
    persons = json.loads(out.read_text().splitlines()[0])["persons"]
    assert len(persons) == expected
    assert sorted(p["id"] for p in persons) == list(range(expected))


def test_output_video_carries_no_frame_rate_overlay(artifacts, tmp_path):
    """The FPS figure is for the live window (--show); a written video shows the picture and the poses only."""
    clip = tmp_path / "clip.avi"
    cap = cv2.VideoCapture(str(need(VTEST)))
    first = cap.read()[1]
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, first.shape[1::-1])
    for frame in [first] + [cap.read()[1] for _ in range(4)]:
        writer.write(frame)
    writer.release()
    out = tmp_path / "out.avi"
    result = run_cli("run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"), "--boxes", "560,250,760,570",
                     "--source", str(clip), "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    source, drawn = cv2.VideoCapture(str(clip)).read()[1], cv2.VideoCapture(str(out)).read()[1]
    corner = (slice(0, 30), slice(0, 120))   # where the FPS text went; the box and its crop are far from it
    assert np.abs(drawn[corner].astype(int) - source[corner].astype(int)).max() < 40



def test_a_clean_run_prints_nothing_on_stderr(artifacts, tmp_path):
    """No third-party chatter (LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate", OpenCV warnings)."""
    result = run_cli("run", "--pose", str(artifacts / "movenet"), "--det", str(artifacts / "det"), "--source",
                     str(need(SHARED / "data" / "opencv-doc-debian" / "basketball1.png")), "--json",
                     str(tmp_path / "o.jsonl"), "--no-progress")
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_each_image_of_a_folder_starts_afresh(artifacts, tmp_path):
    """Images of a folder are unrelated: each is a detector frame and ids start at 0 again (no track carries
    over from the previous image)."""
    folder = tmp_path / "images"
    folder.mkdir()
    coco = SHARED / "data" / "mmpose" / "tests" / "data" / "coco"
    for i, name in enumerate(("000000196141.jpg", "000000040083.jpg", "000000196141.jpg")):
        shutil.copyfile(need(coco / name), folder / f"{i}.jpg")
    out = tmp_path / "o.jsonl"
    result = run_cli("run", "--pose", str(artifacts / "movenet"), "--det", str(artifacts / "det"), "--source",
                     str(folder), "--json", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["detector_ran"] for r in records] == [True, True, True]
    assert all(sorted(p["id"] for p in r["persons"]) == list(range(len(r["persons"]))) for r in records)
    assert records[0]["persons"] == records[2]["persons"], "the same image gives the same result"


def test_smoothing_runs_at_the_video_frame_rate(artifacts, tmp_path):
    """One-Euro smoothing depends on the frame rate: the same frames as a 5 fps and a 50 fps video give
    different smoothed keypoints (the source's rate reaches the filter), and without --smooth the same."""
    cap = cv2.VideoCapture(str(need(VTEST)))
    frames = [cap.read()[1] for _ in range(8)]
    outputs = {}
    for fps in (5, 50):
        clip = tmp_path / f"clip{fps}.avi"
        writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), fps, frames[0].shape[1::-1])
        for frame in frames:
            writer.write(frame)
        writer.release()
        for smooth in ([], ["--smooth"]):
            out = tmp_path / f"o{fps}{len(smooth)}.jsonl"
            result = run_cli("run", "--pose", str(artifacts / "movenet"), "--boxes", "380,100,520,420", "--source",
                             str(clip), "--json", str(out), "--no-progress", *smooth)
            assert result.returncode == 0, result.stderr
            outputs[fps, bool(smooth)] = [json.loads(line)["persons"] for line in out.read_text().splitlines()]
    assert outputs[5, False] == outputs[50, False]
    assert outputs[5, True] != outputs[50, True]
