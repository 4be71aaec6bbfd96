"""PyTorch → ONNX with the TorchScript exporter (opset 17), then graph simplification with onnxslim.

The dynamo exporter forces opset 18, which pnnx converts wrongly (ScaleNorm), so the TorchScript path is
used on purpose. Outputs keep the model's names (`simcc_x`/`simcc_y`, `heatmaps`, `cls_s8`…`box_s32`).
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgepose.runtimes.errors import ExportError

log = logging.getLogger(__name__)
OPSET = 17
FP16_SAFE_KEY = "edgepose.fp16_safe"   # ONNX metadata: the model declares its graph free of fp16 overflow


def export_onnx(model: nn.Module, path: Path, input_shape: tuple[int, int, int, int], output_names: tuple[str, ...],
                input_name: str = "input", dynamic_batch: bool = True, opset: int = OPSET) -> Path:
    """Trace `model` in eval mode at `input_shape`, write a simplified ONNX file at `path`. A model whose class
    says `fp16_safe = True` gets the ONNX metadata `edgepose.fp16_safe`, which the NCNN export carries to the card."""
    import onnx

    if opset > OPSET:
        raise ExportError(f"opset {opset} is not supported: pnnx mis-converts ScaleNorm above opset {OPSET}; "
                          f"use --opset {OPSET} or lower (≥ 13)")
    model = model.eval()
    dummy = torch.zeros(input_shape)
    axes = {name: {0: "batch"} for name in (input_name, *output_names)} if dynamic_batch else None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
            torch.onnx.export(model, (dummy,), str(path), dynamo=False, opset_version=opset,
                              input_names=[input_name], output_names=list(output_names), dynamic_axes=axes,
                              do_constant_folding=True)
    except Exception as exc:  # the exporter raises many unrelated types
        raise ExportError(f"torch.onnx.export failed for {type(model).__name__}: {exc}") from exc
    simplified = simplify(onnx.load(str(path)))
    if getattr(model, "fp16_safe", False):
        onnx.helper.set_model_props(simplified, {FP16_SAFE_KEY: "true"})
    onnx.save(simplified, str(path))
    onnx.checker.check_model(str(path), full_check=True)
    return path


def simplify(model_proto):
    """Fold constants and fuse trivial nodes with onnxslim; the graph's input/output names are kept."""
    import onnxslim

    names = [o.name for o in model_proto.graph.output]
    slim = onnxslim.slim(model_proto)
    if slim is None or [o.name for o in slim.graph.output] != names:
        raise ExportError("onnxslim changed or lost the graph outputs; re-run with a different onnxslim version")
    return slim


FP16_MIN_ELEMENTS = 4096


def cast_weights_fp16(src: Path, dst: Path, min_elements: int = FP16_MIN_ELEMENTS) -> int:
    """Store float32 weights of ≥ `min_elements` as float16, each followed by a Cast back to float32, so the
    file about halves while the graph still computes in float32. Returns how many weights were cast.

    Small weights (depthwise kernels, squeeze-excitation 1×1s, biases) stay float32: they are a few % of
    the bytes but carry most of the rounding damage. Measured on the reference LiteHRNet-30 crop: casting
    every weight gives output cosine 0.9929 and moves keypoints 75 px; from 4096 elements up, cosine
    0.99993 and no keypoint moves, for 68 % of the fp32 size instead of 59 %."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    casts, count = [], 0
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < min_elements:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{init.name}__fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                      name=f"{init.name}__cast"))
        count += 1
    for node in reversed(casts):
        graph.node.insert(0, node)
    onnx.save(model, str(dst))
    return count

