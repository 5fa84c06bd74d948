"""Developer tools for the player window: the developer panel (D) and the fame board (G).

The composition root calls ``install_dev_tools(window, engine, recorder)`` once the session bridge
exists (``record_ranker_events(engine, recorder)`` is wired there already, so every parameter change
made here is logged as a ``ranker_param_changed`` event with old and new value). The panels are
added to the window with ``window.add_panel(name, widget, key, visible)``; a window without panel
support (an older ``PlayerWindow``) gets them as separate tool windows toggled by the same keys.

Keys: ``D`` developer panel, ``G`` fame board. The player already uses Down/j, Up/k, Space, M, F,
?, Q and Esc, and the other panels P, R, L and S.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from feedapp.core.fame_live import POLICIES, FameProcess, LiveFame
from feedapp.ui.panels.dev import DevPanel
from feedapp.ui.panels.fame import FameBoard

DEV_KEY = Qt.Key.Key_D
FAME_KEY = Qt.Key.Key_G


@dataclass
class DevTools:
    """What ``install_dev_tools`` made (kept alive by the caller, or by the window's panels)."""

    dev: DevPanel
    fame: FameBoard
    shortcuts: list[QShortcut] = field(default_factory=list)

    def close(self) -> None:
        self.fame.shutdown()


def fame_params(engine) -> dict[str, dict[str, object]]:  # noqa: ANN001 - FeedEngine
    """The board's ``foryou`` column runs with the feed's current values when the feed runs ``foryou``."""
    if getattr(engine, "plugin_host", None) is None and engine.ranker.name == "foryou":
        return {"foryou": dict(engine.ranker.params)}
    return {}


def install_dev_tools(window, engine, recorder) -> DevTools:  # noqa: ANN001 - PlayerWindow, FeedEngine, SessionRecorder
    """Make the developer panel and the fame board and put them in ``window`` (hidden until D / G)."""
    dev = DevPanel(engine, recorder)
    # the audience is simulated in a worker process (started when the board is first shown), so its
    # garbage collections never pause the player; restart picks up the feed's current foryou values
    fame = FameBoard(lambda: LiveFame(policies=POLICIES, params=fame_params(engine)),
                     make_process=lambda: FameProcess(policies=POLICIES, params=fame_params(engine)))
    tools = DevTools(dev, fame)
    view = getattr(window, "view", None)
    if view is not None:
        dev.editing_finished.connect(lambda: view.setFocus())  # Enter in a spin box: keys go back to the feed
    add_panel = getattr(window, "add_panel", None)
    if callable(add_panel):
        add_panel("dev", dev, DEV_KEY, False, title="developer panel")
        add_panel("fame", fame, FAME_KEY, False, title="fame board")
    else:  # no panel support in this window: separate tool windows on the same keys
        for widget, key, title in ((dev, DEV_KEY, "feedapp: developer panel"), (fame, FAME_KEY, "feedapp: fame board")):
            widget.setParent(window, Qt.WindowType.Tool)
            widget.setWindowTitle(title)
            widget.hide()
            sc = QShortcut(QKeySequence(key), window)
            sc.activated.connect(lambda w=widget: _toggle(w))
            tools.shortcuts.append(sc)
    return tools


def _toggle(w: QWidget) -> None:
    w.setVisible(not w.isVisible())
