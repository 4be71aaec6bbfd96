"""MobileNetV2 (arXiv:1801.04381) as MMPose 1.x builds it, with the SimpleBaseline heatmap head.

Official weights: MMPose model zoo `td-hm_mobilenetv2_8xb64-210e_coco-256x192` (Apache-2.0).
"""
from __future__ import annotations

import torch
from torch import nn

from .common import ConvModule
from .heads import HeatmapHead, HeatmapPoseModel

# expand ratio t, channels c, repeats n, stride s of the first block
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1))


def make_divisible(value: float, divisor: int = 8, min_ratio: float = 0.9) -> int:
    """Round channels to a multiple of `divisor` without dropping below `min_ratio` of the value (mmcv rule)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < min_ratio * value else new


class InvertedResidual(nn.Module):
    """[1×1 expand → ReLU6] → 3×3 depthwise → ReLU6 → 1×1 linear, plus identity when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        mid = int(round(in_channels * expand_ratio))
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvModule(in_channels, mid, 1, act="relu6"))
        layers += [ConvModule(mid, mid, 3, stride, groups=mid, act="relu6"),
                   ConvModule(mid, out_channels, 1, act=None)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """Backbone; returns a 1-tuple with the (B, 1280, H/32, W/32) feature map."""

    def __init__(self, widen_factor: float = 1.0) -> None:
        super().__init__()
        channels = make_divisible(32 * widen_factor)
        self.conv1 = ConvModule(3, channels, 3, stride=2, act="relu6")
        for i, (t, c, n, s) in enumerate(SETTINGS):
            out_channels = make_divisible(c * widen_factor)
            blocks = []
            for j in range(n):
                blocks.append(InvertedResidual(channels, out_channels, s if j == 0 else 1, t))
                channels = out_channels
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.out_channels = make_divisible(1280 * widen_factor) if widen_factor > 1.0 else 1280
        self.conv2 = ConvModule(channels, self.out_channels, 1, act="relu6")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        x = self.conv1(x)
        for i in range(len(SETTINGS)):
            x = getattr(self, f"layer{i + 1}")(x)
        return (self.conv2(x),)


def mobilenetv2(num_keypoints: int = 17) -> HeatmapPoseModel:
    backbone = MobileNetV2()
    return HeatmapPoseModel(backbone, HeatmapHead(backbone.out_channels, num_keypoints, (256, 256, 256)))
