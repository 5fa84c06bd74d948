"""Run as ``python -m tests.ui.player_churn CLIP... --loads N``: makes a fresh SlotPlayer per load, shows a
first frame, plays briefly and closes it, N times; prints ``done N`` at the end.

tests/ui/test_player_threads.py runs it in a child process with a timeout, because the failure it looks
for is a deadlock with the GIL held, which no in-process timeout can end.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clips", nargs="+", type=Path)
    parser.add_argument("--loads", type=int, default=150)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
    from PySide6.QtCore import QEventLoop, QSize
    from PySide6.QtWidgets import QApplication

    from feedapp.ui.player import SlotPlayer
    from tests.ui.conftest import probed_clip

    app = QApplication([])
    clips = [probed_clip(path) for path in args.clips]

    def spin_until(pred, ms: int) -> bool:
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
            if pred():
                return True
        return False

    shown = 0
    for i in range(args.loads):
        slot = SlotPlayer(muted=True)
        slot.set_target(QSize(240, 427))
        slot.load(clips[i % len(clips)], preload=True)
        shown += spin_until(lambda: slot.image is not None or slot.error is not None, 8000) and slot.image is not None
        slot.play()
        spin_until(slot.has_moving_frame, 100 + (i * 37) % 300)  # closed at varying points of playback
        slot.close()
        slot.deleteLater()
    print(f"done {args.loads} shown {shown}", flush=True)


if __name__ == "__main__":
    main()
