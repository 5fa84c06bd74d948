"""Import OpenCV with FFmpeg's own console chatter off.

FFmpeg prints lines such as "moov atom not found" for every bad file it meets; probing already turns
each of those into one clear rejection reason, so the raw lines would only bury the report. Set
``OPENCV_FFMPEG_LOGLEVEL`` yourself (e.g. 32 for FFmpeg's info level) to see them again.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when FFmpeg is first used
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # OpenCV's own "cannot open" warnings, likewise

import cv2  # noqa: E402

__all__ = ["cv2"]
