"""The interest map widget: the catalog's clips as dots (PCA, ``feedapp.core.interest_map``), coloured
by topic, served clips ringed, the current clip highlighted, and "you" (the profile point) with its
trail. The dots are drawn once into a cached pixmap (redrawn only when the catalog grows or the
widget is resized); a refresh paints that pixmap plus a few marks."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from feedapp.core.interest_map import InterestMap
from feedapp.ui.panels import style
from feedapp.ui.panels.style import TopicColours, lerp

TRAIL = 30  # points of the trail drawn
LEGEND_LINE = 16


class InterestMapView(style.ScaledWidget):
    def __init__(self, colours: TopicColours, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours = colours
        self.map = InterestMap()
        self.topics: list[str] = []  # the first topic of each clip row
        self._legend: list[str] = []
        self.legend_shown: list[str] = []  # the topics the last paint had room for in the legend
        self.legend_hidden = 0  # and how many it counted as "+N more"
        self.legend_more: QRectF | None = None  # where it wrote "+N more" (design units), if it did
        self.served: set[int] = set()
        self.current: int | None = None
        self._layer: QPixmap | None = None
        self._layer_key: tuple = ()
        self._from_point: tuple[float, float] | None = None
        self._t = 1.0
        self.apply_scale()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def apply_scale(self) -> None:
        self.setMinimumHeight(self.px(180))
        self._layer = None

    def explain(self) -> str:
        """The hover text: what the map is, in plain words (PCA named and explained)."""
        proj = self.map.projection
        kept = (f" The two directions keep {proj.explained[0]:.0%} and {proj.explained[1]:.0%} of how the clips differ."
                if proj is not None and proj.n else "")
        return ("Each dot is a clip, coloured by its topic. Clips with similar topics and a similar look (colours, "
                "motion) sit close together; the flattening onto two directions is a PCA (principal component "
                f"analysis).{kept} Rings: clips you were shown. The pink dot, \u201cyou\u201d, is the average of what "
                "you watched, weighted by how much you liked it, recent views more.")

    def set_state(self, space, view_rows: list[int], rewards: list[float], served: set[int], current: int | None) -> None:  # noqa: ANN001
        before = self.map.point
        self.map.sync(space, view_rows, rewards)
        if len(self.topics) != space.n:
            self.topics = [c.topics[0] if c.topics else "" for c in space.clips]
            self._legend = list(dict.fromkeys(self.topics))
        self.served = served
        self.current = current
        self._from_point = before
        self._t = 0.0 if before is not None and before != self.map.point else 1.0
        self.setToolTip(self.explain())
        self.update()

    def set_progress(self, t: float) -> None:
        if self._t >= 1.0 and t >= 1.0:
            return
        self._t = t
        self.update()

    def _plot(self, content: QRectF) -> QRectF:
        side = min(content.width(), content.height() - 2 * LEGEND_LINE - 6)
        r = QRectF(0, 0, content.width(), side)
        r.moveTopLeft(content.topLeft())
        return r.adjusted(8, 6, -8, -6)

    def _xy(self, plot: QRectF, c: tuple[float, float] | np.ndarray) -> QPointF:
        return QPointF(plot.center().x() + float(c[0]) * plot.width() / 2, plot.center().y() - float(c[1]) * plot.height() / 2)

    def _dots(self, plot: QRectF) -> QPixmap:
        dpr = self.devicePixelRatioF() * self.ui_scale  # drawn under the painter's scale: sharp at any scale
        key = (self.map.version, int(plot.width()), int(plot.height()), dpr)
        if self._layer is not None and self._layer_key == key:
            return self._layer
        pm = QPixmap(int(plot.width() * dpr) + 1, int(plot.height() * dpr) + 1)
        pm.setDevicePixelRatio(dpr)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        local = QRectF(0, 0, plot.width(), plot.height())
        proj = self.map.projection
        if proj is not None:
            p.setPen(Qt.PenStyle.NoPen)
            radius = 3.5 if proj.n <= 500 else (2.0 if proj.n <= 5000 else 1.0)
            for row, c in enumerate(proj.coords):
                col = QColor(self.colours(self.topics[row] if row < len(self.topics) else ""))
                col.setAlpha(200)
                p.setBrush(col)
                p.drawEllipse(self._xy(local, c), radius, radius)
        p.end()
        self._layer, self._layer_key = pm, key
        return pm

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        proj = self.map.projection
        hint = "close dots = alike clips (hover)" if proj is not None and proj.n else ""
        content = style.card(p, self.paint_rect(p), "Interest map", hint)
        plot = self._plot(content)
        p.setPen(QPen(style.GRID, 1, Qt.PenStyle.DotLine))
        p.drawLine(QPointF(plot.left(), plot.center().y()), QPointF(plot.right(), plot.center().y()))
        p.drawLine(QPointF(plot.center().x(), plot.top()), QPointF(plot.center().x(), plot.bottom()))
        if proj is None or proj.n == 0:
            p.end()
            return
        p.drawPixmap(plot.topLeft(), self._dots(plot))
        coords = proj.coords
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor(255, 255, 255, 150), 1.2))
        for row in self.served:
            if row < proj.n:
                p.drawEllipse(self._xy(plot, coords[row]), 5.5, 5.5)
        if self.current is not None and self.current < proj.n:
            p.setPen(QPen(style.TEXT, 2))
            p.drawEllipse(self._xy(plot, coords[self.current]), 8, 8)
        pts = [q for q in self.map.trail.points[-TRAIL:] if q is not None]
        point = self.map.point
        if point is not None and self._from_point is not None and self._t < 1.0:
            point = (lerp(self._from_point[0], point[0], self._t), lerp(self._from_point[1], point[1], self._t))
            if pts:
                pts[-1] = point
        for i in range(1, len(pts)):
            a = int(40 + 180 * i / len(pts))
            p.setPen(QPen(QColor(255, 255, 255, a), 1.5))
            p.drawLine(self._xy(plot, pts[i - 1]), self._xy(plot, pts[i]))
        if point is not None:
            c = self._xy(plot, point)
            p.setPen(QPen(QColor(0, 0, 0), 2))
            p.setBrush(style.ACCENT)
            p.drawEllipse(c, 7, 7)
            p.setFont(style.font(13, True))
            p.setPen(style.TEXT)
            tw = p.fontMetrics().horizontalAdvance("you") + 2
            tx = c.x() + 10 if c.x() + 10 + tw <= plot.right() + 8 else c.x() - 10 - tw
            back = QColor(style.CARD_BG)
            back.setAlpha(200)  # the rings and dots beside the point do not run through the word
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(back)
            p.drawRoundedRect(QRectF(tx - 2, c.y() - 9, tw + 4, 18), 3, 3)
            p.setPen(style.TEXT)
            p.drawText(QRectF(tx, c.y() - 9, tw, 18), style.LEFT, "you")
        # legend: topic colours (the topics that do not fit are counted: "+3 more")
        p.setFont(style.font(12))
        fm = p.fontMetrics()
        widths = legend_widths(fm, self._legend, 14, content.width())
        placed, hidden = place_legend(widths, content.left(), content.right(), plot.bottom() + 6,
                                      self.height() / self.ui_scale, lambda n: fm.horizontalAdvance(f"+{n} more"))
        for t, (x, y), w in zip(self._legend, placed, widths):
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(self.colours(t))
            p.drawEllipse(QPointF(x + 4, y + 8), 3.5, 3.5)
            p.setPen(style.MUTED)
            p.drawText(QRectF(x + 10, y, w - 10, LEGEND_LINE), style.LEFT, style.elide(p, f"#{t}", w - 10))
        self.legend_more = None
        if hidden:  # after the last entry; at the row's start when not even one entry fits
            if placed:
                (x, y), w = placed[-1], widths[len(placed) - 1]
                left = x + w + 4
            else:
                left, y = content.left(), plot.bottom() + 6
            self.legend_more = QRectF(left, y, content.right() - left, LEGEND_LINE)
            p.setPen(style.MUTED)
            p.drawText(self.legend_more, style.LEFT, f"+{hidden} more")
        self.legend_shown, self.legend_hidden = self._legend[: len(placed)], hidden
        p.end()


def legend_widths(fm, topics: list[str], pad: float, row: float) -> list[float]:  # noqa: ANN001 - QFontMetrics
    """Each legend entry's width: its "#topic" and ``pad``, a long name cut to half the row (at least "#topic…"
    wide) and elided when drawn. A topic named after a long folder ("#extremely long topic folder name ...")
    was wider than the row, so the legend stopped before it and read "+2 more" with no topic at all."""
    cap = max(row / 2, fm.horizontalAdvance("#topic\u2026") + pad)
    return [min(fm.horizontalAdvance(f"#{t}") + pad, cap) for t in topics]


def place_legend(widths: list[float], left: float, right: float, top: float, bottom: float,
                 more_width) -> tuple[list[tuple[float, float]], int]:  # noqa: ANN001 - n -> width
    """Where the legend's entries go (``widths`` each, in rows of ``LEGEND_LINE`` from ``top``), and how many
    do not fit. When some do not, the last row keeps room after its last entry for "+N more"
    (``more_width(N)`` wide): entries give way to it from the end."""
    placed, x, y = [], left, top
    for w in widths:
        if x + w > right:
            x, y = left, y + LEGEND_LINE
        if y + LEGEND_LINE > bottom:
            break
        placed.append((x, y))
        x += w + 4
    while placed and len(placed) < len(widths):
        (x, _), w = placed[-1], widths[len(placed) - 1]
        if x + w + 4 + more_width(len(widths) - len(placed)) <= right:
            break
        placed.pop()
    return placed, len(widths) - len(placed)
