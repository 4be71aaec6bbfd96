"""Building blocks shared by the model families, named like mmcv's so checkpoint keys match.

`ConvModule` is conv (no bias) → BatchNorm → activation, with submodules `conv`, `bn`, `activate`
exactly as mmcv names them; `DepthwiseSeparableConvModule` holds `depthwise_conv` and `pointwise_conv`.
"""
from __future__ import annotations

import torch
from torch import nn

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "hardsigmoid": nn.Hardsigmoid,
}


def make_activation(name: str | None) -> nn.Module:
    """Activation module by name; None gives an identity."""
    if name is None:
        return nn.Identity()
    return _ACTIVATIONS[name]()


class ConvModule(nn.Module):
    """Conv2d → BatchNorm2d → activation. With `norm=False` the conv has a bias and no BN (mmcv's bias='auto')."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | None = None, groups: int = 1, act: str | None = "relu", norm: bool = True,
                 eps: float = 1e-5) -> None:
        super().__init__()
        padding = kernel_size // 2 if padding is None else padding
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=not norm)
        self.bn = nn.BatchNorm2d(out_channels, eps=eps) if norm else nn.Identity()
        self.activate = make_activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.bn(self.conv(x)))


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise k×k ConvModule, then pointwise 1×1 ConvModule (mmcv layout)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | None = None, act: str | None = "relu", dw_act: str | None = "same",
                 eps: float = 1e-5) -> None:
        super().__init__()
        dw_act = act if dw_act == "same" else dw_act
        self.depthwise_conv = ConvModule(in_channels, in_channels, kernel_size, stride, padding,
                                         groups=in_channels, act=dw_act, eps=eps)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, act=act, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))
