"""Frame sources for `edgepose run`: an image, a folder of images, a video file or a camera index.

Everything that can be checked before models load is checked when the source is made: a missing path, a
symlink loop, an empty or undecodable video, image data behind a video name, a camera that does not open.
In a folder, images that cannot be decoded are skipped with a warning (`skipped` lists them); a video that
ends before the frame count in its header is noted in `ended_early`.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

# FFmpeg's decoder messages ("ac-tex damaged at ...") would flood stderr on a damaged video; edgepose says
# in one warning how many frames it read instead. Set before OpenCV first uses FFmpeg; users may override.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from .errors import ConfigError  # noqa: E402

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class FrameSource:
    """Iterates BGR frames; `total` is known for images, folders and most video files (None for cameras)."""

    spec: str
    total: int | None = None
    fps: float = 30.0
    is_video: bool = False
    skipped: list[str] = field(default_factory=list)  # folder images that could not be decoded
    read: int = 0                                      # frames yielded so far

    def __post_init__(self) -> None:
        path = Path(self.spec)
        self._cap: cv2.VideoCapture | None = None
        if self.spec.isdigit() and not path.exists():
            self.kind, self.is_video = "camera", True
            self._open_capture(int(self.spec), f"camera {self.spec}")
        elif path.is_symlink() and not path.exists():
            raise ConfigError(f"--source {path} is a broken symbolic link (or a link loop); point to the real file")
        elif path.is_dir():
            self.kind = "folder"
            self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.files:
                raise ConfigError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            self.total = len(self.files)
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            if _read_image(path) is None:
                raise ConfigError(f"{path} could not be decoded as an image (damaged, unreadable or not an image)")
            self.kind, self.files, self.total = "folder", [path], 1
        elif path.is_file():
            self._open_video(path)
        else:
            raise ConfigError(f"--source {self.spec}: no such file, folder or camera index")

    def _open_video(self, path: Path) -> None:
        self.kind, self.is_video = "video", True
        if path.stat().st_size == 0:
            raise ConfigError(f"{path} is not a readable video (the file is empty)")
        if cv2.haveImageReader(str(path)):
            raise ConfigError(f"{path} holds image data, not a video; give it its image suffix (.png, .jpg) "
                              "to run it as an image")
        self._open_capture(str(path), f"video {path}")
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.total = count if count > 0 else None

    def _open_capture(self, target: int | str, what: str) -> None:
        """Open the capture now and read its first frame, so a bad source fails before models load."""
        cap = cv2.VideoCapture(target)
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok:
            cap.release()
            if self.kind == "camera":
                raise ConfigError(f"cannot open {what}; check the index (0 is the first camera) and that no "
                                  "other program uses it")
            raise ConfigError(f"{what.split(' ', 1)[1]} is not a readable video (or it has no frames)")
        self._cap, self._first = cap, frame
        self.fps = cap.get(cv2.CAP_PROP_FPS) or 30.0

    def close(self) -> None:
        """Release a video or camera that will not be read (a source only checked)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = self._first = None

    @property
    def is_images(self) -> bool:
        return self.kind == "folder"

    @property
    def ended_early(self) -> bool:
        """True when a video file gave fewer frames than its header promised (read it to the end first)."""
        return self.kind == "video" and self.total is not None and self.read < self.total

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yields (name, frame): the file name for images, the frame number for video."""
        if self.kind == "folder":
            yield from self._images()
        else:
            yield from self._frames()

    def _images(self) -> Iterator[tuple[str, np.ndarray]]:
        for path in self.files:
            image = _read_image(path)
            if image is None:
                log.warning("skipped %s: not a readable image", path)
                self.skipped.append(path.name)
                continue
            self.read += 1
            yield path.name, image
        if self.read == 0:
            raise ConfigError(f"none of the {len(self.files)} images in {self.spec} could be read")

    def _frames(self) -> Iterator[tuple[str, np.ndarray]]:
        cap, frame = self._cap, self._first
        if cap is None:
            raise ConfigError(f"{self.spec} was already read; make a new FrameSource")
        self._cap = self._first = None
        try:
            while frame is not None:
                self.read += 1
                yield str(self.read - 1), frame
                ok, frame = cap.read()
                frame = frame if ok else None
        finally:
            cap.release()


def _read_image(path: Path) -> np.ndarray | None:
    """The image as BGR, or None when it cannot be read or decoded (never raises for a bad file)."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
