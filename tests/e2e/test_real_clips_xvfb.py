"""`feedapp play` on a folder of real phone and screen clips (tests/corpus.py) under Xvfb: every clip is
accepted, the autopilot swipes through all of them, and stderr carries only the app's own plain lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.test_player_xvfb import run_app

pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)"),
]


def test_real_codec_folder_plays_with_quiet_honest_stderr(corpus: dict[str, Path], tmp_path: Path):
    folder = next(iter(corpus.values())).parent
    # it ends once the autopilot has reached every clip (a slow machine takes longer), at most after 60 s
    # the clips' topic is their folder's name: an unknown topic is refused (did you mean ...)
    r = run_app(["play", str(folder), "--autopilot", folder.name, "--autopilot-speed", "20", "--quit-after", "60",
                 "--quit-after-clips", str(len(corpus) + 1)], tmp_path, timeout=120, FEEDAPP_TRACE="1")
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert f"playing {len(corpus)} clips" in r.stderr, r.stderr  # VFR mkv/webm accepted, nothing rejected
    strangers = [line for line in lines if not line.startswith("feedapp: ")]
    assert strangers == [], strangers  # no FFmpeg or Qt chatter
    assert sum("no sound device" in line for line in lines) <= 1
    arrived = [line for line in lines if " via " in line]
    assert len(arrived) >= len(corpus), "the autopilot went through every clip"
    assert all("first frame" in line for line in arrived), arrived
