"""Turn decoded video frames into small upright RGB images, off the UI thread, newest frame first.

Why: converting a frame on the UI thread costs time that grows with the source. A 2160x3840 phone
clip took 30-135 ms per frame in ``QVideoFrame.toImage()`` alone (then a scale), which froze swipes
for seconds and, because each queued frame holds a 12 MB picture, grew memory by gigabytes. Here the
UI thread only hands the frame over (a reference, well under a millisecond at any resolution) and a
converter thread does the rest:

- For planar YUV 4:2:0 (what FFmpeg's software decoders give for H.264, HEVC, VP9, MPEG-4 and
  MJPEG) it scales the three planes straight to the view's size and converts only those pixels to
  RGB: a 4K frame is never turned into a 4K RGB picture. The colour matrix follows the frame's tags
  (BT.709 or BT.601, full or video range; untagged is BT.601 video range, as in Qt's conversion).
- Anything else (10-bit HDR, NV12 from a hardware decoder, ...) goes through Qt's own
  ``toImage()``, still on the converter thread, then the same scale.
- Rotation from the file's display matrix (``surfaceFormat().rotation()``) and mirroring are applied
  to the small image.

Queues are bounded at one: :class:`FrameConverter` keeps only the newest frame handed to it (a frame
not converted yet when a newer one arrives is dropped) and only the newest result.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QTransform
from PySide6.QtMultimedia import QVideoFrame, QVideoFrameFormat

try:
    import cv2 as _cv2

    _cv2.setNumThreads(1)  # one converter thread per slot; OpenCV's own pool would only fight the decoder
except ImportError:  # pragma: no cover - opencv is a dependency
    _cv2 = None

_PF = QVideoFrameFormat.PixelFormat
_PLANAR_420 = (_PF.Format_YUV420P, _PF.Format_YV12)


def _matrix(bt709: bool, full_range: bool) -> np.ndarray:
    """A 4x4 matrix taking (Y, Cb, Cr, 1)-like pixels to (B, G, R, 255): the byte order of QImage.Format_RGB32."""
    kr, kb = (0.2126, 0.0722) if bt709 else (0.299, 0.114)
    kg = 1 - kr - kb
    ys, cs = (1.0, 1.0) if full_range else (255 / 219, 255 / 224)
    y0 = 0 if full_range else 16
    r_v = 2 * (1 - kr) * cs
    b_u = 2 * (1 - kb) * cs
    g_u = -2 * (1 - kb) * kb / kg * cs
    g_v = -2 * (1 - kr) * kr / kg * cs
    rows = []
    for cu, cv in ((b_u, 0.0), (g_u, g_v), (0.0, r_v)):  # B, G, R
        rows.append([ys, cu, cv, -ys * y0 - 128 * (cu + cv)])
    rows.append([0.0, 0.0, 0.0, 255.0])
    return np.array(rows, np.float32)


_MATRICES = {(bt709, full): _matrix(bt709, full) for bt709 in (False, True) for full in (False, True)}


def _resize(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale one plane. Large reductions first average whole blocks (OpenCV's fast integer area path),
    then interpolate the rest, so a 4K plane is neither aliased nor averaged at full cost."""
    h, w = plane.shape[:2]
    k = int(min(w / max(1, width), h / max(1, height)))
    if k >= 2:
        plane = _cv2.resize(plane, (w // k, h // k), interpolation=_cv2.INTER_AREA)
    if plane.shape[1] != width or plane.shape[0] != height:
        plane = _cv2.resize(plane, (width, height), interpolation=_cv2.INTER_LINEAR)
    return plane


def _is_bt709(fmt: QVideoFrameFormat) -> bool:
    cs = fmt.colorSpace()
    CS = QVideoFrameFormat.ColorSpace
    if cs == CS.ColorSpace_BT601:
        return False
    return cs in (CS.ColorSpace_BT709, CS.ColorSpace_BT2020)  # untagged: BT.601, as Qt's own conversion does


def display_size(stored: QSize, rotation: int) -> QSize:
    return stored.transposed() if rotation % 180 == 90 else QSize(stored)


def fit(size: QSize, target: QSize) -> QSize:
    """``size`` scaled to fit inside ``target`` with its aspect kept (``size`` itself when target is empty)."""
    if target.width() <= 0 or target.height() <= 0 or size.isEmpty():
        return QSize(size)
    out = size.scaled(target, Qt.AspectRatioMode.KeepAspectRatio)
    return QSize(max(1, out.width()), max(1, out.height()))


def _rotate(bgra: np.ndarray, rotation: int, mirrored: bool) -> np.ndarray:
    if mirrored:
        bgra = bgra[:, ::-1]
    if rotation == 90:
        bgra = _cv2.rotate(bgra, _cv2.ROTATE_90_CLOCKWISE)
    elif rotation == 180:
        bgra = _cv2.rotate(bgra, _cv2.ROTATE_180)
    elif rotation == 270:
        bgra = _cv2.rotate(bgra, _cv2.ROTATE_90_COUNTERCLOCKWISE)
    return np.ascontiguousarray(bgra)


def _image_from(bgra: np.ndarray) -> QImage:
    h, w = bgra.shape[:2]
    # QImage over the array's memory; copy() detaches it so the image never points into freed numpy memory
    return QImage(bgra.data, w, h, w * 4, QImage.Format.Format_RGB32).copy()


def frame_rotation(frame: QVideoFrame, fallback: int = 0) -> int:
    """Clockwise degrees to display the frame upright: Qt's reading of the file, else what probing found."""
    r = int(frame.surfaceFormat().rotation().value) % 360
    return r if r else fallback % 360


def convert(frame: QVideoFrame, target: QSize, rotation: int) -> QImage | None:
    """The frame upright (turned by ``rotation``), scaled to fit ``target`` (aspect kept), as an RGB32
    image; None if it cannot be read."""
    fmt = frame.surfaceFormat()
    mirrored = bool(frame.mirrored()) if hasattr(frame, "mirrored") else False
    out = fit(display_size(frame.size(), rotation), target)
    stored = display_size(out, rotation)  # the output size before turning
    sw, sh = stored.width(), stored.height()
    if _cv2 is not None and fmt.pixelFormat() in _PLANAR_420 and frame.map(QVideoFrame.MapMode.ReadOnly):
        try:
            w, h = frame.width(), frame.height()
            cw, ch = (w + 1) // 2, (h + 1) // 2
            planes = []
            for i, (pw, ph) in enumerate(((w, h), (cw, ch), (cw, ch))):
                bpl = frame.bytesPerLine(i)
                buf = np.frombuffer(frame.bits(i), np.uint8, count=bpl * ph).reshape(ph, bpl)[:, :pw]
                planes.append(_resize(buf, sw, sh))
        finally:
            frame.unmap()
        y, u, v = planes
        if fmt.pixelFormat() == _PF.Format_YV12:
            u, v = v, u
        full = fmt.colorRange() == QVideoFrameFormat.ColorRange.ColorRange_Full
        bgra = _cv2.transform(_cv2.merge([y, u, v, np.ones_like(y)]), _MATRICES[(_is_bt709(fmt), full)])
        return _image_from(_rotate(bgra, rotation, mirrored))
    image = frame.toImage()  # Qt's conversion (it applies the file's rotation itself)
    if image.isNull():
        return None
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    qt_rotation = int(fmt.rotation().value) % 360
    extra = (rotation - qt_rotation) % 360  # a rotation known only from probing: Qt did not apply it
    src = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    src = src.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width()]
    pre = display_size(out, extra)
    if _cv2 is None:
        scaled = image.scaled(pre, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
        return scaled.transformed(QTransform().rotate(extra)) if extra else scaled
    return _image_from(_rotate(_resize(src, pre.width(), pre.height()), extra, False))


@dataclass
class Converted:
    image: QImage
    seq: int  # the arrival number of the frame it came from
    generation: int  # the slot's load count when the frame arrived (older results are stale)
    convert_ns: int


class FrameConverter:
    """One thread converting the newest frame handed to it; ``on_done`` is called (from that thread) after each.

    ``submit`` replaces any frame still waiting: at most one frame waits and one result is kept, so
    memory cannot grow with a slow converter, and the picture on screen is always the newest one.
    """

    def __init__(self, on_done: Callable[[], None], name: str = "feedapp-frames") -> None:
        self._on_done = on_done
        self._cond = threading.Condition()
        self._job: tuple | None = None
        self._result: Converted | None = None
        self._closed = False
        self.dropped = 0  # frames replaced before they were converted (stale)
        self.converted = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, frame: QVideoFrame, target: QSize, rotation: int, seq: int, generation: int) -> None:
        with self._cond:
            if self._job is not None:
                self.dropped += 1
            self._job = (frame, QSize(target), rotation, seq, generation)
            self._cond.notify()

    def take(self) -> Converted | None:
        """The newest result not taken yet (None if there is none)."""
        with self._cond:
            result, self._result = self._result, None
        return result

    def discard(self) -> None:
        """Forget the waiting frame and result (the slot was recycled)."""
        with self._cond:
            self._job = None
            self._result = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._job = None
            self._cond.notify()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._job is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job, self._job = self._job, None
            frame, target, rotation, seq, generation = job
            t0 = time.monotonic_ns()
            try:
                image = convert(frame, target, rotation)
            except Exception as e:  # noqa: BLE001 - a frame that cannot be converted is skipped, never fatal
                image = None
                print(f"feedapp: a video frame could not be converted ({e})", file=sys.stderr, flush=True)
            del frame  # release the decoder's buffer before waiting for the next one
            if image is None:
                continue
            with self._cond:
                if self._closed:
                    return
                self._result = Converted(image, seq, generation, time.monotonic_ns() - t0)
                self.converted += 1
            try:
                self._on_done()
            except RuntimeError:  # the slot was deleted while this frame was converted
                return
