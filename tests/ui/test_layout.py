"""The window's layout rule, zoom keys, and the panels' plain words (offscreen; the real X server
sizes are measured in tests/e2e/test_layout_xvfb.py)."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from feedapp.core.catalog import Catalog
from feedapp.core.endcard import SessionFigures, last_view_sentence
from feedapp.core.engine import FeedEngine
from feedapp.core.model import Clip, View
from feedapp.core.records import MemorySink
from feedapp.core.session import SessionRecorder
from feedapp.ui import overlays
from feedapp.ui.panels import install_panels, style
from feedapp.ui.panels.figures import FiguresStrip, tiles, watch_caption
from feedapp.ui.panels.why import FIRST_CLIP
from feedapp.ui.recording import SessionBridge
from feedapp.ui.window import MIN_PANEL_SCALE, REF_H, PlayerWindow, fit_panels
from tests.ui.helpers import spin

TASTE, DEV, FAME = 680, 380, 656  # the panels' design widths


# == the rule ====================================================================================
def test_a_small_laptop_shows_the_taste_panel_beside_an_upright_video():
    fit = fit_panels([TASTE], 691, 1.0, 1366, free=True, tallest=600)
    assert not fit.stacked and fit.scale == pytest.approx(691 / REF_H)
    assert fit.window_width == round(691 * 9 / 16) + fit.side_width <= 1366


@pytest.mark.parametrize("panels", [p for n in (2, 3) for p in itertools.permutations([TASTE, DEV, FAME], n)])
def test_panels_that_do_not_fit_side_by_side_share_one_column_within_the_screen(panels):
    fit = fit_panels(list(panels), 691, 1.0, 1366, free=True, tallest=600)
    assert fit.window_width <= 1366
    assert fit.window_width - fit.side_width >= 0.75 * 691 * 9 / 16 - 1 or fit.scale < 1  # the video keeps 3/4
    if sum(panels) > 1366 - 292:
        assert fit.stacked or fit.scale >= 0.85 * 691 / REF_H


def test_fullscreen_on_a_projector_scales_the_panels_and_gives_them_the_free_width():
    fit = fit_panels([TASTE], 1080, 1.0, 1920, free=False, tallest=600)
    assert fit.scale * 12 >= 20  # the smallest panel text (12 px at scale 1) is at least 20 px
    assert fit.side_width == 1920 - round(1080 * 9 / 16)  # no black gap: the video keeps its upright width
    assert fit_panels([TASTE], 1080, 0.8, 1920, free=False, tallest=600).scale < fit.scale  # Ctrl+- still works


def test_the_scale_never_makes_a_panel_taller_than_the_window():
    fit = fit_panels([TASTE], 2160, 3.0, 3840, free=False, tallest=640)
    assert fit.scale * 640 <= 2160


def test_below_a_readable_size_the_panels_give_the_window_to_the_player():
    # a 500x400 window: the taste panel at the height's scale would draw its text at about 5 px
    fit = fit_panels([TASTE], 400, 1.0, 500, free=False, tallest=618)
    assert fit.hidden and fit.side_width == 0 and fit.window_width == 500
    for h, w in ((691, 1366), (600, 1200), (500, 1000)):  # tall enough: shown, never below the floor
        fit = fit_panels([TASTE], h, 0.5, w, free=False, tallest=618)
        assert not fit.hidden and fit.scale >= MIN_PANEL_SCALE and fit.scale * 618 <= h
    assert fit_panels([TASTE], 691, 1.0, 600, free=False, tallest=618).hidden  # too narrow beside the player
    fit = fit_panels([TASTE, DEV], 560, 1.0, 900, free=True, tallest=618)
    assert fit.scale >= MIN_PANEL_SCALE and fit.side_width <= 900 - 180  # stacked at the floor rather than hidden


# == the window ==================================================================================
class _TallPanel(QLabel):
    def design_height(self) -> int:
        return 600


def test_a_very_small_window_shows_the_player_alone_and_the_panels_come_back(qtbot, feed):
    w = PlayerWindow(feed, muted=True)
    qtbot.addWidget(w)
    panel = _TallPanel("taste")
    panel.setMinimumWidth(500)
    w.add_panel("taste", panel, Qt.Key.Key_P, True)
    w.show()
    qtbot.waitExposed(w)
    try:
        w.resize(500, 400)
        spin(20)
        assert w.panels_hidden and not panel.isVisible() and w.panel_visible("taste")
        assert "too small for the panels" in w.view.toast_text
        assert w.view.width() == 500  # the player has the window
        w.resize(800, 700)
        spin(20)
        assert not w.panels_hidden and panel.isVisible() and w.ui_scale >= MIN_PANEL_SCALE
        assert panel.width() >= 500 * MIN_PANEL_SCALE
    finally:
        w.view.shutdown()


@pytest.fixture()
def win(qtbot, feed):
    w = PlayerWindow(feed, muted=True)
    qtbot.addWidget(w)
    w.resize(round(560 * 9 / 16), 560)
    for name, key, width in (("a", Qt.Key.Key_P, 300), ("b", Qt.Key.Key_D, 260), ("c", Qt.Key.Key_G, 280)):
        label = QLabel(name)
        label.setMinimumWidth(width)
        w.add_panel(name, label, key, False)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.view.shutdown()


def test_toggling_in_any_order_stays_on_screen_and_toggling_back_restores(qtbot, win):
    screen = win.screen().availableGeometry()
    keys = {"a": Qt.Key.Key_P, "b": Qt.Key.Key_D, "c": Qt.Key.Key_G}
    start = (win.geometry(), win.view.width())
    for order in itertools.permutations("abc"):
        for name in list(order) + list(reversed(order)):
            QTest.keyClick(win.view, keys[name])
            spin(20)
            assert screen.contains(win.frameGeometry()), (order, name, win.frameGeometry())
            assert win.width() <= screen.width()
            for p in win.panels.values():
                if p.isVisible():
                    assert win.rect().contains(p.geometry().translated(p.parentWidget().pos())), (order, name)
        assert (win.geometry(), win.view.width()) == start, order
    QTest.keyClick(win.view, Qt.Key.Key_P)
    QTest.keyClick(win.view, Qt.Key.Key_D)
    QTest.keyClick(win.view, Qt.Key.Key_G)
    if win.stacked:  # the newest is in front; a click on a tab brings another forward
        assert win.front_panel == "c" and win.panels["c"].isVisible() and not win.panels["a"].isVisible()
        win.bring_to_front("a")
        assert win.front_panel == "a" and win.panels["a"].isVisible() and not win.panels["c"].isVisible()
        assert win.panel_visible("c")  # still open, behind


def test_zoom_keys_change_the_scale_and_ctrl_0_brings_it_back(qtbot, win):
    QTest.keyClick(win.view, Qt.Key.Key_P)
    seen = []
    win.zoom_changed.connect(seen.append)
    s0, w0, h0 = win.ui_scale, win.panels["a"].width(), win.height()
    QTest.keyClick(win.view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert win.zoom < 1 and win.ui_scale < s0 and win.panels["a"].width() < w0
    assert win.height() < h0  # the whole window, video and panels, gets smaller
    QTest.keyClick(win.view, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(win.view, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert win.zoom > 1 and win.height() > h0
    assert win.screen().availableGeometry().contains(win.frameGeometry())
    QTest.keyClick(win.view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert win.zoom == 1.0 and win.ui_scale == pytest.approx(s0) and win.panels["a"].width() == w0
    assert win.height() == h0
    assert len(seen) == 4 and seen[-1] == 1.0
    for _ in range(30):
        win.set_zoom(win.zoom * 2)
    assert win.zoom == 3.0  # clamped


# == plain words =================================================================================
def _clip(cid: str, seconds: float, topic: str) -> Clip:
    return Clip(id=cid, path=f"/x/{cid}.mp4", duration_ms=int(seconds * 1000), fps=30.0, width=540, height=960,
                topics=(topic,), creator="kai", title=cid)


def test_a_short_watch_of_a_long_clip_is_explained():
    ocean = _clip("o", 28, "ocean")
    text = last_view_sentence(View("o", 8000, 8000), ocean, -0.6, {"ocean": 0.77}, {"ocean": 0.35})
    assert text == ("You watched 8.0 s of a 28 s #ocean clip: less than usual for its length (about 13 s), "
                    "so #ocean went down (0.77 \u2192 0.35).")
    up = last_view_sentence(View("o", 25000, 25000), ocean, 0.7, {"ocean": 0.2}, {"ocean": 0.4})
    assert up.endswith("more than usual for its length (about 13 s), so #ocean went up (0.20 \u2192 0.40).")
    # a usual watch can still lower a topic liked even more so far: said as it is
    mixed = last_view_sentence(View("o", 14000, 14000), ocean, 0.1, {"ocean": 0.77}, {"ocean": 0.6})
    assert "but less than your earlier #ocean views, so #ocean went down (0.77 \u2192 0.60)" in mixed
    skip = last_view_sentence(View("o", 900, 900, skipped=True), _clip("e", 8, "ocean"), -1.2, {}, {"ocean": -0.6})
    assert skip == "You skipped an 8.0 s #ocean clip after 0.9 s: a quick skip counts against it, so #ocean went down (0.00 \u2192 -0.60)."
    assert last_view_sentence(View("o", 13000, 13000), ocean, 0.05, {"ocean": 0.5}, {"ocean": 0.52}) is None  # hardly moved


def test_figures_are_named_watch_as_times_the_clip():
    f = SessionFigures(views=4, skips=1, mean_watch_ratio=1.2, watch_s=30, dwell_s=35, creators_seen=3,
                       creators_discovered=2)
    assert ("1.2\u00d7", "watch") in tiles(f, 65) and ("1:05", "time") in tiles(f, 65)
    assert watch_caption(f) == "watch: 1.2\u00d7 the clip on average (loops count)"


def test_the_session_clock_ticks_without_a_view(qtbot):
    t = {"s": 10.0}
    strip = FiguresStrip(clock=lambda: t["s"])
    qtbot.addWidget(strip)
    strip.set_figures(SessionFigures(0, 0, float("nan"), 0, 0, 0, 0), 10.0)
    strip.show()
    qtbot.waitExposed(strip)
    t["s"] = 12.0
    qtbot.waitUntil(lambda: strip.elapsed_s == 12.0, timeout=2500)  # within a second, no view needed
    strip.hide()
    assert not strip._timer.isActive()  # no ticking while hidden


def test_text_colours_meet_wcag_aa_on_the_cards():
    for c in (style.TEXT, style.MUTED, style.ACCENT_TEXT, style.GOOD, style.BAD):
        assert style.contrast(c, style.CARD_BG) >= 4.5, c.name()
        assert style.contrast(c, style.PANEL_BG) >= 4.5, c.name()
    for c in style._PALETTE:  # topic colours used as text go through readable()
        assert style.contrast(style.readable(c), style.CARD_BG) >= 4.5
    assert style.contrast(overlays.KEY_TEXT, overlays.BACKGROUND) >= 4.5


def test_toasts_sit_below_the_title_band():
    assert overlays.message_top(854) >= 854 * 0.2  # the demo clips' own title is in the top fifth


def test_the_key_help_fits_a_narrow_player():
    from PySide6.QtGui import QFontMetricsF

    for width in (200, 292, 389, 607):
        size, kw, aw = overlays.help_layout(width, 691)
        assert kw + aw + size * 1.2 <= width - 16
        fm_k, fm_a = QFontMetricsF(overlays._font(size, True)), QFontMetricsF(overlays._font(size))
        assert all(fm_k.horizontalAdvance(k) <= kw and fm_a.horizontalAdvance(a) <= aw for k, a in overlays.SHORTCUTS)


# == the first launch ============================================================================
def test_the_first_clip_is_the_first_clip_and_growth_does_not_reorder_up_next(qtbot, ui_clips):
    catalog = Catalog(ui_clips[:2])
    engine = FeedEngine(catalog, "foryou", seed=3)
    window = PlayerWindow(engine, muted=True)
    qtbot.addWidget(window)
    rec = SessionRecorder(MemorySink(), app_version="t", mode="demo", ranker="foryou")
    bridge = SessionBridge(window.view, engine, rec)
    dock = install_panels(window, engine, rec, visible=True)
    window.show()
    qtbot.waitExposed(window)
    arrivals = []
    window.view.arrived.connect(arrivals.append)
    window.view.start()
    qtbot.waitUntil(lambda: bool(arrivals) and dock.refresh_count >= 1 and not dock._scheduled, timeout=5000)
    why = dock.panel.why
    assert why.first and why.headline() == "Your first clip" and why.score_line() == ""
    current = engine.current.id
    assert current not in dock.panel.upnext.ids()  # the clip on screen is not "up next"
    for clip in ui_clips[2:]:  # demo clips keep arriving before the first view
        before, moves = dock.panel.upnext.ids(), dock.panel.upnext.moves()
        n = dock.refresh_count
        catalog.add([clip])
        qtbot.waitUntil(lambda: dock.refresh_count > n, timeout=2000)
        after = dock.panel.upnext.ids()
        assert after[: len(before)] == before  # the rows shown keep their places ...
        assert clip.id in after[len(before):]  # ... and the new clip joins at the bottom
        assert dock.panel.upnext.moves() == moves  # no arrows: nothing moved because of the viewer
        assert dock.panel.upnext._t == 1.0  # and no sliding rows
    assert FIRST_CLIP.startswith("Your first clip")
    bridge.end("quit")
    window.view.shutdown()
