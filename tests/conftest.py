"""Shared fixtures. Qt tests run offscreen; tests that need a real display start Xvfb themselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")

from tests.clipgen import make_clip  # noqa: E402


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small folder of real portrait clips in two topic folders (mp4v, 240x426, 30 fps)."""
    root = tmp_path_factory.mktemp("clips")
    colours = [(40, 40, 220), (40, 200, 40), (220, 80, 40), (200, 200, 40), (200, 40, 200), (40, 200, 200)]
    for i, colour in enumerate(colours):
        topic = "cats" if i % 2 == 0 else "cooking"
        make_clip(root / topic / f"clip {i}.mp4", seconds=2.0 + i * 0.5, size=(240, 426), colour=colour, label=str(i))
    return root


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real-codec corpus (tests/corpus.py), made with ffmpeg once per test session, never reused across runs."""
    from tests.corpus import ffmpeg_path, make_corpus

    if ffmpeg_path() is None:
        pytest.skip("ffmpeg is not installed (scripts/setup.sh --test installs it)")
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(autouse=True)
def _end_a_deadlocked_test():
    """A test stuck inside C++ while holding the GIL (seen: QMediaPlayer.stop() waiting on a Qt mutex
    that an FFmpeg thread holds while it waits for the GIL) cannot be interrupted from Python, not even
    by pytest-timeout. faulthandler's watchdog is C code: after 300 s it prints every thread's stack and
    ends the process, and pytest-xdist reports the test as failed and starts a new worker."""
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(300, exit=True, file=sys.__stderr__)
    yield
    faulthandler.cancel_dump_traceback_later()
