"""The taste panel on a real X server: the autopilot drives the real window, screenshots are taken.

Runs tests/e2e/make_panel_screenshots.py in a subprocess on its own Xvfb (tests/e2e/xvfb.py) with a small demo
catalog (the first 8 demo clips: short ones, 8 of the 12 topics) and checks the pictures it saves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from tests.e2e.xvfb import on_xvfb

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb")


def distinct_colours(img: QImage, x0: int, x1: int, step: int = 9) -> int:
    return len({QColor(img.pixel(x, y)).rgb() >> 3 for x in range(x0, x1, step) for y in range(0, img.height(), step)})


def test_autopilot_forms_a_profile_on_screen(tmp_path):
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # the real X server, not offscreen
    env.pop("DISPLAY", None)
    env["FEEDAPP_BENCH_CHILD"] = "1"
    out = tmp_path / "shots"
    cmd = [*on_xvfb("1280x1024x24"), sys.executable, "-m", "tests.e2e.make_panel_screenshots",
           "--out", str(out), "--cache", str(tmp_path / "demo"), "--limit", "8", "--views", "6", "--speed", "4",
           "--taste", "cats,art", "--timeout", "150"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "saved" in proc.stdout
    panel = QImage(str(out / "panel.png"))
    assert panel.width() >= 480 + 600 and panel.height() >= 600
    # the player (left) shows video, the panel (right) shows bars, charts, thumbnails and text
    assert distinct_colours(panel, 0, 480) > 10
    assert distinct_colours(panel, 480, panel.width()) > 60
    card = QImage(str(out / "panel-card.png"))
    assert (card.width(), card.height()) == (400, 600)
    assert distinct_colours(card, 0, card.width(), 7) > 20
    assert QImage(str(out / "panel-endcard.png")).width() == panel.width()
    assert "autopilot taste cats,art: 6 swipes" in proc.stdout
