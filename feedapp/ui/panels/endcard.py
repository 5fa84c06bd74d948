"""The end-of-session card for the viewer: top topics, how the profile formed, the session's figures.

It sits over the player (shown and hidden with E) and is drawn once per update into a pixmap, so the
video playing under it never makes it repaint its text. ``save(path)`` writes it as a PNG (S).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from feedapp.core.endcard import CLICK_THRESHOLD, ProfileSeries, SessionFigures, top_topics
from feedapp.ui import overlays
from feedapp.ui.panels import style
from feedapp.ui.panels.figures import tiles, watch_caption
from feedapp.ui.panels.style import TopicColours

CARD_SIZE = QSize(400, 600)
CHART_KEY = "thick: top topics \u00b7 faint: the others \u00b7 dashed: 0.3, a taste takes hold"
MIN_CARD_SCALE = 0.75
"""The smallest the card is shown over a narrow player (its text stays readable: 13 pt becomes about 10)."""


class EndCard(QWidget):
    def __init__(self, colours: TopicColours, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours = colours
        self.setFixedSize(CARD_SIZE)
        self.ui_scale = 1.0
        self._pixmap: QPixmap | None = None
        self._content: tuple | None = None
        self.top: list[tuple[str, float]] = []
        self.learns = True
        self.note = ""
        self._note_timer = QTimer(self, singleShot=True)
        self._note_timer.timeout.connect(lambda: self.show_note(""))
        self.hide()

    def show_note(self, text: str, ms: int = 4000) -> None:
        """A message over the card for ``ms`` (the player's toasts are drawn under it): "Saved your card to
        ...". It is drawn on the screen only, never into the saved PNG."""
        self.note = text
        if text:
            self._note_timer.start(ms)
        else:
            self._note_timer.stop()
        self.update()

    def set_ui_scale(self, s: float) -> None:
        """Shown ``s`` times its size over the player (a projector); the saved PNG stays 400x600."""
        if abs(s - self.ui_scale) < 1e-3:
            return
        self.ui_scale = s
        self.setFixedSize(round(CARD_SIZE.width() * s), round(CARD_SIZE.height() * s))
        if self._content is not None:
            self._pixmap = self.render_card(*self._content, scale=s)
            self.update()

    def set_content(self, profile: dict, series: ProfileSeries, figures: SessionFigures, elapsed_s: float,
                    footer: str, *, learns: bool = True) -> None:
        """``learns=False``: the ranker does not learn from the viewer (random, chronological, popular,
        following), and the card says so instead of "learned from how long you watched"."""
        self.top = top_topics(profile, 3)
        self.learns = learns
        self._content = (profile, series, figures, elapsed_s, footer)
        self._pixmap = self.render_card(profile, series, figures, elapsed_s, footer, scale=self.ui_scale)
        self.update()

    def image(self) -> QPixmap | None:
        return self._pixmap

    def save(self, path: Path) -> bool:
        """Write the card as a PNG (the same pixels the viewer sees)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._content is not None:
            pm = self.render_card(*self._content) if self.ui_scale != 1.0 else self._pixmap
        else:
            pm = self.grab()
        return pm.save(str(path), "PNG")

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._pixmap is None:
            return
        p = QPainter(self)
        p.drawPixmap(QRectF(self.rect()), self._pixmap, QRectF(self._pixmap.rect()))
        if self.note:
            overlays.pill(p, QRectF(self.rect()), self.note, top=self.height() * 0.78, accent=True)
        p.end()

    def render_card(self, profile: dict, series: ProfileSeries, f: SessionFigures, elapsed_s: float, footer: str,
                    scale: float = 1.0) -> QPixmap:
        """The card, drawn in its 400x600 design units at ``scale`` times the screen's pixel ratio."""
        dpr = (self.devicePixelRatioF() or 1.0) * scale
        pm = QPixmap(int(CARD_SIZE.width() * dpr), int(CARD_SIZE.height() * dpr))
        pm.setDevicePixelRatio(dpr)
        pm.fill(style.PANEL_BG)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        W, H = CARD_SIZE.width(), CARD_SIZE.height()
        p.setPen(QPen(style.ACCENT, 3))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(QRectF(1.5, 1.5, W - 3, H - 3), 14, 14)
        x0, w = 24.0, W - 48.0
        p.setFont(style.font(24, True))
        p.setPen(style.TEXT)
        p.drawText(QRectF(x0, 20, w, 32), style.LEFT, "Your feed, so far")
        p.setFont(style.font(13))
        p.setPen(style.MUTED)
        p.drawText(QRectF(x0, 52, w, 20), style.LEFT,
                   f"{f.views} views \u00b7 " + ("learned from how long you watched" if self.learns else
                                                "this feed does not learn from you: topics sum up what you watched"))
        # top topics
        y = 88.0
        p.setFont(style.font(14, True))
        p.setPen(style.TEXT)
        p.drawText(QRectF(x0, y, w, 20), style.LEFT, "Top topics")
        y += 26
        top = top_topics(profile, 3)
        if not top:
            p.setFont(style.font(13))
            p.setPen(style.MUTED)
            p.drawText(QRectF(x0, y, w, 20), style.LEFT, "Nothing stood out yet: watch a few clips to the end.")
            y += 30
        scale = max([1.0] + [a for _, a in top])
        clicks = series.clicks()
        for rank, (t, a) in enumerate(top, 1):
            c = self.colours(t)
            p.setFont(style.font(16, True))
            p.setPen(c)
            p.drawText(QRectF(x0, y, 140, 24), style.LEFT, f"{rank}. #{t}")
            bar = QRectF(x0 + 140, y + 6, (w - 200) * a / scale, 12)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(c)
            p.drawRoundedRect(bar, 4, 4)
            p.setFont(style.font(12))
            p.setPen(style.TEXT)
            p.drawText(QRectF(x0 + w - 56, y, 56, 24), style.RIGHT, f"{a:+.2f}")
            note = f"took hold at view {clicks[t]}" if t in clicks else "still forming"
            p.setFont(style.font(11))
            p.setPen(style.MUTED)
            p.drawText(QRectF(x0 + 18, y + 22, w, 14), style.LEFT, note)
            y += 44
        # timeline
        y = max(y, 250.0) + 6
        p.setFont(style.font(14, True))
        p.setPen(style.TEXT)
        p.drawText(QRectF(x0, y, w, 20), style.LEFT, "How your profile formed")
        y += 24
        chart = QRectF(x0 + 22, y + 4, w - 26, 136)
        self._timeline(p, chart, series, [t for t, _ in top] or list(series.topics)[:3])
        p.setFont(style.font(10))
        p.setPen(style.MUTED)  # the chart's key (the colours are the top topics' above)
        p.drawText(QRectF(x0, chart.bottom() + 17, w, 14), style.LEFT, style.elide(p, CHART_KEY, w))
        y = chart.bottom() + 38
        # figures
        items = tiles(f, elapsed_s)
        tw = w / len(items)
        for i, (value, caption) in enumerate(items):
            r = QRectF(x0 + i * tw, y, tw, 26)
            p.setFont(style.font(19, True))
            p.setPen(style.TEXT)
            p.drawText(r, style.CENTRE, value)
            p.setFont(style.font(10))
            p.setPen(style.MUTED)
            p.drawText(QRectF(r.left() - 4, r.bottom(), tw + 8, 14), style.CENTRE, caption)
        y += 44
        p.setFont(style.font(11))
        p.setPen(style.MUTED)
        p.drawText(QRectF(x0, y, w, 16), style.LEFT, style.elide(p, watch_caption(f), w))
        y += 20
        follow = ("You follow " + " ".join(f"@{c}" for c in f.followed) + ".") if f.followed else \
            "You followed nobody: the feed found your taste from watching alone."
        p.drawText(QRectF(x0, y, w, 34), style.WRAP, follow)
        p.setFont(style.font(10))
        p.drawText(QRectF(x0, H - 30, w, 16), style.LEFT, style.elide(p, footer, w))
        p.end()
        return pm

    def _timeline(self, p: QPainter, r: QRectF, series: ProfileSeries, topics: list[str]) -> None:
        n = max(series.views, 2)
        vals = [v for t in series.topics for v in series.topics[t]]
        hi, lo = max([1.0] + vals), min([-0.5] + vals)

        def X(i: int) -> float:
            return r.left() + (i - 1) / (n - 1) * r.width()

        def Y(a: float) -> float:
            return r.bottom() - (a - lo) / (hi - lo) * r.height()

        p.setFont(style.font(10))
        for a in (lo, 0.0, hi):
            p.setPen(QPen(style.GRID, 1, Qt.PenStyle.SolidLine if a == 0 else Qt.PenStyle.DotLine))
            p.drawLine(QPointF(r.left(), Y(a)), QPointF(r.right(), Y(a)))
            p.setPen(style.MUTED)
            p.drawText(QRectF(r.left() - 24, Y(a) - 7, 22, 14), style.RIGHT, f"{a:+.1f}" if a else "0")
        p.drawText(QRectF(r.left(), r.bottom() + 2, r.width(), 14), style.LEFT, "view 1")
        p.drawText(QRectF(r.left(), r.bottom() + 2, r.width(), 14), style.RIGHT, f"view {series.views}")
        p.setPen(QPen(style.GRID, 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(r.left(), Y(CLICK_THRESHOLD)), QPointF(r.right(), Y(CLICK_THRESHOLD)))
        if series.views == 0:
            return
        others = [t for t in series.topics if t not in topics]
        for t in others + topics:
            vals = series.topics[t]
            path = QPainterPath(QPointF(X(1), Y(vals[0])))
            for i in range(1, len(vals)):
                path.lineTo(X(i + 1), Y(vals[i]))
            c = QColor(self.colours(t))
            if t in others:
                c.setAlpha(70)
            p.setPen(QPen(c, 2.5 if t in topics else 1.0))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
        for t in topics:
            v = series.click_view(t)
            if v is not None:
                p.setPen(QPen(style.TEXT, 1.5))
                p.setBrush(self.colours(t))
                p.drawEllipse(QPointF(X(v), Y(series.topics[t][v - 1])), 5, 5)
