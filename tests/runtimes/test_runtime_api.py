"""The Python API on real models (RTMDet-nano, MoveNet): what it accepts, what it refuses with one clear
ConfigError, and behaviours that the parity tests do not reach (card pad value and NMS threshold, MoveNet
flip test, track ids after a dropped box, One-Euro derivative filter, integer input quantization)."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.runtimes.card import InputSpec, load_card
from edgepose.runtimes.detector import Detections, Detector
from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.pipeline import Pipeline
from edgepose.runtimes.pose import PoseModel
from edgepose.runtimes.preprocess import to_network_input
from edgepose.runtimes.smoothing import OneEuroFilter
from edgepose.runtimes.third_party import wrap
from edgepose.runtimes.tracker import TrackerConfig

from ..conftest import RTMDET_ONNX, SHARED, need, reference

MOVENET = SHARED / "models" / "movenet" / "lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite"
PEOPLE = SHARED / "data" / "mmpose" / "tests" / "data" / "coco" / "000000196141.jpg"


@pytest.fixture(scope="module")
def dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("api")
    return {"det": wrap("rtmdet-onnx", [need(RTMDET_ONNX)], root / "det"),
            "pose": wrap("movenet-tflite", [need(MOVENET)], root / "pose")}


@pytest.fixture(scope="module")
def models(dirs) -> tuple[PoseModel, Detector]:
    return PoseModel(dirs["pose"]), Detector(dirs["det"])


def person() -> tuple[np.ndarray, np.ndarray]:
    info = json.loads(reference("rtmpose-t", "facts.json").read_text())["image"]
    return cv2.imread(str(SHARED / info["path"])), np.array([info["bbox_xyxy"]], np.float32)


# --- images and boxes -------------------------------------------------------------------------------------

BAD_IMAGES = {
    "None": (None, "image is None"),
    "float 0..1": (np.full((64, 48, 3), 0.5, np.float32), "uint8 BGR expected.*float32.*\\* 255"),
    "uint16": (np.full((64, 48, 3), 1000, np.uint16), "uint8 BGR expected.*uint16.*>> 8"),
    "0x0": (np.zeros((0, 0, 3), np.uint8), "empty"),
    "(H, W, 2)": (np.zeros((64, 48, 2), np.uint8), "expected \\(H, W, 3\\)"),
    "list": ([[0, 1], [2, 3]], "numpy array"),
}


@pytest.mark.parametrize("case", BAD_IMAGES)
@pytest.mark.parametrize("entry", ["PoseModel", "Detector", "Pipeline"])
def test_unusable_images_are_one_config_error_that_says_what_is_expected(models, case, entry):
    pose, det = models
    image, message = BAD_IMAGES[case]
    call = {"PoseModel": lambda: pose(image, [[0, 0, 10, 10]]), "Detector": lambda: det(image),
            "Pipeline": lambda: Pipeline(pose, det)(image)}[entry]
    with pytest.raises(ConfigError, match=message):
        call()


@pytest.mark.parametrize("gray", [lambda g: g, lambda g: g[..., None]], ids=["(H, W)", "(H, W, 1)"])
def test_grayscale_images_are_posed_and_detected_as_bgr(models, gray):
    pose, det = models
    image, box = person()
    g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    bgr = cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
    assert np.array_equal(pose(gray(g), box).keypoints, pose(bgr, box).keypoints)
    assert np.array_equal(det(gray(g)).boxes, det(bgr).boxes) and len(det(bgr)) >= 1
    assert len(Pipeline(pose, boxes=box)(gray(g)).persons) == 1


def test_boxes_with_a_score_column_use_the_first_four_columns(models):
    pose, _ = models
    image, box = person()
    with_score = np.concatenate([box, [[0.93]]], 1)
    expected = pose(image, box)
    for boxes in (with_score, with_score[0], with_score.tolist()):
        got = pose(image, boxes)
        assert np.array_equal(got.keypoints, expected.keypoints) and np.array_equal(got.boxes, box)
    assert len(Pipeline(pose, boxes=with_score)(image).persons) == 1


@pytest.mark.parametrize("boxes, message", [(None, "boxes is None"), ("a,b", "must be numbers"),
                                            (np.zeros((2, 3)), "expected \\(N, 4\\)"),
                                            (np.zeros((2, 4, 1)), "expected \\(N, 4\\)")])
def test_unusable_boxes_are_one_config_error(models, boxes, message):
    pose, _ = models
    with pytest.raises(ConfigError, match=message):
        pose(person()[0], boxes)


@pytest.mark.parametrize("boxes, message", [([[10, np.nan, 60, 300]], "box 0 .* is not finite"),
                                            ([[0, 0, 50, 50], [100, 50, 40, 120]], "box 1 .* not x, y, width")])
def test_fixed_boxes_that_cannot_be_persons_are_refused_when_the_pipeline_is_made(models, boxes, message):
    with pytest.raises(ConfigError, match=message):
        Pipeline(models[0], boxes=np.asarray(boxes, np.float32))


def test_pose_model_says_why_it_skips_a_malformed_box(models, caplog):
    pose, _ = models
    image, box = person()
    with caplog.at_level("WARNING", logger="edgepose.runtimes.pose"):
        poses = pose(image, np.concatenate([box, [[100, 50, 40, 120]]]))
    assert len(poses) == 1 and list(poses.indices) == [0]
    assert "skipping 1 of 2 boxes: box 1 (100, 50, 40, 120) has x2 <= x1" in caplog.text


def test_a_file_instead_of_an_artifact_folder_is_named_as_such(dirs):
    with pytest.raises(ConfigError, match="is a file, not an artifact folder"):
        PoseModel(need(PEOPLE))
    with pytest.raises(ConfigError, match="is a file, not an artifact folder"):
        Detector(next(dirs["det"].glob("*.onnx")))


# --- detector: the card's letterbox pad value and NMS threshold -------------------------------------------

def _with_decoder(directory: Path, target: Path, **changes) -> Path:
    card = load_card(directory)
    target.mkdir()
    for name in card.files.values():
        (target / name).symlink_to(directory / name)
    replace(card, decoder={**card.decoder, **changes}).save(target)
    return target


@pytest.mark.parametrize("pad", [None, 37])
def test_detector_letterbox_pads_with_the_cards_value(dirs, tmp_path, pad):
    directory = dirs["det"] if pad is None else _with_decoder(dirs["det"], tmp_path / "det", letterbox_pad_value=pad)
    det = Detector(directory)
    card = det.card
    inputs, scale = det.preprocess(np.zeros((100, 200, 3), np.uint8))
    assert scale == pytest.approx(1.6) and inputs.shape == (1, 3, 320, 320)
    value = 114 if pad is None else pad   # RTMDet was trained on 114-padded letterboxes
    expected = (value - np.float32(card.input.mean)) / np.float32(card.input.std)
    assert np.allclose(inputs[0, :, 160:, :].reshape(3, -1).T, expected, atol=1e-6)   # the padded bottom
    assert np.allclose(inputs[0, :, :160, :].reshape(3, -1).T, -np.float32(card.input.mean) / card.input.std)


def _two_boxes_at_iou(det: Detector, iou: float) -> dict[str, np.ndarray]:
    """Raw outputs with two confident boxes of 80×80 px, shifted in x so that their IoU is `iou`."""
    shift = 80 * (1 - iou) / (1 + iou)
    outputs = {}
    for spec in det.card.output("cls_box"):
        n = 320 // spec.stride
        t = np.zeros((1, n, n, 5), np.float32)
        t[..., 0] = -20.0
        outputs[spec.name] = t
    spec = det.card.output("cls_box")[0]
    t, s = outputs[spec.name], spec.stride
    t[0, 10, 10] = [4.0, 40, 40, 40, 40]                                # box (40, 40, 120, 120) at point (80, 80)
    px = 12 * s
    t[0, 10, 12] = [3.0, px - 40 - shift, 40, 120 + shift - px, 40]      # the same box moved right by `shift`
    return outputs


@pytest.mark.parametrize("iou, kept", [(0.65, 1), (0.55, 2)])
def test_nms_uses_the_cards_threshold(models, iou, kept):
    """The card says nms_iou 0.6 (MMDetection's RTMDet test config): boxes at IoU 0.65 are one person."""
    _, det = models
    assert det.card.decoder["nms_iou"] == 0.6
    found = det.decode(_two_boxes_at_iou(det, iou), 1.0, (320, 320, 3))
    assert len(found) == kept and np.allclose(found.boxes[0], [40, 40, 120, 120], atol=1e-4)


# --- MoveNet flip test --------------------------------------------------------------------------------------

def test_movenet_flip_test_swaps_left_and_right(dirs):
    image, box = person()
    plain, flipped = PoseModel(dirs["pose"])(image, box), PoseModel(dirs["pose"], flip_test=True)(image, box)
    confident = (plain.scores[0] > 0.3) & (flipped.scores[0] > 0.3)
    assert confident.sum() >= 10
    height = box[0, 3] - box[0, 1]
    moved = np.linalg.norm(plain.keypoints[0] - flipped.keypoints[0], axis=1)[confident]
    assert moved.max() < 0.05 * height, moved   # left/right unswapped: shoulders, hips... meet in the middle


# --- pipeline: track ids stay with their poses when a detection box is dropped ------------------------------

class _DetectorWithEmptyBox(Detector):
    """The real detector; from the second call on, a box of zero area comes first, which the pose model drops."""

    calls = 0

    def decode(self, outputs, scale, image_shape) -> Detections:
        found = super().decode(outputs, scale, image_shape)
        self.calls += 1
        if self.calls == 1:
            return found
        return Detections(np.concatenate([[[5, 5, 5, 50]], found.boxes]).astype(np.float32),
                          np.concatenate([[0.99], found.scores]).astype(np.float32),
                          np.concatenate([[0], found.labels]).astype(np.int64))


def test_track_ids_stay_with_their_poses_when_a_box_is_dropped(dirs, models):
    pose, _ = models
    pipeline = Pipeline(pose, _DetectorWithEmptyBox(dirs["det"]), config=TrackerConfig(det_interval=1))
    image = cv2.imread(str(need(PEOPLE)))
    first = {p.id: p.keypoints for p in pipeline(image).persons}
    assert len(first) >= 2, "the test image needs two tracked persons"
    second = pipeline(image).persons
    assert {p.id for p in second} == set(first)
    for p in second:   # the same image: each id has the very pose it had
        assert np.abs(p.keypoints - first[p.id]).max() < 1e-3, p.id


# --- One-Euro filter: the speed estimate is low-pass filtered ------------------------------------------------

def _one_euro_reference(signal: list[float], freq: float, min_cutoff: float, beta: float, d_cutoff: float) -> list[float]:
    """Casiez et al. 2012, scalar, as published."""
    alpha = lambda cutoff: 1.0 / (1.0 + freq / (2 * math.pi * cutoff))  # noqa: E731
    x_hat, dx_hat, out = signal[0], 0.0, [signal[0]]
    for x in signal[1:]:
        dx_hat = alpha(d_cutoff) * (x - x_hat) * freq + (1 - alpha(d_cutoff)) * dx_hat
        a = alpha(min_cutoff + beta * abs(dx_hat))
        x_hat = a * x + (1 - a) * x_hat
        out.append(x_hat)
    return out


def test_one_euro_filter_equals_the_published_algorithm_with_a_speed_term():
    rng = np.random.default_rng(3)
    signal = (np.linspace(0, 200, 90) ** 1.3 + rng.normal(0, 3, 90)).tolist()  # accelerating, noisy
    f = OneEuroFilter(30.0, min_cutoff=1.0, beta=0.3, d_cutoff=1.0)
    got = [float(f(np.array([v]))[0]) for v in signal]
    assert np.allclose(got, _one_euro_reference(signal, 30.0, 1.0, 0.3, 1.0), rtol=1e-5, atol=1e-3)


# --- integer model inputs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, zero_point", [("int8", -7), ("uint8", 128)])
def test_integer_input_quantization_uses_scale_and_zero_point(dtype, zero_point):
    spec = InputSpec("x", [1, 3, 4, 4], "NCHW", dtype, "RGB", [100.0, 110.0, 120.0], [50.0, 60.0, 70.0],
                     {"scale": 0.03, "zero_point": zero_point})
    crops = np.random.default_rng(0).integers(0, 256, (1, 4, 4, 3), np.uint8)
    real = (crops[..., ::-1].astype(np.float32) - np.float32(spec.mean)) / np.float32(spec.std)
    info = np.iinfo(dtype)
    expected = np.clip(np.round(real / 0.03) + zero_point, info.min, info.max).astype(dtype).transpose(0, 3, 1, 2)
    got = to_network_input(crops, spec)
    assert got.dtype == np.dtype(dtype) and np.array_equal(got, expected)
