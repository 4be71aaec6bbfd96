"""RTMPose (arXiv:2303.07399): CSPNeXt-P5 backbone + RTMCC SimCC head, as MMPose 1.x builds it.

Official weights: MMPose model zoo (Apache-2.0), see `edgepose.converters.zoo`. Submodule names equal
MMPose's, so published checkpoints load without renaming.
"""
from __future__ import annotations

import torch
from torch import nn

from edgepose.runtimes.card import OutputSpec

from .base import ZooModel
from .cspnext import CSPNeXt


class ScaleNorm(nn.Module):
    """x / clamp(‖x‖₂ · dim^-½, eps) · g, with one learned scalar g.

    The norm is taken fp16-safe as m · ‖x / m‖₂ with m = max(max|x|, eps): the sum of squares inside it is then
    at most `dim` instead of Σx², which passes 65504 as soon as ‖x‖ > 256 on any runtime that reduces in fp16
    (ncnn fp16 arithmetic, TensorRT fp16, GPU delegates), and every value on the way stays ≤ max|x|. Same value
    as MMPose's formula up to fp32 rounding (tests/converters/test_fp16_safe.py measures both)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim ** -0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        peak = x.abs().amax(dim=-1, keepdim=True).clamp(min=self.eps)
        norm = torch.linalg.vector_norm(x / peak, dim=-1, keepdim=True) * (peak * self.scale)
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """Learned per-channel multiplier."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class RTMCCBlock(nn.Module):
    """Gated attention unit (self-attention, no positional encoding, no relative bias), with scaled shortcut."""

    def __init__(self, dims: int = 256, expansion_factor: int = 2, s: int = 128, eps: float = 1e-5) -> None:
        super().__init__()
        self.e = dims * expansion_factor
        self.s = s
        self.ln = ScaleNorm(dims, eps)
        self.uv = nn.Linear(dims, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.ones(2, s))
        self.beta = nn.Parameter(torch.zeros(2, s))
        self.o = nn.Linear(self.e, dims, bias=False)
        self.act_fn = nn.SiLU()
        self.res_scale = Scale(dims)
        # q's offset and scale carry the 1/√s of relu(q·kᵀ/√s)², so the matmul accumulates values √s times
        # smaller (fp16 headroom) and the graph has one division less; folded into constants at export
        self.register_buffer("qk_scale", torch.tensor([[s ** -0.5], [1.0]]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        uv = self.act_fn(self.uv(self.ln(x)))                             # (B, K, 2e + s)
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=2)
        base = base.unsqueeze(2) * (self.gamma * self.qk_scale) + self.beta * self.qk_scale  # (B, K, 2, s)
        q, k = torch.unbind(base, dim=2)
        kernel = torch.square(torch.relu(torch.bmm(q, k.permute(0, 2, 1))))  # (B, K, K)
        return self.res_scale(x) + self.o(u * torch.bmm(kernel, v))


class RTMCCHead(nn.Module):
    """7×7 conv to K maps → flatten → ScaleNorm + Linear → GAU → two SimCC classifiers."""

    def __init__(self, in_channels: int, num_keypoints: int = 17, input_size: tuple[int, int] = (192, 256),
                 featmap_size: tuple[int, int] = (6, 8), split_ratio: float = 2.0, hidden_dims: int = 256) -> None:
        super().__init__()
        flatten_dims = featmap_size[0] * featmap_size[1]
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, 7, padding=3)
        self.mlp = nn.Sequential(ScaleNorm(flatten_dims), nn.Linear(flatten_dims, hidden_dims, bias=False))
        self.gau = RTMCCBlock(hidden_dims)
        self.cls_x = nn.Linear(hidden_dims, int(input_size[0] * split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden_dims, int(input_size[1] * split_ratio), bias=False)

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.gau(self.mlp(torch.flatten(self.final_layer(feat), 2)))
        return self.cls_x(x), self.cls_y(x)


class RTMPose(ZooModel):
    """Top-down pose model: (B, 3, 256, 192) normalized RGB → simcc_x (B, K, 384), simcc_y (B, K, 512)."""

    outputs = (OutputSpec("simcc_x", "simcc_x", []), OutputSpec("simcc_y", "simcc_y", []))  # shapes: the converter
    fp16_safe = True   # no fp16 overflow in the exported graph (ScaleNorm above; measured in tests/converters/test_fp16_safe.py)
    # The SimCC head runs in fp32 where a backend would compute in fp16 (ncnn: a second net, targets/ncnn/split.py):
    # its flat 384/512-bin peaks flip under fp16 accumulation, the backbone's features do not. Distilled
    # RTMPose-t, 48 held-out vtest crops, PyTorch half on x86 as a stand-in: head in fp16 moves keypoints
    # up to 3.0 px (97.8 % within 0.5 px), backbone in fp16 at most 0.5 px (100 %).
    fp32_head = True

    def __init__(self, deepen_factor: float, widen_factor: float, num_keypoints: int = 17) -> None:
        super().__init__()
        self.backbone = CSPNeXt(deepen_factor, widen_factor, out_indices=(4,))
        self.head = RTMCCHead(self.backbone.out_channels[-1], num_keypoints)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)[-1]

    def forward_head(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(feat)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_head(self.forward_features(x))


_ARCHS = {
    "rtmpose-t": dict(deepen_factor=0.167, widen_factor=0.375),
    "rtmpose-s": dict(deepen_factor=0.33, widen_factor=0.5),
}


def rtmpose_t(num_keypoints: int = 17) -> RTMPose:
    return RTMPose(**_ARCHS["rtmpose-t"], num_keypoints=num_keypoints)


def rtmpose_s(num_keypoints: int = 17) -> RTMPose:
    return RTMPose(**_ARCHS["rtmpose-s"], num_keypoints=num_keypoints)
