"""The "How it formed" chart before the first view: its note is readable, not struck through by a line."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QLineF, QPointF, QRectF
from PySide6.QtGui import QFontMetricsF, QPainter

from feedapp.ui.panels import style
from feedapp.ui.panels.profile import EMPTY_NOTE, HistoryChart
from feedapp.ui.panels.style import TopicColours


def _painted(monkeypatch, chart: HistoryChart) -> tuple[list[QRectF], list[float]]:
    """Paint the chart for real and record where the note's text and the horizontal lines went."""
    notes: list[QRectF] = []
    lines: list[float] = []
    draw_text, draw_line = QPainter.drawText, QPainter.drawLine

    def text(p, *args):  # noqa: ANN001, ANN002
        if len(args) >= 3 and args[2] == EMPTY_NOTE:
            notes.append(QRectF(args[0]))
        return draw_text(p, *args)

    def line(p, *args):  # noqa: ANN001, ANN002
        seg = QLineF(*args) if len(args) != 1 else QLineF(args[0])
        if abs(seg.y1() - seg.y2()) < 1e-6 and seg.length() > 50:  # a horizontal line across the plot
            lines.append(seg.y1())
        return draw_line(p, *args)

    monkeypatch.setattr(QPainter, "drawText", text)
    monkeypatch.setattr(QPainter, "drawLine", line)
    chart.grab()
    monkeypatch.undo()
    return notes, lines


@pytest.mark.parametrize(("size", "scale"), [((400, 190), 1.0), ((400, 150), 1.0), ((600, 300), 1.5), ((330, 170), 0.8)])
def test_the_empty_charts_note_crosses_no_line(qtbot, monkeypatch, size, scale):
    chart = HistoryChart(TopicColours())
    qtbot.addWidget(chart)
    chart.set_ui_scale(scale)
    chart.resize(*size)
    notes, lines = _painted(monkeypatch, chart)
    assert len(notes) == 1 and len(lines) == 4  # -0.5, 0, +1.0 and the dashed 0.3
    # the text is drawn centred in its rectangle, one line high (design units, as the painter's)
    mid, half = notes[0].center().y(), QFontMetricsF(style.font(13)).height() / 2
    for y in lines:
        assert not (mid - half <= y <= mid + half), (size, scale, mid, half, sorted(lines))
    plot = chart.plot_rect()
    assert plot.top() <= mid - half and mid + half <= plot.bottom()
    assert notes[0].contains(QPointF(plot.center().x(), mid))


def test_every_line_is_named_or_counted_in_the_legend(qtbot, monkeypatch):
    """Seven topics' lines on a panel-wide chart: the legend names the strongest that fit and counts the
    rest ("+3 more"); it named four and left three lines unnamed, with nothing saying so."""
    topics = ["cats", "music", "nature", "sports", "games", "cooking", "weather"]
    history = [{"topics": {t: (0.5 if t == "cats" else -0.1 * k) * min(1, v / 3) for k, t in enumerate(topics)},
                "topic_views": {t: 1 for t in topics}} for v in range(1, 10)]
    chart = HistoryChart(TopicColours())
    qtbot.addWidget(chart)
    chart.resize(400, 190)
    assert chart.set_history(history)
    texts: list[str] = []
    draw_text = QPainter.drawText

    def text(p, *args):  # noqa: ANN001, ANN002
        texts.extend(a for a in args if isinstance(a, str))
        return draw_text(p, *args)

    monkeypatch.setattr(QPainter, "drawText", text)
    chart.grab()
    monkeypatch.undo()
    named = [t for t in topics if f"#{t}" in texts]
    assert named and named == chart.legend_shown == topics[: len(named)]  # strongest first
    assert len(named) < len(topics) and f"+{len(topics) - len(named)} more" in texts
    assert chart.legend_hidden == len(topics) - len(named)
    chart.resize(1400, 190)  # room for all: nothing counted
    texts.clear()
    monkeypatch.setattr(QPainter, "drawText", text)
    chart.grab()
    monkeypatch.undo()
    assert chart.legend_shown == topics and chart.legend_hidden == 0 and not any("more" in t for t in texts)


def test_a_long_topic_name_is_elided_in_the_legend_not_hidden(qtbot):
    long = "extremely long topic folder name from a phone export"
    history = [{"topics": {long: 0.2 * v, "cats": -0.1}, "topic_views": {long: v, "cats": 1}} for v in range(1, 4)]
    chart = HistoryChart(TopicColours())
    qtbot.addWidget(chart)
    chart.resize(400, 190)
    chart.set_history(history)
    chart.grab()
    assert chart.legend_shown == [long, "cats"] and chart.legend_hidden == 0  # was [] and "+2 more"
