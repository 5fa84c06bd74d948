"""The real app in a subprocess on a real X server (tests/e2e/xvfb.py: its own Xvfb on a free display number)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from tests.clipgen import make_clip
from tests.e2e.xvfb import on_xvfb

pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)"),
]

ROOT = Path(__file__).resolve().parents[2]
COLOURS_RGB = [(220, 40, 40), (40, 200, 40), (40, 80, 220)]


def run_app(args: list[str], tmp_path: Path, timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **extra_env)
    env.pop("QT_QPA_PLATFORM", None)  # a real xcb window, not offscreen
    env["FEEDAPP_DATA"] = str(tmp_path / "data")
    cmd = [*on_xvfb("1280x1024x24"), sys.executable, "-m", "feedapp", *args,
           "--db", str(tmp_path / "feed.db")]
    # its own process group: on a timeout the app and its Xvfb end too (killing the Xvfb wrapper alone left them
    # running), and the failure shows what the app had printed by then
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"feedapp {' '.join(args)} did not end within {timeout:g} s; its stderr:\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def centre_colour(png: Path) -> tuple[int, int, int]:
    img = QImage(str(png))
    assert not img.isNull(), f"{png} is not an image"
    c = QColor(img.pixel(img.width() // 2, img.height() // 2))
    return c.red(), c.green(), c.blue()


@pytest.fixture(scope="module")
def colour_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e_clips")
    for i, rgb in enumerate(COLOURS_RGB):
        make_clip(root / ("cats", "food", "travel")[i] / f"clip {i}.mp4", seconds=3.0, size=(270, 480), colour=rgb[::-1])
    return root


def test_play_folder_shows_a_video_frame(colour_dir: Path, tmp_path: Path):
    shot = tmp_path / "out.png"
    r = run_app(["play", str(colour_dir), "--quit-after", "4", "--screenshot", str(shot)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "playing 3 clips" in r.stderr and "Traceback" not in r.stderr
    assert shot.exists()
    got = centre_colour(shot)
    assert any(all(abs(a - b) <= 30 for a, b in zip(got, rgb)) for rgb in COLOURS_RGB), got


def test_missing_folder_is_one_clear_line_and_exit_code_2(tmp_path: Path):
    r = run_app(["play", str(tmp_path / "no such folder"), "--quit-after", "2"], tmp_path)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.startswith("feedapp:")]
    assert len(lines) == 1 and "does not exist" in lines[0] and "Traceback" not in r.stderr


def test_empty_folder_shows_a_friendly_screen(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a video")
    shot = tmp_path / "empty.png"
    r = run_app(["play", str(empty), "--quit-after", "2", "--screenshot", str(shot)], tmp_path)
    assert r.returncode == 1 and "nothing to play" in r.stderr and "Traceback" not in r.stderr
    img = QImage(str(shot))
    bright = sum(1 for y in range(0, img.height(), 3) for x in range(0, img.width(), 3)
                 if QColor(img.pixel(x, y)).lightness() > 150)
    assert bright > 50, "the message text is drawn"


@pytest.mark.slow
def test_demo_plays_while_its_clips_are_being_made(tmp_path: Path):
    """First run of the demo: playback starts with the first ready clip; quitting stops the maker."""
    pytest.importorskip("feedapp.media.demo")
    from feedapp.media.demo_plan import plan_demo

    shot = tmp_path / "demo.png"
    r = run_app(["demo", "--clips", str(tmp_path / "demo"), "--quit-after", "10", "--screenshot", str(shot)],
                tmp_path, timeout=90, FEEDAPP_TRACE="1")
    assert r.returncode == 0, r.stderr
    assert "first frame painted" in r.stderr and "Traceback" not in r.stderr
    img = QImage(str(shot))
    c = QColor(img.pixel(img.width() // 2, img.height() // 3))
    assert c.lightness() > 25 or c.saturation() > 40, "a video frame, not the empty dark background"
    made = list((tmp_path / "demo").glob("*.mp4"))
    assert 1 <= len(made) < len(plan_demo(0)), "some clips made, and the maker stopped when the window closed"


def test_unusable_database_is_one_clear_line(colour_dir: Path, tmp_path: Path):
    bad_db = tmp_path / "not-a-db.db"
    bad_db.write_bytes(b"this is not sqlite" * 100)
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)
    r = subprocess.run([*on_xvfb(), sys.executable, "-m", "feedapp", "play", str(colour_dir), "--db", str(bad_db),
                        "--quit-after", "2"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "not a usable SQLite database" in r.stderr


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_real_x_input_drag_keys_wheel(colour_dir: Path, tmp_path: Path):
    """Input through the X server (xdotool), not Qt's test helpers: drag, keys, a burst of wheel clicks."""
    py = sys.executable
    script = f"""
FEEDAPP_TRACE=1 {py} -m feedapp play '{colour_dir}' --db '{tmp_path / "x.db"}' --quit-after 12 2>'{tmp_path / "err.txt"}' &
APP=$!
sleep 3
xdotool mousemove 130 400 mousedown 1; sleep 0.05
for y in 370 330 290 250 210 170; do xdotool mousemove 130 $y; sleep 0.02; done
xdotool mouseup 1; sleep 0.8
xdotool key Down; sleep 0.8
xdotool key k; sleep 0.8
xdotool mousemove 130 300 click 5; sleep 0.04; xdotool click 5; sleep 0.04; xdotool click 5; sleep 0.8
xdotool key space; sleep 0.3; xdotool key space; sleep 0.3
xdotool key m; sleep 0.3
xdotool key q
wait $APP
"""
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)
    r = subprocess.run([*on_xvfb("1280x1024x24"), "bash", "-c", script], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    err = (tmp_path / "err.txt").read_text()
    assert r.returncode == 0, err
    hows = [line.split(" via ")[1].split(",")[0] for line in err.splitlines() if " via " in line]
    assert hows == ["start", "swipe_next", "key", "key", "wheel"], err
    events = [line.split("feedapp: ")[1].split(" at ")[0] for line in err.splitlines()
              if line.split("feedapp: ")[-1].split(" at ")[0] in ("pause", "resume", "mute", "unmute")]
    assert events == ["pause", "resume", "mute"], err


def test_fullscreen_covers_the_screen_even_without_a_window_manager(colour_dir: Path, tmp_path: Path):
    """A bare X server (no window manager, like a lab kiosk) ignores fullscreen requests; the app covers it."""
    shot = tmp_path / "fs.png"
    r = run_app(["play", str(colour_dir), "--fullscreen", "--quit-after", "3", "--screenshot", str(shot)], tmp_path)
    assert r.returncode == 0, r.stderr
    img = QImage(str(shot))
    assert (img.width(), img.height()) == (1280, 1024)
    got = centre_colour(shot)
    assert any(all(abs(a - b) <= 30 for a, b in zip(got, rgb)) for rgb in COLOURS_RGB), got
    edge = QColor(img.pixel(20, 500))
    assert edge.lightness() < 20, "pillarbox: dark bars beside the portrait clip"
