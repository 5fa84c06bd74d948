"""`feedapp sessions`: listing the sessions of a real log file written through the real write path.

``record_session`` (used by the other data-command tests and by benchmarks/export_check.py) drives a
SessionRecorder into an EventLog with made-up but realistic times: pauses, lost focus, stalls,
likes, loops, profile snapshots.
"""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from feedapp.core.model import Clip
from feedapp.core.session import SessionRecorder
from feedapp.store.commands import run_sessions_command
from feedapp.store.db import SCHEMA_VERSION, StoreError, open_db
from feedapp.store.log import EventLog
from feedapp.store.sessions import list_sessions, open_for_reading, resolve_session

MS = 1_000_000
CLIPS = (
    Clip(id="c-cats-1", path="/v/cats/1.mp4", title="Cat, \"the\" first", topics=("cats",), creator="ann",
         duration_ms=8_000, fps=30.0, width=540, height=960),
    Clip(id="c-cook-1", path="/v/cooking/1.mp4", title="Crêpes\nat home", topics=("cooking", "food"),
         creator="bo", duration_ms=12_000, fps=30.0, width=540, height=960),
    Clip(id="c-cats-2", path="/v/cats/2.mp4", title="Cat two", topics=("cats",), creator="ann",
         duration_ms=5_000, fps=25.0, width=720, height=1280),
    Clip(id="c-sport-1", path="/v/sport/1.mp4", title="Goal", topics=("sport",), creator="cy",
         duration_ms=20_000, fps=60.0, width=540, height=960),
)


def record_session(
    log,
    *,
    n_views: int = 12,
    participant: str = "P01",
    condition: str = "A",
    ranker: str = "simple",
    end: str | None = "quit",
    skip_ms: int = 3000,
    utc_shift_s: float = 0.0,
    t0: int = 1_000_000 * MS,
    clips: tuple[Clip, ...] = CLIPS,
) -> SessionRecorder:
    """One session of ``n_views`` views; ``end=None`` leaves it open with a checkpointed view."""
    now = [t0]
    rec = SessionRecorder(
        log, app_version="test", mode="lab", ranker=ranker, ranker_params={"eps": 0.1}, seed=7,
        participant=participant, condition=condition, skip_threshold_ms=skip_ms, clock=lambda: now[0],
        wall_clock_ns=lambda: time.time_ns() - int(utc_shift_s * 1e9),
    )
    log.clips_known(clips)
    t = t0 + 50 * MS
    for i in range(n_views):
        clip = clips[i % len(clips)]
        rec.arrive(clip, reached_by="start" if i == 0 else "swipe_next", is_revisit=i >= len(clips),
                   settled_ns=t, input_ns=t - 180 * MS if i else t, policy="simple", score=1.0 / (i + 1),
                   propensity=0.25, exploration=i % 4 == 3)
        rec.first_frame(t + 15 * MS)
        watch = (i * 1_737) % 9_000 + 400  # ms on the clip: some skips, some loops
        if i % 3 == 0:
            rec.set_paused(True, t + 200 * MS)
            rec.set_paused(False, t + 450 * MS)
        if i % 5 == 1:
            rec.set_focused(False, t + 100 * MS)
            rec.set_focused(True, t + 300 * MS)
        if i % 4 == 2:
            rec.set_stalled(True, t + 60 * MS)
            rec.set_stalled(False, t + 90 * MS)
        if watch > clip.duration_ms:
            rec.loop_completed(t + clip.duration_ms * MS)
        if i % 6 == 5:
            rec.like(t + 350 * MS)
            rec.event("note", t + 360 * MS, text="café ✓, \"quoted\"")
        if watch > 460:
            rec.checkpoint(t + (watch - 1) * MS)  # the app's 250 ms checkpoint, overwritten when the view closes
        t += watch * MS
        if end is None and i == n_views - 1:
            rec.checkpoint(t)
            break
        rec.profile_snapshot({"topics": {clip.topics[0]: round(0.1 * i, 3)}, "creators": {clip.creator: 1}}, t - MS)
        t += 180 * MS
    if end is not None:
        rec.end(end, t - 100 * MS)
    now[0] = t
    return rec


def write_log(path, sessions: list[dict]) -> list[SessionRecorder]:
    log = EventLog(path)
    recs = [record_session(log, **kw) for kw in sessions]
    assert log.close()
    return recs


def test_empty_database_lists_nothing(tmp_path, capsys):
    path = tmp_path / "feed.db"
    open_db(path).conn.close()
    assert run_sessions_command(path) == 0
    assert "no sessions" in capsys.readouterr().out
    assert run_sessions_command(path, as_json=True) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_missing_file_is_an_error_and_is_not_created(tmp_path, capsys):
    path = tmp_path / "nope.db"
    assert run_sessions_command(path) == 2
    err = capsys.readouterr().err
    assert "no database at" in err and str(path) in err
    assert not path.exists()


def test_file_without_event_log_or_with_newer_schema_is_explained(tmp_path, capsys):
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE probe_cache (path TEXT PRIMARY KEY)")
    conn.execute("PRAGMA user_version=1")
    conn.close()
    assert run_sessions_command(old) == 2
    assert "holds no event log" in capsys.readouterr().err
    new = tmp_path / "new.db"
    open_db(new).conn.close()
    conn = sqlite3.connect(new)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    assert run_sessions_command(new) == 2
    assert "newer feedapp" in capsys.readouterr().err
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 50)
    assert run_sessions_command(junk) == 2
    assert "not a usable SQLite database" in capsys.readouterr().err


def test_listing_figures_and_statuses(tmp_path, capsys):
    path = tmp_path / "feed.db"
    recs = write_log(path, [
        dict(n_views=12, participant="P01", condition="A", end="quit", utc_shift_s=7200),
        dict(n_views=5, participant="P02", condition="B", end=None, utc_shift_s=3600),  # crashed: quiet for an hour
        dict(n_views=3, participant="P03", condition="B", end=None),  # still running
    ])
    # the crashed one's process is gone (the running one is recorded by this live process)
    import subprocess
    import sys

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE sessions SET pid = ? WHERE id = ?", [dead, recs[1].id])
    raw.commit()
    raw.close()
    conn = open_for_reading(path)
    rows = list_sessions(conn)
    assert [r["id"] for r in rows] == [r.id for r in recs]
    done, crashed, running = rows
    assert [r["status"] for r in rows] == ["quit", "interrupted", "running"]
    # figures agree with the views table, computed independently
    raw = sqlite3.connect(path)
    n, skips, mean = raw.execute(
        "SELECT COUNT(*), SUM(skipped), AVG(watch_ratio) FROM views WHERE session_id = ? AND final = 1", [recs[0].id]
    ).fetchone()
    assert done["views"] == n == 12 and done["skips"] == skips and done["mean_watch_ratio"] == round(mean, 4)
    assert 0 < skips < 12
    ended = raw.execute("SELECT (ended_mono_ns - started_mono_ns) / 1e9 FROM sessions WHERE id = ?", [recs[0].id]).fetchone()[0]
    assert done["length_s"] == round(ended, 3)
    assert crashed["views"] == 4 and crashed["in_flight"] == 1 and crashed["end_reason"] is None
    assert done["short_id"] == recs[0].id[:8] and done["participant"] == "P01" and done["condition"] == "A"
    conn.close()

    assert run_sessions_command(path) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["id", "mode", "participant", "condition", "ranker"]
    assert len(out) == 4
    assert out[1].startswith(recs[0].id[:8]) and out[1].rstrip().endswith("quit") and " P01 " in out[1]
    assert out[2].rstrip().endswith("interrupted") and "4+1" in out[2]
    assert out[3].rstrip().endswith("running")
    assert run_sessions_command(path, as_json=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["id"] == recs[0].id and data[0]["short_id"] == recs[0].id[:8] and data[1]["status"] == "interrupted"


def test_listing_does_not_write_to_the_file(tmp_path):
    path = tmp_path / "feed.db"
    write_log(path, [dict(n_views=2)])
    before = path.read_bytes()
    conn = open_for_reading(path)
    list_sessions(conn)
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("DELETE FROM sessions")
    conn.close()
    assert path.read_bytes() == before


def test_session_prefix_must_be_unique(tmp_path):
    path = tmp_path / "feed.db"
    open_db(path).conn.close()
    conn = open_for_reading(path)
    with pytest.raises(StoreError, match="no sessions"):
        resolve_session(conn, "ab")
    conn.close()
    db = open_db(path)
    for sid in ("abc11111-0000-4000-8000-000000000000", "abc22222-0000-4000-8000-000000000000"):
        db["sessions"].insert({"id": sid, "app_version": "t", "mode": "lab", "ranker": "r",
                               "started_utc": "2026-01-01T00:00:00+00:00", "started_mono_ns": 0})
    db.conn.close()
    conn = open_for_reading(path)
    assert resolve_session(conn, "ABC1") == "abc11111-0000-4000-8000-000000000000"
    with pytest.raises(StoreError, match="matches several sessions"):
        resolve_session(conn, "abc")
    with pytest.raises(StoreError, match="no session id starts with"):
        resolve_session(conn, "zz")
    with pytest.raises(StoreError, match="no session id starts with"):
        resolve_session(conn, "abc_")  # LIKE wildcards are taken literally
    conn.close()


@pytest.mark.parametrize("folder", [b"Study #3", b"run?2 100%", b"vid\xe9os"])  # the last: Latin-1, not UTF-8
def test_a_log_in_a_folder_with_uri_characters_or_a_latin1_name_is_read_back(tmp_path, folder, capsys):
    """The read-back after a session (the lab's last line, a play after a write failure) built its SQLite URI
    from the bare path: 'Study #3/feed.db' opened, and made, an empty file 'Study ' beside the folder and
    said the log 'cannot be read back'; `sessions` and the other readers stopped at a Latin-1 folder name
    with "'utf-8' codec can't encode character '\\udce9'"."""
    import os
    from pathlib import Path

    from feedapp.cli import main
    from feedapp.store.log import written_counts

    db = Path(os.fsdecode(bytes(tmp_path) + b"/" + folder)) / "feed.db"
    db.parent.mkdir()
    open_db(db).close()
    assert written_counts(db, "nosuchsession") == {"views": 0, "impressions": 0, "events": 0, "ended": 0}
    assert sorted(os.listdir(tmp_path)) == [folder.decode("utf-8", "surrogateescape")]  # no stray file
    assert main(["sessions", "--db", str(db)]) == 0
    assert "no sessions in" in capsys.readouterr().out
