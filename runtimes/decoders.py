"""Keypoint decoders (numpy only). All return keypoints (N, K, 2) float32 in input pixels and scores (N, K).

- SimCC (RTMPose): argmax per axis; coordinates = argmax / split_ratio, score = min of the two raw
  maxima, not divided (MMPose SimCCLabel).
- Heatmap (MSRA): argmax + quarter offset with MMPose's exact boundary rules, × input/heatmap;
  `refine="dark"` uses the DARK second-order refinement instead (Zhang et al., CVPR 2020), and
  `refine="udp"` DARK plus UDP's pixel-centre scaling (input-1)/(heatmap-1) (Huang et al., CVPR 2020),
  for checkpoints trained with UDP (pair it with `preprocess.warp_matrix_udp`).
- Keypoints: models that emit coordinates, e.g. MoveNet's (N, 1, K, 3) of (y, x, score) in [0, 1].
Keypoints with score ≤ 0 are placed at -1 in output units, as MMPose does, and are not dropped.
"""
from __future__ import annotations

import cv2
import numpy as np


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """simcc_x (N, K, Wx), simcc_y (N, K, Wy) logits → keypoints, scores."""
    locs = np.stack([simcc_x.argmax(-1), simcc_y.argmax(-1)], -1).astype(np.float32)
    scores = np.minimum(simcc_x.max(-1), simcc_y.max(-1))
    locs[scores <= 0] = -1
    return locs / np.float32(split_ratio), scores


def decode_heatmap(heatmaps: np.ndarray, input_wh: tuple[int, int], refine: str = "quarter_offset",
                   blur_kernel: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """heatmaps (N, K, H, W) → keypoints, scores. `refine`: "quarter_offset" (MMPose MSRA), "dark" or "udp"."""
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, -1)
    idx = flat.argmax(-1)
    scores = flat.max(-1)
    locs = np.stack([idx % w, idx // w], -1).astype(np.float32)
    locs[scores <= 0] = -1
    if refine == "quarter_offset":
        locs += _quarter_offset(heatmaps, locs)
    elif refine in ("dark", "udp"):
        locs = _dark(heatmaps, locs, blur_kernel)
    else:
        raise ValueError(f"unknown heatmap refinement {refine!r}; use 'quarter_offset', 'dark' or 'udp'")
    if refine == "udp":
        factor = (np.asarray(input_wh) / np.array([w - 1, h - 1])).astype(np.float32)
    else:
        factor = (np.asarray(input_wh) / np.array([w, h])).astype(np.float32)
    return locs * factor, scores


def _quarter_offset(heatmaps: np.ndarray, locs: np.ndarray) -> np.ndarray:
    """±0.25 toward the higher neighbour; x only where 1 < x < W-1 and y > 0, y only where 1 < y < H-1 and x > 0."""
    n, k, h, w = heatmaps.shape
    px, py = locs[..., 0].astype(int), locs[..., 1].astype(int)
    hm = heatmaps.reshape(n * k, h, w)
    rows = np.arange(n * k)
    px, py = px.ravel(), py.ravel()
    okx = (px > 1) & (px < w - 1) & (py > 0) & (py < h)
    oky = (py > 1) & (py < h - 1) & (px > 0) & (px < w)
    cx, cy = np.clip(px, 1, w - 2), np.clip(py, 1, h - 2)
    dx = np.where(okx, hm[rows, np.clip(py, 0, h - 1), cx + 1] - hm[rows, np.clip(py, 0, h - 1), cx - 1], 0)
    dy = np.where(oky, hm[rows, cy + 1, np.clip(px, 0, w - 1)] - hm[rows, cy - 1, np.clip(px, 0, w - 1)], 0)
    return (np.stack([np.sign(dx), np.sign(dy)], -1) * np.float32(0.25)).astype(np.float32).reshape(n, k, 2)


def _dark(heatmaps: np.ndarray, locs: np.ndarray, kernel: int) -> np.ndarray:
    """Newton step on the log of the blurred heatmap: loc - H⁻¹·∇ at the integer maximum."""
    n, k, h, w = heatmaps.shape
    out = locs.copy()
    for i in range(n):
        for j in range(k):
            x, y = int(locs[i, j, 0]), int(locs[i, j, 1])
            if not (1 <= x < w - 1 and 1 <= y < h - 1):
                continue
            hm = heatmaps[i, j]
            peak = hm.max()
            blurred = cv2.GaussianBlur(np.pad(hm, kernel // 2), (kernel, kernel), 0)[kernel // 2:-(kernel // 2),
                                                                                      kernel // 2:-(kernel // 2)]
            blurred *= peak / max(float(blurred.max()), 1e-12)
            lg = np.log(np.clip(blurred, 1e-3, 50.0))
            dx = 0.5 * (lg[y, x + 1] - lg[y, x - 1])
            dy = 0.5 * (lg[y + 1, x] - lg[y - 1, x])
            dxx = lg[y, x + 1] - 2 * lg[y, x] + lg[y, x - 1]
            dyy = lg[y + 1, x] - 2 * lg[y, x] + lg[y - 1, x]
            dxy = 0.25 * (lg[y + 1, x + 1] - lg[y + 1, x - 1] - lg[y - 1, x + 1] + lg[y - 1, x - 1])
            hessian = np.array([[dxx, dxy], [dxy, dyy]])
            if abs(np.linalg.det(hessian)) > 1e-12:
                out[i, j] -= (np.linalg.inv(hessian) @ np.array([dx, dy])).astype(np.float32)
    return out


def decode_keypoints(output: np.ndarray, input_wh: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, K, 3) of (y, x, score) normalized to the input → keypoints in input pixels, scores."""
    out = output.reshape(output.shape[0], -1, 3).astype(np.float32)
    locs = out[..., [1, 0]] * np.asarray(input_wh, np.float32)
    return locs, out[..., 2]


def flip_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, flip_idx: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of the flipped crop back to the original orientation (MMPose flip_vectors, no shift)."""
    return simcc_x[:, flip_idx, ::-1], simcc_y[:, flip_idx]


def flip_heatmaps(heatmaps: np.ndarray, flip_idx: list[int], shift: bool = True) -> np.ndarray:
    """Flip W, swap left/right channels, shift one pixel right (MMPose flip_heatmaps, mode 'heatmap')."""
    flipped = heatmaps[:, flip_idx, :, ::-1].copy()
    if shift:
        flipped[..., 1:] = flipped[..., :-1].copy()
    return flipped
