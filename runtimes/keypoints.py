"""COCO-17 body keypoint metadata, as MMPose's `configs/_base_/datasets/coco.py` defines it."""
from __future__ import annotations

COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

# Limb links drawn between keypoint indices (MMPose's skeleton_info order).
COCO17_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

# Left/right pairs swapped by a horizontal flip.
COCO17_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)

# Per-keypoint OKS sigmas of the COCO keypoint metric.
COCO17_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)


def flip_indices(num_keypoints: int, flip_pairs: list[list[int]] | tuple) -> list[int]:
    """Index permutation that swaps each left/right pair, e.g. COCO → [0, 2, 1, 4, 3, ...]."""
    order = list(range(num_keypoints))
    for a, b in flip_pairs:
        order[a], order[b] = b, a
    return order
