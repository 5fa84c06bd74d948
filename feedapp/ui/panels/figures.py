"""Session figures (views, skips, mean watch ratio, time, creators discovered) as a strip of tiles."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from feedapp.core.endcard import SessionFigures, clock_text
from feedapp.ui.panels import style


def tiles(f: SessionFigures, elapsed_s: float) -> list[tuple[str, str]]:
    """(value, caption) pairs shown for the figures; the same words on the panel and the end card."""
    ratio = "\u2013" if math.isnan(f.mean_watch_ratio) else f"{f.mean_watch_ratio:.0%}"
    return [
        (str(f.views), "views"),
        (str(f.skips), "skips"),
        (ratio, "watched"),
        (clock_text(elapsed_s), "time"),
        (str(f.creators_discovered), "creators"),
    ]


class FiguresStrip(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figures: SessionFigures | None = None
        self.elapsed_s = 0.0
        self.following: tuple[str, ...] = ()
        self.setFixedHeight(78)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_figures(self, figures: SessionFigures, elapsed_s: float) -> None:
        self.figures, self.elapsed_s = figures, elapsed_s
        self.following = figures.followed
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        content = style.card(p, QRectF(self.rect()))
        if self.figures is None:
            p.end()
            return
        items = tiles(self.figures, self.elapsed_s)
        w = content.width() / len(items)
        for i, (value, caption) in enumerate(items):
            r = QRectF(content.left() + i * w, content.top(), w, 24)
            p.setFont(style.font(17, True))
            p.setPen(style.TEXT)
            p.drawText(r, style.CENTRE, value)
            p.setFont(style.font(10))
            p.setPen(style.MUTED)
            p.drawText(QRectF(r.left(), r.bottom(), w, 14), style.CENTRE, caption)
        p.setFont(style.font(11))
        follow = ("following " + " ".join(f"@{c}" for c in self.following)) if self.following else "following nobody (L follows this clip's creator)"
        p.setPen(style.TEXT if self.following else style.MUTED)
        p.drawText(QRectF(content.left(), content.top() + 42, content.width(), 16), style.LEFT,
                   style.elide(p, follow, content.width()))
        p.end()
