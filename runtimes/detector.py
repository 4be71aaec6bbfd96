"""RTMDet person detector from an artifact directory: letterbox → infer → per-stride decode → NMS.

Matches MMDetection's test pipeline: keep-ratio resize (bilinear), pad right/bottom with 114, mean/std in
the card's colour order, grid points at (col·stride, row·stride), ltrb distances, sigmoid scores.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .backends import BackendOptions, open_backend
from .card import ModelCard, artifact_dir, load_card
from .decoding import Detections, decoder_for
from .errors import ConfigError
from .preprocess import check_image, to_network_input


def letterbox(image: np.ndarray, size_hw: tuple[int, int], pad_value: int = 114) -> tuple[np.ndarray, float]:
    """Keep-ratio resize into size_hw, padded at the right/bottom; returns the canvas and the scale."""
    h, w = image.shape[:2]
    scale = min(size_hw[0] / h, size_hw[1] / w)
    new_w, new_h = int(w * scale + 0.5), int(h * scale + 0.5)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size_hw[0], size_hw[1], 3), pad_value, np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas, scale


def detector_inputs(card: ModelCard, image: np.ndarray) -> tuple[np.ndarray, float]:
    """The network input (1, ...) of a detector card for a BGR image, letterboxed with the card's pad value,
    and the resize scale: the one preprocessing path, shared by the runtime, verification and calibration."""
    size_hw = (card.input.height, card.input.width)
    canvas, scale = letterbox(check_image(image), size_hw, int(card.decoder.get("letterbox_pad_value", 114)))
    return to_network_input(canvas[None], card.input), scale


class Detector:
    """`Detector(dir)(image_bgr) -> Detections` of the card's classes (person for RTMDet-nano)."""

    def __init__(self, artifact: str | Path, options: BackendOptions | None = None,
                 score_threshold: float | None = None, nms_iou: float | None = None) -> None:
        self.directory = artifact_dir(artifact)
        self.card: ModelCard = load_card(self.directory)
        if self.card.task != "detection":
            raise ConfigError(f"{self.directory} holds a {self.card.task} model; --det needs an RTMDet artifact (a detector)")
        self.decoder = decoder_for(self.card, "detection", score_threshold=score_threshold, nms_iou=nms_iou)
        self.backend = open_backend(self.card, self.directory, options)

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """uint8 BGR image → network input (1, ...) letterboxed with the card's pad value, and the resize scale."""
        return detector_inputs(self.card, image)

    def infer(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        return self.backend.run(inputs)

    def decode(self, outputs: dict[str, np.ndarray], scale: float, image_shape: tuple[int, ...]) -> Detections:
        """Raw outputs → detections in image pixels, through the card's decoder (runtimes/decoding.py)."""
        return self.decoder.decode(outputs, scale, image_shape)

    def __call__(self, image: np.ndarray) -> Detections:
        """Detections in a uint8 BGR image (grayscale and BGRA are converted; other kinds are a ConfigError)."""
        image = check_image(image)
        inputs, scale = self.preprocess(image)
        return self.decode(self.infer(inputs), scale, image.shape)
