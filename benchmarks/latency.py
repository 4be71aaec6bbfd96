"""Latency of converted artifacts through edgepose.runtimes (onnxruntime, LiteRT, ncnn), per thread count,
and their size on disk: a thin call of `edgepose bench` (runtimes/bench.py), kept for the commands in docs/.

    python benchmarks/latency.py ARTIFACT_DIR_OR_FOLDER [...] [--runs 50] [--threads 1 2]

Prints a Markdown table (median and p90 ms per single-crop call); it is a measurement, not a test.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from edgepose.runtimes.bench import BenchOptions, format_report, run_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="artifact directories or folders of them")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per configuration (default 50)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    args = parser.parse_args()
    print(format_report(run_bench(args.paths, BenchOptions(threads=tuple(args.threads), runs=args.runs, batch=1))))


if __name__ == "__main__":
    main()
