"""'Why this clip': the current pick's score, its parts, exploration, propensity, in plain words."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from feedapp.core.endcard import PART_NAMES, Explanation, Part
from feedapp.core.model import Clip
from feedapp.ui.panels import style
from feedapp.ui.panels.style import TopicColours

HEIGHT = 244  # design units
PART_H = 17

PART_COLOURS = {
    "creator": QColor(255, 167, 38),
    "visual": QColor(126, 87, 194),
    "length": QColor(120, 144, 156),
    "unsure": QColor(38, 198, 218),
    "fatigue": QColor(239, 83, 80),
    "repeat": QColor(239, 83, 80),
    "other": QColor(90, 90, 100),
}


FIRST_CLIP = ("Your first clip: the feed knows nothing about you yet, so it starts with any clip. "
              "From now on, how long you watch each clip teaches it what to show next.")


MAX_PARTS = 4  # rows of score parts the card has room for


def shown_parts(parts: tuple[Part, ...] | list[Part], n: int = MAX_PARTS) -> list[Part]:
    """The rows of the card, which says "the sum of these parts": the parts themselves when they fit,
    else the n-1 largest (other than "rest") and one "rest of the score" row holding all the others, so
    the rows still add up to the score. (Cutting at n hid a fifth part: 0.47 + 0.45 - 0.10 + 0.04
    under "score +0.83, the sum of these parts".)"""
    if len(parts) <= n:
        return list(parts)
    keep = [p for p in parts if p.kind != "other"][: n - 1]
    return keep + [Part("other", "", sum(p.value for p in parts) - sum(p.value for p in keep))]


class WhyCard(style.ScaledWidget):
    def __init__(self, colours: TopicColours, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours = colours
        self.clip: Clip | None = None
        self.explanation: Explanation | None = None
        self.ranker = ""
        self.first = False
        self.last_note: str | None = None
        self.shown: list[str] = []  # the sentences the last paint had room for
        self.heights: list[float] = []  # ... and the height each was given (design units)
        self.text_width = 0.0  # the width they were laid out in (design units)
        self.apply_scale()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Why the feed showed this clip. The score is the sum of the coloured parts: what the "
                        "feed learned you like (topics, creator, look, length), minus cool-downs. The chance is "
                        "how likely this clip was to be picked for this place; the feed sometimes picks at "
                        "random to explore beyond your taste.")

    def apply_scale(self) -> None:
        self.setFixedHeight(self.px(HEIGHT))

    def set_pick(self, clip: Clip | None, explanation: Explanation | None, ranker: str = "", *,
                 first: bool = False, last_note: str | None = None) -> None:
        """``first``: the session's first clip (described as that, not as a pick); ``last_note``: what
        the last view did to the profile (``feedapp.core.endcard.last_view_sentence``)."""
        self.clip, self.explanation, self.ranker = clip, explanation, ranker
        self.first, self.last_note = first, last_note
        self.update()

    def _part_colour(self, kind: str, label: str) -> QColor:
        return self.colours(label) if kind == "topic" else PART_COLOURS.get(kind, PART_COLOURS["other"])

    def headline(self) -> str:
        e = self.explanation
        if self.first:
            return "Your first clip"
        if e is None or math.isnan(e.score):
            return "You came back to it" if e is not None and e.revisit else "No pick recorded"
        kind = "Picked to explore" if e.explore else "Picked for its score"
        chance = f"{e.propensity:.0%}" if e.propensity >= 0.01 else "<1%"
        return f"{kind} \u00b7 {chance} chance"

    def score_line(self) -> str:
        e = self.explanation
        if self.first or e is None or math.isnan(e.score) or not e.parts:
            return ""
        return f"score {e.score:+.2f}, the sum of these parts:"

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        hint = f"ranker {self.ranker}" if self.ranker else ""
        content = style.card(p, self.paint_rect(p), "Why this clip", hint)
        clip, e = self.clip, self.explanation
        if clip is None:
            p.setPen(style.MUTED)
            p.setFont(style.font(13))
            p.drawText(content, style.WRAP, "The first clip is on its way.")
            p.end()
            return
        y = content.top()
        p.setFont(style.font(13, True))
        p.setPen(style.TEXT)
        topics = " ".join(f"#{t}" for t in clip.topics)
        p.drawText(QRectF(content.left(), y, content.width(), 18), style.LEFT,
                   style.elide(p, f"@{clip.creator} \u00b7 {clip.title} \u00b7 {topics}", content.width()))
        y += 20
        p.setFont(style.font(12, True))
        p.setPen(style.ACCENT_TEXT if e is not None and e.explore and not self.first else style.TEXT)
        p.drawText(QRectF(content.left(), y, content.width(), 17), style.LEFT, style.elide(p, self.headline(), content.width()))
        y += 18
        line = self.score_line()
        if line:
            p.setFont(style.font(12))
            p.setPen(style.MUTED)
            p.drawText(QRectF(content.left(), y, content.width(), 17), style.LEFT, style.elide(p, line, content.width()))
            y += 19
        if e is not None and e.parts and not self.first:
            # a diverging bar per part, largest first (at most 4)
            label_w, val_w = 136.0, 46.0
            bar_l = content.left() + label_w
            bar_w = content.width() - label_w - val_w
            mid = bar_l + bar_w / 2
            scale = max(0.5, max(abs(pt.value) for pt in e.parts))
            shown = shown_parts(e.parts)
            p.setPen(QPen(style.GRID, 1))
            p.drawLine(QPointF(mid, y), QPointF(mid, y + PART_H * len(shown)))
            for pt in shown:
                name = PART_NAMES.get(pt.kind, pt.kind)
                if pt.kind == "topic":
                    name = f"topic #{pt.label}"
                elif pt.kind == "creator":
                    name = f"creator @{pt.label}"
                elif pt.kind == "length":
                    name = f"length {pt.label}"
                p.setPen(style.TEXT)
                p.setFont(style.font(12))
                p.drawText(QRectF(content.left(), y, label_w - 4, PART_H), style.LEFT, style.elide(p, name, label_w - 4))
                w = pt.value / scale * bar_w / 2
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(self._part_colour(pt.kind, pt.label))
                p.drawRoundedRect(QRectF(mid, y + 4, w, PART_H - 8).normalized(), 2, 2)
                p.setPen(style.GOOD if pt.value > 0 else style.BAD)
                p.drawText(QRectF(bar_l + bar_w, y, val_w, PART_H), style.RIGHT, f"{pt.value:+.2f}")
                y += PART_H
            y += 4
        sentences: list[tuple[str, object]] = []
        if self.first:
            sentences.append((FIRST_CLIP, style.TEXT))
        if self.last_note:
            sentences.append((self.last_note, style.MUTED))
        if e is not None and not self.first:
            sentences.extend((t, style.TEXT) for t in e.sentences)
        p.setFont(style.font(12))
        # measured in the very rectangle each sentence is drawn in: an integer rectangle (toRect) is up to
        # half a unit wider at a zoom (Ctrl +) and let a sentence fit on one line that the drawing wrapped,
        # its last words ("(+0.35).") clipped under the next sentence
        heights = [p.boundingRect(QRectF(content.left(), y, content.width(), 400), style.WRAP, t).height()
                   for t, _ in sentences]
        self.shown = [t for t, _ in sentences[:fitting([t for t, _ in sentences], heights, y, content.bottom() + 2)]]
        self.text_width = content.width()
        self.heights = heights[:len(self.shown)]
        for (sentence, colour), h in zip(sentences[:len(self.shown)], heights):
            p.setPen(colour)
            p.drawText(QRectF(content.left(), y, content.width(), h + 2), style.WRAP, sentence)
            y += h + 3
        p.end()


def fitting(texts: list[str], heights: list[float], top: float, bottom: float) -> int:
    """How many of ``texts`` (each ``heights[i]`` tall, 3 apart) fit between ``top`` and ``bottom``. A
    lead-in that ends with a colon ("It was served here because:") is left out with what it introduces,
    so the card never ends on a sentence that points at nothing."""
    n, y = 0, top
    while n < len(texts) and y + heights[n] <= bottom:
        y += heights[n] + 3
        n += 1
    while n and texts[n - 1].endswith(":"):
        n -= 1
    return n
