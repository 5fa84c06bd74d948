"""Toasts and the status line ("Making demo clips 53/288") keep off the clip's own title band, also
when the player is narrower than the clip's shape (1366x768 with the developer panel open: the
picture is letterboxed and its title band lies lower than the window's top fifth)."""

from __future__ import annotations

import pytest

from feedapp.ui import overlays
from tests.ui.helpers import spin


@pytest.mark.parametrize("size", [(292, 691), (200, 691), (270, 480)])
def test_the_status_line_sits_below_the_pictures_title_band(qtbot, window, size, monkeypatch):
    with qtbot.waitSignal(window.view.arrived, timeout=5000):
        window.view.start()
    window.resize(*size)
    spin(50)
    view = window.view
    view.set_status("Making demo clips 53/288")
    drawn = {}  # where the paint puts each message box (its ``top``), not only what message_top() says
    pill = overlays.pill

    def spy(p, rect, text, **kw):  # noqa: ANN001, ANN202
        drawn[text] = kw["top"]
        return pill(p, rect, text, **kw)

    monkeypatch.setattr(overlays, "pill", spy)
    view.grab()  # paints
    top = drawn["Making demo clips 53/288"]
    assert top == view.message_top()
    clip = view.current_clip
    w, h = view.width(), view.height()
    picture_h = min(h, w * clip.height / clip.width)
    picture_top = (h - picture_h) / 2
    assert top >= picture_top + 0.2 * picture_h  # below the title band of the picture
    assert top >= overlays.message_top(h)  # and never higher than before
    assert top <= picture_top + overlays.message_top(picture_h) + 1  # not lower than needed
