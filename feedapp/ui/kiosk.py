"""Kiosk mode for lab sessions: fullscreen, no way out for the participant, the experimenter's hotkey.

``KioskGuard`` is an application-wide event filter for ONE window (the lab window):

- keys that would leave or change the window (Esc, Q, F, F11, and any Ctrl/Alt/Meta combination:
  Alt+F4, Ctrl+W, Ctrl+Q, ...) never reach it; navigation keys, Space, M and ? do;
- the experimenter's hotkey (Ctrl+Shift+O by default) emits ``operator_requested``;
- the window's close (the close button, Alt+F4 handled by a window manager) is refused by the lab
  window while ``locked`` is true (it asks ``guard.allows_close()``);
- leaving fullscreen (a window manager's "restore") is undone;
- the pointer is hidden after ``CURSOR_IDLE_MS`` without mouse movement, and shown again on movement.

What it cannot stop (docs/researchers.md says so too): the window manager and the system keep their
own shortcuts (Alt+Tab, workspace switching, Ctrl+Alt+F1..F7 virtual terminals, Ctrl+Alt+Backspace
where enabled), and anything that kills the process (``kill -9``, a WM's "force quit", power): such a
session is closed as ``recovered_after_crash`` on the next start.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QWidget

CURSOR_IDLE_MS = 2500
DEFAULT_HOTKEY = "Ctrl+Shift+O"
#: keys the participant may use in kiosk mode (everything else without a modifier is swallowed too)
ALLOWED_KEYS = frozenset(k.value for k in (
    Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_J, Qt.Key.Key_K, Qt.Key.Key_Space, Qt.Key.Key_M,
    Qt.Key.Key_Question, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab,
))
_MODS = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier)


def _matches(event: QKeyEvent, seq: QKeySequence) -> bool:
    if seq.isEmpty():
        return False
    combo = seq[0]
    mods = event.modifiers() & (_MODS | Qt.KeyboardModifier.ShiftModifier)
    return combo.key().value == event.key() and combo.keyboardModifiers() == mods


class KioskGuard(QObject):
    operator_requested = Signal()
    blocked = Signal(str)  # what was refused, for tests and the terminal ("key Esc", "close")

    def __init__(self, window: QWidget, hotkey: str = DEFAULT_HOTKEY, *, enabled: bool = True) -> None:
        super().__init__(window)
        self.window = window
        self.hotkey = QKeySequence(hotkey)
        self.enabled = enabled  # False: only the hotkey is watched (a lab session without kiosk mode)
        self.locked = enabled
        self._cursor_hidden = False
        self._cursor_timer = QTimer(self, singleShot=True, interval=CURSOR_IDLE_MS)
        self._cursor_timer.timeout.connect(self._hide_cursor)
        app = QGuiApplication.instance()
        assert app is not None
        app.installEventFilter(self)
        if enabled:
            self._cursor_timer.start()

    # -- state ------------------------------------------------------------------------------------
    def allows_close(self) -> bool:
        if self.locked:
            self.blocked.emit("close")
        return not self.locked

    def unlock(self) -> None:
        """The experimenter's PIN was accepted for exiting: the window may close now."""
        self.locked = False
        self.show_cursor()

    def remove(self) -> None:
        app = QGuiApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self._cursor_timer.stop()
        self.show_cursor()

    @property
    def cursor_hidden(self) -> bool:
        return self._cursor_hidden

    def _hide_cursor(self) -> None:
        if self.enabled and not self._cursor_hidden and QGuiApplication.modalWindow() is None:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.BlankCursor)
            self._cursor_hidden = True

    def show_cursor(self) -> None:
        if self._cursor_hidden:
            QGuiApplication.restoreOverrideCursor()
            self._cursor_hidden = False

    # -- the filter -------------------------------------------------------------------------------
    def _ours(self, obj: QObject) -> bool:
        return isinstance(obj, QWidget) and obj.window() is self.window

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        t = event.type()
        if t == QEvent.Type.MouseMove and self.enabled:
            self.show_cursor()
            self._cursor_timer.start()
            return False
        if t == QEvent.Type.KeyPress and self._ours(obj):
            assert isinstance(event, QKeyEvent)
            if _matches(event, self.hotkey):
                if not event.isAutoRepeat():
                    self.show_cursor()
                    self.operator_requested.emit()
                return True
            if not self.enabled:
                return False
            if event.modifiers() & _MODS or (event.key() not in ALLOWED_KEYS and event.text() != "?"):
                self.blocked.emit(f"key {QKeySequence(event.keyCombination()).toString() or event.key()}")
                return True
        if t == QEvent.Type.WindowStateChange and obj is self.window and self.enabled and self.locked:
            if not self.window.isFullScreen():
                QTimer.singleShot(0, self.window, self.window.showFullScreen)  # not after the window is gone
        return False
