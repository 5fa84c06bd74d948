"""Migration 5: the decision context of each impression, clip features, and scripted slots (issue 10)."""

from __future__ import annotations

import json

import feedapp.store.db as dbmod
from feedapp.store.db import open_db


def _old_file(path, version: int, monkeypatch, clips: dict[str, int], impressions: list[tuple[str, str, int]]):
    """A file at schema ``version`` (as that feedapp left it) with one session, ``clips`` (id: duration)
    and ``impressions`` (clip, policy, is_revisit); returns the open database."""
    monkeypatch.setattr(dbmod, "SCHEMA_VERSION", version)
    db = dbmod.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == version
    db["sessions"].insert({"id": "s", "app_version": "t", "mode": "lab", "ranker": "foryou", "started_utc": "x",
                           "started_mono_ns": 1, "skip_threshold_ms": 3000})
    db["clips"].insert_all([{"key": f"{c}@1", "id": c, "topics": "[]", "duration_ms": d} for c, d in clips.items()])
    for pos, (clip, policy, rev) in enumerate(impressions):
        db["impressions"].insert({"id": f"i{pos}", "session_id": "s", "position": pos, "clip_id": clip,
                                  "clip_key": f"{clip}@1", "policy": policy, "is_revisit": rev, "settled_mono_ns": pos})
    return db


def _upgraded(db, path, monkeypatch, at_least: int):
    """Close the old file and open it with this feedapp (every migration runs)."""
    db.conn.close()
    monkeypatch.undo()
    db = open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION >= at_least
    return db


def test_migration_5_adds_the_decision_context_and_marks_warm_up_slots_scripted(tmp_path, monkeypatch):
    path = tmp_path / "feed.db"
    db = _old_file(path, 4, monkeypatch, {"c": 1000},
                   [("c", "warmup", 0), ("c", "warmup", 0), ("c", "foryou", 0), ("c", "history", 1)])
    db = _upgraded(db, path, monkeypatch, 5)
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


def test_migration_7_splits_served_again_from_revisits_and_recomputes_skips(tmp_path, monkeypatch):
    path = tmp_path / "feed.db"
    # (clip, is_revisit, play_ms, loops, exit, skipped as the old rule stored it)
    rows = [("short", 0, 2000.0, 0, "key", 1), ("long", 0, 1000.0, 0, "key", 1), ("short", 1, 500.0, 0, "key", 1),
            ("long", 0, 5000.0, 0, "key", 0), ("short", 0, 100.0, 0, "auto_skip", 1), ("long", 0, 2500.0, 0, "quit", 1)]
    db = _old_file(path, 5, monkeypatch, {"short": 2000, "long": 20000},
                   [(c, "history" if rev else "foryou", rev) for c, rev, *_ in rows])
    for pos, (clip, rev, play, loops, exit_, skipped) in enumerate(rows):
        db["views"].insert({"impression_id": f"i{pos}", "session_id": "s", "dwell_ms": play, "play_ms": play,
                            "loops": loops, "skipped": skipped, "exit": exit_, "final": 1})
    db = _upgraded(db, path, monkeypatch, 7)
    got = db.execute("SELECT i.is_revisit, i.served_again, v.skipped FROM impressions i JOIN views v "
                     "ON v.impression_id = i.id ORDER BY i.position").fetchall()
    assert got == [(0, 0, 0),  # a 2 s clip watched to its end: no longer a skip
                   (0, 0, 1),  # left a 20 s clip after 1 s: a skip
                   (1, 0, 1),  # swiped back to it (a revisit, not served again) and left it early
                   (0, 1, 0),  # the ranker served the long clip again
                   (0, 1, 0),  # served again, but it could not be played: not a skip
                   (0, 1, 1)]
    assert [r[0] for r in db.execute("SELECT served_again FROM view_log ORDER BY position")] == [0, 0, 0, 1, 1, 1]
