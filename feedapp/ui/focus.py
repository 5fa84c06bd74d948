"""When did the window really lose focus? Qt's xcb backend reports it 100 ms late.

On X11, Qt defers "the application became inactive" by 100 ms after the X server's FocusOut, in
case focus comes straight back to another window of the same app. Logged with the time Qt reports
it, every unfocused period would start 100 ms late. This native event filter stamps the X server's
FocusOut/FocusIn events with ``time.monotonic_ns()`` as they arrive, so the player can use the time
of the input itself. On other platforms it never fires and the Qt-reported time is used.
"""

from __future__ import annotations

import ctypes
import time

from PySide6.QtCore import QAbstractNativeEventFilter

XCB_FOCUS_IN = 9
XCB_FOCUS_OUT = 10
MAX_DEFERRAL_NS = 400_000_000  # a native stamp older than this is not the cause of Qt's report


class FocusClock(QAbstractNativeEventFilter):
    def __init__(self) -> None:
        super().__init__()
        self.last_out_ns: int | None = None
        self.last_in_ns: int | None = None

    def nativeEventFilter(self, event_type, message):  # noqa: ANN001, N802 - Qt's signature
        if event_type == b"xcb_generic_event_t" or event_type == "xcb_generic_event_t":
            try:
                kind = ctypes.c_uint8.from_address(int(message)).value & 0x7F
            except (TypeError, ValueError):
                return False, 0
            if kind == XCB_FOCUS_OUT:
                self.last_out_ns = time.monotonic_ns()
            elif kind == XCB_FOCUS_IN:
                self.last_in_ns = time.monotonic_ns()
        return False, 0

    def stamp(self, focused: bool, reported_ns: int) -> int:
        """The time to log for a focus change Qt reported at ``reported_ns``."""
        native = self.last_in_ns if focused else self.last_out_ns
        if native is not None and 0 <= reported_ns - native <= MAX_DEFERRAL_NS:
            return native
        return reported_ns


_installed: FocusClock | None = None


def focus_clock(app) -> FocusClock:  # noqa: ANN001 - QGuiApplication
    """The one FocusClock of this process, installed on ``app`` once (it must outlive every widget)."""
    global _installed
    if _installed is None:
        _installed = FocusClock()
        app.installNativeEventFilter(_installed)
    return _installed
