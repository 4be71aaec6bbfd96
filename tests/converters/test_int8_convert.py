"""Tier 3 INT8: RTMDet-nano (real weights) keeps its detections in INT8 on ONNX, NCNN and TFLite with mixed
precision; every pose model converts to INT8 on all three targets and runs; bad calibration input fails
cleanly with nothing written."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edgepose.runtimes.card import load_card
from edgepose.runtimes.detector import Detector
from edgepose.runtimes.pose import PoseModel
from edgepose.runtimes.preprocess import box_to_center_scale

from ..conftest import (ACCURATE_BUDGET, INT8_CALIB, INT8_HOLDOUT, INT8_ROUTE_MODELS, RTMDET_ONNX, SHARED,
                        ZOO_TARGETS, need, reference, run_cli)

TARGETS = ZOO_TARGETS


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_rtmdet_int8_keeps_every_person(rtmdet_int8, target):
    """The issue's bar, on held-out COCO / OCHuman / CrowdPose images against the fp32 artifact: mean
    matched-box IoU ≥ 0.95, mean person-score drop ≤ 0.05, no person at score 0.5 lost."""
    out, _ = rtmdet_int8
    card = load_card(out / f"rtmdet-nano-{target}-int8")
    fidelity, calibration = card.fidelity, card.calibration
    assert card.precision == "int8" and fidelity["split"] == "held-out" and fidelity["images"] == 9
    assert fidelity["persons"] >= 20
    assert fidelity["missed"] == 0 and fidelity["lost"] == 0, fidelity
    assert fidelity["matched_iou_mean"] >= 0.95, fidelity
    assert fidelity["matched_iou_min"] <= fidelity["matched_iou_median"] <= 1, fidelity
    assert fidelity["score_drop_mean"] <= 0.05, fidelity
    assert calibration["int8_layers"] >= 10, calibration          # mixed, not float in disguise
    assert calibration["int8_layers"] + len(calibration["float_layers"]) == calibration["quantizable_layers"]
    assert calibration["method"] == "percentile" and calibration["samples"] == 100
    speed = calibration["latency_ms_1_thread"]
    assert {"fp32", "int8", "int8_all_layers"} <= set(speed) and all(v > 0 for v in speed.values())
    ap = fidelity["coco_ap"]   # person box AP on the 10 ground-truth images: 0.391 fp32, INT8 0.384-0.389
    assert ap["fp32"]["images"] == 10 and ap["fp32"]["AP"] > 0.3
    assert ap["int8"]["AP"] >= ap["fp32"]["AP"] - 0.03, ap


@pytest.mark.slow
def test_rtmdet_int8_files_are_really_integer(rtmdet_int8):
    out, stdout = rtmdet_int8
    assert stdout.count("); INT8\n") == 3 and "matched_iou_mean" in stdout and "COCO AP on" in stdout
    ncnn = load_card(out / "rtmdet-nano-ncnn-int8")
    param = (out / "rtmdet-nano-ncnn-int8" / ncnn.files["param"]).read_text()
    int8_layers = [line for line in param.splitlines() if " 8=" in line]
    assert len(int8_layers) == ncnn.calibration["int8_layers"]
    table = (out / "rtmdet-nano-ncnn-int8" / "rtmdet-nano.table").read_text().splitlines()
    assert len(table) == 2 * len(int8_layers) and table[0].split()[0].endswith("_param_0")
    import onnx

    model = onnx.load(str(out / "rtmdet-nano-onnx-int8" / "rtmdet-nano.onnx"))
    assert sum(n.op_type == "QuantizeLinear" for n in model.graph.node) >= 10
    assert any(i.data_type == onnx.TensorProto.INT8 for i in model.graph.initializer)
    from ai_edge_litert.interpreter import Interpreter

    tfl = Interpreter(model_path=str(out / "rtmdet-nano-tflite-int8" / "rtmdet-nano.tflite"))
    assert tfl.get_input_details()[0]["dtype"] == np.float32        # float I/O for the app
    assert sum(t["dtype"] == np.int8 for t in tfl.get_tensor_details()) >= 50
    assert (out / "rtmdet-nano-ncnn-int8" / ncnn.files["bin"]).stat().st_size < \
        (out / "rtmdet-nano-ncnn-fp32" / ncnn.files["bin"]).stat().st_size


@pytest.mark.slow
def test_int8_detector_runs_the_pipeline_on_video(rtmdet_int8, tmp_path):
    out, _ = rtmdet_int8
    image = cv2.imread(str(need(INT8_HOLDOUT[0] / "000000196141.jpg")))
    for target in TARGETS:
        found = Detector(out / f"rtmdet-nano-{target}-int8")(image)
        assert (found.scores >= 0.5).sum() >= 3, target


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_trained_rtmpose_int8_stays_within_a_pixel_of_fp32(trained_pose_int8, target):
    """The issue's bar on held-out frames the model was not trained on: mean keypoint shift vs fp32 ≤ 1.0 px at
    256×192, p95 ≤ 3 px, OKS vs fp32 ≥ 0.95, ≥ 85 % of the layers int8 (measured with 128 samples: mean
    0.72-0.91 px, p95 2.1-2.5 px, OKS 0.99, every layer int8; docs/int8.md table)."""
    out, _ = trained_pose_int8
    card = load_card(out / f"rtmpose-t-{target}-int8")
    fidelity, calibration = card.fidelity, card.calibration
    assert fidelity["split"] == "held-out" and fidelity["crops"] >= 90
    assert fidelity["keypoint_px_mean"] <= 1.0, fidelity
    assert fidelity["keypoint_px_p95"] <= 3.0, fidelity
    assert fidelity["oks_mean"] >= 0.95 and fidelity["score_correlation"] >= 0.98, fidelity
    assert calibration["int8_layers"] >= 0.85 * calibration["quantizable_layers"], calibration
    assert calibration["sources"] == ["vtest.avi#0-635"]
    check = calibration["holdout_check"]
    assert check["holds"] and check["budget_px"] == float(ACCURATE_BUDGET), check
    # the sanity row: COCO keypoint AP on the 10 GT photos with GT boxes (the distilled model is weak there:
    # fp32 AP 0.085; measured INT8 0.067-0.075, AP50 0.245-0.315 vs 0.315 with 128 samples)
    ap = fidelity["coco_ap"]
    assert ap["fp32"]["images"] == 10 and ap["fp32"]["AP"] > 0.05, ap
    assert ap["int8"]["AP"] >= ap["fp32"]["AP"] - 0.04 and ap["int8"]["AP50"] >= ap["fp32"]["AP50"] - 0.12, ap


@pytest.mark.slow
def test_trained_rtmpose_int8_runs_integer_kernels(trained_pose_int8, tmp_path):
    """ncnn quantizes the SimCC head's Gemm layers; onnxruntime's CPU provider fuses the QDQ convs into
    QLinearConv; LiteRT runs the GAU and the output layers with 16-bit activations."""
    import onnx
    import onnxruntime as ort

    out, _ = trained_pose_int8
    param = next((out / "rtmpose-t-ncnn-int8").glob("*.param")).read_text().splitlines()
    gemms = [line for line in param if line.startswith("Gemm")]
    assert len(gemms) >= 5 and all(" 18=2" in line for line in gemms)
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(out / "rtmpose-t-onnx-int8" / "rtmpose-t.onnx"), options,
                         providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    assert ops.count("QLinearConv") >= 30 and "Conv" not in ops, sorted(set(ops))
    tflite = load_card(out / "rtmpose-t-tflite-int8").calibration
    assert len(tflite["int16_activation_layers"]) == 5, tflite   # the GAU (3 units) and the 2 outputs


@pytest.fixture(scope="module")
def pose_int8(zoo_artifacts):
    """One pose model per family, all targets, every layer int8 (--max-error off), from the run's shared
    conversion (conftest.zoo_artifacts): the route, not the accuracy — the reference weights are random."""
    out, runs = zoo_artifacts
    for model in INT8_ROUTE_MODELS:
        assert "person crops (fewer than 100)" in runs[model].stderr   # 31 ground-truth persons: warned
    return out


@pytest.mark.slow
@pytest.mark.parametrize("model", INT8_ROUTE_MODELS)
def test_pose_model_int8_runs_on_every_target(pose_int8, model):
    info = json.loads(reference(model, "facts.json").read_text())["image"]
    image = cv2.imread(str(SHARED / info["path"]))
    box = np.array([info["bbox_xyxy"]], np.float32)
    for target in TARGETS:
        directory = pose_int8 / f"{model}-{target}-int8"
        card = load_card(directory)
        assert card.precision == "int8" and not card.calibration["float_layers"]
        fidelity = card.fidelity
        # random weights, every layer int8: measured OKS vs fp32 0.16–0.64 (rtmpose-t/-s, litehrnet-18; down to
        # 0.024 on litehrnet-30's ncnn, whose 30 random stages are chaotic); a report that is not computed on the
        # held-out crops has no numbers. The crop check below is what a wrong scale or broken graph fails.
        assert fidelity["crops"] >= 5 and fidelity["oks_min"] <= fidelity["oks_mean"] <= 1
        assert fidelity["oks_mean"] >= 0.05, fidelity
        pose = PoseModel(directory)
        poses = pose(image, box)
        assert poses.keypoints.shape == (1, 17, 2) and np.isfinite(poses.keypoints).all()
        # decoders only place keypoints on the input grid (or at the -1 marker of an unsure one, ×4 for
        # heatmaps): back in the image, every keypoint lies in the crop the box gave
        center, scale = box_to_center_scale(box[0], pose.input_wh, pose.card.bbox_padding)
        in_input_px = (poses.keypoints[0] - (center - scale / 2)) / scale * np.array(pose.input_wh)
        assert (in_input_px >= -4.5).all() and (in_input_px <= np.array(pose.input_wh) + 0.5).all(), in_input_px


@pytest.mark.parametrize("args, needle", [
    (["--int8"], "--int8 needs calibration data"),
    (["--int8", "--calib", "EMPTY"], "has no images"),
    (["--int8", "--calib", "NOTHING"], "no such file or folder"),
    (["--int8", "--calib", "EMPTY", "--method", "kl"], "invalid choice"),
    (["--int8", "--calib", "EMPTY", "--max-error", "big"], "not a number of pixels"),
    (["--int8", "--calib", "EMPTY", "--samples", "0"], "--samples must be ≥ 1"),
])
@pytest.mark.slow
def test_bad_int8_options_fail_before_anything_is_written(tmp_path, args, needle):
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "empty") if a == "EMPTY" else str(tmp_path / "nothing") if a == "NOTHING" else a
            for a in args]
    result = run_cli("convert", "rtmdet-nano", "--weights", str(need(RTMDET_ONNX)), "--target", "onnx",
                     "--precision", "fp32", *args, "-o", str(tmp_path / "out"), "--no-progress")
    assert result.returncode in (1, 2) and needle in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_pose_calibration_on_video_without_boxes_fails_cleanly(tmp_path):
    result = run_cli("convert", "rtmpose-t", "--weights", str(reference("rtmpose-t", "checkpoint_published.pth")),
                     "--int8", "--calib", str(need(INT8_CALIB[0])), "-o", str(tmp_path / "out"), "--no-progress")
    assert result.returncode == 1 and "--calib-det" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_int8_from_one_calibration_image_reports_fidelity_in_sample(tmp_path):
    """One image cannot be split one in five: the report is measured on the calibration sample itself, says
    so in the card and the printout, and warns (it used to report no fidelity at all)."""
    from edgepose.converters.convert_int8 import IN_SAMPLE

    image = need(SHARED / "data" / "mmpose" / "tests" / "data" / "coco" / "000000196141.jpg")
    result = run_cli("convert", "rtmdet-nano", "--weights", str(need(RTMDET_ONNX)), "--target", "onnx",
                     "--precision", "fp32", "--int8", "--calib", str(image), "--max-error", "off",
                     "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr, "progress bars redrawn into a pipe"
    card = load_card(tmp_path / "rtmdet-nano-onnx-int8")
    assert card.fidelity["split"] == IN_SAMPLE
    assert card.fidelity["images"] == 1 and card.fidelity["persons"] >= 3, card.fidelity
    assert card.calibration["holdout_check"] is None
    assert "too few to hold one in five out" in result.stderr
    assert f"vs fp32 on the {IN_SAMPLE} split" in result.stdout
