"""Draw skeletons, boxes, track ids and FPS on a BGR frame (in place)."""
from __future__ import annotations

import cv2
import numpy as np

from .tracker import Person


def _color(track_id: int | None) -> tuple[int, int, int]:
    if track_id is None:
        return (0, 200, 255)
    hue = (track_id * 47) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_persons(frame: np.ndarray, persons: list[Person], skeleton: list[list[int]],
                 kpt_threshold: float = 0.3, fps: float | None = None) -> np.ndarray:
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
    if fps is not None:
        cv2.putText(frame, f"{fps:.1f} FPS", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 2)
    return frame
