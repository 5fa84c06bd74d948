"""Files that will not play: the real app says so on stderr, in the window and in the log, and plays the rest."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.clipgen import make_clip

ROOT = Path(__file__).resolve().parents[2]


def test_rejected_files_are_reported_and_logged_and_the_feed_goes_on(tmp_path):
    folder = tmp_path / "clips"
    make_clip(folder / "good" / "ok clip 猫.mp4", seconds=1.0)
    (folder / "bad").mkdir()
    (folder / "bad" / "empty.mp4").write_bytes(b"")
    (folder / "bad" / "notes.mp4").write_text("not a video")
    db = tmp_path / "feed.db"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-m", "feedapp", "play", str(folder), "--db", str(db), "--quit-after", "2"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "skipping" in out.stderr and "empty.mp4: the file is empty" in out.stderr
    assert "notes.mp4: it is a text file" in out.stderr
    con = sqlite3.connect(db)
    reasons = sorted(r[0] for r in con.execute(
        "SELECT json_extract(data, '$.path') FROM events WHERE kind = 'clip_rejected'"))
    shown = con.execute("SELECT COUNT(*) FROM impressions").fetchone()[0]
    size = con.execute("SELECT catalog_size FROM sessions").fetchone()[0]
    con.close()
    assert [Path(r).name for r in reasons] == ["empty.mp4", "notes.mp4"]
    assert shown >= 1 and size == 1
