"""PyTorch → ONNX with the TorchScript exporter (opset 17), then graph simplification with onnxslim.

The dynamo exporter forces opset 18, which pnnx converts wrongly (ScaleNorm), so the TorchScript path is
used on purpose. Outputs keep the model's names (`simcc_x`/`simcc_y`, `heatmaps`, `cls_s8`…`box_s32`).
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from edgepose.runtimes.errors import ExportError

from .options import OPSET

log = logging.getLogger(__name__)
FP16_SAFE_KEY = "edgepose.fp16_safe"   # ONNX metadata: the model declares its graph free of fp16 overflow


def export_onnx(model: nn.Module, path: Path, input_shape: tuple[int, int, int, int], output_names: tuple[str, ...],
                input_name: str = "input", dynamic_batch: bool = True, opset: int = OPSET,
                fp16_safe: bool = False) -> Path:
    """Trace `model` in eval mode at `input_shape`, write a simplified ONNX file at `path`. `fp16_safe` (a zoo
    model's declaration) becomes the ONNX metadata `edgepose.fp16_safe`, which the NCNN export carries to the
    card."""
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
    if fp16_safe:
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

