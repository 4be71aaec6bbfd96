"""ONNX INT8 in QDQ form: QuantizeLinear → DequantizeLinear pairs in front of every quantized Conv / Gemm /
MatMul — uint8 activations (asymmetric, from the calibration range) and int8 weights (symmetric, per output
channel); a layer left in float by mixed precision simply gets no Q/DQ.

A quantized Conv also gets its bias as int32 (scale = input scale × weight scale) and a Q/DQ pair on its
output (`output_ranges`): that is the node unit onnxruntime's CPU provider fuses into one QLinearConv
(DQ → Conv → Q; without the output Q it runs a float Conv on dequantized values, slower than fp32). MatMul
with DQ inputs fuses into MatMulIntegerToFloat without one. TensorRT and QNN read the same placement.

`collect_stats` runs the fp32 model in onnxruntime with the quantized layers' inputs exposed as extra
outputs and feeds them to `calibration.observers`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgepose.calibration.observers import TensorObserver, weight_scales
from edgepose.runtimes.errors import ExportError

from ...options import MEASURE

QUANTIZED_OPS = ("Conv", "Gemm", "MatMul")


def quantizable(model) -> list:
    """Conv / Gemm / MatMul nodes whose weight (input 1) is a constant initializer, in graph order."""
    constants = {i.name for i in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type in QUANTIZED_OPS and len(n.input) > 1 and n.input[1] in constants
            and n.input[0] not in constants]


def collect_stats(path: Path, inputs: np.ndarray, progress=None) -> dict[str, TensorObserver]:
    """Observe the activation input of every quantizable node over `inputs` (N, C, H, W); keyed by node name."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    nodes = quantizable(model)
    fused = set(fusable_outputs(model))
    tensors = list(dict.fromkeys([n.input[0] for n in nodes] + [n.output[0] for n in nodes if n.name in fused]))
    existing = {o.name for o in model.graph.output}
    for name in tensors:
        if name not in existing:
            model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    settings = ort.SessionOptions()
    settings.intra_op_num_threads = MEASURE.threads
    session = ort.InferenceSession(model.SerializeToString(), settings, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    observers = {t: TensorObserver(seed=i) for i, t in enumerate(tensors)}
    for x in inputs:
        values = session.run(tensors, {input_name: x[None].astype(np.float32)})
        for name, value in zip(tensors, values):
            observers[name].update(value)
        if progress is not None:
            progress.update(1)
    result = {n.name: observers[n.input[0]] for n in nodes}
    result.update({output_key(n.name): observers[n.output[0]] for n in nodes if n.output[0] in observers})
    return result


def output_key(node: str) -> str:
    """The observer key of a node's output range (its input range is keyed by the node name)."""
    return f"{node}#output"


def fusable_outputs(model) -> list[str]:
    """Quantizable Conv nodes whose output can carry a Q/DQ pair (not a graph output): QLinearConv candidates."""
    outputs = {o.name for o in model.graph.output}
    return [n.name for n in quantizable(model) if n.op_type == "Conv" and n.output[0] not in outputs]


def activation_qparams(lo: float, hi: float) -> tuple[float, int]:
    """uint8 asymmetric (scale, zero point) covering [lo, hi]."""
    scale = max(hi - lo, 1e-8) / 255.0
    return scale, int(np.clip(round(-lo / scale), 0, 255))


def _fuse_conv_output(node, initializers: dict, x_scale: float, w_scales: np.ndarray,
                      out_range: tuple[float, float], new_nodes: dict[str, list]) -> list:
    """Turn a Conv with DQ inputs into the DQ → Conv → Q unit onnxruntime fuses into QLinearConv: int32 bias
    at input scale × weight scale, and a Q/DQ pair on the output, whose DQ keeps the output's name so the
    consumers are unchanged. Returns the new initializers; adds the new nodes to `new_nodes`."""
    from onnx import helper, numpy_helper

    inits = []
    if len(node.input) > 2 and node.input[2] in initializers:
        bias = numpy_helper.to_array(initializers[node.input[2]]).astype(np.float64)
        b_scale = (x_scale / w_scales.astype(np.float64)).astype(np.float32)
        q = np.clip(np.round(bias / b_scale), -2**31, 2**31 - 1).astype(np.int32)
        tag = f"{node.input[2]}_{node.name}_int32"
        inits += [numpy_helper.from_array(q, tag), numpy_helper.from_array(b_scale, f"{tag}_scale"),
                  numpy_helper.from_array(np.zeros(len(q), np.int32), f"{tag}_zero")]
        new_nodes.setdefault(node.input[2], []).append(
            helper.make_node("DequantizeLinear", [tag, f"{tag}_scale", f"{tag}_zero"], [f"{tag}_dq"],
                             name=f"{tag}_DQ", axis=0))
        node.input[2] = f"{tag}_dq"
    y = node.output[0]
    scale, zero = activation_qparams(*out_range)
    tag = f"{y}_out"
    inits += [numpy_helper.from_array(np.array(scale, np.float32), f"{tag}_scale"),
              numpy_helper.from_array(np.array(zero, np.uint8), f"{tag}_zero")]
    node.output[0] = f"{tag}_float"
    new_nodes.setdefault(f"{tag}_float", []).extend([
        helper.make_node("QuantizeLinear", [f"{tag}_float", f"{tag}_scale", f"{tag}_zero"], [f"{tag}_q"],
                         name=f"{tag}_Q"),
        helper.make_node("DequantizeLinear", [f"{tag}_q", f"{tag}_scale", f"{tag}_zero"], [y], name=f"{tag}_DQ")])
    return inits


def _topological(nodes: list, available: set[str]) -> list:
    """`nodes` in an order where every input is produced first (stable: already sorted runs stay as they are)."""
    produced, ordered, pending = set(available) | {""}, [], list(nodes)
    while pending:
        rest = []
        for node in pending:
            if all(i in produced for i in node.input):
                ordered.append(node)
                produced.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise ExportError(f"QDQ graph: node {rest[0].name} reads a tensor nothing produces")
        pending = rest
    return ordered


def write_qdq(src: Path, dst: Path, ranges: dict[str, tuple[float, float]],
              output_ranges: dict[str, tuple[float, float]] | None = None) -> list[str]:
    """Write `src` with Q/DQ in front of the nodes named in `ranges` (node → activation (low, high)) and, for the
    Conv nodes among them named in `output_ranges`, an int32 bias and a Q/DQ pair on the output (the fusable
    QLinearConv unit); returns the quantized node names."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    by_name = {n.name: n for n in quantizable(model)}
    unknown = [n for n in ranges if n not in by_name]
    if unknown:
        raise ExportError(f"cannot quantize {unknown[:3]}: not a Conv / Gemm / MatMul with constant weights")
    initializers = {i.name: i for i in graph.initializer}
    new_nodes, new_inits, done_activations = {}, [], {}
    for name, (lo, hi) in ranges.items():
        node = by_name[name]
        x = node.input[0]
        key = (x, round(lo, 9), round(hi, 9))
        x_scale, x_zero = activation_qparams(lo, hi)
        if key not in done_activations:  # one Q/DQ pair per tensor and range
            tag = f"{x}_qdq{len(done_activations)}"
            new_inits += [numpy_helper.from_array(np.array(x_scale, np.float32), f"{tag}_scale"),
                          numpy_helper.from_array(np.array(x_zero, np.uint8), f"{tag}_zero")]
            new_nodes.setdefault(x, []).extend([
                helper.make_node("QuantizeLinear", [x, f"{tag}_scale", f"{tag}_zero"], [f"{tag}_q"], name=f"{tag}_Q"),
                helper.make_node("DequantizeLinear", [f"{tag}_q", f"{tag}_scale", f"{tag}_zero"], [f"{tag}_dq"],
                                 name=f"{tag}_DQ")])
            done_activations[key] = f"{tag}_dq"
        node.input[0] = done_activations[key]
        # weights: int8, symmetric per output channel (Conv: axis 0; Gemm transB=1: axis 0; else axis 1)
        w_name = node.input[1]
        weight = numpy_helper.to_array(initializers[w_name]).astype(np.float32)
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)
        axis = 0 if node.op_type == "Conv" or (node.op_type == "Gemm" and trans_b) else weight.ndim - 1
        rows = np.moveaxis(weight, axis, 0)
        scales = weight_scales(rows)
        scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
        shape = [-1] + [1] * (rows.ndim - 1)
        q = np.clip(np.round(rows * scales.reshape(shape)), -127, 127).astype(np.int8)
        tag = f"{w_name}_{name}_int8"
        new_inits += [numpy_helper.from_array(np.moveaxis(q, 0, axis).copy(), tag),
                      numpy_helper.from_array((1.0 / scales).astype(np.float32), f"{tag}_scale"),
                      numpy_helper.from_array(np.zeros(len(scales), np.int8), f"{tag}_zero")]
        new_nodes.setdefault(w_name, []).append(
            helper.make_node("DequantizeLinear", [tag, f"{tag}_scale", f"{tag}_zero"], [f"{tag}_dq"],
                             name=f"{tag}_DQ", axis=axis))
        node.input[1] = f"{tag}_dq"
        if output_ranges and name in output_ranges and node.op_type == "Conv":
            new_inits += _fuse_conv_output(node, initializers, x_scale, scales, output_ranges[name], new_nodes)
    # each new node goes right after the producer of the tensor it reads, then the whole graph is sorted
    # topologically (a fused conv's output Q/DQ produces the tensor other Q/DQ nodes read)
    graph_inputs = {i.name for i in graph.input} | set(initializers)
    draft = [n for tensor, extra in new_nodes.items() if tensor in graph_inputs for n in extra]
    for node in graph.node:
        draft.append(node)
        draft += [n for out in node.output for n in new_nodes.get(out, [])]
    placed = {id(n) for n in draft}
    draft += [n for extra in new_nodes.values() for n in extra if id(n) not in placed]
    ordered = _topological(draft, graph_inputs | {i.name for i in new_inits})
    del graph.node[:]
    graph.node.extend(ordered)
    graph.initializer.extend(new_inits)
    used = {i for n in graph.node for i in n.input}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    if model.opset_import[0].version < 13:
        raise ExportError("per-channel QDQ needs opset ≥ 13")
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return list(ranges)
