"""Painting helpers for what sits on top of the video: caption, progress bar, pause icon, toast, help.

They are plain functions drawing with a QPainter inside the swipe view's single ``paintEvent``
instead of child widgets: one paint per frame keeps the swipe animation cheap, and the caption
moves with its clip during a swipe for free.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QLinearGradient, QPainter, QPainterPath, QPen, QPolygonF

from feedapp.core.model import Clip

BACKGROUND = QColor(11, 11, 13)
ACCENT = QColor(254, 44, 85)
TEXT = QColor(245, 245, 245)
MUTED_TEXT = QColor(190, 190, 196)
KEY_TEXT = QColor(255, 120, 148)  # the accent, light enough to read on the dark veil (6:1)

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Down  /  J", "next clip"),
    ("Up  /  K", "previous clip"),
    ("Drag  /  scroll", "move between clips"),
    ("Space  /  click", "pause or play"),
    ("M", "sound on or off"),
    ("F", "full screen on or off"),
    ("?", "show or hide this help"),
    ("P", "taste panel on or off"),
    ("R", "refresh my feed"),
    ("L", "follow / unfollow this creator"),
    ("E  /  S", "end card  /  save it as PNG"),
    ("D  /  G", "developer panel  /  fame board"),
    ("Ctrl +  /  Ctrl \u2212", "larger  /  smaller panels"),
    ("Ctrl 0", "back to the usual size"),
    ("Esc", "close help or full screen"),
    ("Q", "quit"),
)


def _font(px: float, bold: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(max(7, int(px)))
    f.setBold(bold)
    return f


def _shadow_text(p: QPainter, rect: QRectF, flags: int, text: str, colour: QColor) -> None:
    """Text with a soft dark shadow so it stays readable over bright video."""
    p.setPen(QColor(0, 0, 0, 160))
    p.drawText(rect.translated(1, 1), flags, text)
    p.setPen(colour)
    p.drawText(rect, flags, text)


def caption(p: QPainter, clip: Clip, rect: QRectF) -> None:
    """@creator, title and #topics at the bottom-left of the clip's rectangle."""
    w = rect.width()
    pad = max(10.0, w * 0.04)
    size = max(12.0, min(40.0, w * 0.036))  # grows with the video's column (a projector, a zoom)
    lines: list[tuple[str, QFont, QColor]] = [
        (f"@{clip.creator}" if clip.creator else "", _font(size * 1.1, True), TEXT),
        (clip.title, _font(size), TEXT),
        (" ".join(f"#{t}" for t in clip.topics), _font(size * 0.95, True), MUTED_TEXT),
    ]
    lines = [line for line in lines if line[0]]
    line_h = size * 1.55
    bottom = rect.bottom() - pad - 8  # above the progress bar
    # a gentle gradient behind the caption
    grad_h = line_h * len(lines) + pad * 2
    grad_rect = QRectF(rect.left(), bottom - grad_h + pad, w, grad_h + pad + 8)
    g = QLinearGradient(grad_rect.topLeft(), grad_rect.bottomLeft())
    g.setColorAt(0.0, QColor(0, 0, 0, 0))
    g.setColorAt(1.0, QColor(0, 0, 0, 150))
    p.fillRect(grad_rect, g)
    y = bottom - line_h * len(lines)
    for text, font, colour in lines:
        p.setFont(font)
        r = QRectF(rect.left() + pad, y, w - 2 * pad, line_h)
        elided = p.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, int(r.width()))
        _shadow_text(p, r, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), elided, colour)
        y += line_h


def progress(p: QPainter, rect: QRectF, fraction: float) -> None:
    """A thin bar at the bottom edge of ``rect``: how far the current loop has played."""
    h = 3.0
    track = QRectF(rect.left(), rect.bottom() - h, rect.width(), h)
    p.fillRect(track, QColor(255, 255, 255, 60))
    done = QRectF(track.left(), track.top(), track.width() * max(0.0, min(1.0, fraction)), h)
    p.fillRect(done, QColor(255, 255, 255, 220))


def play_pause_icon(p: QPainter, rect: QRectF, paused: bool, opacity: float) -> None:
    """A big translucent play (when paused) or pause symbol in the middle."""
    if opacity <= 0.0:
        return
    s = min(rect.width(), rect.height()) * 0.16
    c = rect.center()
    p.save()
    p.setOpacity(opacity)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(0, 0, 0, 110))
    p.drawEllipse(c, s, s)
    p.setBrush(QColor(255, 255, 255, 230))
    if paused:
        tri = QPolygonF([QPointF(c.x() - s * 0.32, c.y() - s * 0.45), QPointF(c.x() - s * 0.32, c.y() + s * 0.45),
                         QPointF(c.x() + s * 0.5, c.y())])
        p.drawPolygon(tri)
    else:
        bw, bh = s * 0.2, s * 0.9
        p.drawRoundedRect(QRectF(c.x() - s * 0.32, c.y() - bh / 2, bw, bh), 2, 2)
        p.drawRoundedRect(QRectF(c.x() + s * 0.12, c.y() - bh / 2, bw, bh), 2, 2)
    p.restore()


def pill(p: QPainter, rect: QRectF, text: str, *, top: float, opacity: float = 1.0, accent: bool = False) -> float:
    """A rounded message box centred near the top (toasts, progress of the demo maker, mute state);
    returns where it ends (``top`` when there is nothing to show), so the next one goes below it."""
    if not text or opacity <= 0.0:
        return rect.top() + top
    size = max(11.0, min(28.0, rect.width() * 0.03))
    p.save()
    p.setOpacity(opacity)
    p.setFont(_font(size))
    fm = p.fontMetrics()
    max_w = rect.width() * 0.86
    flags = int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)
    br = fm.boundingRect(0, 0, int(max_w), 1000, flags, text)
    box = QRectF(0, 0, br.width() + 28, br.height() + 16)
    box.moveCenter(QPointF(rect.center().x(), rect.top() + top + box.height() / 2))
    path = QPainterPath()
    path.addRoundedRect(box, 12, 12)
    p.fillPath(path, QColor(20, 20, 24, 225))
    if accent:
        p.setPen(QPen(ACCENT, 1.5))
        p.drawPath(path)
    p.setPen(TEXT)
    p.drawText(box, flags, text)
    p.restore()
    return box.bottom()


def message_top(height: float) -> float:
    """Where toasts and status lines start: below the top fifth, where clips carry their own title
    (the demo clips' caption band), and away from the caption at the bottom."""
    return max(18.0, height * 0.22)


def help_layout(width: float, height: float) -> tuple[float, float, float]:
    """(font px, key column width, action column width) for the shortcut list: as large as reads well
    (up to 22 px) while every row fits the width and every line the height; never cut off."""
    size = max(12.0, min(40.0, width * 0.036))
    while True:
        key_font, action_font = _font(size, True), _font(size)
        kw = max(QFontMetricsF(key_font).horizontalAdvance(k) for k, _ in SHORTCUTS) + 2
        aw = max(QFontMetricsF(action_font).horizontalAdvance(a) for _, a in SHORTCUTS) + 2
        fits_w = kw + aw + size * 1.2 <= width - 16
        fits_h = size * 2.0 * (len(SHORTCUTS) + 2.6) <= height - 8
        if (fits_w and fits_h) or size <= 7:
            return size, kw, aw
        size -= 0.5


def help_overlay(p: QPainter, rect: QRectF) -> None:
    """The keyboard shortcuts, on a dark veil over the video; sized so that no line is cut off."""
    p.fillRect(rect, QColor(0, 0, 0, 215))
    w = rect.width()
    size, kw, aw = help_layout(w, rect.height())
    row_h = size * 2.0
    gap = size * 1.2
    total_h = row_h * (len(SHORTCUTS) + 2.6)
    y = rect.top() + max(4.0, (rect.height() - total_h) / 2)
    p.setFont(_font(size * 1.3, True))
    p.setPen(TEXT)
    p.drawText(QRectF(rect.left(), y, w, row_h * 1.4), int(Qt.AlignmentFlag.AlignCenter), "Keyboard shortcuts")
    y += row_h * 1.6
    left = rect.left() + max(8.0, (w - kw - gap - aw) / 2)
    col = left + kw + gap
    for key, action in SHORTCUTS:
        p.setFont(_font(size, True))
        p.setPen(KEY_TEXT)
        p.drawText(QRectF(left, y, kw, row_h), int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), key)
        p.setFont(_font(size))
        p.setPen(TEXT)
        p.drawText(QRectF(col, y, aw, row_h), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), action)
        y += row_h
    p.setFont(_font(size * 0.9))
    p.setPen(MUTED_TEXT)
    p.drawText(QRectF(rect.left(), y + row_h * 0.2, w, row_h), int(Qt.AlignmentFlag.AlignCenter), "Press ? or Esc to close")


def full_message(p: QPainter, rect: QRectF, title: str, body: str) -> None:
    """A friendly full-window screen (nothing to play yet, or nothing playable)."""
    p.fillRect(rect, BACKGROUND)
    w = rect.width()
    pad = max(20.0, w * 0.08)
    size = max(13.0, min(20.0, w * 0.04))
    p.setFont(_font(size * 1.3, True))
    p.setPen(TEXT)
    flags = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap)
    title_rect = QRectF(rect.left() + pad, rect.top() + rect.height() * 0.3, w - 2 * pad, size * 5)
    used = p.fontMetrics().boundingRect(title_rect.toRect(), flags, title)
    p.drawText(title_rect, flags, title)
    p.setFont(_font(size))
    p.setPen(MUTED_TEXT)
    body_rect = QRectF(rect.left() + pad, used.bottom() + size * 1.5, w - 2 * pad, rect.bottom() - used.bottom())
    p.drawText(body_rect, flags, body)


def failed_clip(p: QPainter, rect: QRectF) -> None:
    """What a clip that could not be played looks like while it is skipped."""
    p.fillRect(rect, QColor(24, 24, 28))
    p.setFont(_font(max(12.0, rect.width() * 0.035)))
    p.setPen(MUTED_TEXT)
    p.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), "This clip could not be played")
