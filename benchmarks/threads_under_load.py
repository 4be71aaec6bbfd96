"""`edgepose run` with the default threads against `--threads 1` while other processes keep CPUs busy: the check
behind docs/run.md's "the default cannot collapse on a busy machine".

    python benchmarks/threads_under_load.py --pose POSE_DIR --det DET_DIR --source VIDEO [--busy 2]
        [--frames 300] [--det-interval 5] [--repeats 2] [--also N ...]

Starts `--busy` processes that spin on one CPU each, waits for the load average to show them (the default
thread count reads it), then runs the CLI alternately with the default threads and with `--threads 1` on the
first `--frames` frames (cut into a temporary clip) and prints one row per setting: median wall time and FPS
over `--repeats` runs, and the ratio to `--threads 1`; `--also N` adds rows for explicit `--threads N` (e.g. the
physical core count, the default before it read the load). A measurement, not a test.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2


def _spin() -> None:
    while True:
        pass


def _clip(source: str, frames: int, folder: Path) -> Path:
    cap = cv2.VideoCapture(source)
    ok, frame = cap.read()
    if not ok:
        sys.exit(f"{source}: not a readable video")
    out = folder / "clip.avi"
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), cap.get(cv2.CAP_PROP_FPS) or 25,
                             frame.shape[1::-1])
    for _ in range(frames):
        writer.write(frame)
        ok, frame = cap.read()
        if not ok:
            break
    writer.release()
    return out


def _run(args: argparse.Namespace, clip: Path, threads: list[str]) -> float:
    command = [sys.executable, "-m", "edgepose", "run", "--pose", args.pose, "--det", args.det, "--source",
               str(clip), "--det-interval", str(args.det_interval), "--no-progress", *threads]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(done.stderr)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pose", required=True)
    parser.add_argument("--det", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--busy", type=int, default=2, help="busy processes beside the run (default 2)")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--det-interval", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--also", type=int, nargs="*", default=[], metavar="N", help="also run --threads N")
    args = parser.parse_args()
    workers = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for worker in workers:
        worker.start()
    try:
        while os.getloadavg()[0] < args.busy - 0.5:   # the default thread count reads the 1-minute load
            time.sleep(5)
        with tempfile.TemporaryDirectory() as folder:
            clip = _clip(args.source, args.frames, Path(folder))
            settings = {"default threads": [], "--threads 1": ["--threads", "1"],
                        **{f"--threads {n}": ["--threads", str(n)] for n in args.also}}
            times: dict[str, list[float]] = {name: [] for name in settings}
            for _ in range(args.repeats):
                for name, flags in settings.items():
                    times[name].append(_run(args, clip, flags))
    finally:
        for worker in workers:
            worker.terminate()
    one = statistics.median(times["--threads 1"])
    print(f"{os.cpu_count()} CPUs, {args.busy} busy processes, load {os.getloadavg()[0]:.2f}; {args.frames} frames, "
          f"--det-interval {args.det_interval}; {Path(args.pose).name} + {Path(args.det).name}")
    print("| threads | wall s (median) | FPS | vs --threads 1 |\n|---|---|---|---|")
    for name, values in times.items():
        wall = statistics.median(values)
        print(f"| {name} | {wall:.1f} | {args.frames / wall:.1f} | {wall / one:.2f}x |")


if __name__ == "__main__":
    main()
