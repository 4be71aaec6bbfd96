"""RTMDet person detector from an artifact directory: letterbox → infer → per-stride decode → NMS.

Matches MMDetection's test pipeline: keep-ratio resize (bilinear), pad right/bottom with 114, mean/std in
the card's colour order, grid points at (col·stride, row·stride), ltrb distances, sigmoid scores.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .backends import BackendOptions, open_backend
from .boxes import nms
from .card import ModelCard, load_card
from .errors import ConfigError
from .preprocess import check_image, to_network_input


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray   # (N, 4) float32, xyxy image pixels
    scores: np.ndarray  # (N,) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64 class index into card.classes

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, mask) -> "Detections":
        return Detections(self.boxes[mask], self.scores[mask], self.labels[mask])

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


def letterbox(image: np.ndarray, size_hw: tuple[int, int], pad_value: int = 114) -> tuple[np.ndarray, float]:
    """Keep-ratio resize into size_hw, padded at the right/bottom; returns the canvas and the scale."""
    h, w = image.shape[:2]
    scale = min(size_hw[0] / h, size_hw[1] / w)
    new_w, new_h = int(w * scale + 0.5), int(h * scale + 0.5)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size_hw[0], size_hw[1], 3), pad_value, np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas, scale


class Detector:
    """`Detector(dir)(image_bgr) -> Detections` of the card's classes (person for RTMDet-nano)."""

    def __init__(self, artifact: str | Path, options: BackendOptions | None = None,
                 score_threshold: float | None = None, nms_iou: float | None = None) -> None:
        self.directory = Path(artifact)
        self.card: ModelCard = load_card(self.directory)
        if self.card.task != "detection" or self.card.decoder["type"] != "rtmdet":
            raise ConfigError(f"{self.directory} holds a {self.card.task} model; --det needs an RTMDet artifact")
        self.backend = open_backend(self.card, self.directory, options)
        d = self.card.decoder
        self.score_threshold = d.get("score_threshold", 0.3) if score_threshold is None else score_threshold
        self.nms_iou = d.get("nms_iou", 0.6) if nms_iou is None else nms_iou
        self.max_detections = int(d.get("max_detections", 100))
        self.pad_value = int(d.get("letterbox_pad_value", 114))
        self.size_hw = (self.card.input.height, self.card.input.width)
        self._grids: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """uint8 BGR image → network input (1, ...) letterboxed with the card's pad value, and the resize scale."""
        canvas, scale = letterbox(check_image(image), self.size_hw, self.pad_value)
        return to_network_input(canvas[None], self.card.input), scale

    def infer(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        return self.backend.run(inputs)

    def decode(self, outputs: dict[str, np.ndarray], scale: float, image_shape: tuple[int, ...]) -> Detections:
        """Per stride: (cls logits, ltrb distances) → boxes in image pixels; threshold; class-wise NMS."""
        all_boxes, all_scores, all_labels = [], [], []
        for stride, cls, box in self._levels(outputs):
            c, h, w = cls.shape
            xs, ys = self._grid(stride, h, w)
            scores = 1.0 / (1.0 + np.exp(-cls.reshape(c, -1).astype(np.float32)))
            dist = box.reshape(4, -1)
            boxes = np.stack([xs - dist[0], ys - dist[1], xs + dist[2], ys + dist[3]], 1)
            label = scores.argmax(0)
            best = scores[label, np.arange(scores.shape[1])]
            keep = best > self.score_threshold
            all_boxes.append(boxes[keep])
            all_scores.append(best[keep])
            all_labels.append(label[keep])
        boxes = np.concatenate(all_boxes) / np.float32(scale)
        scores, labels = np.concatenate(all_scores), np.concatenate(all_labels)
        if len(boxes) == 0:
            return Detections.empty()
        h, w = image_shape[:2]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        finite = np.isfinite(boxes).all(1) & np.isfinite(scores)
        boxes, scores, labels = boxes[finite], scores[finite], labels[finite]
        keep = np.concatenate([np.flatnonzero(labels == k)[nms(boxes[labels == k], scores[labels == k], self.nms_iou)]
                               for k in np.unique(labels)]) if len(labels) else np.zeros(0, np.int64)
        keep = keep[np.argsort(-scores[keep], kind="stable")][: self.max_detections]
        return Detections(boxes[keep].astype(np.float32), scores[keep].astype(np.float32), labels[keep].astype(np.int64))

    def __call__(self, image: np.ndarray) -> Detections:
        """Detections in a uint8 BGR image (grayscale and BGRA are converted; other kinds are a ConfigError)."""
        image = check_image(image)
        inputs, scale = self.preprocess(image)
        return self.decode(self.infer(inputs), scale, image.shape)

    def _grid(self, stride: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Prior points (col·stride, row·stride), flattened row-major; cached per level."""
        key = (stride, h, w)
        if key not in self._grids:
            ys, xs = np.meshgrid(np.arange(h, dtype=np.float32) * stride, np.arange(w, dtype=np.float32) * stride,
                                 indexing="ij")
            self._grids[key] = (xs.ravel(), ys.ravel())
        return self._grids[key]

    def _levels(self, outputs: dict[str, np.ndarray]):
        """Yield (stride, cls (C, H, W), box (4, H, W)) per level, whatever the output packing."""
        joint = self.card.output("cls_box")
        if joint:
            for spec in joint:
                t = outputs[spec.name][0]
                t = t.transpose(2, 0, 1) if spec.layout == "NHWC" else t
                yield spec.stride, t[:-4], t[-4:]
            return
        boxes = {spec.stride: spec for spec in self.card.output("box")}
        for spec in self.card.output("cls"):
            cls, box = outputs[spec.name][0], outputs[boxes[spec.stride].name][0]
            if spec.layout == "NHWC":
                cls, box = cls.transpose(2, 0, 1), box.transpose(2, 0, 1)
            yield spec.stride, cls, box
