"""Save a screenshot of the whole X screen: ``python -m tests.e2e.grab_screen OUT.png``.

Used by the Xvfb tests in place of ImageMagick's ``import -window root``, which a fresh machine does not
have: Qt (already a dependency) grabs the root window of ``$DISPLAY`` through xcb.
"""

from __future__ import annotations

import os
import sys


def main(out: str) -> int:
    os.environ["QT_QPA_PLATFORM"] = "xcb"  # the real X server, never offscreen
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    shot = app.primaryScreen().grabWindow(0)
    if shot.isNull() or not shot.save(out):
        print(f"grab_screen: could not grab the screen of DISPLAY={os.environ.get('DISPLAY')!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
