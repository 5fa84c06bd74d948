"""Logged figures against inputs at known times, through a real X server (issue: exactness)."""

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clipgen import make_clip
from tests.e2e.xvfb import on_xvfb

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
                       reason="needs Xvfb and xdotool (scripts/setup.sh --test installs them)"),
]


def test_logged_durations_match_inputs_at_known_times(tmp_path):
    clips = tmp_path / "clips"
    for i in range(7):
        make_clip(clips / "t" / f"c{i}.mp4", seconds=8.0, colour=(30 * i, 120, 200), label=str(i))
    out = tmp_path / "errors.json"
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run(
        [*on_xvfb("1280x1024x24"), sys.executable, str(ROOT / "tests/e2e/exactness_driver.py"),
         str(clips), str(tmp_path / "feed.db"), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    errors = json.loads(out.read_text())["errors"]
    flat = [abs(e) for values in errors.values() for e in values]
    assert len(errors["dwell_ms"]) == 5 and len(flat) == 5 * 3 + 5 * 4
    print({k: [round(e, 1) for e in v] for k, v in errors.items()})
    assert statistics.median(flat) <= 20, errors
    assert max(flat) <= 50, errors
    # and the stored session passes the checker
    check = subprocess.run([sys.executable, "-m", "feedapp", "check", "--db", str(tmp_path / "feed.db")],
                           cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
