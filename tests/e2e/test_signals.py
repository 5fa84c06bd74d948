"""Closing the terminal (SIGHUP) or a polite kill (SIGTERM) ends the session cleanly with its own end
reason; before, SIGHUP killed the app and the next start recorded the session as a crash.

The SIGHUP test closes a real terminal: the app runs on a pseudo-terminal that is its controlling
terminal, and the test closes the terminal's master side, so the kernel sends SIGHUP and every later
write to the terminal fails (EIO), as when a terminal window is closed.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import sqlite3
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.clipgen import make_clip

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("signal_clips")
    for i in range(3):
        make_clip(root / "t" / f"c{i}.mp4", seconds=1.0, colour=(60 * i, 100, 200), label=str(i))
    return root


def env() -> dict[str, str]:
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", FEEDAPP_TRACE="1")


def session_row(db: Path) -> tuple:
    con = sqlite3.connect(db)
    try:
        (row,) = con.execute("SELECT id, end_reason, ended_mono_ns FROM sessions").fetchall()
        views = con.execute("SELECT final, exit FROM views WHERE session_id = ?", [row[0]]).fetchall()
    finally:
        con.close()
    return row, views


def check_ok(db: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "feedapp", "check", "--db", str(db)], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def read_until(fd: int, text: str, timeout: float = 60.0) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen.decode(errors="replace")


def test_closing_the_terminal_ends_the_session_as_terminal_closed(folder, tmp_path):
    db = tmp_path / "feed.db"
    master, slave = pty.openpty()

    def controlling_terminal() -> None:  # in the child: a new session whose controlling terminal is the pty
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "feedapp", "play", str(folder), "--db", str(db), "--mute"],
                            cwd=ROOT, env=env(), stdin=slave, stdout=slave, stderr=slave,
                            preexec_fn=controlling_terminal)
    os.close(slave)
    try:
        read_until(master, "arrived at #0")
        time.sleep(0.8)  # mid-view
    finally:
        os.close(master)  # the terminal window closes: SIGHUP
    closed_at = time.monotonic_ns()
    assert proc.wait(timeout=30) == 0
    (sid, reason, ended), views = session_row(db)
    assert reason == "terminal_closed"
    assert ended >= closed_at - 2_000_000_000
    assert views and all(v[0] == 1 for v in views) and views[-1][1] == "terminal_closed"
    check_ok(db)
    # the next start finds nothing to recover
    again = subprocess.run([sys.executable, "-m", "feedapp", "play", str(folder), "--db", str(db), "--mute",
                            "--quit-after", "1"], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "recovered_after_crash" not in again.stderr, again.stderr


def test_sigterm_ends_the_session_as_terminated(folder, tmp_path):
    db = tmp_path / "feed.db"
    proc = subprocess.Popen([sys.executable, "-m", "feedapp", "play", str(folder), "--db", str(db), "--mute"],
                            cwd=ROOT, env=env(), stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "arrived at #0" in line:
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    (sid, reason, ended), views = session_row(db)
    assert reason == "terminated" and views[-1] == (1, "terminated")
    check_ok(db)
