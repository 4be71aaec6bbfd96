"""ONNX fp16 artifacts: large float32 weights stored as float16, each cast back to float32 in the graph."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..base import FP16_MIN_ELEMENTS


def cast_weights_fp16(src: Path, dst: Path, min_elements: int = FP16_MIN_ELEMENTS) -> int:
    """Store float32 weights of ≥ `min_elements` as float16, each followed by a Cast back to float32, so the
    file about halves while the graph still computes in float32. Returns how many weights were cast.

    Small weights (depthwise kernels, squeeze-excitation 1×1s, biases) stay float32: they are a few % of
    the bytes but carry most of the rounding damage. Measured on the reference LiteHRNet-30 crop: casting
    every weight gives output cosine 0.9929 and moves keypoints 75 px; from 4096 elements up, cosine
    0.99993 and no keypoint moves, for 68 % of the fp32 size instead of 59 %."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    casts, count = [], 0
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < min_elements:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{init.name}__fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                      name=f"{init.name}__cast"))
        count += 1
    for node in reversed(casts):
        graph.node.insert(0, node)
    onnx.save(model, str(dst))
    return count
