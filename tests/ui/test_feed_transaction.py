"""The real window, the real composition (``attach_session``) and the SQLite log: the session the
autopilot swipes through, with live changes on the way, replays exactly (issue 10, point 3)."""

from __future__ import annotations

import os

from feedapp.core.catalog import Catalog
from feedapp.store.log import EventLog
from feedapp.ui.app import attach_session, make_engine, new_recorder
from feedapp.ui.autopilot import Autopilot
from feedapp.ui.window import PlayerWindow
from tests.ui.helpers import assert_foryou_replays_exactly, end_and_read_back, live_changes


def test_the_window_logs_what_replay_reproduces(qtbot, ui_clips, tmp_path):
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
    path = tmp_path / "feed.db"
    log = EventLog(path)
    catalog = Catalog(ui_clips[:4])
    engine = make_engine(catalog, "foryou", 4, {"temperature": 0.3, "repeat_gap": 2})
    log.clips_known(catalog.clips)
    catalog.on_grow(log.clips_known)
    window = PlayerWindow(engine, muted=True)
    qtbot.addWidget(window)
    window.resize(270, 480)
    view = window.view
    catalog.on_grow(lambda added: view.catalog_grew())
    recorder = new_recorder(log, catalog, mode="demo", ranker=engine.ranker.name,
                            ranker_params=dict(engine.ranker.params), seed=4, skip_threshold_ms=1000)
    bridge = attach_session(window, engine, recorder, panels_visible=None, dev_tools=False)
    pilot = Autopilot(view, engine, ["cats"], seed=5, speed=3.0, max_views=13, min_watch_ms=300)
    live, arrivals = live_changes(engine, view, ui_clips[4:], ui_clips[1].creator)
    view.arrived.connect(live)
    window.show()
    qtbot.waitExposed(window)
    view.start()
    with qtbot.waitSignal(pilot.stopped, timeout=90000):
        pass
    logged = end_and_read_back(bridge, view, log, path, recorder.id)
    assert [e["change"] for e in logged.live] == ["param", "following", "refresh", "catalog"]
    assert logged.exact and len(logged.initial) == 4 and len(logged.clips) == 6
    rep = assert_foryou_replays_exactly(logged)
    r = rep["rankers"][0]
    assert r["reproduced"]["served_agrees"] == 1.0
    assert r["estimates"]["ips"]["value"] == rep["logged"]["value"]
