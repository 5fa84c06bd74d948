"""The playback slot on its own, and the interpreter-abort regression of PySide6 6.12.0."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize
from PySide6.QtWidgets import QWidget

from feedapp.core.catalog import Catalog
from feedapp.core.feed import Feed
from feedapp.ui.player import SlotPlayer
from tests.clipgen import make_clip
from tests.ui.conftest import clip_for
from tests.ui.helpers import centre_rgb, close_to, rotate_mp4, spin


def test_preload_shows_first_frame_paused_then_plays(qtbot, ui_clips):
    slot = SlotPlayer(muted=True)
    slot.set_target(QSize(135, 240))
    with qtbot.waitSignal(slot.frame_ready, timeout=3000):
        slot.load(ui_clips[0], preload=True)
    assert slot.image is not None and slot.image.size() == QSize(135, 240)  # scaled once, aspect kept
    assert not slot.is_playing() and not slot.has_moving_frame()
    spin(150)
    assert slot.frame_seq == 1, "paused: no new frames"
    slot.play()
    qtbot.waitUntil(slot.has_moving_frame, timeout=3000)
    assert slot.is_playing() and slot.frame_seq >= 2
    slot.load(None)


def test_missing_file_fails_with_a_plain_message(qtbot, ui_clips, tmp_path):
    from dataclasses import replace

    gone = replace(ui_clips[0], id="gone", path=str(tmp_path / "gone.mp4"))
    slot = SlotPlayer(muted=True)
    with qtbot.waitSignal(slot.failed, timeout=5000) as blocker:
        slot.load(gone)
    clip, message = blocker.args
    assert clip == gone and "could not be opened" in message and slot.failed_now


def test_rotation_metadata_is_applied_once(qtbot, tmp_path):
    """A landscape-stored file tagged 90 degrees (like a phone video) displays portrait, not twice-rotated."""
    src = make_clip(tmp_path / "flat.mp4", size=(320, 180), colour=(30, 30, 230))
    rotated = rotate_mp4(src, tmp_path / "rot90.mp4", 90)
    clip = clip_for(rotated, "phones")
    slot = SlotPlayer(muted=True)
    with qtbot.waitSignal(slot.frame_ready, timeout=3000):
        slot.load(clip)
    assert slot.reported_rotation == 90
    assert (slot.image_size.width(), slot.image_size.height()) == (180, 320)  # upright: portrait
    slot.load(None)

    # and in the view: a portrait frame fills the height of a portrait window
    from feedapp.ui.window import PlayerWindow

    w = PlayerWindow(Feed(Catalog([clip])), muted=True)
    qtbot.addWidget(w)
    w.resize(330, 480)  # wider than 9:16: the upright frame fills the height, bars left and right
    w.show()
    with qtbot.waitSignal(w.view.arrived, timeout=5000):
        w.view.start()
    spin(50)
    pm = w.view.slot(0).image
    assert pm.height() == w.view.height() and pm.width() < w.view.width()
    assert close_to(centre_rgb(w.view, dy=-0.4), (230, 30, 30))  # video near the top edge, not a bar
    w.view.shutdown()


def test_frames_are_converted_once_and_cheaply(qtbot, ui_clips):
    slot = SlotPlayer(muted=True)
    slot.set_target(QSize(270, 480))
    slot.load(ui_clips[1])
    slot.play()
    spin(700)
    assert slot.frame_seq >= 10
    per_frame_ms = slot.convert_ns_total / slot.frame_seq / 1e6
    assert per_frame_ms < 15, f"{per_frame_ms:.1f} ms per frame"
    slot.load(None)


def test_tens_of_thousands_of_void_qt_calls_survive(qtbot):
    """PySide6 6.12.0 aborted CPython 3.11 here ('Fatal Python error: none_dealloc'); 6.11.3 is fine."""
    w = QWidget()
    qtbot.addWidget(w)
    total = 0
    for i in range(50_000):
        w.update()  # returns None: the call that wore out Py_None's refcount on the broken build
        p = QPoint(i, -i)
        total += p.x() + p.y()
        w.setProperty("n", None)
    assert total == 0


def test_stall_status_is_reported_as_start_and_end(qtbot, window, ui_clips):
    """Local files never stall, so the player's status change is delivered by hand to the real slot."""
    from PySide6.QtMultimedia import QMediaPlayer

    view = window.view
    with qtbot.waitSignal(view.arrived, timeout=5000):
        view.start()
    slot = view.slot(0)
    with qtbot.waitSignal(view.stall_started, timeout=1000) as started:
        slot.player.mediaStatusChanged.emit(QMediaPlayer.MediaStatus.StalledMedia)
    with qtbot.waitSignal(view.stall_ended, timeout=1000) as ended:
        slot.player.mediaStatusChanged.emit(QMediaPlayer.MediaStatus.BufferedMedia)
    assert started.args[0].kind == "stall_start" and ended.args[0].kind == "stall_end"
    assert started.args[0].clip == view.current_clip and started.args[0].ns <= ended.args[0].ns


def test_rotation_known_only_from_probing_is_applied(qtbot, tmp_path):
    """If Qt reports no rotation but the probe found one (Clip.rotation), the slot turns the frame itself."""
    from dataclasses import replace

    src = make_clip(tmp_path / "flat.mp4", size=(320, 180), colour=(30, 30, 230))
    clip = replace(clip_for(src, "phones"), rotation=90, width=180, height=320)
    slot = SlotPlayer(muted=True)
    with qtbot.waitSignal(slot.frame_ready, timeout=3000):
        slot.load(clip)
    assert slot.reported_rotation == 0
    assert (slot.image_size.width(), slot.image_size.height()) == (180, 320)
    slot.load(None)
