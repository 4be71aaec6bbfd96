"""Pose tracker for top-down pipelines that run the person detector only every few frames.

Between detections each person's next crop box comes from their own confident keypoints (expanded), so
the pose model follows them; the detector runs again at the interval, or at once when a track loses its
pose or the number of confident poses drops.

Association is greedy on IoU (best pair first, then the next among the unmatched). With the handful of
people a top-down pipeline can afford per frame, greedy and Hungarian matching agree unless boxes overlap
almost equally with two candidates; greedy needs no scipy and is easy to reason about.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from enum import Enum

import numpy as np

from .boxes import greedy_match, iou_matrix
from .errors import ConfigError
from .smoothing import OneEuroFilter


@dataclass(frozen=True)
class TrackerConfig:
    det_interval: int = 5           # frames between detector runs; 1 = detect every frame (no skipping)
    kpt_threshold: float = 0.3      # keypoint score that counts as confident; raise for fewer, surer keypoints
    min_keypoints: int = 4          # confident keypoints a pose needs to be followed between detector runs
    box_expand: float = 1.2         # keypoint box → next crop box scale about its centre; raise for fast motion
    match_iou: float = 0.3          # least IoU between a detection and a track's box to continue that track
    max_missed: int = 10            # frames a track survives unseen before it is dropped; raise for occlusions
    duplicate_oks: float = 0.75     # OKS above which two poses are one person (the younger track is dropped)
    smooth: bool = False            # One-Euro smoothing of output keypoints and boxes
    smooth_min_cutoff: float = 1.0  # One-Euro min cutoff (Hz): lower = steadier but laggier when still
    smooth_beta: float = 0.05       # One-Euro speed coefficient: higher = less lag in fast motion
    fps: float = 30.0               # frame rate the smoothing assumes (Hz)

    def __post_init__(self) -> None:
        checks = [("det_interval", self.det_interval >= 1, "≥ 1"),
                  ("kpt_threshold", np.isfinite(self.kpt_threshold), "a finite number"),
                  ("min_keypoints", self.min_keypoints >= 1, "≥ 1"),
                  ("box_expand", self.box_expand > 0, "> 0"),
                  ("match_iou", 0 < self.match_iou <= 1, "in (0, 1]"),
                  ("max_missed", self.max_missed >= 0, "≥ 0"),
                  ("duplicate_oks", 0 < self.duplicate_oks <= 1, "in (0, 1]"),
                  ("smooth_min_cutoff", self.smooth_min_cutoff > 0, "> 0"),
                  ("smooth_beta", self.smooth_beta >= 0, "≥ 0"),
                  ("fps", self.fps > 0, "> 0")]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"tracker {name}={getattr(self, name)!r} is invalid; it must be {allowed}")


class TrackState(Enum):
    ACTIVE = "active"   # seen in the last frame; followed by its keypoints
    MISSING = "missing"  # not seen; waits for the detector to find it again, up to max_missed frames


@dataclass
class Track:
    id: int
    box: np.ndarray                 # (4,) next crop box, xyxy image pixels
    keypoints: np.ndarray           # (K, 2) last pose, image pixels (unsmoothed)
    scores: np.ndarray              # (K,)
    anchor: np.ndarray | None = None  # (4,) last detector box of this person, xyxy
    anchor_shift: np.ndarray | None = None  # (2,) keypoint centroid when `anchor` was taken
    state: TrackState = TrackState.ACTIVE
    missed: int = 0                 # consecutive frames without a pose
    filters: tuple[OneEuroFilter, OneEuroFilter] | None = None


@dataclass(frozen=True)
class Person:
    """One person in one frame.

    `box` is the keypoint box the tracker follows, not the detector's box: the box around the confident
    keypoints scaled by `box_expand`, used as the next frame's crop. It hugs the pose, moves between detector
    runs, and is not clipped: it can extend past the image when a person is cut off by the border. For a
    detected person whose pose is not confident (fewer than `min_keypoints`) it is the detector's box. With
    fixed boxes (no tracker) it is the box that was posed."""

    id: int | None                  # persistent track id; None when no tracker is used (fixed boxes)
    box: np.ndarray                 # (4,) float32 xyxy image pixels, the keypoint box (see above; smoothed if on)
    keypoints: np.ndarray           # (K, 2) float32 image pixels (smoothed when smoothing is on)
    scores: np.ndarray              # (K,) float32


def oks(a: np.ndarray, b: np.ndarray, sigmas: np.ndarray, area: float, visible: np.ndarray) -> float:
    """COCO object keypoint similarity between two (K, 2) poses over the `visible` keypoints."""
    if not visible.any() or area <= 0:
        return 0.0
    d2 = ((a - b) ** 2).sum(-1)
    e = d2 / (2 * (2 * sigmas) ** 2 * area + np.finfo(np.float32).eps)
    return float(np.exp(-e)[visible].mean())


def keypoint_box(keypoints: np.ndarray, scores: np.ndarray, threshold: float, expand: float) -> np.ndarray | None:
    """Box around the confident keypoints, scaled by `expand` about its centre; None if fewer than 2."""
    pts = keypoints[scores >= threshold]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(0), pts.max(0)
    center, half = (lo + hi) / 2, (hi - lo) / 2 * expand
    return np.concatenate([center - half, center + half]).astype(np.float32)


@dataclass(frozen=True)
class TrackResult:
    """One frame's outcome of `Tracker.track`."""
    frame_index: int               # from 0, counted by the tracker (the one frame counter of a stream)
    detector_ran: bool
    persons: tuple[Person, ...]    # confident tracked persons


class Tracker:
    """Keeps tracks across frames. `track(detect, pose)` is the one call per frame; the steps it is made of
    (`needs_detection`, `boxes_from_detections` / `boxes_from_tracks`, `update`) stay public for tests and
    ports (the Java core mirrors them decision for decision)."""

    def __init__(self, config: TrackerConfig, sigmas: list[float]) -> None:
        self.config = config
        self.sigmas = np.asarray(sigmas, np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids and the frame counter."""
        self.tracks: list[Track] = []
        self.next_id = 0
        self.frame_index = -1
        self.detect_next = True
        self.last_confident = 0

    def track(self, detect: Callable[[], np.ndarray], pose: Callable[[np.ndarray], Any]) -> TrackResult:
        """One frame: calls `detect()` (→ (N, 4) person boxes) only when the schedule or a lost track asks for
        it, poses the chosen boxes with `pose(boxes)` (→ an object with `keypoints`, `scores` and `indices` of
        the boxes it posed, like `Poses`) and updates the tracks. Track objects never leave the tracker."""
        ran = self.needs_detection()
        boxes, owners = self.boxes_from_detections(detect()) if ran else self.boxes_from_tracks()
        poses = pose(boxes)
        persons = self.update(poses.keypoints, poses.scores, [owners[i] for i in poses.indices],
                              boxes[poses.indices] if ran else None)
        return TrackResult(self.frame_index, ran, tuple(persons))

    def needs_detection(self) -> bool:
        """Call once per frame, first: advances the frame counter and says whether to run the detector."""
        self.frame_index += 1
        due = self.frame_index % self.config.det_interval == 0
        active = [t for t in self.tracks if t.state is TrackState.ACTIVE]
        return due or self.detect_next or not active

    def boxes_from_detections(self, det_boxes: np.ndarray) -> tuple[np.ndarray, list[Track | None]]:
        """Detector frame: each detection continues the best-overlapping track (or starts one)."""
        tracks = list(self.tracks)
        owners: list[Track | None] = [None] * len(det_boxes)
        if tracks and len(det_boxes):
            # a track is compared through the better of its keypoint box and its last detector box moved
            # with its keypoints: detector boxes and keypoint boxes differ in shape, detector boxes do not
            iou = np.maximum(iou_matrix(np.stack([t.box for t in tracks]), det_boxes),
                             iou_matrix(np.stack([self._predicted_anchor(t) for t in tracks]), det_boxes))
            for r, c in greedy_match(iou, self.config.match_iou):
                owners[c] = tracks[r]
        return np.asarray(det_boxes, np.float32).reshape(-1, 4), owners

    def boxes_from_tracks(self) -> tuple[np.ndarray, list[Track | None]]:
        """Skipped-detector frame: every active track is posed in its keypoint-derived box."""
        active = [t for t in self.tracks if t.state is TrackState.ACTIVE]
        boxes = np.stack([t.box for t in active]) if active else np.zeros((0, 4), np.float32)
        return boxes, list(active)

    def update(self, keypoints: np.ndarray, scores: np.ndarray, owners: list[Track | None],
               det_boxes: np.ndarray | None = None) -> list[Person]:
        """Poses (N, K, 2), (N, K) with the owner track of each (None = new person), and on detector frames the
        detector box of each pose → persons of this frame.

        On a detector frame every detected person is reported: a pose with fewer than `min_keypoints`
        confident keypoints keeps (or gets) its id with the detector box, but is not followed by its
        keypoints; it waits for the next detection. Between detections only confident poses are kept."""
        cfg = self.config
        det_boxes_given = det_boxes is not None
        det_boxes = [None] * len(owners) if det_boxes is None else list(det_boxes)
        followed = {t.id for t in self.tracks if t.state is TrackState.ACTIVE}
        seen: set[int] = set()
        fresh, weak = [], []
        for kpts, kscores, track, det_box in zip(keypoints, scores, owners, det_boxes):
            box = keypoint_box(kpts, kscores, cfg.kpt_threshold, cfg.box_expand)
            if box is None or int((kscores >= cfg.kpt_threshold).sum()) < cfg.min_keypoints:
                if det_box is not None:
                    weak.append((track, kpts, kscores, det_box))
                continue  # between detections: an owned track counts as unseen, a new person is ignored
            if track is None:
                fresh.append((box, kpts, kscores, det_box))
                continue
            self._observe(track, box, kpts, kscores, TrackState.ACTIVE, det_box)
            seen.add(track.id)
        for box, kpts, kscores, det_box in fresh:
            # a new pose on top of a tracked person (a second detection, or a crop that locked onto a
            # neighbour) gets no id at all, so duplicates never churn through ids
            if self._duplicates_seen(kpts, kscores, seen):
                continue
            track = Track(self.next_id, box, kpts, kscores)
            self._set_anchor(track, det_box)
            self.next_id += 1
            self.tracks.append(track)
            seen.add(track.id)
        reported = self._report_weak(weak, seen)
        for track in self.tracks:
            if track.id not in seen and track.id not in reported:
                track.state = TrackState.MISSING
                track.missed += 1
        lost = any(t.id in followed and t.id not in seen | reported for t in self.tracks)
        self.tracks = [t for t in self.tracks if t.missed <= cfg.max_missed]
        self._drop_duplicates()
        current = [t for t in self.tracks if t.state is TrackState.ACTIVE]
        # Re-detect at once only when the keypoints lost someone: on a detector frame the detector has just
        # looked, and running it again on the next frame would find the same.
        self.detect_next = not det_boxes_given and (lost or len(current) < self.last_confident)
        self.last_confident = len(current)
        return [self._person(t) for t in self.tracks if t.state is TrackState.ACTIVE or t.id in reported]

    def _report_weak(self, weak: list, seen: set[int]) -> set[int]:
        """Detected persons whose pose is not confident: each keeps (or gets) its id, its box is the detector
        box, and it waits (MISSING, not followed) for the next detection → the ids reported."""
        reported: set[int] = set()
        for track, kpts, kscores, det_box in weak:
            box = np.asarray(det_box, np.float32)
            if track is None:
                if self._duplicates_seen(kpts, kscores, seen):
                    continue
                track = Track(self.next_id, box, kpts, kscores)
                self.next_id += 1
                self.tracks.append(track)
            self._observe(track, box, kpts, kscores, TrackState.MISSING, det_box)
            reported.add(track.id)
        return reported

    def _observe(self, track: Track, box: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 state: TrackState, det_box: np.ndarray | None) -> None:
        """A track seen this frame: its pose, next box and state (MISSING: reported, waits for the detector)."""
        track.box, track.keypoints, track.scores = box, keypoints, scores
        track.state, track.missed = state, 0
        self._set_anchor(track, det_box)

    def _duplicates_seen(self, keypoints: np.ndarray, scores: np.ndarray, seen: set[int]) -> bool:
        """Whether a new pose is a person already seen this frame (no id for it, so ids never churn)."""
        return any(self._same_person(t, keypoints, scores) for t in self.tracks if t.id in seen)

    def _centroid(self, track: Track) -> np.ndarray:
        confident = track.scores >= self.config.kpt_threshold
        return track.keypoints[confident].mean(0) if confident.any() else (track.box[:2] + track.box[2:]) / 2

    def _set_anchor(self, track: Track, det_box: np.ndarray | None) -> None:
        if det_box is not None:
            track.anchor, track.anchor_shift = np.asarray(det_box, np.float32), self._centroid(track)

    def _predicted_anchor(self, track: Track) -> np.ndarray:
        """The last detector box, moved by how far the keypoints moved since; the keypoint box if none."""
        if track.anchor is None:
            return track.box
        shift = self._centroid(track) - track.anchor_shift
        return track.anchor + np.concatenate([shift, shift])

    def _drop_duplicates(self) -> None:
        """Two active tracks on one person (OKS ≥ duplicate_oks): keep the older one."""
        active = sorted((t for t in self.tracks if t.state is TrackState.ACTIVE), key=lambda t: t.id)
        dropped: set[int] = set()
        for i, a in enumerate(active):
            for b in active[i + 1:]:
                if a.id not in dropped and b.id not in dropped and self._same_person(a, b.keypoints, b.scores):
                    dropped.add(b.id)
        self.tracks = [t for t in self.tracks if t.id not in dropped]

    def _same_person(self, track: Track, keypoints: np.ndarray, scores: np.ndarray) -> bool:
        """OKS between a track's pose and another pose, over keypoints confident in both, ≥ duplicate_oks."""
        visible = (track.scores >= self.config.kpt_threshold) & (scores >= self.config.kpt_threshold)
        area = float(np.prod(track.box[2:] - track.box[:2])) / self.config.box_expand ** 2
        return oks(track.keypoints, keypoints, self.sigmas, area, visible) >= self.config.duplicate_oks

    def _person(self, track: Track) -> Person:
        kpts, box = track.keypoints.astype(np.float32), track.box.astype(np.float32)
        if self.config.smooth:
            if track.filters is None:
                track.filters = smoothing_filters(self.config)
            kpts, box = track.filters[0](kpts), track.filters[1](box)
        return Person(track.id, box, kpts, track.scores.astype(np.float32))


def smoothing_filters(config: TrackerConfig) -> tuple[OneEuroFilter, OneEuroFilter]:
    """One-Euro filters for one person's keypoints and box, as `config` sets them."""
    make = lambda: OneEuroFilter(config.fps, config.smooth_min_cutoff, config.smooth_beta)  # noqa: E731
    return make(), make()
