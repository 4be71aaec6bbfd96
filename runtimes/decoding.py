"""Decoders as objects, one per model-card `decoder.type`: raw outputs by role → keypoints or detections.

A pose decoder decodes, merges a flipped pass (flip test) and finds argmax ties (verification); a detection
decoder turns per-stride maps into boxes. `PoseModel`, `Detector` and the converters' verification look the
decoder up here by the card's type and never branch on its name. To add a decoder: a class here, one entry
in `DECODERS` (docs/architecture.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .boxes import nms
from .decoders import decode_heatmap, decode_keypoints, decode_simcc, flip_heatmaps, flip_simcc
from .card import DECODER_READS
from .errors import ConfigError

if TYPE_CHECKING:
    from .card import ModelCard

Outputs = dict[str, np.ndarray]   # raw model outputs by role


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


class PoseDecoder:
    """Base of the pose decoders; `card` gives the parameters (`card.decoder`) and the input size."""

    def __init__(self, card: "ModelCard") -> None:
        self.params = card.decoder
        self.input_wh = (card.input.width, card.input.height)

    def decode(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray]:
        """→ keypoints (N, K, 2) in input pixels, scores (N, K)."""
        raise NotImplementedError

    def merge_flip(self, outputs: Outputs, flipped: Outputs, flip_idx: list[int]) -> Outputs:
        """Average with the outputs of the horizontally flipped crop, brought back as MMPose does."""
        raise NotImplementedError

    def ties(self, ref: Outputs, got: Outputs) -> np.ndarray:
        """(N, K) keypoints whose reference maximum is a tie at the error level between `ref` and `got`:
        the best location more than one cell away is within twice the channel's max |diff| of the peak.
        Their argmax may jump anywhere (random weights), so displacement says nothing about fidelity there."""
        n, k = next(iter(ref.values())).shape[:2]
        return np.zeros((n, k), bool)


class SimccDecoder(PoseDecoder):
    """RTMPose: argmax per axis, coordinates ÷ split ratio, score = min of the two maxima."""

    def decode(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray]:
        return decode_simcc(outputs["simcc_x"], outputs["simcc_y"], self.params["split_ratio"])

    def merge_flip(self, outputs: Outputs, flipped: Outputs, flip_idx: list[int]) -> Outputs:
        fx, fy = flip_simcc(flipped["simcc_x"], flipped["simcc_y"], flip_idx)
        return {"simcc_x": (outputs["simcc_x"] + fx) * np.float32(0.5),
                "simcc_y": (outputs["simcc_y"] + fy) * np.float32(0.5)}

    def ties(self, ref: Outputs, got: Outputs) -> np.ndarray:
        return _tied(ref["simcc_x"], got["simcc_x"]) | _tied(ref["simcc_y"], got["simcc_y"])


class HeatmapDecoder(PoseDecoder):
    """MSRA heatmaps: argmax + quarter offset (or DARK / UDP refinement), scaled to the input."""

    def decode(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray]:
        return decode_heatmap(outputs["heatmaps"], self.input_wh, self.params.get("refine", "quarter_offset"))

    def merge_flip(self, outputs: Outputs, flipped: Outputs, flip_idx: list[int]) -> Outputs:
        f = flip_heatmaps(flipped["heatmaps"], flip_idx, self.params.get("shift_heatmap", True))
        return {"heatmaps": (outputs["heatmaps"] + f) * np.float32(0.5)}

    def ties(self, ref: Outputs, got: Outputs) -> np.ndarray:
        return _tied(ref["heatmaps"], got["heatmaps"])


class KeypointDecoder(PoseDecoder):
    """Models that emit coordinates (MoveNet): (N, 1, K, 3) of (y, x, score) normalized to the input."""

    def decode(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray]:
        return decode_keypoints(outputs["keypoints"], self.input_wh)

    def merge_flip(self, outputs: Outputs, flipped: Outputs, flip_idx: list[int]) -> Outputs:
        f = flipped["keypoints"].reshape(len(flipped["keypoints"]), -1, 3)[:, flip_idx].copy()
        f[..., 1] = 1.0 - f[..., 1]
        merged = outputs["keypoints"].reshape(f.shape)
        return {"keypoints": (merged + f) * np.float32(0.5)}


class RtmdetDecoder:
    """RTMDet: per stride, sigmoid class scores at grid points (col·stride, row·stride) and ltrb distances;
    threshold, class-wise NMS, at most `max_detections` (MMDetection's test pipeline)."""

    def __init__(self, card: "ModelCard", score_threshold: float | None = None, nms_iou: float | None = None):
        d = card.decoder
        self.card = card
        self.score_threshold = d.get("score_threshold", 0.3) if score_threshold is None else score_threshold
        self.nms_iou = d.get("nms_iou", 0.6) if nms_iou is None else nms_iou
        self.max_detections = int(d.get("max_detections", 100))
        self._grids: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def decode(self, outputs: Outputs, scale: float, image_shape: tuple[int, ...]) -> Detections:
        """Raw outputs (by tensor name) → boxes in image pixels (`scale`: the letterbox resize factor)."""
        all_boxes, all_scores, all_labels = [], [], []
        for stride, cls, box in self._levels(outputs):
            c, h, w = cls.shape
            xs, ys = self._grid(stride, h, w)
            # logits clipped where float32 exp would overflow: scores there are 0 or 1 either way
            scores = 1.0 / (1.0 + np.exp(-np.clip(cls.reshape(c, -1).astype(np.float32), -88, 88)))
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
        return Detections(boxes[keep].astype(np.float32), scores[keep].astype(np.float32),
                          labels[keep].astype(np.int64))

    def _grid(self, stride: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Prior points (col·stride, row·stride), flattened row-major; cached per level."""
        key = (stride, h, w)
        if key not in self._grids:
            ys, xs = np.meshgrid(np.arange(h, dtype=np.float32) * stride, np.arange(w, dtype=np.float32) * stride,
                                 indexing="ij")
            self._grids[key] = (xs.ravel(), ys.ravel())
        return self._grids[key]

    def _levels(self, outputs: Outputs):
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


DECODERS: dict[str, type] = {"simcc": SimccDecoder, "heatmap": HeatmapDecoder, "keypoints": KeypointDecoder,
                             "rtmdet": RtmdetDecoder}


def decoder_for(card: "ModelCard", task: str, **options):
    """The decoder object for `card` (its `decoder.type`), which must decode a `task` model."""
    kind = card.decoder.get("type")
    cls = DECODERS.get(kind)
    if cls is None or DECODER_READS[kind][0] != task:
        fits = [name for name, (t, _) in DECODER_READS.items() if t == task]
        raise ConfigError(f"decoder {kind!r} does not decode a {task} model; {task} decoders: {', '.join(fits)}")
    return cls(card, **options)


def _tied(r: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Argmax ties of one output (see PoseDecoder.ties); heatmaps also when the quarter-offset sign is a tie."""
    flat_r = r.reshape(*r.shape[:2], -1)
    eps = np.abs(flat_r - g.reshape(flat_r.shape)).max(-1)
    top = flat_r.argmax(-1)
    spatial = r.shape[2:]
    coords = np.stack(np.unravel_index(np.arange(flat_r.shape[-1]), spatial), -1)  # (L, dims)
    peak = np.stack(np.unravel_index(top, spatial), -1)                             # (N, K, dims)
    far = np.abs(coords[None, None] - peak[..., None, :]).max(-1) > 1
    second = np.where(far, flat_r, -np.inf).max(-1)
    ties = flat_r.max(-1) - second <= 2 * eps
    if r.ndim == 4:  # heatmaps: the quarter-offset sign compares the two neighbours of the peak
        h, w = spatial
        py, px = peak[..., 0], peak[..., 1]
        n, k = np.meshgrid(np.arange(r.shape[0]), np.arange(r.shape[1]), indexing="ij")
        dx = r[n, k, py, np.clip(px + 1, 0, w - 1)] - r[n, k, py, np.clip(px - 1, 0, w - 1)]
        dy = r[n, k, np.clip(py + 1, 0, h - 1), px] - r[n, k, np.clip(py - 1, 0, h - 1), px]
        ties |= (np.abs(dx) <= 2 * eps) | (np.abs(dy) <= 2 * eps)
    return ties
