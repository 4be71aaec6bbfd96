"""A card is checked completely when its artifact is opened: each field (runtimes/card.py), the input name and
shape against what the model file declares, and every output's shape on one blank input — so a hand-edited card
fails at `PoseModel(...)` / `Detector(...)` with a message that names the field, never at the first frame."""
from __future__ import annotations

import copy
import json
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgepose.runtimes.card import CARD_NAME
from edgepose.runtimes.detector import Detector
from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.pose import PoseModel
from edgepose.runtimes.third_party import wrap

from ..conftest import RTMDET_ONNX, SHARED, need
from .test_card_properties import _paths

MOVENET = SHARED / "models" / "movenet" / "lite-model_movenet_singlepose_lightning_tflite_int8_4.tflite"
RTMDET_NCNN = [SHARED / "models" / "rtmdet-nano" / f"rtmdet-nano.{s}" for s in ("param", "bin")]
IMAGE = SHARED / "data" / "mmpose" / "tests" / "data" / "coco" / "000000196141.jpg"


@pytest.fixture(scope="module")
def wrapped(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("wrapped")
    return {"rtmdet-onnx": wrap("rtmdet-onnx", [need(RTMDET_ONNX)], root / "det-onnx"),
            "rtmdet-ncnn": wrap("rtmdet-ncnn", [need(p) for p in RTMDET_NCNN], root / "det-ncnn"),
            "movenet": wrap("movenet-tflite", [need(MOVENET)], root / "movenet")}


def edited(source: Path, target: Path, change) -> Path:
    """A copy of an artifact whose card `change(data)` edited."""
    shutil.copytree(source, target)
    data = json.loads((target / CARD_NAME).read_text())
    change(data)
    (target / CARD_NAME).write_text(json.dumps(data))
    return target


def test_input_shape_the_model_does_not_take_fails_when_opened(wrapped, tmp_path):
    def change(data):
        data["input"]["shape"] = [1, 3, 416, 416]
    art = edited(wrapped["rtmdet-onnx"], tmp_path / "a", change)
    with pytest.raises(ConfigError) as info:
        Detector(art)
    assert str(info.value) == (f"{art / CARD_NAME} does not describe its model: the model takes input shape "
                               "[1, 3, 320, 320] (NCHW), its card says [1, 3, 416, 416]: fix input.shape in the card "
                               "or convert the model again (a different model file, or a card edited by hand)")


def test_ncnn_model_whose_outputs_differ_from_its_card_fails_when_opened(wrapped, tmp_path):
    def change(data):
        data["input"]["shape"] = [1, 3, 416, 416]   # ncnn declares no input shape: the outputs tell
    art = edited(wrapped["rtmdet-ncnn"], tmp_path / "a", change)
    with pytest.raises(ConfigError, match=r"does not describe its model: output '1211' has shape \[1, 52, 52, 5\], its "
                                          r"card says \[1, 40, 40, 5\]"):
        Detector(art)


def test_an_artifact_opens_from_its_card_file_too(wrapped):
    pose = PoseModel(wrapped["movenet"] / CARD_NAME)
    assert pose.directory == wrapped["movenet"]


INFORMATIVE = ("source", "edgepose_version", "calibration", "fidelity", "verification", "classes")  # not read to run


VALUES = (st.none() | st.booleans() | st.integers(-3, 400) | st.floats(allow_nan=True) | st.text(max_size=6)
          | st.lists(st.integers(-1, 400) | st.floats(-2, 300), max_size=5) | st.sampled_from(
              ["NCHW", "NHWC", "RGB", "BGR", "float32", "uint8", "int8", "float16", "simcc", "heatmap", "rtmdet",
               "keypoints", "cls_box", "yx_score_normalized", "dark", "udp"]))


NUMBERS = st.sampled_from([0, -1, 1, 2, 3, 0.0, -0.5, 1e-9, 1e9, float("nan"), float("inf")]) | st.floats(-10, 300)


def _like(value):
    """Values of the same JSON type as `value`: the edits a reader cannot refuse on type alone."""
    if isinstance(value, bool) or value is None:
        return st.none() | st.booleans()
    if isinstance(value, (int, float)):
        return NUMBERS | st.integers(-2, 400)
    if isinstance(value, str):
        return VALUES.filter(lambda v: isinstance(v, str))
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return st.lists(NUMBERS | st.integers(-1, 400), min_size=max(0, len(value) - 1), max_size=len(value) + 1)
    return VALUES


@st.composite
def edits(draw, card: dict) -> dict:
    data = copy.deepcopy(card)
    paths = [path for path in _paths(data) if path[0] not in INFORMATIVE]
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(paths))
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = draw(_like(parent[path[-1]]) | VALUES)
        except (KeyError, IndexError, TypeError):
            continue
    return data


@pytest.mark.parametrize("kind", ["movenet", "rtmdet-onnx"])
def test_a_card_that_opens_runs_its_first_frame_cleanly(wrapped, tmp_path_factory, kind):
    """Hypothesis over the whole card: 1–2 fields replaced by arbitrary values; the artifact either refuses to
    open with a ConfigError, or it opens and runs a real frame with no error and no numpy warning."""
    source = wrapped[kind]
    card = json.loads((source / CARD_NAME).read_text())
    image = cv2.imread(str(need(IMAGE)))
    box = np.array([[280, 50, 460, 420]], np.float32)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
              derandomize=True)
    @given(edits(card))
    def check(data):
        art = tmp_path_factory.mktemp("edit")
        for f in source.iterdir():
            if f.name != CARD_NAME:
                (art / f.name).symlink_to(f)
        (art / CARD_NAME).write_text(json.dumps(data))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                model = PoseModel(art) if kind == "movenet" else Detector(art)
            except ConfigError:
                return
            result = model(image, box) if kind == "movenet" else model(image)
        opened.append(1)
        assert len(result) <= 100

    opened = []
    check()
    assert len(opened) >= 20, "too few edited cards opened for the property to mean something"
