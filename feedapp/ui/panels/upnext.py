"""'Up next': the next clips (``engine.upcoming(8)``) with poster thumbnails, scores, and their moves.

After each view the list is re-read from the engine; rows slide from their old place to the new one
(driven by the panel's ~300 ms transition), new rows fade in, and an arrow says how far a clip moved.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPixmap, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from feedapp.core.model import Clip, QueueEntry
from feedapp.ui.panels import style
from feedapp.ui.panels.style import TopicColours, lerp

THUMB = QSize(23, 40)
ROW_H = 44
MIN_HEIGHT = 38 + 3 * ROW_H  # the card's title and three rows
COUNT = 8


class PosterCache:
    """Clip id -> thumbnail QPixmap, decoded from ``Clip.poster`` (JPEG) once and scaled once."""

    def __init__(self, size: QSize = THUMB, limit: int = 512, dpr: float = 1.0) -> None:
        self.size = size
        self.limit = limit
        self.dpr = dpr
        self._cache: OrderedDict[str, QPixmap | None] = OrderedDict()
        self.decoded = 0

    def get(self, clip: Clip) -> QPixmap | None:
        if clip.id in self._cache:
            self._cache.move_to_end(clip.id)
            return self._cache[clip.id]
        pm: QPixmap | None = None
        if clip.poster:
            raw = QPixmap()
            if raw.loadFromData(clip.poster):
                target = QSize(round(self.size.width() * self.dpr), round(self.size.height() * self.dpr))
                pm = raw.scaled(target, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                                Qt.TransformationMode.SmoothTransformation)
                pm.setDevicePixelRatio(self.dpr)
                self.decoded += 1
        self._cache[clip.id] = pm
        if len(self._cache) > self.limit:
            self._cache.popitem(last=False)
        return pm

    def set_dpr(self, dpr: float) -> None:
        """Thumbnails for a new device pixel ratio (or panel scale): decoded again when next asked for."""
        if abs(dpr - self.dpr) > 1e-3:
            self.dpr = dpr
            self._cache.clear()

    def __contains__(self, clip_id: str) -> bool:
        return clip_id in self._cache


class UpNextList(style.ScaledWidget):
    def __init__(self, colours: TopicColours, posters: PosterCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours = colours
        self.posters = posters
        self.entries: list[QueueEntry] = []
        self._old_index: dict[str, int] = {}
        self._moves: dict[str, int] = {}  # clip id -> places moved up (+) or down (-) since last time
        self._t = 1.0
        self.apply_scale()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("The clips the feed will most likely show next, best first. Score: how well each fits "
                        "what you watched. Chance: how likely it is to be picked for the next place (\u201cnext\u201d: "
                        "already chosen). Arrows: places it moved since your last view; they move because of "
                        "your views.")

    def apply_scale(self) -> None:
        self.setMinimumHeight(self.px(MIN_HEIGHT))
        self.posters.set_dpr(self.devicePixelRatioF() * self.ui_scale)
        for e in self.entries:  # decode thumbnails now, outside paintEvent
            self.posters.get(e.clip)

    def ids(self) -> list[str]:
        return [e.clip.id for e in self.entries]

    def moves(self) -> dict[str, int]:
        """Places each clip moved at the last update: +2 = two places up; new clips are absent."""
        return dict(self._moves)

    def set_entries(self, entries: list[QueueEntry], *, shift: int = 0) -> None:
        """Show ``entries``; ``shift`` = how many clips were consumed since the last update (a swipe
        forward moves everything up one place without that being a re-ranking)."""
        old = {cid: i - shift for i, cid in enumerate(self.ids())}
        self._old_index = old
        self.entries = list(entries)
        self._moves = {e.clip.id: old[e.clip.id] - i for i, e in enumerate(entries) if e.clip.id in old}
        for e in entries:  # decode thumbnails now, outside paintEvent
            self.posters.get(e.clip)
        self._t = 0.0
        self.update()

    def extend_entries(self, entries: list[QueueEntry]) -> None:
        """The catalog grew, nothing else changed: the rows shown keep their places (decided rows show
        what is decided now); clips not shown yet join at the bottom while there is room. No movement."""
        fresh = {e.clip.id: e for e in entries}
        decided = [e for e in entries if e.decided]
        kept = decided + [fresh.get(e.clip.id, e) for e in self.entries if not e.decided and e.clip.id not in {d.clip.id for d in decided}]
        ids = {e.clip.id for e in kept}
        kept += [e for e in entries if e.clip.id not in ids]
        kept = kept[:COUNT]
        self._old_index = {e.clip.id: i for i, e in enumerate(kept)}
        self._moves = {cid: m for cid, m in self._moves.items() if cid in self._old_index}
        self.entries = kept
        for e in kept:
            self.posters.get(e.clip)
        self._t = 1.0
        self.update()

    def set_progress(self, t: float) -> None:
        self._t = t
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        content = style.card(p, self.paint_rect(p), "Up next", "score \u00b7 chance")
        p.setClipRect(content.adjusted(-2, -2, 2, 2))
        rows_fit = max(1, int(content.height() // ROW_H))
        t = self._t
        for i, e in enumerate(self.entries[:COUNT]):
            old = self._old_index.get(e.clip.id)
            row = lerp(float(old), float(i), t) if old is not None and old >= 0 else float(i)
            if row > rows_fit - 0.5 and i >= rows_fit:
                continue
            y = content.top() + row * ROW_H
            opacity = 1.0 if old is not None else t
            p.setOpacity(max(0.15, opacity))
            self._paint_row(p, QRectF(content.left(), y, content.width(), ROW_H - 4), i, e)
        p.setOpacity(1.0)
        p.end()

    def _paint_row(self, p: QPainter, r: QRectF, i: int, e: QueueEntry) -> None:
        clip = e.clip
        topic = clip.topics[0] if clip.topics else ""
        colour = self.colours(topic)
        thumb = QRectF(r.left() + 18, r.top(), THUMB.width(), THUMB.height())
        p.setFont(style.font(12, True))
        p.setPen(style.MUTED)
        p.drawText(QRectF(r.left(), r.top(), 16, r.height()), style.LEFT, str(i + 1))
        pm = self.posters.get(clip)
        if pm is not None:
            src = QRectF(0, 0, pm.width(), pm.height())
            w_src = min(src.width(), src.height() * THUMB.width() / THUMB.height())
            src = QRectF((pm.width() - w_src) / 2, 0, w_src, pm.height())
            p.drawPixmap(thumb, pm, src)
        else:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(colour.darker(160))
            p.drawRoundedRect(thumb, 3, 3)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawRect(QRectF(thumb.left(), thumb.bottom() - 3, thumb.width(), 3))
        x = thumb.right() + 8
        right_w = 100.0
        move_w = 36.0  # the arrow and places moved, or "new"
        text_w = r.right() - right_w - x
        p.setFont(style.font(13, True))
        p.setPen(style.TEXT)
        p.drawText(QRectF(x, r.top() + 2, text_w, 18), style.LEFT, style.elide(p, clip.title, text_w))
        p.setFont(style.font(12))
        p.setPen(style.readable(colour))
        tags = " ".join(f"#{t}" for t in clip.topics)
        p.drawText(QRectF(x, r.top() + 22, text_w, 17), style.LEFT, style.elide(p, f"{tags}  @{clip.creator}", text_w))
        # score, chance, and the move since the last view
        p.setFont(style.font(13, True))
        p.setPen(style.TEXT)
        p.drawText(QRectF(r.right() - right_w, r.top() + 2, right_w - move_w, 18), style.RIGHT, f"{e.score:+.2f}")
        p.setFont(style.font(12))
        p.setPen(style.MUTED)
        chance = "next" if e.decided else (f"{e.propensity:.0%}" if e.propensity >= 0.005 else "<1%")
        p.drawText(QRectF(r.right() - right_w, r.top() + 22, right_w - move_w, 17), style.RIGHT, chance)
        moved = self._moves.get(clip.id)
        ax, ay = r.right() - move_w / 2 + 1, r.top() + 12
        if moved is None:
            p.setPen(style.ACCENT_TEXT)
            p.setFont(style.font(12, True))
            p.drawText(QRectF(r.right() - move_w + 2, r.top() + 22, move_w - 2, 17), style.CENTRE, "new")
        elif moved:
            up = moved > 0
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(style.GOOD if up else style.BAD)
            d = -5 if up else 5
            p.drawPolygon(QPolygonF([QPointF(ax - 5, ay - d / 2), QPointF(ax + 5, ay - d / 2), QPointF(ax, ay + d)]))
            p.setFont(style.font(12, True))
            p.setPen(style.GOOD if up else style.BAD)
            p.drawText(QRectF(r.right() - move_w + 2, r.top() + 22, move_w - 2, 17), style.CENTRE, f"{abs(moved)}")
        p.setPen(QColor(255, 255, 255, 18))
        p.drawLine(QPointF(r.left(), r.bottom() + 2), QPointF(r.right(), r.bottom() + 2))
