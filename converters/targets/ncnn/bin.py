"""Read and rewrite ncnn `.bin` weight files (layout: ../shared/ncnn-int8-format.md §1.2).

A `.bin` is the concatenation of each layer's weight blobs in `.param` order, with no index: each blob is
either tagged (4-byte tag, then fp32 / fp16 / ... data padded to 4 bytes) or raw fp32. `blob_layout` works
out, from the `.param`, which blobs each layer reads; `cast_weights_fp16` then stores the large tagged
weights as fp16 and keeps small ones (depthwise kernels, squeeze-excitation layers) and raw blobs in fp32.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from edgepose.runtimes.errors import ExportError

from .param import NcnnParam

TAG_FP32 = 0x00000000
TAG_FP32_RAW = 0x0002C056
TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAGGED, RAW = 0, 1

# layer types that read no weights from the .bin
_WEIGHTLESS = {"Input", "Split", "Concat", "Slice", "BinaryOp", "UnaryOp", "Pooling", "Interp", "ReLU", "Clip",
               "Sigmoid", "Swish", "HardSigmoid", "HardSwish", "ShuffleChannel", "Reshape", "Permute", "Flatten",
               "Squeeze", "ExpandDims", "Reduction", "MatMul", "Softmax", "Crop", "Padding", "Eltwise", "Dropout",
               "Noop", "Cast"}


def blob_layout(param: Path) -> list[tuple[str, list[tuple[int, int]]]]:
    """Per layer with weights: (name, [(element count, TAGGED or RAW), ...]) in file order."""
    layout = []
    for layer in NcnnParam.read(param).layers:
        kind, name, g = layer.kind, layer.name, layer.int_param
        if kind in ("Convolution", "ConvolutionDepthWise", "Deconvolution", "DeconvolutionDepthWise"):
            blobs = [(g(6, 0), TAGGED)] + ([(g(0, 0), RAW)] if g(5, 0) else [])
        elif kind == "InnerProduct":
            blobs = [(g(2, 0), TAGGED)] + ([(g(0, 0), RAW)] if g(1, 0) else [])
        elif kind == "Gemm":
            m, n, k = g(7, 0), g(8, 0), g(9, 0)
            blobs = ([(m * k, TAGGED)] if g(4, 0) else []) + ([(n * k, TAGGED)] if g(5, 0) else [])
            if g(6, 0) and g(10, -1) != -1:
                blobs.append(({0: 1, 1: m, 2: m, 3: m * n, 4: n}[g(10)], RAW))
        elif kind == "MemoryData":
            blobs = [(max(g(0, 1), 1) * max(g(1, 1), 1) * max(g(11, 1), 1) * max(g(2, 1), 1), RAW)]
        elif kind in _WEIGHTLESS:
            continue
        else:
            raise ExportError(f"{param.name}: layer type {kind} ({name}) has an unknown weight layout")
        layout.append((name, blobs))
    return layout


def read_weights(param: Path, src: Path) -> dict[str, tuple[bytes, list[np.ndarray]]]:
    """Per layer with weights: its exact bytes in `src` and its blobs decoded to float32 arrays."""
    data = src.read_bytes()
    layers, pos = {}, 0
    for name, blobs in blob_layout(param):
        start, arrays = pos, []
        for count, kind in blobs:
            if kind == RAW:
                arrays.append(np.frombuffer(data, np.float32, count, pos).copy())
                pos += 4 * count
                continue
            (tag,) = struct.unpack_from("<I", data, pos)
            if tag in (TAG_FP32, TAG_FP32_RAW):
                arrays.append(np.frombuffer(data, np.float32, count, pos + 4).copy())
                pos += 4 + 4 * count
            elif tag == TAG_FP16:
                arrays.append(np.frombuffer(data, np.float16, count, pos + 4).astype(np.float32))
                pos += 4 + 2 * count + (-2 * count % 4)
            else:
                raise ExportError(f"{src.name}: {name} uses storage tag {tag:#010x}; expected fp32 or fp16 weights")
        layers[name] = (data[start:pos], arrays)
    if pos != len(data):
        raise ExportError(f"{src.name}: read {pos} of {len(data)} bytes; the .bin does not match its .param")
    return layers


def cast_weights_fp16(param: Path, src: Path, dst: Path, min_elements: int) -> int:
    """Rewrite `src` (fp32 weights) into `dst`, storing tagged blobs of ≥ `min_elements` as fp16; returns the
    number of blobs cast. Raises ExportError when the file does not match the layout of `param`."""
    data = src.read_bytes()
    out = bytearray()
    pos, cast = 0, 0
    for name, blobs in blob_layout(param):
        for count, kind in blobs:
            if kind == RAW:
                out += data[pos:pos + 4 * count]
                pos += 4 * count
                continue
            (tag,) = struct.unpack_from("<I", data, pos)
            if tag not in (TAG_FP32, TAG_FP32_RAW):
                raise ExportError(f"{src.name}: {name} is not stored as fp32 (tag {tag:#010x})")
            values = np.frombuffer(data, np.float32, count, pos + 4)
            pos += 4 + 4 * count
            if count >= min_elements:
                half = values.astype(np.float16).tobytes()
                out += struct.pack("<I", TAG_FP16) + half + b"\0" * (-len(half) % 4)
                cast += 1
            else:
                out += struct.pack("<I", TAG_FP32) + values.tobytes()
    if pos != len(data):
        raise ExportError(f"{src.name}: read {pos} of {len(data)} bytes; the .bin does not match its .param")
    dst.write_bytes(bytes(out))
    return cast
