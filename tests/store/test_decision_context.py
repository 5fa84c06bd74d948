"""Migration 5: the decision context of each impression, clip features, and scripted slots (issue 10)."""

from __future__ import annotations

import json

import feedapp.store.db as dbmod
from feedapp.store.db import open_db


def test_migration_5_adds_the_decision_context_and_marks_warm_up_slots_scripted(tmp_path, monkeypatch):
    path = tmp_path / "feed.db"
    monkeypatch.setattr(dbmod, "SCHEMA_VERSION", 4)  # a file as the previous feedapp left it
    db = dbmod.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 4
    db["sessions"].insert({"id": "s", "app_version": "t", "mode": "lab", "ranker": "foryou", "started_utc": "x",
                           "started_mono_ns": 1})
    db["clips"].insert({"key": "c@1", "id": "c", "topics": "[]", "duration_ms": 1000})
    for pos, policy in enumerate(("warmup", "warmup", "foryou", "history")):
        db["impressions"].insert({"id": f"i{pos}", "session_id": "s", "position": pos, "clip_id": "c", "clip_key": "c@1",
                                  "policy": policy, "is_revisit": int(policy == "history"), "settled_mono_ns": pos})
    db.conn.close()
    monkeypatch.undo()
    db = open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION >= 5
    rows = db.execute("SELECT policy, scripted, views_learned, live_seq, params_version, ranker_version "
                      "FROM impressions ORDER BY position").fetchall()
    assert rows == [("warmup", 1, None, None, None, None), ("warmup", 1, None, None, None, None),
                    ("foryou", 0, None, None, None, None), ("history", 0, None, None, None, None)]
    assert db.execute("SELECT features FROM clips").fetchone() == (None,)
    assert [r[0] for r in db.execute("SELECT scripted FROM view_log ORDER BY position")] == [1, 1, 0, 0]


def test_features_of_a_clip_version_written_before_them_are_filled_in_once_known(tmp_path):
    from feedapp.core.model import Clip
    from feedapp.store.log import EventLog

    path = tmp_path / "feed.db"
    clip = Clip("c", "/c.mp4", "C", ("cats",), "me", 4000, 30.0, 540, 960, features=(0.1, 1 / 3, -2.5e-7))
    log = EventLog(path)
    log.clips_known((clip,))
    assert log.close()
    db = open_db(path)
    db.execute("UPDATE clips SET features = NULL")  # as migration 5 leaves older rows
    db.conn.close()
    log = EventLog(path)
    log.clips_known((clip,))
    assert log.close()
    db = open_db(path)
    (text,) = db.execute("SELECT features FROM clips").fetchone()
    assert tuple(json.loads(text)) == clip.features  # exact floats
    assert db.execute("SELECT COUNT(*) FROM clips").fetchone()[0] == 1  # still one version of the clip
