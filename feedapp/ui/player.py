"""One playback slot: a QMediaPlayer decoding into a QVideoSink, with the newest frame kept as a small image.

Why a sink and not a QVideoWidget: a QVideoWidget never shows up in ``grab()`` and cannot be moved
smoothly beside a second clip during a swipe. Each new frame is handed to the slot's
:class:`~feedapp.ui.frames.FrameConverter`, which scales and converts it on its own thread into an
image the size of the view, so the UI thread's work per frame (taking the frame, installing the
image, painting it) does not grow with the source: a 4K phone clip costs it what a 540p one does.
Only the newest frame is converted; stale ones are dropped (see ARCHITECTURE.md, "Real phone clips").

Rotation: on this Qt (6.11, FFmpeg backend) the rotation from the file's display matrix lives in
``frame.surfaceFormat().rotation()``; the converter turns the image by it. When Qt reports no
rotation but probing found one (``Clip.rotation``), that one is used (see tests/ui/test_player.py).

Slots are recycled: the swipe view keeps three (previous, current, next) and loads new clips into
them with :meth:`load`, instead of creating players per swipe (steady memory over hundreds of swipes).
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QImage, QPixmap, QTransform
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer, QVideoFrame, QVideoSink

from feedapp.core.model import Clip
from feedapp.media.scan import changed_since_scan
from feedapp.ui.frames import FrameConverter, frame_rotation


def _no_op() -> None:
    pass


def settle_notify_overrides(*objects: QObject) -> None:
    """Let PySide find out, on this (the UI) thread, that these objects have no Python ``connectNotify`` or
    ``disconnectNotify``, so Qt Multimedia's own threads never need the GIL when they call them.

    Why: an object made from Python is a shiboken wrapper whose C++ virtuals first look for a Python
    override, taking the GIL, until one lookup found none (then a cache skips it). The FFmpeg backend
    connects its worker objects to the player's, sink's and audio output's signals and destroys them
    on its own threads; ``QObject::~QObject`` calls the *sender's* ``disconnectNotify`` while it holds
    Qt's signal-slot mutex. With a cold cache that thread then waits for the GIL while the UI thread,
    holding the GIL inside ``QMediaPlayer.stop()``/``setSource()``, waits for the same mutex: the window
    freezes for good (seen with py-spy; in a stress loop of fresh players it happened within ~100 loads).
    One connect and disconnect from here fills both caches before any backend thread exists.
    """
    for obj in objects:
        obj.objectNameChanged.connect(_no_op)
        obj.objectNameChanged.disconnect(_no_op)


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

    frame_ready = Signal()  # a new frame was converted into ``image``
    failed = Signal(object, str)  # (clip, message): the clip cannot be played
    loop_completed = Signal(object, int, object)  # (clip, completed loops so far, monotonic ns)
    stall_changed = Signal(object, bool, object)  # (clip, stalled?, monotonic ns)
    _converted = Signal()  # from the converter thread: a result is waiting (delivered on the UI thread)
    # The path before issue 12, kept as the benchmarks' baseline only: every frame converted at full size
    # (toImage), scaled and turned into a pixmap on the UI thread as it arrives.
    convert_on_ui_thread = False

    def __init__(self, parent: QObject | None = None, *, muted: bool = False) -> None:
        super().__init__(parent)
        self.player = QMediaPlayer(self)
        self.sink = QVideoSink(self)
        self.audio = QAudioOutput(self)
        settle_notify_overrides(self.player, self.sink, self.audio)  # before the backend's threads exist
        self.audio.setMuted(muted)
        self.player.setAudioOutput(self.audio)
        self.player.setVideoSink(self.sink)
        self.player.setLoops(QMediaPlayer.Loops.Infinite)
        self.sink.videoFrameChanged.connect(self._on_frame)
        self.player.positionChanged.connect(self._on_position)
        self.player.durationChanged.connect(self._on_duration)
        self.player.errorOccurred.connect(self._on_error)
        self.player.mediaStatusChanged.connect(self._on_status)
        self._converter = FrameConverter(self._converted.emit)
        self._converted.connect(self._install)
        self.destroyed.connect(self._converter.close)
        self.target = QSize(0, 0)  # the size frames are scaled to (the view's size)
        self.generation = 0  # loads so far: results of frames from an earlier clip are dropped
        # lifetime counters for the benchmarks (not reset when recycled)
        self.frames_total = 0  # frames installed (converted and shown)
        self.arrived_total = 0  # frames delivered by the decoder
        self.ui_ns_total = 0  # time on the UI thread: taking frames and installing images
        self.convert_ns_total = 0  # time on the converter thread for the installed frames
        self._reset(None)

    # -- state ------------------------------------------------------------------------------------
    def _reset(self, clip: Clip | None) -> None:
        self.clip: Clip | None = clip
        self.image: QImage | None = None  # the newest converted frame, upright, fitted to ``target``
        self._last_frame: QVideoFrame | None = None  # kept to convert again after a resize
        self.image_size = QSize(0, 0)  # display size of the source (rotation applied) of the last frame
        self.arrived_seq = 0  # frames the decoder delivered since load
        self.frame_seq = 0  # arrival number of the frame now in ``image``
        self.frame_ns = 0  # monotonic ns when the image was installed
        self.play_mark: int | None = None  # arrived_seq when play() was called; None if never played
        self.loops = 0
        self.position_ms = 0
        self.duration_ms = clip.duration_ms if clip else 0
        self.error: str | None = None
        self.stalled = False
        self.reported_rotation = 0

    @property
    def dropped_frames(self) -> int:
        """Frames that a newer one replaced before they were converted (lifetime count)."""
        return self._converter.dropped

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
        self.generation += 1
        self._converter.discard()
        self._reset(clip)
        if clip is None:
            self.player.setSource(QUrl())
            return
        changed = changed_since_scan(clip)
        if changed is not None:  # not played: the log would hold figures of another video under this clip
            self.player.setSource(QUrl())
            generation = self.generation
            QTimer.singleShot(0, lambda: self._fail_loaded(generation, changed))  # from the event loop, as Qt's errors
            return
        self.player.setSource(QUrl.fromLocalFile(clip.path))
        if preload:
            self.player.pause()  # decodes and shows the first frame without running the clock

    def play(self) -> None:
        if self.clip is None or self.error is not None:
            return
        self.play_mark = self.arrived_seq
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
        """Scale future frames to ``size``; convert the frame on screen again so a resize never shows a stale size."""
        if size == self.target:
            return
        self.target = QSize(size)
        if self._last_frame is not None:
            self._submit(self._last_frame, self.frame_seq)

    def close(self) -> None:
        """Stop the converter thread (the slot is not used again)."""
        self.load(None)
        self._converter.close()

    # -- Qt callbacks ---------------------------------------------------------------------------
    def _submit(self, frame: QVideoFrame, seq: int) -> None:
        clip = self.clip
        assert clip is not None
        self._converter.submit(frame, self.target, frame_rotation(frame, clip.rotation), seq, self.generation)

    def _on_frame(self, frame: QVideoFrame) -> None:
        """UI thread: take the frame (a reference, no pixel work) and hand it to the converter."""
        if self.clip is None or not frame.isValid():
            return
        t0 = time.monotonic_ns()
        frame = QVideoFrame(frame)  # our own reference: the sink's may be reused
        self.arrived_seq += 1
        self.arrived_total += 1
        self._last_frame = frame
        self.reported_rotation = int(frame.surfaceFormat().rotation().value)
        if self.convert_on_ui_thread:
            self._convert_inline(frame, t0)
            return
        self._submit(frame, self.arrived_seq)
        self.ui_ns_total += time.monotonic_ns() - t0

    def _convert_inline(self, frame: QVideoFrame, t0: int) -> None:
        """The baseline path (see ``convert_on_ui_thread``): full-size toImage, scale and pixmap, here."""
        assert self.clip is not None
        image = frame.toImage()
        if image.isNull():
            return
        if self.reported_rotation == 0 and self.clip.rotation % 360:
            image = image.transformed(QTransform().rotate(self.clip.rotation % 360))
        self.image_size = image.size()
        t = self.target
        if t.width() > 0 and t.height() > 0:
            size = image.size().scaled(t, Qt.AspectRatioMode.KeepAspectRatio)
            image = image.convertToFormat(QImage.Format.Format_RGB32)
            src = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
            src = src.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width()]
            out = cv2.resize(src, (size.width(), size.height()), interpolation=cv2.INTER_LINEAR)  # as before
            image = QImage(out.data, size.width(), size.height(), size.width() * 4, QImage.Format.Format_RGB32).copy()
        self.image = QPixmap.fromImage(image)  # type: ignore[assignment] - painted like a QImage
        self.frame_seq = self.arrived_seq
        self.frame_ns = time.monotonic_ns()
        self.frames_total += 1
        self.ui_ns_total += self.frame_ns - t0
        self.frame_ready.emit()

    def _install(self) -> None:
        """UI thread: the converter finished a frame; show it if it is still this clip's newest."""
        t0 = time.monotonic_ns()
        done = self._converter.take()
        if done is None or done.generation != self.generation or self.clip is None or done.seq < self.frame_seq:
            return
        self.image = done.image
        rotation = frame_rotation(self._last_frame, self.clip.rotation) if self._last_frame is not None else 0
        if self._last_frame is not None:
            size = self._last_frame.size()
            self.image_size = size.transposed() if rotation % 180 == 90 else size
        self.frame_seq = done.seq
        self.frame_ns = time.monotonic_ns()
        self.frames_total += 1
        self.convert_ns_total += done.convert_ns
        self.ui_ns_total += self.frame_ns - t0
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

    def _fail_loaded(self, generation: int, message: str) -> None:
        """The clip loaded in ``generation`` fails with ``message`` (unless the slot was loaded again since)."""
        if generation == self.generation and self.clip is not None and self.error is None:
            self.error = message
            self.failed.emit(self.clip, message)

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
