"""kill -9 the real app mid-view, start it again: the session is recovered and no committed row is lost."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.clipgen import make_clip

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("sessions", "clips", "impressions", "views", "events", "profile_snapshots")


def counts(db: Path, session: str | None = None) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        if session is None:
            return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
        return {t: con.execute(f"SELECT COUNT(*) FROM {t} WHERE {'id' if t == 'sessions' else 'session_id'} = ?",
                               [session]).fetchone()[0] for t in TABLES if t != "clips"}
    finally:
        con.close()


def app(folder: Path, db: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FEEDAPP_TRACE="1")
    return subprocess.Popen([sys.executable, "-m", "feedapp", "play", str(folder), "--db", str(db), "--mute", *extra],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)


def test_kill_9_of_the_real_app_is_recovered_on_the_next_start(tmp_path):
    folder = tmp_path / "clips"
    for i in range(3):
        make_clip(folder / "t" / f"c{i}.mp4", seconds=1.0, colour=(60 * i, 100, 200), label=str(i))
    db = tmp_path / "feed.db"
    proc = app(folder, db)
    for line in proc.stderr:
        if "arrived at #0" in line:
            break
    time.sleep(1.6)  # mid-view: the 1 s clip has looped, checkpoints have been written
    os.kill(proc.pid, signal.SIGKILL)
    killed_at = time.monotonic_ns()
    proc.wait()
    con = sqlite3.connect(db)
    sid, end_reason = con.execute("SELECT id, end_reason FROM sessions").fetchone()
    cp = con.execute("SELECT dwell_ms, final FROM views WHERE session_id = ?", [sid]).fetchone()
    con.close()
    assert end_reason is None and cp[1] == 0 and cp[0] >= 1000  # the in-flight view, as last checkpointed
    before = counts(db, sid)
    assert before["events"] >= 1  # at least the loop

    proc2 = app(folder, db, "--quit-after", "1.5")
    _, err = proc2.communicate(timeout=60)
    assert proc2.returncode == 0, err
    assert "interrupted" in err and "recovered_after_crash" in err  # said in words, at once (process gone)
    assert counts(db, sid) == before  # every committed row is still there, nothing added to it
    con = sqlite3.connect(db)
    s = con.execute("SELECT end_reason, ended_mono_ns FROM sessions WHERE id = ?", [sid]).fetchone()
    v = con.execute("SELECT final, exit, dwell_ms FROM views WHERE session_id = ?", [sid]).fetchone()
    n_sessions = con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    con.close()
    assert s[0] == "recovered_after_crash" and s[1] <= killed_at
    assert v[0] == 1 and v[1] == "crash" and v[2] == cp[0]
    assert n_sessions == 2
    check = subprocess.run([sys.executable, "-m", "feedapp", "check", "--db", str(db)], cwd=ROOT,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
