"""Run a pipeline over a frame source, writing JSON lines and/or an annotated video atomically.

Outputs go to hidden temporary files beside their destinations and are renamed only when the whole
source was processed; any error removes them, so a crash never leaves a half-written file.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .draw import draw_persons
from .errors import ConfigError
from .pipeline import FrameResult, Pipeline
from .sources import FrameSource


def parse_boxes(text: str) -> np.ndarray:
    """"x1,y1,x2,y2;x1,y1,x2,y2" → (N, 4) float32."""
    boxes = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        values = part.split(",")
        try:
            box = [float(v) for v in values]
        except ValueError:
            box = []
        if len(box) != 4:
            raise ConfigError(f"--boxes: {part!r} is not 'x1,y1,x2,y2' (four numbers)")
        if not (box[2] > box[0] and box[3] > box[1]):
            raise ConfigError(f"--boxes: {part!r} has no area (need x2 > x1 and y2 > y1)")
        boxes.append(box)
    if not boxes:
        raise ConfigError("--boxes is empty; give 'x1,y1,x2,y2' boxes separated by ';'")
    return np.asarray(boxes, np.float32)


def frame_record(result: FrameResult, index: int, name: str | None = None) -> dict:
    """One JSON line: frame `index` in the source (images of a folder count on; the pipeline restarts)."""
    record = {"frame": index, "detector_ran": result.detector_ran, "persons": [
        {"id": p.id, "box": [round(float(v), 3) for v in p.box],
         "keypoints": [[round(float(x), 3), round(float(y), 3)] for x, y in p.keypoints],
         "scores": [round(float(s), 4) for s in p.scores]} for p in result.persons]}
    if name is not None:
        record["image"] = name
    return record


@dataclass
class RunSummary:
    frames: int
    detector_frames: int
    seconds: float
    stage_ms: dict[str, float]   # per frame, by stage

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _part(path: Path) -> Path:
    return path.with_name(f".{path.stem}.part{path.suffix}")


def run_stream(pipeline: Pipeline, source: FrameSource, json_path: Path | None = None,
               video_path: Path | None = None, show: bool = False, progress: bool = True) -> RunSummary:
    """Process every frame of `source`; videos keep tracks across frames, image folders start fresh per image."""
    outputs = [p for p in (json_path, video_path) if p is not None]
    for path in outputs:
        if not path.parent.is_dir():
            raise ConfigError(f"output folder {path.parent} does not exist")
    json_file = open(_part(json_path), "w") if json_path else None
    writer = None
    frames = detector_frames = 0
    start = time.perf_counter()
    try:
        for name, frame in source:
            if not source.is_video:
                pipeline.reset()
            result = pipeline(frame)
            frames += 1
            detector_frames += result.detector_ran
            if json_file:
                record = frame_record(result, frames - 1, None if source.is_video else name)
                json_file.write(json.dumps(record) + "\n")
            if video_path or show:
                fps = frames / max(time.perf_counter() - start, 1e-9)
                canvas = draw_persons(frame, result.persons, pipeline.pose.card.skeleton,
                                      pipeline.tracker.config.kpt_threshold, fps)
                if video_path:
                    if writer is None:
                        writer = _open_writer(_part(video_path), canvas.shape, source.fps)
                    writer.write(canvas)
                if show:
                    cv2.imshow("edgepose", canvas)
                    if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                        break
            if progress:
                _progress(frames, source.total, start)
        if frames == 0:
            raise ConfigError(f"--source {source.spec} produced no frames")
    except BaseException:
        if json_file:
            json_file.close()
        if writer is not None:
            writer.release()
        for path in outputs:
            _part(path).unlink(missing_ok=True)
        raise
    finally:
        if progress:
            sys.stderr.write("\n")
        if show:
            cv2.destroyAllWindows()
    if json_file:
        json_file.close()
        os.replace(_part(json_path), json_path)
    if writer is not None:
        writer.release()
        os.replace(_part(video_path), video_path)
    return RunSummary(frames, detector_frames, time.perf_counter() - start, pipeline.times.per_frame_ms())


def _open_writer(path: Path, shape: tuple[int, ...], fps: float) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (shape[1], shape[0]))
    if not writer.isOpened():
        raise ConfigError(f"cannot write video {path}; use a .mp4 or .avi name")
    return writer


def _progress(done: int, total: int | None, start: float) -> None:
    elapsed = time.perf_counter() - start
    rate = done / elapsed if elapsed > 0 else 0.0
    if total:
        width = 30
        filled = int(width * min(done / total, 1.0))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} frames {rate:.1f} FPS")
    else:
        sys.stderr.write(f"\r{done} frames {rate:.1f} FPS")
    sys.stderr.flush()
