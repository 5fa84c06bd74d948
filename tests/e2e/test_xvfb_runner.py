"""tests/e2e/xvfb.py: runs started together get different displays, each reachable with its cookie only."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.xvfb import on_xvfb

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)")

ROOT = Path(__file__).resolve().parents[2]

# Prints DISPLAY, whether the display opens with the runner's Xauthority, and whether it opens without it.
PROBE = """
import ctypes, ctypes.util, os
x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
x11.XOpenDisplay.restype = ctypes.c_void_p
x11.XDisplayWidth.argtypes = [ctypes.c_void_p, ctypes.c_int]
d = x11.XOpenDisplay(None)
width = x11.XDisplayWidth(d, 0) if d else 0
os.environ["XAUTHORITY"] = "/nonexistent"
print(os.environ["DISPLAY"], width, bool(x11.XOpenDisplay(None)))
"""


def test_parallel_runs_get_their_own_display_and_cookie():
    procs = [subprocess.Popen([*on_xvfb("640x480x24"), sys.executable, "-c", PROBE], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        display, width, without_cookie = out.split()
        results.append(display)
        assert width == "640"  # the screen asked for, reached with the cookie
        assert without_cookie == "False"  # another client without it is refused
    assert len(set(results)) == 4, results


def test_exit_code_is_the_commands_and_xvfb_ends_with_it(tmp_path):
    pid_file = tmp_path / "display"
    r = subprocess.run([*on_xvfb(), "bash", "-c", f'echo "$DISPLAY" > {pid_file}; exit 7'], cwd=ROOT, timeout=60)
    assert r.returncode == 7
    number = pid_file.read_text().strip().lstrip(":")
    assert not Path(f"/tmp/.X{number}-lock").exists()  # the server ended and removed its lock


def test_a_bad_screen_is_one_clear_error():
    r = subprocess.run([*on_xvfb("bogus"), "true"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith("Xvfb did not start (screen bogus)")
    assert "Invalid screen configuration" in r.stderr
