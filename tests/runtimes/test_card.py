"""Tier 1: the model card schema — round trip, and a clear error for every malformed card."""
from __future__ import annotations

import json

import pytest

from edgepose.runtimes.card import CARD_NAME, InputSpec, ModelCard, OutputSpec, load_card
from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.keypoints import COCO17, flip_indices

from ..conftest import SHARED, need


def pose_card(**changes) -> ModelCard:
    fields = dict(
        task="pose", format="onnx", files={"model": "m.onnx"},
        input=InputSpec("input", [-1, 3, 256, 192], "NCHW", "float32", "RGB", [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]),
        outputs=[OutputSpec("simcc_x", "simcc_x", [-1, 17, 384]), OutputSpec("simcc_y", "simcc_y", [-1, 17, 512])],
        decoder={"type": "simcc", "split_ratio": 2.0}, keypoints=list(COCO17.names), skeleton=[[0, 1]],
        flip_pairs=[list(p) for p in COCO17.flip_pairs], sigmas=[0.1] * 17, bbox_padding=1.25, precision="fp32",
        source={"model": "rtmpose-t"})
    fields.update(changes)
    return ModelCard(**fields)


def write(tmp_path, data: dict) -> None:
    (tmp_path / CARD_NAME).write_text(json.dumps(data))
    (tmp_path / "m.onnx").write_bytes(b"")


def test_card_round_trips_through_json(tmp_path):
    card = pose_card()
    (tmp_path / "m.onnx").write_bytes(b"")
    card.save(tmp_path)
    loaded = load_card(tmp_path)
    assert loaded == card
    assert loaded.input.height == 256 and loaded.input.width == 192
    assert [o.name for o in loaded.output("simcc_y")] == ["simcc_y"]
    assert json.loads((tmp_path / CARD_NAME).read_text())["version"] == "1.0"
    assert list(json.loads((tmp_path / CARD_NAME).read_text()))[0] == "version"


@pytest.mark.parametrize("field", ["task", "format", "files", "input", "outputs", "decoder", "keypoints",
                                   "skeleton", "flip_pairs", "precision", "source", "version"])
def test_missing_field_is_named(tmp_path, field):
    data = pose_card().to_dict()
    del data[field]
    write(tmp_path, data)
    with pytest.raises(ConfigError, match=f"missing field '{field}'"):
        load_card(tmp_path)


@pytest.mark.parametrize("field", ["name", "shape", "layout", "dtype", "color", "mean", "std"])
def test_missing_input_field_is_named(tmp_path, field):
    data = pose_card().to_dict()
    del data["input"][field]
    write(tmp_path, data)
    with pytest.raises(ConfigError, match=f"input.{field}"):
        load_card(tmp_path)


def test_unknown_major_version_is_refused(tmp_path):
    data = pose_card().to_dict()
    data["version"] = "2.0"
    write(tmp_path, data)
    with pytest.raises(ConfigError, match="schema version '2.0' is not supported"):
        load_card(tmp_path)


def test_newer_minor_version_with_unknown_fields_is_read(tmp_path):
    data = pose_card().to_dict()
    data["version"] = "1.7"
    data["something_new"] = {"x": 1}
    write(tmp_path, data)
    assert load_card(tmp_path).task == "pose"


@pytest.mark.parametrize("change, message", [
    ({"task": "segmentation"}, "'task' is 'segmentation'"),
    ({"precision": "int4"}, "'precision'"),
    ({"decoder": {"type": "magic"}}, "decoder.type"),
    ({"keypoints": []}, "needs 'keypoints'"),
    ({"bbox_padding": None}, "bbox_padding"),
    ({"sigmas": [0.1] * 3}, "3 sigmas for 17 keypoints"),
    ({"files": {}}, "'files' is empty"),
    ({"sigmas": [0.1] * 16 + [0.0]}, "'sigmas' must be positive"),
    ({"decoder": {"type": "heatmap"}}, "decoder 'heatmap' reads outputs with roles heatmaps; this card's outputs "
                                       "have roles simcc_x, simcc_y"),
    ({"decoder": {"type": "rtmdet"}}, "decoder 'rtmdet' decodes detection models, this card is pose"),
    ({"input": InputSpec("input", [-1, 3, 256, 192], "NCHW", "float32", "RGB", [1.0, 2.0], [4.0, 5.0])},
     "input.mean must be 3 finite numbers"),
    ({"input": InputSpec("input", [-1, 3, 256, 192], "NCHW", "float32", "RGB", [1.0, 2.0, 3.0], [4.0, 0.0, 6.0])},
     "input.std must be > 0"),
    ({"input": InputSpec("input", [-1, 3, 256, 192], "NCHW", "float32", "RGB", [1.0, 2.0, float("nan")],
                         [4.0, 5.0, 6.0])}, "input.mean must be 3 finite"),
    ({"input": InputSpec("input", [-1, 3, 0, 192], "NCHW", "float32", "RGB", None, None)}, "the others ≥ 1"),
    ({"input": InputSpec("input", [-1, 3, 256, 192], "NHWC", "float32", "RGB", None, None)}, "has 192 channels"),
])
def test_invalid_values_are_rejected(change, message):
    with pytest.raises(ConfigError, match=message):
        pose_card(**change)


def test_wrong_types_are_rejected(tmp_path):
    data = pose_card().to_dict()
    data["input"]["shape"] = [1, 3, "256", 192]
    write(tmp_path, data)
    with pytest.raises(ConfigError, match="input.shape"):
        load_card(tmp_path)


def test_mean_without_std_is_rejected():
    with pytest.raises(ConfigError, match="both"):
        pose_card(input=InputSpec("input", [1, 3, 256, 192], "NCHW", "float32", "RGB", [1.0, 2.0, 3.0], None))


def test_card_listing_a_missing_model_file_is_refused(tmp_path):
    pose_card().save(tmp_path)
    with pytest.raises(ConfigError, match="'m.onnx', which is missing"):
        load_card(tmp_path)


def test_not_json_and_no_card_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="no model card"):
        load_card(tmp_path)
    (tmp_path / CARD_NAME).write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_card(tmp_path)


def test_coco_flip_indices_match_mmpose():
    assert flip_indices(17, COCO17.flip_pairs) == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def test_coco17_matches_the_coco_annotations_and_pycocotools():
    """Names and skeleton as the COCO keypoint annotations give them (1-based there), OKS sigmas as pycocotools
    evaluates with: every card of a COCO-17 model carries these."""
    import math

    Params = pytest.importorskip("pycocotools.cocoeval", reason="pycocotools (the eval extra) is not installed").Params

    category = json.loads(need(SHARED / "data" / "combined_coco17_gt.json").read_text())["categories"][0]
    assert list(COCO17.names) == category["keypoints"]
    assert [[a + 1, b + 1] for a, b in COCO17.skeleton] == category["skeleton"]
    assert all(math.isclose(a, b) for a, b in zip(COCO17.sigmas, Params(iouType="keypoints").kpt_oks_sigmas))
    assert len(COCO17.sigmas) == 17
    names = COCO17.names
    assert all(names[a].replace("left", "right") == names[b] for a, b in COCO17.flip_pairs)
    assert {i for pair in COCO17.flip_pairs for i in pair} == set(range(1, 17))
