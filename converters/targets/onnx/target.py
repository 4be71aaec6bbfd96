"""ONNX artifacts: the source's static ONNX, as is (fp32) or with large weights stored as float16; INT8 as a
QDQ graph (converters/targets/onnx/qdq.py)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from edgepose.calibration.observers import TensorObserver
from edgepose.runtimes.card import ModelCard

from ...model_source import ModelSource
from ..base import Calibration, Exported, Int8Model, Int8Writer, Target
from .fp16 import cast_weights_fp16


class OnnxInt8(Int8Writer):
    """Conv / Gemm / MatMul with per-channel int8 weights and uint8 activations, written as Q/DQ pairs."""

    def __init__(self, fp32: Path, card: ModelCard, *, fused_conv: bool = True) -> None:
        """`fused_conv`: Q/DQ on conv outputs too, so onnxruntime's CPU provider runs QLinearConv."""
        import onnx

        from .qdq import quantizable

        self.model = fp32 / card.files["model"]
        self.layers = [n.name for n in quantizable(onnx.load(str(self.model)))]
        self.fused_conv = fused_conv

    def collect(self, inputs: np.ndarray, progress: Any) -> dict[str, TensorObserver]:
        from .qdq import collect_stats

        return collect_stats(self.model, inputs, progress)

    def write(self, directory: Path, calibration: Calibration, int8_layers: list[str]) -> Int8Model:
        from .qdq import output_key, write_qdq

        observers, method = calibration.observers, calibration.method
        outputs = {n: observers[output_key(n)].range(method) for n in int8_layers if output_key(n) in observers}
        write_qdq(self.model, directory / self.model.name, {n: observers[n].range(method) for n in int8_layers},
                  outputs if self.fused_conv else None)
        return Int8Model({"model": self.model.name})


class OnnxTarget(Target):
    name = "onnx"
    layout = "NCHW"
    dynamic_batch = True
    int8_writer = OnnxInt8

    def export(self, source: ModelSource, directory: Path) -> Exported:
        path = directory / source.onnx.name
        shutil.copyfile(source.onnx, path)
        shape = [-1 if source.dynamic_batch else 1, *source.input_shape[1:]]
        return Exported({"model": path.name}, source.onnx_input_name, list(source.onnx_output_names), shape)

    def cast_fp16(self, directory: Path, exported: Exported) -> Exported:
        path = directory / exported.files["model"]
        half = path.with_suffix(".fp16.onnx")
        cast_weights_fp16(path, half)
        half.replace(path)
        return exported
