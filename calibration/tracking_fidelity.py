"""How much a cheaper pipeline run (detection skipping, lower precision) departs from a reference run
of the same video, frame by frame, without ground truth."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgepose.runtimes.boxes import greedy_match, iou_matrix
from edgepose.runtimes.pipeline import FrameResult


@dataclass(frozen=True)
class RunComparison:
    keypoint_distance_pct: float  # mean distance of keypoints confident in both runs, % of reference box height
    matched: int                  # person-frames matched (greedy, box IoU ≥ 0.5)
    id_switches: int              # times a reference person matched a different id than at its last match
    frames: int


def compare_runs(test: list[FrameResult], reference: list[FrameResult], kpt_threshold: float = 0.3) -> RunComparison:
    """Match persons per frame between two runs of one video and measure keypoint distance and id switches."""
    distances, matched, switches, last_id = [], 0, 0, {}
    for t, r in zip(test, reference):
        if not t.persons or not r.persons:
            continue
        iou = iou_matrix(np.stack([p.box for p in r.persons]), np.stack([p.box for p in t.persons]))
        for ri, ti in greedy_match(iou, 0.5):
            rp, tp = r.persons[ri], t.persons[ti]
            both = (rp.scores >= kpt_threshold) & (tp.scores >= kpt_threshold)
            if both.any():
                height = max(float(rp.box[3] - rp.box[1]), 1.0)
                distances.append(np.linalg.norm(rp.keypoints[both] - tp.keypoints[both], axis=1).mean() / height)
            matched += 1
            if rp.id in last_id and last_id[rp.id] != tp.id:
                switches += 1
            last_id[rp.id] = tp.id
    dist = 100 * float(np.mean(distances)) if distances else float("nan")
    return RunComparison(dist, matched, switches, min(len(test), len(reference)))
