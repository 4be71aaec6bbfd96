"""TFLite artifacts: the source's PyTorch module through litert-torch, NHWC input, named outputs; INT8 through
ai-edge-quantizer (converters/targets/tflite/int8.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgepose.calibration.observers import TensorObserver
from edgepose.runtimes.card import ModelCard
from edgepose.runtimes.tasks import task_of
from edgepose.runtimes.quiet import quiet

from ...model_source import ModelSource
from ..base import Calibration, Exported, Int8Model, Int8Writer, Target
from .export import cast_weights_fp16, export_tflite

INT16_SCOPE = "RTMCCBlock_gau"  # litert-torch op scope of RTMCCHead's gated attention unit


class TFLiteInt8(Int8Writer):
    """Units of ops (a conv with its activation...) as litert-torch scopes them; int8 weights and activations,
    16-bit activations for the units named in `int16_layers`, float for the units left out."""

    def __init__(self, fp32: Path, card: ModelCard, *, int16_outputs: bool | None = None) -> None:
        """`int16_outputs`: 16-bit activations for the output units and RTMPose's GAU; None = as the card's task
        declares (`Task.int16_outputs`)."""
        from .int8 import io_names, layer_units, unquantizable_outputs

        self.model = fp32 / card.files["model"]
        self.units = layer_units(self.model)
        self.always_float = unquantizable_outputs(self.model)
        self.layers = list(self.units)
        _, outputs = io_names(self.model)
        self.output_keys = {tensor: key for key, tensor in outputs.items()}  # fp32 tensor name → signature key
        self.card_outputs = [o.name for o in card.outputs]
        # units writing a model output, and RTMPose's gated attention unit, get 16-bit activations (int8
        # weights): an int8 output has 256 levels over the whole logit range, too coarse for SimCC's flat peaks,
        # so the argmax moves. Distilled RTMPose-t, 128 held-out crops, mean shift / 1-thread ms: all-int8
        # 2.2 px; int16 outputs 1.11 px / 3.2 ms; + GAU 0.97 px / 3.6 ms; + the whole head (its 7×7 conv too)
        # 0.95 px / 7.0 ms (int16 convs are slow in LiteRT); head and outputs float 0.86 px; fp32 8.9 ms
        # pose tasks only: on RTMDet-nano (all-int8, 100 calibration samples, 9 held-out photos) int16 outputs
        # changed nothing (mean IoU 0.910 vs 0.913, the same 5 persons under 0.5) and cost 1.1 ms (7.9 vs
        # 6.8 ms, 1 thread): LiteRT runs int16x8 convolutions in its reference kernels
        if task_of(card).int16_outputs if int16_outputs is None else int16_outputs:
            self.int16_layers = [n for n in self.layers if set(self.units[n]) & set(self.output_keys)
                                 or INT16_SCOPE in n]

    def collect(self, inputs: np.ndarray, progress: Any) -> dict[str, TensorObserver]:
        from .int8 import collect_stats

        return collect_stats(self.model, np.ascontiguousarray(inputs.transpose(0, 2, 3, 1)), progress)

    def write(self, directory: Path, calibration: Calibration, int8_layers: list[str]) -> Int8Model:
        """QUANTIZE / DEQUANTIZE rename the graph's edges: the result names the new input and output tensors."""
        from .int8 import io_names, write_int8

        int8 = set(int8_layers)
        dst = directory / self.model.name
        float_ops = self.always_float + [op for name in self.layers if name not in int8 for op in self.units[name]]
        int16_ops = [op for name in self.int16_layers if name in int8 for op in self.units[name]]
        sample = np.ascontiguousarray(calibration.sample.transpose(0, 2, 3, 1))
        write_int8(self.model, dst, calibration.observers, calibration.method, float_ops, sample, int16_ops)
        input_name, outputs = io_names(dst)
        return Int8Model({"model": self.model.name}, input_name,
                         [outputs[self.output_keys[name]] for name in self.card_outputs])


class TFLiteTarget(Target):
    name = "tflite"
    layout = "NHWC"
    int8_writer = TFLiteInt8

    def export(self, source: ModelSource, directory: Path) -> Exported:
        _, _, h, w = source.input_shape
        with quiet("litert-torch"):
            tfl = export_tflite(source.make_module(), directory, source.name, (1, h, w, 3), source.signature_names)
        return Exported({"model": tfl.model}, tfl.input_name, list(tfl.output_names), [1, h, w, 3])

    def cast_fp16(self, directory: Path, exported: Exported) -> Exported:
        cast_weights_fp16(directory / exported.files["model"])
        return exported
