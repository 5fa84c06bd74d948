"""Panels that dock beside the player (``PlayerWindow.add_panel``): they render what the engine exposes.

- ``install_panels(window, engine, recorder, visible=...)``: the viewer's taste panel (P) with the
  taste profile, its history, "why this clip", up next, session figures and the interest map, plus
  "Refresh my feed" (R), follow (L) and the end-of-session card (E, saved as a PNG with S).
- ``feedapp.ui.devtools.install_dev_tools`` adds the developer panels (``dev.py``, ``fame.py``).

The widgets are imported when a panel is installed, not when this package is imported.
"""

from __future__ import annotations

from pathlib import Path


def install_panels(window, engine, recorder, *, visible: bool, controls: bool = True,  # noqa: ANN001
                   card_dir: Path | None = None) -> object:
    """Dock the taste panel into ``window`` (a PlayerWindow) for ``engine`` (a FeedEngine) and ``recorder``
    (the SessionRecorder); shown now if ``visible`` (demo mode), else hidden until P (lab participants).

    ``controls=False`` leaves out the viewer's actions (refresh, follow, end card keys and buttons), for a
    study where the participant must not change the feed. ``card_dir``: where S saves the end card
    (default ``data/cards``). Returns the ``TasteDock`` controller (keep a reference; tests read it).
    """
    from feedapp.ui.panels.taste import TasteDock

    return TasteDock(window, engine, recorder, visible=visible, controls=controls, card_dir=card_dir)


__all__ = ["install_panels"]
