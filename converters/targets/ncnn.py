"""NCNN artifacts: the source's ONNX through pnnx (see converters/ncnn_export.py)."""
from __future__ import annotations

from pathlib import Path

from edgepose.runtimes.errors import ExportError

from ..model_source import ModelSource
from ..ncnn_export import export_ncnn
from ..quiet import quiet
from .base import Exported, Target


class NcnnTarget(Target):
    name = "ncnn"
    layout = "NCHW"

    def export(self, source: ModelSource, directory: Path, fp16: bool) -> Exported:
        with quiet("pnnx"):
            ncnn = export_ncnn(source.onnx, directory, source.name, tuple(source.input_shape), fp16)
        if len(ncnn.output_names) != len(source.outputs):
            raise ExportError(f"pnnx produced {len(ncnn.output_names)} outputs, expected {len(source.outputs)}")
        return Exported({"param": ncnn.param, "bin": ncnn.bin}, ncnn.input_name, list(ncnn.output_names),
                        list(source.input_shape), {"fp16_safe": ncnn.fp16_safe})
