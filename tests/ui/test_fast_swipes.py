"""A fast swiper: every Down press moves one clip (none dropped), every passed-over clip is logged as a
view with its real short dwell, a held key does not run away, and a drag during the snap grabs the
moving page. Real key presses and mouse drags (pytest-qt, offscreen) on the real window, the real
FeedEngine, SessionBridge and EventLog writing SQLite; the counts are read back from the file.
"""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.session import SessionRecorder
from feedapp.store.check import check
from feedapp.store.log import EventLog
from feedapp.ui.recording import SessionBridge
from feedapp.ui.swipe import CHAIN_MIN_MS, SNAP_MS
from feedapp.ui.window import PlayerWindow
from tests.ui.helpers import _mouse, release, spin


@pytest.fixture()
def session(qtbot, ui_clips, tmp_path):
    """A window on 36 clips (the six generated files under six ids each), recorded to a real database."""
    clips = [dataclasses.replace(c, id=f"{c.id}_{k}", title=f"{c.title} ({k})") for k in range(6) for c in ui_clips]
    engine = FeedEngine(Catalog(clips), "random", seed=5)
    db = tmp_path / "feed.db"
    log = EventLog(db)
    log.clips_known(tuple(clips))
    recorder = SessionRecorder(log, app_version="test", mode="play", ranker="random", skip_threshold_ms=1000)
    window = PlayerWindow(engine, muted=True)
    qtbot.addWidget(window)
    window.resize(270, 480)
    bridge = SessionBridge(window.view, engine, recorder)
    window.show()
    qtbot.waitExposed(window)
    arrivals: list = []
    window.view.settled.connect(arrivals.append)
    window.view.start()
    qtbot.waitUntil(lambda: window.view.slot(0).image is not None, timeout=5000)
    yield dict(view=window.view, recorder=recorder, bridge=bridge, log=log, db=db, arrivals=arrivals, engine=engine)
    bridge.end("quit")
    window.view.shutdown()
    log.close()


def settle(qtbot, view) -> None:
    qtbot.waitUntil(lambda: view.queued_moves == 0 and not view.is_animating() and view.offset == 0.0, timeout=15000)
    spin(100)


def logged(s) -> tuple[list[tuple], list[tuple]]:
    """(impressions, final views) of the session, read back from the SQLite file after the session ended."""
    s["bridge"].end("quit")
    assert s["log"].flush()
    conn = sqlite3.connect(s["db"])
    try:
        imps = conn.execute("SELECT position, id, reached_by, input_mono_ns, settled_mono_ns FROM impressions "
                            "ORDER BY position").fetchall()
        views = conn.execute("SELECT i.position, v.dwell_ms, v.ended_mono_ns, v.exit FROM views v "
                             "JOIN impressions i ON i.id = v.impression_id WHERE v.final = 1 ORDER BY i.position").fetchall()
        report = check(conn)
        assert report["ok"], report["violations"]
    finally:
        conn.close()
    return imps, views


@pytest.mark.parametrize("gap_ms", [150, 60])
def test_every_down_press_moves_one_clip_and_logs_one_view(qtbot, session, gap_ms):
    """20 presses, one every 150 ms (and every 60 ms): 20 clips passed, 20 closed views with real dwell.

    Before: the queue held 4 moves and dropped the rest (about 20% lost at one press per 150 ms)."""
    view, n = session["view"], 20
    for _ in range(n):
        QTest.keyClick(view, Qt.Key.Key_Down)
        spin(gap_ms)
    settle(qtbot, view)
    assert view.feed.position == n
    assert [a.position for a in session["arrivals"]] == list(range(n + 1))
    assert session["recorder"].views_closed == n
    imps, views = logged(session)
    assert [i[0] for i in imps] == list(range(n + 1))
    assert all(i[2] == "key" for i in imps[1:])
    assert [v[0] for v in views] == list(range(n + 1))  # n passed over + the last one, closed by the end
    for (pos, dwell, ended, exit_), (_, _, _, _, settled), nxt in zip(views[:n], imps, imps[1:]):
        assert exit_ == "key"
        # the real time the clip was on screen at rest: from its settle to the move away from it
        assert dwell == pytest.approx((ended - settled) / 1e6)
        assert 0 < dwell < 2000, (pos, dwell)
        assert nxt[4] > ended  # the next clip settles after the move away from this one started
        assert nxt[3] <= nxt[4]  # the press that asked for it came before it settled
    # the whole run took about as long as the presses (the animation chained to keep up)
    total = (imps[-1][4] - imps[1][3]) / 1e6
    assert total < n * gap_ms + 20 * SNAP_MS, total


def test_queued_moves_snap_faster(qtbot, session):
    """Moves waiting behind a snap are made with shorter snaps (SNAP_MS / (1 + queued))."""
    view = session["view"]
    durations: list[int] = []
    view._anim.stateChanged.connect(lambda new, old: durations.append(view._anim.duration())
                                    if new == view._anim.State.Running else None)
    for _ in range(5):
        QTest.keyClick(view, Qt.Key.Key_Down)
    settle(qtbot, view)
    assert view.feed.position == 5
    assert durations[0] == SNAP_MS
    assert durations[1] == max(CHAIN_MIN_MS, SNAP_MS // 4)  # 3 more behind it
    assert durations[-1] == SNAP_MS  # nothing behind the last one


def test_a_held_key_moves_while_held_and_stops_on_release(qtbot, session):
    """Auto-repeat presses move only when the feed is at rest: no backlog that runs on after release."""
    view = session["view"]
    QTest.keyPress(view, Qt.Key.Key_Down)
    for _ in range(30):  # 30 auto-repeats in 0.9 s
        spin(30)
        QApplication.sendEvent(view, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Down, Qt.KeyboardModifier.NoModifier,
                                               "", True))
    QTest.keyRelease(view, Qt.Key.Key_Down)
    moved_at_release = view.feed.position + (1 if view.is_animating() else 0)
    settle(qtbot, view)
    assert 2 <= view.feed.position <= moved_at_release, (view.feed.position, moved_at_release)
    assert view.queued_moves == 0


def test_a_drag_during_the_snap_grabs_the_moving_page(qtbot, session):
    view = session["view"]
    h = view.height()
    QTest.keyClick(view, Qt.Key.Key_Down)
    spin(70)  # mid-snap
    assert view.is_animating()
    moving_at = view.offset
    assert -h < moving_at < 0
    left = Qt.MouseButton.LeftButton
    _mouse(view, QEvent.Type.MouseButtonPress, h * 0.7, left, left)
    # grabbed: the move landed on clip 1, which stands where the page was, held under the pointer
    assert not view.is_animating() and view.feed.position == 1
    held = view.offset
    assert held == pytest.approx(moving_at + h, abs=h * 0.08)
    spin(400)  # longer than the rest of the snap: the page does not move on its own
    assert view.offset == held and view.feed.position == 1
    for i in range(1, 9):  # drag up by 40% of the height: the next clip
        spin(12)
        _mouse(view, QEvent.Type.MouseMove, h * (0.7 - 0.05 * i), left, Qt.MouseButton.NoButton)
    assert view.offset == pytest.approx(held - 0.4 * h, abs=2)  # the page follows the pointer from where it was
    release(view, h * 0.3)
    settle(qtbot, view)
    assert view.feed.position == 2
    imps, views = logged(session)
    assert [i[2] for i in imps] == ["start", "key", "swipe_next"]
    assert [v[3] for v in views[:2]] == ["key", "swipe_next"]


def test_a_tap_on_the_moving_page_lets_it_land_without_pausing(qtbot, session):
    view = session["view"]
    h = view.height()
    QTest.keyClick(view, Qt.Key.Key_Down)
    spin(60)
    assert view.is_animating()
    left = Qt.MouseButton.LeftButton
    _mouse(view, QEvent.Type.MouseButtonPress, h / 2, left, left)
    _mouse(view, QEvent.Type.MouseButtonRelease, h / 2, Qt.MouseButton.NoButton, left)
    settle(qtbot, view)
    assert view.feed.position == 1 and view.offset == 0.0 and not view.is_paused


def test_a_disabled_view_drops_its_queued_moves(qtbot, session):
    """What a lab session relies on when a limit ends it mid-burst: nothing moves after the end."""
    view = session["view"]
    for _ in range(6):
        QTest.keyClick(view, Qt.Key.Key_Down)
    assert view.is_animating() and view.queued_moves == 5
    view.setEnabled(False)
    settle(qtbot, view)
    assert view.feed.position == 1


def test_a_grabbed_page_dragged_a_little_and_let_go_settles_with_its_first_frame_logged(qtbot, session):
    """The clip reached by a grab and shown at rest after a short drag gets its first frame, so its view
    counts play time (not one long stall)."""
    view = session["view"]
    h = view.height()
    QTest.keyClick(view, Qt.Key.Key_Down)
    spin(70)
    left = Qt.MouseButton.LeftButton
    _mouse(view, QEvent.Type.MouseButtonPress, h * 0.5, left, left)
    for i in range(1, 5):  # 4% of the height, slowly: no fling, springs back
        spin(40)
        _mouse(view, QEvent.Type.MouseMove, h * (0.5 - 0.01 * i), left, Qt.MouseButton.NoButton)
    spin(200)
    release(view, h * 0.46)
    settle(qtbot, view)
    spin(1200)  # watch it
    assert view.feed.position == 1
    session["bridge"].end("quit")
    assert session["log"].flush()
    conn = sqlite3.connect(session["db"])
    (ff, play, stalled), = conn.execute(
        "SELECT i.first_frame_ms, v.play_ms, v.stalled_ms FROM impressions i JOIN views v ON v.impression_id = i.id "
        "WHERE i.position = 1").fetchall()
    conn.close()
    assert ff is not None and play > 800 and stalled < play, (ff, play, stalled)


def test_a_move_asked_for_during_a_tap_is_made_after_it(qtbot, session):
    """A wheel gesture while the button is down, then a tap (no drag): the queued move is made, and the
    feed does not stop taking moves."""
    from tests.ui.helpers import wheel

    view = session["view"]
    h = view.height()
    left = Qt.MouseButton.LeftButton
    _mouse(view, QEvent.Type.MouseButtonPress, h / 2, left, left)
    wheel(view, angle_y=-120)  # asked for while the press may still become a drag: queued
    assert view.queued_moves == 1
    _mouse(view, QEvent.Type.MouseButtonRelease, h / 2, Qt.MouseButton.NoButton, left)  # a tap: pause
    settle(qtbot, view)
    assert view.feed.position == 1
    spin(300)  # the wheel gesture ends
    QTest.keyClick(view, Qt.Key.Key_Down)
    settle(qtbot, view)
    assert view.feed.position == 2
