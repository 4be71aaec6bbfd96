"""Top-down pipeline: detector (every few frames) + tracker + pose model. `Pipeline(...)(frame) -> FrameResult`."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .detector import Detector
from .errors import ConfigError
from .pose import PoseModel
from .preprocess import check_boxes, check_image
from .timing import StageTimes
from .tracker import Person, Tracker, TrackerConfig


@dataclass(frozen=True)
class FrameResult:
    index: int                       # frame number, from 0
    detector_ran: bool               # whether the person detector ran on this frame
    persons: list[Person]            # tracked persons (id None with fixed boxes)


class Pipeline:
    """Persons in each frame of a video or image stream.

    With a detector, people are tracked (persistent ids) and the detector runs every
    `config.det_interval` frames, or at once when a track is lost; with `boxes` instead, those fixed boxes
    are posed on every frame. `times` accumulates the per-stage wall time.
    """

    def __init__(self, pose: PoseModel, detector: Detector | None = None, boxes: np.ndarray | None = None,
                 config: TrackerConfig | None = None, det_score: float = 0.5) -> None:
        if (detector is None) == (boxes is None):
            raise ConfigError("a pipeline needs exactly one of a detector (--det) or fixed boxes (--boxes)")
        if not 0 <= det_score <= 1:
            raise ConfigError(f"det_score={det_score} must be in [0, 1]")
        self.pose = pose
        self.detector = detector
        self.boxes = None if boxes is None else check_boxes(boxes)
        self.det_score = det_score
        self.tracker = Tracker(config or TrackerConfig(), pose.card.sigmas or [0.05] * pose.num_keypoints)
        self.times = StageTimes()

    def __call__(self, frame: np.ndarray) -> FrameResult:
        frame = check_image(frame)
        self.times.frames += 1
        if self.detector is None:
            poses = self.pose(frame, self.boxes, self.times)
            persons = [Person(None, b, k, s) for b, k, s in zip(poses.boxes, poses.keypoints, poses.scores)]
            return FrameResult(self.times.frames - 1, False, persons)
        detect = self.tracker.needs_detection()
        det_boxes = None
        if detect:
            with self.times.stage("pre"):
                inputs, scale = self.detector.preprocess(frame)
            with self.times.stage("det"):
                raw = self.detector.infer(inputs)
            with self.times.stage("post"):
                dets = self.detector.decode(raw, scale, frame.shape)
                dets = dets[dets.scores >= self.det_score]
            with self.times.stage("track"):
                boxes, owners = self.tracker.boxes_from_detections(dets.boxes)
                det_boxes = boxes
        else:
            with self.times.stage("track"):
                boxes, owners = self.tracker.boxes_from_tracks()
        poses = self.pose(frame, boxes, self.times)
        with self.times.stage("track"):
            persons = self.tracker.update(poses.keypoints, poses.scores, [owners[i] for i in poses.indices],
                                          None if det_boxes is None else det_boxes[poses.indices])
        return FrameResult(self.tracker.frame_index, detect, persons)

    def reset(self) -> None:
        """Start a new stream: forget tracks, ids and the frame counter (timings keep accumulating)."""
        self.tracker.reset()
