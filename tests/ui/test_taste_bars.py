"""'Your taste' with more topics than rows (the demo has 12 topics, the card 10 rows): the topics the
viewer has seen keep their rows; topics not seen yet (at 0) give theirs up first."""

from __future__ import annotations

from feedapp.ui.panels.profile import MAX_ROWS, ProfileBars
from feedapp.ui.panels.style import TopicColours

TOPICS = ["art", "cats", "city", "cooking", "games", "music", "nature", "ocean", "space", "sports", "tech", "weather"]


def test_skipped_topics_keep_their_rows_when_rows_run_out(qtbot):
    bars = ProfileBars(TopicColours())
    qtbot.addWidget(bars)
    affinities = {"cats": 0.48, "city": -0.64, "nature": -0.66, "tech": -0.67}  # cats watched, three skipped
    bars.set_profile(affinities, {"cats": 7, "city": 1, "nature": 1, "tech": 1}, TOPICS)
    assert len(TOPICS) > MAX_ROWS
    shown = bars.shown()
    assert len(shown) == MAX_ROWS and {"cats", "city", "nature", "tech"} <= set(shown)
    assert shown[0] == "cats" and shown[-3:] == ["city", "nature", "tech"]  # still best first
    assert list(bars.values()) == shown + [t for t in bars.values() if t not in shown]
    bars.set_profile({}, {}, TOPICS)  # a fresh profile: nothing seen, the first rows alphabetically
    assert bars.shown() == TOPICS[:MAX_ROWS]
