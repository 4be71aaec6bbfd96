"""Detection skipping on a real multi-person video: detector share, fidelity vs detecting every frame,
id switches, per-stage time, FPS and the share of frame time spent outside backend calls.

    python benchmarks/pipeline_vtest.py --pose POSE_DIR --det DET_DIR [--video vtest.avi]
        [--intervals 1 5 10] [--threads 1 2]

Interval 1 (detector on every frame) is the reference. For every frame, persons of the interval-k run are
matched to the reference persons (greedy, box IoU ≥ 0.5); the table gives the mean keypoint distance
over keypoints confident in both runs, in % of the reference box height. An id switch is a reference
person matched to a different id than at its previous match.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from edgepose.runtimes.backends import BackendOptions
from edgepose.runtimes.detector import Detector
from edgepose.runtimes.pipeline import FrameResult, Pipeline
from edgepose.runtimes.pose import PoseModel
from edgepose.runtimes.tracker import TrackerConfig, greedy_match, iou_matrix

DEFAULT_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "opencv-doc-debian" / "vtest.avi"


def run(pose_dir: Path, det_dir: Path, video: Path, interval: int, threads: int) -> tuple[list[FrameResult], dict]:
    options = BackendOptions(threads=threads)
    pipeline = Pipeline(PoseModel(pose_dir, options), Detector(det_dir, options),
                        config=TrackerConfig(det_interval=interval))
    cap = cv2.VideoCapture(str(video))
    results, start = [], time.perf_counter()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        results.append(pipeline(frame))
    seconds = time.perf_counter() - start
    cap.release()
    stages = pipeline.times.per_frame_ms()
    return results, {"seconds": seconds, "stages": stages}


def compare(test: list[FrameResult], ref: list[FrameResult], kpt_threshold: float) -> tuple[float, int, int]:
    """Mean keypoint distance in % of box height over matched persons, matched count, id switches."""
    distances, matched, switches, last_id = [], 0, 0, {}
    for t, r in zip(test, ref):
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
    return 100 * float(np.mean(distances)) if distances else float("nan"), matched, switches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pose", type=Path, required=True, help="pose artifact directory")
    parser.add_argument("--det", type=Path, required=True, help="detector artifact directory")
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="video (default: shared vtest.avi)")
    parser.add_argument("--intervals", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    kpt = TrackerConfig().kpt_threshold
    print(f"{args.video.name}, pose {args.pose.name}, det {args.det.name}, {time.strftime('%Y-%m-%d')}\n")
    print("| det interval | threads | detector frames | kpt dist vs interval 1 (% box h) | matched | id switches "
          "/100 frames | FPS | pre | det | pose | post | track (ms/frame) | outside backend |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for threads in args.threads:
        reference, reference_info = run(args.pose, args.det, args.video, 1, threads)
        for interval in args.intervals:
            if interval == 1:
                results, info = reference, reference_info
            else:
                results, info = run(args.pose, args.det, args.video, interval, threads)
            dist, matched, switches = compare(results, reference, kpt)
            s = info["stages"]
            total = sum(s.values())
            outside = (s["pre"] + s["post"] + s["track"]) / total if total else 0.0
            share = sum(r.detector_ran for r in results) / len(results)
            print(f"| {interval} | {threads} | {100 * share:.1f}% | {dist:.2f} | {matched} | "
                  f"{100 * switches / len(results):.2f} | {len(results) / info['seconds']:.1f} | "
                  + " | ".join(f"{s[k]:.2f}" for k in ("pre", "det", "pose", "post", "track"))
                  + f" | {100 * outside:.1f}% |")


if __name__ == "__main__":
    main()
