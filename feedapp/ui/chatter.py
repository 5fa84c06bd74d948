"""Quiet, honest stderr: known harmless backend chatter is dropped; everything else still reaches the user.

Two kinds of chatter reach a researcher's terminal while clips play:

- Qt's own messages (``qWarning``) go through the message handler that ``feedapp.ui.app`` installs;
  :data:`QT_NOISE` lists the harmless ones, and the "no audio device" ones become a single plain
  notice (videos then play muted).
- FFmpeg, bundled inside Qt Multimedia, writes straight to the process's stderr (file descriptor 2)
  from its decoder threads, where no Python or Qt handler sees it: "Could not update timestamps for
  skipped samples" for every Opus/AAC file, hardware-decoder set-up attempts on a machine without
  one, "moov atom not found" for files the scan has already reported in plain words.
  :func:`filter_native_stderr` passes descriptor 2 through a pipe read by a small thread that drops the
  lines in :data:`FFMPEG_NOISE` and copies every other line to the real stderr. Python's own
  ``sys.stderr`` writes to the real stderr directly, so the app's messages never wait on that thread.
  Two seconds in, it also asks that FFmpeg for errors only (its warnings are never actionable here).
"""

from __future__ import annotations

import atexit
import ctypes
import io
import os
import sys
import threading
from pathlib import Path

# Qt messages that say nothing a viewer can act on.
QT_NOISE = ("No RHI backend", "propagateSizeHints", "pipewire", "Couldn't load va", "Couldn't resolve va",
            # LANG=C / LC_ALL=POSIX: Qt switches itself to C.UTF-8 in four lines; Python already reads file
            # names as UTF-8 there (its UTF-8 mode), so nothing is left for the researcher to do
            "Qt depends on a UTF-8 locale")
# Qt messages meaning "no sound device": replaced by one plain notice.
NO_AUDIO = ("pa_context_connect", "No audio device detected", "No audio output device")
# FFmpeg lines that are harmless for playback here (matched anywhere in the line).
FFMPEG_NOISE = (
    "Could not update timestamps for skipped samples",
    "Could not update timestamps for discarded samples",
    "Invalid setup for format",  # hardware decoders tried on a machine without them
    "hwaccel initialisation returned error",
    "A hardware frames or device context is required",
    "Failed setup for format",
    "deprecated pixel format used",
    "first frame is no keyframe",
    "moov atom not found",  # a file without its index: the scan already says "incomplete ... copy it again"
    "Device creation failed",
    "No device available for decoder",
)
AV_LOG_ERROR = 16

_installed: dict[str, object] = {}


def is_qt_noise(message: str) -> bool:
    return any(n in message for n in QT_NOISE)


def means_no_audio(message: str) -> bool:
    return any(n in message for n in NO_AUDIO)


def is_ffmpeg_noise(line: str) -> bool:
    return any(n in line for n in FFMPEG_NOISE)


def _qt_ffmpeg_libavutil() -> list[Path]:
    """The FFmpeg utility library bundled with PySide6's Qt Multimedia (Linux, macOS, Windows names)."""
    try:
        import PySide6
    except ImportError:  # pragma: no cover - PySide6 is a dependency
        return []
    base = Path(PySide6.__file__).resolve().parent
    found: list[Path] = []
    for folder in (base / "Qt" / "lib", base):
        for pattern in ("libavutil.so.*", "libavutil.*.dylib", "avutil-*.dll"):
            found += sorted(folder.glob(pattern))
    return found


def quiet_ffmpeg_warnings() -> bool:
    """Ask Qt's FFmpeg to log errors only; True if its library was found (logging level is process-wide)."""
    for path in _qt_ffmpeg_libavutil():
        try:
            lib = ctypes.CDLL(str(path))
            lib.av_log_set_level(ctypes.c_int(AV_LOG_ERROR))
            return True
        except (OSError, AttributeError):
            continue
    return False


def _pump(read_fd: int, out_fd: int) -> None:
    """Copy lines from the pipe to the real stderr, dropping known noise; a partial last line is kept."""
    pending = b""
    with io.FileIO(read_fd, "r", closefd=True) as src:
        while True:
            try:
                chunk = src.read(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not is_ffmpeg_noise(line.decode("utf-8", "replace")))
            if out:
                os.write(out_fd, out)
    if pending and not is_ffmpeg_noise(pending.decode("utf-8", "replace")):
        os.write(out_fd, pending)


def filter_native_stderr() -> bool:
    """Route descriptor 2 through the noise filter (once per process); False where it cannot be done.

    Call it at the start of a playing command, before Qt starts. Undone at exit: the real stderr is put
    back on descriptor 2 and the last lines are copied out before the process ends.
    """
    if _installed or not hasattr(os, "pipe") or os.name != "posix":
        return False
    # Loading FFmpeg's library here, before Qt does, cost the first frame about 60 ms (benchmarks/launch.py);
    # a little later it is already loaded and this is a lookup. The pipe filters the same lines meanwhile.
    later = threading.Timer(2.0, quiet_ffmpeg_warnings)
    later.daemon = True
    later.start()
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read_fd, write_fd = os.pipe()
    except OSError:
        return False
    # Python's own messages go to the real stderr directly (never through the thread)
    sys.stderr = io.TextIOWrapper(io.FileIO(os.dup(real), "w", closefd=True), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    thread = threading.Thread(target=_pump, args=(read_fd, real), name="feedapp-stderr", daemon=True)
    thread.start()
    _installed.update(real=real, thread=thread)
    atexit.register(_restore)
    return True


def _restore() -> None:
    """Put the real stderr back on descriptor 2; the pipe then closes and the thread copies what is left."""
    real = _installed.get("real")
    thread = _installed.get("thread")
    if not isinstance(real, int):
        return
    try:
        os.dup2(real, 2)  # drops the pipe's last writer: the thread sees the end
    except OSError:
        return
    if isinstance(thread, threading.Thread):
        thread.join(timeout=0.5)  # a child process still holding the pipe must not delay the exit
