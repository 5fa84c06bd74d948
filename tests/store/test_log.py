"""The SQLite event log on real files: commits, locks, a full disk, and kill -9 recovery."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import sqlite_utils

from feedapp.core.model import Clip
from feedapp.core.session import SessionRecorder
from feedapp.store.log import EventLog
from feedapp.store.recover import recover_interrupted

ROOT = Path(__file__).resolve().parents[2]
MS = 1_000_000
CLIP = Clip(id="a", path="/a.mp4", title="A", topics=("cats",), creator="ann",
            duration_ms=10_000, fps=30.0, width=540, height=960)


def run_session(log, n_views=3):
    rec = SessionRecorder(log, app_version="t", mode="demo", ranker="simple")
    log.clips_known((CLIP,))
    t = time.monotonic_ns()
    for i in range(n_views):
        rec.arrive(CLIP, reached_by="swipe_next" if i else "start", is_revisit=i > 0, settled_ns=t)
        rec.first_frame(t + 12 * MS)
        rec.set_paused(True, t + 500 * MS)
        rec.set_paused(False, t + 700 * MS)
        t += 4_000 * MS
    rec.end("quit", t)
    return rec


def test_everything_is_committed_and_view_log_joins(tmp_path):
    path = tmp_path / "feed.db"
    log = EventLog(path)
    rec = run_session(log)
    assert log.close()
    db = sqlite_utils.Database(path)
    assert db["sessions"].count == 1 and db["impressions"].count == 3 and db["views"].count == 3
    rows = list(db.query("SELECT * FROM view_log"))
    assert [r["position"] for r in rows] == [0, 1, 2]
    assert rows[0]["first_frame_ms"] == 12.0 and rows[0]["paused_ms"] == 200.0
    assert all(r["final"] == 1 for r in rows) and rows[-1]["exit"] == "quit"
    s = next(db["sessions"].rows)
    assert s["id"] == rec.id and s["end_reason"] == "quit" and len(s["id"]) == 36
    assert db["events"].count == 6


def test_locked_database_keeps_records_in_memory_then_writes_them(tmp_path):
    path = tmp_path / "feed.db"
    statuses = []
    log = EventLog(path, on_status=lambda kind, msg: statuses.append((kind, msg)))
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    t0 = time.perf_counter()
    run_session(log, n_views=2)
    enqueue_s = time.perf_counter() - t0
    assert enqueue_s < 0.05  # the caller never waits for the lock
    assert not log.flush(timeout=1.5)
    assert log.unwritten > 0
    assert statuses and statuses[0][0] == "waiting" and "locked by another program" in statuses[0][1]
    # it said only 'will be written when it is free' (the window: 'Nothing is lost'), but a quit while the lock
    # is held drops what is kept (the last line counts it: '50 record(s) could not be written')
    assert "quitting while it is locked loses them" in statuses[0][1]
    for _, msg in statuses:  # "1 record is kept", "3 records are kept"
        m = re.search(r"(\d+) (records?) (is|are) kept in memory", msg)
        assert m and (m[2], m[3]) == (("record", "is") if m[1] == "1" else ("records", "are")), msg
    locker.execute("ROLLBACK")
    locker.close()
    assert log.flush(timeout=5)
    assert statuses[-1][0] == "ok"
    log.close()
    db = sqlite_utils.Database(path)
    assert db["views"].count == 2 and next(db["sessions"].rows)["end_reason"] == "quit"


def test_full_disk_stops_recording_with_a_message_and_keeps_committed_rows(tmp_path):
    path = tmp_path / "feed.db"
    EventLog(path).close()  # create the schema first
    pages = sqlite_utils.Database(path).execute("PRAGMA page_count").fetchone()[0]
    statuses = []
    log = EventLog(path, on_status=lambda k, m: statuses.append((k, m)), pragmas={"max_page_count": pages + 2})
    rec = SessionRecorder(log, app_version="t", mode="demo", ranker="simple")
    log.clips_known((CLIP,))
    for i in range(2000):
        rec.event("note", text="x" * 200, i=i)
        if log.fatal:
            break
    log.flush(timeout=3)
    assert log.fatal and "disk" in log.fatal and "full" in log.fatal
    assert statuses[-1][0] == "fatal"
    log.close(timeout=1)
    db = sqlite_utils.Database(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    committed = db["events"].count
    assert 0 < committed < 2000 and db["sessions"].count == 1


CHILD = textwrap.dedent(
    """
    import sys, time
    from feedapp.core.model import Clip
    from feedapp.core.session import SessionRecorder
    from feedapp.store.log import EventLog
    clip = Clip(id="a", path="/a.mp4", title="A", topics=("cats",), creator="ann",
                duration_ms=10_000, fps=30.0, width=540, height=960)
    log = EventLog(sys.argv[1])
    rec = SessionRecorder(log, app_version="t", mode="demo", ranker="simple")
    log.clips_known((clip,))
    for i in range(2):
        rec.arrive(clip, reached_by="start" if i == 0 else "swipe_next", is_revisit=False,
                   settled_ns=time.monotonic_ns())
        rec.first_frame()
        time.sleep(0.3)
    n = 0
    while True:
        rec.checkpoint()
        n += 1
        log.flush()
        print("checkpoints", n, flush=True)
        time.sleep(0.05)
    """
)


def test_kill_9_mid_view_is_recovered_with_every_committed_row(tmp_path):
    path = tmp_path / "feed.db"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    seen = 0
    while seen < 10:
        line = proc.stdout.readline()
        assert line, "child died early"
        seen = int(line.split()[1])
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db = sqlite_utils.Database(path)
    before = {t: db[t].count for t in ("sessions", "impressions", "views", "events")}
    cp = next(db.query("SELECT dwell_ms, final FROM views ORDER BY dwell_ms DESC LIMIT 1"))
    assert cp["final"] == 0 and cp["dwell_ms"] >= 450  # the in-flight view, checkpointed
    closed = recover_interrupted(db, quiet_s=0)
    assert len(closed) == 1 and closed[0]["views_completed"] == 1
    after = {t: db[t].count for t in ("sessions", "impressions", "views", "events")}
    assert after == before  # nothing committed was lost or added
    s = next(db["sessions"].rows)
    assert s["end_reason"] == "recovered_after_crash" and s["ended_utc"]
    last = next(db.query("SELECT * FROM views WHERE impression_id = (SELECT id FROM impressions WHERE position = 1)"))
    assert last["final"] == 1 and last["exit"] == "crash" and last["dwell_ms"] == cp["dwell_ms"]
    assert recover_interrupted(db, quiet_s=0) == []  # idempotent
    assert json.loads(s["ranker_params"]) == {}


def test_an_unexpected_write_error_is_reported_not_swallowed(tmp_path):
    """A database that becomes read-only mid-session (query_only simulates a remount): fatal status, said in words."""
    path = tmp_path / "feed.db"
    statuses = []
    log = EventLog(path, on_status=lambda k, m: statuses.append((k, m)), pragmas={"query_only": 1})
    rec = SessionRecorder(log, app_version="t", mode="demo", ranker="simple")
    rec.event("note")
    assert not log.flush(timeout=2)
    assert log.fatal and "read-only" in log.fatal
    assert statuses[-1][0] == "fatal"
    assert log.unwritten >= 2  # the session and the event are still held, counted as unwritten
    log.close(timeout=1)


def test_close_writes_what_is_still_queued(tmp_path):
    path = tmp_path / "feed.db"
    log = EventLog(path)
    run_session(log, n_views=20)
    assert log.close(timeout=10)
    assert sqlite_utils.Database(path)["views"].count == 20
