"""Real phone and screen clips (tests/corpus.py, made with ffmpeg): every codec plays, upright, letterboxed,
and the UI thread's work per frame does not grow with the source's size."""

from __future__ import annotations


import numpy as np
import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QVideoFrame

from feedapp.core.catalog import Catalog
from feedapp.core.feed import Feed
from feedapp.ui.frames import convert, frame_rotation
from feedapp.ui.player import SlotPlayer
from tests.corpus import BLUE_RGB, RED_RGB, corpus_spec
from tests.ui.conftest import probed_clip
from tests.ui.helpers import close_to, spin

SPECS = {c.name: c for c in corpus_spec()}


def _rgb(img: QImage, x: float, y: float) -> tuple[int, int, int]:
    c = img.pixelColor(int(x * (img.width() - 1)), int(y * (img.height() - 1)))
    return c.red(), c.green(), c.blue()


def _pixels(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes())
    return a.reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width(), 2::-1].astype(int)  # RGB


def _first_frames(slot: SlotPlayer, qtbot, clip) -> None:
    with qtbot.waitSignal(slot.frame_ready, timeout=8000):
        slot.load(clip, preload=True)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_corpus_clip_plays_upright_with_its_colours(qtbot, corpus, name):
    spec = SPECS[name]
    slot = SlotPlayer(muted=True)
    slot.set_target(QSize(240, 427))
    _first_frames(slot, qtbot, probed_clip(corpus[name]))
    img = slot.image
    w, h = spec.size
    expected = QSize(w, h).scaled(QSize(240, 427), Qt.AspectRatioMode.KeepAspectRatio)
    assert abs(img.width() - expected.width()) <= 1 and abs(img.height() - expected.height()) <= 1
    assert close_to(_rgb(img, 0.5, 0.12), RED_RGB), _rgb(img, 0.5, 0.12)  # the red band is at the top
    assert close_to(_rgb(img, 0.5, 0.5), BLUE_RGB), _rgb(img, 0.5, 0.5)
    assert min(_rgb(img, 0.02, 0.02)) > 200, "the white square is in the top-left corner"
    slot.play()
    qtbot.waitUntil(slot.has_moving_frame, timeout=8000)
    slot.close()


def test_conversion_matches_qts_own_and_turns_the_phone_clip(qtbot, corpus):
    """Our off-thread YUV conversion gives Qt's colours (within rounding) and applies the display rotation."""
    for name in ("h264_rotated_phone.mp4", "mjpeg_540p.avi", "vp9_opus_720p.webm"):
        slot = SlotPlayer(muted=True)
        _first_frames(slot, qtbot, probed_clip(corpus[name]))
        frame = QVideoFrame(slot._last_frame)
        slot.close()
        mine = convert(frame, QSize(240, 427), frame_rotation(frame))
        theirs = frame.toImage().scaled(mine.size(), Qt.AspectRatioMode.IgnoreAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation)
        diff = np.abs(_pixels(mine) - _pixels(theirs))
        assert diff.mean() < 2.0 and np.percentile(diff, 99) <= 6, (name, diff.mean())
    assert frame_rotation(QVideoFrame()) == 0


def test_ui_thread_work_per_frame_does_not_grow_with_resolution(qtbot, corpus):
    """A 2160x3840 clip's frames are only handed over on the UI thread: compared with the old path that
    converted and scaled them there (``convert_on_ui_thread``, the baseline), the same clip costs the UI
    thread a fraction per frame. Both are timed in the same run, so a loaded machine slows both; the
    absolute figure (under 2 ms a frame) is a speed target that benchmarks/real_clips.py measures."""
    per_frame = {}
    for inline in (False, True):
        slot = SlotPlayer(muted=True)
        slot.convert_on_ui_thread = inline
        slot.set_target(QSize(270, 480))
        _first_frames(slot, qtbot, probed_clip(corpus["uhd_2160x3840_portrait.mp4"]))
        slot.play()
        qtbot.waitUntil(lambda: slot.frames_total >= 8, timeout=20000)
        per_frame[inline] = slot.ui_ns_total / slot.arrived_total / 1e6
        assert slot.image.size() == QSize(270, 480)
        slot.close()
    assert per_frame[False] < per_frame[True] * 0.5, per_frame


def test_rotated_phone_clip_is_upright_and_landscape_is_letterboxed_on_screen(qtbot, corpus):
    """Screenshots of the real view (QWidget.grab): a phone clip shot upright fills the portrait window
    the right way up; a 16:9 clip is letterboxed (black above and below), not stretched."""
    from feedapp.ui.window import PlayerWindow

    clips = [probed_clip(corpus["h264_rotated_phone.mp4"]), probed_clip(corpus["h264_1080p_landscape.mp4"])]
    w = PlayerWindow(Feed(Catalog(clips)), muted=True)
    qtbot.addWidget(w)
    w.resize(270, 480)
    w.show()
    qtbot.waitExposed(w)
    view = w.view
    with qtbot.waitSignal(view.arrived, timeout=8000):
        view.start()
    spin(100)
    shots = {view.current_clip.id: view.grab().toImage()}
    with qtbot.waitSignal(view.arrived, timeout=8000):
        view.go(1, "key")
    spin(100)
    shots[view.current_clip.id] = view.grab().toImage()
    view.shutdown()

    phone = _pixels(shots["h264_rotated_phone"])
    h, width = phone.shape[:2]
    # upright: red band across the top quarter, blue below, the white square top-left (not top-right)
    assert close_to(tuple(phone[int(h * 0.1), width // 2]), RED_RGB)
    assert close_to(tuple(phone[int(h * 0.6), width // 2]), BLUE_RGB)
    assert phone[5:20, 5:20].min() > 200, "white square top-left"
    assert close_to(tuple(phone[12, width - 12]), RED_RGB), "top-right is the red band, not the square"

    wide = _pixels(shots["h264_1080p_landscape"])
    column = wide[:, width // 2 + 20]  # beside the moving square, away from the caption's text
    video_rows = [r for r in range(len(column)) if close_to(tuple(column[r]), RED_RGB) or close_to(tuple(column[r]), BLUE_RGB)]
    top, bottom = min(video_rows), max(video_rows)
    picture_h = bottom - top + 1
    assert abs(picture_h - round(width * 9 / 16)) <= 4, (top, bottom)  # 16:9 kept: not stretched to the window
    assert top > 100 and column[: top - 2].max() < 40, "a black bar above the picture"
    assert column[bottom + 3 : bottom + 60].max() < 40, "a black bar below the picture"
    assert close_to(tuple(column[top + picture_h // 8]), RED_RGB)  # the red band on top: not turned
    assert close_to(tuple(column[top + picture_h * 3 // 4]), BLUE_RGB)


def test_a_preloaded_4k_neighbour_does_not_decode_or_cost_the_visible_clip_its_frames(qtbot, corpus):
    """The visible 720p clip keeps its frame rate while the 2160x3840 clip waits off screen, paused on its
    first frame: the neighbour decodes nothing more until the swipe towards it starts."""
    visible, neighbour = SlotPlayer(muted=True), SlotPlayer(muted=True)
    for s in (visible, neighbour):
        s.set_target(QSize(270, 480))
    _first_frames(neighbour, qtbot, probed_clip(corpus["uhd_2160x3840_portrait.mp4"]))
    _first_frames(visible, qtbot, probed_clip(corpus["h264_aac_720p.mp4"]))
    visible.play()
    qtbot.waitUntil(visible.has_moving_frame, timeout=5000)
    before_visible, before_neighbour = visible.arrived_total, neighbour.arrived_total
    spin(1000)
    assert visible.arrived_total - before_visible >= 10, "frames keep coming (about 30 a second on a quiet machine)"
    assert neighbour.arrived_total == before_neighbour, "the off-screen player decodes nothing while it waits"
    assert neighbour.image is not None and neighbour.image.size() == QSize(270, 480)  # its frame, ready to show
    visible.close()
    neighbour.close()


def test_stale_frames_are_dropped_not_queued(qtbot, corpus):
    """With the converter busy, a newer frame replaces a waiting one: the queue never holds more than one."""
    from PySide6.QtCore import QSize as _QSize

    from feedapp.ui.frames import FrameConverter

    slot = SlotPlayer(muted=True)
    _first_frames(slot, qtbot, probed_clip(corpus["h264_1080p_landscape.mp4"]))
    frame = QVideoFrame(slot._last_frame)
    slot.close()
    done = []
    conv = FrameConverter(lambda: done.append(1))
    for seq in range(1, 41):  # far faster than it converts
        conv.submit(frame, _QSize(480, 270), 0, seq, 1)
    qtbot.waitUntil(lambda: conv.converted + conv.dropped == 40, timeout=10000)
    result = conv.take()
    assert conv.dropped >= 30  # most frames were replaced while one was being converted
    assert result is not None and result.seq == 40  # the newest frame wins
    assert conv.take() is None  # one result kept, handed over once
    conv.close()
