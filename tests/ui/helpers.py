"""Input and pixel helpers for the UI tests: real Qt events sent to real widgets, no mocks."""

from __future__ import annotations

import struct
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget


def spin(ms: float) -> None:
    """Run the event loop for ``ms`` milliseconds (players decode on their own threads meanwhile)."""
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.002)


def _mouse(widget: QWidget, kind: QEvent.Type, y: float, buttons: Qt.MouseButton, button: Qt.MouseButton) -> None:
    pos = QPointF(widget.width() / 2, y)
    ev = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def drag(widget: QWidget, y0: float, y1: float, steps: int = 8, step_ms: float = 12, hold_ms: float = 0) -> None:
    """Press, move with the left button held, (optionally hold still), release: a real mouse drag."""
    left = Qt.MouseButton.LeftButton
    _mouse(widget, QEvent.Type.MouseButtonPress, y0, left, left)
    for i in range(1, steps + 1):
        spin(step_ms)
        _mouse(widget, QEvent.Type.MouseMove, y0 + (y1 - y0) * i / steps, left, Qt.MouseButton.NoButton)
    if hold_ms:
        spin(hold_ms)
        _mouse(widget, QEvent.Type.MouseMove, y1, left, Qt.MouseButton.NoButton)
    _mouse(widget, QEvent.Type.MouseButtonRelease, y1, Qt.MouseButton.NoButton, left)


def press_move(widget: QWidget, y0: float, y1: float) -> None:
    """Press and move, without releasing (to look at the view mid-swipe)."""
    left = Qt.MouseButton.LeftButton
    _mouse(widget, QEvent.Type.MouseButtonPress, y0, left, left)
    for i in range(1, 5):
        _mouse(widget, QEvent.Type.MouseMove, y0 + (y1 - y0) * i / 4, left, Qt.MouseButton.NoButton)


def release(widget: QWidget, y: float) -> None:
    _mouse(widget, QEvent.Type.MouseButtonRelease, y, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)


def hover(widget: QWidget, y: float) -> None:
    """A mouse move with no button held."""
    _mouse(widget, QEvent.Type.MouseMove, y, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)


def click(widget: QWidget) -> None:
    left = Qt.MouseButton.LeftButton
    _mouse(widget, QEvent.Type.MouseButtonPress, widget.height() / 2, left, left)
    _mouse(widget, QEvent.Type.MouseButtonRelease, widget.height() / 2, Qt.MouseButton.NoButton, left)


def wheel(widget: QWidget, angle_y: int = 0, pixel_y: int = 0, phase: Qt.ScrollPhase = Qt.ScrollPhase.NoScrollPhase) -> None:
    """One wheel notch (angle) or trackpad step (pixels), built by hand: pytest-qt has no wheel helper."""
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    ev = QWheelEvent(
        pos, widget.mapToGlobal(pos), QPoint(0, pixel_y), QPoint(0, angle_y),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, phase, False,
    )
    QApplication.sendEvent(widget, ev)


def centre_rgb(widget: QWidget, dy: float = 0.0) -> tuple[int, int, int]:
    """Average colour of a small patch around the centre (+dy) of the widget's rendering."""
    img: QImage = widget.grab().toImage()
    cx, cy = img.width() // 2, int(img.height() / 2 + dy * img.height())
    rs = gs = bs = n = 0
    for x in range(cx - 3, cx + 4):
        for y in range(cy - 3, cy + 4):
            c = QColor(img.pixel(x, y))
            rs, gs, bs, n = rs + c.red(), gs + c.green(), bs + c.blue(), n + 1
    return rs // n, gs // n, bs // n


def close_to(a: tuple[int, int, int], b: tuple[int, int, int], tol: int = 30) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def rotate_mp4(src: Path, dest: Path, degrees: int = 90) -> Path:
    """Copy an mp4 and set its video track's display matrix to a clockwise rotation (like a phone video).

    OpenCV cannot write rotation metadata and there is no ffmpeg here, so the 'tkhd' matrix is patched.
    """
    data = bytearray(Path(src).read_bytes())
    i = data.find(b"tkhd")
    if i < 0 or data[i + 4] != 0:
        raise ValueError("expected a version-0 tkhd box")
    off = i + 4 + 4 + 4 * 5 + 8 + 2 * 4  # box type, version/flags, 5 x u32, reserved, layer/group/volume/reserved
    w, h = struct.unpack(">II", data[off + 36: off + 44])
    matrices = {
        90: (0, 0x10000, 0, -0x10000, 0, 0, h, 0, 0x40000000),
        270: (0, -0x10000, 0, 0x10000, 0, 0, 0, w, 0x40000000),
    }
    data[off: off + 36] = struct.pack(">9i", *matrices[degrees])
    Path(dest).write_bytes(data)
    return Path(dest)


def live_changes(engine, view, later_clips, follow: str, reload=None):  # noqa: ANN001, ANN201
    """A slot for ``SwipeView.arrived`` that makes the live changes of a session at fixed arrivals, as
    a viewer and a developer would: a parameter change (3rd), a follow (5th), "refresh my feed" (7th),
    a plugin reload (10th, when ``reload`` is given) and catalog growth (``later_clips``, 12th).
    Returns (slot, arrivals list)."""
    arrivals: list[object] = []

    def live(arrival: object) -> None:
        arrivals.append(arrival)
        n = len(arrivals)
        if n == 3:
            engine.set_param("epsilon", 0.4)
        elif n == 5:
            engine.follow(follow)
        elif n == 7:
            engine.refresh()
        elif n == 10 and reload is not None:
            reload()
        elif n == 12:
            engine.catalog.add(later_clips)  # the demo maker's way: the catalog grows while the feed runs
            return
        else:
            return
        view.reload_next()  # the panels' way: preload what the feed says now

    return live, arrivals


def end_and_read_back(bridge, view, log, path: Path, session_id: str):  # noqa: ANN001, ANN201
    """End the window's session (quit), close the log and read the session back as replay reads it."""
    from feedapp.store.replay_log import read_logged_session
    from feedapp.store.sessions import open_for_reading

    bridge.end("quit")
    view.shutdown()
    assert log.close()
    conn = open_for_reading(path)
    try:
        return read_logged_session(conn, session_id)
    finally:
        conn.close()


def assert_foryou_replays_exactly(logged, min_decided: int = 10) -> dict:  # noqa: ANN001
    """Replaying the serving foryou gives back every logged propensity and served clip; returns the report."""
    from feedapp.core.replay import replay

    rep = replay(logged, ["foryou"], n_boot=20)
    decided = [s for s in rep["steps"] if "foryou" in s["rankers"]]
    assert len(decided) >= min_decided
    for s in decided:
        assert abs(s["rankers"]["foryou"]["p_logged_clip"] - s["propensity"]) <= 1e-9
        assert s["rankers"]["foryou"]["drawn"] == s["clip"]
    return rep


def started_window(qtbot, feed, size: tuple[int, int] = (270, 480)):  # noqa: ANN001, ANN201
    """A muted ``PlayerWindow`` on ``feed`` (a Feed or an engine), shown at ``size`` and started;
    returns it and its first arrival."""
    from feedapp.ui.window import PlayerWindow

    w = PlayerWindow(feed, muted=True)
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    with qtbot.waitSignal(w.view.arrived, timeout=5000) as first:
        w.view.start()
    return w, first.args[0]
