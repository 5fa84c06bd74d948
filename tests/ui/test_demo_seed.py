"""`feedapp demo --seed N` orders the feed; it does not remake the demo clips.

Seen trying `feedapp demo --seed 3` after a first run: the 288 clips were made again for seed 3 in
the same folder (minutes of work, the seed-0 catalog overwritten), although --help calls it the seed
for the feed order, and `feedapp lab` (seed 0) then made them back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# the app in a process of its own (it quits its QApplication), with the clip maker replaced by one that
# says which seed it was asked for
CHILD = """
import sys
import feedapp.media.demo as demo

def make_demo(dest, seed=0, **kw):
    print("asked for seed", seed, flush=True)
    raise OSError("no clips in this test")

demo.make_demo = make_demo
from feedapp.cli import main
sys.exit(main(["demo", "--seed", "3", "--mute", "--clips", sys.argv[1], "--db", sys.argv[2], "--quit-after", "1"]))
"""


def test_the_feed_seed_does_not_choose_the_demo_clips(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "demo"), str(tmp_path / "feed.db")],
                         capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert "asked for seed 0" in out.stdout, (out.stdout, out.stderr)
