"""Issue 15 item 13: the database is locked by another program at start and holds a crashed session.

Real SQLite file, a real second process holding the write lock, the real app as a subprocess. The
app says so in one line, starts anyway, and closes the crashed session as soon as the lock is gone
(before its own first record); nothing committed is lost and `feedapp check` passes.
"""

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.clipgen import make_clip
from tests.store.test_sessions import write_log

ROOT = Path(__file__).resolve().parents[2]

HOLD_LOCK = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
c.execute("ROLLBACK")
"""


def test_locked_database_with_a_crashed_session_starts_and_recovers_when_free(tmp_path):
    folder = tmp_path / "clips"
    for i in range(2):
        make_clip(folder / "t" / f"c{i}.mp4", seconds=1.0, colour=(80 * i, 120, 200), label=str(i))
    db = tmp_path / "feed.db"
    (crashed,) = write_log(db, [dict(n_views=3, end=None)])
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    raw = sqlite3.connect(db)
    raw.execute("UPDATE sessions SET pid = ?", [dead])  # its process died (kill -9, power cut)
    raw.commit()
    before = {t: raw.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("impressions", "views", "events")}
    raw.close()

    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    app = subprocess.Popen([sys.executable, "-m", "feedapp", "play", str(folder), "--db", str(db), "--mute",
                            "--quit-after", "6"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    said = threading.Event()

    def read() -> None:
        for line in app.stderr:
            lines.append(line)
            if "cannot be closed yet" in line:
                said.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert said.wait(30), "".join(lines)
        time.sleep(1.0)  # the app runs while the lock is still held
        assert app.poll() is None, "".join(lines)
    finally:
        holder.stdin.write("release\n")
        holder.stdin.flush()
        holder.wait(10)
    assert app.wait(60) == 0, "".join(lines)
    reader.join(5)
    err = "".join(lines)
    assert "Traceback" not in err
    assert f"({crashed.id[:8]}) cannot be closed yet: another program holds the database's write lock" in err
    assert f"session {crashed.id[:8]} in {db} was interrupted at" in err and "now that the database is free" in err

    raw = sqlite3.connect(db)
    s = raw.execute("SELECT end_reason FROM sessions WHERE id = ?", [crashed.id]).fetchone()
    v = raw.execute("SELECT final, exit FROM views WHERE session_id = ? ORDER BY ended_mono_ns DESC LIMIT 1",
                    [crashed.id]).fetchone()
    after = {t: raw.execute(f"SELECT COUNT(*) FROM {t} WHERE session_id = ?", [crashed.id]).fetchone()[0]
             for t in ("impressions", "views", "events")}
    new = raw.execute("SELECT end_reason FROM sessions WHERE id <> ?", [crashed.id]).fetchall()
    new_views = raw.execute("SELECT COUNT(*) FROM views WHERE session_id <> ?", [crashed.id]).fetchone()[0]
    raw.close()
    assert s == ("recovered_after_crash",) and v == (1, "crash")
    assert after == before  # every committed row of the crashed session is still there
    assert new == [("quit",)] and new_views >= 1  # the new session was recorded once the lock was gone
    check = subprocess.run([sys.executable, "-m", "feedapp", "check", "--db", str(db)], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
