"""The real window on a real X server, with live changes, replays exactly (issue 10, points 1-3).

Runs tests/e2e/transaction_driver.py on its own Xvfb (tests/e2e/xvfb.py): the autopilot swipes through real clips
served by the example plugin (in its worker process); on the way a parameter change, a follow,
"refresh my feed", a plugin reload and catalog growth. The session is read back from the SQLite file
and replayed: every logged propensity (to 1e-9), every served clip and on-policy IPS = logged mean.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.e2e.xvfb import on_xvfb

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb")


def test_the_window_with_live_changes_replays_exactly(tmp_path):
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # the real X server, not offscreen
    env.pop("DISPLAY", None)
    env.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
    cmd = [*on_xvfb("800x800x24"), sys.executable, "-m", "tests.e2e.transaction_driver",
           "--dir", str(tmp_path), "--views", "16", "--timeout", "150"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, proc.stdout + proc.stderr
    out = json.loads(lines[-1])
    assert proc.returncode == 0, (out, proc.stderr[-2000:])
    for change in ("param", "following", "refresh", "reload", "catalog"):
        assert change in out["changes"], out
    assert out["exact_log"] and out["decided"] >= 10
    assert out["max_propensity_error"] <= 1e-9 and out["served_agrees"] == 1.0
    assert out["ips"] == out["logged_mean"]
