"""Run a command on its own Xvfb: ``python -m tests.e2e.xvfb [--screen WxHxD] -- COMMAND ...``.

What ``xvfb-run -a`` does, without its race. ``xvfb-run -a`` picks "the first number without a
/tmp/.X<n>-lock file" and only then starts Xvfb on it, so two runs started together (pytest -n 2 runs
two e2e tests at once) can pick the same number. A clean-clone CI run failed that way: the app
reached the X server, a second client of the same test got "could not connect to display :107".

That was not the cause of the failure, though: it came back on this runner. An X server resets when
its last client leaves, and refuses connections while it does. The test polls with xdotool (one
short client after another) while the app and a second window are still starting, so a poll ending
with no other client connected reset the server just as the second window tried to connect. Xvfb
runs here with ``-noreset``; xvfb-run's default arguments lack it too. Checked on 2026-12-01: three Qt
apps started at once, 40 times, while a loop ran ``xdotool search`` every 20 ms: under
``xvfb-run -a`` 7 of the 120 apps aborted with "could not connect to display", with ``-noreset`` 0.

Xvfb chooses the number itself (``-displayfd``: it takes the first number whose sockets and lock
it can get, atomically, and writes it to a pipe once it accepts connections), so parallel runs never
share a display. Clients authenticate with a fresh MIT-MAGIC-COOKIE-1 in a private Xauthority file,
as under xvfb-run. Xvfb stays in the caller's process group, so killing the group (the tests do on a
timeout) ends it too; on a normal end it is stopped and its files are removed.
"""

from __future__ import annotations

import os
import secrets
import select
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_SCREEN = "1280x1024x24"
FAMILY_WILD = 0xFFFF  # libXau: matches any host; an empty display number matches any display


def on_xvfb(screen: str = DEFAULT_SCREEN) -> list[str]:
    """The prefix that runs what follows it on a fresh Xvfb with this screen."""
    return [sys.executable, "-m", "tests.e2e.xvfb", "--screen", screen, "--"]


def available() -> bool:
    return shutil.which("Xvfb") is not None


def _xauth_entry(cookie: bytes) -> bytes:
    def field(b: bytes) -> bytes:
        return struct.pack(">H", len(b)) + b

    return struct.pack(">H", FAMILY_WILD) + field(b"") + field(b"") + field(b"MIT-MAGIC-COOKIE-1") + field(cookie)


def _end_with_parent() -> None:
    """In Xvfb's child before exec: SIGTERM when this wrapper dies, even by SIGKILL (a test's timeout)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start(screen: str, workdir: Path, timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start Xvfb; returns it and its DISPLAY (":N") once it accepts connections."""
    auth = workdir / "Xauthority"
    auth.write_bytes(_xauth_entry(secrets.token_bytes(16)))
    log = open(workdir / "Xvfb.log", "wb")  # noqa: SIM115 - Xvfb writes to it for its whole life
    r, w = os.pipe()
    try:
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", screen, "-nolisten", "tcp", "-noreset", "-auth", str(auth)],
            pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_end_with_parent)
    finally:
        os.close(w)
        log.close()
    number = b""
    try:
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([r], [], [], timeout)
            chunk = os.read(r, 64) if ready else b""
            if not chunk:  # Xvfb ended, or did not answer in time
                xvfb.kill()
                xvfb.wait()
                tail = (workdir / "Xvfb.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Xvfb did not start (screen {screen}); its log:\n{tail}")
            number += chunk
    finally:
        os.close(r)
    return xvfb, ":" + number.decode().strip()


def run(cmd: list[str], screen: str = DEFAULT_SCREEN) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="feedapp-xvfb-"))
    try:
        xvfb, display = start(screen, workdir)
        try:
            env = dict(os.environ, DISPLAY=display, XAUTHORITY=str(workdir / "Xauthority"))
            return subprocess.call(cmd, env=env)
        finally:
            xvfb.terminate()
            try:
                xvfb.wait(timeout=10)
            except subprocess.TimeoutExpired:
                xvfb.kill()
                xvfb.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str]) -> int:
    screen = DEFAULT_SCREEN
    if argv[:1] == ["--screen"]:
        screen, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m tests.e2e.xvfb [--screen WxHxD] -- COMMAND ...", file=sys.stderr)
        return 2
    try:
        return run(argv, screen)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
