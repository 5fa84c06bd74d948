"""UI fixtures: real clips (tests/clipgen.py) wrapped in Clip objects, a Feed, and a shown window.

The Clip objects are built here from OpenCV's own reading of the files, so these tests do not depend
on feedapp.media (which is developed in parallel).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import pytest

from feedapp.core.catalog import Catalog
from feedapp.core.feed import Feed, SimpleOrder
from feedapp.core.model import Clip
from tests.clipgen import make_clip

# RGB colours of the generated clips (clipgen takes BGR), distinct enough to tell clips apart by pixels
COLOURS_RGB = [(220, 40, 40), (40, 200, 40), (40, 80, 220), (40, 200, 200), (200, 40, 200), (200, 200, 40)]


def clip_for(path: Path, topic: str, creator: str = "maker", title: str | None = None) -> Clip:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    return Clip(
        id=path.stem, path=str(path), title=title or path.stem, topics=(topic,), creator=creator,
        duration_ms=int(frames / fps * 1000), fps=fps, width=w, height=h,
    )


def probed_clip(path: Path, topic: str = "phones") -> Clip:
    """``clip_for`` with the size, rotation and duration that feedapp's own probe finds (real phone clips:
    OpenCV's frame count and size are not what the player shows)."""
    from dataclasses import replace

    from feedapp.media.probe import probe

    info = probe(path)
    return replace(clip_for(path, topic), width=info.width, height=info.height, rotation=info.rotation,
                   duration_ms=info.duration_ms)


@pytest.fixture(scope="session")
def ui_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Clip]:
    """Six real portrait clips, each a solid colour (no label, so the centre pixel is the colour)."""
    root = tmp_path_factory.mktemp("ui_clips")
    clips = []
    for i, rgb in enumerate(COLOURS_RGB):
        topic = ("cats", "cooking", "travel")[i % 3]
        p = make_clip(root / f"c{i}.mp4", seconds=2.0, size=(240, 426), colour=rgb[::-1])
        clips.append(clip_for(p, topic, creator=f"maker{i}", title=f"Clip number {i}"))
    return clips


@pytest.fixture()
def feed(ui_clips: list[Clip]) -> Feed:
    return Feed(Catalog(ui_clips), SimpleOrder(seed=1))


def colour_of(clip: Clip) -> tuple[int, int, int]:
    return COLOURS_RGB[int(clip.id[1:])]


@pytest.fixture()
def window(qtbot, feed):
    from feedapp.ui.window import PlayerWindow

    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
    w = PlayerWindow(feed, muted=True)
    qtbot.addWidget(w)
    w.resize(270, 480)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.view.shutdown()
