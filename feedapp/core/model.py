"""Plain, frozen data that every layer passes around. No Qt, no OpenCV, no SQLite here."""

from __future__ import annotations

from dataclasses import dataclass, field

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")


@dataclass(frozen=True)
class Clip:
    """One playable video with its metadata and probe results.

    ``width``/``height`` are the *display* size (after applying ``rotation``), so a phone video shot
    upright reports a portrait size even when its stored frames are landscape.
    """

    id: str
    path: str
    title: str
    topics: tuple[str, ...]
    creator: str
    duration_ms: int
    fps: float
    width: int
    height: int
    rotation: int = 0  # degrees clockwise that the stored frames must be turned to display upright
    created: str = ""  # ISO 8601 date, "" when unknown
    features: tuple[float, ...] = ()  # visual features from probing (see media.features)
    poster: bytes = field(default=b"", repr=False, compare=False)  # small JPEG poster frame

    @property
    def orientation(self) -> str:
        if self.height > self.width:
            return "portrait"
        if self.width > self.height:
            return "landscape"
        return "square"


@dataclass(frozen=True)
class Rejection:
    """A file that was looked at and will not be played, with a reason a researcher understands."""

    path: str
    reason: str


@dataclass(frozen=True)
class ScanResult:
    accepted: tuple[Clip, ...]
    rejected: tuple[Rejection, ...]
