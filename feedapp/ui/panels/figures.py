"""Session figures (views, skips, mean watch ratio, time, creators discovered) as a strip of tiles."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from feedapp.core.endcard import SessionFigures, clock_text
from feedapp.ui.panels import style

HEIGHT = 96  # design units


def tiles(f: SessionFigures, elapsed_s: float) -> list[tuple[str, str]]:
    """(value, caption) pairs shown for the figures; the same words on the panel and the end card."""
    ratio = "\u2013" if math.isnan(f.mean_watch_ratio) else f"{f.mean_watch_ratio:.1f}\u00d7"
    return [
        (str(f.views), "views"),
        (str(f.skips), "skipped"),
        (ratio, "watch"),
        (clock_text(elapsed_s), "time"),
        (str(f.creators_discovered), "creators"),
    ]


def watch_caption(f: SessionFigures) -> str:
    """The watch figure in words: "watch: 1.2\u00d7 the clip on average (loops count)"."""
    if math.isnan(f.mean_watch_ratio):
        return "watch: how much of each clip you play"
    return f"watch: {f.mean_watch_ratio:.1f}\u00d7 the clip on average (loops count)"


class FiguresStrip(style.ScaledWidget):
    """The session figures; the clock ticks every second on its own (``tick``), not only after a view."""

    def __init__(self, clock=None, parent: QWidget | None = None) -> None:  # noqa: ANN001 - () -> seconds
        super().__init__(parent)
        self.figures: SessionFigures | None = None
        self.elapsed_s = 0.0
        self.following: tuple[str, ...] = ()
        self.clock = clock  # returns the session's elapsed seconds; None: only set_figures moves the time
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.tick)
        self.apply_scale()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("views: clips you saw \u00b7 skipped: left before 3 s of play \u00b7 watch: play time "
                        "divided by the clip's length, averaged (over 1\u00d7: you let clips loop) \u00b7 time: this "
                        "session so far \u00b7 creators: different creators you watched past a skip")

    def apply_scale(self) -> None:
        self.setFixedHeight(self.px(HEIGHT))

    def set_clock(self, clock) -> None:  # noqa: ANN001 - () -> seconds
        self.clock = clock
        self._sync_timer()

    def set_figures(self, figures: SessionFigures, elapsed_s: float) -> None:
        self.figures, self.elapsed_s = figures, elapsed_s
        self.following = figures.followed
        self._sync_timer()
        self.update()

    def tick(self) -> None:
        """The session clock moves on (every second while shown)."""
        if self.clock is not None:
            self.elapsed_s = self.clock()
            self.update()

    def _sync_timer(self) -> None:
        if self.clock is not None and self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event) -> None:  # noqa: ANN001
        super().showEvent(event)
        self._sync_timer()

    def hideEvent(self, event) -> None:  # noqa: ANN001 - no ticking while nobody sees it
        self._timer.stop()
        super().hideEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        content = style.card(p, self.paint_rect(p))
        if self.figures is None:
            p.end()
            return
        items = tiles(self.figures, self.elapsed_s)
        w = content.width() / len(items)
        for i, (value, caption) in enumerate(items):
            r = QRectF(content.left() + i * w, content.top(), w, 24)
            p.setFont(style.font(18, True))
            p.setPen(style.TEXT)
            p.drawText(r, style.CENTRE, value)
            p.setFont(style.font(12))
            p.setPen(style.MUTED)
            p.drawText(QRectF(r.left(), r.bottom(), w, 16), style.CENTRE, caption)
        p.setFont(style.font(12))
        p.setPen(style.MUTED)
        y = content.top() + 44
        caption = watch_caption(self.figures)
        p.drawText(QRectF(content.left(), y, content.width(), 16), style.LEFT, style.elide(p, caption, content.width()))
        follow = ("following " + " ".join(f"@{c}" for c in self.following)) if self.following else "following nobody (L follows this clip's creator)"
        p.setPen(style.TEXT if self.following else style.MUTED)
        p.drawText(QRectF(content.left(), y + 18, content.width(), 16), style.LEFT, style.elide(p, follow, content.width()))
        p.end()
