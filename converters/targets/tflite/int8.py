"""TFLite full-integer INT8 through ai-edge-quantizer: int8 weights (per channel) and int8 activations for
every op LiteRT can run in integer, float input and output (QUANTIZE / DEQUANTIZE at the edges) so the app
feeds the same float tensor as for the fp32 model.

Activation ranges come from our observers (`collect_stats` runs the fp32 model in LiteRT with every tensor
kept, and observes each tensor the quantizer asks ranges for); they replace the quantizer's own min/max.
Mixed precision works on units — a conv / depthwise / fully-connected op and the elementwise ops after it —
kept in float by one `no_quantize` recipe entry matching their output tensor names.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from edgepose.calibration.observers import TensorObserver
from edgepose.runtimes.errors import ExportError
from edgepose.runtimes.quiet import quiet

from .export import op_scope
from .reader import TFLiteModel

log = logging.getLogger(__name__)

LAYER_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
OBSERVER_SAMPLE = 65_536
# ops that stay float in every INT8 model: ScaleNorm's division by a norm cannot run in int8 (LiteRT aborts
# with "data[i] != zero_point" when the quantized norm hits zero), nor can the reductions and roots before it
ALWAYS_FLOAT_OPS = ("DIV", "SQRT", "RSQRT", "SUM", "MAXIMUM", "SQUARED_DIFFERENCE")     # values kept per tensor (TFLite models have hundreds of activation tensors)


# op types whose tensors the quantizer gets wrong: TRANSPOSE_CONV (MobileNetV2's deconv head) leaves its bias
# with 256 scales on a per-tensor slot and LiteRT refuses the file; their output tensors are always float
UNQUANTIZABLE_OPS = ("TRANSPOSE_CONV",)


def unquantizable_outputs(path: Path) -> list[str]:
    model = TFLiteModel(path)
    return [model.name(op.outputs[0]) for op in model.ops if op.type in UNQUANTIZABLE_OPS and op.outputs]


def layer_units(path: Path) -> dict[str, list[str]]:
    """Mixed-precision units in graph order: each conv / depthwise / fully-connected op with the ops after it
    up to the next one (its activation, adds, concats…), keyed by the weighted op's output tensor name and
    listing every member op's output tensor. Full-integer TFLite quantizes elementwise ops too, so keeping
    only a conv in float would leave its SiLU in int8."""
    model = TFLiteModel(path)
    units: dict[str, list[str]] = {}
    pending: list[str] = []
    current: str | None = None
    for op in model.ops:
        outputs = [model.name(i) for i in op.outputs]
        if not outputs:
            continue
        if op.type in LAYER_OPS:
            current = outputs[0]
            units[current] = pending + outputs
            pending = []
        elif current is None:
            pending += outputs
        else:
            units[current] += outputs
    return units


def _recipe(float_ops: list[str], int16_ops: list[str] = ()) -> list[dict]:
    """Static int8 for everything, float I/O, the ops writing `int16_ops` with 16-bit activations (int8 weights:
    LiteRT's int16x8 kernels) and the ops writing `float_ops` left in float."""
    from ai_edge_quantizer import recipe

    entries = list(recipe.static_wi8_ai8())
    if int16_ops:
        entries.append({**recipe.static_wi8_ai16()[0], "regex": op_scope(int16_ops)})
    entries += [{"regex": ".*", "operation": op, "algorithm_key": "no_quantize"}
                for op in ("INPUT", "OUTPUT", *ALWAYS_FLOAT_OPS)]
    if float_ops:  # later entries win
        entries.append({"regex": op_scope(float_ops), "operation": "*", "algorithm_key": "no_quantize"})
    return entries


def collect_stats(path: Path, inputs_nhwc: np.ndarray, progress=None) -> dict[str, TensorObserver]:
    """Observers for every tensor that static quantization needs a range for, keyed by tensor name."""
    from ai_edge_quantizer import quantizer

    with warnings.catch_warnings(), quiet("ai-edge-quantizer"):
        warnings.simplefilter("ignore")
        wanted = quantizer.Quantizer(str(path), _recipe([])).calibrate(
            {"serving_default": [{"input": inputs_nhwc[:1]}]}, num_threads=1)
    model = TFLiteModel(path, preserve_all_tensors=True)
    interpreter, index = model.interpreter, model.index
    interpreter.allocate_tensors()
    names = [n for n in wanted if n in index]
    observers = {n: TensorObserver(seed=i, sample_size=OBSERVER_SAMPLE) for i, n in enumerate(names)}
    runner = interpreter.get_signature_runner()
    for x in inputs_nhwc:
        runner(input=x[None])
        for name in names:
            observers[name].update(interpreter.get_tensor(index[name]))
        if progress is not None:
            progress.update(1)
    return observers


def write_int8(src: Path, dst: Path, observers: dict[str, TensorObserver], method: str, float_ops: list[str],
               sample_nhwc: np.ndarray, int16_ops: list[str] = ()) -> None:
    """Quantize `src` into `dst` with activation ranges from `observers`; the ops writing `float_ops` stay float,
    those writing `int16_ops` get 16-bit activations."""
    from ai_edge_quantizer import quantizer

    with warnings.catch_warnings(), quiet("ai-edge-quantizer"):
        warnings.simplefilter("ignore")
        q = quantizer.Quantizer(str(src), _recipe(float_ops, int16_ops))
        qsv = q.calibrate({"serving_default": [{"input": sample_nhwc[:1]}]}, num_threads=1)
        for name, entry in qsv.items():
            if name in observers and "min" in entry:
                lo, hi = observers[name].range(method)
                entry["min"] = np.full_like(np.asarray(entry["min"], np.float32), lo)
                entry["max"] = np.full_like(np.asarray(entry["max"], np.float32), hi)
        try:
            q.quantize(qsv, enable_progress_report=False).export_model(str(dst), overwrite=True)
        except Exception as exc:  # the quantizer raises many unrelated types
            raise ExportError(f"ai-edge-quantizer could not quantize {src.name}: {exc}") from exc


def io_names(path: Path) -> tuple[str, dict[str, str]]:
    """(input tensor name, {signature output key: tensor name}) of a TFLite file."""
    inputs, outputs = TFLiteModel(path).signature()
    return inputs["input"], outputs
