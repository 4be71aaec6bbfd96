"""Latency of converted ONNX artifacts in onnxruntime (CPU), threads 1 and 2, and their size on disk.

    python benchmarks/onnx_latency.py ARTIFACT_DIR [ARTIFACT_DIR ...] [--runs 50]

Each ARTIFACT_DIR is a directory written by `edgepose convert` (or a folder holding several). Prints a
Markdown table; it is a measurement, not a test.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgepose.runtimes.card import CARD_NAME, load_card


def artifacts(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        found += [path] if (path / CARD_NAME).is_file() else sorted(p.parent for p in path.glob(f"*/{CARD_NAME}"))
    return found


def measure(model_path: Path, shape: list[int], threads: int, runs: int) -> tuple[float, float]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal([1 if d < 0 else d for d in shape]).astype(np.float32)
    for _ in range(5):
        session.run(None, {name: x})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, {name: x})
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="artifact directories or folders of them")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per configuration (default 50)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    args = parser.parse_args()
    print(f"onnxruntime {ort.__version__}, {platform.processor() or platform.machine()}, "
          f"{time.strftime('%Y-%m-%d')}, batch 1, {args.runs} runs\n")
    print("| artifact | input | size (MB) | " + " | ".join(f"{t} thr median / p90 (ms)" for t in args.threads) + " |")
    print("|---|---|---|" + "---|" * len(args.threads))
    for directory in artifacts(args.paths):
        card = load_card(directory)
        model = directory / card.files["model"]
        cells = [f"{m:.2f} / {p:.2f}" for m, p in (measure(model, card.input.shape, t, args.runs) for t in args.threads)]
        size = sum(f.stat().st_size for f in directory.iterdir()) / 1e6
        shape = "x".join(str(d) for d in card.input.shape[1:])
        print(f"| {directory.name} | {shape} | {size:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
