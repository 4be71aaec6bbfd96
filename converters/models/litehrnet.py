"""Lite-HRNet (arXiv:2104.06403) as MMPose builds it, with a 1×1 heatmap head.

Official weights: MMPose model zoo `litehrnet18/30_coco_256x192` (MMPose 0.x files, Apache-2.0).

MMPose's fuse step adds in place into `out[0]`; that aliasing changes the numbers (branch 0 counts twice
and later outputs see the pre-ReLU sum). `LiteHRModule.forward` reproduces it with explicit out-of-place
adds in the same order, so trained checkpoints give MMPose's outputs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import ConvModule, DepthwiseSeparableConvModule
from .heads import HeatmapHead, HeatmapPoseModel

_ARCHS = {
    "litehrnet-18": dict(num_modules=(2, 4, 2)),
    "litehrnet-30": dict(num_modules=(3, 8, 3)),
}
CHANNELS = ((40, 80), (40, 80, 160), (40, 80, 160, 320))
REDUCE_RATIO = 8
NUM_BLOCKS = 2


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave channel groups: (B, g·c, H, W) → view (B, g, c, H, W) → transpose → (B, c·g, H, W)."""
    return x.unflatten(1, (groups, -1)).transpose(1, 2).flatten(1, 2)


def _dw_pw(cin: int, cout: int, stride: int, relu: bool) -> list[nn.Module]:
    """dw3×3 + BN + pw1×1 + BN (+ ReLU), as bare Sequential items (keys .0 .. .3)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                               nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)]
    return layers + [nn.ReLU()] if relu else layers


class Stem(nn.Module):
    """3×3 s2 conv, then a ShuffleNet-style two-branch s2 block and a channel shuffle."""

    def __init__(self, stem_channels: int = 32, out_channels: int = 32) -> None:
        super().__init__()
        branch = stem_channels // 2
        self.conv1 = ConvModule(3, stem_channels, 3, stride=2, act="relu")
        self.branch1 = nn.Sequential(ConvModule(branch, branch, 3, 2, groups=branch, act=None),
                                     ConvModule(branch, out_channels - branch, 1, act="relu"))
        self.expand_conv = ConvModule(branch, stem_channels, 1, act="relu")
        self.depthwise_conv = ConvModule(stem_channels, stem_channels, 3, 2, groups=stem_channels, act=None)
        self.linear_conv = ConvModule(stem_channels, branch, 1, act="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.conv1(x).chunk(2, dim=1)
        x2 = self.linear_conv(self.depthwise_conv(self.expand_conv(x2)))
        return channel_shuffle(torch.cat((self.branch1(x1), x2), dim=1), 2)


class SpatialWeighting(nn.Module):
    """Squeeze-excitation: GAP → 1×1 (bias) + ReLU → 1×1 (bias) + sigmoid → multiply."""

    def __init__(self, channels: int, ratio: int = 4) -> None:
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvModule(channels, int(channels / ratio), 1, act="relu", norm=False)
        self.conv2 = ConvModule(int(channels / ratio), channels, 1, act="sigmoid", norm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv2(self.conv1(self.global_avgpool(x)))


class CrossResolutionWeighting(nn.Module):
    """Pool every branch to the smallest size, weigh channels jointly, upsample weights back per branch."""

    def __init__(self, channels: list[int], ratio: int) -> None:
        super().__init__()
        self.channels = channels
        total = sum(channels)
        self.conv1 = ConvModule(total, int(total / ratio), 1, act="relu")
        self.conv2 = ConvModule(int(total / ratio), total, 1, act="sigmoid")

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        n = len(x)
        # Branch i is 2^(n-1-i) times larger than the last; pooling by that exact factor equals MMPose's
        # adaptive_avg_pool2d to the smallest size and exports as a plain AveragePool.
        pooled = [F.avg_pool2d(s, 2 ** (n - 1 - i)) for i, s in enumerate(x[:-1])] + [x[-1]]
        weights = torch.split(self.conv2(self.conv1(torch.cat(pooled, dim=1))), self.channels, dim=1)
        return [s * (F.interpolate(a, scale_factor=float(2 ** (n - 1 - i)), mode="nearest") if i < n - 1 else a)
                for i, (s, a) in enumerate(zip(x, weights))]


class ConditionalChannelWeighting(nn.Module):
    """Lite-HRNet block: half of each branch passes, the other half is cross-resolution + spatially weighted."""

    def __init__(self, channels: list[int], reduce_ratio: int) -> None:
        super().__init__()
        half = [c // 2 for c in channels]
        self.cross_resolution_weighting = CrossResolutionWeighting(half, reduce_ratio)
        self.depthwise_convs = nn.ModuleList([ConvModule(c, c, 3, groups=c, act=None) for c in half])
        self.spatial_weighting = nn.ModuleList([SpatialWeighting(c) for c in half])

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        halves = [s.chunk(2, dim=1) for s in x]
        x2 = self.cross_resolution_weighting([h[1] for h in halves])
        x2 = [sw(dw(s)) for s, dw, sw in zip(x2, self.depthwise_convs, self.spatial_weighting)]
        return [channel_shuffle(torch.cat((h[0], s), dim=1), 2) for h, s in zip(halves, x2)]


class LiteHRModule(nn.Module):
    """Weighting blocks on all branches, then MMPose's (aliasing) multi-resolution fuse."""

    def __init__(self, channels: list[int], num_blocks: int, reduce_ratio: int) -> None:
        super().__init__()
        n = len(channels)
        self.layers = nn.Sequential(*[ConditionalChannelWeighting(channels, reduce_ratio) for _ in range(num_blocks)])
        fuse_layers = []
        for i in range(n):
            row: list[nn.Module | None] = []
            for j in range(n):
                if j > i:
                    row.append(nn.Sequential(nn.Conv2d(channels[j], channels[i], 1, bias=False),
                                             nn.BatchNorm2d(channels[i]),
                                             nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(None)
                else:
                    steps = [nn.Sequential(*_dw_pw(channels[j], channels[j], 2, relu=True)) for _ in range(i - j - 1)]
                    steps.append(nn.Sequential(*_dw_pw(channels[j], channels[i], 2, relu=False)))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(fuse_layers)
        self.relu = nn.ReLU()

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        out = self.layers(x)
        n = len(out)
        # i = 0: y aliases out[0]; `y += out[0]` doubles it and the result replaces out[0] for later rows.
        s0 = out[0] + out[0]
        for j in range(1, n):
            s0 = s0 + self.fuse_layers[0][j](out[j])
        fused = [self.relu(s0)]
        for i in range(1, n):
            y = self.fuse_layers[i][0](s0)
            y = y + self.fuse_layers[i][0](s0)
            for j in range(1, n):
                y = y + (out[j] if j == i else self.fuse_layers[i][j](out[j]))
            fused.append(self.relu(y))
        return fused


class IterativeHead(nn.Module):
    """From the lowest resolution up: add the bilinearly upsampled previous result, dw-separable projection."""

    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        rev = channels[::-1]
        self.projects = nn.ModuleList([
            DepthwiseSeparableConvModule(rev[i], rev[min(i + 1, len(rev) - 1)], 3, act="relu", dw_act=None)
            for i in range(len(rev))])

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        ys: list[torch.Tensor] = []
        last = None
        for s, project in zip(x[::-1], self.projects):
            if last is not None:
                s = s + F.interpolate(last, scale_factor=2.0, mode="bilinear", align_corners=True)
            last = project(s)
            ys.append(last)
        return ys[::-1]


class LiteHRNet(nn.Module):
    """Backbone; returns a 1-tuple with the (B, 40, H/4, W/4) high-resolution feature map."""

    def __init__(self, num_modules: tuple[int, int, int]) -> None:
        super().__init__()
        self.stem = Stem(32, 32)
        previous = [32]
        for i, channels in enumerate(CHANNELS):
            self.add_module(f"transition{i}", self._transition(previous, list(channels)))
            self.add_module(f"stage{i}", nn.Sequential(
                *[LiteHRModule(list(channels), NUM_BLOCKS, REDUCE_RATIO) for _ in range(num_modules[i])]))
            previous = list(channels)
        self.head_layer = IterativeHead(previous)

    @staticmethod
    def _transition(previous: list[int], current: list[int]) -> nn.ModuleList:
        layers: list[nn.Module | None] = []
        for i, cout in enumerate(current):
            if i < len(previous):
                same = cout == previous[i]
                layers.append(None if same else nn.Sequential(*_dw_pw(previous[i], cout, 1, relu=True)))
            else:
                cin = previous[-1]
                steps = [nn.Sequential(*_dw_pw(cin, cout if k == i - len(previous) else cin, 2, relu=True))
                         for k in range(i + 1 - len(previous))]
                layers.append(nn.Sequential(*steps))
        return nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        ys = [self.stem(x)]
        for i in range(len(CHANNELS)):
            transition = getattr(self, f"transition{i}")
            xs = []
            for j, layer in enumerate(transition):
                source = ys[min(j, len(ys) - 1)]
                xs.append(source if layer is None else layer(source))
            ys = getattr(self, f"stage{i}")(xs)
        return (self.head_layer(ys)[0],)


def litehrnet(name: str, num_keypoints: int = 17) -> HeatmapPoseModel:
    return HeatmapPoseModel(LiteHRNet(**_ARCHS[name]), HeatmapHead(CHANNELS[0][0], num_keypoints))


def litehrnet_18(num_keypoints: int = 17) -> HeatmapPoseModel:
    return litehrnet("litehrnet-18", num_keypoints)


def litehrnet_30(num_keypoints: int = 17) -> HeatmapPoseModel:
    return litehrnet("litehrnet-30", num_keypoints)
