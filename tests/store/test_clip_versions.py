"""Clip rows are never rewritten under earlier sessions (schema 4: clips versioned by content).

The issue's reproduction: the same sidecar clip id in two folders, one --db, the real app run on
each folder in turn (real subprocesses, real clips, real SQLite); then `feedapp check`, export and
merge must agree with what each session really showed. Plus migration 4 on a schema-3 file.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from feedapp.store.db import CLIP_FIELDS, MIGRATIONS, SCHEMA_VERSION, clip_key, open_db
from feedapp.store.merge import merge
from tests.clipgen import make_clip

ROOT = Path(__file__).resolve().parents[2]


def _folder(root: Path, title: str, seconds: float, colour: tuple[int, int, int]) -> Path:
    make_clip(root / "shared.mp4", seconds=seconds, colour=colour, label=title[:1])
    (root / "catalog.json").write_text(json.dumps([{"file": "shared.mp4", "id": "stim-01", "title": title,
                                                     "topics": ["cats"], "creator": "lab"}]))
    return root


def _play(folder: Path, db: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "feedapp", "play", str(folder), "--db", str(db), "--mute",
                           "--quit-after", "2.5"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _feedapp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "feedapp", *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)


def _seen(db: Path) -> list[tuple]:
    """(session started, title, duration, path) of every impression, through the view_log and clips."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT s.started_utc, l.title, l.duration_ms, c.path FROM view_log l JOIN sessions s ON s.id = l.session_id "
            "JOIN impressions i ON i.id = l.impression_id JOIN clips c ON c.key = i.clip_key "
            "ORDER BY s.started_utc, l.position").fetchall()
    finally:
        conn.close()


def test_same_sidecar_id_in_two_folders_keeps_what_each_session_saw(tmp_path):
    a = _folder(tmp_path / "set-a", "Alpha version", 1.0, (200, 40, 40))
    b = _folder(tmp_path / "set-b", "Beta version", 2.0, (40, 200, 40))
    db = tmp_path / "feed.db"
    for folder in (a, b):
        r = _play(folder, db)
        assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(db)
    versions = conn.execute("SELECT key, id, title, duration_ms, path FROM clips ORDER BY rowid").fetchall()
    conn.close()
    assert [v[1:3] for v in versions] == [("stim-01", "Alpha version"), ("stim-01", "Beta version")]
    assert 900 <= versions[0][3] <= 1100 and 1900 <= versions[1][3] <= 2100
    assert versions[0][0] != versions[1][0] and all(v[0].startswith("stim-01@") for v in versions)
    seen = _seen(db)
    assert seen and {s[0] for s in seen} and len({s[0] for s in seen}) == 2
    first = [s for s in seen if s[0] == min(x[0] for x in seen)]
    second = [s for s in seen if s[0] == max(x[0] for x in seen)]
    assert {s[1:] for s in first} == {("Alpha version", versions[0][3], str(a / "shared.mp4"))}
    assert {s[1:] for s in second} == {("Beta version", versions[1][3], str(b / "shared.mp4"))}

    # feedapp check: every watch ratio agrees with the duration of the clip the view really saw
    r = _feedapp("check", "--db", str(db))
    assert r.returncode == 0 and "every invariant holds" in r.stdout, r.stdout + r.stderr

    # export: both versions, each session's rows join the one it saw
    out = tmp_path / "out"
    r = _feedapp("export", "--db", str(db), "--all", "--format", "csv", "--out", str(out))
    assert r.returncode == 0, r.stderr
    with open(out / "clips.csv", encoding="utf-8") as f:
        clips = list(csv.DictReader(f))
    assert sorted((c["key"], c["title"]) for c in clips) == sorted((v[0], v[2]) for v in versions)
    with open(out / "view_log.csv", encoding="utf-8") as f:
        log = list(csv.DictReader(f))
    by_session = {}
    for row in log:
        by_session.setdefault(row["session_id"], set()).add(row["title"])
    assert sorted(map(tuple, by_session.values())) == [("Alpha version",), ("Beta version",)]

    # the replay workbench: one clip per id, the version the session showed
    from feedapp.store.replay_log import read_logged_session

    conn = sqlite3.connect(db)
    sids = [r[0] for r in conn.execute("SELECT id FROM sessions ORDER BY started_utc")]
    titles = [[c.title for c in read_logged_session(conn, sid).clips] for sid in sids]
    conn.close()
    assert titles == [["Alpha version"], ["Beta version"]]

    # merge into a study file (twice: nothing more) and again from a second copy: same versions, same joins
    study = tmp_path / "study.db"
    merge([db], study)
    again = merge([db], study)
    assert again[0]["added"]["clips"] == 0 and again[0]["conflicts"] == {}
    assert _seen(study) == seen
    r = _feedapp("check", "--db", str(study))
    assert r.returncode == 0, r.stdout + r.stderr


def test_announcing_a_clip_again_with_the_same_facts_adds_no_row(tmp_path):
    from feedapp.store.log import EventLog
    from tests.store.test_sessions import CLIPS, write_log

    path = tmp_path / "feed.db"
    write_log(path, [dict(n_views=3), dict(n_views=2)])  # the same four clips announced twice
    log = EventLog(path)
    log.clips_known(CLIPS)
    assert log.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM clips").fetchone() == (len(CLIPS), len(CLIPS))
    conn.close()


# -- migration 4 ------------------------------------------------------------------------------------
def _schema3_file(path: Path) -> None:
    """A schema-3 file as feedapp 3 wrote it: clips keyed by id, impressions pointing at clips.id."""
    db = sqlite_utils.Database(path)
    for m in MIGRATIONS[:3]:
        m(db)
    db.execute("PRAGMA user_version=3")
    db["sessions"].insert({"id": "s-1", "app_version": "3", "mode": "play", "ranker": "simple", "seed": 1,
                           "skip_threshold_ms": 3000, "started_utc": "2026-01-05T10:00:00.000+00:00",
                           "started_mono_ns": 5 * 10**9, "ended_utc": "2026-01-05T10:00:09.000+00:00",
                           "ended_mono_ns": 16 * 10**9, "end_reason": "quit", "host": "lab-pc", "pid": 4242})
    db["clips"].insert_all([
        {"id": "c1", "path": "/v/c1.mp4", "title": "One", "topics": '["cats"]', "creator": "ann", "duration_ms": 4000,
         "fps": 30.0, "width": 540, "height": 960, "rotation": 0, "created": ""},
        {"id": "c2", "path": "/v/c2.mp4", "title": "Two", "topics": '["dogs"]', "creator": "bo", "duration_ms": 2000,
         "fps": 25.0, "width": 540, "height": 960, "rotation": 0, "created": "2024-03-01"},
    ])
    for pos, (clip, play) in enumerate((("c1", 3000.0), ("c2", 5000.0))):
        t = (6 + 4 * pos) * 10**9
        db["impressions"].insert({"id": f"i-{pos}", "session_id": "s-1", "position": pos, "clip_id": clip,
                                  "reached_by": "start" if pos == 0 else "swipe_next", "is_revisit": 0,
                                  "policy": "simple", "input_mono_ns": t, "settled_mono_ns": t,
                                  "settled_utc": "2026-01-05T10:00:01.000+00:00", "first_frame_ms": 10.0})
        dur = 4000 if clip == "c1" else 2000
        db["views"].insert({"impression_id": f"i-{pos}", "session_id": "s-1", "dwell_ms": play, "play_ms": play,
                            "paused_ms": 0.0, "unfocused_ms": 0.0, "stalled_ms": 0.0, "watch_ratio": play / dur,
                            "loops": int(play // dur), "skipped": 0 if play >= 3000 else 1, "exit": "swipe_next",
                            "liked": 0, "not_interested": 0, "ended_mono_ns": t + int(play * 1e6),
                            "ended_utc": "2026-01-05T10:00:04.000+00:00", "final": 1})
    db.conn.close()


def test_migration_4_keys_existing_clips_and_keeps_every_row(tmp_path):
    path = tmp_path / "feed.db"
    _schema3_file(path)
    db = open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 4
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # restored after the rebuild
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    clips = [dict(zip(("key",) + CLIP_FIELDS, r)) for r in
             db.execute(f"SELECT key, {', '.join(CLIP_FIELDS)} FROM clips ORDER BY id")]
    assert [c["key"] for c in clips] == [clip_key(*(c[f] for f in CLIP_FIELDS)) for c in clips]
    assert [c["title"] for c in clips] == ["One", "Two"]
    imps = db.execute("SELECT id, clip_id, clip_key FROM impressions ORDER BY position").fetchall()
    assert imps == [("i-0", "c1", clips[0]["key"]), ("i-1", "c2", clips[1]["key"])]
    assert db.execute("SELECT boot_id, proc_start, pid FROM sessions").fetchall() == [("", None, 4242)]
    assert db.execute("SELECT title, duration_ms FROM view_log ORDER BY position").fetchall() == [("One", 4000),
                                                                                                ("Two", 2000)]
    assert db.execute("SELECT COUNT(*) FROM views").fetchone()[0] == 2
    idx = {r[1] for r in db.execute("PRAGMA index_list(impressions)")}
    assert {"idx_impressions_session_id_position", "idx_impressions_clip_key"} <= idx
    db.conn.close()
    assert (tmp_path / "feed.db.schema3.bak").exists()
    r = _feedapp("check", "--db", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    # the key is the same whichever machine computes it: what the writer gives these facts
    assert clip_key("c1", "/v/c1.mp4", "One", '["cats"]', "ann", 4000, 30, 540, 960, 0, "") == clips[0]["key"]


def test_a_failed_migration_4_leaves_the_schema_3_file_as_it_was(tmp_path, monkeypatch):
    import feedapp.store.db as dbmod

    path = tmp_path / "feed.db"
    _schema3_file(path)
    before = sqlite3.connect(path)
    dump = list(before.iterdump())
    before.close()

    def power_cut(*values):
        raise RuntimeError("power cut in the middle of migration 4")

    monkeypatch.setattr(dbmod, "clip_key", power_cut)
    with pytest.raises(sqlite3.OperationalError, match="user-defined function raised"):
        dbmod.open_db(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 3
    assert list(raw.iterdump()) == dump  # all or nothing
    raw.close()
    monkeypatch.undo()
    assert open_db(path).execute("SELECT COUNT(*) FROM clips").fetchone()[0] == 2


def test_a_schema_3_source_is_merged_with_its_clips_versioned(tmp_path):
    src = tmp_path / "old.db"
    _schema3_file(src)
    before = src.read_bytes()
    study = tmp_path / "study.db"
    (report,) = merge([src], study)
    assert report["schema_version"] == 3 and report["added"]["clips"] == 2 and report["conflicts"] == {}
    assert src.read_bytes() == before  # the source is never changed
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".feedapp-merge")] == []  # no leftovers
    conn = sqlite3.connect(study)
    assert conn.execute("SELECT title FROM view_log ORDER BY position").fetchall() == [("One",), ("Two",)]
    conn.close()
