"""A lab session whose condition is a plugin ranker (``ranker = "plugins/watcher.py:Watcher"`` in the study
file): validated, served from its worker after the warm-up, logged with its source hash, learning whole views."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from feedapp.core.model import Clip
from feedapp.lab.commands import validate
from feedapp.lab.study import parse_study
from feedapp.store.check import check
from feedapp.store.log import EventLog
from tests.ui.test_lab_ui import events, lab_session, rows, start_feed, wait_arrivals

os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")

WATCHER = '''
import numpy as np
from feedapp.core.rankers import BaseRanker, Param

class Watcher(BaseRanker):
    name = "watcher"
    is_learner = True
    own_params = (Param("weight", 1.0, 0.0, 10.0, "how much a loop counts"),)

    def __init__(self, seed=0, **params):
        super().__init__(seed, **params)
        self.loops = {}

    def learn_one(self, clip, reward, view):
        print(f"learned {view.clip_id} {view.position} {view.dwell_ms} {view.loops} {view.exit}")
        self.loops[clip.creator] = self.loops.get(clip.creator, 0.0) + self.params["weight"] * view.loops

    def scores(self, rng):
        return np.array([self.loops.get(c.creator, 0.0) for c in self.space.clips], dtype=float)
'''


@pytest.mark.slow
def test_a_lab_condition_served_by_a_plugin_runs_logs_its_version_and_learns_whole_views(qtbot, ui_clips: list[Clip],
                                                                                        tmp_path):
    (tmp_path / "plugins").mkdir()
    plugin = tmp_path / "plugins" / "watcher.py"
    plugin.write_text(WATCHER)
    path = tmp_path / "study.toml"
    path.write_text(f"""
[study]
name = "lab-plugin"
catalog = "{Path(ui_clips[0].path).parent.as_posix()}"
participant_pattern = "P[0-9]{{2}}"
skip_threshold_ms = 500

[limits]
views = 4

[conditions.plugin]
ranker = "plugins/watcher.py:Watcher"
params = {{ weight = 2.5 }}
warmup = ["c3.mp4", "c1.mp4"]

[conditions.shuffle]
ranker = "random"
""")
    code, result = validate(path)
    assert code == 0, result["problems"]
    study = parse_study(path.read_text(), path)
    db = tmp_path / "feed.db"
    log = EventLog(db)
    lab = lab_session(study, ui_clips, log, participant="P02")  # P02 -> condition 0, the plugin
    start_feed(qtbot, lab)
    run = lab.main_run
    host = run.engine.plugin_host
    assert host.watch_file is False and run.engine.ranker.params["weight"] == 2.5
    for n in (1, 2, 3, 4):
        wait_arrivals(qtbot, run, n)
        qtbot.wait(150)
        qtbot.keyClick(run.view, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: lab.end_page is not None and lab.end_page.isVisible(), timeout=5000)
    qtbot.wait(400)
    with qtbot.waitSignal(lab.finished, timeout=3000):
        qtbot.mouseClick(lab.end_page.button, Qt.MouseButton.LeftButton)
    assert log.close()
    (sid, ranker, cond, params), = rows(db, "SELECT id, ranker, condition, ranker_params FROM sessions")
    assert cond == "plugin" and ranker == f"{plugin}:Watcher" and '"weight": 2.5' in params
    imps = rows(db, "SELECT position, clip_id, policy, ranker_version, scripted FROM impressions "
                    "WHERE session_id = ? ORDER BY position", sid)
    version = "plugin:" + hashlib.sha256(WATCHER.encode()).hexdigest()[:16]
    assert [i[1:3] for i in imps[:2]] == [("c3", "warmup"), ("c1", "warmup")] and all(i[4] for i in imps[:2])
    assert [i[2:4] for i in imps[2:]] == [("watcher", version)] * 2 and len(imps) == 4
    assert "ranker_failed" not in events(db, sid)
    # the plugin learned each whole view, as the log holds it (its printed lines come back from its worker)
    views = rows(db, "SELECT i.clip_id, i.position, v.dwell_ms, v.loops, v.exit FROM views v JOIN impressions i "
                     "ON i.id = v.impression_id WHERE v.session_id = ? AND v.final = 1 ORDER BY i.position", sid)
    learned = [line.split() for line in host.output.text().splitlines() if line.startswith("learned ")]
    assert learned == [["learned", c, str(p), str(d), str(lo), e] for c, p, d, lo, e in views] and len(learned) == 4
    assert all(not r.proc.process.is_alive() for r in (host.guard.active,) if hasattr(r, "proc"))  # closed at the end
    import sqlite3

    conn = sqlite3.connect(db)
    assert check(conn)["ok"], check(conn)["violations"]
    conn.close()
