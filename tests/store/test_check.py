"""`feedapp check`: a clean log passes; a crafted violation of each invariant is found and described.

Logs are real SQLite files written through SessionRecorder + EventLog (tests.store.test_sessions);
violations are crafted afterwards with plain SQL on a copy, as a buggy writer or a hand edit would.
``bulk_log`` writes large consistent logs with bulk inserts (same columns) for the 100k-view timing.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest

from feedapp.store.check import RULE_NAMES, check
from feedapp.store.commands import run_check_command
from feedapp.store.db import clip_key, open_db
from feedapp.store.sessions import open_for_reading
from tests.store.test_sessions import write_log

MS = 1_000_000


def bulk_log(path: Path, n_sessions: int, views_per_session: int, *, events_per_view: int = 2, seed: int = 0) -> dict:
    """A consistent log (every invariant holds) written with executemany; returns row counts."""
    rnd = random.Random(seed)
    db = open_db(path)
    conn = db.conn
    conn.execute("PRAGMA foreign_keys=OFF")  # the rows are consistent by construction; checking each costs time
    conn.execute("PRAGMA cache_size=-262144")  # random UUID keys: keep the indexes in memory while inserting
    n_clips = 500
    durations = [rnd.randint(3_000, 60_000) for _ in range(n_clips)]
    topics = ["cats", "cooking", "sport", "music", "travel", "news"]
    clips = [(f"clip-{k:04d}", f"/v/{topics[k % 6]}/{k}.mp4", f"Clip {k}", json.dumps([topics[k % 6]]),
              f"creator{k % 37}", durations[k], 30.0, 540, 960, 0, "") for k in range(n_clips)]
    clips = [(clip_key(*c), *c) for c in clips]  # schema 4: keyed by version
    counts = {"sessions": 0, "impressions": 0, "views": 0, "events": 0, "profile_snapshots": 0}
    conn.execute("BEGIN")  # open_db's connection autocommits: one transaction for the whole bulk load
    conn.executemany("INSERT INTO clips (key, id, path, title, topics, creator, duration_ms, fps, width, height, "
                     "rotation, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", clips)
    for s in range(n_sessions):
        sid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        t0 = 10**12 + s * 10**9
        t = t0 + 50 * MS
        imps, views, events, snaps = [], [], [], []
        for p in range(views_per_session):
            iid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
            k = rnd.randrange(n_clips)
            settled = t
            utc = f"2026-11-{1 + s % 28:02d}T10:00:00.000+00:00"
            imps.append((iid, sid, p, clips[k][1], clips[k][0], "start" if p == 0 else "swipe_next", 0, "simple",
                         rnd.random(), 0.1, 0, settled - 150 * MS if p else settled, settled, utc, 12.5))
            stalled = 12.5
            paused = float(rnd.choice((0, 0, 0, 350)))
            unfocused = float(rnd.choice((0, 0, 0, 0, 1200)))
            play = float(rnd.randint(200, 20_000))
            dwell = play + paused + unfocused + stalled
            ended = settled + int(dwell * MS)
            views.append((iid, sid, dwell, play, paused, unfocused, stalled, play / durations[k],
                          int(play // durations[k]), 1 if play < 3000 else 0, "swipe_next", 0, 0, ended, utc, 1))
            for e in range(events_per_view):
                events.append((str(uuid.UUID(int=rnd.getrandbits(128), version=4)), sid, iid,
                               "pause" if e % 2 == 0 else "resume", settled + (e + 1) * MS, utc, "{}"))
            snaps.append((sid, p, ended, utc, json.dumps({"topics": {topics[k % 6]: 0.5}})))
            t = ended + 150 * MS + 10 * MS
        conn.execute(
            "INSERT INTO sessions (id, app_version, mode, ranker, ranker_params, seed, catalog_fingerprint, "
            "catalog_size, participant, condition, skip_threshold_ms, started_utc, started_mono_ns, ended_utc, "
            "ended_mono_ns, end_reason, host) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (sid, "bench", "lab", "simple", "{}", s, "fp", n_clips, f"P{s:03d}", "AB"[s % 2], 3000,
             f"2026-11-{1 + s % 28:02d}T10:00:00.000+00:00", t0, f"2026-11-{1 + s % 28:02d}T11:00:00.000+00:00",
             t, "finished", "bench"))
        conn.executemany("INSERT INTO impressions (id, session_id, position, clip_id, clip_key, reached_by, is_revisit, "
                         "policy, score, propensity, exploration, input_mono_ns, settled_mono_ns, settled_utc, "
                         "first_frame_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", imps)
        conn.executemany("INSERT INTO views VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", views)
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?)", events)
        conn.executemany("INSERT INTO profile_snapshots VALUES (?,?,?,?,?)", snaps)
        counts["sessions"] += 1
        counts["impressions"] += len(imps)
        counts["views"] += len(views)
        counts["events"] += len(events)
        counts["profile_snapshots"] += len(snaps)
    conn.execute("COMMIT")
    conn.close()
    return counts


@pytest.fixture(scope="module")
def clean_log(tmp_path_factory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("check") / "clean.db"
    recs = write_log(path, [
        dict(n_views=14, participant="P01", condition="A", end="quit"),
        dict(n_views=9, participant="P02", condition="B", end="time_limit"),
        dict(n_views=6, participant="P03", condition="B", end=None, utc_shift_s=3600),  # crashed, not recovered
    ])
    return path, [r.id for r in recs]


def _copy(clean_log, tmp_path) -> tuple[Path, sqlite3.Connection, list[str]]:
    src, ids = clean_log
    path = tmp_path / "crafted.db"
    shutil.copy(src, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")  # a buggy writer or a hand edit
    return path, conn, ids


def _impression(conn, sid, position) -> str:
    return conn.execute("SELECT id FROM impressions WHERE session_id = ? AND position = ?", [sid, position]).fetchone()[0]


def _run(path):
    conn = open_for_reading(path)
    try:
        return check(conn)
    finally:
        conn.close()


def test_clean_log_passes(clean_log, capsys):
    path, ids = clean_log
    result = _run(path)
    assert result["ok"], [v.describe() for v in result["violations"]]
    assert result["checked"]["views"] == 14 + 9 + 6
    assert run_check_command(path) == 0
    out = capsys.readouterr().out
    assert "every invariant holds" in out and "3 sessions" in out
    assert run_check_command(path, as_json=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["violations"] == []


def test_recovered_crash_session_is_clean(clean_log, tmp_path):
    from feedapp.store.recover import recover_interrupted

    import subprocess
    import sys

    path, conn, ids = _copy(clean_log, tmp_path)
    conn.close()
    db = open_db(path)
    assert recover_interrupted(db, quiet_s=60) == []  # recorded by this (live) process: left alone
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    db.execute("UPDATE sessions SET pid = ? WHERE end_reason IS NULL", [int(gone.stdout)])  # its process died
    assert len(recover_interrupted(db, quiet_s=60)) == 1
    db.conn.close()
    assert _run(path)["ok"]


# (rule, SQL that breaks it; {s} = first session id, {s3} = the open session, {i} = impression id at
# position 5 of the first session, {i_last} = last impression of the first session)
CRAFTED = [
    ("impression_unknown_session", "UPDATE impressions SET session_id = 'ghost-session' WHERE id = '{i}'", None),
    ("impression_unknown_clip", "UPDATE impressions SET clip_id = 'no-such-clip' WHERE id = '{i}'", 5),
    ("view_without_impression",
     "INSERT INTO views (impression_id, session_id, dwell_ms, play_ms, final) VALUES ('ghost-imp', '{s}', 1, 1, 1)", None),
    ("view_unknown_session", "UPDATE views SET session_id = 'ghost-session' WHERE impression_id = '{i}'", None),
    ("view_session_mismatch", "UPDATE views SET session_id = '{s2}' WHERE impression_id = '{i}'", 5),
    ("event_unknown_session", "UPDATE events SET session_id = 'ghost-session' WHERE rowid = 1", None),
    ("event_unknown_impression", "UPDATE events SET impression_id = 'ghost-imp' WHERE rowid = 1", None),
    ("snapshot_unknown_session", "UPDATE profile_snapshots SET session_id = 'ghost' WHERE after_position = 2 AND session_id = '{s}'", 2),
    ("positions", "UPDATE impressions SET position = 20 WHERE id = '{i_last}'", 20),
    ("positions", "UPDATE impressions SET position = -position - 1 WHERE session_id = '{s}';"
                  "UPDATE impressions SET position = -position WHERE session_id = '{s}'", 1),
    ("time_order", "UPDATE impressions SET (settled_mono_ns, input_mono_ns) = (SELECT settled_mono_ns - 1000000, "
                   "settled_mono_ns - 2000000 FROM impressions WHERE session_id = '{s}' AND position = 4) "
                   "WHERE id = '{i}'", 5),
    ("negative_duration", "UPDATE views SET paused_ms = -2, play_ms = play_ms + 2 WHERE impression_id = '{i}'", 5),
    ("negative_impression_time", "UPDATE impressions SET first_frame_ms = -4 WHERE id = '{i}'", 5),
    ("negative_session_length", "UPDATE sessions SET ended_mono_ns = started_mono_ns - 1 WHERE id = '{s}'", None),
    ("buckets_exceed_dwell", "UPDATE views SET paused_ms = paused_ms + 20 WHERE impression_id = '{i}'", 5),
    ("buckets_short_of_dwell", "UPDATE views SET dwell_ms = dwell_ms + 20 WHERE impression_id = '{i}'", 5),
    ("dwell_exceeds_session", "UPDATE views SET dwell_ms = dwell_ms + 60000, stalled_ms = stalled_ms + 60000 "
                              "WHERE impression_id = '{i}'", None),
    ("outside_session", "UPDATE sessions SET ended_mono_ns = ended_mono_ns - 2000000000 WHERE id = '{s}'", 13),
    ("watch_ratio", "UPDATE views SET watch_ratio = watch_ratio * 2 + 0.01 WHERE impression_id = '{i}'", 5),
    ("watch_ratio", "UPDATE clips SET duration_ms = duration_ms + 1000 WHERE id = "
                    "(SELECT clip_id FROM impressions WHERE id = '{i}')", 5),
    ("skipped_flag", "UPDATE views SET skipped = 1 - skipped WHERE impression_id = '{i}'", 5),
    ("open_view_in_ended_session", "UPDATE views SET final = 0 WHERE impression_id = '{i}'", 5),
    ("open_view_not_last", "UPDATE views SET final = 0 WHERE impression_id = '{i}'", 5),
    ("impression_without_view", "DELETE FROM views WHERE impression_id = '{i}'", 5),
]


@pytest.mark.parametrize("rule,sql,position", CRAFTED, ids=[f"{c[0]}-{k}" for k, c in enumerate(CRAFTED)])
def test_crafted_violation_is_found(clean_log, tmp_path, capsys, rule, sql, position):
    path, conn, ids = _copy(clean_log, tmp_path)
    s = ids[0]
    fill = {"s": s, "s2": ids[1], "s3": ids[2], "i": _impression(conn, s, 5), "i_last": _impression(conn, s, 13)}
    for stmt in sql.format(**fill).split(";"):
        conn.execute(stmt)
    conn.close()
    result = _run(path)
    assert not result["ok"]
    found = [v for v in result["violations"] if v.rule == rule]
    assert found, f"{rule} not found; got {[v.describe() for v in result['violations']]}"
    if position is not None:
        assert any(v.position == position for v in found), [v.describe() for v in found]
    # the CLI prints it in words (session, position, figures) and exits 1
    assert run_check_command(path) == 1
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if f"[{rule}]" in ln)
    if found[0].session_id in ids:
        assert line.startswith(f"session {found[0].session_id[:8]}")
    if position is not None:
        assert f"position {position}" in out
    assert "violations" in out.splitlines()[-1]
    assert run_check_command(path, as_json=True) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["counts"][rule] >= 1
    assert any(v["rule"] == rule for v in data["violations"])


def test_each_rule_has_a_crafted_test():
    assert set(RULE_NAMES) == {c[0] for c in CRAFTED}


def test_messages_carry_the_figures(clean_log, tmp_path):
    path, conn, ids = _copy(clean_log, tmp_path)
    i = _impression(conn, ids[0], 5)
    dwell, paused = conn.execute("SELECT dwell_ms, paused_ms FROM views WHERE impression_id = ?", [i]).fetchone()
    conn.execute("UPDATE views SET paused_ms = paused_ms + 20 WHERE impression_id = ?", [i])
    conn.close()
    (v,) = _run(path)["violations"]
    assert v.rule == "buckets_exceed_dwell" and v.session_id == ids[0] and v.position == 5
    assert f"exceeds dwell {dwell:.1f} ms by 20.0 ms" in v.message
    assert v.figures["dwell_ms"] == dwell and v.figures["paused_ms"] == paused + 20


def test_small_discrepancies_within_tolerance_pass(clean_log, tmp_path):
    path, conn, ids = _copy(clean_log, tmp_path)
    i = _impression(conn, ids[0], 5)
    conn.execute("UPDATE views SET paused_ms = paused_ms + 3 WHERE impression_id = ?", [i])  # 3 ms < 5 ms
    conn.close()
    assert _run(path)["ok"]
    conn = open_for_reading(path)
    assert [v.rule for v in check(conn, tolerance_ms=1.0)["violations"]] == ["buckets_exceed_dwell"]
    conn.close()


def test_check_is_read_only_and_errors_are_clear(tmp_path, capsys):
    assert run_check_command(tmp_path / "missing.db") == 2
    assert "no database at" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    open_db(empty).conn.close()
    assert run_check_command(empty) == 0
    assert "0 sessions" in capsys.readouterr().out


def test_a_large_bulk_log_is_checked_clean(tmp_path):
    """The check's speed (100k views within 5 s) is measured by benchmarks/export_check.py; here only
    that a large, many-session log built the fast way is checked clean."""
    path = tmp_path / "big.db"
    counts = bulk_log(path, n_sessions=20, views_per_session=500)
    assert counts["views"] == 10_000
    conn = open_for_reading(path)
    result = check(conn)
    assert result["ok"], [v.describe() for v in result["violations"][:5]]
    assert result["checked"]["views"] == 10_000
    conn.close()


def test_garbage_values_are_reported_not_crashed_on(clean_log, tmp_path):
    path, conn, ids = _copy(clean_log, tmp_path)
    i = _impression(conn, ids[0], 5)
    conn.execute("UPDATE views SET dwell_ms = 'lots' WHERE impression_id = ?", [i])
    conn.close()
    result = _run(path)
    assert not result["ok"] and any(v.position == 5 for v in result["violations"])
    assert all(isinstance(v.message, str) and v.message for v in result["violations"])


def test_a_long_session_through_the_real_write_path_is_clean(tmp_path):
    path = tmp_path / "long.db"
    (rec,) = write_log(path, [dict(n_views=400, end="time_limit", skip_ms=2500)])
    result = _run(path)
    assert result["ok"], [v.describe() for v in result["violations"][:5]]
    assert result["checked"]["views"] == 400 and result["checked"]["events"] > 400
    conn = open_for_reading(path)
    skips = conn.execute("SELECT SUM(skipped) FROM views").fetchone()[0]
    assert 0 < skips < 400
    conn.close()
