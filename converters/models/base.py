"""What every zoo network declares, read by the converter as attributes (never probed with getattr)."""
from __future__ import annotations

import torch
from torch import nn

from edgepose.runtimes.card import OutputSpec


class ZooModel(nn.Module):
    """A zoo network: `forward(x)` → its outputs in the order of `outputs`.

    Families with `fp32_head` also split `forward` into `forward_features` (the body) and `forward_head` (the
    head): targets that compute in fp16 cut the graph there and keep the head in fp32 (targets/ncnn/split.py)."""

    outputs: tuple[OutputSpec, ...]   # role, stride and layout per output (shapes: the converter measures them)
    fp16_safe: bool = False           # the exported graph cannot overflow fp16 (tests/converters/test_fp16_safe.py measures it)
    fp32_head: bool = False           # the head must not compute in fp16 (needs forward_features / forward_head)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no body/head split")

    def forward_head(self, features: torch.Tensor) -> tuple[torch.Tensor, ...] | torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no body/head split")
