"""Tier 3: every model × {onnx, ncnn, tflite} × {fp32, fp16} converts, loads in edgepose.runtimes and agrees
with PyTorch on a real input (pose: MMPose's reference crop; detector: a real COCO image)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from edgepose.runtimes.backends import BackendOptions
from edgepose.runtimes.card import load_card
from edgepose.runtimes.pose import PoseModel

from ..conftest import POSE_MODELS, SHARED, ZOO_TARGETS, need, reference, run_cli

TARGETS = ZOO_TARGETS


@pytest.fixture(scope="module")
def matrix(zoo_artifacts):
    """Every model × target × precision, converted once per test run (conftest.zoo_artifacts)."""
    return zoo_artifacts[0]


@pytest.mark.slow
@pytest.mark.parametrize("model", [*POSE_MODELS, "rtmdet-nano"])
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_artifact_agrees_with_pytorch(matrix, model, target, precision):
    card = load_card(matrix / f"{model}-{target}-{precision}")
    check = card.verification
    assert card.format == target and card.precision == precision and check["passed"], check
    assert check["input"] != "seeded standard normal", "verification must have run on the real image"
    for name, entry in check["outputs"].items():
        if precision == "fp32":
            assert entry["max_abs_diff"] <= entry["tolerance"], (name, entry)
        else:
            assert entry["cosine"] >= 0.999, (name, entry)
    if card.task == "pose":
        assert check["keypoint_displacement_px"]["max"] <= (0.5 if precision == "fp16" else 1e-3)
    else:
        boxes = check["boxes"]
        assert boxes["reference"] == boxes["artifact"] == boxes["matched"] >= 3
        assert boxes["max_corner_shift_px"] <= 1.0


@pytest.mark.slow
def test_tflite_and_ncnn_cards_describe_their_inputs(matrix):
    tfl = load_card(matrix / "rtmpose-t-tflite-fp32")
    assert tfl.input.layout == "NHWC" and tfl.input.shape == [1, 256, 192, 3] and tfl.input.dtype == "float32"
    assert [o.role for o in tfl.outputs] == ["simcc_x", "simcc_y"]
    ncnn = load_card(matrix / "rtmpose-t-ncnn-fp16")
    assert set(ncnn.files) == {"param", "bin", "head_param", "head_bin"}, "RTMPose's head: its own fp32 net"
    assert ncnn.source["fp16_safe"] is True and ncnn.source["fp16_arithmetic"] is True
    for role in ("param", "head_param"):
        param = (matrix / "rtmpose-t-ncnn-fp16" / ncnn.files[role]).read_text()
        assert " 31=" not in param, "no per-layer fp16 masks: ncnn's storage mask crashes on fp16 ARM cores"
    for name in ("rtmdet-nano-ncnn-fp16", "rtmpose-t-ncnn-fp32"):   # no fp32 head / not an fp16 artifact
        card = load_card(matrix / name)
        assert set(card.files) == {"param", "bin"} and not card.source.get("fp16_arithmetic"), name


@pytest.mark.slow
def test_ncnn_head_split_computes_what_the_whole_net_computes(matrix, tmp_path):
    """Cutting the fp32 RTMPose-t net at the head's input (the extra output pnnx was given) into a body and a
    head net changes nothing: same outputs through the two-net backend, and the head reads only the cut."""
    from edgepose.converters.targets.ncnn.param import NcnnParam
    from edgepose.converters.targets.ncnn.split import split_head

    whole = matrix / "rtmpose-t-ncnn-fp32"
    card = load_card(whole)
    for name in card.files.values():
        (tmp_path / name).write_bytes((whole / name).read_bytes())
    param, binary = tmp_path / card.files["param"], tmp_path / card.files["bin"]
    cut = split_head(param, binary, card.source["head_inputs"], tmp_path / "h.param", tmp_path / "h.bin")
    head = NcnnParam.read(tmp_path / "h.param")
    assert [layer.tops[0] for layer in head.layers if layer.kind == "Input"] == cut
    assert NcnnParam.read(param).output_blobs == cut
    split = dataclasses.replace(card, files={**card.files, "head_param": "h.param", "head_bin": "h.bin"})
    split.save(tmp_path)
    x = np.random.default_rng(0).standard_normal((2, 3, 256, 192)).astype(np.float32)
    a, b = PoseModel(whole).infer(x), PoseModel(tmp_path).infer(x)
    for name in a:
        assert np.array_equal(a[name], b[name]), name


@pytest.mark.slow
@pytest.mark.parametrize("model", ["rtmpose-t", "rtmpose-s"])
def test_ncnn_fp16_arithmetic_keeps_rtmpose_keypoints(matrix, model):
    """ncnn's fp16 switches on: same keypoints as fp32 within 0.5 px.

    The fp16 *arithmetic* half cannot fail on x86: ncnn has no fp16 arithmetic kernels there (only ARMv8.2,
    `ncnn.cpu_support_arm_asimdhp()`, where ScaleNorm overflowed before its reductions were kept fp32), so on
    x86 the keypoint check covers fp16 weight storage, and the read-back below only proves the switch reaches
    ncnn. Run this test on an ARMv8.2 board to check fp16 arithmetic itself."""
    import cv2

    info = json.loads(reference(model, "facts.json").read_text())["image"]
    image = cv2.imread(str(SHARED / info["path"]))
    box = np.array([info["bbox_xyxy"]], np.float32)
    fp32 = PoseModel(matrix / f"{model}-ncnn-fp32")(image, box)
    pose16 = PoseModel(matrix / f"{model}-ncnn-fp16", BackendOptions(ncnn_fp16=True))
    opt = pose16.backend.net.opt
    assert opt.use_fp16_storage and opt.use_fp16_arithmetic, "BackendOptions(ncnn_fp16=True) must reach ncnn"
    assert not pose16.backend.head.opt.use_fp16_arithmetic, "the SimCC head net stays fp32"
    import ncnn

    kind = "fp16" if ncnn.cpu_support_arm_asimdhp() else "fp16 storage, fp32 arithmetic: no fp16 on this CPU"
    assert pose16.backend.device == f"cpu ({kind}, head fp32)", "the device says what really computes"

    default = PoseModel(matrix / f"{model}-ncnn-fp16").backend
    assert default.fp16 == bool(ncnn.cpu_support_arm_asimdhp()), "default: fp16 exactly where the CPU has it"
    fp16 = pose16(image, box)
    assert np.abs(fp16.keypoints - fp32.keypoints).max() <= 0.5


@pytest.mark.slow
def test_run_on_vtest_with_ncnn_detector_and_tflite_pose(matrix, tmp_path):
    out = tmp_path / "vtest.jsonl"
    result = run_cli("run", "--pose", str(matrix / "rtmpose-t-tflite-fp32"), "--det", str(matrix / "rtmdet-nano-ncnn-fp32"),
                     "--source", str(need(SHARED / "data" / "opencv-doc-debian" / "vtest.avi")), "--json", str(out),
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 795 and np.mean([len(r["persons"]) for r in records]) >= 2


@pytest.mark.slow
def test_ncnn_bin_rewrite_round_trips_and_casts_only_large_weights(matrix, tmp_path):
    from edgepose.converters.targets.ncnn.bin import TAG_FP16, blob_layout, cast_weights_fp16

    for model in (*POSE_MODELS, "rtmdet-nano"):
        directory = matrix / f"{model}-ncnn-fp32"
        param, binary = directory / f"{model}.param", directory / f"{model}.bin"
        same = tmp_path / "same.bin"
        assert cast_weights_fp16(param, binary, same, 10**12) == 0
        assert same.read_bytes() == binary.read_bytes(), f"{model}: parsing and rewriting changed the .bin"
        half = tmp_path / "half.bin"
        cast = cast_weights_fp16(param, binary, half, 4096)
        large = sum(1 for _, blobs in blob_layout(param) for n, kind in blobs if kind == 0 and n >= 4096)
        assert cast == large > 0 and half.stat().st_size < 0.7 * binary.stat().st_size
        assert TAG_FP16.to_bytes(4, "little") in half.read_bytes()


def test_conversions_print_no_third_party_chatter(zoo_artifacts):
    """Every zoo conversion (three targets, fp32 + fp16, INT8 for some) leaves stderr to edgepose: no converter's
    progress bar, C++ log or temporary path, only our own WARNING lines."""
    for model, result in zoo_artifacts[1].items():
        foreign = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("WARNING ")]
        assert not foreign, f"{model}: {foreign[:5]}"
