"""One preprocessing path: the crops the runtime feeds a model, the ones verification compares on and the ones
INT8 calibration observes are the same, made by `pose_inputs` / `detector_inputs` from the card — shown on a UDP
card (whose crops differ from the plain MMPose affine) and on a detector card with its own pad value."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.converters.convert_int8 import network_inputs
from edgepose.converters.verify import ProbeInput
from edgepose.runtimes.card import load_card
from edgepose.runtimes.detector import Detector
from edgepose.runtimes.pose import PoseModel
from edgepose.runtimes.tasks import Sample
from edgepose.runtimes.third_party import wrap

from ..conftest import RTMDET_ONNX, SHARED, need

IMAGE = SHARED / "data" / "mmpose" / "tests" / "data" / "coco" / "000000196141.jpg"
BOX = (280.79, 44.73, 499.49, 391.41)


def _with_decoder(src: Path, dst: Path, **changes) -> Path:
    """A copy of an artifact whose card's decoder block has `changes`."""
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).symlink_to(f)
    (dst / "edgepose.json").unlink()
    data = json.loads((src / "edgepose.json").read_text())
    data["decoder"].update(changes)
    (dst / "edgepose.json").write_text(json.dumps(data))
    return dst


@pytest.fixture(scope="module")
def heatmap_artifact(reference_artifact) -> Path:
    return reference_artifact("litehrnet-18")


def test_udp_crops_are_the_same_for_runtime_verification_and_calibration(heatmap_artifact, tmp_path):
    udp = _with_decoder(heatmap_artifact, tmp_path / "udp", refine="udp")
    image = cv2.imread(str(need(IMAGE)))
    box = np.asarray(BOX, np.float32)
    runtime = PoseModel(udp).preprocess(image, box[None])[0]
    verified = ProbeInput.create("pose", (256, 192), str(IMAGE), BOX).network_input(load_card(udp))
    calibrated = network_inputs([Sample(image, box, "x")], load_card(udp))
    assert runtime.shape == (1, 3, 256, 192)
    assert np.array_equal(runtime, verified) and np.array_equal(runtime, calibrated)
    plain = PoseModel(heatmap_artifact).preprocess(image, box[None])[0]
    assert not np.array_equal(plain, runtime), "a UDP card must crop differently from the plain affine"


def test_detector_pad_value_reaches_verification_and_calibration(tmp_path):
    det = wrap("rtmdet-onnx", [need(RTMDET_ONNX)], tmp_path / "det")
    padded = _with_decoder(det, tmp_path / "pad0", letterbox_pad_value=0)
    image = cv2.imread(str(need(IMAGE)))                                          # 640x429: padded at the bottom
    runtime = Detector(padded).preprocess(image)[0]
    verified = ProbeInput.create("detection", (320, 320), str(IMAGE)).network_input(load_card(padded))
    calibrated = network_inputs([Sample(image, None, "x")], load_card(padded))
    assert np.array_equal(runtime, verified) and np.array_equal(runtime, calibrated)
    assert not np.array_equal(runtime, Detector(det).preprocess(image)[0])
