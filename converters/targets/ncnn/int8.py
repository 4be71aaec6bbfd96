"""ncnn INT8 models written by our own code (the `ncnn` wheel has no ncnn2table / ncnn2int8).

Format (../shared/ncnn-int8-format.md): a quantized Convolution / ConvolutionDepthWise / InnerProduct gets
`8=` int8_scale_term in the .param (2, 1 = per-group for depthwise, 2) and, in the .bin, int8-tagged weights,
the float bias, one weight scale per output channel (per group for depthwise) and one input scale. A Gemm
with a constant weight B (RTMPose's SimCC head) gets `18=2`: int8 B with one scale, activations quantized
per row at run time. Scales
multiply into int8 units: q = clamp(round_half_away(x · scale), −127, 127). Every other layer, and every
layer left in float by mixed precision, keeps its bytes as they were.

Calibration (`collect_stats`) runs the fp32 model in ncnn itself and observes the first input blob of every
quantizable layer, as ncnn2table does; thresholds come from `calibration.observers`.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edgepose.calibration.observers import TensorObserver, weight_scales
from edgepose.runtimes.errors import ExportError

from ...options import MEASURE
from .bin import TAG_INT8, read_weights
from .param import NcnnLayer, NcnnParam

INT8_TYPES = {"Convolution": 2, "ConvolutionDepthWise": 1, "InnerProduct": 2, "Gemm": 2}   # type → int8 term
INT8_KEY = {"Gemm": "18"}     # the param key of the int8 term where it is not 8= (Gemm: quantize_term)


def quantizable(param: Path) -> list[NcnnLayer]:
    """The layers ncnn can run in int8, in file order. A Gemm qualifies when its B is a constant weight stored
    row-per-output (transB=1) and A is the activation: ncnn then quantizes A per row at run time (dynamic), so
    its calibrated threshold is not used; B gets one static scale."""
    return [layer for layer in NcnnParam.read(param).layers if layer.kind in INT8_TYPES and
            (layer.kind != "Gemm" or _int8_gemm(layer))]


def _int8_gemm(layer: NcnnLayer) -> bool:
    g = layer.int_param
    return g(4, 0) == 0 and g(5, 0) == 1 and g(3, 0) == 1


def collect_stats(param: Path, binary: Path, input_name: str, inputs: np.ndarray,
                  progress=None) -> dict[str, TensorObserver]:
    """Observe the first input blob of every quantizable layer over `inputs` (N, C, H, W), fp32 ncnn."""
    import ncnn

    layers = quantizable(param)
    blobs = list(dict.fromkeys(layer.bottoms[0] for layer in layers))
    observers = {blob: TensorObserver(seed=i) for i, blob in enumerate(blobs)}
    net = ncnn.Net()
    opt = net.opt
    opt.use_vulkan_compute = False
    opt.num_threads = MEASURE.threads
    opt.use_fp16_packed = opt.use_fp16_storage = opt.use_fp16_arithmetic = False
    opt.lightmode = False  # keep intermediate blobs for extraction
    if net.load_param(str(param)) != 0 or net.load_model(str(binary)) != 0:
        raise ExportError(f"ncnn could not load {param.name} for calibration")
    for x in inputs:
        sample = np.ascontiguousarray(x, np.float32)
        with net.create_extractor() as ex:
            ex.input(input_name, ncnn.Mat(sample))
            for blob in blobs:
                ret, mat = ex.extract(blob)
                if ret != 0:
                    raise ExportError(f"ncnn could not compute blob {blob} during calibration")
                observers[blob].update(np.array(mat))
        if progress is not None:
            progress.update(1)
    return {layer.name: observers[layer.bottoms[0]] for layer in layers}


def _round_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _weight_levels(layer: NcnnLayer) -> int:
    """ncnn2table's rule: 3×3 stride-1 dilation-1 Convolutions get 6-bit weights (Winograd int8 headroom)."""
    g = layer.int_param
    kw, kh = g(1, 0), g(11, g(1, 0))
    sw, sh = g(3, 1), g(13, g(3, 1))
    dw, dh = g(2, 1), g(12, g(2, 1))
    return 31 if layer.kind == "Convolution" and (kw, kh, sw, sh, dw, dh) == (3, 3, 1, 1, 1, 1) else 127


@dataclass(frozen=True)
class Int8Result:
    quantized: list[str]                  # layer names now int8
    table: list[str]                      # ncnn2table-format lines (weight scales, input scales)


def write_int8(param: Path, binary: Path, out_param: Path, out_bin: Path, input_thresholds: dict[str, float]
               ) -> Int8Result:
    """Write an int8 model quantizing exactly the layers in `input_thresholds` (name → |x| threshold)."""
    model = NcnnParam.read(param)
    weights = read_weights(param, binary)
    by_name = {layer.name: layer for layer in model.layers}
    unknown = [n for n in input_thresholds if n not in by_name or by_name[n].kind not in INT8_TYPES]
    if unknown:
        raise ExportError(f"cannot quantize {unknown[:3]}: not Convolution / ConvolutionDepthWise / InnerProduct / "
                          "Gemm with a constant transposed B")
    layers, out, table, quantized = [], bytearray(), [], []
    for layer in model.layers:
        if layer.name in input_thresholds:
            blob, table_rows = _quantized_blob(layer, weights[layer.name][1], input_thresholds[layer.name])
            key = INT8_KEY.get(layer.kind, "8")   # the int8 term goes last, replacing any written before
            params = {k: v for k, v in layer.params.items() if k != key} | {key: str(INT8_TYPES[layer.kind])}
            layer = replace(layer, params=params)
            out += blob
            table += table_rows
            quantized.append(layer.name)
        elif layer.name in weights:
            out += weights[layer.name][0]
        layers.append(layer)
    replace(model, layers=tuple(layers)).write(out_param)
    out_bin.write_bytes(bytes(out))
    return Int8Result(quantized, table)


def _gemm_blob(layer: NcnnLayer, arrays: list[np.ndarray]) -> tuple[bytes, list[str]]:
    """Gemm quantize_term 2: int8 B (N rows of K, one scale for the whole matrix), then C as it was, then the
    B scale; A is quantized per row at run time. No table row (ncnn2int8 writes none for Gemm either)."""
    n, k = layer.int_param(8), layer.int_param(9)
    weight = arrays[0].reshape(n, k)
    scale = weight_scales(weight.reshape(1, -1))[0] or np.float32(1.0)
    q = np.clip(_round_away(weight * scale), -127, 127).astype(np.int8).tobytes()
    blob = bytearray(struct.pack("<I", TAG_INT8) + q + b"\0" * (-len(q) % 4))
    for extra in arrays[1:]:  # C, raw fp32
        blob += extra.astype(np.float32).tobytes()
    blob += np.float32(scale).tobytes()
    return bytes(blob), []


def _quantized_blob(layer: NcnnLayer, arrays: list[np.ndarray], threshold: float) -> tuple[bytes, list[str]]:
    if layer.kind == "Gemm":
        return _gemm_blob(layer, arrays)
    num_output = layer.int_param(0)
    weight = arrays[0]
    if layer.kind == "ConvolutionDepthWise":
        groups = layer.int_param(7, 1)
        rows = weight.reshape(groups, -1)
    else:
        rows = weight.reshape(num_output, -1)
    scales = weight_scales(rows, _weight_levels(layer))
    q = np.clip(_round_away(rows * scales[:, None]), -127, 127).astype(np.int8).tobytes()
    blob = bytearray(struct.pack("<I", TAG_INT8) + q + b"\0" * (-len(q) % 4))
    if len(arrays) > 1:  # bias, raw fp32
        blob += arrays[1].astype(np.float32).tobytes()
    input_scale = np.float32(127.0 / threshold if threshold > 0 else 1.0)
    blob += scales.astype(np.float32).tobytes() + input_scale.tobytes()
    table = [f"{layer.name}_param_0 " + " ".join(f"{s:f}" for s in scales) + " ",
             f"{layer.name} {input_scale:f} "]
    return bytes(blob), table
