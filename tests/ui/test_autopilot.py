"""The autopilot drives the real window through the swipe view's API; the engine learns its taste."""

from __future__ import annotations

import os

import pytest

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.records import MemorySink, ViewRecord
from feedapp.core.session import SessionRecorder
from feedapp.ui.autopilot import Autopilot, parse_taste
from feedapp.ui.recording import SessionBridge
from feedapp.ui.window import PlayerWindow


def test_parse_taste():
    assert parse_taste("cats, #art,,cats") == ("cats", "art")
    with pytest.raises(ValueError, match="comma-separated"):
        parse_taste(" , ")


def test_dwell_rules_are_seeded(qtbot, ui_clips):
    window = PlayerWindow(FeedEngine(Catalog(ui_clips), "random", seed=0), muted=True)
    qtbot.addWidget(window)
    a = Autopilot(window.view, window.view.feed, ["cats"], seed=7, speed=2.0, min_watch_ms=500)
    b = Autopilot(window.view, window.view.feed, ["cats"], seed=7, speed=2.0, min_watch_ms=500)
    c = Autopilot(window.view, window.view.feed, ["cats"], seed=8, speed=2.0, min_watch_ms=500)
    seq = ui_clips * 3
    da, db, dc = ([p.dwell_ms(clip) for clip in seq] for p in (a, b, c))
    assert da == db and da != dc  # same seed, same decisions
    for clip, (ms, liked) in zip(seq, da):
        assert liked == ("cats" in clip.topics)
        if liked:  # to the end and a little past it, the looping part sped up, never below the floor
            assert max(500, clip.duration_ms + 250) <= ms <= max(500, clip.duration_ms * (1 + 0.8 / 2) + 250)
        else:  # skipped after about a second, sped up
            assert 350 <= ms <= 650
    for p in (a, b, c):
        p.stop()
    window.view.shutdown()


def test_the_slowest_speed_on_a_clip_of_hours_stays_within_a_qt_timer(qtbot, ui_clips):
    """--autopilot-speed 0.01 (its floor) on a 10-hour clip: 2.9e9 ms would overflow QTimer.start's
    32-bit count; the wait is capped at the longest a Qt timer counts (24.8 days) instead."""
    import dataclasses

    from feedapp.ranges import AUTOPILOT_SPEED, QT_TIMER_MS_MAX

    window = PlayerWindow(FeedEngine(Catalog(ui_clips), "random", seed=0), muted=True)
    qtbot.addWidget(window)
    pilot = Autopilot(window.view, window.view.feed, ["cats"], seed=0, speed=AUTOPILOT_SPEED.lo)
    long_clip = dataclasses.replace(ui_clips[0], topics=("cats",), duration_ms=10 * 3_600_000)
    decided = []
    pilot.decided.connect(lambda clip, ms, liked: decided.append(ms))
    pilot._plan(long_clip)  # what an arrival of that clip does
    assert decided[0] > QT_TIMER_MS_MAX  # this seed's draw needs the cap
    assert pilot._timer.isActive() and pilot._timer.interval() == QT_TIMER_MS_MAX
    pilot.stop()
    window.view.shutdown()


def test_autopilot_drives_the_window_and_the_engine_learns(qtbot, ui_clips):
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
    engine = FeedEngine(Catalog(ui_clips), "foryou", seed=2)
    window = PlayerWindow(engine, muted=True)
    qtbot.addWidget(window)
    window.resize(270, 480)
    sink = MemorySink()
    recorder = SessionRecorder(sink, app_version="test", mode="demo", ranker="foryou", skip_threshold_ms=1000)
    bridge = SessionBridge(window.view, engine, recorder)
    pilot = Autopilot(window.view, engine, ["cats"], seed=3, speed=1.5, max_views=8, min_watch_ms=1300)
    arrivals = []
    window.view.arrived.connect(arrivals.append)
    window.show()
    qtbot.waitExposed(window)
    window.view.start()
    with qtbot.waitSignal(pilot.stopped, timeout=60000):
        pass
    assert pilot.views == 8 and len(arrivals) == 9
    assert [a.how for a in arrivals[1:]] == ["key"] * 8  # real swipes through the view's API
    assert [p[0] for p in pilot.plan[:9]] == [a.clip.id for a in arrivals]
    bridge.end("quit")
    finals = [rec for k, rec in sink.records if k == "view" and isinstance(rec, ViewRecord) and rec.final]
    liked = {p[0] for p in pilot.plan if p[2]}
    by_impression = {rec.id: rec.clip_id for k, rec in sink.records if k == "impression"}
    for rec in finals[:8]:  # the logged play time follows what the autopilot chose
        cid = by_impression[rec.impression_id]
        if cid in liked:
            assert not rec.skipped and rec.play_ms >= 2000  # watched to the end
        else:
            assert rec.skipped and rec.play_ms < 900
    assert engine.profile()["topics"].get("cats", 0) > max(a for t, a in engine.profile()["topics"].items() if t != "cats")
    window.view.shutdown()
