"""ONNX artifacts: the source's static ONNX, as is (fp32) or with large weights stored as float16."""
from __future__ import annotations

import shutil
from pathlib import Path

from ..model_source import ModelSource
from ..onnx_export import cast_weights_fp16
from .base import Exported, Target


class OnnxTarget(Target):
    name = "onnx"
    layout = "NCHW"
    dynamic_batch = True

    def export(self, source: ModelSource, directory: Path, fp16: bool) -> Exported:
        path = directory / source.onnx.name
        if fp16:
            cast_weights_fp16(source.onnx, path)
        else:
            shutil.copyfile(source.onnx, path)
        shape = [-1 if source.dynamic_batch else 1, *source.input_shape[1:]]
        return Exported({"model": path.name}, source.onnx_input_name, list(source.onnx_output_names), shape)
