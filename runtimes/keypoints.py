"""Keypoint sets as data: names, skeleton, flip pairs and OKS sigmas, written into every pose card.

COCO-17 as MMPose's `configs/_base_/datasets/coco.py` defines it. A model family with another keypoint set
(whole body, hand, face) adds one `KeypointSet` here; the runtime reads everything from the card.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KeypointSet:
    name: str
    names: tuple[str, ...]                    # keypoint names in output order
    skeleton: tuple[tuple[int, int], ...]     # limb links drawn between keypoint indices
    flip_pairs: tuple[tuple[int, int], ...]   # left/right pairs swapped by a horizontal flip
    sigmas: tuple[float, ...]                 # per-keypoint OKS sigmas

    def card_fields(self) -> dict[str, Any]:
        """The model card's keypoint fields (JSON lists)."""
        return {"keypoints": list(self.names), "skeleton": [list(p) for p in self.skeleton],
                "flip_pairs": [list(p) for p in self.flip_pairs], "sigmas": list(self.sigmas)}


COCO17 = KeypointSet(
    "coco17",
    names=("nose", "left_eye", "right_eye", "left_ear", "right_ear",
           "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
           "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
    skeleton=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),   # MMPose's
              (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6)),   # skeleton_info
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    sigmas=(0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
            0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089),
)
NO_KEYPOINTS = KeypointSet("none", (), (), (), ())   # detectors


def flip_indices(num_keypoints: int, flip_pairs: list[list[int]] | tuple) -> list[int]:
    """Index permutation that swaps each left/right pair, e.g. COCO → [0, 2, 1, 4, 3, ...]."""
    order = list(range(num_keypoints))
    for a, b in flip_pairs:
        order[a], order[b] = b, a
    return order
