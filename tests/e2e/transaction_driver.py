"""Drive the real window the app's way, with live changes, then replay the session (issue 10, point 3).

Run under an X server (``tests/e2e/test_transaction_xvfb.py`` runs it on its own Xvfb): real clips,
the SQLite log, ``make_engine`` with the example plugin (in its worker process), ``attach_session``,
the plugin's poll timer (``watch_plugin``) and the autopilot. On the way: a parameter change, a follow,
"refresh my feed", a plugin reload and catalog growth. Then the session is read back from the file and
replayed with the plugin; one JSON line on stdout says what came back. Exit code 0 when every logged
propensity is reproduced to 1e-9 and every served clip is the replayed draw.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = f"{ROOT / 'examples' / 'plugins' / 'topic_average.py'}:TopicAverage"
COLOURS = [(40, 40, 220), (40, 200, 40), (220, 80, 40), (200, 200, 40), (200, 40, 200), (40, 200, 200)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--views", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=150.0)
    args = ap.parse_args(argv)

    from PySide6.QtCore import QTimer

    from feedapp.core.catalog import Catalog
    from feedapp.core.replay import replay
    from feedapp.store.replay_log import read_logged_session
    from feedapp.store.log import EventLog
    from feedapp.store.sessions import open_for_reading
    from feedapp.ui.app import attach_session, make_engine, new_recorder, start_qt, watch_plugin
    from feedapp.ui.autopilot import Autopilot
    from feedapp.ui.window import PlayerWindow
    from tests.clipgen import make_clip
    from tests.ui.helpers import live_changes
    from tests.ui.conftest import clip_for

    app = start_qt()
    clips = [clip_for(make_clip(args.dir / f"t{i}.mp4", seconds=1.5, colour=c), ("cats", "cooking", "travel")[i % 3],
                      creator=f"maker{i}") for i, c in enumerate(COLOURS)]
    db = args.dir / "feed.db"
    log = EventLog(db)
    catalog = Catalog(clips[:4])
    engine = make_engine(catalog, PLUGIN, 9, {"temperature": 0.3, "repeat_gap": 2}, plugin_budget_ms=2000)
    log.clips_known(catalog.clips)
    catalog.on_grow(log.clips_known)
    window = PlayerWindow(engine, muted=True)
    window.resize(360, 640)
    view = window.view
    catalog.on_grow(lambda added: view.catalog_grew())
    recorder = new_recorder(log, catalog, mode="demo", ranker=engine.ranker.name,
                            ranker_params=dict(engine.ranker.params), seed=9, skip_threshold_ms=1000)
    bridge = attach_session(window, engine, recorder, panels_visible=None, dev_tools=False)
    poll = watch_plugin(engine, view)
    pilot = Autopilot(view, engine, ["cats"], seed=4, speed=3.0, max_views=args.views, min_watch_ms=300)
    live, _ = live_changes(engine, view, clips[4:], clips[1].creator, reload=engine.plugin_host.reload)
    view.arrived.connect(live)
    done = {"ok": False}
    pilot.stopped.connect(lambda *_: (done.update(ok=True), app.quit()))
    QTimer.singleShot(int(args.timeout * 1000), app.quit)
    window.show()
    view.start()
    app.exec()  # until the autopilot stops (or the timeout)
    bridge.end("quit")
    view.shutdown()
    if poll is not None:
        poll.stop()
    engine.plugin_host.close()
    log.close()
    if not done["ok"]:
        print(json.dumps({"error": f"the autopilot did not finish within {args.timeout} s"}))
        return 1
    conn = open_for_reading(db)
    try:
        logged = read_logged_session(conn, recorder.id)
    finally:
        conn.close()
    rep = replay(logged, [PLUGIN], n_boot=20)
    decided = [s for s in rep["steps"] if PLUGIN in s["rankers"]]
    r = rep["rankers"][0]
    out = {
        "changes": [e["change"] for e in logged.live],
        "exact_log": logged.exact,
        "impressions": rep["counts"]["impressions"],
        "decided": len(decided),
        "max_propensity_error": max((abs(s["rankers"][PLUGIN]["p_logged_clip"] - s["propensity"]) for s in decided),
                                    default=None),
        "served_agrees": r["reproduced"]["served_agrees"],
        "ips": r["estimates"]["ips"]["value"],
        "logged_mean": rep["logged"]["value"],
    }
    print(json.dumps(out))
    ok = (out["exact_log"] and out["decided"] >= 10 and out["max_propensity_error"] is not None
          and out["max_propensity_error"] <= 1e-9 and out["served_agrees"] == 1.0 and out["ips"] == out["logged_mean"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
