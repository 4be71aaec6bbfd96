"""INT8 building blocks: observers, calibration sources, the ncnn int8 writer and the ONNX QDQ writer, each
checked against an independent numpy computation."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.calibration.observers import TensorObserver, kl_threshold, weight_scales
from edgepose.calibration.sources import load_samples, parse_source, split_holdout
from edgepose.runtimes.errors import ConfigError

from ..conftest import SHARED, need

RTMDET_NCNN = SHARED / "models" / "rtmdet-nano"
COCO_DIR = SHARED / "data" / "mmpose" / "tests" / "data" / "coco"
VTEST = SHARED / "data" / "opencv-doc-debian" / "vtest.avi"


def _round_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


# --- observers ------------------------------------------------------------------------------------------

def test_minmax_is_exact_and_percentile_clips_rare_outliers():
    rng = np.random.default_rng(0)
    observer = TensorObserver()
    for _ in range(10):
        observer.update(rng.standard_normal(100_000))
    observer.update(np.array([50.0, -40.0]))
    assert observer.range("minmax") == (-40.0, 50.0)
    lo, hi = observer.range("percentile")
    assert -4.5 < lo < -3.0 and 3.0 < hi < 4.5
    # a tensor that never goes below 2 still gets a range that holds 0 (int8 must represent zero padding),
    # and the percentile clips its top below the maximum
    shifted = TensorObserver()
    shifted.update(np.abs(rng.standard_normal(100_000)) + 2.0)
    assert shifted.range("percentile")[0] == 0.0 and 5.0 < shifted.range("percentile")[1] < shifted.range("minmax")[1]


def test_reservoir_stays_uniform_over_everything_seen():
    observer = TensorObserver(sample_size=10_000)
    for i in range(20):
        observer.update(np.full(50_000, float(i), np.float32))
    assert observer.sample.size == 10_000 and abs(observer.sample.mean() - 9.5) < 0.3


def test_entropy_threshold_cuts_a_heavy_tail_and_keeps_a_uniform_range():
    rng = np.random.default_rng(1)
    uniform = np.abs(rng.uniform(-1, 1, 200_000))
    assert kl_threshold(uniform, 1.0) > 0.9
    heavy = np.abs(np.concatenate([rng.standard_normal(200_000), [60.0]]))
    t = kl_threshold(heavy, 60.0)
    assert 2.0 < t < 15.0, t   # far below the absmax, above the bulk


def test_entropy_differs_from_minmax_on_a_real_activation_like_tensor():
    rng = np.random.default_rng(2)
    observer = TensorObserver()
    x = rng.standard_normal(300_000)
    silu = x / (1 + np.exp(-x)) * 3
    observer.update(np.concatenate([silu, [40.0]]))
    assert observer.threshold("entropy") < 0.5 * observer.threshold("minmax")


def test_weight_scales_are_per_channel_and_zero_for_empty_channels():
    w = np.array([[1.0, -2.0], [0.5, 0.25], [0.0, 0.0]], np.float32)
    np.testing.assert_allclose(weight_scales(w), [63.5, 254.0, 0.0])
    np.testing.assert_allclose(weight_scales(w, 31), [15.5, 62.0, 0.0])


def test_observer_refuses_non_finite_values():
    with pytest.raises(ValueError, match="non-finite"):
        TensorObserver().update(np.array([1.0, np.nan]))


# --- calibration sources ----------------------------------------------------------------------------------

def test_coco_json_gives_ground_truth_person_crops():
    samples = load_samples([need(COCO_DIR / "test_coco.json")], "pose", 100)
    assert len(samples) >= 12 and all(s.box is not None and s.box[2] > s.box[0] for s in samples)
    assert "/box" in samples[0].origin


def test_video_frames_are_evenly_spaced_and_deterministic():
    a = load_samples([need(VTEST)], "detection", 10)
    b = load_samples([VTEST], "detection", 10)
    assert [s.origin for s in a] == [s.origin for s in b] and len(a) == 10
    assert a[0].origin.endswith("#frame0") and a[-1].origin.endswith("#frame794")
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))


def test_video_frame_range_keeps_to_its_frames():
    """`clip#A-B` samples only frames A..B, so training frames calibrate and held-out frames stay unseen."""
    train = load_samples([f"{need(VTEST)}#0-635"], "detection", 10)
    held = load_samples([f"{VTEST}#636-794"], "detection", 5)
    assert train[0].origin.endswith("#frame0") and train[-1].origin.endswith("#frame635")
    assert held[0].origin.endswith("#frame636") and held[-1].origin.endswith("#frame794")
    assert parse_source("a/b.txt#1-2") == (Path("a/b.txt#1-2"), None)
    for bad in ("#9-3", "#x-3", "#5", "#900-950"):
        with pytest.raises(ConfigError, match="frame range|past its end"):
            load_samples([f"{VTEST}{bad}"], "detection", 3)


def test_holdout_split_is_disjoint_and_spread():
    samples = load_samples([need(VTEST)], "detection", 20)
    calib, held = split_holdout(samples)
    assert len(held) == 4 and len(calib) == 16
    assert not {s.origin for s in calib} & {s.origin for s in held}


def test_bad_calibration_sources_fail_clearly(tmp_path, caplog):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="has no images"):
        load_samples([empty], "detection", 10)
    with pytest.raises(ConfigError, match="no such file or folder"):
        load_samples([tmp_path / "missing"], "detection", 10)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ConfigError, match="no readable images"):
        load_samples([broken], "detection", 10)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="expected a folder"):
        load_samples([tmp_path / "notes.txt"], "detection", 10)


def test_pose_calibration_on_images_needs_boxes_and_people(tmp_path, caplog):
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "grey.png"), np.full((64, 64, 3), 128, np.uint8))
    with pytest.raises(ConfigError, match="--calib-det"):
        load_samples([folder], "pose", 10)
    with pytest.raises(ConfigError, match="found no person"):
        load_samples([folder], "pose", 10, detect=lambda image: np.zeros((0, 4), np.float32))
    with caplog.at_level(logging.WARNING):
        found = load_samples([folder], "pose", 10, detect=lambda image: np.array([[4, 4, 40, 60]], np.float32))
    assert len(found) == 1 and "only 1 person crops" in caplog.text


# --- ncnn int8 writer -------------------------------------------------------------------------------------

def _ncnn_net(param: Path, binary: Path, int8: bool):
    import ncnn

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    net.opt.lightmode = False
    net.opt.use_int8_inference = int8
    assert net.load_param(str(param)) == 0 and net.load_model(str(binary)) == 0
    return net


def test_ncnn_rewrite_without_int8_layers_is_byte_identical(tmp_path):
    from edgepose.converters.targets.ncnn.int8 import write_int8

    param, binary = need(RTMDET_NCNN / "rtmdet-nano.param"), RTMDET_NCNN / "rtmdet-nano.bin"
    result = write_int8(param, binary, tmp_path / "x.param", tmp_path / "x.bin", {})
    assert result.quantized == [] and (tmp_path / "x.bin").read_bytes() == binary.read_bytes()
    assert (tmp_path / "x.param").read_text().split() == param.read_text().split()


def _is_3x3_stride1(layer) -> bool:
    return layer.params.get("1") == "3" and layer.params.get("3", "1") == "1"


@pytest.mark.parametrize("kind, pick", [("Convolution", lambda layer: True),
                                        ("Convolution", _is_3x3_stride1),   # ncnn2table's 6-bit weights
                                        ("ConvolutionDepthWise", lambda layer: True)],
                         ids=["conv-stride2", "conv-3x3-stride1", "depthwise"])
def test_ncnn_int8_layer_matches_numpy_integer_arithmetic(tmp_path, kind, pick):
    """One quantized layer in the real RTMDet-nano: ncnn's int8 output equals dequant(conv(q(x), q(w))); a 3×3
    stride-1 Convolution quantizes its weights to ±31 (6 bits), every other layer to ±127."""
    import torch

    from edgepose.converters.targets.ncnn.bin import read_weights
    from edgepose.converters.targets.ncnn.int8 import write_int8
    from edgepose.converters.targets.ncnn.param import NcnnParam

    param, binary = need(RTMDET_NCNN / "rtmdet-nano.param"), RTMDET_NCNN / "rtmdet-nano.bin"
    layers = NcnnParam.read(param).layers
    input_name = next(layer.tops[0] for layer in layers if layer.kind == "Input")
    layer = next(layer for layer in layers if layer.kind == kind and int(layer.params.get("9", "0")) == 0 and pick(layer))
    x = np.random.default_rng(0).standard_normal((3, 320, 320)).astype(np.float32)
    import ncnn

    def extract(p: Path, b: Path, int8: bool, blobs: list[str]) -> list[np.ndarray]:
        net = _ncnn_net(p, b, int8)
        with net.create_extractor() as ex:
            ex.input(input_name, ncnn.Mat(x))
            return [np.array(ex.extract(blob)[1]).copy() for blob in blobs]

    x_in, _ = extract(param, binary, False, [layer.bottoms[0], layer.tops[0]])
    threshold = float(np.abs(x_in).max()) * 0.8   # some clipping, as calibrated thresholds do
    write_int8(param, binary, tmp_path / "q.param", tmp_path / "q.bin", {layer.name: threshold})
    (y_int8,) = extract(tmp_path / "q.param", tmp_path / "q.bin", True, [layer.tops[0]])
    weight, *bias = read_weights(param, binary)[layer.name][1]
    p = layer.params
    groups = int(p.get("7", "1")) if kind == "ConvolutionDepthWise" else 1
    out_c, k = int(p["0"]), int(p["1"])
    rows = weight.reshape(groups if groups > 1 else out_c, -1)
    levels = 31 if kind == "Convolution" and k == 3 and int(p.get("3", "1")) == 1 else 127
    w_scale = levels / np.abs(rows).max(1)
    w_q = np.clip(_round_away(rows * w_scale[:, None]), -127, 127) / w_scale[:, None]
    x_scale = np.float32(127 / threshold)
    x_q = np.clip(_round_away(x_in * x_scale), -127, 127) / x_scale
    y_ref = torch.nn.functional.conv2d(
        torch.from_numpy(x_q[None]).float(), torch.from_numpy(w_q.reshape(out_c, -1, k, k)).float(),
        torch.from_numpy(bias[0]) if bias else None, int(p.get("3", "1")), int(p.get("4", "0")), 1, groups)[0].numpy()
    # 2e-4: float rounding of ncnn's dequantize (the depthwise path differs from numpy in 7 of 102,400 values by
    # ≤ 1.2e-4 of the output range); one flipped integer would move an output by ≥ 0.05 here
    assert np.abs(y_int8 - y_ref).max() <= 2e-4 * max(1.0, np.abs(y_ref).max())
    assert (tmp_path / "q.param").read_text().count(" 8=") == 1


def test_ncnn_int8_gemm_matches_numpy_dynamic_row_quantization(tmp_path):
    """A Gemm with a constant B (RTMPose's SimCC head layers) in int8 (`18=2`): ncnn quantizes each row of A at
    run time and B with one static scale; the output equals that integer product, and fp32 stays close."""
    import ncnn

    from edgepose.converters.targets.ncnn.int8 import quantizable, write_int8

    m, n, k = 17, 24, 40
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((n, k)).astype(np.float32)
    param, binary = tmp_path / "g.param", tmp_path / "g.bin"
    param.write_text(f"7767517\n2 2\nInput in 0 1 a 0={k} 1={m}\n"
                     f"Gemm gemm_0 1 1 a y 2=0 3=1 4=0 5=1 6=1 7={m} 8={n} 9={k} 10=-1\n")
    binary.write_bytes(b"\0\0\0\0" + b.tobytes())
    assert [layer.name for layer in quantizable(param)] == ["gemm_0"]
    result = write_int8(param, binary, tmp_path / "q.param", tmp_path / "q.bin", {"gemm_0": 1.0})
    assert result.quantized == ["gemm_0"] and result.table == [] and "18=2" in (tmp_path / "q.param").read_text()
    net = _ncnn_net(tmp_path / "q.param", tmp_path / "q.bin", True)
    with net.create_extractor() as ex:
        ex.input("a", ncnn.Mat(a))
        y = np.array(ex.extract("y")[1]).copy()
    sa, sb = 127 / np.abs(a).max(1, keepdims=True), 127 / np.abs(b).max()
    qa, qb = _round_away(a * sa), _round_away(b * sb)
    reference = (qa @ qb.T) / (sa * sb)
    assert np.abs(y - reference).max() <= 1e-4 * np.abs(reference).max()
    assert np.abs(y - a @ b.T).max() <= 0.05 * np.abs(a @ b.T).max()


# --- ONNX QDQ writer --------------------------------------------------------------------------------------

def test_onnx_qdq_matches_numpy_fake_quantization(tmp_path):
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper

    from edgepose.converters.targets.onnx.qdq import collect_stats, write_qdq

    rng = np.random.default_rng(3)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    w[2] *= 10   # channels with different ranges: per-channel scales matter
    b = rng.standard_normal(8).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], name="conv")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    src = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(src))
    x = (rng.standard_normal((4, 3, 16, 16)) + 0.5).astype(np.float32)
    stats = collect_stats(src, x)
    lo, hi = stats["conv"].range("minmax")
    assert lo == pytest.approx(float(x.min())) and hi == pytest.approx(float(x.max()))
    write_qdq(src, tmp_path / "q.onnx", {"conv": (lo, hi)})
    got = ort.InferenceSession(str(tmp_path / "q.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x[:1]})[0]
    scale = np.float32((hi - lo) / 255)
    zero = np.clip(np.round(-lo / scale), 0, 255)
    x_q = (np.clip(np.round(x[:1] / scale) + zero, 0, 255) - zero) * scale
    w_scale = (np.abs(w.reshape(8, -1)).max(1) / 127).astype(np.float32)
    w_q = np.clip(np.round(w / w_scale[:, None, None, None]), -127, 127) * w_scale[:, None, None, None]
    ref = torch.nn.functional.conv2d(torch.from_numpy(x_q), torch.from_numpy(w_q), torch.from_numpy(b), 1, 1).numpy()
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
    types = [n.op_type for n in onnx.load(str(tmp_path / "q.onnx")).graph.node]
    assert types.count("QuantizeLinear") == 1 and types.count("DequantizeLinear") == 2


def test_onnx_fused_conv_runs_as_qlinearconv_and_matches_integer_arithmetic(tmp_path):
    """A Conv with its output range gets int32 bias and an output Q/DQ: onnxruntime's CPU provider fuses the unit
    into QLinearConv (faster than fp32 there) and the result is the quantized conv within one output step."""
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper

    from edgepose.converters.targets.onnx.qdq import collect_stats, fusable_outputs, output_key, write_qdq

    rng = np.random.default_rng(4)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
         helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 16, 16])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    src = tmp_path / "conv.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(src))
    assert fusable_outputs(model) == ["conv"]
    x = rng.standard_normal((4, 8, 16, 16)).astype(np.float32)
    stats = collect_stats(src, x)
    (lo, hi), (olo, ohi) = stats["conv"].range("minmax"), stats[output_key("conv")].range("minmax")
    write_qdq(src, tmp_path / "q.onnx", {"conv": (lo, hi)}, {"conv": (olo, ohi)})
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "opt.onnx")
    got = ort.InferenceSession(str(tmp_path / "q.onnx"), options, providers=["CPUExecutionProvider"]).run(
        None, {"x": x[:1]})[0]
    assert "QLinearConv" in {n.op_type for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node}

    def fake_quant(v: np.ndarray, low: float, high: float) -> np.ndarray:
        scale = np.float32((high - low) / 255)
        zero = np.clip(np.round(-low / scale), 0, 255)
        return (np.clip(np.round(v / scale) + zero, 0, 255) - zero) * scale

    w_scale = (np.abs(w.reshape(16, -1)).max(1) / 127).astype(np.float32)
    w_q = np.clip(np.round(w / w_scale[:, None, None, None]), -127, 127) * w_scale[:, None, None, None]
    conv = torch.nn.functional.conv2d(torch.from_numpy(fake_quant(x[:1], lo, hi)), torch.from_numpy(w_q),
                                      torch.from_numpy(b), 1, 1).numpy()
    c = fake_quant(conv, olo, ohi)
    ref = c / (1 + np.exp(-c))
    step, diff = (ohi - olo) / 255, np.abs(got - ref)
    assert (diff <= 1e-4 * np.abs(ref).max()).mean() >= 0.99      # integer-exact but for rounding ties
    assert diff.max() <= 1.1 * step                                 # a tie: one output step through SiLU (slope ≤ 1.1)


# --- COCO AP ---------------------------------------------------------------------------------------------

def test_coco_box_ap_of_the_real_detector_and_bad_paths(tmp_path):
    from edgepose.calibration.coco_eval import coco_ap
    from edgepose.runtimes.third_party import wrap

    detector = wrap("rtmdet-onnx", [need(SHARED / "models" / "rtmdet-nano" / "rtmdet-nano.onnx")], tmp_path / "det")
    annotations = need(SHARED / "data" / "combined_coco17_gt.json")
    result = coco_ap(detector, annotations, SHARED / "data")
    assert result["images"] == 10 and 0.3 <= result["AP"] <= 1.0 and result["AP50"] >= result["AP"]
    with pytest.raises(ConfigError, match="none of the images"):
        coco_ap(detector, annotations, tmp_path)
    with pytest.raises(ConfigError, match="not a COCO annotation file"):
        coco_ap(detector, tmp_path / "det" / "edgepose.json", SHARED / "data")


# --- mixed-precision search -------------------------------------------------------------------------------

def test_search_finds_fewer_float_layers_than_bisection_on_a_non_monotone_error():
    """Layers 0-2 must stay float; keeping layer 4 float without layer 5 costs 10 px (an interaction), so the
    error over "k most sensitive float" is over budget at k=5 and within at k=3: a bisection stops at k=6, the
    pruning pass must come back to exactly {0, 1, 2}."""
    from edgepose.converters.convert_int8 import fewest_float

    order = [f"L{i}" for i in range(10)]
    weight = dict(zip(order, [5, 5, 5, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05]))
    calls = []

    def error(float_layers: frozenset[str]) -> float:
        calls.append(float_layers)
        penalty = 10.0 if "L4" in float_layers and "L5" not in float_layers else 0.0
        return sum(w for n, w in weight.items() if n not in float_layers) + penalty

    assert error(frozenset(order[:5])) > 1 and error(frozenset(order[:3])) <= 1   # non-monotone in k
    calls.clear()
    assert fewest_float(order, error, 1.0) == frozenset({"L0", "L1", "L2"})
    assert len(calls) <= 20
    assert fewest_float(order, error, 100.0) == frozenset()                        # all int8 fits
    assert fewest_float(order, error, 1.0, max_trials=0) == frozenset(order[:6])   # bisection alone


def test_pruning_returns_the_least_sensitive_layers_to_int8_first():
    """Ranking A (most sensitive), B, C: the bisection keeps all three float; B or A could go back to int8, not
    both. Least sensitive first gives B back and keeps the sensitive A float."""
    from edgepose.converters.convert_int8 import fewest_float

    errors = {frozenset("ABC"): 0.0, frozenset("AB"): 2.0, frozenset("AC"): 0.5, frozenset("BC"): 0.5}
    assert fewest_float(list("ABC"), lambda s: errors.get(frozenset(s), 3.0), 1.0) == frozenset("AC")


def test_holdout_check_warns_when_the_budget_breaks_on_unseen_data():
    from edgepose.converters.convert_int8 import holdout_check

    ok = holdout_check(0.8, 0.9, 1.0)
    assert ok["holds"] and ok["warning"] is None
    broken = holdout_check(0.8, 1.6, 1.0)
    assert not broken["holds"] and "not on the held-out split" in broken["warning"]
    apart = holdout_check(0.3, 0.9, 1.0)           # within budget, but 3x the calibration error
    assert apart["holds"] and "may not represent" in apart["warning"]
    lost_in_budget = holdout_check(0.0, float("inf"), 1.0)
    assert lost_in_budget["holdout_error_px"] is None and not lost_in_budget["holds"]
    assert "a person was lost" in lost_in_budget["warning"] and "inf" not in lost_in_budget["warning"]
    assert holdout_check(2.0, 2.5, None)["holds"]   # all layers int8: no budget to break
    lost = holdout_check(4.4, float("inf"), None)    # all int8, a held-out person lost: said in words
    assert lost["holds"] and "a person was lost" in lost["warning"] and "inf" not in lost["warning"]
    # the slack: 1.25x the budget still holds (p95 shifts move in half-pixel steps), a hair more does not
    assert holdout_check(1.0, 1.25, 1.0)["holds"] and not holdout_check(1.0, 1.2501, 1.0)["holds"]
    # errors 2x apart are not yet "apart", and a held-out error under half a pixel is never worth a warning
    assert holdout_check(0.45, 0.9, 1.0)["warning"] is None and holdout_check(0.1, 0.5, 1.0)["warning"] is None
    assert holdout_check(0.2, 0.51, 1.0)["warning"] is not None


@pytest.mark.parametrize("calib, holdout, message", [
    ("VTEST#700-900", (), "--calib vtest.avi#700-900: the video has 795 frames \\(0-794\\); the range goes past its end"),
    ("VTEST#9-3", (), "--calib .*vtest.avi#9-3: a frame range is written VIDEO#FIRST-LAST with FIRST ≤ LAST"),
    ("VTEST", ("MISSING",), "--holdout .*missing: no such file or folder"),
    ("VTEST", ("VTEST#790-800",), "--holdout vtest.avi#790-800: the video has 795 frames"),
    ("EMPTY", (), "--calib .*empty has no images"),
])
def test_calibration_sources_are_checked_when_the_options_are_made(tmp_path, calib, holdout, message):
    """Before any conversion work: a missing or empty source, an inverted range or one past the video's end,
    each named with the option it came from."""
    from edgepose.converters.options import ConvertOptions

    (tmp_path / "empty").mkdir()
    names = {"VTEST": str(need(VTEST)), "MISSING": str(tmp_path / "missing"), "EMPTY": str(tmp_path / "empty")}

    def path(text):
        head, sep, tail = text.partition("#")
        return names[head] + sep + tail
    with pytest.raises(ConfigError, match=message):
        ConvertOptions(precisions=("int8",), calib=(path(calib),), holdout=tuple(map(path, holdout)))



def test_ncnn_int8_weights_round_half_away_from_zero():
    """ncnn's float2int8 rounds ties away from zero (C `round`), numpy's `round` to even: 0.5 → 1, 2.5 → 3."""
    from edgepose.converters.targets.ncnn.int8 import _round_away as writer_round

    ties = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49, -126.5], np.float32)
    assert writer_round(ties).tolist() == [1, 2, 3, -1, -3, 0, -127]


@pytest.mark.slow
def test_tflite_int8_ranges_follow_the_calibration_method(tmp_path):
    """`--method` reaches the TFLite writer: the activation ranges written are the observers' ranges for that
    method (minmax takes the rare outlier, percentile clips it), so the quantization scales differ."""
    import torch

    from edgepose.converters.targets.tflite.export import export_tflite
    from edgepose.converters.targets.tflite.int8 import collect_stats, write_int8
    from edgepose.runtimes.backends import _tflite_interpreter

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1))
    src = tmp_path / export_tflite(model, tmp_path, "tiny", (1, 16, 16, 3), ("out",)).model
    rng = np.random.default_rng(0)
    inputs = rng.normal(0, 1, (40, 16, 16, 3)).astype(np.float32)
    inputs[0, 0, 0] = 40.0   # one outlier pixel
    observers = collect_stats(src, inputs)
    scales = {}
    for method in ("minmax", "percentile"):
        dst = tmp_path / f"{method}.tflite"
        write_int8(src, dst, observers, method, [], inputs[:1])
        interpreter = _tflite_interpreter()(model_path=str(dst))
        scales[method] = sorted(d["quantization"][0] for d in interpreter.get_tensor_details()
                                if d["dtype"] == np.int8 and d["quantization"][0] > 0 and len(d["shape"]) == 4)
    assert scales["minmax"] and scales["percentile"] and len(scales["minmax"]) == len(scales["percentile"])
    assert max(scales["minmax"]) > 2 * max(scales["percentile"]), scales


@pytest.mark.parametrize("trans_b", [1, 0])
def test_onnx_gemm_weights_get_one_scale_per_output_channel(tmp_path, trans_b):
    """Gemm stores B as (N, K) with transB=1 and (K, N) without: the per-channel weight scale must follow the
    output axis either way, or an output whose weights are 1000x smaller is rounded to nothing."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from edgepose.converters.targets.onnx.qdq import write_qdq

    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (2, 8)).astype(np.float32)   # (N outputs, K inputs)
    w[1] *= 1e-3                                        # output 1: tiny weights
    b = w if trans_b else w.T.copy()
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "b"], ["y"], name="gemm", transB=trans_b)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 2])], [numpy_helper.from_array(b, "b")])
    src, dst = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    x = rng.uniform(-1, 1, (4, 8)).astype(np.float32)
    assert write_qdq(src, dst, {"gemm": (-1.0, 1.0)}) == ["gemm"]
    got = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    want = x @ w.T
    relative = np.abs(got - want).max(0) / np.abs(want).max(0)
    assert (relative < 0.05).all(), relative


def _kl_threshold_by_loops(values: np.ndarray, absmax: float, bins: int, levels: int) -> float:
    """ncnn's KL search as ncnn-int8-format.md describes it, bin by bin: P = the first t bins with the tail
    added to bin t-1, Q = the mean density of `levels` equal buckets spread back by overlap, both + 1e-4."""
    hist = np.histogram(values[values > 0], bins=bins, range=(0.0, absmax))[0].astype(np.float64)
    hist /= hist.sum()
    best = (np.inf, bins)
    for t in range(levels, bins):
        p = np.append(hist[:t - 1], hist[t - 1:].sum()) + 1e-4
        q = np.zeros(t)
        width = t / levels
        for j in range(levels):
            lo, hi = j * width, (j + 1) * width
            overlap = [max(0.0, min(i + 1, hi) - max(i, lo)) for i in range(t)]
            density = sum(hist[i] * overlap[i] for i in range(t)) / width
            q += density * np.array(overlap)
        kl = float(np.sum(p * np.log(p / (q + 1e-4))))
        best = min(best, (kl, t))
    return (best[1] + 0.5) * absmax / bins


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kl_threshold_is_exactly_ncnn_search(seed):
    rng = np.random.default_rng(seed)
    values = np.abs(np.concatenate([rng.laplace(0, 1, 5000), rng.normal(0, 8, 20 * seed + 5)]))
    absmax = float(values.max())
    got = kl_threshold(values, absmax, bins=128, levels=16)
    assert got == pytest.approx(_kl_threshold_by_loops(values, absmax, 128, 16), rel=1e-12)
    assert 0 < got < absmax
