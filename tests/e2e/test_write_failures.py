"""The real commands on a disk that fills up mid-session (a 4 MB tmpfs, filled with dd).

- ``feedapp lab`` under Xvfb, driven through X: the participant sees "Please call the experimenter",
  the session stops, and the last line states how many views really are in the file (exit code 1).
- ``feedapp play``: the writer holds the records and retries; when space is freed everything is
  saved and the last line says so; when it never is, the last line says exactly what the file holds.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.clipgen import make_clip
from tests.disk_faults import FullDisk
from tests.e2e.test_lab_xvfb import make_catalog, write_study, xvfb

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


@pytest.fixture()
def disk(tmp_path):
    d = FullDisk(tmp_path)
    yield d
    d.cleanup()


def in_file(db: Path) -> tuple[int, str | None]:
    """(closed views, end reason) of the one session, read from the file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        (sid, reason), = conn.execute("SELECT id, end_reason FROM sessions WHERE mode IN ('lab', 'play')").fetchall()
        return conn.execute("SELECT COUNT(*) FROM views WHERE session_id = ? AND final = 1", [sid]).fetchone()[0], reason
    finally:
        conn.close()


def no_false_claims(stderr: str) -> None:
    """Nothing says "written" about what was not: only "are written to" after "all N", never the old line."""
    for line in stderr.splitlines():
        if "written to" in line:
            assert re.search(r"all \d+ are written to", line), line


@pytest.mark.xvfb
@pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
                    reason="needs Xvfb and xdotool")
def test_lab_on_a_disk_that_fills_up_stops_and_says_what_is_in_the_file(disk, tmp_path):
    catalog = make_catalog(tmp_path / "catalog")
    study = write_study(tmp_path / "study.toml", catalog, views=50)
    db, err, shot = disk.dir / "lab.db", tmp_path / "err.txt", tmp_path / "call.png"
    script = f"""
{PY} -m feedapp lab '{study}' --participant P01 --yes --mute --db '{db}' 2>'{err}' &
APP=$!
sleep 5
xdotool mousemove 200 300
xdotool key Return; sleep 2
for i in 1 2 3; do xdotool key Down; sleep 1.2; done
dd if=/dev/zero of='{disk.filler}' bs=4k 2>/dev/null
for i in 1 2 3 4 5; do xdotool key Down; sleep 0.4; done
sleep 2
{PY} -m tests.e2e.grab_screen '{shot}'
kill -TERM $APP
wait $APP
echo "rc=$?"
"""
    r = xvfb(script, tmp_path)
    stderr = err.read_text() if err.exists() else ""
    assert "rc=1" in r.stdout, (r.stdout, r.stderr, stderr)
    assert "Traceback" not in stderr, stderr
    assert "RECORDING FAILED: the disk holding" in stderr and "is full" in stderr
    assert "Safe in" in stderr and "What to do" in stderr
    views, reason = in_file(db)
    assert 3 <= views <= 4  # the swipes before the disk filled; none of the five after it
    last = stderr.strip().splitlines()[-1]
    assert re.search(rf"after \d+ views, but {re.escape(str(db))} holds only {views} of them", last), last
    assert reason is None and "the session's end is not recorded" in last
    no_false_claims(stderr)
    from PySide6.QtGui import QColor, QImage

    img = QImage(str(shot))
    assert not img.isNull()
    bright = sum(1 for y in range(0, 854, 2) for x in range(0, 480, 2) if QColor(img.pixel(x, y)).lightness() > 150)
    assert bright > 100, "the call-the-experimenter screen's text is drawn"


class App:
    """``feedapp play`` on the tmpfs, its stderr read line by line on a thread."""

    def __init__(self, folder: Path, db: Path, *extra: str) -> None:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FEEDAPP_TRACE="1")
        self.proc = subprocess.Popen([PY, "-m", "feedapp", "play", str(folder), "--db", str(db), "--mute", *extra],
                                     cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stderr.readline, "")), daemon=True).start()

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert time.monotonic() < deadline and self.proc.poll() is None, (text, "".join(self.lines))
            time.sleep(0.05)

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        time.sleep(0.2)
        return rc, "".join(self.lines)


@pytest.fixture()
def clips(tmp_path) -> Path:
    folder = tmp_path / "clips"
    for i in range(4):
        make_clip(folder / "t" / f"c{i}.mp4", seconds=0.5, colour=(60 * i, 100, 200), label=str(i))
    return folder


def test_play_holds_the_records_while_the_disk_is_full_and_saves_them_when_space_returns(disk, clips):
    db = disk.dir / "feed.db"
    app = App(clips, db)
    app.wait_for("arrived at #0")
    time.sleep(0.5)
    disk.inject()
    app.wait_for("record(s) are held in memory")  # the 250 ms checkpoints and the 0.5 s clip's loops fail
    time.sleep(2.5)  # at least one retry fails too
    disk.release()
    app.wait_for("writable again; everything held in memory is saved", timeout=10)
    rc, stderr = app.stop()
    assert rc == 0, stderr
    views, reason = in_file(db)
    assert reason == "terminated" and views == 1
    assert stderr.strip().splitlines()[-1].endswith(f"after 1 view; all 1 are written to {db}")
    no_false_claims(stderr)
    conn = sqlite3.connect(db)
    loops = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'loop'").fetchone()[0]
    assert loops >= 4  # the loops while the disk was full were held, then written
    conn.close()
    c = subprocess.run([PY, "-m", "feedapp", "check", "--db", str(db)], cwd=ROOT, capture_output=True, text=True)
    assert c.returncode == 0, c.stdout + c.stderr


def test_play_on_a_disk_that_stays_full_says_exactly_what_the_file_holds(disk, clips, tmp_path):
    db, shot = disk.dir / "feed.db", tmp_path / "notice.png"
    app = App(clips, db, "--quit-after", "10", "--screenshot", str(shot))
    app.wait_for("arrived at #0")
    time.sleep(0.5)
    disk.inject()
    app.wait_for("record(s) are held in memory")
    rc = app.proc.wait(timeout=30)  # --quit-after: the window is grabbed, then it closes
    time.sleep(0.2)
    stderr = "".join(app.lines)
    assert rc == 1, stderr
    views, reason = in_file(db)
    last = stderr.strip().splitlines()[-1]
    assert reason is None and views == 0
    assert f"ended (quit) after 1 view, but {db} holds only 0 of them and the session's end is not recorded" in last
    assert re.search(r"; \d+ record\(s\) could not be written: the disk holding .* is full$", last), last
    no_false_claims(stderr)
    # the viewer saw it: the notice's dark box over the clip's solid colour at the top of the window
    from PySide6.QtGui import QColor, QImage

    img = QImage(str(shot))
    assert not img.isNull()
    cx = img.width() // 2
    # (notices sit below the top fifth, clear of the clip's own title; the caption's shade is in the lower half)
    dark = sum(1 for y in range(0, img.height() // 2) for x in range(cx - 60, cx + 60)
               if QColor(img.pixel(x, y)).lightness() < 40)
    assert dark > 1000, dark
