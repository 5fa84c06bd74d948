"""Colours, fonts and small painting helpers shared by the taste panel's widgets."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter

from feedapp.ui import overlays

PANEL_BG = QColor(18, 18, 22)
CARD_BG = QColor(28, 28, 34)
GRID = QColor(60, 60, 70)
TEXT = overlays.TEXT
MUTED = QColor(150, 150, 160)
ACCENT = overlays.ACCENT
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


def card(p: QPainter, rect: QRectF, title: str = "", hint: str = "") -> QRectF:
    """A rounded card with a title; returns the content rectangle under the title."""
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(CARD_BG)
    p.drawRoundedRect(rect, 8, 8)
    if not title:
        return rect.adjusted(10, 8, -10, -8)
    p.setFont(font(13, True))
    p.setPen(TEXT)
    p.drawText(QRectF(rect.left() + 10, rect.top() + 6, rect.width() - 20, 18), LEFT, title)
    if hint:
        p.setFont(font(11))
        p.setPen(MUTED)
        p.drawText(QRectF(rect.left() + 10, rect.top() + 6, rect.width() - 20, 18), RIGHT, hint)
    return rect.adjusted(10, 28, -10, -8)


def elide(p: QPainter, text: str, width: float) -> str:
    return p.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, int(width))


def lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t
