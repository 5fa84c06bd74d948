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

from feedapp.ranges import shown

CURSOR_IDLE_MS = 2500
DEFAULT_HOTKEY = "Ctrl+Shift+O"
#: keys the participant may use in kiosk mode (everything else without a modifier is swallowed too)
ALLOWED_KEYS = frozenset(k.value for k in (
    Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_J, Qt.Key.Key_K, Qt.Key.Key_Space, Qt.Key.Key_M,
    Qt.Key.Key_Question, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab,
))
_MODS = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier)


_MODIFIER_KEYS = frozenset(k.value for k in (
    Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta, Qt.Key.Key_AltGr, Qt.Key.Key_CapsLock,
    Qt.Key.Key_Super_L, Qt.Key.Key_Super_R, Qt.Key.Key_Hyper_L, Qt.Key.Key_Hyper_R,
))


def hotkey_problem(text: str) -> str | None:
    """Why ``text`` cannot be the experimenter's hotkey, or None.

    The hotkey is the only way out of kiosk mode, so it must be something the guard can match and the
    participant never presses: exactly one key, known to Qt (``Ctrl+Bogus`` parses to nothing), not a
    modifier on its own, held with Ctrl, Alt or Meta (kiosk mode swallows all of those for the
    participant, and none of the participant's keys uses them), and not one the desktop takes first
    (``DESKTOP_KEYS``: ``Alt+F4``, ``Ctrl+Alt+Delete``, ``Meta+L``, ``Ctrl+Alt+F1`` ...).
    """
    seq = QKeySequence.fromString(text.strip(), QKeySequence.SequenceFormat.PortableText)
    example = "e.g. --hotkey Ctrl+Shift+O"
    if seq.isEmpty() or seq.count() != 1:
        what = "no key" if seq.isEmpty() else f"{seq.count()} keys in a row"
        return f"--hotkey {shown(text)} is {what}; give one key combination, {example}"
    combo = seq[0]
    if combo.key() == Qt.Key.Key_unknown or not seq.toString():
        return f"--hotkey {shown(text)} names a key Qt does not know; use names like Ctrl, Shift, Alt, Meta, O, F9 ({example})"
    if combo.key().value in _MODIFIER_KEYS:
        return f"--hotkey {shown(text)} has no key besides the modifiers; add one, {example}"
    if not combo.keyboardModifiers() & _MODS:
        return (f"--hotkey {shown(text)} can be pressed by a participant; hold it with Ctrl, Alt or Meta, {example}")
    taken = _desktop_keys().get((combo.key().value, combo.keyboardModifiers().value))
    if taken:
        return (f"--hotkey {shown(text)} is usually taken by the desktop ({taken}) before feedapp sees it, so the "
                f"experimenter could not get out; choose another, {example}")
    return None


# Combinations the desktop or the X server usually acts on before any window sees them: as the hotkey,
# the experimenter would press it and get the desktop's action (or nothing), never the menu.
DESKTOP_KEYS: dict[str, str] = {
    "Alt+F4": "it closes the window",
    "Alt+Tab": "it switches windows",
    "Alt+Shift+Tab": "it switches windows",
    "Meta+Tab": "it switches windows",
    "Meta+L": "it locks the screen",
    "Ctrl+Alt+L": "it locks the screen",
    "Meta+D": "it shows the desktop",
    "Alt+F2": "it opens the run dialog",
    "Ctrl+Alt+Del": "it opens the log-out or task manager dialog",
    "Ctrl+Alt+Backspace": "it may stop the X server",
    **{f"Ctrl+Alt+F{n}": "it switches to another virtual terminal" for n in range(1, 13)},
}
_DESKTOP_KEYS: dict[tuple[int, int], str] = {}


def _desktop_keys() -> dict[tuple[int, int], str]:
    if not _DESKTOP_KEYS:
        for text, what in DESKTOP_KEYS.items():
            c = QKeySequence.fromString(text, QKeySequence.SequenceFormat.PortableText)[0]
            _DESKTOP_KEYS[(c.key().value, c.keyboardModifiers().value)] = what
    return _DESKTOP_KEYS


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
