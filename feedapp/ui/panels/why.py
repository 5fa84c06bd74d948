"""'Why this clip': the current pick's score, its parts, exploration, propensity, in plain words."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from feedapp.core.endcard import PART_NAMES, Explanation
from feedapp.core.model import Clip
from feedapp.ui.panels import style
from feedapp.ui.panels.style import TopicColours

PART_COLOURS = {
    "creator": QColor(255, 167, 38),
    "visual": QColor(126, 87, 194),
    "length": QColor(120, 144, 156),
    "unsure": QColor(38, 198, 218),
    "fatigue": QColor(239, 83, 80),
    "repeat": QColor(239, 83, 80),
    "other": QColor(90, 90, 100),
}


class WhyCard(QWidget):
    def __init__(self, colours: TopicColours, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours = colours
        self.clip: Clip | None = None
        self.explanation: Explanation | None = None
        self.ranker = ""
        self.setFixedHeight(244)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_pick(self, clip: Clip | None, explanation: Explanation | None, ranker: str = "") -> None:
        self.clip, self.explanation, self.ranker = clip, explanation, ranker
        self.update()

    def _part_colour(self, kind: str, label: str) -> QColor:
        return self.colours(label) if kind == "topic" else PART_COLOURS.get(kind, PART_COLOURS["other"])

    def headline(self) -> str:
        e = self.explanation
        if e is None or math.isnan(e.score):
            return "came back to it" if e is not None and e.revisit else "no pick recorded"
        kind = "exploration pick" if e.explore else "ranked pick"
        chance = f"{e.propensity:.0%}" if e.propensity >= 0.01 else "<1%"
        return f"score {e.score:+.2f} \u00b7 {kind} \u00b7 {chance} chance in this slot"

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        hint = f"ranker {self.ranker}" if self.ranker else ""
        content = style.card(p, QRectF(self.rect()), "Why this clip", hint)
        clip, e = self.clip, self.explanation
        if clip is None:
            p.setPen(style.MUTED)
            p.setFont(style.font(12))
            p.drawText(content, style.WRAP, "The first clip is on its way.")
            p.end()
            return
        y = content.top()
        p.setFont(style.font(12, True))
        p.setPen(style.TEXT)
        topics = " ".join(f"#{t}" for t in clip.topics)
        p.drawText(QRectF(content.left(), y, content.width(), 16), style.LEFT,
                   style.elide(p, f"@{clip.creator} \u00b7 {clip.title} \u00b7 {topics}", content.width()))
        y += 18
        p.setFont(style.font(11))
        p.setPen(style.ACCENT if e is not None and e.explore else style.MUTED)
        p.drawText(QRectF(content.left(), y, content.width(), 15), style.LEFT, style.elide(p, self.headline(), content.width()))
        y += 20
        if e is not None and e.parts:
            # a diverging bar per part, largest first (at most 5)
            label_w, val_w = 130.0, 44.0
            bar_l = content.left() + label_w
            bar_w = content.width() - label_w - val_w
            mid = bar_l + bar_w / 2
            scale = max(0.5, max(abs(pt.value) for pt in e.parts))
            p.setPen(QPen(style.GRID, 1))
            p.drawLine(QPointF(mid, y), QPointF(mid, y + 15 * min(5, len(e.parts))))
            for pt in e.parts[:5]:
                name = PART_NAMES.get(pt.kind, pt.kind)
                if pt.kind == "topic":
                    name = f"topic #{pt.label}"
                elif pt.kind == "creator":
                    name = f"creator @{pt.label}"
                elif pt.kind == "length":
                    name = f"length {pt.label}"
                p.setPen(style.TEXT)
                p.setFont(style.font(11))
                p.drawText(QRectF(content.left(), y, label_w - 4, 15), style.LEFT, style.elide(p, name, label_w - 4))
                w = pt.value / scale * bar_w / 2
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(self._part_colour(pt.kind, pt.label))
                p.drawRoundedRect(QRectF(mid, y + 3, w, 9).normalized(), 2, 2)
                p.setPen(style.GOOD if pt.value > 0 else style.BAD)
                p.drawText(QRectF(bar_l + bar_w, y, val_w, 15), style.RIGHT, f"{pt.value:+.2f}")
                y += 15
            y += 6
        if e is not None:
            p.setFont(style.font(12))
            p.setPen(style.TEXT)
            fm = p.fontMetrics()
            for sentence in e.sentences:
                r = fm.boundingRect(QRectF(content.left(), y, content.width(), 200).toRect(), style.WRAP, sentence)
                if y + r.height() > content.bottom() + 2:
                    break
                p.drawText(QRectF(content.left(), y, content.width(), r.height() + 2), style.WRAP, sentence)
                y += r.height() + 3
        p.end()
