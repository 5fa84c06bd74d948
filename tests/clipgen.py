"""Make small real video files for tests with OpenCV (mp4v in .mp4, or MJPG in .avi)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def make_clip(
    path: Path,
    seconds: float = 2.0,
    size: tuple[int, int] = (240, 426),
    fps: float = 30.0,
    colour: tuple[int, int, int] = (40, 40, 220),
    label: str = "",
    fourcc: str = "mp4v",
) -> Path:
    """Write a clip whose frames are a solid BGR colour with a moving white bar (so frames differ)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with {fourcc}")
    n = max(1, round(seconds * fps))
    for i in range(n):
        frame = np.empty((h, w, 3), np.uint8)
        frame[:] = colour
        y = int((i / n) * (h - 20))
        frame[y : y + 20, :] = 255
        if label:
            cv2.putText(frame, label, (10, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        writer.write(frame)
    writer.release()
    return path
