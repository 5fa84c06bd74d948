"""Probe one video file with OpenCV: duration, frame rate, display size, rotation, codec, features, poster.

Probing decides what the feed may play, so it must be right about duration (the denominator of
every watch ratio) and honest about bad files: every failure is a ``ProbeError`` whose reason a
researcher can act on. It must also be quick: it reads a few frames, never the whole file, unless
the file turns out to be shorter than it claims (then counting frames is the only way to know).

Rules chosen here (tests hold them):
- a clip shorter than ``MIN_DURATION_MS`` (0.5 s) is rejected: a 1-frame "video" is a picture, and
  dwell and watch ratios on it mean nothing;
- the duration is measured by timestamps: the last decodable frame's presentation time plus one
  frame. A file whose decoding stops before ``COMPLETE_FRACTION`` of the length its header announces
  is rejected as incomplete (a half-copied file would otherwise log wrong watch ratios), while a
  small mismatch (a frame or two, common in real files) is accepted with the decoded duration;
- frames are never counted against a rate: OpenCV's frame count for Matroska/WebM is only the
  container's duration times the nominal rate, so a variable-frame-rate screen recording would look
  "incomplete" by count while its timestamps reach the end (issue 12);
- ``width``/``height`` are the display size: OpenCV applies the rotation metadata itself
  (``CAP_PROP_ORIENTATION_AUTO``), so frames and the poster are already upright.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from feedapp.media._cv import cv2
import numpy as np

from feedapp.media.container import ContainerInfo, inspect
from feedapp.media.features import FEATURE_NAMES, compute_features

MIN_DURATION_MS = 500
COMPLETE_FRACTION = 0.97
MAX_FPS = 1000.0
POSTER_WIDTH = 180
KEEP_WIDTH = 640  # sampled frames wider than this are shrunk as they are read (see _keep)
SAMPLE_POINTS = (0.1, 0.35, 0.6, 0.85)  # fractions of the clip where frames are sampled
# Below this many decoded pixels (frames x width x height) reading straight through is cheaper than
# seeking (each seek restarts decoding at a keyframe): about 150 frames of 540x960, measured here.
SEQUENTIAL_PIXEL_BUDGET = 150 * 540 * 960

# MP4 sample-entry codes this OpenCV build's FFmpeg decodes; failing to open one of these means damage.
COMMON_CODECS = frozenset({"avc1", "avc3", "hvc1", "hev1", "mp4v", "av01", "vp09", "vp08", "jpeg", "mjpa", "apcn", "apch", "apcs", "apco", "s263"})

_open_lock = threading.Lock()
_open_count = 0


def videos_opened() -> int:
    """How many times this process has opened a video with OpenCV (lets tests prove the cache works)."""
    return _open_count


class ProbeError(Exception):
    """A file that will not be played. ``reason`` is one sentence a researcher can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProbeInfo:
    duration_ms: int
    fps: float
    width: int  # display size, after rotation
    height: int
    rotation: int  # clockwise degrees the stored frames need to display upright: 0, 90, 180, 270
    frame_count: int  # frames actually decodable (checked, not just the header's claim)
    codec: str  # fourcc as OpenCV reports it, e.g. "FMP4" for mp4v, "h264", "VP90"
    features: tuple[float, ...]  # see feedapp.media.features.FEATURE_NAMES
    poster: bytes = field(default=b"", repr=False, compare=False)  # JPEG, POSTER_WIDTH wide, upright
    frames_read: int = 0  # frames this probe decoded itself (seeks decode from a keyframe on top)

    @property
    def orientation(self) -> str:
        return "portrait" if self.height > self.width else "landscape" if self.width > self.height else "square"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields for the probe cache (the poster is stored beside it as a blob)."""
        d = asdict(self)
        d.pop("poster")
        d["features"] = list(self.features)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], poster: bytes = b"") -> ProbeInfo:
        return cls(
            duration_ms=int(d["duration_ms"]),
            fps=float(d["fps"]),
            width=int(d["width"]),
            height=int(d["height"]),
            rotation=int(d["rotation"]),
            frame_count=int(d["frame_count"]),
            codec=str(d["codec"]),
            features=tuple(float(x) for x in d["features"]),
            poster=poster,
            frames_read=int(d.get("frames_read", 0)),
        )


def _fourcc(value: float) -> str:
    code = int(value) & 0xFFFFFFFF
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text.strip("\x00 ") if text.isprintable() else ""


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 100 else f"{ms / 1000:.2f} s"


def _reject_by_container(info: ContainerInfo) -> None:
    """Raise the specific reason when the bytes alone show the file cannot be a playable video."""
    if info.kind == "empty":
        raise ProbeError("the file is empty (0 bytes); copy it again from the original")
    if info.kind == "text":
        raise ProbeError("it is a text file, not a video, despite its name")
    if info.kind == "audio":
        raise ProbeError(f"it is {info.detail} with no picture; only videos can be shown")
    if info.kind == "image":
        raise ProbeError(f"it is a still {info.detail}, not a video")
    if info.kind == "mp4":
        if info.truncated and not info.handlers:
            raise ProbeError("the file is incomplete (cut off, e.g. by an interrupted copy or recording); copy it again")
        if info.handlers and "vide" not in info.handlers:
            raise ProbeError("it contains sound but no video track; only videos can be shown")


def _open(path: Path, decoder_threads: int = 0) -> cv2.VideoCapture:
    global _open_count
    with _open_lock:
        _open_count += 1
    # FFmpeg explicitly: the default backend list would treat a '%' in a file name as an image-sequence pattern.
    params = [cv2.CAP_PROP_N_THREADS, decoder_threads] if decoder_threads > 0 else []
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params)
    if cap.isOpened():
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return cap


def _poster(frame: np.ndarray) -> bytes:
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (POSTER_WIDTH, max(1, round(h * POSTER_WIDTH / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else b""


def _keep(frame: np.ndarray) -> np.ndarray:
    """A sampled frame as probing keeps it: at most ``KEEP_WIDTH`` wide (the poster and the features use
    far fewer pixels), so sampling a 2160x3840 clip holds a few MB, not 25 MB a frame."""
    h, w = frame.shape[:2]
    if w <= KEEP_WIDTH:
        return frame
    return cv2.resize(frame, (KEEP_WIDTH, max(1, round(h * KEEP_WIDTH / w))), interpolation=cv2.INTER_AREA)


def _sample_indices(n: int) -> list[int]:
    last = max(0, n - 2)
    return sorted({min(last, int(n * f)) for f in SAMPLE_POINTS})


def probe(path: str | Path, *, decoder_threads: int = 0) -> ProbeInfo:
    """Probe a video file; raise ProbeError(reason) for anything the feed should not play.

    ``decoder_threads`` 0 lets FFmpeg use every core for this one file (best for a single probe);
    scans that probe several files at once pass 1, which measured faster overall on 2 cores.
    """
    path = Path(path)
    try:
        if not path.exists():
            raise ProbeError("the file does not exist (it may have been moved or deleted)")
        if not path.is_file():
            raise ProbeError("it is a folder or a device, not a video file")
        container = inspect(path)
    except PermissionError:
        raise ProbeError("the file cannot be read (permission denied); check its permissions") from None
    except OSError as e:
        raise ProbeError(f"the file cannot be read ({e.strerror or e}); check the disk and copy it again") from None
    _reject_by_container(container)

    cap = _open(path, decoder_threads)
    try:
        if not cap.isOpened():
            if container.video_codecs:
                codec = container.video_codecs[0]
                if codec in COMMON_CODECS:
                    raise ProbeError(
                        f"it cannot be opened although its codec '{codec}' is a common one; the file is probably damaged: copy it again"
                    )
                raise ProbeError(
                    f"its video codec '{codec}' cannot be decoded on this machine; convert it to H.264 or MPEG-4 (.mp4)"
                )
            if container.truncated:
                raise ProbeError("the file is incomplete (cut off, e.g. by an interrupted copy or recording); copy it again")
            raise ProbeError("it is not a video format this machine can open; convert it to .mp4 (H.264 or MPEG-4)")
        return _probe_open(cap, container)
    finally:
        cap.release()


def _probe_open(cap: cv2.VideoCapture, container: ContainerInfo) -> ProbeInfo:
    codec = _fourcc(cap.get(cv2.CAP_PROP_FOURCC)) or (container.video_codecs[0] if container.video_codecs else "?")
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    announced = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    raw_rotation = cap.get(cv2.CAP_PROP_ORIENTATION_META)
    rotation = int(round((raw_rotation if math.isfinite(raw_rotation) else 0) / 90.0)) * 90 % 360

    ok, first = cap.read()
    if not ok or first is None:
        raise ProbeError(
            f"its video frames cannot be decoded (codec '{codec}'); the file is damaged or uses a codec this "
            "machine lacks: convert it to H.264 or MPEG-4 (.mp4)"
        )
    frames_read = 1
    height, width = first.shape[:2]  # already upright: ORIENTATION_AUTO applies the rotation
    if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        ok, _ = cap.read()
        t = cap.get(cv2.CAP_PROP_POS_MSEC)
        frames_read += 1
        fps = 1000.0 / t if ok and t > 0 else 0.0
        if not (0 < fps <= MAX_FPS):
            raise ProbeError("its frame rate cannot be determined, so its length is unknown; re-encode it to .mp4")
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)  # start again, so the first frame is counted once
        ok, first = cap.read()
        if not ok:
            raise ProbeError("its video frames cannot be decoded after the first ones; re-encode it to .mp4")

    frame_ms = 1000.0 / fps
    samples: dict[int, np.ndarray] = {}
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    if announced <= 0 or announced * width * height <= SEQUENTIAL_PIXEL_BUDGET:
        counted, n_read, samples, pairs, clock = _read_through(cap, first, announced)
        frames_read += n_read
    else:
        # A complete MP4 (every box inside the file) has an exact sample table: no need to check the end.
        trust_count = container.kind == "mp4" and not container.truncated and bool(container.handlers)
        counted, n_read, samples, pairs, clock = _read_by_seeking(
            cap, announced, check_end=not trust_count, by_time=container.kind == "matroska", fps=fps)
        frames_read += n_read

    # Decoded length by timestamps (the last frame's start plus one frame); the count is the fallback
    # for files whose frames carry no usable timestamps.
    end_ms = clock.end_ms(frame_ms)
    decoded_ms = end_ms if end_ms is not None else counted * frame_ms
    expected_ms = announced * frame_ms  # the header's length: exact frames for MP4/AVI, duration for Matroska
    if announced > 0 and decoded_ms < expected_ms * COMPLETE_FRACTION - frame_ms:
        raise ProbeError(
            f"the file is incomplete: only {_seconds(decoded_ms)} of its {_seconds(expected_ms)} "
            "can be decoded (cut off, e.g. by an interrupted copy); copy it again"
        )
    duration_ms = round(decoded_ms)
    if duration_ms < MIN_DURATION_MS:
        raise ProbeError(
            f"it is too short to be a clip ({counted} frame{'s' if counted != 1 else ''}, {_seconds(duration_ms)}); "
            f"clips must last at least {_seconds(MIN_DURATION_MS)}"
        )
    frames = [samples[i] for i in sorted(samples)] or [_keep(first)]
    features = compute_features(frames, pairs)
    assert len(features) == len(FEATURE_NAMES)
    return ProbeInfo(
        duration_ms=duration_ms,
        fps=round(fps, 3),
        width=int(width),
        height=int(height),
        rotation=rotation,
        frame_count=counted,
        codec=codec,
        features=features,
        poster=_poster(frames[0]),
        frames_read=frames_read,
    )


class _Clock:
    """The latest presentation time seen while grabbing frames, and the gap before it (the last frame's length)."""

    def __init__(self) -> None:
        self.last: float | None = None
        self.gap: float | None = None

    def see(self, cap: cv2.VideoCapture) -> None:
        t = cap.get(cv2.CAP_PROP_POS_MSEC)
        if not (math.isfinite(t) and t >= 0):
            return
        if self.last is not None and t > self.last:
            self.gap = t - self.last
        if self.last is None or t > self.last:
            self.last = t

    def end_ms(self, frame_ms: float) -> float | None:
        """Where the last frame ends: its start plus the gap before it (one nominal frame if unknown)."""
        if self.last is None or self.last <= 0:
            return None
        gap = self.gap
        if gap is None or gap >= 4 * frame_ms or abs(gap - frame_ms) <= 1.5:  # ms-rounded stamps (Matroska)
            gap = frame_ms
        return self.last + gap


def _read_through(cap: cv2.VideoCapture, first: np.ndarray, announced: int):
    """Small clips: decode straight through (cheaper than seeking), keep frames at the sample points.

    Returns (frames, frames read, samples, pairs, _Clock)."""
    wanted = set(_sample_indices(announced)) if announced > 0 else {0}
    samples: dict[int, np.ndarray] = {}
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    prev_kept: tuple[int, np.ndarray] | None = None
    if 0 in wanted:
        first = _keep(first)
        samples[0] = first
        prev_kept = (0, first)
    index, n_read = 1, 0
    clock = _Clock()
    clock.see(cap)
    while cap.grab():
        n_read += 1
        clock.see(cap)
        if index in wanted or (prev_kept is not None and prev_kept[0] == index - 1):
            ok, frame = cap.retrieve()
            if ok:
                frame = _keep(frame)
                if prev_kept is not None and prev_kept[0] == index - 1:
                    pairs.append((prev_kept[1], frame))
                if index in wanted:
                    samples[index] = frame
                    prev_kept = (index, frame)
        index += 1
    return index, n_read, samples, pairs, clock


def _clock_from(cap: cv2.VideoCapture, index: int) -> tuple[_Clock, int]:
    """Seek near frame ``index`` and decode to the end: (the frames' clock, frames read)."""
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    clock, n = _Clock(), 0
    while cap.grab():
        n += 1
        clock.see(cap)
    return clock, n


def _read_by_seeking(cap: cv2.VideoCapture, announced: int, check_end: bool = True, by_time: bool = False,
                     fps: float = 30.0):
    """Big or long clips: seek to each sample point, read two frames, then check the end exists.

    ``by_time`` (Matroska/WebM): the frame count is only duration x nominal rate, so the end is found
    by decoding the last seconds and reading their timestamps, never by seeking to a frame number.
    Returns (frames, frames read, samples, pairs, _Clock)."""
    samples: dict[int, np.ndarray] = {}
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    n_read = 0
    for i in _sample_indices(announced):
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok_a, a = cap.read()
        ok_b, b = cap.read()
        n_read += int(ok_a) + int(ok_b)
        a = _keep(a) if ok_a else a
        b = _keep(b) if ok_b else b
        if ok_a:
            samples[i] = a
        if ok_a and ok_b:
            pairs.append((a, b))
    if not check_end:
        return announced, n_read, samples, pairs, _Clock()
    if by_time:
        for back_s in (2, 10, 60):  # back from the end until a keyframe with frames after it is found
            clock, n = _clock_from(cap, max(0, announced - round(back_s * fps)))
            n_read += n
            if clock.last is not None:
                return announced, n_read, samples, pairs, clock
        clock, n = _clock_from(cap, 0)
        return n, n_read + n, samples, pairs, clock
    cap.set(cv2.CAP_PROP_POS_FRAMES, announced - 1)
    ok = cap.grab()
    n_read += int(ok)
    if ok:
        return announced, n_read, samples, pairs, _Clock()
    # The header promises more than the file holds: count what really decodes (whole file, rare path).
    clock, counted = _clock_from(cap, 0)
    return counted, n_read + counted, samples, pairs, clock
