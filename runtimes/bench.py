"""`edgepose bench`: what a user runs on their Pi, Jetson or laptop to see what the artifacts do there.

Per artifact and thread count: median / p90 latency of one network call on one input, and for pose models
on a batch of crops (per call and per crop); with a video, the whole pipeline (detector + tracker + pose)
per thread count: FPS and ms per frame for each stage. Everything runs through the runtime that runs the
artifact in an app, with the backend options the app would use, and says which machine it ran on.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .backends import BackendOptions, open_backend
from .board import Board, describe
from .card import CARD_NAME, load_card
from .errors import ConfigError
from .sources import FrameSource
from .tasks import Detection, TopDownPose, task_of
from .timing import time_calls


@dataclass(frozen=True)
class Latency:
    artifact: str
    task: str
    format: str
    precision: str
    size_mb: float
    threads: int
    device: str            # what ran the model, as the backend reports it
    batch: int
    median_ms: float       # per call (the batch at once)
    p90_ms: float

    @property
    def per_item_ms(self) -> float:
        return self.median_ms / self.batch


@dataclass(frozen=True)
class PipelineRun:
    pose: str
    detector: str
    source: str
    threads: int
    prefetch: bool         # detector on the next frame in a second thread (Pipeline.stream)
    frames: int
    detector_share: float  # frames the detector ran on / frames
    fps: float
    stage_ms: dict[str, float]


@dataclass
class BenchReport:
    board: Board
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M"))
    latency: list[Latency] = field(default_factory=list)
    pipeline: list[PipelineRun] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"board": self.board.as_dict(), "date": self.date, "latency": [asdict(r) for r in self.latency],
                "pipeline": [asdict(r) for r in self.pipeline]}

    def save_json(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_text(json.dumps(self.as_dict(), indent=1))
        tmp.replace(path)


def find_artifacts(paths: list[Path]) -> list[Path]:
    """Artifact directories among `paths`: each path is one, or a folder of them."""
    found = []
    for path in map(Path, paths):
        if (path / CARD_NAME).is_file():
            found.append(path)
            continue
        inside = sorted(p.parent for p in path.glob(f"*/{CARD_NAME}")) if path.is_dir() else []
        if not inside:
            raise ConfigError(f"{path} is not an artifact folder (no {CARD_NAME}) and holds none")
        found += inside
    return found


def bench_latency(directory: Path, threads: int, runs: int, batch: int = 1, device: str = "cpu") -> Latency:
    """Latency of one backend call on seeded noise shaped like the card's input (`batch` items)."""
    card = load_card(directory)
    backend = open_backend(card, directory, BackendOptions(threads=threads, device=device))
    shape = [batch if i == 0 else d for i, d in enumerate(card.input.shape)]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    times = time_calls(lambda: backend.run(x), runs)
    size = sum(f.stat().st_size for f in directory.iterdir() if f.is_file()) / 1e6
    return Latency(directory.name, card.task, card.format, card.precision, round(size, 2), backend.threads,
                   backend.device, batch,
                   round(float(np.median(times)), 3), round(float(np.percentile(times, 90)), 3))


def bench_pipeline(pose_dir: Path, det_dir: Path, source: str, threads: int, frames: int,
                   det_interval: int = 5, device: str = "cpu", prefetch: bool = False) -> PipelineRun:
    """The top-down pipeline on the first `frames` frames of a video, sequential or with the detector
    prefetching the next frame in a second thread."""
    from .detector import Detector
    from .pipeline import Pipeline
    from .pose import PoseModel
    from .sources import FrameSource
    from .tracker import TrackerConfig

    options = BackendOptions(threads=threads, device=device)
    pipeline = Pipeline(PoseModel(pose_dir, options), Detector(det_dir, options),
                        config=TrackerConfig(det_interval=det_interval))
    pipeline(np.zeros((64, 64, 3), np.uint8))  # load / warm up outside the timed part
    pipeline.reset()
    pipeline.times.seconds.clear()
    pipeline.times.frames = 0
    done = detected = 0
    start = time.perf_counter()
    for _, result in pipeline.stream(FrameSource(source), prefetch, frame_of=lambda item: item[1]):
        detected += result.detector_ran
        done += 1
        if done >= frames:
            break
    seconds = time.perf_counter() - start
    if done == 0:
        raise ConfigError(f"--source {source} gave no frames")
    stages = {k: round(v, 3) for k, v in pipeline.times.per_frame_ms().items()}
    return PipelineRun(pose_dir.name, det_dir.name, Path(source).name, pipeline.pose.backend.threads, prefetch, done,
                       round(detected / done, 3), round(done / seconds, 2), stages)


@dataclass(frozen=True)
class BenchOptions:
    """What `edgepose bench` measures (the CLI's defaults come from here)."""
    threads: tuple[int, ...] = (1, 2)   # thread counts, one row each
    runs: int = 50                      # timed calls per measurement
    batch: int = 4                      # crops per call for the batch row of batched tasks (1: no batch row)
    source: str | None = None           # a video or image folder: also run the whole pipeline on it
    frames: int = 200                   # pipeline frames
    device: str = "cpu"                 # accelerator, as for `edgepose run`


def run_bench(paths: list[Path], options: BenchOptions = BenchOptions(), progress=None) -> BenchReport:
    """Everything `edgepose bench` measures; `progress(text)` is called before each measurement."""
    threads, runs, batch, source = options.threads, options.runs, options.batch, options.source
    frames, device = options.frames, options.device
    artifacts = find_artifacts(paths)
    report = BenchReport(describe())
    cards = {a: load_card(a) for a in artifacts}
    if source is not None:   # checked before any measurement
        poses = [a for a in artifacts if isinstance(task_of(cards[a]), TopDownPose)]
        detectors = [a for a in artifacts if isinstance(task_of(cards[a]), Detection)]
        if not poses or not detectors:
            raise ConfigError("--source needs a pose artifact and a detector artifact among the ARTIFACTs")
        FrameSource(source).close()
    for directory in artifacts:
        batches = [1] + ([batch] if task_of(cards[directory]).batched and batch > 1 else [])
        for t in threads:
            for b in batches:
                if progress:
                    progress(f"{directory.name}: {t} thread(s), batch {b}")
                report.latency.append(bench_latency(directory, t, runs, b, device))
    if source is not None:
        for t in threads:
            for prefetch in (False, True):
                if progress:
                    progress(f"pipeline {poses[0].name} + {detectors[0].name}: {t} thread(s)"
                             + (", detector prefetch" if prefetch else ""))
                report.pipeline.append(bench_pipeline(poses[0], detectors[0], source, t, frames, device=device,
                                                      prefetch=prefetch))
    return report


def format_report(report: BenchReport) -> str:
    """Markdown tables: latency per artifact / threads / batch, then pipeline runs."""
    lines = [f"{report.board.summary()}; {report.date}", "",
             "| artifact | format | precision | size (MB) | device | threads | batch | median ms | p90 ms "
             "| ms / item |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report.latency:
        lines.append(f"| {r.artifact} | {r.format} | {r.precision} | {r.size_mb:.1f} | {r.device} | {r.threads} | "
                     f"{r.batch} | "
                     f"{r.median_ms:.2f} | {r.p90_ms:.2f} | {r.per_item_ms:.2f} |")
    if report.pipeline:
        lines += ["", "| pipeline (pose + detector) | source | threads | detector | frames | detector frames | FPS | "
                      "pre / det / pose / post / track (ms/frame) |", "|---|---|---|---|---|---|---|---|"]
        for p in report.pipeline:
            stages = " / ".join(f"{p.stage_ms.get(k, 0.0):.2f}" for k in ("pre", "det", "pose", "post", "track"))
            mode = "prefetch (2nd thread)" if p.prefetch else "in line"
            lines.append(f"| {p.pose} + {p.detector} | {p.source} | {p.threads} | {mode} | {p.frames} | "
                         f"{100 * p.detector_share:.0f}% | {p.fps:.1f} | {stages} |")
    return "\n".join(lines)


def plot_report(report: BenchReport, path: Path) -> None:
    """A bar chart of median latency per artifact and thread count (batch 1); needs matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError('--plot needs matplotlib: pip install "edgepose[plot]"') from None
    rows = [r for r in report.latency if r.batch == 1]
    names = list(dict.fromkeys(r.artifact for r in rows))
    threads = sorted({r.threads for r in rows})
    width = 0.8 / max(len(threads), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(names) + 2), 4))
    for i, t in enumerate(threads):
        values = [next((r.median_ms for r in rows if r.artifact == n and r.threads == t), 0.0) for n in names]
        ax.bar(np.arange(len(names)) + i * width, values, width, label=f"{t} thread(s)")
    ax.set_xticks(np.arange(len(names)) + width * (len(threads) - 1) / 2, names, rotation=30, ha="right")
    ax.set_ylabel("median ms per call (batch 1)")
    ax.set_title(report.board.summary(), fontsize=8)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.part{path.suffix}")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
