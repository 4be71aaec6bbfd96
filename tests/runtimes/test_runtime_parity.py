"""Issue tier 2 for the run side: preprocessing, decoding and flip test equal MMPose on a real image."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edgepose.runtimes.decoders import flip_heatmaps, flip_simcc
from edgepose.runtimes.pose import PoseModel
from edgepose.runtimes.preprocess import crop_person, to_image_coords, warp_matrix

from ..conftest import POSE_MODELS, SHARED, reference


def facts(model: str) -> dict:
    return json.loads(reference(model, "facts.json").read_text())


def reference_image(model: str) -> tuple[np.ndarray, np.ndarray]:
    info = facts(model)["image"]
    image = cv2.imread(str(SHARED / info["path"]))
    assert image is not None, f"cannot read {info['path']}"
    return image, np.array(info["bbox_xyxy"], np.float32)


@pytest.fixture(scope="module")
def artifacts(reference_artifact):
    """ONNX artifacts of the five pose models from the reference checkpoints (converted once per session)."""
    return {model: reference_artifact(model) for model in POSE_MODELS}


@pytest.mark.parametrize("model", POSE_MODELS)
def test_crop_and_network_input_equal_mmpose(model, artifacts):
    image, box = reference_image(model)
    pose = PoseModel(artifacts[model])
    crop, center, scale = crop_person(image, box, pose.input_wh, pose.card.bbox_padding)
    assert np.array_equal(warp_matrix(center, scale, pose.input_wh), np.load(reference(model, "image_warp_mat.npy")))
    assert np.array_equal(crop.transpose(2, 0, 1), np.load(reference(model, "image_crop_bgr_u8.npy"))), \
        "uint8 crop differs from MMPose's (OpenCV 5.x warps differently; edgepose needs OpenCV 4.x)"
    inputs, _, _ = pose.preprocess(image, box[None])
    assert np.abs(inputs - np.load(reference(model, "image_input.npy"))).max() <= 1e-5


@pytest.mark.parametrize("model", POSE_MODELS)
@pytest.mark.parametrize("flip", [False, True], ids=["noflip", "flip"])
def test_decoding_mmpose_raw_outputs_gives_mmpose_keypoints(model, flip, artifacts):
    image, box = reference_image(model)
    pose = PoseModel(artifacts[model])
    _, center, scale = pose.preprocess(image, box[None])
    load = lambda name: np.load(reference(model, f"{name}.npy"))  # noqa: E731
    if pose.card.decoder["type"] == "simcc":
        raw = {"simcc_x": load("image_raw_simcc_x"), "simcc_y": load("image_raw_simcc_y")}
        if flip:
            fx, fy = flip_simcc(load("image_raw_flip_simcc_x"), load("image_raw_flip_simcc_y"), pose.flip_idx)
            raw = {"simcc_x": (raw["simcc_x"] + fx) * np.float32(0.5), "simcc_y": (raw["simcc_y"] + fy) * np.float32(0.5)}
    else:
        raw = {"heatmaps": load("image_raw_heatmaps")}
        if flip:
            raw = {"heatmaps": (raw["heatmaps"] + flip_heatmaps(load("image_raw_flip_heatmaps"), pose.flip_idx))
                   * np.float32(0.5)}
    kpts, scores = pose.decode(raw)
    kpts = to_image_coords(kpts, center, scale, pose.input_wh)
    tag = "flip" if flip else "noflip"
    assert np.abs(kpts - load(f"image_kpts_{tag}")).max() <= 1e-3
    assert np.array_equal(scores, load(f"image_scores_{tag}"))


@pytest.mark.parametrize("model", POSE_MODELS)
@pytest.mark.parametrize("flip", [False, True], ids=["noflip", "flip"])
def test_pose_model_end_to_end_gives_mmpose_keypoints(model, flip, artifacts):
    image, box = reference_image(model)
    poses = PoseModel(artifacts[model], flip_test=flip)(image, box[None])
    tag = "flip" if flip else "noflip"
    assert np.abs(poses.keypoints - np.load(reference(model, f"image_kpts_{tag}.npy"))).max() <= 1e-3
    assert np.abs(poses.scores - np.load(reference(model, f"image_scores_{tag}.npy"))).max() <= 2e-3


def test_boxes_without_area_inside_the_image_are_skipped(artifacts):
    image, box = reference_image("rtmpose-t")
    pose = PoseModel(artifacts["rtmpose-t"])
    h, w = image.shape[:2]
    boxes = np.array([box, [10, 10, 10, 50], [w + 5, 0, w + 50, 40], [np.nan, 0, 5, 5], [-50, -50, -1, -1]], np.float32)
    poses = pose(image, boxes)
    assert len(poses) == 1 and np.array_equal(poses.boxes[0], box) and poses.indices.tolist() == [0]
    assert len(pose(image, np.zeros((0, 4)))) == 0
