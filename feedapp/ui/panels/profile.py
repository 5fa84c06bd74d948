"""Taste profile widgets: affinity bars that animate after each view, and the history chart."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from feedapp.core.endcard import CLICK_THRESHOLD, ProfileSeries
from feedapp.ui.panels import style
from feedapp.ui.panels.mapview import LEGEND_LINE, legend_widths, place_legend
from feedapp.ui.panels.style import TopicColours, lerp

ROW_H = 22
MAX_ROWS = 10
LEGEND_H = 32  # two lines under the chart: topic colours, the dashed line
EMPTY_NOTE = "Each view moves these lines."
ZERO_AT = 0.25  # the zero line sits a quarter into the bar area: affinities are mostly positive


class ProfileBars(style.ScaledWidget):
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
        self._rows = 8
        self.apply_scale()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("How much the feed thinks you like each topic, from -1 to +1, learned from how long you "
                        "watched its clips (longer than usual for the clip's length raises it, a quick skip lowers it). "
                        "The number after it: how many clips of that topic you have seen.")

    def apply_scale(self) -> None:
        self.setFixedHeight(self.px(self._height(self._rows)))

    @staticmethod
    def _height(rows: int) -> int:
        return 30 + max(3, min(rows, MAX_ROWS)) * ROW_H + 8

    def values(self) -> dict[str, float]:
        """The affinities being shown (the target of the transition), best first."""
        return {t: a for t, (a, _) in sorted(self._to.items(), key=lambda kv: kv[1][1])}

    def shown(self) -> list[str]:
        """The topics that have a row (at most ``MAX_ROWS``), top to bottom."""
        return [t for t in self.values() if self._to[t][1] < MAX_ROWS]

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
        if len(order) > MAX_ROWS:  # rows run out: topics with views are shown before topics not seen yet (at 0)
            shown = {t for t, _ in sorted(order, key=lambda kv: not topic_views.get(kv[0]))[:MAX_ROWS]}
            order = [kv for kv in order if kv[0] in shown] + [kv for kv in order if kv[0] not in shown]
        self._to = {t: (float(a), float(i)) for i, (t, a) in enumerate(order)}
        self._from = current
        self._views = dict(topic_views)
        self._t = 0.0
        if len(order) != self._rows:
            self._rows = len(order)
            self.apply_scale()
        self.refreshed += 1
        self.update()

    def set_progress(self, t: float) -> None:
        self._t = t
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        n_views = sum(1 for _ in self._views)
        content = style.card(p, self.paint_rect(p), "Your taste",
                             "liking per topic \u00b7 views" if n_views else "learning from your views")
        label_w, value_w = 84.0, 116.0
        bar_l = content.left() + label_w
        bar_w = max(20.0, content.width() - label_w - value_w)
        zero = bar_l + bar_w * ZERO_AT
        # the longest bar spans its side once an affinity reaches +-0.5 (the numbers give the values):
        # likes get three quarters of the width, dislikes a quarter
        pos_scale = max(0.5, max((a for a, _ in self._to.values()), default=0.5))
        neg_scale = max(0.5, max((-a for a, _ in self._to.values()), default=0.5))
        p.setPen(QPen(style.GRID, 1))
        p.drawLine(QPointF(zero, content.top()), QPointF(zero, content.bottom()))
        for topic in self._to:
            now = self._now(topic)
            if now is None:
                continue
            aff, row = now
            if row >= MAX_ROWS - 0.01:
                continue
            y = content.top() + row * ROW_H
            colour = self.colours(topic)
            p.setFont(style.font(13, True))
            p.setPen(style.TEXT)
            p.drawText(QRectF(content.left(), y, label_w - 6, ROW_H), style.LEFT, style.elide(p, f"#{topic}", label_w - 6))
            w = aff / pos_scale * bar_w * (1 - ZERO_AT) if aff >= 0 else aff / neg_scale * bar_w * ZERO_AT
            r = QRectF(zero, y + 4, w, ROW_H - 8).normalized()
            c = QColor(colour)
            if aff < 0:
                c.setAlpha(110)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(c)
            p.drawRoundedRect(r, 3, 3)
            p.setFont(style.font(12))
            p.setPen(style.TEXT if aff >= 0 else style.MUTED)
            views = self._views.get(topic, 0)
            p.drawText(QRectF(bar_l + bar_w + 4, y, value_w - 4, ROW_H), style.RIGHT,
                       f"{aff:+.2f} \u00b7 {views} {'view' if views == 1 else 'views'}")
        p.end()

    def track_px(self) -> float:
        """On screen, the length of the longest possible bar (the positive side of the bar area)."""
        label_w, value_w = 84.0, 116.0
        content_w = self.width() / self.ui_scale - 20
        return max(20.0, content_w - label_w - value_w) * (1 - ZERO_AT) * self.ui_scale


class HistoryChart(style.ScaledWidget):
    """Each topic's affinity against the number of views (``engine.profile_history()``).

    A dot and a label mark the view at which a topic reached ``CLICK_THRESHOLD`` with enough views (and
    has not turned negative since): the moment that taste "took hold". A legend under the chart names
    the lines' colours and the dashed line.
    """

    def __init__(self, colours: TopicColours, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours = colours
        self.series = ProfileSeries()
        self.apply_scale()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("One line per topic: how much the feed thought you liked it after each view. A topic "
                        "\u201ctakes hold\u201d when it reaches 0.3 (the dashed line) with at least 3 views; the dot "
                        "stays until the topic turns negative.")
        self._paths: dict[str, QPolygonF] | None = None
        self._hi, self._lo = 1.0, -0.5
        self._clicks: dict[str, int] = {}
        self.legend_shown: list[str] = []  # the topics the legend names, left to right (set by each paint)
        self.legend_hidden = 0  # and how many lines it counts as "+N more"

    def apply_scale(self) -> None:
        self.setMinimumHeight(self.px(150))
        self._paths = None

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
        return content.adjusted(30, 4, -6, -LEGEND_H - 18)

    def plot_rect(self) -> QRectF:
        """The plot area in design units (inside the card, above the axis labels and the legend)."""
        w, h = self.width() / self.ui_scale, self.height() / self.ui_scale
        return self._plot_rect(QRectF(0, 0, w, h).adjusted(10, 30, -10, -8))  # style.card's content

    def line_ys(self, plot: QRectF) -> list[float]:
        """Where the horizontal lines are drawn: the axis bounds, 0 and the dashed 0.3, top to bottom."""
        y_hi, y_lo = self._hi, self._lo
        return sorted(plot.bottom() - (a - y_lo) / (y_hi - y_lo) * plot.height()
                      for a in (y_hi, CLICK_THRESHOLD, 0.0, y_lo))

    def note_rect(self, plot: QRectF) -> QRectF:
        """Where the empty chart's note goes: the widest band between two of its lines, so that no line
        strikes through it (centred on the plot, it sat on the dashed 0.3 line)."""
        ys = self.line_ys(plot)
        top, bottom = max(zip(ys, ys[1:]), key=lambda ab: ab[1] - ab[0])
        text_h = QFontMetricsF(style.font(13)).height()
        mid = (top + bottom) / 2
        return QRectF(plot.left(), mid - text_h / 2, plot.width(), text_h)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = self.series
        content = style.card(p, self.paint_rect(p), "How it formed", f"{s.views} views" if s.views else "")
        plot = self._plot_rect(content)
        y_hi, y_lo = self._hi, self._lo

        def Y(a: float) -> float:
            return plot.bottom() - (a - y_lo) / (y_hi - y_lo) * plot.height()

        n = max(s.views, 2)

        def X(i: int) -> float:  # i: 1-based view number
            return plot.left() + (i - 1) / (n - 1) * plot.width()

        p.setFont(style.font(12))
        for a in (y_lo, 0.0, y_hi):
            p.setPen(QPen(style.GRID, 1, Qt.PenStyle.SolidLine if a == 0 else Qt.PenStyle.DotLine))
            p.drawLine(QPointF(plot.left(), Y(a)), QPointF(plot.right(), Y(a)))
            p.setPen(style.MUTED)
            p.drawText(QRectF(content.left() - 4, Y(a) - 8, 33, 16), style.LEFT, f"{a:+.1f}" if a else "0")
        p.setPen(QPen(style.MUTED, 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(plot.left(), Y(CLICK_THRESHOLD)), QPointF(plot.right(), Y(CLICK_THRESHOLD)))
        p.setPen(style.MUTED)
        axis = QRectF(plot.left(), plot.bottom() + 1, plot.width(), 16)
        p.drawText(axis, style.LEFT, "1")
        p.drawText(axis, style.RIGHT, f"{s.views}" if s.views > 1 else "")
        p.drawText(axis, style.CENTRE, "views \u2192")
        self._legend(p, QRectF(content.left(), content.bottom() - LEGEND_H, content.width(), LEGEND_H))
        if s.views == 0:
            p.setPen(style.MUTED)
            p.setFont(style.font(13))
            p.drawText(self.note_rect(plot), style.CENTRE, EMPTY_NOTE)
            p.end()
            return
        if self._paths is None:
            self._paths = {}
            # at most one point per 3 pixels: antialiased stroking costs per segment, and a finer line
            # shows nothing more at this size
            step = max(1, -(-s.views // max(1, int(plot.width() * self.ui_scale / 3))))
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
        p.setFont(style.font(12, True))
        for t, v in list(clicks.items())[:3]:
            x, y = X(v), Y(s.topics[t][v - 1])
            c = self.colours(t)
            p.setPen(QPen(style.TEXT, 1.5))
            p.setBrush(c)
            p.drawEllipse(QPointF(x, y), 4.5, 4.5)
            text = f"#{t} took hold at view {v}"
            tw = p.fontMetrics().horizontalAdvance(text) + 4
            tx = min(max(plot.left(), x - tw / 2), plot.right() - tw)
            back = QColor(style.CARD_BG)
            back.setAlpha(215)  # the lines stay visible under the label, the label stays readable
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(back)
            p.drawRoundedRect(QRectF(tx - 2, label_y, tw + 2, 16), 3, 3)
            p.setPen(style.readable(c))
            p.drawText(QRectF(tx, label_y, tw, 16), style.LEFT, text)
            label_y += 16
        p.end()

    def _legend(self, p: QPainter, r: QRectF) -> None:
        """The topics' colours (strongest first, as many as fit, the rest counted) and what the dashed line means."""
        p.setFont(style.font(12))
        fm = p.fontMetrics()
        x = r.left()
        topics = sorted(self.series.topics, key=lambda t: -self.series.topics[t][-1]) if self.series.views else []
        y1 = r.top()
        # one row; the lines that have no room are counted ("+2 more"), as the interest map's legend does:
        # a line without a name was left for the viewer to guess
        widths = legend_widths(fm, topics, 16, r.width())
        placed, hidden = place_legend(widths, x, r.right(), y1, y1 + LEGEND_LINE,
                                      lambda n: fm.horizontalAdvance(f"+{n} more"))
        for t, (x, _), w in zip(topics, placed, widths):
            p.setPen(QPen(self.colours(t), 3))
            p.drawLine(QPointF(x, y1 + 8), QPointF(x + 10, y1 + 8))
            p.setPen(style.MUTED)
            p.drawText(QRectF(x + 13, y1, w - 13, 16), style.LEFT, style.elide(p, f"#{t}", w - 13))
        if hidden:
            left = placed[-1][0] + widths[len(placed) - 1] + 4 if placed else r.left()
            p.setPen(style.MUTED)
            p.drawText(QRectF(left, y1, r.right() - left, 16), style.LEFT, f"+{hidden} more")
        self.legend_shown, self.legend_hidden = topics[: len(placed)], hidden
        y2 = r.top() + (16 if topics else 0)
        p.setPen(QPen(style.MUTED, 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(r.left(), y2 + 8), QPointF(r.left() + 12, y2 + 8))
        p.setPen(style.MUTED)
        note = "0.3: a taste takes hold (with 3+ views)"
        p.drawText(QRectF(r.left() + 16, y2, r.width() - 16, 16), style.LEFT, style.elide(p, note, r.width() - 16))
