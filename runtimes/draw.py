"""Draw skeletons, boxes, track ids and FPS on a BGR frame (in place); check that a window can be shown."""
from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from .errors import ConfigError
from .tracker import Person


def check_display() -> None:
    """Raise a one-line ConfigError unless OpenCV can open a window here (`--show`). The opencv-python-headless
    build that edgepose installs has no GUI; the full opencv-python build has one."""
    gui = next((line.split(":", 1)[1].strip() for line in cv2.getBuildInformation().splitlines()
                if line.strip().startswith("GUI:")), "")
    if gui.upper() in ("NONE", "NO"):
        raise ConfigError("--show needs OpenCV with a GUI, and this one is the headless build; run "
                          "`pip uninstall -y opencv-python-headless && pip install opencv-python`, or drop --show "
                          "and write --out instead")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ConfigError("--show needs a display (DISPLAY is not set); drop --show and write --out instead")
    try:
        cv2.namedWindow("edgepose", cv2.WINDOW_NORMAL)
    except cv2.error:
        raise ConfigError("--show: OpenCV cannot open a window (a headless build?); run `pip uninstall -y "
                          "opencv-python-headless && pip install opencv-python`, or drop --show") from None


def _color(track_id: int | None) -> tuple[int, int, int]:
    if track_id is None:
        return (0, 200, 255)
    hue = (track_id * 47) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_persons(frame: np.ndarray, persons: list[Person], skeleton: list[list[int]],
                 kpt_threshold: float = 0.3) -> np.ndarray:
    """Boxes, ids and the skeleton of confident keypoints, drawn into `frame` (returned)."""
    for person in persons:
        color = _color(person.id)
        x1, y1, x2, y2 = (int(round(v)) for v in person.box)
        cv2.rectangle(frame, (x1, y1), (x2, y2), color, 1)
        if person.id is not None:
            cv2.putText(frame, f"#{person.id}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1)
        ok = person.scores >= kpt_threshold
        pts = np.round(person.keypoints).astype(int)
        for a, b in skeleton:
            if ok[a] and ok[b]:
                cv2.line(frame, tuple(pts[a]), tuple(pts[b]), color, 2, cv2.LINE_AA)
        for point, good in zip(pts, ok):
            if good:
                cv2.circle(frame, tuple(point), 3, (255, 255, 255), -1, cv2.LINE_AA)
    return frame


def draw_fps(frame: np.ndarray, fps: float) -> np.ndarray:
    """The frame rate in the top-left corner (the live window only: files keep the picture clean)."""
    cv2.putText(frame, f"{fps:.1f} FPS", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 2)
    return frame
