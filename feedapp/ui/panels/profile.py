"""Taste profile widgets: affinity bars that animate after each view, and the history chart."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from feedapp.core.endcard import CLICK_THRESHOLD, ProfileSeries
from feedapp.ui.panels import style
from feedapp.ui.panels.style import TopicColours, lerp

ROW_H = 19
MAX_ROWS = 10


class ProfileBars(QWidget):
    """Affinity per topic (the engine's profile), best first, as bars diverging from 0.

    ``set_profile`` starts a transition: bar lengths and row positions move from what is shown to
    the new values as ``set_progress`` goes 0 -> 1 (the panel drives it with one ~300 ms animation).
    """

    def __init__(self, colours: TopicColours, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours = colours
        self._from: dict[str, tuple[float, float]] = {}  # topic -> (affinity, row) at t = 0
        self._to: dict[str, tuple[float, float]] = {}
        self._views: dict[str, int] = {}
        self._t = 1.0
        self.refreshed = 0
        self.setFixedHeight(self._height(8))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    @staticmethod
    def _height(rows: int) -> int:
        return 30 + max(3, min(rows, MAX_ROWS)) * ROW_H + 8

    def values(self) -> dict[str, float]:
        """The affinities being shown (the target of the transition), best first."""
        return {t: a for t, (a, _) in sorted(self._to.items(), key=lambda kv: kv[1][1])}

    def _now(self, topic: str) -> tuple[float, float] | None:
        a, b = self._from.get(topic), self._to.get(topic)
        if b is None:
            return a
        if a is None:
            return (lerp(0.0, b[0], self._t), b[1])
        return (lerp(a[0], b[0], self._t), lerp(a[1], b[1], self._t))

    def set_profile(self, topics: dict[str, float], topic_views: dict[str, int], all_topics: list[str]) -> None:
        """Show ``topics`` (topic -> affinity); topics of the catalog not in it show at 0."""
        current = {t: v for t in set(self._from) | set(self._to) if (v := self._now(t)) is not None}
        merged = {t: 0.0 for t in all_topics}
        merged.update(topics)
        order = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
        self._to = {t: (float(a), float(i)) for i, (t, a) in enumerate(order)}
        self._from = current
        self._views = dict(topic_views)
        self._t = 0.0
        h = self._height(len(order))
        if h != self.height():
            self.setFixedHeight(h)
        self.refreshed += 1
        self.update()

    def set_progress(self, t: float) -> None:
        self._t = t
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        n_views = sum(1 for _ in self._views)
        content = style.card(p, QRectF(self.rect()), "Your taste", "affinity per topic" if n_views else "learning from views")
        label_w, value_w = 92.0, 64.0
        bar_l = content.left() + label_w
        bar_w = max(20.0, content.width() - label_w - value_w)
        mid = bar_l + bar_w / 2
        scale = max(1.0, max((abs(a) for a, _ in self._to.values()), default=1.0))
        p.setPen(QPen(style.GRID, 1))
        p.drawLine(QPointF(mid, content.top()), QPointF(mid, content.bottom()))
        for topic in self._to:
            now = self._now(topic)
            if now is None:
                continue
            aff, row = now
            if row >= MAX_ROWS - 0.01:
                continue
            y = content.top() + row * ROW_H
            colour = self.colours(topic)
            p.setFont(style.font(12, True))
            p.setPen(style.TEXT)
            p.drawText(QRectF(content.left(), y, label_w - 6, ROW_H), style.LEFT, style.elide(p, f"#{topic}", label_w - 6))
            w = aff / scale * (bar_w / 2)
            r = QRectF(mid, y + 4, w, ROW_H - 8).normalized()
            c = QColor(colour)
            if aff < 0:
                c.setAlpha(110)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(c)
            p.drawRoundedRect(r, 3, 3)
            p.setFont(style.font(11))
            p.setPen(style.TEXT if aff >= 0 else style.MUTED)
            views = self._views.get(topic, 0)
            p.drawText(QRectF(bar_l + bar_w + 4, y, value_w - 4, ROW_H), style.RIGHT, f"{aff:+.2f} \u00b7{views}")
        p.end()


class HistoryChart(QWidget):
    """Each topic's affinity against the number of views (``engine.profile_history()``).

    A dot and a label mark the view after which a topic reached ``CLICK_THRESHOLD`` and stayed there:
    the moment that taste "clicked".
    """

    def __init__(self, colours: TopicColours, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours = colours
        self.series = ProfileSeries()
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._paths: dict[str, QPolygonF] | None = None
        self._hi, self._lo = 1.0, -0.5
        self._clicks: dict[str, int] = {}

    def set_history(self, history: list[dict]) -> bool:
        changed = self.series.update(history)
        if changed:
            self._paths = None
            vals = self.series.topics.values()
            self._hi = max(1.0, max((max(v) for v in vals if v), default=1.0))
            self._lo = min(-0.5, min((min(v) for v in vals if v), default=-1.0))
            self._clicks = self.series.clicks()
            self.update()
        return changed

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        self._paths = None
        super().resizeEvent(event)

    def _plot_rect(self, content: QRectF) -> QRectF:
        return content.adjusted(26, 4, -6, -16)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = self.series
        content = style.card(p, QRectF(self.rect()), "How it formed", f"{s.views} views" if s.views else "")
        plot = self._plot_rect(content)
        y_hi, y_lo = self._hi, self._lo

        def Y(a: float) -> float:
            return plot.bottom() - (a - y_lo) / (y_hi - y_lo) * plot.height()

        n = max(s.views, 2)

        def X(i: int) -> float:  # i: 1-based view number
            return plot.left() + (i - 1) / (n - 1) * plot.width()

        p.setFont(style.font(10))
        for a in (y_lo, 0.0, y_hi):
            p.setPen(QPen(style.GRID, 1, Qt.PenStyle.SolidLine if a == 0 else Qt.PenStyle.DotLine))
            p.drawLine(QPointF(plot.left(), Y(a)), QPointF(plot.right(), Y(a)))
            p.setPen(style.MUTED)
            p.drawText(QRectF(content.left() - 4, Y(a) - 7, 28, 14), style.LEFT, f"{a:+.1f}" if a else "0")
        p.setPen(QPen(style.GRID, 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(plot.left(), Y(CLICK_THRESHOLD)), QPointF(plot.right(), Y(CLICK_THRESHOLD)))
        p.setPen(style.MUTED)
        p.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), 14), style.LEFT, "1")
        p.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), 14), style.RIGHT, f"{s.views}" if s.views > 1 else "")
        p.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), 14), style.CENTRE, "views")
        if s.views == 0:
            p.setPen(style.MUTED)
            p.setFont(style.font(12))
            p.drawText(plot, style.CENTRE, "Each view moves these lines.")
            p.end()
            return
        if self._paths is None:
            self._paths = {}
            # at most one point per 3 pixels: antialiased stroking costs per segment, and a finer line
            # shows nothing more at this size
            step = max(1, -(-s.views // max(1, int(plot.width() / 3))))
            for t, vals in s.topics.items():
                idx = list(range(0, len(vals), step))
                if idx[-1] != len(vals) - 1:
                    idx.append(len(vals) - 1)
                self._paths[t] = QPolygonF([QPointF(X(i + 1), Y(vals[i])) for i in idx])
        # faint lines first, the strongest topics on top
        last = sorted(s.topics, key=lambda t: s.topics[t][-1])
        p.setBrush(Qt.BrushStyle.NoBrush)
        for t in last:
            c = QColor(self.colours(t))
            strong = s.topics[t][-1] >= CLICK_THRESHOLD
            if not strong:
                c.setAlpha(120)
            p.setPen(QPen(c, 2.0 if strong else 1.0))
            p.drawPolyline(self._paths[t])
        clicks = self._clicks
        label_y = plot.top()
        p.setFont(style.font(10, True))
        for t, v in list(clicks.items())[:3]:
            x, y = X(v), Y(s.topics[t][v - 1])
            c = self.colours(t)
            p.setPen(QPen(style.TEXT, 1.5))
            p.setBrush(c)
            p.drawEllipse(QPointF(x, y), 4.5, 4.5)
            text = f"#{t} clicked at view {v}"
            tw = p.fontMetrics().horizontalAdvance(text) + 4
            tx = min(max(plot.left(), x - tw / 2), plot.right() - tw)
            p.setPen(c)
            p.drawText(QRectF(tx, label_y, tw, 13), style.LEFT, text)
            label_y += 13
        p.end()
