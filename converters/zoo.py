"""The model zoo: a literal table of the models edgepose builds, with their official checkpoints.

Facts (URLs, hash fragments, COCO AP) come from MMPose's metafiles; the 8-hex fragment in each file name
is the start of the file's sha256 and is checked after download.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable

from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.keypoints import COCO17, NO_KEYPOINTS, KeypointSet
from edgepose.runtimes.presets import DET_MEAN_BGR, DET_STD_BGR, POSE_MEAN_RGB, POSE_STD_RGB, RTMDET_DECODER
from torch import nn

from .models import litehrnet, mobilenetv2, rtmdet, rtmpose


@dataclass(frozen=True)
class ModelSpec:
    name: str                         # zoo name, e.g. "rtmpose-t"
    task: str                         # "pose" or "detection"
    family: str                       # converters/models/<family>.py
    build: Callable[[], nn.Module]    # constructor of the PyTorch model
    input_hw: tuple[int, int]         # network input (height, width)
    color: str                        # channel order the network takes: "RGB" or "BGR"
    mean: tuple[float, float, float]  # in `color` order
    std: tuple[float, float, float]
    decoder: dict[str, Any]           # model card decoder block
    url: str                          # official checkpoint
    sha256_prefix: str                # hash fragment of the official file name
    ap: float                         # COCO val2017 AP reported by MMPose (detector: person box AP)
    config: str                       # MMPose/MMDet config the architecture follows
    keypoint_set: KeypointSet = NO_KEYPOINTS  # what a pose model's outputs are (names, skeleton, flips, sigmas)
    bbox_padding: float | None = None  # top-down pose: box → crop enlargement (MMPose 1.25)
    classes: tuple[str, ...] = ()     # detectors: class names
    onnx_import: tuple[tuple[str, ...], str] | None = None  # weights may also come from a BN-folded ONNX
                                      # export: (module prefixes mapped by node name, head module name)


_SIMCC = {"type": "simcc", "split_ratio": 2.0}
_HEATMAP = {"type": "heatmap", "refine": "quarter_offset", "input_size": [192, 256], "heatmap_size": [48, 64]}
_RTMDET = RTMDET_DECODER
_V1 = "https://download.openmmlab.com/mmpose/v1"


def _pose(name: str, family: str, build: Callable[[], nn.Module], decoder: dict, url: str, sha: str, ap: float,
          config: str) -> ModelSpec:
    return ModelSpec(name, "pose", family, build, (256, 192), "RGB", POSE_MEAN_RGB, POSE_STD_RGB, decoder, url,
                     sha, ap, config, keypoint_set=COCO17, bbox_padding=1.25)


ZOO: dict[str, ModelSpec] = {
    "rtmpose-t": _pose(
        "rtmpose-t", "rtmpose", rtmpose.rtmpose_t, _SIMCC,
        f"{_V1}/projects/rtmposev1/rtmpose-tiny_simcc-coco_pt-aic-coco_420e-256x192-e613ba3f_20230127.pth",
        "e613ba3f", 0.682, "body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py"),
    "rtmpose-s": _pose(
        "rtmpose-s", "rtmpose", rtmpose.rtmpose_s, _SIMCC,
        f"{_V1}/projects/rtmposev1/rtmpose-s_simcc-coco_pt-aic-coco_420e-256x192-8edcf0d7_20230127.pth",
        "8edcf0d7", 0.716, "body_2d_keypoint/rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py"),
    "litehrnet-18": _pose(
        "litehrnet-18", "litehrnet", litehrnet.litehrnet_18, _HEATMAP,
        "https://download.openmmlab.com/mmpose/top_down/litehrnet/litehrnet18_coco_256x192-6bace359_20211230.pth",
        "6bace359", 0.642, "body_2d_keypoint/topdown_heatmap/coco/td-hm_litehrnet-18_8xb64-210e_coco-256x192.py"),
    "litehrnet-30": _pose(
        "litehrnet-30", "litehrnet", litehrnet.litehrnet_30, _HEATMAP,
        "https://download.openmmlab.com/mmpose/top_down/litehrnet/litehrnet30_coco_256x192-4176555b_20210626.pth",
        "4176555b", 0.676, "body_2d_keypoint/topdown_heatmap/coco/td-hm_litehrnet-30_8xb64-210e_coco-256x192.py"),
    "mobilenetv2": _pose(
        "mobilenetv2", "mobilenetv2", mobilenetv2.mobilenetv2, _HEATMAP,
        f"{_V1}/body_2d_keypoint/topdown_heatmap/coco/"
        "td-hm_mobilenetv2_8xb64-210e_coco-256x192-55a04c35_20221016.pth",
        "55a04c35", 0.648, "body_2d_keypoint/topdown_heatmap/coco/td-hm_mobilenetv2_8xb64-210e_coco-256x192.py"),
    "rtmdet-nano": ModelSpec(
        "rtmdet-nano", "detection", "rtmdet", rtmdet.rtmdet_nano, (320, 320), "BGR", DET_MEAN_BGR, DET_STD_BGR,
        _RTMDET, f"{_V1}/projects/rtmpose/rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e.pth",
        "05d8511e", 0.403, "projects/rtmpose/rtmdet/person/rtmdet_nano_320-8xb32_coco-person.py",
        classes=("person",), onnx_import=rtmdet.ONNX_IMPORT),
}


def get_spec(name: str) -> ModelSpec:
    """The zoo entry for `name`; an unknown name lists close matches (never substitutes one)."""
    if name in ZOO:
        return ZOO[name]
    close = difflib.get_close_matches(name, ZOO, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ConfigError(f"unknown model {name!r}; {hint}known models: {', '.join(ZOO)} (see `edgepose models`)")


def card_metadata(spec: ModelSpec) -> dict[str, Any]:
    """The keypoint/detection fields of the model card for a zoo model."""
    return {**spec.keypoint_set.card_fields(), "bbox_padding": spec.bbox_padding, "classes": list(spec.classes)}
