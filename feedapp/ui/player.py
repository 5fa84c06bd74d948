"""One playback slot: a QMediaPlayer decoding into a QVideoSink, with the latest frame kept as a pixmap.

Why a sink and not a QVideoWidget: a QVideoWidget never shows up in ``grab()`` and cannot be moved
smoothly beside a second clip during a swipe. Each new frame is converted exactly once (in
``videoFrameChanged``) into a pixmap already scaled to the view, so painting a frame during the swipe
animation is a cheap blit (see ARCHITECTURE.md, "Playback facts").

Rotation: on this Qt (6.11, FFmpeg backend) the rotation from the file's display matrix lives in
``frame.surfaceFormat().rotation()`` and ``QVideoFrame.toImage()`` already applies it (a 320x180
file tagged 90 degrees converts to a 180x320 image; see tests/ui/test_player.py). So the slot does not
rotate again; only when Qt reports no rotation but probing found one (``Clip.rotation``) does it turn
the image itself.

Slots are recycled: the swipe view keeps three (previous, current, next) and loads new clips into
them with :meth:`load`, instead of creating players per swipe (steady memory over hundreds of swipes).
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QImage, QPixmap, QTransform
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer, QVideoFrame, QVideoSink

from feedapp.core.model import Clip

try:  # bilinear frame scaling; see scale_image
    import cv2 as _cv2
except ImportError:  # pragma: no cover - opencv is a dependency, but the player works without it
    _cv2 = None


def scale_image(image: QImage, width: int, height: int) -> QImage:
    """Bilinear resize, once per decoded frame.

    Measured here for a 540x960 frame into 480x854: Qt's smooth scaling 4-9 ms (made swipes stutter
    with two clips decoding at once), Qt's fast scaling 0.5 ms but nearest-neighbour (jagged text),
    OpenCV's bilinear resize about 1.3 ms. OpenCV is a dependency already (probing); Qt's fast scaling
    is the fallback.
    """
    if _cv2 is None or image.format() not in (QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32,
                                              QImage.Format.Format_ARGB32_Premultiplied):
        return image.scaled(width, height, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation)
    src = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    src = src.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width()]
    out = _cv2.resize(src, (width, height), interpolation=_cv2.INTER_LINEAR)
    # QImage over the array's memory; copy() detaches it so the pixmap never points into freed numpy memory
    return QImage(out.data, width, height, width * 4, image.format()).copy()


def _message_for(error: QMediaPlayer.Error, detail: str) -> str:
    """A sentence a researcher understands for a playback error (the backend's detail in brackets)."""
    if error == QMediaPlayer.Error.ResourceError:
        text = "the file could not be opened (missing, moved or unreadable)"
    elif error == QMediaPlayer.Error.FormatError:
        text = "the file is damaged or in a format this player cannot decode"
    elif error == QMediaPlayer.Error.AccessDeniedError:
        text = "the file cannot be read with this account's permissions"
    else:
        text = "the video could not be played"
    return f"{text} ({detail})" if detail else text


class SlotPlayer(QObject):
    """A recyclable player for one clip; exposes the latest converted frame and playback facts."""

    frame_ready = Signal()  # a new frame was converted into ``pixmap``
    failed = Signal(object, str)  # (clip, message): the clip cannot be played
    loop_completed = Signal(object, int, object)  # (clip, completed loops so far, monotonic ns)
    stall_changed = Signal(object, bool, object)  # (clip, stalled?, monotonic ns)

    def __init__(self, parent: QObject | None = None, *, muted: bool = False) -> None:
        super().__init__(parent)
        self.player = QMediaPlayer(self)
        self.sink = QVideoSink(self)
        self.audio = QAudioOutput(self)
        self.audio.setMuted(muted)
        self.player.setAudioOutput(self.audio)
        self.player.setVideoSink(self.sink)
        self.player.setLoops(QMediaPlayer.Loops.Infinite)
        self.sink.videoFrameChanged.connect(self._on_frame)
        self.player.positionChanged.connect(self._on_position)
        self.player.durationChanged.connect(self._on_duration)
        self.player.errorOccurred.connect(self._on_error)
        self.player.mediaStatusChanged.connect(self._on_status)
        self.target = QSize(0, 0)  # the size frames are scaled to (the view's size)
        self.frames_total = 0  # lifetime counters for the benchmarks (not reset when recycled)
        self.convert_ns_total = 0
        self._reset(None)

    # -- state ------------------------------------------------------------------------------------
    def _reset(self, clip: Clip | None) -> None:
        self.clip: Clip | None = clip
        self.pixmap: QPixmap | None = None
        self._last_image: QImage | None = None
        self.image_size = QSize(0, 0)  # converted (display) size of the last frame, rotation applied
        self.frame_seq = 0  # frames converted since load
        self.frame_ns = 0  # monotonic ns of the last converted frame
        self.play_mark: int | None = None  # frame_seq when play() was called; None if never played
        self.loops = 0
        self.position_ms = 0
        self.duration_ms = clip.duration_ms if clip else 0
        self.error: str | None = None
        self.stalled = False
        self.reported_rotation = 0

    @property
    def failed_now(self) -> bool:
        return self.error is not None

    def has_moving_frame(self) -> bool:
        """True once a frame decoded *after* ``play()`` was converted: the clip is visibly moving."""
        return self.play_mark is not None and self.frame_seq > self.play_mark

    # -- control ----------------------------------------------------------------------------------
    def load(self, clip: Clip | None, *, preload: bool = True) -> None:
        """Recycle this slot for ``clip``; with ``preload`` decode its first frame now (paused)."""
        self.player.stop()
        self._reset(clip)
        if clip is None:
            self.player.setSource(QUrl())
            return
        self.player.setSource(QUrl.fromLocalFile(clip.path))
        if preload:
            self.player.pause()  # decodes and shows the first frame without running the clock

    def play(self) -> None:
        if self.clip is None or self.error is not None:
            return
        self.play_mark = self.frame_seq
        self.player.play()

    def pause(self) -> None:
        if self.clip is not None and self.error is None:
            self.player.pause()

    def rewind(self) -> None:
        """Back to the first frame, paused, loop count cleared: a clip left behind or a cancelled swipe's
        neighbour starts from the beginning when it is shown again (each impression plays from 0)."""
        if self.clip is not None and self.error is None:
            self.player.pause()
            self.player.setPosition(0)
            self.play_mark = None
            self.loops = 0
            self.position_ms = 0

    def is_rewound(self) -> bool:
        return self.play_mark is None and self.position_ms < 100 and not self.is_playing()

    def is_playing(self) -> bool:
        return self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def set_muted(self, muted: bool) -> None:
        self.audio.setMuted(muted)

    def set_target(self, size: QSize) -> None:
        """Scale future frames to ``size``; rescale the frame on screen now so a resize never shows a stale size."""
        if size == self.target:
            return
        self.target = QSize(size)
        if self._last_image is not None and not self._last_image.isNull():
            self.pixmap = self._scaled(self._last_image)

    # -- Qt callbacks ---------------------------------------------------------------------------
    def _scaled(self, image: QImage) -> QPixmap:
        t = self.target
        if t.width() > 0 and t.height() > 0 and image.size() != t:
            size = image.size().scaled(t, Qt.AspectRatioMode.KeepAspectRatio)
            image = scale_image(image, size.width(), size.height())
        return QPixmap.fromImage(image)

    def _on_frame(self, frame: QVideoFrame) -> None:
        if self.clip is None or not frame.isValid():
            return
        t0 = time.monotonic_ns()
        image = frame.toImage()  # applies the file's rotation on this Qt (see module docstring)
        if image.isNull():
            return
        self.reported_rotation = int(frame.surfaceFormat().rotation().value)
        if self.reported_rotation == 0 and self.clip.rotation % 360:
            # Probing found a rotation that Qt did not report (so toImage did not apply it): turn it here.
            image = image.transformed(QTransform().rotate(self.clip.rotation % 360))
        self._last_image = image
        self.image_size = image.size()
        self.pixmap = self._scaled(image)
        self.frame_seq += 1
        self.frame_ns = time.monotonic_ns()
        self.frames_total += 1
        self.convert_ns_total += self.frame_ns - t0
        self.frame_ready.emit()

    def _on_position(self, pos: int) -> None:
        # With infinite loops Qt never reports EndOfMedia; a jump back to the start is a completed loop.
        dur = self.duration_ms or 0
        if dur > 0 and pos + max(250, dur // 2) < self.position_ms:
            self.loops += 1
            self.loop_completed.emit(self.clip, self.loops, time.monotonic_ns())
        self.position_ms = pos

    def _on_duration(self, dur: int) -> None:
        if dur > 0:
            self.duration_ms = dur

    def _on_error(self, error: QMediaPlayer.Error, detail: str) -> None:
        if error == QMediaPlayer.Error.NoError or self.clip is None or self.error is not None:
            return
        self.error = _message_for(error, detail)
        self.failed.emit(self.clip, self.error)

    def _on_status(self, status: QMediaPlayer.MediaStatus) -> None:
        S = QMediaPlayer.MediaStatus
        if status == S.InvalidMedia and self.error is None and self.clip is not None:
            self._on_error(QMediaPlayer.Error.FormatError, "invalid media")
        elif status == S.StalledMedia and not self.stalled:
            self.stalled = True
            self.stall_changed.emit(self.clip, True, time.monotonic_ns())
        elif self.stalled and status in (S.BufferedMedia, S.LoadedMedia, S.EndOfMedia):
            self.stalled = False
            self.stall_changed.emit(self.clip, False, time.monotonic_ns())
