"""Tier 2: each PyTorch model reproduces MMPose's raw outputs from MMPose's published checkpoint."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgepose.converters.checkpoint import load_weights, read_state_dict
from edgepose.converters.zoo import ZOO

from ..conftest import POSE_MODELS, REFERENCE, need, reference


def reference_keys(model: str) -> dict[str, tuple[int, ...]]:
    lines = need(REFERENCE / "keys" / f"{model}.txt").read_text().splitlines()
    return {key: tuple(int(d) for d in shape.strip("()").split(",") if d.strip())
            for key, shape, *_ in (line.split("\t") for line in lines)}


@pytest.mark.parametrize("model", [*POSE_MODELS, "rtmdet-nano"])
def test_state_dict_keys_and_shapes_equal_mmpose(model):
    expected = reference_keys(model)
    got = {k: tuple(v.shape) for k, v in ZOO[model].build().state_dict().items()}
    assert sorted(got) == sorted(expected), (
        f"keys differ: missing {sorted(set(expected) - set(got))[:5]}, extra {sorted(set(got) - set(expected))[:5]}")
    wrong = {k: (got[k], expected[k]) for k in expected if got[k] != expected[k]}
    assert not wrong, f"shapes differ from MMPose: {list(wrong.items())[:5]}"


def test_rtmdet_nano_has_mmdet_parameter_count():
    count = sum(p.numel() for p in ZOO["rtmdet-nano"].build().parameters())
    assert count == 994_423, f"RTMDet-nano has {count} parameters, MMDet's has 994,423"


@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.slow) if m.startswith("litehrnet") else m
                                   for m in POSE_MODELS])
def test_pytorch_model_reproduces_mmpose_outputs(model):
    net = ZOO[model].build().eval()
    load_weights(net, read_state_dict(reference(model, "checkpoint_published.pth")), model)
    x = torch.from_numpy(np.load(reference(model, "input.npy")))
    with torch.no_grad():
        out = net(x)
    out = out if isinstance(out, tuple) else (out,)
    for name, tensor in zip((o.name for o in net.outputs), out):
        ref = np.load(reference(model, f"out_{name}.npy"))
        diff = np.abs(tensor.numpy() - ref).max()
        bound = 1e-4 * max(1.0, np.abs(ref).max())
        assert diff <= bound, f"{model} {name}: max|diff| {diff:.3g} > {bound:.3g}"


@pytest.mark.slow
def test_litehrnet_backbone_features_equal_mmpose_including_fuse_aliasing():
    """A 'clean' fuse (branch 0 added once, no aliasing) would differ by up to ~2 on these weights."""
    from edgepose.converters.models.litehrnet import LiteHRModule

    net = ZOO["litehrnet-18"].build().eval()
    load_weights(net, read_state_dict(reference("litehrnet-18", "checkpoint_published.pth")), "litehrnet-18")
    feat = np.load(reference("litehrnet-18", "feat.npy"))
    with torch.no_grad():
        got = net.forward_features(torch.from_numpy(np.load(reference("litehrnet-18", "input.npy"))))
    assert isinstance(net.backbone.stage0[0], LiteHRModule)
    assert np.abs(got.numpy() - feat).max() <= 1e-4 * max(1.0, np.abs(feat).max())
