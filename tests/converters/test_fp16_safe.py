"""The exported RTMPose graph is fp16-safe: no intermediate value, and no sum of squares inside an L2 norm,
exceeds fp16's 65504 on a real crop scaled ×100 — and the check does catch MMPose's own ScaleNorm formula.

Runs the exported ONNX in onnxruntime with every intermediate tensor as an output. A `ReduceL2` is judged by its
square, the Σx² an fp16 runtime accumulates before the root. Measured (this file's crops): the trained
RTMPose-t at ×100 peaks at 1.8e3 (the stem); its old-formula Σx² was 3.35e4 (half of fp16's range) and is now
≤ 20; MMPose's reference RTMPose-s weights reach Σx² = 1.3e6 at ×1 with the old formula, ≤ 256 with the new.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgepose.converters.checkpoint import load_weights, read_state_dict
from edgepose.converters.models import rtmpose
from edgepose.converters.onnx_export import FP16_SAFE_KEY, export_onnx
from edgepose.converters.zoo import ZOO

from ..conftest import SHARED, need, reference

FP16_MAX = 65504.0
DISTILLED = SHARED / "models" / "rtmpose-t-distilled" / "rtmpose-t-distilled.pth"


def mmpose_scalenorm(self: rtmpose.ScaleNorm, x: torch.Tensor) -> torch.Tensor:
    """MMPose's formula, Σx² taken directly."""
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
    return x / norm.clamp(min=self.eps) * self.g


def _model(name: str, weights) -> torch.nn.Module:
    net = ZOO[name].build().eval()
    load_weights(net, read_state_dict(need(weights)), name)
    return net


def largest_intermediate(net: torch.nn.Module, x: np.ndarray, path) -> tuple[float, str]:
    """Export `net` as the converter does, run it with every intermediate as an output; the largest |value|."""
    import onnx
    import onnxruntime as ort

    export_onnx(net, path, (1, 3, 256, 192), tuple(o.name for o in net.outputs), fp16_safe=net.fp16_safe)
    model = onnx.load(str(path))
    assert {p.key: p.value for p in model.metadata_props}.get(FP16_SAFE_KEY) == "true"
    kind = {out: node.op_type for node in model.graph.node for out in node.output}
    known = {o.name for o in model.graph.output}
    for out in kind:
        if out not in known:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(out))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    worst, where = 0.0, ""
    for name, value in zip(names, session.run(None, {"input": x})):
        if value.dtype != np.float32 or not value.size:
            continue
        peak = float(np.abs(value).max()) ** (2 if kind.get(name) == "ReduceL2" else 1)
        if peak > worst:
            worst, where = peak, f"{name} ({kind.get(name)})"
    return worst, where


def test_scalenorm_equals_mmpose_formula_in_fp32():
    """Same values as MMPose's formula up to fp32 rounding, including the eps clamp and huge inputs."""
    norm = rtmpose.ScaleNorm(48)
    with torch.no_grad():
        norm.g.fill_(0.7)
        for scale in (1e-9, 1e-6, 1.0, 1e3, 1e6):
            x = torch.randn(4, 17, 48, generator=torch.Generator().manual_seed(0)) * scale
            new, old = norm(x), mmpose_scalenorm(norm, x)
            assert torch.allclose(new, old, rtol=2e-6, atol=1e-7 * float(old.abs().max())), scale
        assert torch.equal(norm(torch.zeros(1, 2, 48)), torch.zeros(1, 2, 48))


def test_trained_rtmpose_t_outputs_unchanged_by_the_rewrite(monkeypatch):
    """Measured: max |new − old| 8e-7 on simcc outputs of ≈ 1, keypoints identical."""
    net = _model("rtmpose-t", DISTILLED)
    x = torch.from_numpy(np.load(reference("rtmpose-t", "image_input.npy")))
    with torch.no_grad():
        new = net(x)
        monkeypatch.setattr(rtmpose.ScaleNorm, "forward", mmpose_scalenorm)
        old = net(x)
    for a, b in zip(new, old):
        assert float((a - b).abs().max()) <= 1e-5
        assert torch.equal(a.argmax(-1), b.argmax(-1))


@pytest.mark.parametrize("name, weights, scale", [
    ("rtmpose-t", DISTILLED, 100.0),                                                 # trained
    ("rtmpose-s", SHARED / "reference" / "mmpose" / "rtmpose-s" / "checkpoint_published.pth", 1.0),  # MMPose's
])
@pytest.mark.slow
def test_export_has_no_value_above_fp16_max_and_old_scalenorm_had(name, weights, scale, tmp_path, monkeypatch):
    net = _model(name, weights)
    crop = np.load(reference(name, "image_input.npy")).astype(np.float32) * scale   # MMPose's real crop
    worst, where = largest_intermediate(net, crop, tmp_path / "new.onnx")
    assert worst <= FP16_MAX, f"{name} ×{scale:g}: {where} reaches {worst:.3g}"
    monkeypatch.setattr(rtmpose.ScaleNorm, "forward", mmpose_scalenorm)
    old, old_where = largest_intermediate(net, crop, tmp_path / "old.onnx")
    if name == "rtmpose-s":
        assert old > FP16_MAX and "ReduceL2" in old_where, (old, old_where)
    else:
        assert old > 10 * worst or old > FP16_MAX / 4, (old, old_where, worst)   # measured 3.35e4 vs 1.78e3
