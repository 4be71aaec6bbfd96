"""Box geometry with exact values: IoU (areas, empty and sub-pixel boxes), greedy matching and NMS at their
thresholds — the values the tracker, the detector and the fidelity checks rely on."""
from __future__ import annotations

import numpy as np

from edgepose.runtimes.boxes import greedy_match, iou_matrix, nms


def test_iou_of_boxes_with_different_widths_and_heights_is_exact():
    a = np.array([[0, 0, 4, 2], [0, 0, 0.5, 2], [10, 1, 12, 4]], np.float64)   # areas 8, 1 (half a pixel wide), 6
    b = np.array([[1, 1, 3, 5], [0, 0, 4, 2], [11, 2, 13, 6]], np.float64)     # areas 8, 8, 8
    expected = np.array([[2 / 14, 1.0, 0.0], [0 / 9, 1 / 8, 0.0], [0.0, 0.0, 2 / 12]])
    np.testing.assert_allclose(iou_matrix(a, b), expected, rtol=1e-12)


def test_iou_of_empty_or_inverted_boxes_is_zero_not_nan():
    empty = np.array([[5, 5, 5, 5], [6, 6, 4, 9]], np.float64)   # no area; x2 < x1
    got = iou_matrix(empty, np.array([[5, 5, 5, 5], [0, 0, 10, 10]], np.float64))
    assert np.isfinite(got).all() and (got == 0).all()


def test_iou_of_tiny_identical_boxes_is_one():
    tiny = np.array([[0, 0, 0.5, 0.5]], np.float64)   # union 0.25 px²: no floor of 1 px² may creep in
    assert iou_matrix(tiny, tiny)[0, 0] == 1.0


def test_greedy_match_keeps_a_pair_exactly_at_the_threshold_and_a_single_pair():
    assert greedy_match(np.array([[0.3]]), 0.3) == [(0, 0)]
    assert greedy_match(np.array([[0.29]]), 0.3) == []
    assert greedy_match(np.zeros((0, 2)), 0.3) == []
    iou = np.array([[0.9, 0.5, 0.0], [0.6, 0.2, 0.4], [0.1, 0.35, 0.2]])
    assert greedy_match(iou, 0.3) == [(0, 0), (1, 2), (2, 1)]


def test_nms_keeps_a_box_exactly_at_the_threshold_and_everything_at_one():
    boxes = np.array([[0, 0, 2, 1], [1, 0, 3, 1], [10, 10, 12, 12], [10, 10, 12, 12]], np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    # boxes 0 and 1 overlap by exactly 1/3; 2 and 3 are the same box
    assert nms(boxes, scores, 1 / 3).tolist() == [0, 1, 2]
    assert nms(boxes, scores, 0.3).tolist() == [0, 2]
    assert nms(boxes, scores, 1.0).tolist() == [0, 1, 2, 3]
    assert nms(boxes[[2, 0, 1]], np.array([0.1, 0.5, 0.2]), 0.5).tolist() == [1, 2, 0]
