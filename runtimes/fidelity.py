"""How far a quantized artifact is from its fp32 artifact, measured through the runtime on real
images (the held-out split for the report, calibration images for the mixed-precision search).

Pose: keypoint displacement in input pixels and in % of box height (mean, p95), OKS between the two
predictions, correlation of keypoint scores. Detection: persons at score ≥ 0.5 matched at IoU ≥ 0.5 — mean
matched IoU, mean score drop, missed and extra persons, box-corner displacement in input pixels.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .boxes import greedy_match, iou_matrix
from .detector import Detector
from .pose import PoseModel
from .preprocess import box_to_center_scale
from .tracker import oks

PERSON_SCORE = 0.5
MATCH_IOU = 0.5


def pose_fidelity(ref: PoseModel, test: PoseModel, samples: Iterable) -> dict[str, Any]:
    """`samples`: tasks.Sample with person boxes."""
    samples = list(samples)
    shifts_px, shifts_pct, similarities, ref_scores, test_scores = [], [], [], [], []
    sigmas = np.asarray(ref.card.sigmas, np.float32)
    for sample in samples:
        box = sample.box[None]
        a, b = ref(sample.image, box), test(sample.image, box)
        if len(a.keypoints) == 0:
            continue
        _, scale = box_to_center_scale(sample.box, ref.input_wh, ref.card.bbox_padding)
        to_input = ref.input_wh[1] / float(scale[1])       # input pixels per image pixel
        shift = np.linalg.norm(a.keypoints[0] - b.keypoints[0], axis=-1)
        box_h = float(sample.box[3] - sample.box[1])
        shifts_px.append(shift * to_input)
        shifts_pct.append(100 * shift / box_h)
        area = float((sample.box[2] - sample.box[0]) * box_h)
        similarities.append(oks(a.keypoints[0], b.keypoints[0], sigmas, area, np.ones(len(sigmas), bool)))
        ref_scores.append(a.scores[0])
        test_scores.append(b.scores[0])
    if not shifts_px:
        return {"crops": 0}
    px, pct = np.concatenate(shifts_px), np.concatenate(shifts_pct)
    rs, ts = np.concatenate(ref_scores), np.concatenate(test_scores)
    corr = float(np.corrcoef(rs, ts)[0, 1]) if rs.std() > 0 and ts.std() > 0 else float(np.allclose(rs, ts))
    return {"crops": len(shifts_px), "keypoint_px_mean": float(px.mean()), "keypoint_px_p95": float(np.percentile(px, 95)),
            "keypoint_pct_box_mean": float(pct.mean()), "keypoint_pct_box_p95": float(np.percentile(pct, 95)),
            "oks_mean": float(np.mean(similarities)), "oks_min": float(np.min(similarities)), "score_correlation": corr}


def detection_fidelity(ref: Detector, test: Detector, samples: Iterable) -> dict[str, Any]:
    """`samples`: tasks.Sample of whole images."""
    samples = list(samples)
    ious, drops, corners = [], [], []
    persons = missed = lost = extra = 0
    for sample in samples:
        a, b = ref(sample.image), test(sample.image)
        keep_a, keep_b = a.scores >= PERSON_SCORE, b.scores >= PERSON_SCORE
        boxes_a = a.boxes[keep_a]
        persons += len(boxes_a)
        # match fp32 persons against every test box (a person whose score fell below 0.5 is still found)
        pairs = greedy_match(iou_matrix(boxes_a, b.boxes), MATCH_IOU) if len(boxes_a) and len(b.boxes) else []
        matched_b = {j for _, j in pairs}
        to_input = min(ref.card.input.height / sample.image.shape[0], ref.card.input.width / sample.image.shape[1])
        for i, j in pairs:
            ious.append(float(iou_matrix(boxes_a[i:i + 1], b.boxes[j:j + 1])[0, 0]))
            drops.append(float(a.scores[keep_a][i] - b.scores[j]))
            corners.append(float(np.abs(boxes_a[i] - b.boxes[j]).max()) * to_input)
            missed += int(b.scores[j] < PERSON_SCORE)
        lost += len(boxes_a) - len(pairs)
        missed += len(boxes_a) - len(pairs)
        extra += int(sum(1 for j in np.flatnonzero(keep_b) if j not in matched_b
                         and not (len(boxes_a) and iou_matrix(b.boxes[j:j + 1], boxes_a).max() >= MATCH_IOU)))
    return {"images": len(samples), "persons": persons,
            "missed": missed, "lost": lost, "extra": extra,
            "matched_iou_mean": float(np.mean(ious)) if ious else 0.0,
            "matched_iou_median": float(np.median(ious)) if ious else 0.0,
            "matched_iou_min": float(np.min(ious)) if ious else 0.0,
            "score_drop_mean": float(np.mean(drops)) if drops else 0.0,
            "score_drop_max": float(np.max(drops)) if drops else 0.0,
            "box_corner_px_p95": float(np.percentile(corners, 95)) if corners else 0.0}


def pose_error_px(report: dict[str, Any]) -> float:
    """The pose budget's measure: p95 keypoint displacement in input pixels (inf when no crop was measured)."""
    return report.get("keypoint_px_p95", float("inf"))


def detection_error_px(report: dict[str, Any]) -> float:
    """The detector budget's measure: p95 box-corner displacement in input pixels. A person with no box left at
    all (`lost`) or a mean score drop above 0.05 counts as infinite; a score crossing 0.5 by a hair (`missed` but
    not `lost`) does not, or the search would chase noise around the threshold."""
    if report["lost"] or report["score_drop_mean"] > 0.05:
        return float("inf")
    return report["box_corner_px_p95"]
