"""NCNN artifacts: the source's ONNX through pnnx (converters/targets/ncnn/export.py); INT8 by our own writer of
ncnn's int8 format (converters/targets/ncnn/int8.py)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgepose.calibration.observers import TensorObserver
from edgepose.runtimes.card import ModelCard
from edgepose.runtimes.errors import ExportError
from edgepose.runtimes.quiet import quiet

from ...model_source import ModelSource
from ..base import FP16_MIN_ELEMENTS, Calibration, Exported, Int8Model, Int8Writer, Target
from .bin import cast_weights_fp16
from .export import export_ncnn
from .split import split_head


class NcnnInt8(Int8Writer):
    """Convolution / ConvolutionDepthWise / InnerProduct and constant-B Gemm layers, per-channel int8 weights,
    one input scale per layer from the observed threshold; an ncnn2table-style `.table` beside the model."""

    def __init__(self, fp32: Path, card: ModelCard) -> None:
        from .int8 import quantizable

        self.param, self.bin = fp32 / card.files["param"], fp32 / card.files["bin"]
        self.input_name = card.input.name
        self.layers = [layer.name for layer in quantizable(self.param)]

    def collect(self, inputs: np.ndarray, progress: Any) -> dict[str, TensorObserver]:
        from .int8 import collect_stats

        return collect_stats(self.param, self.bin, self.input_name, inputs, progress)

    def write(self, directory: Path, calibration: Calibration, int8_layers: list[str]) -> Int8Model:
        from .int8 import write_int8

        thresholds = {n: calibration.observers[n].threshold(calibration.method) for n in int8_layers}
        result = write_int8(self.param, self.bin, directory / self.param.name, directory / self.bin.name, thresholds)
        (directory / f"{self.param.stem}.table").write_text("\n".join(result.table) + "\n")
        return Int8Model({"param": self.param.name, "bin": self.bin.name})


class NcnnTarget(Target):
    name = "ncnn"
    layout = "NCHW"
    int8_writer = NcnnInt8

    def export(self, source: ModelSource, directory: Path) -> Exported:
        """pnnx on the source ONNX; for a model with an fp32 head, on the ONNX that also outputs the head's
        input, so that `cast_fp16` can cut the head off into its own net (targets/ncnn/split.py)."""
        onnx = source.head_split_onnx or source.onnx
        with quiet("pnnx"):
            ncnn = export_ncnn(onnx, directory, source.name, tuple(source.input_shape))
        expected = len(source.outputs) + (1 if source.head_split_onnx else 0)
        if len(ncnn.output_names) != expected:
            raise ExportError(f"pnnx produced {len(ncnn.output_names)} outputs, expected {expected}")
        outputs, head_inputs = ncnn.output_names[:len(source.outputs)], ncnn.output_names[len(source.outputs):]
        extra = {"fp16_safe": ncnn.fp16_safe, **({"head_inputs": head_inputs} if head_inputs else {})}
        return Exported({"param": ncnn.param, "bin": ncnn.bin}, ncnn.input_name, list(outputs),
                        list(source.input_shape), extra)

    def cast_fp16(self, directory: Path, exported: Exported) -> Exported:
        """fp16 weights for the large layers; a model with an fp32 head gets it as a second net with fp32
        weights (`head_param`/`head_bin`), which the runtime never runs in fp16."""
        param, binary = directory / exported.files["param"], directory / exported.files["bin"]
        files, extra = dict(exported.files), dict(exported.source_extra)
        head_inputs = extra.pop("head_inputs", None)
        if head_inputs:
            stem = param.stem
            files.update(head_param=f"{stem}.head.param", head_bin=f"{stem}.head.bin")
            extra["fp32_head_inputs"] = split_head(param, binary, head_inputs, directory / files["head_param"],
                                                   directory / files["head_bin"])
        half = binary.with_suffix(".fp16.bin")
        cast_weights_fp16(param, binary, half, FP16_MIN_ELEMENTS)
        half.replace(binary)
        # the runtime's default on fp16 CPUs: only for a graph made fp16-safe whose head was split off to run
        # fp32 (a whole RTMPose in fp16 moves keypoints 1.4-2.3 px on average, docs/convert.md, "NCNN fp16 safety")
        extra["fp16_arithmetic"] = bool(extra.get("fp16_safe")) and bool(head_inputs)
        return replace(exported, files=files, source_extra=extra)
