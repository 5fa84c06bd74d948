"""The window on real X servers of three sizes, measured (tests/e2e/layout_check.py does the measuring).

- 1366x768, a small laptop: the window opens at its default size (where the panels fit worst, so G, D
  and P are toggled in all six orders; on the larger screens in the three rotations);
- 1920x1080 fullscreen, a projector: panel text at least 20 px, taste bars at least 150 px long;
- 3840x2160 with ``--scale 2``: a 4K screen, zoomed.

Each runs on its own Xvfb (tests/e2e/xvfb.py: a free display number, so parallel runs never share one) and
checks: no text cut off or elided, WCAG AA contrast for panel text, every widget on the screen after
every key of every order of G, D and P, the layout restored after toggling back, and the zoom keys.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb")


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory):
    """The 8 shortest demo clips, made once for the three screens."""
    from feedapp.media.demo import make_demo

    folder = tmp_path_factory.mktemp("layout_demo")
    assert len(make_demo(folder, seed=0, workers=2, limit=8).accepted) == 8
    return folder


def run_check(tmp_path: Path, demo: Path, screen: str, *extra: str) -> dict:
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # the real X server, not offscreen
    env.pop("DISPLAY", None)
    env.pop("FEEDAPP_LAYOUT_CHILD", None)  # the script starts its own Xvfb with this screen
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "tests.e2e.layout_check", "--screen", screen, "--clips", str(demo), "--limit", "8",
           "--views", "8", "--report", str(report), *extra]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(report.read_text())


def texts(items: list[dict]) -> list[tuple[str, str]]:
    return [(t["owner"], t["text"]) for t in items]


def check_common(r: dict) -> None:
    assert r["ok"]
    taste = r["taste"]
    assert texts(taste["cut_off"]) == [] and texts(taste["wrap_cut"]) == []  # every label fits its width
    assert taste["elided"] == []
    assert taste["low_contrast"] == []  # WCAG AA: 4.5:1 for every panel text on the cards
    first = r["first_view"]  # the panel before any view: its words fit too
    assert texts(first["cut_off"]) == [] and texts(first["wrap_cut"]) == [] and first["elided"] == []
    assert r["layout"]["window_inside"] and r["layout"]["outside"] == [] and r["layout"]["cut"] == []
    for seq in r["sequences"]:
        for step in seq["steps"]:
            where = (seq["order"], step["label"], step["open"])
            assert step["window_inside"], where  # the window never wider than the screen, never off it
            assert step["outside"] == [], (where, step["outside"])  # no widget outside the screen or window
            assert step["cut"] == [] and texts(step["cut_off"]) == [], where  # no label or button cut off
        assert seq["restored"], seq["order"]  # toggling back restores the layout
    for shot in ("dev", "fame", "help"):
        assert texts(r[shot]["cut_off"]) == [], shot
        assert r[shot].get("outside", []) == [], shot
        assert r[shot]["low_contrast"] == [], shot
    assert r["help"]["help_min_px"] >= 12  # the key help is never cut off, and never tiny
    z = r["zoom_keys"]
    assert z["after_ctrl_minus"] < z["scale"]  # Ctrl+- makes the panels smaller
    assert z["zoom_after_ctrl_0"] == 1.0


def test_small_laptop_1366x768(tmp_path, demo_cache):
    r = run_check(tmp_path, demo_cache, "1366x768")
    check_common(r)
    assert r["layout"]["window"][2] <= 1366 and r["layout"]["window"][3] <= 768
    assert r["taste"]["panel_min_px"] >= 12
    # with all three panels open they share one column (tabs) instead of leaving the screen
    assert any(step["stacked"] and len(step["open"]) == 3 for seq in r["sequences"] for step in seq["steps"])


def test_projector_1920x1080_fullscreen(tmp_path, demo_cache):
    r = run_check(tmp_path, demo_cache, "1920x1080", "--fullscreen", "--orders", "rotations")
    check_common(r)
    assert r["layout"]["window"] == [0, 0, 1920, 1080]
    assert r["taste"]["panel_min_px"] >= 20  # every piece of panel text is at least 20 px tall
    assert r["help"]["help_min_px"] >= 18
    taste = r["taste"]
    assert taste["track_px"] >= 150  # a full taste bar is at least 150 px long ...
    expected = taste["track_px"] * min(1.0, taste["top_affinity"] / 0.5)
    assert abs(taste["bar_px"] - expected) <= 4  # ... and the top bar, counted in the screenshot, is as long as drawn
    assert r["layout"]["view_width"] == round(1080 * 9 / 16)  # no black gap beside the video: panels take the rest
    assert sum(r["layout"]["widths"].values()) == 1920 - round(1080 * 9 / 16)


def test_4k_screen_with_scale_2(tmp_path, demo_cache):
    r = run_check(tmp_path, demo_cache, "3840x2160", "--scale", "2", "--orders", "rotations")
    check_common(r)
    assert r["layout"]["window"][3] >= 2 * 854 * 0.99  # the whole window is twice its usual size
    assert r["taste"]["panel_min_px"] >= 24
