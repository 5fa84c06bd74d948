"""The swipe view driven by real input events through a real catalog of generated clips."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from feedapp.core.catalog import Catalog
from feedapp.core.feed import Feed
from feedapp.core.model import Clip
from feedapp.ui.swipe import Arrival, PlaybackEvent
from tests.ui.conftest import colour_of
from tests.ui.helpers import centre_rgb, click, close_to, drag, hover, press_move, release, spin, started_window, wheel


def wait_start(qtbot, window) -> Arrival:
    with qtbot.waitSignal(window.view.arrived, timeout=5000) as blocker:
        window.view.start()
    return blocker.args[0]


def check_timing(a: Arrival) -> None:
    assert a.first_frame_ns is not None, "no frame painted after settling"
    assert a.input_ns <= a.settled_ns <= a.first_frame_ns
    assert (a.settled_ns - a.input_ns) / 1e6 < 2000  # the animation is ~220 ms; generous for a busy machine
    assert 0 <= a.first_frame_ms < 1000


def test_start_paints_the_first_clip(qtbot, window):
    a = wait_start(qtbot, window)
    assert a.how == "start" and a.position == 0 and a.step == 0 and not a.is_revisit
    assert a.clip == window.view.feed.current == window.view.current_clip
    check_timing(a)
    assert close_to(centre_rgb(window.view), colour_of(a.clip)), centre_rgb(window.view)


def test_drag_up_goes_to_the_next_clip_and_paints_it(qtbot, window):
    first = wait_start(qtbot, window).clip
    view = window.view
    expected = view.feed.peek(1)
    h = view.height()
    with qtbot.waitSignal(view.arrived, timeout=5000) as blocker:
        drag(view, h * 0.8, h * 0.3)
    a = blocker.args[0]
    assert a.how == "swipe_next" and a.step == 1 and a.position == 1
    assert a.clip == expected != first and view.current_clip == expected
    check_timing(a)
    spin(50)
    assert close_to(centre_rgb(view), colour_of(expected)), centre_rgb(view)


def test_mid_drag_shows_both_clips_moving(qtbot, window):
    first = wait_start(qtbot, window).clip
    view = window.view
    nxt = view.feed.peek(1)
    h = view.height()
    press_move(view, h * 0.9, h * 0.4)  # current moved up by half the height; next fills the lower half
    spin(120)
    assert view.slot(1).is_playing(), "the next clip starts playing when the swipe starts"
    assert close_to(centre_rgb(view, dy=-0.25), colour_of(first))
    assert close_to(centre_rgb(view, dy=+0.25), colour_of(nxt))
    with qtbot.waitSignal(view.arrived, timeout=5000):
        release(view, h * 0.4)
    assert view.current_clip == nxt


def test_short_drag_springs_back(qtbot, window):
    first = wait_start(qtbot, window).clip
    view = window.view
    h = view.height()
    arrivals: list[Arrival] = []
    view.arrived.connect(arrivals.append)
    drag(view, h * 0.6, h * 0.5, hold_ms=250)  # a tenth of the height, slowly: no fling
    spin(500)
    assert arrivals == [] and view.current_clip == first and view.offset == 0.0
    assert view.feed.position == 0
    assert not view.slot(1).is_playing(), "the neighbour is rewound and paused after a cancelled swipe"


def test_quick_short_flick_snaps(qtbot, window):
    wait_start(qtbot, window)
    view = window.view
    h = view.height()
    with qtbot.waitSignal(view.arrived, timeout=5000) as blocker:
        drag(view, h * 0.6, h * 0.45, steps=4, step_ms=8)  # 15% of the height, fast
    assert blocker.args[0].how == "swipe_next"


def test_past_the_first_clip_springs_back(qtbot, window):
    first = wait_start(qtbot, window).clip
    view = window.view
    arrivals: list[Arrival] = []
    view.arrived.connect(arrivals.append)
    h = view.height()
    drag(view, h * 0.2, h * 0.9)  # pull down at the first clip
    spin(400)
    QTest.keyClick(view, Qt.Key.Key_Up)
    spin(500)
    assert arrivals == [] and view.current_clip == first and view.offset == 0.0 and view.feed.position == 0


def test_wheel_gesture_moves_one_clip_not_one_per_notch(qtbot, window):
    wait_start(qtbot, window)
    view = window.view
    arrivals: list[Arrival] = []
    view.arrived.connect(arrivals.append)
    for _ in range(5):  # five notches in one quick gesture
        wheel(view, angle_y=-120)
        spin(15)
    qtbot.waitUntil(lambda: len(arrivals) == 1, timeout=5000)
    spin(400)  # quiet: the gesture ends
    assert len(arrivals) == 1 and arrivals[0].how == "wheel" and arrivals[0].step == 1 and view.feed.position == 1
    check_timing(arrivals[0])
    wheel(view, angle_y=120)  # a new gesture upwards goes back
    qtbot.waitUntil(lambda: len(arrivals) == 2, timeout=5000)
    assert arrivals[1].step == -1 and arrivals[1].is_revisit and view.feed.position == 0


def test_trackpad_pixel_gesture_moves_one_clip(qtbot, window):
    wait_start(qtbot, window)
    view = window.view
    arrivals: list[Arrival] = []
    view.arrived.connect(arrivals.append)
    wheel(view, pixel_y=-4, angle_y=-8, phase=Qt.ScrollPhase.ScrollBegin)
    for _ in range(30):
        wheel(view, pixel_y=-12, angle_y=-24, phase=Qt.ScrollPhase.ScrollUpdate)
        spin(8)
    wheel(view, phase=Qt.ScrollPhase.ScrollEnd)
    for _ in range(10):  # momentum after the fingers left
        wheel(view, pixel_y=-6, angle_y=-12, phase=Qt.ScrollPhase.ScrollMomentum)
        spin(8)
    qtbot.waitUntil(lambda: len(arrivals) == 1, timeout=5000)
    spin(400)
    assert len(arrivals) == 1 and view.feed.position == 1


def test_keys_move_pause_mute_help(qtbot, window):
    first = wait_start(qtbot, window).clip
    view = window.view
    with qtbot.waitSignal(view.arrived, timeout=5000) as b1:
        QTest.keyClick(view, Qt.Key.Key_Down)
    with qtbot.waitSignal(view.arrived, timeout=5000) as b2:
        QTest.keyClick(view, Qt.Key.Key_J)
    with qtbot.waitSignal(view.arrived, timeout=5000) as b3:
        QTest.keyClick(view, Qt.Key.Key_K)
    with qtbot.waitSignal(view.arrived, timeout=5000) as b4:
        QTest.keyClick(view, Qt.Key.Key_Up)
    steps = [(b.args[0].how, b.args[0].step, b.args[0].position, b.args[0].is_revisit) for b in (b1, b2, b3, b4)]
    assert steps == [("key", 1, 1, False), ("key", 1, 2, False), ("key", -1, 1, True), ("key", -1, 0, True)]
    assert view.current_clip == first
    for b in (b1, b2, b3, b4):
        check_timing(b.args[0])

    with qtbot.waitSignal(view.paused, timeout=1000) as p:
        QTest.keyClick(view, Qt.Key.Key_Space)
    ev: PlaybackEvent = p.args[0]
    assert ev.kind == "pause" and ev.clip == first and view.is_paused
    spin(100)
    assert not view.slot(0).is_playing()
    with qtbot.waitSignal(view.resumed, timeout=1000):
        QTest.keyClick(view, Qt.Key.Key_Space)
    assert view.slot(0).is_playing()

    was_muted = view.muted
    with qtbot.waitSignal(view.mute_changed, timeout=1000) as m:
        QTest.keyClick(view, Qt.Key.Key_M)
    assert m.args[0].kind == ("unmute" if was_muted else "mute") and view.muted != was_muted
    assert view.slot(0).audio.isMuted() == view.muted and view.slot(1).audio.isMuted()

    QTest.keyClick(view, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
    assert view.help_visible
    QTest.keyClick(view, Qt.Key.Key_Escape)
    assert not view.help_visible


def test_click_toggles_pause(qtbot, window):
    wait_start(qtbot, window)
    view = window.view
    with qtbot.waitSignal(view.paused, timeout=1000):
        click(view)
    with qtbot.waitSignal(view.resumed, timeout=1000):
        click(view)


def test_fullscreen_key_and_escape(qtbot, window):
    wait_start(qtbot, window)
    QTest.keyClick(window.view, Qt.Key.Key_F)
    qtbot.waitUntil(window.isFullScreen, timeout=2000)
    QTest.keyClick(window.view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=2000)


def test_touch_swipe(qtbot, window):
    wait_start(qtbot, window)
    view = window.view
    expected = view.feed.peek(1)
    device = QTest.createTouchDevice()
    x, h = view.width() // 2, view.height()
    with qtbot.waitSignal(view.arrived, timeout=5000) as blocker:
        QTest.touchEvent(view, device).press(0, QPoint(x, int(h * 0.85)))
        for f in (0.7, 0.55, 0.4, 0.3):
            spin(12)
            QTest.touchEvent(view, device).move(0, QPoint(x, int(h * f)))
        QTest.touchEvent(view, device).release(0, QPoint(x, int(h * 0.3)))
    a = blocker.args[0]
    assert a.how == "touch" and a.step == 1 and a.clip == expected
    check_timing(a)
    # a tap pauses
    with qtbot.waitSignal(view.paused, timeout=1000):
        QTest.touchEvent(view, device).press(0, QPoint(x, h // 2))
        QTest.touchEvent(view, device).release(0, QPoint(x, h // 2))


def test_progress_and_loop_signal(qtbot, tmp_path):
    """A short clip loops; every completed loop is reported with its count."""
    from feedapp.ui.window import PlayerWindow
    from tests.clipgen import make_clip
    from tests.ui.conftest import clip_for

    clip = clip_for(make_clip(tmp_path / "short.mp4", seconds=0.6, colour=(10, 200, 10)), "loops")
    w = PlayerWindow(Feed(Catalog([clip])), muted=True)
    qtbot.addWidget(w)
    w.show()
    w.view.start()
    with qtbot.waitSignal(w.view.loop_completed, timeout=5000) as first:
        pass
    with qtbot.waitSignal(w.view.loop_completed, timeout=5000) as second:
        pass
    assert first.args[0].kind == "loop" and first.args[0].value == 1 and second.args[0].value == 2
    assert first.args[0].ns < second.args[0].ns
    w.view.shutdown()


class ListOrder:
    """Serves the catalog in its own order: lets a test put a bad clip exactly next."""

    name = "list"

    def pick(self, candidates: Sequence[Clip], history: Sequence[Clip]) -> Clip:
        return candidates[0]


def test_bad_clip_is_skipped_with_a_notice(qtbot, tmp_path, ui_clips, capfd):
    from feedapp.ui.window import PlayerWindow

    bad_file = tmp_path / "broken.mp4"
    bad_file.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)  # looks like mp4, is not
    bad = Clip(id="broken", path=str(bad_file), title="Broken clip", topics=("x",), creator="nobody",
               duration_ms=2000, fps=30.0, width=240, height=426)
    good = ui_clips[:3]
    feed = Feed(Catalog([good[0], bad, good[1], good[2]]), ListOrder())
    w, _ = started_window(qtbot, feed)
    view = w.view
    failures: list[PlaybackEvent] = []
    view.clip_failed.connect(failures.append)
    with qtbot.waitSignal(view.arrived, timeout=8000) as blocker:
        QTest.keyClick(view, Qt.Key.Key_Down)
    a = blocker.args[0]
    assert a.how == "auto_skip" and a.clip == good[1] and a.position == 2
    assert [f.clip.id for f in failures] == ["broken"] and failures[0].kind == "clip_failed"
    assert "Broken clip" in view.toast_text and "could not be played" in view.toast_text
    assert "skipping \"Broken clip\"" in capfd.readouterr().err
    spin(50)
    assert close_to(centre_rgb(view), colour_of(good[1]))
    view.shutdown()


def test_only_bad_clips_shows_a_friendly_screen(qtbot, tmp_path):
    from feedapp.ui.window import PlayerWindow

    clips = []
    for i in range(2):
        p = tmp_path / f"bad{i}.mp4"
        p.write_bytes(b"not a video at all" * 100)
        clips.append(Clip(id=f"bad{i}", path=str(p), title=f"Bad {i}", topics=("x",), creator="c",
                          duration_ms=1000, fps=30.0, width=240, height=426))
    w = PlayerWindow(Feed(Catalog(clips), ListOrder()), muted=True)
    qtbot.addWidget(w)
    w.show()
    w.view.start()
    qtbot.waitUntil(lambda: w.view.message is not None, timeout=8000)
    assert "could be played" in w.view.message[0]


def test_empty_catalog_waits_then_plays_when_clips_arrive(qtbot, ui_clips):
    """The demo maker's case: the window opens before any clip exists; the first clip starts playback."""
    from feedapp.ui.window import PlayerWindow

    catalog = Catalog()
    feed = Feed(catalog)
    w = PlayerWindow(feed, muted=True)
    qtbot.addWidget(w)
    w.resize(270, 480)
    w.show()
    catalog.on_grow(lambda added: w.view.catalog_grew())
    assert w.view.start() is False and w.view.current_clip is None
    w.view.set_status("Making demo clips 0/3")
    spin(30)
    pill_y = int(w.view.height() * 0.22) + 12  # below the top fifth, where clips carry their own titles
    assert w.view.grab().toImage().pixelColor(135, pill_y).lightness() > 20  # the status pill is drawn
    with qtbot.waitSignal(w.view.arrived, timeout=5000) as blocker:
        catalog.add([ui_clips[0]])
    assert blocker.args[0].how == "start"
    catalog.add(ui_clips[1:3])
    assert w.view.slot(1).clip is not None and w.view.slot(1).clip == w.view.feed.peek(1)
    with qtbot.waitSignal(w.view.arrived, timeout=5000):
        QTest.keyClick(w.view, Qt.Key.Key_Down)
    w.view.shutdown()


def test_message_screen_paints_text(qtbot, window):
    view = window.view
    view.set_message("No videos in this folder", "Put some clips there and start feedapp again.")
    spin(30)
    img = view.grab().toImage()
    bright = sum(1 for y in range(0, img.height(), 3) for x in range(0, img.width(), 3)
                 if img.pixelColor(x, y).lightness() > 150)
    assert bright > 20  # text is drawn on the dark background


def test_letterbox_keeps_aspect(qtbot, tmp_path):
    """A landscape clip in a portrait window: full width, black bars above and below."""
    from feedapp.ui.window import PlayerWindow
    from tests.clipgen import make_clip
    from tests.ui.conftest import clip_for

    clip = clip_for(make_clip(tmp_path / "wide.mp4", size=(426, 240), colour=(30, 30, 230)), "wide")
    w = PlayerWindow(Feed(Catalog([clip])), muted=True)
    qtbot.addWidget(w)
    w.resize(270, 480)
    w.show()
    with qtbot.waitSignal(w.view.arrived, timeout=5000):
        w.view.start()
    spin(50)
    assert close_to(centre_rgb(w.view), (230, 30, 30))
    assert centre_rgb(w.view, dy=-0.4) == pytest.approx((11, 11, 13), abs=8)  # the bar above
    w.resize(300, 800)  # resizable: frames follow the new size
    spin(150)
    assert close_to(centre_rgb(w.view), (230, 30, 30))
    assert w.view.slot(0).image.width() == w.view.width()
    w.view.shutdown()


def test_fullscreen_hides_the_idle_cursor(qtbot, window):
    wait_start(qtbot, window)
    view = window.view
    QTest.keyClick(view, Qt.Key.Key_F)
    qtbot.waitUntil(window.isFullScreen, timeout=2000)
    qtbot.waitUntil(lambda: view.cursor().shape() == Qt.CursorShape.BlankCursor, timeout=4000)
    hover(view, 10)
    assert view.cursor().shape() != Qt.CursorShape.BlankCursor
    QTest.keyClick(view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=2000)


def test_q_closes_the_window(qtbot, window):
    wait_start(qtbot, window)
    QTest.keyClick(window.view, Qt.Key.Key_Q)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=2000)
    assert window.view.current_clip is None  # players stopped and emptied on close


def test_focus_lost_and_gained_are_reported(qtbot, window):
    from PySide6.QtWidgets import QWidget

    wait_start(qtbot, window)
    view = window.view
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    other = QWidget()
    qtbot.addWidget(other)
    with qtbot.waitSignal(view.focus_lost, timeout=3000) as lost:
        other.show()
        other.activateWindow()
    with qtbot.waitSignal(view.focus_gained, timeout=3000) as gained:
        window.activateWindow()
    assert lost.args[0].kind == "focus_lost" and gained.args[0].kind == "focus_gained"
    assert lost.args[0].ns < gained.args[0].ns and lost.args[0].clip == view.current_clip


class CountingOrder:
    """Picks a different clip each time it is asked: shows whether the preloaded next follows a re-decision."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def pick(self, candidates: Sequence[Clip], history: Sequence[Clip]) -> Clip:
        self.calls += 1
        return candidates[self.calls % len(candidates)]


def test_arrival_listeners_run_before_the_next_clip_is_preloaded(qtbot, ui_clips):
    """A ranker that re-decides the next clip when a view ends gets its new pick preloaded."""
    from feedapp.ui.window import PlayerWindow

    order = CountingOrder()
    feed = Feed(Catalog(ui_clips), order)
    w = PlayerWindow(feed, muted=True)
    qtbot.addWidget(w)
    w.show()
    w.view.arrived.connect(lambda a: feed.redecide_next())
    with qtbot.waitSignal(w.view.arrived, timeout=5000):
        w.view.start()
    with qtbot.waitSignal(w.view.arrived, timeout=5000):
        QTest.keyClick(w.view, Qt.Key.Key_Down)
    spin(100)
    assert w.view.slot(1).clip is not None and w.view.slot(1).clip == feed.peek(1)
    w.view.shutdown()


def test_without_preloading_the_clip_loads_when_the_swipe_settles(qtbot, feed):
    """The benchmark's baseline mode still works and reports when its first frame came."""
    from feedapp.ui.window import PlayerWindow

    w = PlayerWindow(feed, muted=True, preload=False)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.view.arrived, timeout=5000):
        w.view.start()
    assert w.view.slot(1).clip is None
    with qtbot.waitSignal(w.view.arrived, timeout=5000) as blocker:
        QTest.keyClick(w.view, Qt.Key.Key_Down)
    check_timing(blocker.args[0])
    w.view.shutdown()


def test_keys_pressed_quickly_report_every_arrival(qtbot, window):
    """Three Down presses during one animation: three arrivals, in order, none lost."""
    wait_start(qtbot, window)
    view = window.view
    arrivals: list[Arrival] = []
    view.arrived.connect(arrivals.append)
    for _ in range(3):
        QTest.keyClick(view, Qt.Key.Key_Down)
        spin(60)
    qtbot.waitUntil(lambda: len(arrivals) >= 3, timeout=5000)
    spin(300)
    assert [a.position for a in arrivals] == [1, 2, 3] and view.feed.position == 3
    assert all(a.first_frame_ns is not None for a in arrivals)  # each clip was painted at rest before moving on
    assert all(b.input_ns > a.input_ns for a, b in zip(arrivals, arrivals[1:]))


def test_going_back_replays_the_previous_clip_from_its_start(qtbot, window):
    first = wait_start(qtbot, window).clip
    view = window.view
    spin(1200)  # watch most of the first clip
    assert view.slot(0).position_ms > 600
    with qtbot.waitSignal(view.arrived, timeout=5000):
        QTest.keyClick(view, Qt.Key.Key_Down)
    spin(300)
    with qtbot.waitSignal(view.arrived, timeout=5000) as back:
        QTest.keyClick(view, Qt.Key.Key_Up)
    assert back.args[0].clip == first and back.args[0].is_revisit
    assert view.slot(0).position_ms < 500 and view.slot(0).loops == 0
