"""`edgepose run` end to end: MMPose-exact keypoints, detection skipping on a real video, and bad input."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edgepose.runtimes.card import load_card
from edgepose.runtimes.third_party import wrap

from .conftest import RTMDET_ONNX, SHARED, need, reference, run_cli

VTEST = SHARED / "data" / "opencv-doc-debian" / "vtest.avi"
MOVENET = SHARED / "models" / "movenet" / "lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    result = run_cli("convert", "rtmpose-t", "--weights", str(reference("rtmpose-t", "checkpoint_published.pth")),
                     "-o", str(root))
    assert result.returncode == 0, result.stderr
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
                     "--source", str(need(VTEST)), "--det-interval", "5", "--json", str(out), "--out", str(video),
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 795 and [r["frame"] for r in records] == list(range(795))
    share = sum(r["detector_ran"] for r in records) / len(records)
    assert share <= 0.25, f"detector ran on {share:.1%} of frames with --det-interval 5"
    assert np.mean([len(r["persons"]) for r in records]) >= 3, "vtest has 2-8 people in most frames"
    assert all(isinstance(p["id"], int) for r in records for p in r["persons"])
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 795
    assert "per frame" in result.stdout or "ms/frame" in result.stdout


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
        "zero-area box": (["--pose", pose, "--source", image, "--boxes", "10,10,10,50"], "has no area"),
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


def test_failure_mid_stream_leaves_no_output(artifacts, tmp_path):
    image, box = reference_case()
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.jpg").write_bytes(open(image, "rb").read())
    (folder / "3.jpg").write_bytes(b"corrupt")
    out, video = tmp_path / "o.jsonl", tmp_path / "o.mp4"
    result = run_cli("run", "--pose", str(artifacts / "rtmpose-t-onnx-fp32"), "--source", str(folder),
                     "--boxes", box, "--json", str(out), "--out", str(video), "--no-progress")
    assert result.returncode == 1 and "3.jpg could not be decoded" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"], "partial outputs were left behind"


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
