"""Frame sources for `edgepose run`: an image, a folder of images, a video file or a camera index."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .errors import ConfigError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class FrameSource:
    """Iterates BGR frames; `total` is known for images, folders and most video files (None for cameras)."""

    spec: str
    total: int | None = None
    fps: float = 30.0
    is_video: bool = False

    def __post_init__(self) -> None:
        path = Path(self.spec)
        if self.spec.isdigit() and not path.exists():
            self.kind, self.camera = "camera", int(self.spec)
            self.is_video = True
        elif path.is_dir():
            self.kind = "folder"
            self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.files:
                raise ConfigError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            self.total = len(self.files)
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            self.kind, self.files, self.total = "folder", [path], 1
        elif path.is_file():
            self.kind, self.is_video = "video", True
            if path.stat().st_size == 0:
                raise ConfigError(f"{path} is not a readable video (the file is empty)")
            cap = cv2.VideoCapture(str(path))
            ok, _ = cap.read() if cap.isOpened() else (False, None)
            if not ok:
                cap.release()
                raise ConfigError(f"{path} is not a readable video (or it has no frames)")
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.total = count if count > 0 else None
            self.fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
            cap.release()
        else:
            raise ConfigError(f"--source {self.spec}: no such file, folder or camera index")

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yields (name, frame): the file name for images, the frame number for video."""
        if self.kind == "folder":
            for path in self.files:
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    raise ConfigError(f"{path} could not be decoded as an image")
                yield path.name, image
            return
        cap = cv2.VideoCapture(self.camera if self.kind == "camera" else self.spec)
        if not cap.isOpened():
            raise ConfigError(f"cannot open {self.kind} {self.spec}")
        try:
            index = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                yield str(index), frame
                index += 1
        finally:
            cap.release()
