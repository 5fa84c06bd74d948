"""The top-level window: a dark, portrait-shaped frame around the swipe view, with fullscreen on F."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from feedapp.core.feed import Feed
from feedapp.ui import overlays
from feedapp.ui.swipe import SwipeView

DEFAULT_SIZE = (480, 854)  # 9:16, like a phone held upright


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


class PlayerWindow(QWidget):
    def __init__(self, feed: Feed, *, muted: bool = False, preload: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("feedapp")
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, overlays.BACKGROUND)
        pal.setColor(QPalette.ColorRole.WindowText, QColor(245, 245, 245))
        self.setPalette(pal)
        self.setAutoFillBackground(True)
        self.view = SwipeView(feed, muted=muted, preload=preload, parent=self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.view.fullscreen_requested.connect(self.toggle_fullscreen)
        self.view.escape_pressed.connect(self.leave_fullscreen)
        self.view.quit_requested.connect(self.close)
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        self.resize(*portrait_size(avail.width() if avail else 0, avail.height() if avail else 0))
        self.view.setFocus()

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

    def keyPressEvent(self, event) -> None:  # keys that reach the window when the view lost focus
        self.view.keyPressEvent(event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)
