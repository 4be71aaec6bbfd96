"""MMPose's HeatmapHead (SimpleBaseline, arXiv:1804.06208) and the top-down heatmap model around it."""
from __future__ import annotations

import torch
from torch import nn

from edgepose.runtimes.card import OutputSpec

from .base import ZooModel


class HeatmapHead(nn.Module):
    """Optional stack of [ConvTranspose 4×4 s2 (no bias) → BN → ReLU], then a 1×1 conv to K heatmaps.

    Keys: `deconv_layers.{0,3,6}.weight` (transposed convs), `deconv_layers.{1,4,7}.*` (BN),
    `final_layer.{weight,bias}` — as MMPose 1.x writes them.
    """

    def __init__(self, in_channels: int, num_keypoints: int = 17, deconv_channels: tuple[int, ...] = ()) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for out_channels in deconv_channels:
            layers += [nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(out_channels), nn.ReLU()]
            in_channels = out_channels
        self.deconv_layers = nn.Sequential(*layers) if layers else nn.Identity()
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, 1)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.deconv_layers(feat))


class HeatmapPoseModel(ZooModel):
    """Top-down heatmap model: (B, 3, 256, 192) normalized RGB → heatmaps (B, K, 64, 48)."""

    outputs = (OutputSpec("heatmaps", "heatmaps", []),)  # shape: the converter

    def __init__(self, backbone: nn.Module, head: HeatmapHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)[-1]

    def forward_head(self, feat: torch.Tensor) -> torch.Tensor:
        return self.head(feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
