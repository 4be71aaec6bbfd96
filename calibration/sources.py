"""Calibration data: images (with person boxes for pose models) from folders, COCO keypoint json files and
videos, sampled deterministically, split into a calibration part and a held-out part.

A source is a path:
- a folder of images (sorted by name);
- a COCO keypoint `.json` (image `file_name`s resolved beside the json or up to three folders above it);
  its ground-truth person boxes are used for pose models;
- a video file (frames evenly spaced over the whole video), or a frame range of it: `clip.mp4#100-635`
  (first and last frame, inclusive, 0-based) — so calibration can take the training frames of a video whose
  last frames are held out (`vtest.avi#0-635` calibrates, `vtest.avi#636-794` is the held-out split).
Pose models need person boxes: a COCO json gives them, folders and videos take them from a detector
artifact (`det`). Detectors calibrate on whole images (letterboxed like the runtime does).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.sources import IMAGE_SUFFIXES
from edgepose.runtimes.tasks import Sample, task_of

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".avi", ".mp4", ".mov", ".mkv", ".webm", ".m4v"}
MIN_POSE_CROPS = 100       # fewer calibration crops than this gives a warning
MIN_DET_SCORE = 0.5        # detector boxes used as calibration crops


def _images(paths: list[Path], origin: str) -> list[tuple[str, np.ndarray, None]]:
    out = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            log.warning("calibration: %s is not a readable image; skipped", path)
            continue
        out.append((f"{origin}{path.name}", image, None))
    return out


def parse_source(source: str | Path, flag: str = "--calib") -> tuple[Path, tuple[int, int] | None]:
    """`clip.mp4#A-B` → (clip.mp4, (A, B)); any other path → (path, None). A real file whose name contains
    '#' wins over the range reading. `flag` names the option the source came from, for errors."""
    text = str(source)
    path, sep, frames = text.rpartition("#")
    if not sep or Path(text).exists() or Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        return Path(text), None
    first, dash, last = frames.partition("-")
    if not (dash and first.isdigit() and last.isdigit()) or int(first) > int(last):
        raise ConfigError(f"{flag} {text}: a frame range is written VIDEO#FIRST-LAST with FIRST ≤ LAST, "
                          "e.g. clip.mp4#0-635")
    return Path(path), (int(first), int(last))


def check_sources(paths: list[str | Path] | tuple[str | Path, ...], flag: str) -> None:
    """Fail fast, before any conversion work: each source of option `flag` (--calib, --holdout) exists, is a
    kind this module reads, and a video frame range lies inside the video."""
    for text in paths:
        path, frames = parse_source(text, flag)
        if not path.exists():
            raise ConfigError(f"{flag} {path}: no such file or folder")
        suffix = path.suffix.lower()
        if path.is_file() and suffix != ".json" and suffix not in VIDEO_SUFFIXES and suffix not in IMAGE_SUFFIXES:
            raise ConfigError(f"{flag} {path}: expected a folder, an image, a COCO .json or a video")
        if suffix in VIDEO_SUFFIXES and path.is_file():
            _frame_range(path, frames, flag)
        if path.is_dir() and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            raise ConfigError(f"{flag} {path} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")


def _frame_range(path: Path, frames: tuple[int, int] | None, flag: str) -> tuple[int, int]:
    """The inclusive frame range to sample from a video: all of it, or `frames`, which must lie inside it."""
    capture = cv2.VideoCapture(str(path))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    capture.release()
    if total <= 0:
        raise ConfigError(f"{flag} {path}: not a readable video")
    if frames is None:
        return 0, total - 1
    if frames[1] >= total:
        raise ConfigError(f"{flag} {path.name}#{frames[0]}-{frames[1]}: the video has {total} frames "
                          f"(0-{total - 1}); the range goes past its end")
    return frames


def _video_frames(path: Path, count: int, frames: tuple[int, int] | None, flag: str
                  ) -> list[tuple[str, np.ndarray, None]]:
    """`count` frames evenly spaced over the video, or over its frame range `frames` (inclusive)."""
    first, last = _frame_range(path, frames, flag)
    capture = cv2.VideoCapture(str(path))
    wanted = set(np.linspace(first, last, min(count, last - first + 1)).round().astype(int).tolist())
    out, index = [], 0
    while wanted and index <= max(wanted):
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            out.append((f"{path.name}#frame{index}", frame, None))
            wanted.discard(index)
        index += 1
    capture.release()
    return out


def _coco(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    try:
        data = json.loads(path.read_text())
        images = {img["id"]: img for img in data["images"]}
        annotations = data["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"calibration: {path} is not a COCO annotation file ({exc})") from exc
    boxes: dict[int, list[np.ndarray]] = {}
    for ann in annotations:
        if ann.get("iscrowd", 0) or ann.get("category_id", 1) != 1 or "bbox" not in ann:
            continue
        x, y, w, h = ann["bbox"]
        if w > 1 and h > 1:
            boxes.setdefault(ann["image_id"], []).append(np.array([x, y, x + w, y + h], np.float32))
    out = []
    for image_id in sorted(boxes):
        name = images[image_id]["file_name"]
        found = next((base / name for base in (path.parent, *path.parents[:3]) if (base / name).is_file()), None)
        image = cv2.imread(str(found), cv2.IMREAD_COLOR) if found else None
        if image is None:
            log.warning("calibration: image %s of %s not found or unreadable; skipped", name, path.name)
            continue
        out += [(f"{Path(name).name}/box{i}", image, box) for i, box in enumerate(boxes[image_id])]
    return out


def load_samples(paths: list[str | Path], task: str, limit: int,
                 detect: Callable[[np.ndarray], np.ndarray] | None = None, flag: str = "--calib") -> list[Sample]:
    """Up to `limit` samples from `paths` (deterministic: evenly spaced over everything found).

    `task`: a card task name; tasks on person crops get one sample per person box, from a COCO json's ground
    truth or from `detect(image) → (N, 4) boxes` on folders and videos. Other tasks get whole images. `flag`
    names the option the paths came from, for errors."""
    crops = task_of(task).person_crops
    raw: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    check_sources(paths, flag)
    for source, frames in (parse_source(p, flag) for p in paths):
        if source.is_dir():
            files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)   # some (checked)
            raw += _images(files, f"{source.name}/")
        elif source.suffix.lower() == ".json":
            raw += _coco(source)
        elif source.suffix.lower() in VIDEO_SUFFIXES:
            raw += _video_frames(source, limit, frames, flag)
        elif source.suffix.lower() in IMAGE_SUFFIXES:
            raw += _images([source], "")
    if not raw:
        raise ConfigError(f"{flag}: no readable images in {', '.join(map(str, paths))}")
    samples = []
    for origin, image, box in raw:
        if not crops:
            samples.append(Sample(image, None, origin))
        elif box is not None:
            samples.append(Sample(image, box, origin))
        else:
            if detect is None:
                raise ConfigError("calibrating a pose model on images or video needs person boxes: pass a COCO "
                                  "keypoint .json, or a detector artifact (--calib-det DIR)")
            samples += [Sample(image, b, f"{origin}/box{i}") for i, b in enumerate(detect(image))]
    if not samples:
        raise ConfigError("calibration: the detector found no person in the calibration images")
    if len(samples) > limit:
        keep = np.linspace(0, len(samples) - 1, limit).round().astype(int)
        samples = [samples[i] for i in keep]
    if crops and len(samples) < MIN_POSE_CROPS:
        log.warning("calibration: only %d person crops (fewer than %d); INT8 ranges may not generalise",
                    len(samples), MIN_POSE_CROPS)
    return samples


def split_holdout(samples: list[Sample], fraction: float = 0.2) -> tuple[list[Sample], list[Sample]]:
    """Every 1/fraction-th sample is held out (deterministic, spread over all sources)."""
    step = max(2, round(1 / fraction))
    held = [s for i, s in enumerate(samples) if i % step == step - 1]
    calib = [s for i, s in enumerate(samples) if i % step != step - 1]
    return calib, held
