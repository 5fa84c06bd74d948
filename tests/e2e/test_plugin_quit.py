"""Quitting the app with a plugin ranker is not a plugin failure.

At the end the session closes its in-flight view, and the ranker learns from it; the plugin's worker
must still be there for that call. When the worker was stopped first, every session with a plugin
ended with a `ranker_failed` event (cause `crashed`, "killed by signal SIGKILL") in the log and a
failure message on the terminal, although the plugin never failed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.clipgen import make_clip

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = f"{ROOT / 'examples' / 'plugins' / 'topic_average.py'}:TopicAverage"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plugin_quit_clips")
    for i in range(3):
        make_clip(root / "t" / f"c{i}.mp4", seconds=1.0, colour=(60 * i, 100, 200), label=str(i))
    return root


@pytest.mark.parametrize("how", ["quit", "sigterm"])
def test_quitting_with_a_plugin_ranker_logs_no_plugin_failure(tmp_path, folder, how):
    db = tmp_path / "feed.db"
    argv = [sys.executable, "-m", "feedapp", "play", str(folder), "--db", str(db), "--ranker", PLUGIN,
            "--autopilot", "t", "--autopilot-speed", "4"]
    if how == "quit":
        argv += ["--quit-after", "4"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if how == "sigterm":
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _views(db):
            time.sleep(0.2)
        time.sleep(1.0)  # a view is on screen, the plugin has learned from the closed ones
        proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    con = sqlite3.connect(db)
    try:
        (end_reason,) = con.execute("SELECT end_reason FROM sessions").fetchone()
        kinds = [k for (k,) in con.execute("SELECT kind FROM events")]
        final_views = con.execute("SELECT COUNT(*) FROM views WHERE final = 1").fetchone()[0]
    finally:
        con.close()
    assert end_reason == ("quit" if how == "quit" else "terminated")
    assert final_views >= 1
    assert "ranker_failed" not in kinds, out
    assert "plugin failed" not in out and "process is gone" not in out, out


def _views(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(db)
        try:
            return con.execute("SELECT COUNT(*) FROM views").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0
