"""TFLite artifacts: the source's PyTorch module through litert-torch, NHWC input, named outputs."""
from __future__ import annotations

from pathlib import Path

from ..model_source import ModelSource
from ..quiet import quiet
from ..tflite_export import export_tflite
from .base import Exported, Target


class TFLiteTarget(Target):
    name = "tflite"
    layout = "NHWC"

    def export(self, source: ModelSource, directory: Path, fp16: bool) -> Exported:
        _, _, h, w = source.input_shape
        with quiet("litert-torch"):
            tfl = export_tflite(source.make_module(), directory, source.name, (1, h, w, 3), source.signature_names,
                                fp16)
        return Exported({"model": tfl.model}, tfl.input_name, list(tfl.output_names), [1, h, w, 3])
