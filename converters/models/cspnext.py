"""CSPNeXt backbone (RTMDet, arXiv:2212.07784), as MMDetection 3.x builds it; used by RTMPose and RTMDet.

Submodule names equal MMDetection's, so its checkpoints (and MMPose's, which embed it) load unchanged.
"""
from __future__ import annotations

import torch
from torch import nn

from .common import ConvModule, DepthwiseSeparableConvModule

# P5 arch rows: in_channels, out_channels, num_blocks, add_identity, use_spp (before widen/deepen)
P5_ARCH = ((64, 128, 3, True, False), (128, 256, 6, True, False), (256, 512, 6, True, False),
           (512, 1024, 3, False, True))


def conv_or_dwsep(use_depthwise: bool, cin: int, cout: int, k: int, stride: int = 1) -> nn.Module:
    """k×k conv with BN + SiLU: a plain ConvModule, or depthwise-separable when `use_depthwise`."""
    if use_depthwise:
        return DepthwiseSeparableConvModule(cin, cout, k, stride, act="silu")
    return ConvModule(cin, cout, k, stride, act="silu")


class ChannelAttention(nn.Module):
    """x * hardsigmoid(fc(global_avg_pool(x)))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        self.act = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.act(self.fc(self.global_avgpool(x)))


class CSPNeXtBlock(nn.Module):
    """3×3 conv → depthwise-separable 5×5 conv, with an optional identity shortcut."""

    def __init__(self, channels: int, add_identity: bool, use_depthwise: bool) -> None:
        super().__init__()
        self.conv1 = conv_or_dwsep(use_depthwise, channels, channels, 3)
        self.conv2 = DepthwiseSeparableConvModule(channels, channels, 5, act="silu")
        self.add_identity = add_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(nn.Module):
    """Cross-stage partial layer: main branch through N blocks, concat with a short branch, (attention), fuse."""

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int, add_identity: bool,
                 use_depthwise: bool, channel_attention: bool, expand_ratio: float = 0.5) -> None:
        super().__init__()
        mid = int(out_channels * expand_ratio)
        self.main_conv = ConvModule(in_channels, mid, 1, act="silu")
        self.short_conv = ConvModule(in_channels, mid, 1, act="silu")
        self.final_conv = ConvModule(2 * mid, out_channels, 1, act="silu")
        self.blocks = nn.Sequential(*[CSPNeXtBlock(mid, add_identity, use_depthwise) for _ in range(num_blocks)])
        self.attention = ChannelAttention(2 * mid) if channel_attention else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        short = self.short_conv(x)
        main = self.blocks(self.main_conv(x))
        return self.final_conv(self.attention(torch.cat((main, short), dim=1)))


class SPPBottleneck(nn.Module):
    """1×1 conv, max-pools 5/9/13 (stride 1, same padding) concatenated with the input, 1×1 conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        mid = in_channels // 2
        self.conv1 = ConvModule(in_channels, mid, 1, act="silu")
        self.poolings = nn.ModuleList([nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes])
        self.conv2 = ConvModule(mid * (len(kernel_sizes) + 1), out_channels, 1, act="silu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.poolings], dim=1))


class CSPNeXt(nn.Module):
    """CSPNeXt-P5. Returns the feature maps of the stages listed in `out_indices` (0 = stem, 1..4 = stages)."""

    def __init__(self, deepen_factor: float, widen_factor: float, out_indices: tuple[int, ...] = (4,),
                 use_depthwise: bool = False, channel_attention: bool = True, expand_ratio: float = 0.5) -> None:
        super().__init__()
        self.out_indices = out_indices
        stem = int(P5_ARCH[0][0] * widen_factor)
        self.stem = nn.Sequential(
            ConvModule(3, stem // 2, 3, stride=2, act="silu"),
            ConvModule(stem // 2, stem // 2, 3, act="silu"),
            ConvModule(stem // 2, stem, 3, act="silu"),
        )
        self.out_channels: list[int] = [stem]
        for i, (cin, cout, blocks, add_identity, use_spp) in enumerate(P5_ARCH):
            cin, cout = int(cin * widen_factor), int(cout * widen_factor)
            blocks = max(round(blocks * deepen_factor), 1)
            layers: list[nn.Module] = [conv_or_dwsep(use_depthwise, cin, cout, 3, stride=2)]
            if use_spp:
                layers.append(SPPBottleneck(cout, cout))
            layers.append(CSPLayer(cout, cout, blocks, add_identity, use_depthwise, channel_attention, expand_ratio))
            self.add_module(f"stage{i + 1}", nn.Sequential(*layers))
            self.out_channels.append(cout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, name in enumerate(("stem", "stage1", "stage2", "stage3", "stage4")):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
