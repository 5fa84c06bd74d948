"""The top-level window: a dark, portrait-shaped frame around the swipe view, with fullscreen on F,
zoom on Ctrl+= / Ctrl+- / Ctrl+0, and a side area where panels dock beside the player (``add_panel``).

Layout (``_relayout``, one pure rule, so toggling panels back restores the layout exactly):

- **Scale.** Panels are designed at scale 1 for a window ``REF_H`` px tall. Their scale is
  ``zoom x max(1, height / REF_H)``: a fullscreen 1920x1080 window shows them 1.7 times larger, so
  the text grows with the screen (a projector) instead of staying at its pixel size beside black
  bars. A panel that can (``set_ui_scale(s)``) draws and sizes itself at that scale; its width is
  its design width times the scale. The scale never exceeds what lets the tallest panel fit.
- **Fit.** The video keeps its 9:16 width at the window's height. A shown panel makes the window
  wider by its width, up to the screen's available width and never past its right edge (the window
  moves left if it must, and back when it shrinks). When the panels do not fit beside the video at
  85 % of their scale or more (at most a quarter of the video's width may go), they share one
  column instead: a tab strip at the top says which are open and the newest is in front. Maximised
  or fullscreen, the panels take the width the video does not need.
- **Floor.** The panels are never drawn below ``MIN_PANEL_SCALE`` (0.8: their smallest text about
  8 px, most of it 10 px or more), whatever the zoom asks. A window too short or too narrow for them at
  that size (the taste panel needs about 500 px of height) shows the player alone, with a note; the
  panels stay open and come back when the window grows (``panels_hidden``).
- ``ui_scale``, ``stacked``, ``panels_hidden`` and ``front_panel`` say what the rule decided (tests read them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QGuiApplication, QKeyEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLayout, QPushButton, QVBoxLayout, QWidget

from feedapp.core.feed import Feed
from feedapp.ui import overlays
from feedapp.ui.swipe import SwipeView

DEFAULT_SIZE = (480, 854)  # 9:16, like a phone held upright
REF_H = 640  # a window this tall shows the panels at their design size (scale 1)
ZOOM_RANGE = (0.5, 3.0)
ZOOM_STEP = 1.15
SHRINK_BEFORE_STACKING = 0.85  # panels side by side may shrink to this share of their scale, then they stack
VIDEO_KEEPS = 0.75  # share of its 9:16 width the video keeps when panels need room
TAB_H = 34  # the stacked panels' tab strip, design units
MIN_PANEL_SCALE = 0.8  # below this the panels' text is too small to read: the player is shown alone
MIN_VIDEO_W = 180  # the player's narrowest column (SwipeView's minimum width)
TOO_SMALL = "The window is too small for the panels: make it larger to see them again."

# Keys the swipe view handles itself: a panel or a window action cannot take them.
VIEW_KEYS: frozenset[int] = frozenset(
    int(k)
    for k in (
        Qt.Key.Key_Down, Qt.Key.Key_J, Qt.Key.Key_Up, Qt.Key.Key_K, Qt.Key.Key_Space, Qt.Key.Key_M,
        Qt.Key.Key_F, Qt.Key.Key_Question, Qt.Key.Key_Q, Qt.Key.Key_Escape,
    )
)

_TAB_CSS = """
QPushButton { background: #1c1c22; color: #c8c8d0; border: none; border-bottom: 3px solid #1c1c22;
              padding: %(pad)dpx %(padx)dpx; font-size: %(px)dpx; }
QPushButton:checked { color: #ffffff; border-bottom: 3px solid #fe2c55; background: #26262e; }
"""


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


@dataclass(frozen=True)
class Fit:
    """What the layout rule decided for one window size: scale, stacking, and the widths."""

    scale: float
    stacked: bool
    side_width: int  # the panels' column(s), 0 when none is shown
    window_width: int  # for a free window: what it should be; else its current width
    hidden: bool = False  # panels are open but the window is too small for them at MIN_PANEL_SCALE


def fit_panels(design_widths: list[int], height: int, zoom: float, max_width: int, *, free: bool,
               tallest: int = 0, tab_height: int = TAB_H) -> Fit:
    """The layout rule (pure, so it is tested without a window).

    ``design_widths``: the shown panels' widths at scale 1; ``height``: the window's height;
    ``max_width``: the screen's available width for a free window, else the window's width;
    ``free``: the window may change its width (not maximised, fullscreen or embedded);
    ``tallest``: the largest design height a shown panel needs (caps the scale so it fits);
    ``tab_height``: the tab strip's design height, added when the panels are stacked.

    The scale is at least ``MIN_PANEL_SCALE``; when the panels do not fit at that scale (beside a
    player of ``MIN_VIDEO_W``, within the height), they are hidden (``Fit.hidden``) and the player
    has the window.
    """
    fit = _fit_panels(design_widths, height, zoom, max_width, free=free, tallest=tallest, tab_height=tab_height)
    if not design_widths or fit.scale >= MIN_PANEL_SCALE:
        return fit
    s = MIN_PANEL_SCALE
    video = max(MIN_VIDEO_W, round(height * 9 / 16))
    for stacked in (False, True) if len(design_widths) > 1 else (False,):
        side = round((max(design_widths) if stacked else sum(design_widths)) * s)
        need_h = (tallest + (tab_height if stacked else 0)) * s if tallest else 0
        if need_h <= height and side + MIN_VIDEO_W <= max_width:
            if free:
                return Fit(s, stacked, side, min(max_width, video + side))
            return Fit(s, stacked, max(side, max_width - video), max_width)
    return Fit(s, False, 0, video if free else max_width, hidden=True)


def _fit_panels(design_widths: list[int], height: int, zoom: float, max_width: int, *, free: bool,
                tallest: int, tab_height: int) -> Fit:
    """``fit_panels`` without the floor: the scale the zoom and the window ask for."""
    video = max(180, round(height * 9 / 16))
    s = zoom * max(1.0, height / REF_H)
    if tallest:
        s = min(s, max(0.5, height / tallest))
    s = max(ZOOM_RANGE[0] * 0.5, s)
    if not design_widths:
        return Fit(s, False, 0, video if free else max_width)
    room = max_width - max(180, round(video * VIDEO_KEEPS))
    total, widest = sum(design_widths), max(design_widths)
    stacked = False
    if total * s > room:
        if len(design_widths) > 1 and total * s * SHRINK_BEFORE_STACKING > room:
            stacked = True
            if tallest:
                s = min(s, max(0.5, height / (tallest + tab_height)))
        one = widest if stacked else total
        # shrink the panels to the room; below 85 % of their scale the video gives up more (down to 180 px)
        s = min(s, max(room / one, min(s * SHRINK_BEFORE_STACKING, (max_width - 180) / one)))
        s = max(0.4, s)
    side = round((widest if stacked else total) * s)
    if free:
        return Fit(s, stacked, side, min(max_width, video + side))
    return Fit(s, stacked, max(side, max_width - video), max_width)


@dataclass
class _Panel:
    name: str
    widget: QWidget
    key: int
    width: int  # design width (scale 1)
    title: str
    tab: QPushButton


class PlayerWindow(QWidget):
    panel_toggled = Signal(str, bool)  # (name, visible) after a panel was shown or hidden
    zoom_changed = Signal(float)  # the viewer's zoom after Ctrl+= / Ctrl+- / Ctrl+0 or set_zoom

    def __init__(self, feed: Feed, *, muted: bool = False, preload: bool = True, zoom: float = 1.0) -> None:
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
        # the layout rule sizes the window; the panels' minimum sizes must never make it grow (off the screen)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.addWidget(self.view, 1)
        self._side = QWidget(self)
        side_box = QVBoxLayout(self._side)
        side_box.setContentsMargins(0, 0, 0, 0)
        side_box.setSpacing(0)
        self._tabs = QWidget(self._side)
        self._tabs_layout = QHBoxLayout(self._tabs)
        self._tabs_layout.setContentsMargins(0, 0, 0, 0)
        self._tabs_layout.setSpacing(0)
        self._tabs.hide()
        side_box.addWidget(self._tabs)
        self._side_layout = QHBoxLayout()
        self._side_layout.setContentsMargins(0, 0, 0, 0)
        self._side_layout.setSpacing(0)
        side_box.addLayout(self._side_layout, 1)
        self._side.hide()
        layout.addWidget(self._side, 0)
        self._panels: dict[str, _Panel] = {}
        self._on: list[str] = []  # panels toggled on, oldest first; the last one is in front when stacked
        self._keys: dict[int, tuple[str, Callable[[], None]]] = {}
        self.zoom = min(max(float(zoom), ZOOM_RANGE[0]), ZOOM_RANGE[1])
        self.ui_scale = 1.0
        self.stacked = False
        self.panels_hidden = False  # open panels do not fit the window at a readable size (see fit_panels)
        self._anchor_x: int | None = None  # where the window was before it moved left to fit
        self._fullscreen = False
        self._shown = False
        self._unzoomed_h: float | None = None
        self._laying_out = False
        self.view.fullscreen_requested.connect(self.toggle_fullscreen)
        self.view.escape_pressed.connect(self.leave_fullscreen)
        self.view.quit_requested.connect(self.close)
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        w, h = portrait_size(avail.width() if avail else 0, avail.height() if avail else 0)
        if self.zoom != 1.0 and avail is not None:  # a zoomed window starts larger (or smaller) as a whole
            h = max(320, min(round(h * self.zoom), int(avail.height() * 0.9)))
            w = round(h * 9 / 16)
        self.setMinimumSize(MIN_VIDEO_W, 320)  # the player alone (the panels hide below their own size)
        self.resize(w, h)
        self.view.setFocus()

    # == panels ==================================================================================
    def add_panel(self, name: str, widget: QWidget, key: Qt.Key, visible: bool, title: str | None = None) -> None:
        """Dock ``widget`` beside the player as the panel ``name``, toggled by ``key``; shown now if ``visible``.

        - Panels sit to the right of the player, side by side in the order they were added, at the
          full height of the window (or stacked with a tab strip when they do not fit: see the
          module's docstring). A panel's design width is the widget's ``minimumWidth()`` or, if
          larger, its ``sizeHint().width()`` when it is added; on screen it is that times the
          window's ``ui_scale``. A widget with ``set_ui_scale(s)`` is told the scale and sizes its
          text and parts to it (``design_height()``, if it has one, caps the scale so it fits).
        - Showing a panel makes the window wider by its width and hiding it makes it narrower again,
          within the screen; maximised or fullscreen the panels take the width the video does not need.
        - ``key`` (a ``Qt.Key``) toggles the panel from anywhere in the window. It must not be one of
          the player's keys (Down/J, Up/K, Space, M, F, ?, Q, Esc) or a key already taken by another
          panel or window action: that raises ``ValueError``, as does a ``name`` used twice.
        - ``title`` names it on the tab strip (default: ``name``).
        - ``panel_toggled(name, visible)`` is emitted after every change. A panel widget should keep
          ``Qt.NoFocus`` on its buttons so the player keeps the keyboard.

        Example: ``window.add_panel("dev", DevPanel(engine), Qt.Key.Key_D, visible=False)``.
        """
        if name in self._panels:
            raise ValueError(f"there is already a panel called {name!r}")
        k = self._check_key(key, f"panel {name!r}")
        width = max(widget.minimumWidth(), widget.sizeHint().width(), 120)
        widget.setParent(self._side)
        widget.setMinimumWidth(0)
        widget.setVisible(False)
        self._side_layout.addWidget(widget)
        label = title or name
        tab = QPushButton(f"{label} ({Qt.Key(k).name.removeprefix('Key_')})", self._tabs)
        tab.setCheckable(True)
        tab.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        tab.setCursor(Qt.CursorShape.PointingHandCursor)
        tab.clicked.connect(lambda _=False, n=name: self.bring_to_front(n))
        tab.hide()
        self._tabs_layout.addWidget(tab)
        self._panels[name] = _Panel(name, widget, k, width, label, tab)
        self._keys[k] = (f"show or hide the {label}", lambda: self.toggle_panel(name))
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

    @property
    def front_panel(self) -> str | None:
        """The panel shown in front when they are stacked (the newest one opened), else None."""
        return self._on[-1] if self._on else None

    def panel_visible(self, name: str) -> bool:
        """The panel is open (toggled on); when stacked it may be behind the one in front."""
        self._panels[name]  # KeyError for an unknown name
        return name in self._on

    def toggle_panel(self, name: str) -> None:
        self.set_panel_visible(name, not self.panel_visible(name))

    def set_panel_visible(self, name: str, visible: bool) -> None:
        if self.panel_visible(name) == visible:
            return
        if visible:
            self._on.append(name)
        else:
            self._on.remove(name)
        was_hidden = self.panels_hidden
        self._relayout(resize_window=True)
        if visible and was_hidden and self.panels_hidden:  # opened another one: say again why none shows
            self.view.show_toast(TOO_SMALL, ms=5000)
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)
        self.panel_toggled.emit(name, visible)

    def bring_to_front(self, name: str) -> None:
        """Stacked panels: show ``name`` (open) in front (a click on its tab)."""
        if name in self._on and self._on[-1] != name:
            self._on.remove(name)
            self._on.append(name)
            self._relayout(resize_window=False)
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    # == zoom ====================================================================================
    def set_zoom(self, zoom: float) -> None:
        """The viewer's zoom (0.5 to 3): multiplies the panels' scale; a window that is not fullscreen or
        maximised grows or shrinks with it as a whole (video and panels), within the screen."""
        zoom = round(min(max(float(zoom), ZOOM_RANGE[0]), ZOOM_RANGE[1]), 3)
        if zoom == self.zoom:
            return
        old, self.zoom = self.zoom, zoom
        screen = self.screen()
        if self._free() and screen is not None:
            frame_h = self.frameGeometry().height() - self.height()
            room = screen.availableGeometry().height() - frame_h
            base = getattr(self, "_unzoomed_h", None) or self.height() / old
            h = max(320, min(round(base * zoom), room))
            self._unzoomed_h = base  # so Ctrl+0 comes back to the same height after hitting the screen's edge
            if h != self.height():
                self._laying_out = True  # one layout below, for the new height
                try:
                    self.resize(self.width(), h)
                finally:
                    self._laying_out = False
                top = screen.availableGeometry().top()
                if self.y() + h + frame_h > screen.availableGeometry().bottom() + 1:
                    self.move(self.x(), max(top, screen.availableGeometry().bottom() + 1 - h - frame_h))
        self._relayout(resize_window=True)
        self.zoom_changed.emit(zoom)

    def _zoom_key(self, event: QKeyEvent) -> bool:
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            return False
        key = event.key()
        if key in (Qt.Key.Key_Equal, Qt.Key.Key_Plus):
            self.set_zoom(self.zoom * ZOOM_STEP)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.set_zoom(self.zoom / ZOOM_STEP)
        elif key == Qt.Key.Key_0:
            self.set_zoom(1.0)
        else:
            return False
        return True

    # == layout ==================================================================================
    def _free(self) -> bool:
        return self.isWindow() and not (self.fullscreen or self.isMaximized())

    def _relayout(self, *, resize_window: bool) -> None:
        """Apply ``fit_panels`` to the open panels: scale, widths, stacking, and (free window) its width."""
        if self._laying_out:
            return
        self._laying_out = True
        try:
            on = [self._panels[n] for n in self._on]
            free = self._free() and resize_window
            screen = self.screen()
            avail = screen.availableGeometry() if screen is not None else None
            frame_w = self.frameGeometry().width() - self.width()  # the window manager's borders
            max_w = avail.width() - frame_w if (free and avail is not None) else self.width()
            tallest = max((int(p.widget.design_height()) for p in on if hasattr(p.widget, "design_height")), default=0)
            fit = fit_panels([p.width for p in on], self.height(), self.zoom, max_w, free=free, tallest=tallest)
            self.ui_scale, self.stacked = fit.scale, fit.stacked
            if fit.hidden and not self.panels_hidden:
                self.view.show_toast(TOO_SMALL, ms=5000)
            self.panels_hidden = fit.hidden
            shown = [] if fit.hidden else [on[-1]] if fit.stacked else on
            total = sum(p.width for p in shown) or 1
            for p in self._panels.values():
                show = p in shown
                if hasattr(p.widget, "set_ui_scale"):
                    p.widget.set_ui_scale(fit.scale)
                if show:
                    p.widget.setFixedWidth(max(1, round(fit.side_width * p.width / total)))
                p.widget.setVisible(show)
                p.tab.setVisible(fit.stacked and p in on)
                p.tab.setChecked(bool(on) and p is on[-1])
            if fit.stacked:
                px = max(11, round(13 * fit.scale))
                self._tabs.setStyleSheet(_TAB_CSS % {"px": px, "pad": round(px * 0.45), "padx": round(px * 0.6)})
            self._tabs.setVisible(fit.stacked)
            self._side.setVisible(bool(shown))
            self.layout().activate()
            if free and fit.window_width != self.width():
                self._fit_on_screen(fit.window_width, avail)
        finally:
            self._laying_out = False

    def _fit_on_screen(self, width: int, avail) -> None:  # noqa: ANN001 - QRect or None
        """Resize to ``width`` keeping the whole window on the screen: move left to fit, back when it shrinks."""
        x = self.x()  # the frame's left edge
        frame_w = self.frameGeometry().width() - self.width()
        if avail is not None:
            if self._anchor_x is not None:
                x = self._anchor_x
            if x + width + frame_w > avail.right() + 1:
                if self._anchor_x is None:
                    self._anchor_x = self.x()
                x = max(avail.left(), avail.right() + 1 - width - frame_w)
            elif self._anchor_x is not None:
                self._anchor_x = None
        self.setMinimumWidth(MIN_VIDEO_W)
        self.resize(width, self.height())
        if x != self.x():
            self.move(x, self.y())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self._laying_out:
            self._unzoomed_h = None  # resized by hand: the next zoom starts from this size
        if self.panels_hidden and self._free() and event.oldSize().height() < event.size().height():
            self._relayout(resize_window=True)  # taller: the panels hidden for lack of room may fit again
        elif event.oldSize().height() != event.size().height() or not self._free():
            self._relayout(resize_window=False)

    # == fullscreen ==============================================================================
    @property
    def fullscreen(self) -> bool:
        """Fullscreen as asked for with F: without a window manager (a bare X server, a kiosk) Qt's
        ``isFullScreen()`` stays False while the window covers the screen, so the window keeps its own flag."""
        return self._fullscreen or self.isFullScreen()

    def toggle_fullscreen(self) -> None:
        if self.fullscreen:
            self.leave_fullscreen()
        else:
            self._normal_geometry = self.geometry()
            self._fullscreen = True
            self.showFullScreen()
            self.view.restart_cursor_idle()
            QTimer.singleShot(250, self._cover_screen_without_wm)

    def _cover_screen_without_wm(self) -> None:
        """With no window manager (a bare X server, a kiosk) nobody honours the fullscreen request:
        cover the screen ourselves."""
        screen = self.screen()
        if self._fullscreen and screen is not None and self.geometry() != screen.geometry():
            self.setGeometry(screen.geometry())

    def leave_fullscreen(self) -> None:
        if self.fullscreen:
            self._fullscreen = False
            self.showNormal()
            saved = getattr(self, "_normal_geometry", None)
            if saved is not None and self.screen() is not None and self.geometry() == self.screen().geometry():
                self.setGeometry(saved)
            self.view.setCursor(Qt.CursorShape.PointingHandCursor)
            self._relayout(resize_window=True)  # panels opened or closed in fullscreen: refit the window

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
        if self._zoom_key(event):
            event.accept()
            return
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
        if not self._shown:  # the window manager's frame is known now: fit the panels to the screen again
            self._shown = True
            if self._on:
                self._relayout(resize_window=True)
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)
