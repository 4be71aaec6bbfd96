"""PyTorch → TFLite with litert-torch (no TensorFlow; keeps torch 2.13), and the fp16 weight cast.

Why not onnx2tf: it needs TensorFlow (2.5 GB) and mis-converted MMPose's own RTMPose-t ONNX here (the
head's 17×8×6 → 17×48 flatten came out transposed). litert-torch traces the PyTorch model directly.
The artifact takes NHWC float input (what Android bitmaps give) and has one named float output per role;
fp16 stores conv/FC weights as float16 (ai-edge-quantizer float casting) and computes in float32.
"""
from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from edgepose.runtimes.errors import ExportError
from edgepose.runtimes.quiet import quiet
from torch import nn

from ..base import FP16_MIN_ELEMENTS
from .reader import TFLiteModel

log = logging.getLogger(__name__)


class _NHWCNamed(nn.Module):
    """NHWC input → the NCHW model → {output name: tensor} (names become TFLite signature outputs)."""

    def __init__(self, model: nn.Module, output_names: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.output_names = output_names

    def forward(self, input: torch.Tensor) -> dict[str, torch.Tensor]:  # noqa: A002 (signature input name)
        out = self.model(input.permute(0, 3, 1, 2))
        out = out if isinstance(out, tuple) else (out,)
        return dict(zip(self.output_names, out))


@dataclass(frozen=True)
class TFLiteFiles:
    model: str                   # file name inside the artifact directory
    input_name: str              # tensor names as the interpreter reports them
    output_names: list[str]      # in the model's output order


def export_tflite(model: nn.Module, directory: Path, stem: str, input_shape_nhwc: tuple[int, int, int, int],
                  output_names: tuple[str, ...]) -> TFLiteFiles:
    """Convert `model` (NCHW) to `<stem>.tflite` with NHWC input."""
    try:
        import litert_torch
    except ImportError as exc:
        raise ExportError("litert-torch is not installed; pip install 'edgepose[convert]'") from exc
    path = directory / f"{stem}.tflite"
    wrapper = _NHWCNamed(model.eval(), output_names).eval()
    sample = {"input": torch.zeros(input_shape_nhwc)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            edge_model = litert_torch.convert(wrapper, sample_kwargs=sample)
        edge_model.export(str(path))
    except Exception as exc:  # litert-torch raises many unrelated types
        raise ExportError(f"litert-torch could not convert {stem}: {str(exc).splitlines()[0][:200]}") from exc
    return TFLiteFiles(path.name, *_tensor_names(path, output_names))


# Only conv / fully-connected weights of ≥ FP16_MIN_ELEMENTS (the ONNX and NCNN policy). The quantizer's own
# `min_weight_elements` does nothing for float casting (same file with 0 and 10⁹), so smaller layers get
# an explicit no-quantize entry by their output tensor (later recipe entries win). Measured on LiteHRNet-30
# (random reference weights, MMPose's reference crop, cosine vs PyTorch): all op types and sizes 0.9936;
# CONV_2D + FULLY_CONNECTED, all sizes 0.9978. TRANSPOSE_CONV cannot be cast by the quantizer.
FP16_CAST_OPS = ("CONV_2D", "FULLY_CONNECTED")


def weighted_ops(path: Path) -> list[tuple[str, str, int]]:
    """(op type, output tensor name, weight element count) of every op with a constant weight input."""
    model = TFLiteModel(path)
    return [(op.type, model.name(op.outputs[0]), op.weight_elements) for op in model.ops
            if op.weight_elements is not None and op.outputs]


def op_scope(tensor_names: list[str]) -> str:
    """The quantizer's recipe regex for the ops writing `tensor_names` (an op's scope is "out1;out2;").
    One alternation instead of one entry per op: the quantizer matches every entry against every op, which
    took 27 s for 122 entries on RTMDet-nano."""
    return "^(?:" + "|".join(re.escape(name) for name in tensor_names) + ");"


def cast_weights_fp16(path: Path) -> None:
    """Store the CONV_2D / FULLY_CONNECTED weights of ≥ FP16_MIN_ELEMENTS in `path` as float16, in place."""
    from ai_edge_quantizer import quantizer

    config = {"weight_tensor_config": {"num_bits": 16, "dtype": "FLOAT"}, "compute_precision": "FLOAT",
              "explicit_dequantize": True}
    recipe = [{"regex": ".*", "operation": op, "algorithm_key": "float_casting", "op_config": config}
              for op in FP16_CAST_OPS]
    small = [(kind, name) for kind, name, size in weighted_ops(path) if kind in FP16_CAST_OPS and size < FP16_MIN_ELEMENTS]
    recipe += [{"regex": op_scope([name for k, name in small if k == kind]), "operation": kind,
                "algorithm_key": "no_quantize"} for kind in FP16_CAST_OPS if any(k == kind for k, _ in small)]
    tmp = path.with_suffix(".fp16.tflite")
    try:
        with warnings.catch_warnings(), quiet("ai-edge-quantizer"):   # its own bar and temporary-file chatter
            warnings.simplefilter("ignore")
            quantizer.Quantizer(str(path), recipe).quantize(enable_progress_bar=False).export_model(str(tmp),
                                                                                                   overwrite=True)
    except Exception as exc:
        raise ExportError(f"ai-edge-quantizer could not cast {path.name} to fp16: {exc}") from exc
    os.replace(tmp, path)


def _tensor_names(path: Path, output_names: tuple[str, ...]) -> tuple[str, list[str]]:
    """Interpreter tensor names of the signature's input and of each named output."""
    inputs, outputs = TFLiteModel(path).signature()
    missing = [n for n in output_names if n not in outputs]
    if missing or "input" not in inputs:
        raise ExportError(f"{path.name}: signature lacks {missing or ['input']}")
    return inputs["input"], [outputs[n] for n in output_names]
