"""The top-level window: a dark, portrait-shaped frame around the swipe view, with fullscreen on F,
and a side area where panels dock beside the player (``add_panel``).

Panel layout decision: panels sit in a column area to the *right* of the player, side by side, each
with a fixed width. Showing a panel makes the window grow by the panel's width and hiding it makes the
window shrink back, so the player keeps its portrait size (when the window is maximised or fullscreen,
or the screen is too narrow, the panels take their width from the player instead, which never gets
narrower than its minimum width of 180 px). Panels never overlay the video, so they can be read while
it plays and never cost the swipe view a repaint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QGuiApplication, QKeyEvent, QPalette
from PySide6.QtWidgets import QHBoxLayout, QWidget

from feedapp.core.feed import Feed
from feedapp.ui import overlays
from feedapp.ui.swipe import SwipeView

DEFAULT_SIZE = (480, 854)  # 9:16, like a phone held upright

# Keys the swipe view handles itself: a panel or a window action cannot take them.
VIEW_KEYS: frozenset[int] = frozenset(
    int(k)
    for k in (
        Qt.Key.Key_Down, Qt.Key.Key_J, Qt.Key.Key_Up, Qt.Key.Key_K, Qt.Key.Key_Space, Qt.Key.Key_M,
        Qt.Key.Key_F, Qt.Key.Key_Question, Qt.Key.Key_Q, Qt.Key.Key_Escape,
    )
)


def portrait_size(available_w: int, available_h: int) -> tuple[int, int]:
    """480x854 when it fits, else the largest 9:16 size within 90% of the screen."""
    w, h = DEFAULT_SIZE
    if available_h and h > available_h * 0.9:
        h = int(available_h * 0.9)
        w = int(h * 9 / 16)
    if available_w and w > available_w * 0.9:
        w = int(available_w * 0.9)
        h = int(w * 16 / 9)
    return max(w, 180), max(h, 320)


@dataclass
class _Panel:
    name: str
    widget: QWidget
    key: int
    width: int


class PlayerWindow(QWidget):
    panel_toggled = Signal(str, bool)  # (name, visible) after a panel was shown or hidden

    def __init__(self, feed: Feed, *, muted: bool = False, preload: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("feedapp")
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, overlays.BACKGROUND)
        pal.setColor(QPalette.ColorRole.WindowText, QColor(245, 245, 245))
        self.setPalette(pal)
        self.setAutoFillBackground(True)
        self.view = SwipeView(feed, muted=muted, preload=preload, parent=self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.view, 1)
        self._side = QWidget(self)
        self._side_layout = QHBoxLayout(self._side)
        self._side_layout.setContentsMargins(0, 0, 0, 0)
        self._side_layout.setSpacing(0)
        self._side.hide()
        layout.addWidget(self._side, 0)
        self._panels: dict[str, _Panel] = {}
        self._keys: dict[int, tuple[str, Callable[[], None]]] = {}
        self.view.fullscreen_requested.connect(self.toggle_fullscreen)
        self.view.escape_pressed.connect(self.leave_fullscreen)
        self.view.quit_requested.connect(self.close)
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        self.resize(*portrait_size(avail.width() if avail else 0, avail.height() if avail else 0))
        self.view.setFocus()

    # == panels ==================================================================================
    def add_panel(self, name: str, widget: QWidget, key: Qt.Key, visible: bool) -> None:
        """Dock ``widget`` beside the player as the panel ``name``, toggled by ``key``; shown now if ``visible``.

        - Panels sit to the right of the player, side by side in the order they were added, at the
          full height of the window. Each keeps a fixed width: the widget's ``minimumWidth()`` or, if
          larger, its ``sizeHint().width()`` at the time it is added.
        - Showing a panel makes the window wider by that width and hiding it makes it narrower again,
          so the player keeps its portrait area. Maximised, fullscreen or on a narrow screen, the
          panel takes its width from the player instead (the player never gets narrower than 180 px).
        - ``key`` (a ``Qt.Key``) toggles the panel from anywhere in the window. It must not be one of
          the player's keys (Down/J, Up/K, Space, M, F, ?, Q, Esc) or a key already taken by another
          panel or window action: that raises ``ValueError``, as does a ``name`` used twice.
        - ``panel_toggled(name, visible)`` is emitted after every change. A panel widget should keep
          ``Qt.NoFocus`` on its buttons so the player keeps the keyboard.

        Example: ``window.add_panel("dev", DevPanel(engine), Qt.Key.Key_D, visible=False)``.
        """
        if name in self._panels:
            raise ValueError(f"there is already a panel called {name!r}")
        k = self._check_key(key, f"panel {name!r}")
        width = max(widget.minimumWidth(), widget.sizeHint().width(), 120)
        widget.setParent(self._side)
        widget.setFixedWidth(width)
        widget.setVisible(False)
        self._side_layout.addWidget(widget)
        self._panels[name] = _Panel(name, widget, k, width)
        self._keys[k] = (f"show or hide the {name} panel", lambda: self.toggle_panel(name))
        if visible:
            self.set_panel_visible(name, True)

    def add_key(self, key: Qt.Key, action: Callable[[], None], description: str) -> None:
        """Run ``action`` when ``key`` is pressed anywhere in the window (same key rules as ``add_panel``)."""
        k = self._check_key(key, description)
        self._keys[k] = (description, action)

    def _check_key(self, key: Qt.Key, what: str) -> int:
        k = int(key.value if hasattr(key, "value") else key)
        if k in VIEW_KEYS:
            raise ValueError(f"{what}: that key is the player's own ({Qt.Key(k).name})")
        if k in self._keys:
            raise ValueError(f"{what}: that key is already taken ({self._keys[k][0]})")
        return k

    @property
    def panels(self) -> dict[str, QWidget]:
        """Name -> panel widget, in the order they were added."""
        return {n: p.widget for n, p in self._panels.items()}

    @property
    def keys(self) -> dict[str, str]:
        """Key name -> what it does, for every panel key and window action (for help screens)."""
        return {Qt.Key(k).name.removeprefix("Key_"): d for k, (d, _) in self._keys.items()}

    def panel_visible(self, name: str) -> bool:
        return not self._panels[name].widget.isHidden()

    def toggle_panel(self, name: str) -> None:
        self.set_panel_visible(name, not self.panel_visible(name))

    def set_panel_visible(self, name: str, visible: bool) -> None:
        panel = self._panels[name]
        if self.panel_visible(name) == visible:
            return
        free_to_resize = not (self.isFullScreen() or self.isMaximized())
        w = self.width()
        panel.widget.setVisible(visible)
        self._side.setVisible(any(not p.widget.isHidden() for p in self._panels.values()))
        self.layout().activate()  # the window's minimum width follows the panels now, before resizing
        if free_to_resize:
            screen = self.screen()
            max_w = screen.availableGeometry().width() if screen is not None else 1 << 16
            target = w + panel.width if visible else w - panel.width
            view_min = self.view.minimumWidth()
            side = sum(p.width for p in self._panels.values() if not p.widget.isHidden())
            self.resize(max(view_min + side, min(target, max_w)), self.height())
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)
        self.panel_toggled.emit(name, visible)

    # == fullscreen ==============================================================================
    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.leave_fullscreen()
        else:
            self._normal_geometry = self.geometry()
            self.showFullScreen()
            self.view.restart_cursor_idle()
            QTimer.singleShot(250, self._cover_screen_without_wm)

    def _cover_screen_without_wm(self) -> None:
        """With no window manager (a bare X server, a kiosk) nobody honours the fullscreen request:
        cover the screen ourselves."""
        screen = self.screen()
        if self.isFullScreen() and screen is not None and self.geometry() != screen.geometry():
            self.setGeometry(screen.geometry())

    def leave_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
            saved = getattr(self, "_normal_geometry", None)
            if saved is not None and self.screen() is not None and self.geometry() == self.screen().geometry():
                self.setGeometry(saved)
            self.view.setCursor(Qt.CursorShape.PointingHandCursor)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.ActivationChange:
            self.view.set_focused(self.isActiveWindow())
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.view.shutdown()
        super().closeEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Panel and action keys; other keys that reach the window (the view lost focus) go to the view.

        Keys the view does not handle propagate here from the view; those are not sent back to it.
        """
        entry = self._keys.get(int(event.key()))
        if entry is not None:
            if not event.isAutoRepeat():
                entry[1]()
            event.accept()
            return
        if QGuiApplication.focusObject() is self.view:
            event.ignore()
            return
        self.view.keyPressEvent(event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)
