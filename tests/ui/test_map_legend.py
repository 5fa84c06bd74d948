"""The interest map's legend names every topic or counts the ones it has no room for ("+3 more").

Seen at 1366x768: the demo's 12 topics, a legend of two rows, and #art, #games and #weather were left
out without a word while their dots were on the map."""

from __future__ import annotations

from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip
from feedapp.ui.panels.mapview import LEGEND_LINE, InterestMapView, place_legend
from feedapp.ui.panels.style import TopicColours

TOPICS = ["cats", "cooking", "sports", "nature", "music", "ocean", "tech", "city", "space", "art", "games", "weather"]


def test_place_legend_keeps_room_for_the_count():
    more = lambda n: 50  # noqa: E731
    assert place_legend([40] * 4, 0, 200, 0, 100, more) == ([(0, 0), (44, 0), (88, 0), (132, 0)], 0)
    placed, hidden = place_legend([40] * 6, 0, 200, 0, LEGEND_LINE, more)  # one row: 4 fit, 2 do not
    assert hidden == 3 and placed == [(0, 0), (44, 0), (88, 0)]  # the 4th gives way to "+3 more"
    assert 88 + 40 + 4 + 50 <= 200


def _map_view(qtbot) -> InterestMapView:  # noqa: ANN001
    """The map over 48 clips of the demo's 12 topics, two of them viewed."""
    clips = [Clip(f"c{i}", f"/c{i}.mp4", f"clip {i}", (TOPICS[i % 12],), f"maker{i % 5}", 5000 + 100 * i, 30.0,
                  540, 960, features=(float(i % 7), float(i % 3), 1.0, 0.5)) for i in range(48)]
    view = InterestMapView(TopicColours())
    qtbot.addWidget(view)
    view.set_state(FeatureSpace(clips), [0, 5], [0.5, -0.5], {0, 5}, 5)
    return view


def test_every_topic_is_named_or_counted(qtbot):
    view = _map_view(qtbot)
    counted = []
    for width, height in ((352, 212), (900, 400)):  # the card at 1366x768, and a wide one
        view.resize(width, height)
        view.grab()  # paints
        assert view.legend_shown == TOPICS[: len(view.legend_shown)]
        assert len(view.legend_shown) + view.legend_hidden == len(TOPICS)
        counted.append(view.legend_hidden)
    assert counted[0] > 0 and counted[1] == 0


def _ink(view: InterestMapView, rect) -> int:  # noqa: ANN001 - QRectF in design units
    """Pixels inside ``rect`` that differ from the card's background (what was drawn there)."""
    img = view.grab().toImage()
    k = view.ui_scale * img.devicePixelRatio()
    x0, y0 = int(rect.left() * k), int(rect.top() * k)
    x1, y1 = min(int(rect.right() * k), img.width() - 1), min(int(rect.bottom() * k), img.height() - 1)
    bg = img.pixelColor(x1, y0).rgb()  # the row's right end: background (the count is short)
    return sum(img.pixelColor(x, y).rgb() != bg for x in range(x0, x1) for y in range(y0, y1))


def test_the_count_is_drawn_even_when_no_topic_fits(qtbot):
    view = _map_view(qtbot)
    for width in (352, 120):  # the card at 1366x768: after the entries; too narrow for one entry: alone
        view.resize(width, 212)
        view.grab()
        assert view.legend_hidden > 0 and view.legend_more is not None
        assert _ink(view, view.legend_more) > 20, width  # "+N more" is really drawn there
    assert view.legend_shown == [] and view.legend_hidden == len(TOPICS)



def test_a_topic_named_after_a_long_folder_is_elided_not_left_out(qtbot):
    """`feedapp play` of folders named like a phone's exports: the first topic's name was wider than the legend's
    row, so the legend stopped at it and read "+2 more" with no topic at all. Now the long name is cut short."""
    long = "extremely long topic folder name from a phone export"
    topics = [long, "ünï cats"]
    clips = [Clip(f"c{i}", f"/c{i}.mp4", f"clip {i}", (topics[i % 2],), "", 5000, 30.0, 540, 960,
                  features=(float(i % 3), 1.0)) for i in range(6)]
    view = InterestMapView(TopicColours())
    qtbot.addWidget(view)
    view.set_state(FeatureSpace(clips), [0], [0.5], {0}, 1)
    view.resize(300, 212)  # one legend row, narrower than the long name
    view.grab()
    assert view.legend_shown == topics and view.legend_hidden == 0
