"""Per-stage wall-clock accounting for pipelines (pre, det, pose, post, track)."""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

STAGES = ("pre", "det", "pose", "post", "track")


@dataclass
class StageTimes:
    """Accumulated seconds per stage and the number of frames they cover."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    frames: int = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def per_frame_ms(self) -> dict[str, float]:
        return {name: 1e3 * self.seconds.get(name, 0.0) / max(self.frames, 1) for name in STAGES}


@contextmanager
def maybe(times: StageTimes | None, name: str) -> Iterator[None]:
    """`times.stage(name)` when timing is on, else nothing."""
    if times is None:
        yield
    else:
        with times.stage(name):
            yield


def time_calls(fn: Callable[[], object], runs: int, warmup: int = 3) -> np.ndarray:
    """Wall-clock milliseconds of `runs` calls of `fn`, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        fn()
        times[i] = (time.perf_counter() - start) * 1e3
    return times
