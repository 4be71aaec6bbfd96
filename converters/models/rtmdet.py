"""RTMDet (arXiv:2212.07784) person detector: CSPNeXt + CSPNeXtPAFPN + RTMDetSepBNHead, as MMDetection 3.x.

Default arch is RTMDet-nano from MMPose's `rtmdet_nano_320-8xb32_coco-person` (one class, 320×320 input).
The head returns one class-logit tensor and one box-distance tensor per stride, separately (they have very
different value ranges, which matters for INT8). Boxes are left/top/right/bottom distances already
multiplied by the stride, as in MMDetection.
"""
from __future__ import annotations

import torch
from torch import nn

from edgepose.runtimes.card import OutputSpec

from .base import ZooModel
from .common import ConvModule
from .cspnext import CSPLayer, CSPNeXt, conv_or_dwsep

STRIDES = (8, 16, 32)
ONNX_IMPORT = (("backbone.", "neck."), "bbox_head")   # how a BN-folded ONNX export maps onto this module tree


class CSPNeXtPAFPN(nn.Module):
    """Top-down then bottom-up path aggregation over CSP layers, then one 3×3 conv per level."""

    def __init__(self, in_channels: tuple[int, ...], out_channels: int, num_csp_blocks: int = 1,
                 use_depthwise: bool = True, expand_ratio: float = 0.5) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.reduce_layers = nn.ModuleList()
        self.top_down_blocks = nn.ModuleList()
        for idx in range(len(in_channels) - 1, 0, -1):
            self.reduce_layers.append(ConvModule(in_channels[idx], in_channels[idx - 1], 1, act="silu"))
            self.top_down_blocks.append(CSPLayer(in_channels[idx - 1] * 2, in_channels[idx - 1], num_csp_blocks,
                                                 False, use_depthwise, False, expand_ratio))
        self.downsamples = nn.ModuleList()
        self.bottom_up_blocks = nn.ModuleList()
        for idx in range(len(in_channels) - 1):
            self.downsamples.append(conv_or_dwsep(use_depthwise, in_channels[idx], in_channels[idx], 3, stride=2))
            self.bottom_up_blocks.append(CSPLayer(in_channels[idx] * 2, in_channels[idx + 1], num_csp_blocks,
                                                  False, use_depthwise, False, expand_ratio))
        self.out_convs = nn.ModuleList([conv_or_dwsep(use_depthwise, c, out_channels, 3) for c in in_channels])

    def forward(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        n = len(self.in_channels)
        inner = [inputs[-1]]
        for k, idx in enumerate(range(n - 1, 0, -1)):
            high = self.reduce_layers[k](inner[0])
            inner[0] = high
            inner.insert(0, self.top_down_blocks[k](torch.cat([self.upsample(high), inputs[idx - 1]], 1)))
        outs = [inner[0]]
        for idx in range(n - 1):
            down = self.downsamples[idx](outs[-1])
            outs.append(self.bottom_up_blocks[idx](torch.cat([down, inner[idx + 1]], 1)))
        return tuple(conv(o) for conv, o in zip(self.out_convs, outs))


class RTMDetSepBNHead(nn.Module):
    """Per-level (unshared) cls/reg conv towers and 1×1 predictors."""

    def __init__(self, num_classes: int = 1, in_channels: int = 64, feat_channels: int = 64, stacked_convs: int = 2,
                 use_depthwise: bool = True, strides: tuple[int, ...] = STRIDES) -> None:
        super().__init__()
        self.strides = strides
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        self.rtm_cls = nn.ModuleList()
        self.rtm_reg = nn.ModuleList()
        for _ in strides:
            chans = [in_channels] + [feat_channels] * (stacked_convs - 1)
            self.cls_convs.append(nn.ModuleList([conv_or_dwsep(use_depthwise, c, feat_channels, 3) for c in chans]))
            self.reg_convs.append(nn.ModuleList([conv_or_dwsep(use_depthwise, c, feat_channels, 3) for c in chans]))
            self.rtm_cls.append(nn.Conv2d(feat_channels, num_classes, 1))
            self.rtm_reg.append(nn.Conv2d(feat_channels, 4, 1))

    def forward(self, feats: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        cls_out, box_out = [], []
        for idx, (x, stride) in enumerate(zip(feats, self.strides)):
            cls_feat, reg_feat = x, x
            for layer in self.cls_convs[idx]:
                cls_feat = layer(cls_feat)
            for layer in self.reg_convs[idx]:
                reg_feat = layer(reg_feat)
            cls_out.append(self.rtm_cls[idx](cls_feat))
            box_out.append(self.rtm_reg[idx](reg_feat) * stride)
        return (*cls_out, *box_out)


class RTMDet(ZooModel):
    """(B, 3, 320, 320) normalized BGR → cls_s8, cls_s16, cls_s32 (B, C, H, W) logits,
    box_s8, box_s16, box_s32 (B, 4, H, W) ltrb distances in input pixels."""

    def __init__(self, deepen_factor: float = 0.33, widen_factor: float = 0.25, num_classes: int = 1,
                 neck_channels: int = 64) -> None:
        super().__init__()
        self.backbone = CSPNeXt(deepen_factor, widen_factor, out_indices=(2, 3, 4), use_depthwise=True)
        self.neck = CSPNeXtPAFPN(tuple(self.backbone.out_channels[2:]), neck_channels)
        self.bbox_head = RTMDetSepBNHead(num_classes, neck_channels, neck_channels)
        self.outputs = tuple(OutputSpec(f"{role}_s{s}", role, [], stride=s) for role in ("cls", "box") for s in STRIDES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.bbox_head(self.neck(self.backbone(x)))


_ARCHS = {"rtmdet-nano": dict(deepen_factor=0.33, widen_factor=0.25, neck_channels=64)}


def rtmdet_nano(num_classes: int = 1) -> RTMDet:
    return RTMDet(**_ARCHS["rtmdet-nano"], num_classes=num_classes)
