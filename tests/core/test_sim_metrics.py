"""The simulation metrics compute what docs/rankers.md ("Honest metrics") says, on hand-made runs."""

from __future__ import annotations

import pytest

from feedapp.core.sim_metrics import Trace, recover_summary, recover_views, summarise


def trace(liked, **kw) -> Trace:
    n = len(liked)
    t = Trace(liked=list(liked), play_ms=kw.get("play", [1000] * n), explore=kw.get("explore", [False] * n),
              scripted=kw.get("scripted", [False] * n), new_creator=kw.get("new", [False] * n),
              short=kw.get("short", [False] * n), creators=set(kw.get("creators", {"a"})),
              switched_at=kw.get("switched_at"))
    return t


def test_liked_after_20_is_views_21_to_30_and_blocks_are_20_views():
    liked = [False] * 20 + [True] * 7 + [False] * 3 + [True] * 30 + [False] * 40
    s = summarise([trace(liked)], oracle_play_ms=None, n_creators=1, views=100)
    assert s["liked_after_20"] == 0.7
    assert s["liked_blocks"] == [0.0, 0.85, 1.0, 0.0, 0.0]


def test_flagged_exploration_counts_flags_not_disliked_clips_and_leaves_out_scripted_slots():
    n = 100
    explore = [i % 20 == 0 for i in range(n)]  # every 20th pick flagged
    scripted = [i < 3 for i in range(n)]
    s = summarise([trace([False] * n, explore=explore, scripted=scripted)], oracle_play_ms=None, n_creators=1, views=n)
    assert s["explored_after_50"] == pytest.approx(2 / 50)  # indices 60 and 80 flagged
    assert s["off_taste_after_50"] == 1.0  # what the old "explore_after_50" reported


def test_scripted_slots_are_not_ranker_picks():
    s = summarise([trace([True] * 60, explore=[True] * 60, scripted=[True] * 55 + [False] * 5)],
                  oracle_play_ms=None, n_creators=1, views=60)
    assert s["explored_after_50"] == 1.0  # 5 of the 5 ranker picks after view 50
    s = summarise([trace([True] * 60, explore=[True] * 60, scripted=[True] * 60)], oracle_play_ms=None, n_creators=1, views=60)
    assert s["explored_after_50"] is None


def test_watch_vs_oracle_new_creators_short_share_and_creators_shown():
    a = trace([True] * 60, play=[2000] * 60, new=[i % 10 == 0 for i in range(60)], short=[True] * 30 + [False] * 30,
              creators={"a", "b"})
    b = trace([True] * 60, play=[1000] * 60, creators={"c"})
    s = summarise([a, b], oracle_play_ms=360000.0, n_creators=8, views=60)
    assert s["watch_vs_oracle"] == 0.5
    assert s["new_creator_after_50"] == pytest.approx(1 / 20)  # view 50 of viewer a, of 20 views after 50
    assert s["short_share"] == 0.25
    assert s["creators_shown"] == pytest.approx(3 / 8)


def test_recovery_counts_views_after_the_switch_until_7_of_the_last_10_are_liked():
    fast = trace([True] * 50 + [True] * 20, switched_at=50)  # liked again at once: 7 views is the fastest
    assert recover_views(fast) == 7
    slow = trace([True] * 50 + [False] * 5 + [True] * 15, switched_at=50)
    assert recover_views(slow) == 12
    never = trace([True] * 50 + [True, False] * 10, switched_at=50)  # 5 of 10: never recovered
    assert recover_views(never) is None
    assert recover_views(trace([True] * 10)) is None
    assert recover_summary([fast, slow, never]) == (12.0, pytest.approx(2 / 3))
    assert recover_summary([fast, never, never])[0] is None  # most never recovered: no median


def test_the_mean_over_seeds_is_none_where_a_seed_could_not_measure():
    from feedapp.core.sim_bench import mean_reports

    def rep(seed, liked, recover, blocks):
        row = {"ranker": "foryou", "liked_after_20": liked, "recover_median": recover, "liked_blocks": blocks}
        return {"seed": seed, "policies": [row], "chance": {**row, "ranker": "random"}, "oracle": None,
                "catalog": {"clips": 64, "liked_share": 0.1 * (seed + 1), "short_share": 0.5}}

    m = mean_reports([rep(0, 0.6, 10.0, [0.2, 0.4]), rep(1, 0.8, None, [0.4, 0.6])])
    p = m["policies"][0]
    assert p["ranker"] == "foryou" and p["liked_after_20"] == 0.7 and p["liked_blocks"] == [0.3, 0.5]
    assert p["recover_median"] is None  # seed 1: most viewers never recovered; not the mean of seed 0 alone
    assert m["seeds"] == [0, 1] and m["catalog"]["liked_share"] == 0.15
