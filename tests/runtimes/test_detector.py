"""Tier 4: RTMDet-nano (real weights) through onnxruntime and ncnn on real images with ground truth."""
from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from edgepose.runtimes.boxes import greedy_match, iou_matrix, nms
from edgepose.runtimes.card import load_card
from edgepose.runtimes.decoding import RtmdetDecoder
from edgepose.runtimes.detector import Detector, letterbox
from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.third_party import wrap

from ..conftest import RTMDET_ONNX, SHARED, need

GT = SHARED / "data" / "combined_coco17_gt.json"


def ground_truth() -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, boxes xyxy of the persons with keypoint annotations) for the COCO and OCHuman test images."""
    data = json.loads(need(GT).read_text())
    items = []
    for image in data["images"]:
        if not image["source"].startswith(("COCO", "OCHuman")):
            continue
        boxes = [a["bbox"] for a in data["annotations"]
                 if a["image_id"] == image["id"] and not a.get("iscrowd") and a.get("num_keypoints", 0) > 0]
        xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], np.float32)
        items.append((cv2.imread(str(SHARED / "data" / image["file_name"])), xyxy))
    return items


@pytest.fixture(scope="module")
def detectors(tmp_path_factory, reference_artifact):
    root = tmp_path_factory.mktemp("det")
    models = need(RTMDET_ONNX).parent
    onnx_dir = wrap("rtmdet-onnx", [RTMDET_ONNX], root / "onnx")
    ncnn_dir = wrap("rtmdet-ncnn", [models / "rtmdet-nano.param", models / "rtmdet-nano.bin"], root / "ncnn")
    return {"onnx": Detector(onnx_dir), "ncnn": Detector(ncnn_dir),
            "converted": Detector(reference_artifact("rtmdet-nano"))}


@pytest.mark.parametrize("backend", ["onnx", "ncnn", "converted"])
def test_rtmdet_finds_at_least_90_percent_of_annotated_persons(detectors, backend):
    covered = one_to_one = total = 0
    for image, gt in ground_truth():
        dets = detectors[backend](image)
        total += len(gt)
        if len(dets):
            iou = iou_matrix(gt, dets.boxes)
            covered += int((iou.max(1) >= 0.5).sum())
            one_to_one += len(greedy_match(iou, 0.5))
    assert total == 17, f"expected the 17 COCO + OCHuman persons with keypoints, found {total}"
    assert covered / total >= 0.9, f"{backend}: {covered}/{total} persons have a detection at IoU ≥ 0.5"
    # two OCHuman pairs overlap so much that NMS keeps one box for both (measured: 15/17 one-to-one)
    assert one_to_one / total >= 0.85, f"{backend}: {one_to_one}/{total} persons matched one-to-one"


def test_onnxruntime_and_ncnn_boxes_agree_within_one_pixel(detectors):
    for image, _ in ground_truth():
        a, b = detectors["onnx"](image), detectors["ncnn"](image)
        assert len(a) == len(b), f"ORT found {len(a)} persons, ncnn {len(b)}"
        if len(a):
            assert np.abs(a.boxes - b.boxes).max() <= 1.0
            assert np.abs(a.scores - b.scores).max() <= 0.01


def test_converted_detector_equals_the_public_export(detectors):
    for image, _ in ground_truth():
        a, b = detectors["onnx"](image), detectors["converted"](image)
        assert len(a) == len(b) and np.abs(a.boxes - b.boxes).max() <= 1e-2


def test_letterbox_pads_right_and_bottom_with_114():
    canvas, scale = letterbox(np.zeros((100, 200, 3), np.uint8), (320, 320))
    assert scale == pytest.approx(1.6) and canvas[:160].max() == 0 and (canvas[160:] == 114).all()


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    assert nms(boxes, np.array([0.8, 0.9, 0.5]), 0.5).tolist() == [1, 2]


def test_pose_card_is_refused_as_a_detector(tmp_path):
    movenet = need(SHARED / "models" / "movenet" / "lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite")
    with pytest.raises(ConfigError, match="--det needs an RTMDet artifact"):
        Detector(wrap("movenet-tflite", [movenet], tmp_path / "movenet"))


def test_letterbox_rounds_the_scaled_side():
    """5 × 320 / 7 = 228.57: the resized side is 229 pixels (rounded), then padding."""
    for shape, along in (((5, 7, 3), 0), ((7, 5, 3), 1)):
        canvas, _ = letterbox(np.zeros(shape, np.uint8), (320, 320))
        line = canvas[:, 0, 0] if along == 0 else canvas[0, :, 0]
        assert (line[:229] == 0).all() and (line[229:] == 114).all()


def test_detector_drops_a_score_exactly_at_the_threshold(tmp_path):
    """sigmoid(0) = 0.5 exactly: with score_threshold 0.5 the box is not kept (MMDetection keeps score > thr)."""
    card = load_card(wrap("rtmdet-onnx", [need(RTMDET_ONNX)], tmp_path / "det"))
    card = replace(card, decoder={**card.decoder, "score_threshold": 0.5})
    decoder = RtmdetDecoder(card)
    outputs = {}
    for spec in card.outputs:
        n = spec.shape[1]
        maps = np.zeros((1, n, n, 5), np.float32)
        maps[..., 0] = -20.0
        maps[0, 0, 0, 0] = 0.0
        maps[0, 0, 0, 1:] = 10.0
        outputs[spec.name] = maps
    assert len(decoder.decode(outputs, 1.0, (320, 320, 3))) == 0
    outputs[card.outputs[0].name][0, 0, 0, 0] = 0.01
    assert len(decoder.decode(outputs, 1.0, (320, 320, 3))) == 1


def test_letterbox_into_a_non_square_input_takes_the_tighter_side():
    canvas, scale = letterbox(np.zeros((100, 100, 3), np.uint8), (240, 320))
    assert scale == 2.4 and canvas.shape == (240, 320, 3)
    assert (canvas[:, :240] == 0).all() and (canvas[:, 240:] == 114).all()
    canvas, scale = letterbox(np.zeros((100, 200, 3), np.uint8), (240, 320))   # the width binds: 320 / 200
    assert scale == 1.6 and (canvas[:160] == 0).all() and (canvas[160:] == 114).all()


def test_detector_input_pads_with_114_when_the_card_names_no_pad_value(tmp_path):
    from edgepose.runtimes.detector import detector_inputs

    card = load_card(wrap("rtmdet-onnx", [need(RTMDET_ONNX)], tmp_path / "det"))
    decoder = {k: v for k, v in card.decoder.items() if k != "letterbox_pad_value"}
    x, _ = detector_inputs(replace(card, decoder=decoder), np.zeros((160, 320, 3), np.uint8))
    mean, std = np.float32(card.input.mean), np.float32(card.input.std)
    np.testing.assert_allclose(x[0, :, -1, 0], (114 - mean) / std, rtol=1e-6)   # bottom rows: padding

