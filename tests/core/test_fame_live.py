"""The fame board's steppable simulation: same state however it is sliced, figures equal fame_report's."""

from __future__ import annotations

import numpy as np
import pytest

from feedapp.core.fame import gini, top_share
from feedapp.core.fame_live import NEWCOMER, LiveFame


def small(**kw) -> LiveFame:
    args = dict(viewers=5, views=24, creators=8, newcomer_at=8, seed=3)
    args.update(kw)
    return LiveFame(**args)


def test_the_state_does_not_depend_on_how_the_views_are_sliced():
    a, b = small(), small()
    while not a.done:
        a.advance(views=1)
    sizes = [37, 5, 1, 200, 13]
    i = 0
    while not b.done:
        b.advance(views=sizes[i % len(sizes)])
        i += 1
    assert a.views_done == b.views_done == a.total_views == 3 * 5 * 24
    for p in a.policies:
        ra, pa = a.rows_matrix(p)
        rb, pb = b.rows_matrix(p)
        assert ra.shape == (5, 24)
        assert np.array_equal(ra, rb) and np.array_equal(pa, pb)
    assert a.history == b.history


@pytest.mark.parametrize("rounds", [5, 8, 17, 24])
def test_figures_after_whole_rounds_equal_fame_report_on_the_same_rows(rounds):
    live = small()
    live.advance_rounds(rounds)
    assert live.rounds_done == rounds
    snap = live.snapshot()
    for p in live.policies:
        rep = live.report(p)  # feedapp.core.fame.fame_report on rows_matrix(p)
        fig = snap["policies"][p]
        assert round(fig["gini"], 4) == rep["gini"]
        assert round(fig["top10_share"], 4) == rep["top10_share"]
        by_name = {c["creator"]: c["impressions"] for c in rep["creators"]}
        assert dict(zip(snap["creators"], fig["impressions"])) == by_name
        assert sum(fig["impressions"]) == live.n_viewers * rounds
        if rounds > live.newcomer_at:
            nw = rep["newcomer"]
            assert round(fig["newcomer"]["share_after_arrival"], 4) == nw["share_after_arrival"]
            assert round(fig["newcomer"]["reach"], 4) == nw["reach"]
            assert round(fig["newcomer"]["fair_share"], 4) == nw["fair_share"]
        else:
            assert fig["newcomer"]["impressions"] == 0


def test_running_figures_use_fames_own_functions_mid_round():
    live = small()
    live.advance(views=2 * 15 + 7)  # in the middle of a round: counts include the partial round
    fig = live.snapshot()["policies"]["foryou"]
    imp = np.array(fig["impressions"], dtype=float)
    assert fig["gini"] == gini(imp) and fig["top10_share"] == top_share(imp, 0.1)


def test_the_newcomer_has_no_views_before_it_joins_and_no_followers():
    live = LiveFame(viewers=12, views=40, creators=10, newcomer_at=15, seed=1)
    live.advance_rounds(14)
    assert live.snapshot()["newcomer_arrived"] is False
    live.advance_rounds(1)
    snap = live.snapshot()
    assert snap["newcomer_arrived"] is True  # its clips are in the feed from the next view on
    for p in live.policies:
        assert snap["policies"][p]["newcomer"]["impressions"] == 0
    assert all(NEWCOMER not in eng.world.following for eng in live.lanes[1].engines if eng is not None)
    live.advance_rounds(25)
    snap = live.snapshot()
    new = {p: snap["policies"][p]["newcomer"] for p in live.policies}
    # foryou reserves a share of picks for creators a viewer has not seen: the newcomer is shown at once
    assert new["foryou"]["reach"] == 1.0
    assert new["foryou"]["share_after_arrival"] > new["popular"]["share_after_arrival"]
    assert new["foryou"]["share_after_arrival"] > new["following"]["share_after_arrival"]
    assert [h["foryou"][2] for h in live.history[:15]] == [0.0] * 15  # per-round share before it joined


def test_a_time_budget_bounds_one_step():
    live = small()
    ticks = iter(range(10**6))
    n = live.advance(budget_ms=4.0, clock=lambda: next(ticks) / 1000.0)  # a clock that moves 1 ms per read
    assert n == 4
    assert live.views_done == 4


def test_clear_errors():
    with pytest.raises(ValueError, match="no ranker called 'nope'"):
        LiveFame(policies=("foryou", "nope"))
    with pytest.raises(ValueError, match="newcomer_at must be between 1 and views - 1"):
        LiveFame(views=10, newcomer_at=10)
    with pytest.raises(ValueError, match="epsilon must be between 0 and 1"):
        LiveFame(params={"foryou": {"epsilon": 3}})
    with pytest.raises(ValueError, match="give views, budget_ms or both"):
        small().advance()
