"""Run a pipeline over a frame source, writing JSON lines and annotated video/images atomically.

Outputs are checked before any work (`plan_outputs`), built in hidden temporary files or folders beside
their destinations and renamed into place when the source is done, or when Ctrl-C stops the run (the
frame in progress is finished first; a second Ctrl-C aborts at once). Any error removes them, so a crash
never leaves a half-written file.

`--out` depends on the source: for a video or camera it is a video file whose suffix picks the codec
(`VIDEO_WRITERS`); for images it is a folder that receives one annotated image per input under the same
file name (or, for a single image, an image file).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .atomic import check_output_file, check_writable_folder
from .draw import draw_fps, draw_persons
from .errors import ConfigError
from .pipeline import FrameResult, Pipeline
from .preprocess import box_problem
from .sources import IMAGE_SUFFIXES, FrameSource

log = logging.getLogger(__name__)

# suffix → FourCC; each was checked to write and read back with opencv-python-headless 4.14 (FFmpeg backend)
VIDEO_WRITERS = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}
PROGRESS_LINE_EVERY_S = 10.0  # when stderr is not a terminal: one progress line this often


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
        if problem := box_problem(np.asarray(box)):
            raise ConfigError(f"--boxes: {part!r} {problem}")
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
    written: list[Path] = field(default_factory=list)
    interrupted: bool = False    # stopped by Ctrl-C; `written` holds the frames done until then
    skipped: list[str] = field(default_factory=list)  # unreadable images of a folder source
    expected: int | None = None  # a video's frame count from its header when it ended before that

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


# ---------------------------------------------------------------------------------------------- outputs

@dataclass(frozen=True)
class OutputPlan:
    """Where a run writes: JSON lines, and `--out` as a video file, an image folder or one image file."""

    json: Path | None = None
    video: Path | None = None
    image_dir: Path | None = None
    image_file: Path | None = None


def plan_outputs(json_path: str | Path | None, out_path: str | Path | None, source: FrameSource,
                 overwrite: bool = False) -> OutputPlan:
    """Check every output before any work (an existing file only with `overwrite`); a ConfigError names the
    problem and what to do."""
    json_p = check_output_file(json_path, "--json", overwrite) if json_path else None
    video = image_dir = image_file = None
    if out_path:
        out = Path(out_path)
        suffix = out.suffix.lower()
        if not source.is_images:
            if suffix not in VIDEO_WRITERS:
                raise ConfigError(f"--out {out}: a video needs one of the suffixes {', '.join(VIDEO_WRITERS)}")
            video = check_output_file(out, "--out", overwrite)
        elif suffix in IMAGE_SUFFIXES and source.total == 1:
            image_file = check_output_file(out, "--out", overwrite)
        elif source.total == 1 and suffix:
            raise ConfigError(f"--out {out}: the source is one image; --out names the annotated image "
                              f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        elif suffix in IMAGE_SUFFIXES or suffix in VIDEO_WRITERS:
            raise ConfigError(f"--out {out}: for a folder of images --out names a folder that receives one "
                              "annotated image per input (same file names); give a name without a suffix")
        else:
            image_dir = _check_output_dir(out)
    plan = OutputPlan(json_p, video, image_dir, image_file)
    _check_no_clash(plan, source)
    return plan


def _check_output_dir(path: Path) -> Path:
    path = path.resolve()
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise ConfigError(f"--out {path} already exists; for images --out names a new (or empty) folder — "
                          "remove it or choose another name")
    check_writable_folder(path.parent, "--out")
    return path


def _check_no_clash(plan: OutputPlan, source: FrameSource) -> None:
    outs = [p for p in (plan.json, plan.video, plan.image_file, plan.image_dir) if p is not None]
    if len(set(outs)) != len(outs):
        raise ConfigError("--json and --out name the same path; give them different names")
    inputs = {Path(f).resolve() for f in getattr(source, "files", [])} | {Path(source.spec).resolve()}
    if any(p in inputs for p in outs):
        raise ConfigError("an output path is the --source itself; choose another output name")
    if plan.json and plan.image_dir and plan.image_dir in plan.json.parents:
        raise ConfigError("--json must not be inside the --out folder (the folder is written as a whole)")


def _part(path: Path) -> Path:
    return path.with_name(f".{path.stem}.part{path.suffix}")


class _Sink:
    """One output, built under a hidden name: `write` per frame, then `finish` (close and check; may fail)
    and `publish` (rename into place), or `abort`."""

    final: Path
    tmp: Path

    def write(self, name: str, result: FrameResult, canvas: np.ndarray | None) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def publish(self) -> Path:
        os.replace(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        raise NotImplementedError

    def _fail(self, exc: OSError) -> ConfigError:
        return ConfigError(f"cannot write {self.final}: {exc.strerror or exc} (disk full or file too large?)")


class _JsonSink(_Sink):
    def __init__(self, final: Path, is_video: bool) -> None:
        self.final, self.tmp, self.is_video, self.count = final, _part(final), is_video, 0
        self.file = open(self.tmp, "w")

    def write(self, name: str, result: FrameResult, canvas: np.ndarray | None) -> None:
        record = frame_record(result, self.count, None if self.is_video else name)
        self.count += 1
        try:
            self.file.write(json.dumps(record) + "\n")
        except OSError as exc:
            raise self._fail(exc) from None

    def finish(self) -> None:
        try:
            self.file.close()
        except OSError as exc:
            raise self._fail(exc) from None

    def abort(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass
        self.tmp.unlink(missing_ok=True)


class _VideoSink(_Sink):
    def __init__(self, final: Path, fps: float) -> None:
        self.final, self.tmp, self.fps, self.count = final, _part(final), fps, 0
        self.writer: cv2.VideoWriter | None = None

    def write(self, name: str, result: FrameResult, canvas: np.ndarray | None) -> None:
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_WRITERS[self.final.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, (canvas.shape[1], canvas.shape[0]))
            if not self.writer.isOpened():
                raise ConfigError(f"cannot write video {self.final}: OpenCV could not open a "
                                  f"{VIDEO_WRITERS[self.final.suffix.lower()]} writer")
        self.writer.write(canvas)
        self.count += 1

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.release()
        cap = cv2.VideoCapture(str(self.tmp))
        readable = cap.isOpened() and cap.read()[0]
        cap.release()
        if not readable:
            raise ConfigError(f"cannot write {self.final}: the video did not read back (disk full or file too large?)")

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.release()
        self.tmp.unlink(missing_ok=True)


class _ImageSink(_Sink):
    """Annotated images: into a hidden folder renamed to `final`, or (`single`) one file."""

    def __init__(self, final: Path, single: bool) -> None:
        self.final, self.single = final, single
        self.tmp = _part(final) if single else Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".part",
                                                                     dir=final.parent))

    def write(self, name: str, result: FrameResult, canvas: np.ndarray | None) -> None:
        target = self.tmp if self.single else self.tmp / name
        ok, data = cv2.imencode(target.suffix, canvas)
        if not ok:
            raise ConfigError(f"cannot encode {target.name} as {target.suffix}; use .png or .jpg")
        try:
            target.write_bytes(data.tobytes())
        except OSError as exc:
            raise self._fail(exc) from None

    def finish(self) -> None:
        if not self.single:
            self.tmp.chmod(0o755)  # mkdtemp makes it private; the output is an ordinary folder

    def publish(self) -> Path:
        if not self.single and self.final.is_dir():
            self.final.rmdir()  # empty, checked by plan_outputs
        return super().publish()

    def abort(self) -> None:
        if self.single:
            self.tmp.unlink(missing_ok=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _open_sinks(plan: OutputPlan, source: FrameSource) -> list[_Sink]:
    sinks: list[_Sink] = []
    try:
        if plan.json:
            sinks.append(_JsonSink(plan.json, source.is_video))
        if plan.video:
            sinks.append(_VideoSink(plan.video, source.fps))
        if plan.image_dir or plan.image_file:
            sinks.append(_ImageSink(plan.image_dir or plan.image_file, plan.image_file is not None))
    except OSError as exc:
        for sink in sinks:
            sink.abort()
        raise ConfigError(f"cannot create the outputs: {exc.strerror or exc}") from None
    return sinks


# ------------------------------------------------------------------------------------------------ loop

class _Stop:
    """Set by the first Ctrl-C; the loop checks it between frames."""

    requested = False


@contextmanager
def _sigint_finishes_frame() -> Iterator[_Stop]:
    """While active, the first SIGINT asks the loop to stop after the current frame; a second one raises
    KeyboardInterrupt at once. Outside the main thread or when SIGINT is ignored, nothing changes."""
    stop = _Stop()
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous in (signal.SIG_IGN, None):
        yield stop
        return

    def handler(signum: int, frame: object) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


class _Progress:
    """A bar redrawn in place (at most 10 times a second) when stderr is a terminal; otherwise one plain
    line every PROGRESS_LINE_EVERY_S seconds, so logs and pipes are not flooded."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.tty = enabled and sys.stderr.isatty()
        self.start = self.last = time.perf_counter()
        self.drawn = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        every = 0.1 if self.tty else PROGRESS_LINE_EVERY_S
        if now - self.last < every and not (self.tty and done == self.total):
            return
        self.last = now
        text = self._text(done, done / max(now - self.start, 1e-9))
        sys.stderr.write(f"\r{text}" if self.tty else f"{text}\n")
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.tty and self.drawn:
            sys.stderr.write("\n")

    def _text(self, done: int, rate: float) -> str:
        if not self.total:
            return f"{done} frames {rate:.1f} FPS"
        filled = int(30 * min(done / self.total, 1.0))
        return f"[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} frames {rate:.1f} FPS"


def run_stream(pipeline: Pipeline, source: FrameSource, json_path: Path | None = None,
               out_path: Path | None = None, show: bool = False, progress: bool = True,
               prefetch: bool = False, overwrite: bool = False) -> RunSummary:
    """Process every frame of `source` (until Ctrl-C or, with `show`, q/Esc); videos keep tracks across
    frames, image folders start fresh per image. Outputs appear only when the run ends cleanly. `prefetch`
    runs the detector on the next video frame beside the pose model (Pipeline.stream; same results). An existing
    output file is replaced only with `overwrite`."""
    plan = plan_outputs(json_path, out_path, source, overwrite)
    sinks = _open_sinks(plan, source)
    bar = _Progress(source.total, progress)
    frames = detector_frames = 0
    quit_key = False
    start = time.perf_counter()
    try:
        with _sigint_finishes_frame() as stop:
            for (name, frame), result in _results(pipeline, source, prefetch):
                frames += 1
                detector_frames += result.detector_ran
                canvas = None
                if show or plan.video or plan.image_dir or plan.image_file:
                    canvas = draw_persons(frame, result.persons, pipeline.pose.card.skeleton,
                                          pipeline.tracker.config.kpt_threshold)
                for sink in sinks:
                    sink.write(name, result, canvas)
                bar.update(frames)
                rate = frames / max(time.perf_counter() - start, 1e-9)
                quit_key = show and _show(draw_fps(canvas.copy(), rate) if source.is_video else canvas)
                if stop.requested or quit_key:
                    break
        for sink in sinks:  # every output closed and checked before any is renamed into place
            sink.finish()
        written = [sink.publish() for sink in sinks]
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    finally:
        bar.close()
        if show:
            cv2.destroyAllWindows()
    summary = RunSummary(frames, detector_frames, time.perf_counter() - start, pipeline.times.per_frame_ms(),
                         written, stop.requested, list(source.skipped))
    if source.ended_early and not (stop.requested or quit_key):
        summary.expected = source.total
        log.warning("%s ended after %d of the %d frames its header lists: the file is truncated or damaged; "
                    "the outputs hold the %d frames read", source.spec, source.read, source.total, source.read)
    return summary


def _results(pipeline: Pipeline, source: FrameSource, prefetch: bool) -> Iterator[tuple[tuple[str, np.ndarray],
                                                                                      FrameResult]]:
    """((name, frame), result) per frame: a video through one tracked stream, images each on their own."""
    if source.is_video:
        yield from pipeline.stream(source, prefetch, frame_of=lambda item: item[1])
        return
    for item in source:
        pipeline.reset()
        yield item, pipeline(item[1])


def _show(canvas: np.ndarray) -> bool:
    """Show a frame; True when the user pressed q or Esc."""
    cv2.imshow("edgepose", canvas)
    return cv2.waitKey(1) & 0xFF in (27, ord("q"))
