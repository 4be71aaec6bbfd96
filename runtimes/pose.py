"""Top-down pose model from an artifact directory: preprocess → infer → decode, each step public."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backends import BackendOptions, open_backend
from .card import ModelCard, artifact_dir, load_card
from .decoding import PoseDecoder, decoder_for
from .errors import ConfigError
from .keypoints import flip_indices
from .preprocess import check_boxes, check_image, crop_person, malformed_boxes, to_image_coords, to_network_input
from .timing import StageTimes, maybe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Poses:
    """Poses of N persons in one image."""

    boxes: np.ndarray      # (N, 4) float32, xyxy image pixels, the boxes the crops came from
    keypoints: np.ndarray  # (N, K, 2) float32, image pixels
    scores: np.ndarray     # (N, K) float32, decoder confidence (SimCC logit max, heatmap max, or model score)
    indices: np.ndarray    # (N,) int64, position of each pose's box in the boxes passed in

    def __post_init__(self) -> None:
        n = len(self.boxes)
        if self.keypoints.shape[0] != n or self.scores.shape[0] != n or self.indices.shape[0] != n:
            raise ValueError(f"Poses: {n} boxes but {self.keypoints.shape[0]} keypoint sets")

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls, num_keypoints: int) -> "Poses":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0, num_keypoints, 2), np.float32),
                   np.zeros((0, num_keypoints), np.float32), np.zeros(0, np.int64))


def usable_boxes(boxes: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """Boolean mask of boxes that are finite, have positive area and overlap the image."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    h, w = image_shape[:2]
    finite = np.isfinite(boxes).all(1)
    positive = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    inside = (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & (boxes[:, 0] < w) & (boxes[:, 1] < h)
    return finite & positive & inside


def pose_inputs(card: ModelCard, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network input of a pose card for person `boxes` in a BGR image → (inputs (N, ...), centers, scales):
    the one preprocessing path, shared by the runtime, verification and INT8 calibration."""
    image, boxes = check_image(image), check_boxes(boxes)
    if len(boxes) == 0:
        raise ConfigError("preprocess needs at least one box; PoseModel(...)(image, boxes) handles zero boxes")
    udp = card.decoder.get("refine") == "udp"  # UDP models are trained on UDP crops
    crops, centers, scales = [], [], []
    for box in boxes:
        crop, center, scale = crop_person(image, box, (card.input.width, card.input.height), card.bbox_padding, udp)
        crops.append(crop)
        centers.append(center)
        scales.append(scale)
    return to_network_input(np.stack(crops), card.input), np.stack(centers), np.stack(scales)


class PoseModel:
    """`PoseModel(dir)(image_bgr, boxes) -> Poses`. Boxes that cannot be cropped and persons whose outputs
    are not finite are left out (logged), never raised mid-video; an image or boxes of the wrong kind are a
    ConfigError that says what is expected."""

    def __init__(self, artifact: str | Path, options: BackendOptions | None = None, flip_test: bool = False) -> None:
        self.directory = artifact_dir(artifact)
        self.card: ModelCard = load_card(self.directory)
        if self.card.task != "pose":
            raise ConfigError(f"{self.directory} holds a {self.card.task} model; --pose needs a pose artifact")
        self.backend = open_backend(self.card, self.directory, options)
        self.flip_test = flip_test
        self.input_wh = (self.card.input.width, self.card.input.height)
        self.flip_idx = flip_indices(len(self.card.keypoints), self.card.flip_pairs)
        self.decoder: PoseDecoder = decoder_for(self.card, "pose")

    @property
    def num_keypoints(self) -> int:
        return len(self.card.keypoints)

    def preprocess(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """→ network input (N, ...), centers (N, 2), scales (N, 2)."""
        return pose_inputs(self.card, image, boxes)

    def infer(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Raw outputs by role; with flip test, already merged with the flipped pass as MMPose does."""
        outputs = self._by_role(self.backend.run(inputs))
        if not self.flip_test:
            return outputs
        axis = 3 if self.card.input.layout == "NCHW" else 2
        flipped = self._by_role(self.backend.run(np.ascontiguousarray(np.flip(inputs, axis))))
        return self.decoder.merge_flip(outputs, flipped, self.flip_idx)

    def decode(self, outputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """→ keypoints (N, K, 2) in input pixels, scores (N, K)."""
        return self.decoder.decode(outputs)

    def __call__(self, image: np.ndarray, boxes: np.ndarray, times: StageTimes | None = None) -> Poses:
        """Poses for the usable boxes, all in one batched call; `times` accumulates pre/pose/post seconds.

        `image`: uint8 BGR (H, W, 3) (grayscale and BGRA are converted); `boxes`: (N, 4) xyxy image pixels, or
        (N, 5) with a score column (ignored)."""
        image, boxes = check_image(image), check_boxes(boxes)
        keep = usable_boxes(boxes, image.shape)
        if not keep.all():
            problem = malformed_boxes(boxes)  # a caller's mistake is said; a box that left the image is not
            (log.warning if problem else log.debug)("skipping %d of %d boxes: %s", int((~keep).sum()), len(boxes),
                                                    problem or "no area inside the image")
        indices = np.flatnonzero(keep)
        boxes = boxes[keep]
        if len(boxes) == 0:
            return Poses.empty(self.num_keypoints)
        with maybe(times, "pre"):
            inputs, centers, scales = self.preprocess(image, boxes)
        with maybe(times, "pose"):
            raw = self.infer(inputs)
        with maybe(times, "post"):
            kpts, scores = self.decode(raw)
            kpts = to_image_coords(kpts, centers, scales, self.input_wh)
        finite = np.isfinite(kpts).all((1, 2)) & np.isfinite(scores).all(1)
        if not finite.all():
            log.warning("dropping %d persons whose model outputs are not finite", int((~finite).sum()))
        return Poses(boxes[finite], kpts[finite], scores[finite].astype(np.float32), indices[finite])

    def _by_role(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {spec.role: outputs[spec.name] for spec in self.card.outputs}
