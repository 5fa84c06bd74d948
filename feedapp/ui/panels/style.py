"""Colours, fonts and small painting helpers shared by the taste panel's widgets."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QWidget

from feedapp.ui import overlays

PANEL_BG = QColor(18, 18, 22)
CARD_BG = QColor(28, 28, 34)
GRID = QColor(60, 60, 70)
TEXT = overlays.TEXT
MUTED = QColor(176, 176, 186)  # 8.9:1 on CARD_BG, 9.9:1 on PANEL_BG (WCAG AA asks 4.5:1 for text)
ACCENT = overlays.ACCENT
ACCENT_TEXT = QColor(255, 110, 140)  # the accent, light enough for text on the cards (5.6:1)
GOOD = QColor(64, 200, 120)
BAD = QColor(235, 90, 90)

# distinct on a dark background; topic i of the catalog gets colour i (then they repeat)
_PALETTE = (
    QColor(66, 165, 245), QColor(239, 83, 80), QColor(255, 202, 40), QColor(102, 187, 106),
    QColor(171, 71, 188), QColor(38, 198, 218), QColor(255, 138, 101), QColor(236, 64, 122),
    QColor(156, 204, 101), QColor(141, 110, 99), QColor(120, 144, 156), QColor(255, 241, 118),
)


class TopicColours:
    """Topic -> colour, stable for a session: the n-th topic of the catalog gets the n-th colour."""

    def __init__(self) -> None:
        self._map: dict[str, QColor] = {}

    def sync(self, topics: list[str]) -> None:
        for t in topics:
            if t not in self._map:
                self._map[t] = _PALETTE[len(self._map) % len(_PALETTE)]

    def __call__(self, topic: str) -> QColor:
        c = self._map.get(topic)
        if c is None:
            c = self._map[topic] = _PALETTE[len(self._map) % len(_PALETTE)]
        return c


def luminance(c: QColor) -> float:
    """WCAG relative luminance of an opaque colour."""

    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21; AA asks 4.5 for text)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable(c: QColor, bg: QColor | None = None, ratio: float = 4.5) -> QColor:
    """``c``, lightened just enough to be read as text on ``bg`` (default: the cards' colour)."""
    bg = CARD_BG if bg is None else bg
    out = QColor(c)
    out.setAlpha(255)
    while contrast(out, bg) < ratio:
        out = QColor(min(255, out.red() + 8), min(255, out.green() + 8), min(255, out.blue() + 8))
    return out


_FONTS: dict[tuple[int, bool], QFont] = {}


def font(px: int, bold: bool = False) -> QFont:
    f = _FONTS.get((px, bold))
    if f is None:
        f = QFont()
        f.setPixelSize(px)
        f.setBold(bold)
        _FONTS[(px, bold)] = f
    return f


LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
CENTRE = int(Qt.AlignmentFlag.AlignCenter)
WRAP = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap)


class ScaledWidget(QWidget):
    """A panel part drawn in design units: ``set_ui_scale(s)`` makes it ``s`` times larger on screen.

    ``paint_rect(p)`` scales the painter and returns the widget's rectangle in design units, so a
    ``paintEvent`` lays out and draws exactly as at scale 1. Subclasses size themselves with
    ``px(design)`` in ``apply_scale`` (called after every change of scale).
    """

    ui_scale = 1.0

    def set_ui_scale(self, s: float) -> None:
        if abs(s - self.ui_scale) < 1e-3:
            return
        self.ui_scale = s
        self.apply_scale()
        self.update()

    def apply_scale(self) -> None:
        """Set fixed and minimum sizes from design units (``px``)."""

    def px(self, design: float) -> int:
        return max(1, round(design * self.ui_scale))

    def paint_rect(self, p: QPainter) -> QRectF:
        s = self.ui_scale
        p.scale(s, s)
        return QRectF(0, 0, self.width() / s, self.height() / s)


def card(p: QPainter, rect: QRectF, title: str = "", hint: str = "") -> QRectF:
    """A rounded card with a title (and a muted hint at the right); returns the content rectangle under it."""
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(CARD_BG)
    p.drawRoundedRect(rect, 8, 8)
    if not title:
        return rect.adjusted(10, 8, -10, -8)
    p.setFont(font(14, True))
    p.setPen(TEXT)
    title_w = p.fontMetrics().horizontalAdvance(title) + 2
    p.drawText(QRectF(rect.left() + 10, rect.top() + 6, title_w, 20), LEFT, title)
    if hint:
        p.setFont(font(12))
        p.setPen(MUTED)
        hint_w = rect.width() - 20 - title_w - 10
        p.drawText(QRectF(rect.right() - 10 - hint_w, rect.top() + 6, hint_w, 20), RIGHT, elide(p, hint, hint_w))
    return rect.adjusted(10, 30, -10, -8)


def elide(p: QPainter, text: str, width: float) -> str:
    return p.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, int(width))


def lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t
