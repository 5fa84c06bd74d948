"""A lab session receiving SIGHUP (its terminal closed) or SIGTERM ends cleanly with that end reason, through
the handlers ``run_lab`` installs (``install_stop_signals(lab.stop)``); real signals sent to this process."""

from __future__ import annotations

import os
import signal
import sqlite3

import pytest
from PySide6.QtCore import Qt

from feedapp.store.check import check
from feedapp.store.log import EventLog
from tests.ui.test_lab_ui import lab_session, make_study, rows, start_feed, wait_arrivals


@pytest.fixture()
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


@pytest.mark.parametrize("sig, reason", [(signal.SIGHUP, "terminal_closed"), (signal.SIGTERM, "terminated"),
                                         (signal.SIGINT, "quit")])
def test_a_signal_ends_the_lab_session_cleanly_with_its_reason(qtbot, ui_clips, tmp_path, restore_signals, sig, reason):
    from feedapp.ui.app import install_stop_signals

    db = tmp_path / "feed.db"
    log = EventLog(db)
    lab = lab_session(make_study(ui_clips, tmp_path, views=50), ui_clips, log)
    tick = install_stop_signals(lab.stop)
    start_feed(qtbot, lab)
    run = lab.main_run
    wait_arrivals(qtbot, run, 1)
    qtbot.keyClick(run.view, Qt.Key.Key_Down)
    wait_arrivals(qtbot, run, 2)
    with qtbot.waitSignal(lab.finished, timeout=3000):
        os.kill(os.getpid(), sig)  # the handler runs at the next Python bytecode, from the tick
    tick.stop()
    assert log.close()
    (sid, end_reason), = rows(db, "SELECT id, end_reason FROM sessions")
    assert end_reason == reason and run.reason == reason
    exits = [e for (e,) in rows(db, "SELECT exit FROM views WHERE session_id = ? AND final = 1 ORDER BY ended_mono_ns", sid)]
    assert exits == ["key", reason]
    conn = sqlite3.connect(db)
    assert check(conn)["ok"], check(conn)["violations"]
    conn.close()
