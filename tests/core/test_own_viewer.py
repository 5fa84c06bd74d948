"""A simulated viewer of one's own: ``reward.view_of`` measures a view by the player's rules, and the
example in docs/rankers.md ("Your own simulated viewer") runs as printed and learns the taste."""

from __future__ import annotations

import contextlib
import io
import math
import re
from pathlib import Path

import pytest

from feedapp.core.model import Clip
from feedapp.core.reward import SKIP_THRESHOLD_MS, ViewError, compute_reward, is_skip, view_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "rankers.md"


def clip(duration_ms: int) -> Clip:
    return Clip(id="c1", path="c1.mp4", title="c1", topics=("cats",), creator="mila", duration_ms=duration_ms,
                fps=30.0, width=540, height=960)


def test_a_quick_leave_is_a_skip_with_no_loop() -> None:
    v = view_of(clip(20_000), 1200)
    assert (v.clip_id, v.play_ms, v.loops, v.skipped, v.dwell_ms) == ("c1", 1200, 0, True, 1200)
    assert v.exit == "swipe_next" and not v.liked and not v.not_interested and v.position is None


def test_a_short_clip_watched_to_its_end_is_not_a_skip_however_short() -> None:
    v = view_of(clip(2000), 2000)  # under the 3 s threshold, but the whole clip
    assert (v.loops, v.skipped) == (1, False)
    left = view_of(clip(2000), 1999)  # one millisecond before its end: a skip
    assert (left.loops, left.skipped) == (0, True)


def test_loops_count_completed_plays() -> None:
    v = view_of(clip(4000), 10_500)
    assert (v.loops, v.skipped) == (2, False)
    assert compute_reward(v, 4000).parts[-1][0] == "loops"  # a loop after the first play earns the bonus


def test_a_long_clip_left_after_the_threshold_is_not_a_skip() -> None:
    assert view_of(clip(30_000), SKIP_THRESHOLD_MS).skipped is False
    assert view_of(clip(30_000), SKIP_THRESHOLD_MS - 1).skipped is True


def test_the_threshold_and_the_other_fields_are_taken_as_given() -> None:
    v = view_of(clip(30_000), 4000, threshold_ms=5000, paused_ms=2500, liked=True, not_interested=True,
                exit="quit", position=7)
    assert (v.skipped, v.dwell_ms, v.paused_ms, v.liked, v.not_interested, v.exit, v.position) == (
        True, 6500, 2500, True, True, "quit", 7)
    assert view_of(clip(30_000), 4000, dwell_ms=9000).dwell_ms == 9000


def test_it_agrees_with_the_skip_rule_everywhere() -> None:
    for duration in (1, 999, 2000, 3000, 3001, 15_000):
        for play in (0, 1, 998, 1000, 1999, 2000, 2999, 3000, 3001, 6000, 45_000):
            v = view_of(clip(duration), play)
            assert v.loops == play // duration
            assert v.skipped == is_skip(play, v.loops, duration, SKIP_THRESHOLD_MS), (duration, play)


def test_a_clip_that_could_not_play_is_never_a_skip() -> None:
    assert view_of(clip(20_000), 0, exit="auto_skip").skipped is False


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "3000", None])
def test_an_impossible_play_time_is_one_clear_error(bad) -> None:
    with pytest.raises(ViewError, match=r"view of clip 'c1': play_ms must be a finite number of 0 or more"):
        view_of(clip(20_000), bad)
    with pytest.raises(ViewError, match=r"view of clip 'c1': paused_ms must be a finite number"):
        view_of(clip(20_000), 1000, paused_ms=bad)


def _example() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Your own simulated viewer", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_documented_example_runs_and_learns_the_taste() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_example(), str(DOC), "exec"), {"__name__": "example"})  # noqa: S102 - our own docs
    printed = out.getvalue()
    share = float(re.search(r"#cats in views 31-60: (\d+)%", printed).group(1)) / 100
    assert share >= 0.5  # chance is 1 in 8: the feed learned the cat lover within 30 views
    assert "taste: ['cats'" in printed
    first = re.search(r"first pick: ([0-9.e-]+) ", printed)
    assert first is not None and 0 < float(first.group(1)) <= 1
