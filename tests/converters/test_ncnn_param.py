"""The one `.param` model (converters/targets/ncnn/param.py): files round-trip unchanged, fields read as
written, and the readers built on it (weight layout, I/O blobs) give what the file says. Expected values are
worked out by hand from the layer lines, not taken from a run of the code."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgepose.converters.targets.ncnn.bin import RAW, TAGGED, blob_layout
from edgepose.converters.targets.ncnn.export import _io_blobs
from edgepose.converters.targets.ncnn.param import NcnnParam

# pnnx's layout (`%-24s %-24s %d %d`), with a constant-B Gemm and its C, a MemoryData, array and float values,
# and outputs written out10 before out2
HAND = """7767517
7 8
Input                    in0                      0 1 in0 0=4 1=3
Gemm                     gemm_0                   1 1 in0 1 3=1 5=1 6=1 7=3 8=6 9=4 10=4
MemoryData               scale                    0 1 2 0=6 1=3
BinaryOp                 mul_0                    2 1 1 2 3 0=2
Split                    splitncnn_0              1 2 3 4 5
Crop                     slice_0                  1 1 4 out10 -23309=1,0 -23310=1,2 -23311=1,1
Clip                     clip_0                   1 1 5 out2 0=-1.500000e+00 1=6.000000e+00
"""


def test_hand_written_param_round_trips_and_reads_every_form(tmp_path):
    path = tmp_path / "hand.param"
    path.write_text(HAND)
    model = NcnnParam.read(path)
    assert model.text() == HAND and model.magic == "7767517" and len(model.layers) == 7
    _, gemm, _, mul, split, crop, clip = model.layers
    assert (gemm.kind, gemm.name, gemm.bottoms, gemm.tops) == ("Gemm", "gemm_0", ("in0",), ("1",))
    assert (mul.bottoms, mul.tops, split.tops) == (("1", "2"), ("3",), ("4", "5"))
    assert gemm.int_param(8) == 6 and gemm.int_param(4, 0) == 0
    with pytest.raises(KeyError):
        gemm.int_param(4)
    assert crop.int_param(9, 7) == 7                         # -23309 is array 9, not a scalar
    assert (crop.array_param(9), crop.array_param(10), crop.array_param(0)) == ([0.0], [2.0], None)
    assert clip.params == {"0": "-1.500000e+00", "1": "6.000000e+00"} and clip.int_param(1) == 6
    assert model.kinds == {"Input", "Gemm", "MemoryData", "BinaryOp", "Split", "Crop", "Clip"}
    # Gemm: B constant (5=1), N·K = 6·4 tagged, C constant with broadcast type 4 (per column): N raw;
    # MemoryData w·h = 6·3 raw; the rest read no weights
    assert blob_layout(path) == [("gemm_0", [(24, TAGGED), (6, RAW)]), ("scale", [(18, RAW)])]
    assert _io_blobs(path) == ("in0", ["out2", "out10"])      # pnnx's output number, not text order
    assert replace(model, layers=model.layers[:2]).text().splitlines()[1] == "2 2"   # counts follow edits


def test_pnnx_written_param_round_trips_and_matches_its_bin(tmp_path):
    """A file written by pnnx now: x → Conv 3→8 3×3 (bias) → ReLU → depthwise 3×3 (bias) → [channels 0:4,
    global pool → Linear 8→5 (bias)]."""
    pytest.importorskip("pnnx")
    pytest.importorskip("ncnn")
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgepose.converters.targets.ncnn.export import export_ncnn

    rng = np.random.default_rng(0)
    shapes = {"w1": (8, 3, 3, 3), "b1": (8,), "w2": (8, 1, 3, 3), "b2": (8,), "fc_w": (5, 8), "fc_b": (5,)}
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n) for n, s in shapes.items()]
    inits += [numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("start", 0), ("end", 4), ("axis", 1))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("Conv", ["r", "w2", "b2"], ["d"], pads=[1, 1, 1, 1], group=8),
             helper.make_node("Slice", ["d", "start", "end", "axis"], ["y1"]),
             helper.make_node("GlobalAveragePool", ["d"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y2"], transB=1)]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y1", "y2")]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
              str(tmp_path / "t.onnx"))
    files = export_ncnn(tmp_path / "t.onnx", tmp_path, "t", (1, 3, 16, 16))
    param: Path = tmp_path / files.param

    model = NcnnParam.read(param)
    assert model.text() == param.read_text()
    by_kind = {layer.kind: layer for layer in model.layers}
    conv, dw, fc = by_kind["Convolution"], by_kind["ConvolutionDepthWise"], by_kind["InnerProduct"]
    assert conv.bottoms == ("in0",) and dw.bottoms == conv.tops and fc.tops == ("out1",)
    assert [conv.int_param(k) for k in (0, 1, 5, 6)] == [8, 3, 1, 8 * 3 * 3 * 3]
    assert [dw.int_param(k) for k in (0, 6, 7)] == [8, 8 * 3 * 3, 8]
    assert [fc.int_param(k) for k in (0, 1, 2)] == [5, 1, 5 * 8]
    # each weighted layer: tagged fp32 weights, then its raw fp32 bias; the .bin holds exactly those bytes
    expected = [(conv.name, [(216, TAGGED), (8, RAW)]), (dw.name, [(72, TAGGED), (8, RAW)]),
                (fc.name, [(40, TAGGED), (5, RAW)])]
    assert blob_layout(param) == expected
    assert (tmp_path / files.bin).stat().st_size == 3 * 4 + 4 * (216 + 8 + 72 + 8 + 40 + 5)
    # pnnx numbers outputs in the ONNX order: out0 is the channel slice (y1), out1 the Linear (y2)
    assert _io_blobs(param) == ("in0", ["out0", "out1"]) == (files.input_name, files.output_names)
    assert next(layer.kind for layer in model.layers if "out0" in layer.tops) == "Crop"
