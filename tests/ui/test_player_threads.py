"""Qt Multimedia's FFmpeg threads and the GIL: loading, stopping and closing many fresh players never
deadlocks (feedapp.ui.player.settle_notify_overrides; before it, a loop like this one froze for good
within about 100 loads, every run here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fresh_players_loaded_played_and_closed_in_a_loop_never_deadlock(corpus):
    paths = [str(corpus[n]) for n in sorted(corpus)]  # every codec, the 4K and the VFR ones included
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    try:
        done = subprocess.run([sys.executable, "-m", "tests.ui.player_churn", *paths, "--loads", "150"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"the player loop hung (deadlock?); its output so far:\n{e.stdout}\n{e.stderr}") from None
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0 and last.startswith("done 150"), (done.returncode, done.stdout, done.stderr[-3000:])
    assert last == "done 150 shown 150", last  # every load showed its first frame
