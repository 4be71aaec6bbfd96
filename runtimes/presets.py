"""Settings of the model families edgepose knows, shared by the zoo (build side) and the cards written for
third-party files (`edgepose card`): normalization and the RTMDet decoder, defined once."""
from __future__ import annotations

from typing import Any

POSE_MEAN_RGB = (123.675, 116.28, 103.53)     # MMPose's ImageNet statistics, RGB order
POSE_STD_RGB = (58.395, 57.12, 57.375)
DET_MEAN_BGR = (103.53, 116.28, 123.675)      # MMDetection's, for a model that takes BGR
DET_STD_BGR = (57.375, 57.12, 58.395)
RTMDET_DECODER: dict[str, Any] = {"type": "rtmdet", "strides": [8, 16, 32], "score_threshold": 0.3, "nms_iou": 0.6,
                                  "letterbox_pad_value": 114, "max_detections": 100}
