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
from edgepose.runtimes.backends import BackendOptions
from edgepose.runtimes.detector import Detector
from edgepose.runtimes.pipeline import FrameResult, Pipeline
from edgepose.runtimes.pose import PoseModel
from edgepose.calibration.tracking_fidelity import compare_runs
from edgepose.runtimes.tracker import TrackerConfig

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
            c = compare_runs(results, reference, kpt)
            s = info["stages"]
            total = sum(s.values())
            outside = (s["pre"] + s["post"] + s["track"]) / total if total else 0.0
            share = sum(r.detector_ran for r in results) / len(results)
            print(f"| {interval} | {threads} | {100 * share:.1f}% | {c.keypoint_distance_pct:.2f} | {c.matched} | "
                  f"{100 * c.id_switches / len(results):.2f} | {len(results) / info['seconds']:.1f} | "
                  + " | ".join(f"{s[k]:.2f}" for k in ("pre", "det", "pose", "post", "track"))
                  + f" | {100 * outside:.1f}% |")


if __name__ == "__main__":
    main()
