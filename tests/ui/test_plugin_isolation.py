"""A plugin ranker that loops cannot freeze the window (issue 15, item 7).

Real window, real clips, the app's own wiring (``attach_session``: SessionBridge, recorder and ranker
events; ``watch_plugin``: reload timer and failure notices) and a real plugin file whose ``scores``
starts looping when a flag file appears. A 5 ms timer measures the event loop: the longest gap
between two of its ticks is the longest the window was frozen.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

from feedapp.core.catalog import Catalog
from feedapp.core.plugins import PluginHost
from feedapp.core.records import MemorySink, ViewRecord
from feedapp.core.session import SessionRecorder
from tests.ui.helpers import spin

os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")

# A frozen window is a stall without end (before isolation the first pick never returned). The 100 ms
# target for the stall with a looping plugin is a speed figure: benchmarks/plugin_isolation.py measures
# it on a quiet machine. Here, where CI's other work shares the cores, a bound 20 times the plugin's
# 50 ms budget still fails at once when a plugin call blocks the event loop until the cut-off is gone.
MAX_STALL_MS = 1000.0

PLUGIN = '''
import os
import time
import numpy as np
from feedapp.core.rankers import BaseRanker

class Looper(BaseRanker):
    name = "looper"
    description = "serves cats first; loops for {loop_s} s in scores once {flag} exists"

    def scores(self, rng):
        if os.path.exists({flag!r}):
            end = time.monotonic() + {loop_s}
            while time.monotonic() < end:  # swallows every attempt to interrupt it
                try:
                    sum(range(1000))
                except BaseException:
                    pass
        return np.array([1.0 if "cats" in c.topics else 0.0 for c in self.space.clips])
'''


class StallMeter:
    """Ticks every 5 ms; ``worst_ms`` is the longest gap between two ticks (the event loop was blocked)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.worst_ms = 0.0
        self.ticks = 0
        self.timer = QTimer(interval=5)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst_ms = max(self.worst_ms, (now - self.last) * 1000.0)
        self.last = now
        self.ticks += 1

    def stop(self) -> None:
        self.timer.stop()


def looping_plugin(tmp_path: Path, loop_s: int = 20) -> tuple[str, Path]:
    flag = tmp_path / "loop.flag"
    path = tmp_path / "looper.py"
    path.write_text(PLUGIN.format(flag=str(flag), loop_s=loop_s))
    return f"{path}:Looper", flag


def open_window(qtbot, engine):  # noqa: ANN001, ANN201
    from feedapp.ui.app import attach_session, watch_plugin
    from feedapp.ui.window import PlayerWindow

    window = PlayerWindow(engine, muted=True)
    qtbot.addWidget(window)
    window.resize(270, 480)
    sink = MemorySink()
    recorder = SessionRecorder(sink, app_version="test", mode="demo", ranker=engine.ranker.name, seed=engine.seed)
    session = attach_session(window, engine, recorder, panels_visible=None, dev_tools=False)
    timer = watch_plugin(engine, window.view)
    arrivals: list = []
    window.view.arrived.connect(arrivals.append)
    return window, session, sink, timer, arrivals


def swipe(qtbot, window, arrivals: list, n: int) -> None:  # noqa: ANN001
    for _ in range(n):
        before = len(arrivals)
        QTest.keyClick(window.view, Qt.Key.Key_Down)
        qtbot.waitUntil(lambda: len(arrivals) > before, timeout=5000)
        spin(120)


def events(sink: MemorySink, kind: str) -> list:
    return [r for k, r in sink.records if k == "event" and r.kind == kind]


def close(window, session, timer, engine) -> None:  # noqa: ANN001
    session.end("quit")
    timer.stop()
    engine.plugin_host.close()
    window.view.shutdown()


def test_a_plugin_that_loops_from_the_first_call_never_freezes_the_window(qtbot, ui_clips, tmp_path):
    """Before isolation the window never appeared: the first pick never returned."""
    spec, flag = looping_plugin(tmp_path)
    flag.write_text("loop from the start")
    engine = PluginHost.feed(Catalog(ui_clips), spec, seed=1)  # loads the plugin: before any window
    window, session, sink, timer, arrivals = open_window(qtbot, engine)
    meter = StallMeter()
    at_failure: list[int] = []
    engine.on("ranker_did_fail", lambda info: at_failure.append(meter.ticks))
    spin(30)
    window.show()
    qtbot.waitExposed(window)
    window.view.start()
    qtbot.waitUntil(lambda: len(arrivals) >= 1, timeout=5000)
    swipe(qtbot, window, arrivals, 3)
    meter.stop()
    try:
        assert meter.ticks > 20 and at_failure and at_failure[0] > 0  # the loop ran while the meter watched
        print(f"longest stall with a looping plugin from the start: {meter.worst_ms:.1f} ms")
        assert meter.worst_ms <= MAX_STALL_MS, f"the window froze for {meter.worst_ms:.0f} ms"
        failed = events(sink, "ranker_failed")
        assert [(e.data["method"], e.data["cause"], e.data["fallback"]) for e in failed] == [("scores", "timeout", "foryou")]
        assert len(arrivals) == 4 and engine.ranker.name == "foryou"
    finally:
        close(window, session, timer, engine)


def test_a_plugin_that_starts_looping_mid_session_is_cut_off_and_the_feed_keeps_serving_and_logging(
        qtbot, ui_clips, tmp_path):
    spec, flag = looping_plugin(tmp_path)
    engine = PluginHost.feed(Catalog(ui_clips), spec, seed=1)
    window, session, sink, timer, arrivals = open_window(qtbot, engine)
    window.show()
    qtbot.waitExposed(window)
    window.view.start()
    qtbot.waitUntil(lambda: len(arrivals) >= 1, timeout=5000)
    swipe(qtbot, window, arrivals, 2)
    assert engine.ranker.name == "looper" and not events(sink, "ranker_failed")
    meter = StallMeter()
    flag.write_text("loop now")
    swipe(qtbot, window, arrivals, 5)
    meter.stop()
    try:
        assert meter.worst_ms <= MAX_STALL_MS, f"the window froze for {meter.worst_ms:.0f} ms"
        print(f"longest stall with a plugin that starts looping mid-session: {meter.worst_ms:.1f} ms")
        assert len(arrivals) == 8  # every swipe arrived
        failed = events(sink, "ranker_failed")
        assert len(failed) == 1 and failed[0].data["cause"] == "timeout"
        assert "did not return within 50 ms" in failed[0].data["message"]
        assert "took too long in scores()" in window.view.toast_text and "foryou" in window.view.toast_text
        # the log goes on: every swipe closed a view, recorded after the failure as before it
        spin(200)
        closed = [r for k, r in sink.records if k == "view" and isinstance(r, ViewRecord) and r.final]
        assert len(closed) >= 7
        served = [r for k, r in sink.records if k == "impression"]
        assert len(served) >= 8 and {getattr(r, "policy", None) for r in served[-3:]} == {"foryou"}
    finally:
        close(window, session, timer, engine)


@pytest.mark.parametrize("where", ["learn_one"])
def test_a_plugin_that_sleeps_in_learn_one_does_not_eat_swipes(qtbot, ui_clips, tmp_path, where):
    """Before isolation, sleep(3) in learn_one turned 8 swipes into 3 views."""
    path = tmp_path / "sleepy.py"
    path.write_text(PLUGIN.format(flag=str(tmp_path / "never"), loop_s=1)
                    + "\n    def learn_one(self, clip, reward):\n        time.sleep(3)\n")
    engine = PluginHost.feed(Catalog(ui_clips), f"{path}:Looper", seed=1)
    window, session, sink, timer, arrivals = open_window(qtbot, engine)
    window.show()
    qtbot.waitExposed(window)
    window.view.start()
    qtbot.waitUntil(lambda: len(arrivals) >= 1, timeout=5000)
    meter = StallMeter()
    swipe(qtbot, window, arrivals, 8)
    meter.stop()
    try:
        assert len(arrivals) == 9 and meter.worst_ms <= MAX_STALL_MS
        assert [e.data["method"] for e in events(sink, "ranker_failed")] == [where]
    finally:
        close(window, session, timer, engine)


def test_a_failure_in_bind_before_the_window_existed_is_announced_in_it(qtbot, ui_clips, tmp_path):
    """Item 9: a plugin raising in bind fell back silently (no event, no message)."""
    path = tmp_path / "binder.py"
    path.write_text(PLUGIN.format(flag=str(tmp_path / "never"), loop_s=1)
                    + "\n    def bind(self, space, world=None):\n        raise RuntimeError('no bind')\n")
    engine = PluginHost.feed(Catalog(ui_clips), f"{path}:Looper", seed=1)  # fails here, nobody listens yet
    window, session, sink, timer, arrivals = open_window(qtbot, engine)
    try:
        assert "raised an error in bind()" in window.view.toast_text and "foryou" in window.view.toast_text
        assert [e.data["method"] for e in events(sink, "ranker_failed")] == ["bind"]
    finally:
        close(window, session, timer, engine)
