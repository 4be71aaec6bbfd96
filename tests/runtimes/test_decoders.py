"""Tier 1: decoder rules on synthetic outputs (MMPose boundary rules, -1 for non-positive scores, DARK)."""
from __future__ import annotations

import numpy as np
import pytest

from edgepose.runtimes.decoders import (decode_heatmap, decode_keypoints, decode_simcc, flip_heatmaps,
                                        flip_simcc)


def test_simcc_argmax_min_score_and_split_ratio():
    x = np.zeros((1, 2, 384), np.float32)
    y = np.zeros((1, 2, 512), np.float32)
    x[0, 0, 101], y[0, 0, 33] = 0.8, 0.6
    x[0, 1, 10], y[0, 1, 20] = 0.7, -0.2       # negative y maximum → score ≤ 0
    kpts, scores = decode_simcc(x, y, 2.0)
    assert np.allclose(kpts[0, 0], [50.5, 16.5]) and scores[0, 0] == pytest.approx(0.6)
    assert np.allclose(kpts[0, 1], [-0.5, -0.5]) and scores[0, 1] == 0.0


def heatmap_with_peak(x: int, y: int, right: float = 0.0, down: float = 0.0, h: int = 64, w: int = 48):
    hm = np.zeros((1, 1, h, w), np.float32)
    hm[0, 0, y, x] = 1.0
    if 0 <= x + 1 < w:
        hm[0, 0, y, x + 1] = right
    if 0 <= y + 1 < h:
        hm[0, 0, y + 1, x] = down
    return hm


def test_quarter_offset_moves_toward_the_higher_neighbour():
    kpts, scores = decode_heatmap(heatmap_with_peak(10, 20, right=0.5, down=0.5), (192, 256))
    assert np.allclose(kpts[0, 0], [(10 + 0.25) * 4, (20 + 0.25) * 4]) and scores[0, 0] == 1.0


@pytest.mark.parametrize("x, y, expect_dx, expect_dy", [
    (1, 20, 0.0, 0.25),    # x = 1: MMPose's strict `1 < x` gives no x refinement
    (2, 20, 0.25, 0.25),
    (46, 20, 0.25, 0.25),  # x = W-2 still refined
    (47, 20, 0.0, 0.25),   # x = W-1: no x refinement
    (10, 1, 0.25, 0.0),    # y = 1: no y refinement
    (10, 63, 0.25, 0.0),   # y = H-1: no y refinement
    (0, 20, 0.0, 0.0),     # x = 0: neither (y needs 0 < x)
])
def test_quarter_offset_boundary_rules_match_mmpose(x, y, expect_dx, expect_dy):
    kpts, _ = decode_heatmap(heatmap_with_peak(x, y, right=0.5, down=0.5), (192, 256))
    assert np.allclose(kpts[0, 0], [(x + expect_dx) * 4, (y + expect_dy) * 4])


def test_non_positive_heatmap_peak_goes_to_minus_four():
    kpts, scores = decode_heatmap(-np.ones((1, 1, 64, 48), np.float32), (192, 256))
    assert np.allclose(kpts, -4.0) and scores[0, 0] == -1.0


def test_dark_recovers_a_subpixel_gaussian_peak():
    h, w = 64, 48
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = 20.3, 30.7
    hm = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 2.0 ** 2)).astype(np.float32)[None, None]
    kpts, _ = decode_heatmap(hm, (w, h), refine="dark")
    plain, _ = decode_heatmap(hm, (w, h))
    assert np.abs(kpts[0, 0] - [cx, cy]).max() < 0.1
    assert np.abs(kpts[0, 0] - [cx, cy]).max() < np.abs(plain[0, 0] - [cx, cy]).max()


def test_unknown_refinement_is_an_error():
    with pytest.raises(ValueError, match="unknown heatmap refinement"):
        decode_heatmap(np.ones((1, 1, 4, 4), np.float32), (16, 16), refine="magic")


def test_keypoint_decoder_swaps_yx_and_scales_to_input():
    out = np.array([[[[0.5, 0.25, 0.9], [0.0, 1.0, 0.1]]]], np.float32)
    kpts, scores = decode_keypoints(out, (192, 192))
    assert np.allclose(kpts[0], [[48, 96], [192, 0]]) and np.allclose(scores[0], [0.9, 0.1])


def test_flip_helpers_follow_mmpose():
    idx = [0, 2, 1]
    x = np.arange(3 * 4, dtype=np.float32).reshape(1, 3, 4)
    fx, fy = flip_simcc(x, x, idx)
    assert np.array_equal(fx[0, 1], x[0, 2, ::-1]) and np.array_equal(fy[0, 1], x[0, 2])
    hm = np.arange(3 * 2 * 4, dtype=np.float32).reshape(1, 3, 2, 4)
    f = flip_heatmaps(hm, idx)
    assert np.array_equal(f[0, 1, :, 1:], hm[0, 2, :, ::-1][:, :-1]) and np.array_equal(f[0, 1, :, 0], hm[0, 2, :, -1])


def test_udp_round_trip_recovers_an_image_point():
    """Image point → UDP warp → heatmap Gaussian → UDP decode → back to the image."""
    import cv2

    from edgepose.runtimes.preprocess import box_to_center_scale, to_image_coords, warp_matrix_udp

    input_wh, hm_wh = (192, 256), (48, 64)
    center, scale = box_to_center_scale(np.array([100, 50, 300, 400]), input_wh, 1.25)
    point = np.array([180.7, 233.2])
    u = cv2.transform(point[None, None], warp_matrix_udp(center, scale, input_wh))[0, 0]
    hx, hy = u * (np.array(hm_wh) - 1) / (np.array(input_wh) - 1)
    yy, xx = np.mgrid[0:hm_wh[1], 0:hm_wh[0]]
    hm = np.exp(-((xx - hx) ** 2 + (yy - hy) ** 2) / (2 * 2.0 ** 2)).astype(np.float32)[None, None]
    kpts, _ = decode_heatmap(hm, input_wh, refine="udp")
    back = to_image_coords(kpts, center[None], scale[None], input_wh)[0, 0]
    assert np.abs(back - point).max() < 0.5, f"UDP round trip moved the point to {back}"


def test_dark_recovers_the_peak_of_a_rotated_gaussian():
    """The cross term of the Hessian matters once the peak is not axis-aligned: on the log of a (blurred)
    Gaussian the Newton step is exact, so a rotated one is recovered as well as a round one."""
    h, w = 64, 48
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = 20.3, 30.7
    inv = np.linalg.inv(np.array([[4.0, 2.5], [2.5, 5.0]]))
    d = np.stack([xx - cx, yy - cy], -1)
    hm = np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, inv, d)).astype(np.float32)[None, None]
    kpts, _ = decode_heatmap(hm, (w, h), refine="dark")
    assert np.abs(kpts[0, 0] - [cx, cy]).max() < 0.05, kpts[0, 0]


@pytest.mark.parametrize("x, y", [(2, 2), (10, 20), (46, 62), (45, 61)])
def test_quarter_offset_moves_left_and_up_toward_higher_neighbours(x, y):
    """The sign of the neighbour difference, not only its presence: a higher left / upper neighbour moves the
    keypoint by -0.25; equal neighbours do not move it."""
    hm = np.zeros((1, 1, 64, 48), np.float32)
    hm[0, 0, y, x] = 1.0
    hm[0, 0, y, x - 1], hm[0, 0, y, x + 1] = 0.6, 0.2     # left higher
    hm[0, 0, y - 1, x], hm[0, 0, y + 1, x] = 0.3, 0.3     # equal: no y move
    kpts, _ = decode_heatmap(hm, (192, 256))
    np.testing.assert_allclose(kpts[0, 0], [(x - 0.25) * 4, y * 4])
    hm[0, 0, y - 1, x] = 0.5                               # upper higher
    kpts, _ = decode_heatmap(hm, (192, 256))
    np.testing.assert_allclose(kpts[0, 0], [(x - 0.25) * 4, (y - 0.25) * 4])


@pytest.mark.parametrize("x, y", [(0, 20), (47, 20), (10, 0), (10, 63), (1, 1), (46, 62)])
def test_dark_leaves_a_peak_on_the_border_where_it_is(x, y):
    """No Newton step where the 3x3 neighbourhood leaves the map (index -1 would wrap to the far side);
    one pixel inside it is refined."""
    hm = heatmap_with_peak(x, y, right=0.5, down=0.5)
    hm[0, 0, :, -1] += 0.4 * (x == 0)       # something on the far side a wrapped index would read
    kpts, _ = decode_heatmap(hm, (192, 256), refine="dark")
    plain = np.array([x, y], np.float32) * 4
    on_border = x in (0, 47) or y in (0, 63)
    assert np.array_equal(kpts[0, 0], plain) == on_border, kpts[0, 0]
