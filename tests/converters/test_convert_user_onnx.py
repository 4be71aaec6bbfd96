"""A user's own ONNX file as MODEL: converts to ONNX/NCNN/TFLite with the card fields the user gives, is
verified against onnxruntime on the source file, and bad files / fields fail cleanly with nothing written."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgepose.runtimes.card import load_card
from edgepose.runtimes.detector import Detector

from ..conftest import REPO, RTMDET_ONNX, SHARED, need, run_cli

FIELDS = REPO / "docs" / "rtmdet-nano-fields.json"
IMAGE = SHARED / "data" / "mmpose" / "tests" / "data" / "coco" / "000000196141.jpg"
TINY_FIELDS = {"task": "detection", "input": {"color": "RGB", "mean": None, "std": None},
               "outputs": [{"role": "cls_box", "stride": 8, "layout": "NCHW"}],
               "decoder": {"type": "rtmdet", "strides": [8], "score_threshold": 0.3, "nms_iou": 0.6,
                           "letterbox_pad_value": 114, "max_detections": 100}, "classes": ["person"]}


def tiny_onnx(path: Path, extra_op: str | None = None, channels: int = 3, height: int | None = 32,
              fragile_fp16: bool = False) -> Path:
    """x → Conv 3×3/8 → concat(a, −a) → [extra_op] → Conv 1×1 64→64 → first 5 channels: a valid one-input
    ONNX detector-shaped file. `fragile_fp16` gives the 1×1 conv weights 1000 + 0.1·noise: the ±a halves
    cancel the 1000s exactly, so the output is the noise part, which fp16 (spacing 0.5 at 1000) cannot store."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((32, channels, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((64, 64, 1, 1))
    w2 = (1000 + 0.1 * w2 if fragile_fp16 else w2).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1], strides=[8, 8]),
             helper.make_node("Neg", ["a"], ["na"]),
             helper.make_node("Concat", ["a", "na"], ["c"], axis=1)]
    if extra_op:
        nodes.append(helper.make_node(extra_op, ["c"], ["e"]))
    nodes += [helper.make_node("Conv", ["e" if extra_op else "c", "w2"], ["big"]),
              helper.make_node("Slice", ["big", "start", "end", "axis"], ["y"])]
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")]
    inits += [numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("start", 0), ("end", 5), ("axis", 1))]
    dims = [1, channels, height, 32] if height else [1, channels, "h", "w"]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, "oh", "ow"])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def write_fields(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "fields.json"
    path.write_text(json.dumps({**TINY_FIELDS, **changes}))
    return path


@pytest.mark.slow
def test_rtmdet_onnx_converts_to_every_target_and_matches_the_source(tmp_path):
    out = tmp_path / "out"
    result = run_cli("convert", str(need(RTMDET_ONNX)), "--card-fields", str(FIELDS), "--target", "all",
                     "--precision", "all", "--verify-image", str(need(IMAGE)), "-o", str(out))
    assert result.returncode == 0, result.stderr
    import cv2

    image = cv2.imread(str(IMAGE))
    boxes = {}
    for target in ("onnx", "ncnn", "tflite"):
        for precision in ("fp32", "fp16"):
            directory = out / f"rtmdet-nano-user-{target}-{precision}"
            card = load_card(directory)
            check = card.verification
            assert check["passed"] and check["against"] == "onnxruntime (source)", check
            assert check["boxes"]["reference"] == check["boxes"]["matched"] >= 3
            assert card.format == target and card.precision == precision and card.classes == ["person"]
            assert card.input.layout == ("NHWC" if target == "tflite" else "NCHW")
            boxes[(target, precision)] = Detector(directory)(image).boxes
    ref = boxes[("onnx", "fp32")]
    for key, got in boxes.items():  # the runtime decodes the same people from every artifact
        assert got.shape == ref.shape and np.abs(got - ref).max() <= 1.0, key


@pytest.mark.slow
def test_tiny_onnx_converts_to_ncnn_and_tflite(tmp_path):
    model = tiny_onnx(tmp_path / "tiny.onnx", extra_op="Relu")
    result = run_cli("convert", str(model), "--card-fields", str(write_fields(tmp_path)), "--target", "ncnn,tflite",
                     "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    for target in ("ncnn", "tflite"):
        card = load_card(tmp_path / "out" / f"tiny-{target}-fp32")
        assert card.verification["passed"] and card.outputs[0].shape[1:] in ([5, 4, 4], [4, 4, 5])


def _fails_cleanly(tmp_path: Path, result, *needles: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and all(n in result.stderr for n in needles), result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_corrupt_onnx_is_refused(tmp_path):
    model = tiny_onnx(tmp_path / "tiny.onnx")
    model.write_bytes(model.read_bytes()[:200])
    result = run_cli("convert", str(model), "--card-fields", str(write_fields(tmp_path)), "-o", str(tmp_path / "out"))
    _fails_cleanly(tmp_path, result, "not a readable ONNX model")


@pytest.mark.parametrize("target", ["ncnn", "tflite"])
def test_unsupported_op_is_refused_by_each_converter(tmp_path, target):
    model = tiny_onnx(tmp_path / "tiny.onnx", extra_op="Hardmax")
    result = run_cli("convert", str(model), "--card-fields", str(write_fields(tmp_path)), "--target", target,
                     "-o", str(tmp_path / "out"))
    _fails_cleanly(tmp_path, result, "Hardmax", "TFLite route" if target == "tflite" else "ncnn has no such layer")


@pytest.mark.parametrize("case, needle", [
    ({"channels": 1}, "1 channels"),
    ({"height": None}, "dynamic height/width"),
])
def test_wrong_input_shape_is_refused(tmp_path, case, needle):
    model = tiny_onnx(tmp_path / "tiny.onnx", **case)
    result = run_cli("convert", str(model), "--card-fields", str(write_fields(tmp_path)), "-o", str(tmp_path / "out"))
    _fails_cleanly(tmp_path, result, needle)


@pytest.mark.slow
def test_dynamic_input_takes_the_card_shape_and_a_clash_is_refused(tmp_path):
    model = tiny_onnx(tmp_path / "dyn.onnx", height=None)
    ok = run_cli("convert", str(model), "--card-fields", str(write_fields(tmp_path, input_shape=[1, 3, 64, 48])),
                 "-o", str(tmp_path / "ok"))
    assert ok.returncode == 0, ok.stderr
    assert load_card(tmp_path / "ok" / "dyn-onnx-fp32").input.shape == [1, 3, 64, 48]
    static = tiny_onnx(tmp_path / "tiny.onnx")
    clash = run_cli("convert", str(static), "--card-fields", str(write_fields(tmp_path, input_shape=[1, 3, 64, 32])),
                    "-o", str(tmp_path / "out"))
    _fails_cleanly(tmp_path, clash, "card asks for [1, 3, 64, 32]")


@pytest.mark.parametrize("fields, needle", [
    ({"outputs": []}, "describe 0"),
    ({"task": "segmentation"}, "'task'"),
    ({"colour": "RGB"}, "unknown key"),
])
def test_bad_card_fields_are_refused(tmp_path, fields, needle):
    model = tiny_onnx(tmp_path / "tiny.onnx")
    result = run_cli("convert", str(model), "--card-fields", str(write_fields(tmp_path, **fields)),
                     "-o", str(tmp_path / "out"))
    _fails_cleanly(tmp_path, result, needle)


def test_onnx_model_needs_card_fields_and_takes_no_weights(tmp_path):
    model = tiny_onnx(tmp_path / "tiny.onnx")
    _fails_cleanly(tmp_path, run_cli("convert", str(model), "-o", str(tmp_path / "out")), "--card-fields")
    _fails_cleanly(tmp_path, run_cli("convert", str(model), "--card-fields", str(write_fields(tmp_path)),
                                     "--weights", str(model), "-o", str(tmp_path / "out")), "--weights")


@pytest.mark.slow
def test_unfaithful_fp16_artifact_is_refused_and_nothing_is_written(tmp_path):
    """fp16 weights that lose the model's signal: verification refuses the artifact, --no-verify keeps it."""
    model = tiny_onnx(tmp_path / "fragile.onnx", fragile_fp16=True)
    args = ("convert", str(model), "--card-fields", str(write_fields(tmp_path)), "--precision", "fp16")
    refused = run_cli(*args, "-o", str(tmp_path / "out"))
    _fails_cleanly(tmp_path, refused, "disagrees with the source ONNX", "--no-verify")
    assert not (tmp_path / "out").exists()
    kept = run_cli(*args, "--no-verify", "-o", str(tmp_path / "kept"))
    assert kept.returncode == 0 and "not verified" in kept.stdout
    fp32 = run_cli("convert", str(model), "--card-fields", str(write_fields(tmp_path)), "-o", str(tmp_path / "fp32"))
    assert fp32.returncode == 0, fp32.stderr


def test_python_api_takes_an_onnx_file_with_a_fields_dict(tmp_path):
    import edgepose

    model = tiny_onnx(tmp_path / "tiny.onnx")
    written = edgepose.convert(str(model), str(tmp_path / "out"), card_fields={**TINY_FIELDS, "name": "api"})
    assert [p.name for p in written] == ["api-onnx-fp32"] and load_card(written[0]).verification["passed"]


@pytest.mark.slow
def test_user_onnx_converts_to_int8_on_every_target(tmp_path):
    model = tiny_onnx(tmp_path / "tiny.onnx", extra_op="Relu")
    video = need(SHARED / "data" / "opencv-doc-debian" / "vtest.avi")
    result = run_cli("convert", str(model), "--card-fields", str(write_fields(tmp_path)), "--target", "all",
                     "--precision", "fp32", "--int8", "--calib", str(video), "--samples", "8", "--max-error", "off",
                     "-o", str(tmp_path / "out"), "--no-progress")
    assert result.returncode == 0, result.stderr
    for target in ("onnx", "ncnn", "tflite"):
        card = load_card(tmp_path / "out" / f"tiny-{target}-int8")
        assert card.precision == "int8" and card.calibration["int8_layers"] == card.calibration["quantizable_layers"]
        assert card.fidelity["images"] == 2 and card.fidelity["against"] == f"tiny-{target}-fp32 (fp32)"


def test_opset_11_files_are_upgraded_for_int8(tmp_path):
    from edgepose.converters.onnx_to_torch import load_static_onnx
    from edgepose.converters.options import MIN_OPSET

    model, _, shape = load_static_onnx(need(RTMDET_ONNX))
    assert shape == (1, 3, 320, 320)
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= MIN_OPSET


@pytest.mark.slow
def test_own_rtmpose_onnx_to_ncnn_fp16_keeps_fp16_arithmetic_off_by_default(zoo_artifacts, tmp_path):
    """An edgepose RTMPose ONNX converted again as a user model: fp16-safe (its metadata says so), but without
    the SimCC head split off to run fp32 the card must not ask for fp16 arithmetic by default (the whole net in
    fp16 moves keypoints 1.4-2.3 px on average under emulation)."""
    artifact = zoo_artifacts[0] / "rtmpose-t-onnx-fp32"
    card = json.loads((artifact / "edgepose.json").read_text())
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps({k: card[k] for k in ("name", "task", "input", "outputs", "decoder", "keypoints",
                                                       "flip_pairs", "sigmas", "skeleton", "bbox_padding")
                                  if k in card}))
    result = run_cli("convert", str(artifact / card["files"]["model"]), "--card-fields", str(fields), "--target",
                     "ncnn", "--precision", "fp16", "-o", str(tmp_path / "out"), "--no-progress")
    assert result.returncode == 0, result.stderr
    (written,) = (tmp_path / "out").iterdir()
    source = json.loads((written / "edgepose.json").read_text())["source"]
    assert source["fp16_safe"] is True and source["fp16_arithmetic"] is False
