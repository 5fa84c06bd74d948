"""Quiet, honest stderr: FFmpeg's and Qt's harmless chatter is dropped, real errors pass (in a child process,
since the filter takes over the process's file descriptor 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from feedapp.ui.chatter import is_ffmpeg_noise, is_qt_noise, means_no_audio

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import ctypes, os, sys
from feedapp.ui.chatter import filter_native_stderr
assert filter_native_stderr()
libc = ctypes.CDLL(None)
def native(text):  # what FFmpeg does from its threads: write(2, ...) below Python
    data = text.encode()
    libc.write(2, data, len(data))
native("[opus @ 0x55d0] Could not update timestamps for skipped samples.\n")
native("[mjpeg @ 0x55d1] Invalid setup for format cuda: missing configuration.\n")
native("[h264 @ 0x55d2] error while decoding MB 3 4, bytestream -7\n")
native("[mov,mp4 @ 0x55d3] moov atom not found\n")
print("feedapp: a message of the app itself", file=sys.stderr)
native("a last line without newline")
"""


def test_native_stderr_drops_known_noise_and_keeps_real_errors():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    err = r.stderr
    assert "error while decoding MB 3 4" in err  # a real decoding error still reaches the user
    assert "feedapp: a message of the app itself" in err
    assert "a last line without newline" in err  # copied out at exit
    assert "Could not update timestamps" not in err and "Invalid setup for format" not in err
    assert "moov atom not found" not in err


def test_message_classes():
    assert means_no_audio("PulseAudioService: pa_context_connect() failed")
    assert means_no_audio("No audio device detected")
    assert is_qt_noise("QRhi* ensureRhi : No RHI backend. Using CPU conversion.")
    assert not is_qt_noise("QFile::open: No such file or directory")
    assert is_ffmpeg_noise("[aac @ 0x1] Could not update timestamps for discarded samples.")
    assert not is_ffmpeg_noise("[h264 @ 0x1] Invalid NAL unit size (1234 > 99).")


def test_a_c_or_posix_locale_starts_qt_without_its_four_line_warning():
    """LANG=C or LC_ALL=POSIX: Qt printed 'Detected locale "C" ... which is not UTF-8. / Qt depends on a
    UTF-8 locale, and has switched to "C.UTF-8" instead. / If this causes problems, reconfigure ...' above
    feedapp's own lines, though a clip named 'café.mp4' plays there as anywhere."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), LC_ALL="POSIX", LANG="C", QT_QPA_PLATFORM="offscreen")
    code = "from feedapp.ui.app import start_qt; app = start_qt(); print('started')"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "started\n", r.stderr
    assert "locale" not in r.stderr, r.stderr
