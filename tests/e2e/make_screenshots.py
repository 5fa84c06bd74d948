"""Take the README screenshots of the real window under Xvfb: ``python -m tests.e2e.make_screenshots``.

Shots (docs/screenshots/): ``player.png`` mid-clip with the caption, ``swipe.png`` mid-swipe with two
clips on screen, ``shortcuts.png`` the ? overlay, ``empty.png`` the screen for a folder with nothing
to play. Uses the demo clips (made once in a cache folder) so the pictures look like the real thing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.swipe import catalog_clips, ensure_display  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/feedapp-bench"))
    args = ap.parse_args()
    ensure_display()
    from feedapp.ui.app import _install_message_filter, _prepare_qt

    _prepare_qt()
    _install_message_filter()
    from PySide6.QtWidgets import QApplication

    from feedapp.core.catalog import Catalog
    from feedapp.core.feed import Feed, SimpleOrder
    from feedapp.ui.window import PlayerWindow
    from tests.ui.helpers import press_move, release

    app = QApplication([sys.argv[0]])
    clips, _ = catalog_clips(args.cache, 8)
    window = PlayerWindow(Feed(Catalog(clips), SimpleOrder(3)), muted=True)
    window.resize(480, 854)
    window.show()
    view = window.view
    arrivals = []
    view.arrived.connect(arrivals.append)

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.002)

    args.out.mkdir(parents=True, exist_ok=True)
    view.start()
    pump(1.6)
    window.grab().save(str(args.out / "player.png"))
    h = view.height()
    press_move(view, h * 0.85, h * 0.42)  # hold the drag: both clips on screen
    pump(0.4)
    window.grab().save(str(args.out / "swipe.png"))
    release(view, h * 0.42)
    pump(1.0)
    view.toggle_help()
    pump(0.2)
    window.grab().save(str(args.out / "shortcuts.png"))
    view.toggle_help()
    view.set_message(
        "No videos in this folder",
        "~/Videos/study has no video files (.mp4, .mov, .m4v, .webm, .mkv or .avi).\n\n"
        "Put some clips there (sub-folders are fine: their names become topics) and start feedapp again, "
        "or run \u201cfeedapp demo\u201d to try the built-in demo clips.",
    )
    pump(0.2)
    window.grab().save(str(args.out / "empty.png"))
    view.shutdown()
    window.close()
    print(f"saved 4 screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
