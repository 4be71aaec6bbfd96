"""Top-down pipeline: detector (every few frames) + tracker + pose model. `Pipeline(...)(frame) -> FrameResult`."""
from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .detector import Detections, Detector
from .errors import ConfigError
from .pose import PoseModel
from .preprocess import check_boxes, check_image, malformed_boxes
from .timing import StageTimes
from .tracker import Person, Tracker, TrackerConfig, smoothing_filters


@dataclass(frozen=True)
class FrameResult:
    index: int                       # frame number, from 0
    detector_ran: bool               # whether the person detector ran on this frame
    persons: list[Person]            # tracked persons (id None with fixed boxes)


DET_SCORE = 0.5   # least detector score kept as a person (`edgepose run --det-score`)


class Pipeline:
    """Persons in each frame of a video or image stream.

    With a detector, people are tracked (persistent ids) and the detector runs every
    `config.det_interval` frames, or at once when a track is lost; with `boxes` instead, those fixed boxes
    are posed on every frame. `times` accumulates the per-stage wall time.
    """

    def __init__(self, pose: PoseModel, detector: Detector | None = None, boxes: np.ndarray | None = None,
                 config: TrackerConfig | None = None, det_score: float = DET_SCORE) -> None:
        if (detector is None) == (boxes is None):
            raise ConfigError("a pipeline needs exactly one of a detector or fixed boxes")
        if not 0 <= det_score <= 1:
            raise ConfigError(f"det_score={det_score} must be in [0, 1]")
        self.pose = pose
        self.detector = detector
        self.boxes = None if boxes is None else check_boxes(boxes)
        if self.boxes is not None and (problem := malformed_boxes(self.boxes)):
            raise ConfigError(f"fixed boxes: {problem}")
        self.det_score = det_score
        self.tracker = Tracker(config or TrackerConfig(), pose.card.sigmas or [0.05] * pose.num_keypoints)
        self._filters: dict[int, tuple] = {}   # fixed boxes: smoothing per box
        self.times = StageTimes()

    def __call__(self, frame: np.ndarray) -> FrameResult:
        return self._step(check_image(frame))

    def stream(self, items: Iterable[Any], prefetch: bool = False,
               frame_of: Callable[[Any], np.ndarray] = lambda item: item) -> Iterator[tuple[Any, FrameResult]]:
        """(item, result) for each item of a video-like sequence (`frame_of(item)` is its BGR frame).

        With `prefetch`, the detector runs on the next frame in a worker thread while the pose model runs on
        the current one, for the frames the tracker's schedule will send to the detector (every
        `det_interval`). Detection depends on the frame alone, so a prefetched result is exactly what the
        sequential pipeline computes: results are identical, only sooner on a multi-core CPU. Unscheduled
        re-detections (a track lost) still run in line."""
        if not prefetch or self.detector is None:
            for item in items:
                yield item, self(frame_of(item))
            return
        iterator = iter(items)
        upcoming = next(iterator, None)
        pending: Future | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="edgepose-detector") as worker:
            try:
                while upcoming is not None:
                    item, frame = upcoming, check_image(frame_of(upcoming))
                    ready, pending = pending, None
                    upcoming = next(iterator, None)
                    if upcoming is not None and self._scheduled(self.tracker.frame_index + 2):
                        pending = worker.submit(self._detect, check_image(frame_of(upcoming)))
                    yield item, self._step(frame, ready)
            finally:
                if pending is not None:
                    pending.cancel()

    def _scheduled(self, frame_index: int) -> bool:
        return frame_index % self.tracker.config.det_interval == 0

    def _detect(self, frame: np.ndarray) -> tuple[Detections, dict[str, float]]:
        """Persons above `det_score`, and the seconds spent per stage (kept apart: this may run in a worker)."""
        seconds = {}
        start = time.perf_counter()
        inputs, scale = self.detector.preprocess(frame)
        seconds["pre"] = time.perf_counter() - start
        raw = self.detector.infer(inputs)
        seconds["det"] = time.perf_counter() - start - seconds["pre"]
        dets = self.detector.decode(raw, scale, frame.shape)
        seconds["post"] = time.perf_counter() - start - seconds["pre"] - seconds["det"]
        return dets[dets.scores >= self.det_score], seconds

    def _step(self, frame: np.ndarray, prefetched: Future | None = None) -> FrameResult:
        self.times.frames += 1
        if self.detector is None:
            self.tracker.frame_index += 1  # the stream's one frame counter, with or without tracking
            poses = self.pose(frame, self.boxes, self.times)
            persons = [self._fixed_person(i, b, k, s)
                       for i, b, k, s in zip(poses.indices, poses.boxes, poses.keypoints, poses.scores)]
            return FrameResult(self.tracker.frame_index, False, persons)
        inner = 0.0  # seconds inside detect/pose: the rest of the call is the tracker's

        def detect() -> np.ndarray:
            nonlocal inner
            start = time.perf_counter()  # wall time here (a prefetched result may be ready already)
            dets, seconds = prefetched.result() if prefetched is not None else self._detect(frame)
            for stage, value in seconds.items():
                self.times.seconds[stage] += value
            inner += time.perf_counter() - start
            return dets.boxes

        def pose(boxes: np.ndarray):
            nonlocal inner
            start = time.perf_counter()
            poses = self.pose(frame, boxes, self.times)
            inner += time.perf_counter() - start
            return poses

        start = time.perf_counter()
        result = self.tracker.track(detect, pose)
        self.times.seconds["track"] += time.perf_counter() - start - inner
        return FrameResult(result.frame_index, result.detector_ran, list(result.persons))

    def _fixed_person(self, index: int, box: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> Person:
        """The person of fixed box `index`, smoothed over frames when the config asks for it."""
        if self.tracker.config.smooth:
            filters = self._filters.setdefault(int(index), smoothing_filters(self.tracker.config))
            keypoints, box = filters[0](keypoints), filters[1](box)
        return Person(None, box, keypoints, scores)

    def reset(self) -> None:
        """Start a new stream: forget tracks, ids, smoothing and the frame counter (timings keep accumulating)."""
        self.tracker.reset()
        self._filters.clear()
