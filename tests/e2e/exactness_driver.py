"""Drive the real app under an X server with real input at known times; print the timing errors.

Run by tests/e2e/test_exactness.py on its own Xvfb (tests/e2e/xvfb.py; it needs DISPLAY and xdotool). Input goes
through the X server (xdotool), so it travels the same path a person's keyboard does. Each input's
true time is ``time.monotonic_ns()`` taken just before xdotool is started (CLOCK_MONOTONIC is the
same clock in every process), and the logged figures are compared against those times.

Per clip: pause for a known time, lose focus to another window for a known time, then swipe on
after a known dwell. Errors compared: paused_ms, unfocused_ms, dwell_ms, and each event's timestamp.
"""

from __future__ import annotations

import json
import os
import queue
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

OTHER_WINDOW = (
    "from PySide6.QtWidgets import QApplication, QWidget\n"
    "app = QApplication([]); w = QWidget(); w.setWindowTitle('feedapp-test-other-window')\n"
    "w.resize(120, 120); w.move(600, 600); w.show(); app.exec()\n"
)


def now() -> int:
    return time.monotonic_ns()


def xdo(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, capture_output=True)


class XTest:
    """Key presses and focus changes sent straight to the X server (libX11/libXtst via ctypes).

    Starting an xdotool process per input adds a few to tens of ms of jitter between the stamp
    taken here and the input reaching the server; talking to the server directly keeps the
    "known time" of each input within a fraction of a millisecond of the real one.
    """

    def __init__(self) -> None:
        import ctypes
        import ctypes.util

        self.x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        self.xtst = ctypes.CDLL(ctypes.util.find_library("Xtst") or "libXtst.so.6")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self.x11.XStringToKeysym.restype = ctypes.c_ulong
        self.x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self.x11.XFlush.argtypes = [ctypes.c_void_p]
        self.x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.x11.XSetInputFocus.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_ulong]
        self.xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self.dpy = self.x11.XOpenDisplay(None)
        if not self.dpy:
            raise RuntimeError("cannot open the X display")

    def key(self, name: str) -> int:
        """Press and release a key; returns the monotonic time just before the press was sent."""
        code = self.x11.XKeysymToKeycode(self.dpy, self.x11.XStringToKeysym(name.encode()))
        t = now()
        self.xtst.XTestFakeKeyEvent(self.dpy, code, 1, 0)
        self.x11.XFlush(self.dpy)
        self.xtst.XTestFakeKeyEvent(self.dpy, code, 0, 0)
        self.x11.XSync(self.dpy, 0)
        return t

    def focus(self, window: str) -> int:
        t = now()
        self.x11.XSetInputFocus(self.dpy, int(window), 1, 0)  # RevertToPointerRoot, CurrentTime
        self.x11.XSync(self.dpy, 0)
        return t


def find_window(name: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["xdotool", "search", "--name", f"^{name}$"], capture_output=True, text=True)
        ids = out.stdout.split()
        if ids:
            return ids[0]
        time.sleep(0.1)
    raise RuntimeError(f"no window called {name!r} appeared")


def main(clips: str, db: str, out: str, n_clips: int = 5) -> int:
    env = dict(os.environ, FEEDAPP_TRACE="1", QT_QPA_PLATFORM="xcb")
    app = subprocess.Popen([sys.executable, "-m", "feedapp", "play", clips, "--db", db, "--mute"],
                           stderr=subprocess.PIPE, text=True, env=env)
    other = subprocess.Popen([sys.executable, "-c", OTHER_WINDOW], env=env)
    arrivals: queue.Queue[int] = queue.Queue()
    lines: list[str] = []

    def read() -> None:
        assert app.stderr is not None
        for line in app.stderr:
            lines.append(line)
            m = re.search(r"arrived at #(\d+)", line)
            if m:
                arrivals.put(int(m.group(1)))

    threading.Thread(target=read, daemon=True).start()
    inputs = []
    try:
        win = find_window("feedapp")
        other_win = find_window("feedapp-test-other-window")
        xdo("windowfocus", "--sync", win)
        x = XTest()
        for k in range(n_clips):
            while arrivals.get(timeout=20) != k:
                pass
            time.sleep(0.6)
            t_pause = x.key("space")
            time.sleep(0.5)
            t_resume = x.key("space")
            time.sleep(0.4)
            t_blur = x.focus(other_win)
            time.sleep(0.6)
            t_focus = x.focus(win)
            time.sleep(0.4)
            t_swipe = x.key("Down")
            inputs.append(dict(position=k, pause=t_pause, resume=t_resume, blur=t_blur, focus=t_focus, swipe=t_swipe))
        while arrivals.get(timeout=20) != n_clips:
            pass
        time.sleep(0.3)
        x.key("q")
        app.wait(timeout=20)
    finally:
        for p in (app, other):
            if p.poll() is None:
                p.kill()
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    errors: dict[str, list[float]] = {"dwell_ms": [], "paused_ms": [], "unfocused_ms": [], "event_ms": []}
    for inp in inputs:
        imp = con.execute("SELECT * FROM impressions WHERE position = ?", [inp["position"]]).fetchone()
        view = con.execute("SELECT * FROM views WHERE impression_id = ?", [imp["id"]]).fetchone()
        evs = {r["kind"]: r["mono_ns"] for r in con.execute(
            "SELECT kind, mono_ns FROM events WHERE impression_id = ? ORDER BY mono_ns", [imp["id"]])}
        errors["dwell_ms"].append(view["dwell_ms"] - (inp["swipe"] - imp["settled_mono_ns"]) / 1e6)
        errors["paused_ms"].append(view["paused_ms"] - (inp["resume"] - inp["pause"]) / 1e6)
        errors["unfocused_ms"].append(view["unfocused_ms"] - (inp["focus"] - inp["blur"]) / 1e6)
        for kind, key in (("pause", "pause"), ("resume", "resume"), ("focus_lost", "blur"), ("focus_gained", "focus")):
            errors["event_ms"].append((evs[kind] - inp[key]) / 1e6)
    Path(out).write_text(json.dumps({"errors": errors, "inputs": inputs, "app_stderr": lines}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:4]))
