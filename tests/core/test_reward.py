"""The reward table: duration-debiased watch quantile, skips, loops, revisits, explicit signals."""

from __future__ import annotations

import math

import pytest

from feedapp.core.model import View
from feedapp.core.reward import (
    DurationQuantiles,
    RewardConfig,
    ViewError,
    compute_reward,
    prior_cdf,
    typical_play_s,
)


def view(play_ms: int, **kw) -> View:
    kw.setdefault("dwell_ms", play_ms + 200)
    return View(clip_id="c", play_ms=play_ms, **kw)


# (clip seconds, played seconds, skipped, loops, sign of the reward)
TABLE = [
    (6, 6.0, False, 1, +1),  # short clip watched to the end: positive
    (30, 6.0, False, 0, -1),  # long clip left after 6 s: negative
    (30, 30.0, False, 1, +1),  # long clip watched to the end: positive
    (10, 1.5, True, 0, -1),  # quick skip
    (4, 12.0, False, 3, +1),  # short clip looped
    (20, 2.0, True, 0, -1),
    (15, 14.0, False, 0, +1),
]


@pytest.mark.parametrize("dur_s, play_s, skipped, loops, sign", TABLE)
def test_reward_sign_table(dur_s, play_s, skipped, loops, sign):
    r = compute_reward(view(int(play_s * 1000), skipped=skipped, loops=loops), dur_s * 1000)
    assert math.copysign(1, r.value) == sign, (dur_s, play_s, r)
    assert -2.0 <= r.value <= 2.0


def test_duration_debiasing_six_seconds_means_different_things():
    full_short = compute_reward(view(6000, loops=1), 6000).value
    part_long = compute_reward(view(6000), 30000).value
    assert full_short > 0 > part_long
    # the same 6 s of play is worth more on a short clip than on a long one, whatever the lengths
    for short, long in [(5000, 20000), (8000, 25000), (4000, 30000)]:
        assert compute_reward(view(4000), short).value > compute_reward(view(4000), long).value


def test_quick_skip_is_negative_even_if_quantile_is_high():
    # a 2 s clip played 2.5 s would be a full watch, but the viewer flagged it as skipped
    r = compute_reward(view(2500, skipped=True), 2000)
    assert r.value <= -RewardConfig().skip_penalty
    assert dict(r.parts)["skip"] < 0


def test_loops_revisit_like_add_and_not_interested_overrides():
    base = compute_reward(view(8000, loops=1), 8000).value
    looped = compute_reward(view(8000, loops=3), 8000).value
    assert looped == pytest.approx(base + 2 * RewardConfig().loop_bonus)
    assert compute_reward(view(8000, loops=1, revisit=True), 8000).value == pytest.approx(base + 0.5)
    assert compute_reward(view(3000), 20000).value + 1.0 == pytest.approx(
        compute_reward(view(3000, liked=True), 20000).value
    )
    assert compute_reward(view(30000, loops=1, liked=True, not_interested=True), 30000).value == -2.0


def test_reward_is_monotone_in_play_time_for_a_fixed_length():
    values = [compute_reward(view(ms), 15000).value for ms in range(0, 45001, 1500)]
    assert all(b >= a for a, b in zip(values, values[1:]))


def test_prior_median_is_typical_play():
    for d in (4, 6, 10, 20, 30):
        assert prior_cdf(typical_play_s(d), d) == pytest.approx(0.5)
    assert typical_play_s(6) <= 6 and typical_play_s(30) < 15


def test_quantiles_learn_what_is_typical_for_this_viewer():
    q = DurationQuantiles(prior_weight=5)
    before = q.quantile(6000, 6000)
    for _ in range(200):  # this population always watches 6 s clips three times
        q.observe(18000, 6000)
    after = q.quantile(6000, 6000)
    assert after < before and after < 0.1  # one watch is now *less* than typical
    assert q.quantile(30000, 6000) > 0.9
    # other duration buckets are untouched
    assert q.quantile(10000, 30000) == pytest.approx(DurationQuantiles(prior_weight=5).quantile(10000, 30000))


def test_quantile_window_bounds_memory():
    q = DurationQuantiles(window=50)
    for i in range(500):
        q.observe(1000 + i, 6000)
    assert q.count() == 50


@pytest.mark.parametrize(
    "bad",
    [
        dict(dwell_ms=-1, play_ms=100),
        dict(dwell_ms=100, play_ms=-5),
        dict(dwell_ms=100, play_ms=100, loops=-1),
        dict(dwell_ms=float("nan"), play_ms=100),
        dict(dwell_ms=100, play_ms=float("inf")),
    ],
)
def test_impossible_views_are_a_clear_error(bad):
    with pytest.raises(ViewError, match="must be"):
        compute_reward(View(clip_id="c", **bad), 10000)


def test_absurd_but_possible_views_are_capped():
    r = compute_reward(view(10**12, loops=10**6), 5000)
    assert math.isfinite(r.value) and r.value <= 2.0
    # a clip with a broken duration still gets a finite reward
    for dur in (0, -5, float("nan")):
        assert math.isfinite(compute_reward(view(3000), dur).value)


def test_bad_quantile_settings_are_errors():
    with pytest.raises(ValueError):
        DurationQuantiles(prior_weight=-1)
    with pytest.raises(ValueError):
        DurationQuantiles(window=0)


# -- exact values (the documented formulas, recomputed here), so a changed constant or sign fails ------------

def _prior(play_s: float, dur_s: float) -> float:
    median = min(max(dur_s, 0.5), 3.0 + 0.35 * max(dur_s, 0.5))
    return 1.0 / (1.0 + (play_s / median) ** -2.5) if play_s > 0 else 0.0


def test_prior_is_the_documented_log_logistic():
    assert typical_play_s(6.0) == pytest.approx(5.1)  # min(6, 3 + 0.35 * 6)
    assert typical_play_s(1.0) == 1.0 and typical_play_s(0.1) == 0.5  # very short clips count as 0.5 s
    for play_s, dur_s in [(0.5, 6.0), (3.0, 6.0), (12.0, 30.0), (0.3, 0.2)]:
        assert prior_cdf(play_s, dur_s) == pytest.approx(_prior(play_s, dur_s), rel=1e-12)
    assert prior_cdf(0.5, 6.0) > 0.0 and prior_cdf(0.0, 6.0) == 0.0


def test_reward_parts_are_exact_and_add_up_to_the_value():
    r = compute_reward(view(3000, loops=2, revisit=True), 12000)
    q = _prior(3.0, 12.0)
    assert r.quantile == pytest.approx(q, rel=1e-12)
    assert [name for name, _ in r.parts] == ["watch", "loops", "revisit"]
    assert [v for _, v in r.parts] == pytest.approx([2 * q - 1, 0.1, 0.5])
    assert r.value == pytest.approx(2 * q - 1 + 0.1 + 0.5)
    r = compute_reward(view(9000, liked=True, not_interested=True), 10000)
    assert [name for name, _ in r.parts] == ["watch", "like", "not_interested"]
    assert sum(v for _, v in r.parts) == pytest.approx(r.value) and r.value == -2.0


def test_a_skip_ends_at_the_penalty_below_a_non_positive_watch():
    r = compute_reward(view(2500, skipped=True), 2000)  # a full watch flagged as skipped
    assert r.value == pytest.approx(-RewardConfig().skip_penalty)
    r = compute_reward(view(500, skipped=True, loops=3), 20000)  # skipped: loops earn nothing
    assert [name for name, _ in r.parts] == ["watch", "skip"]
    assert r.value == pytest.approx(2 * _prior(0.5, 20.0) - 1 - 0.5)


def test_loops_count_from_the_second_completed_play():
    assert [n for n, _ in compute_reward(view(8000, loops=1), 8000).parts] == ["watch"]
    assert dict(compute_reward(view(16000, loops=2), 8000).parts)["loops"] == pytest.approx(0.1)
    big = RewardConfig(loop_bonus=1.0, max_loop_bonus=5000.0)  # the loop count itself is capped at 1000
    assert dict(compute_reward(view(8000, loops=5000), 8000, config=big).parts)["loops"] == 1000.0


def test_the_reward_is_clipped_to_plus_minus_two():
    assert compute_reward(view(30000, loops=5, revisit=True, liked=True), 10000).value == 2.0
    assert compute_reward(view(9000, not_interested=True), 10000,
                          config=RewardConfig(not_interested_reward=-3.0)).value == -2.0


def test_a_broken_duration_counts_as_one_second():
    ref = compute_reward(view(700), 1000)
    for dur in (0, -5, float("nan")):
        assert compute_reward(view(700), dur) == ref
    tiny = compute_reward(view(10), 1)  # 1 ms is a length (no fallback); play is capped at 20 x 1 ms
    assert tiny.quantile == pytest.approx(_prior(0.01, 0.001), rel=1e-12)


def test_quantile_blends_the_prior_and_the_mid_rank_exactly():
    q = DurationQuantiles()  # prior worth 20 views
    prior = _prior(4.0, 12.0)
    assert q.quantile(4000, 12000) == pytest.approx((20 * prior + 0.5) / 21.0, rel=1e-12)
    for ratio in (0.2, 0.5, 0.5, 0.8):
        q.observe(ratio * 12000, 12000)
    # 1 play below 0.5, 2 tied: mid-rank 1 + 0.5 * 2 = 2
    assert q.quantile(6000, 12000) == pytest.approx((20 * _prior(6.0, 12.0) + 2 + 0.5) / 25.0, rel=1e-12)
    empirical = DurationQuantiles(prior_weight=0)  # 0 is allowed: the viewer's own plays only
    for ratio in (0.2, 0.5, 0.5, 0.8):
        empirical.observe(ratio * 12000, 12000)
    assert empirical.quantile(6000, 12000) == pytest.approx(0.5)
    assert DurationQuantiles(prior_weight=0.5).prior_weight == 0.5


def test_a_clip_of_unknown_length_is_ranked_by_play_time():
    q = DurationQuantiles(prior_weight=0)
    q.observe(300, 0)
    assert q.quantile(200, 0) < 0.5 < q.quantile(400, 0)


def test_default_window_and_the_smallest_window():
    q = DurationQuantiles()
    for i in range(2001):
        q.observe(1000 + i, 6000)
    assert q.count() == 2000
    one = DurationQuantiles(window=1)
    one.observe(1000, 6000)
    one.observe(2000, 6000)
    assert one.count() == 1


def test_bad_quantile_settings_say_what_is_wrong():
    with pytest.raises(ValueError, match="prior_weight must be a finite number >= 0"):
        DurationQuantiles(prior_weight=float("inf"))
    with pytest.raises(ValueError, match="window must be 1 or more"):
        DurationQuantiles(window=0)
