"""Latency of converted artifacts through edgepose.runtimes (onnxruntime, LiteRT, ncnn), threads 1 and 2,
and their size on disk.

    python benchmarks/latency.py ARTIFACT_DIR_OR_FOLDER [...] [--runs 50] [--threads 1 2]

Prints a Markdown table (median and p90 ms per single-crop call); it is a measurement, not a test.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from edgepose.runtimes.backends import BackendOptions, open_backend
from edgepose.runtimes.card import CARD_NAME, load_card


def artifacts(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        found += [path] if (path / CARD_NAME).is_file() else sorted(p.parent for p in path.glob(f"*/{CARD_NAME}"))
    return found


def measure(directory: Path, threads: int, runs: int) -> tuple[float, float]:
    card = load_card(directory)
    backend = open_backend(card, directory, BackendOptions(threads=threads))
    shape = [1 if d < 0 else d for d in card.input.shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for _ in range(5):
        backend.run(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        backend.run(x)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="artifact directories or folders of them")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per configuration (default 50)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    args = parser.parse_args()
    print(f"{platform.machine()}, {time.strftime('%Y-%m-%d')}, batch 1, {args.runs} runs\n")
    print("| artifact | size (MB) | " + " | ".join(f"{t} thr median / p90 (ms)" for t in args.threads) + " |")
    print("|---|---|" + "---|" * len(args.threads))
    found = artifacts(args.paths)
    names = [d.name for d in found]
    for directory in found:
        label = directory.name if names.count(directory.name) == 1 else f"{directory.parent.name}/{directory.name}"
        cells = [f"{m:.2f} / {p:.2f}" for m, p in (measure(directory, t, args.runs) for t in args.threads)]
        size = sum(f.stat().st_size for f in directory.iterdir()) / 1e6
        print(f"| {label} | {size:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
