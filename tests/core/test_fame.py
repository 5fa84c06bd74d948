"""Algorithmic fame: exposure figures by hand, on a seeded simulation, and through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from feedapp.commands.simulate import run_simulate_command
from feedapp.core.fame import add_newcomer, creators_catalog, fame_report, gini, lorenz, top_share
from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip
from feedapp.core.simulate import follows_of, simulate


def test_inequality_measures_by_hand():
    assert gini([5, 5, 5, 5]) == 0.0 and gini([0, 0, 0]) == 0.0
    assert gini([0, 0, 0, 8]) == pytest.approx(0.75)  # (n - 1) / n: one creator gets everything
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25)  # sum (2i - n - 1) x_i / (n sum x) = 10 / 40
    assert top_share([1] * 20) == pytest.approx(0.1) and top_share([10, 1, 1, 1, 1]) == pytest.approx(10 / 14)
    xs, ys = lorenz([0, 1, 3])
    assert xs == [0.0, 0.3333, 0.6667, 1.0] and ys == [0.0, 0.0, 0.25, 1.0]


def clip(i, creator):
    return Clip(f"c{i}", "", "", ("t",), creator, 5000, 30, 1, 1)


def test_fame_report_on_a_hand_made_log():
    # creators a (2 clips), b (1 clip), c (1 clip); 2 viewers x 6 views
    space = FeatureSpace([clip(0, "a"), clip(1, "a"), clip(2, "b"), clip(3, "c")])
    rows = np.array([[0, 1, 0, 1, 2, 2],
                     [0, 0, 1, 1, 2, 3]])
    play = np.full(rows.shape, 1000.0)
    f = fame_report(rows, play, space)
    by = {c["creator"]: c for c in f["creators"]}
    assert {k: by[k]["impressions"] for k in "abc"} == {"a": 8, "b": 3, "c": 1}
    assert by["a"]["watch_ms"] == 8000.0 and by["a"]["share"] == round(8 / 12, 4)
    assert by["a"]["fair_share"] == 0.5 and by["b"]["fair_share"] == 0.25
    # last third = views 4-5: b gets 3 of 4 impressions, 0.75 > 2 x 0.25 -> b broke out
    assert by["b"]["late_share"] == 0.75 and f["breakouts"] == ["b"]
    # first impression: a at view 0 for both; b at view 4 for both; c at 5 for viewer 2 only
    assert by["a"]["first_view"] == 0 and by["b"]["first_view"] == 4 and by["c"]["first_view"] == 5
    assert by["c"]["reach"] == 0.5
    assert f["gini"] == pytest.approx(gini([8, 3, 1]), abs=1e-4) and f["top10_share"] == round(8 / 12, 4)
    assert f["exposure_over_time"]["impressions"]["a"] == [8]  # one block of 10 views (only 6 here)
    assert f["newcomer"] is None


def test_newcomer_figures_by_hand():
    space = FeatureSpace([clip(0, "a"), clip(1, "a"), clip(2, "new")])
    rows = np.array([[0, 1, 0, 2, 1, 0],    # new at view 3: 0 views after arriving at 3
                     [1, 0, 1, 0, 1, 2]])   # new at view 5: 2 views after
    f = fame_report(rows, np.ones(rows.shape), space, newcomer="new", newcomer_at=3)
    nw = f["newcomer"]
    assert nw["views_until_first"] == 1.0 and nw["reach"] == 1.0  # median of 0 and 2
    assert nw["share_after_arrival"] == round(2 / 6, 4) and nw["fair_share"] == round(1 / 3, 4)


@pytest.fixture(scope="module")
def sim():
    cat = add_newcomer(creators_catalog(0, 12))
    return simulate(viewers=30, views=60, ranker="foryou", seed=0, catalog=cat, workers=2,
                    baselines=("following", "popular", "random"), newcomer="newcomer", newcomer_at=30)


def test_seeded_simulation_reports_the_creators_side(sim):
    assert set(sim["fame"]) == {"foryou", "following", "popular", "random"}
    for p, f in sim["fame"].items():
        total = sum(c["impressions"] for c in f["creators"])
        assert total == 30 * 60  # every impression belongs to one creator
        assert sum(c["share"] for c in f["creators"]) == pytest.approx(1.0, abs=1e-3)
        assert 0.0 <= f["gini"] < 1.0 and 1 / 13 <= f["top10_share"] <= 1.0
        new = f["exposure_over_time"]["impressions"]["newcomer"]
        assert new[:3] == [0, 0, 0] and sum(new) > 0  # nothing before view 30, then some
        assert f["newcomer"]["arrives_at_view"] == 30
        json.dumps(f)
    fy, rnd = sim["fame"]["foryou"]["newcomer"], sim["fame"]["random"]["newcomer"]
    # foryou's new-creator floor shows the newcomer to everybody at once; random gets there by chance
    assert fy["reach"] == 1.0 and fy["views_until_first"] == 0.0
    assert rnd["reach"] > 0.9 and rnd["views_until_first"] > fy["views_until_first"]
    # following keeps to the 2 creators each viewer follows: few viewers ever meet the newcomer
    assert sim["fame"]["following"]["newcomer"]["reach"] < 0.5


def test_seeded_simulation_is_reproducible():
    cat = add_newcomer(creators_catalog(0, 12))
    kw = dict(viewers=9, views=40, ranker="foryou", seed=0, catalog=cat, baselines=("following", "popular"),
              newcomer="newcomer", newcomer_at=20)
    one = simulate(**kw)
    assert simulate(workers=2, **kw)["fame"] == one["fame"]  # same shards, whatever runs them


def test_following_serves_followed_creators():
    cat = creators_catalog(1, 10)
    creators = sorted({c.creator for c in cat.clips})
    r = simulate(viewers=1, views=40, ranker="following", seed=3, catalog=cat, baselines=(), oracle=False)
    space = FeatureSpace(cat.clips)
    followed = set(follows_of(3 * 1_000_003, space.creators))
    by = {c["creator"]: c["impressions"] for c in r["fame"]["following"]["creators"]}
    assert sum(by[c] for c in followed) / 40 >= 0.85, (followed, by)
    assert set(creators) >= followed


def test_bad_newcomer_arguments():
    cat = add_newcomer(creators_catalog(0, 6))
    with pytest.raises(ValueError, match="no creator called 'nobody'"):
        simulate(viewers=2, views=10, catalog=cat, newcomer="nobody", newcomer_at=5)
    with pytest.raises(ValueError, match="newcomer_at must be between 1 and views - 1"):
        simulate(viewers=2, views=10, catalog=cat, newcomer="newcomer", newcomer_at=10)
    with pytest.raises(ValueError, match="already has a creator called 'newcomer'"):
        add_newcomer(cat)


def test_cli_reports_fame_as_json_text_and_charts(tmp_path, capsys):
    assert run_simulate_command(12, 40, "foryou", 1, as_json=True, progress=False,
                                compare=["following", "popular"], creators=10, newcomer_at=20) == 0
    rep = json.loads(capsys.readouterr().out)
    assert [p["ranker"] for p in rep["policies"]] == ["foryou", "following", "popular", "oracle"]
    assert set(rep["fame"]) == {"foryou", "following", "popular"} and rep["newcomer"]["creator"] == "newcomer"
    assert rep["catalog"]["creators"] == 11
    assert run_simulate_command(8, 30, "foryou", 1, progress=False) == 0
    text = capsys.readouterr().out
    assert "creators' side" in text and "gini" in text and "breakouts" in text
    pytest.importorskip("matplotlib")
    out = tmp_path / "charts"
    assert run_simulate_command(8, 30, "foryou", 1, progress=False, plot_dir=out) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["exposure_over_time.png", "learning_curves.png", "lorenz.png"]
    for p in out.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_the_whole_report_of_a_tiny_log_by_hand():
    # creators a (2 clips), b, c, d (1 clip each; d never served); 2 viewers x 3 views
    space = FeatureSpace([clip(0, "a"), clip(1, "a"), clip(2, "b"), clip(3, "c"), clip(4, "d")])
    rows = [[0, 2, 3], [1, 2, 2]]
    play = [[1000.27, 500, 0], [2000, 250, 250]]
    f = fame_report(rows, play, space)
    assert [c["creator"] for c in f["creators"]] == ["b", "a", "c", "d"]  # most impressions first, then by name
    by = {c["creator"]: c for c in f["creators"]}
    assert by["a"] == {"creator": "a", "clips": 2, "impressions": 2, "share": 0.3333, "fair_share": 0.4,
                       "late_share": 0.0, "watch_ms": 3000.3, "reach": 1.0, "first_view": 0.0, "broke_out": False}
    # the last third is view 2: c (viewer 1) and b (viewer 2), each 0.5 > 2 x 0.2
    assert by["b"] == {"creator": "b", "clips": 1, "impressions": 3, "share": 0.5, "fair_share": 0.2,
                       "late_share": 0.5, "watch_ms": 1000.0, "reach": 1.0, "first_view": 1.0, "broke_out": True}
    assert by["c"]["share"] == 0.1667 and by["c"]["reach"] == 0.5 and by["c"]["first_view"] == 2.0
    assert by["d"] == {"creator": "d", "clips": 1, "impressions": 0, "share": 0.0, "fair_share": 0.2,
                       "late_share": 0.0, "watch_ms": 0.0, "reach": 0.0, "first_view": None, "broke_out": False}
    assert f["breakouts"] == ["b", "c"]
    assert f["gini"] == 0.4167  # sorted 0, 1, 2, 3: (-3*0 - 1*1 + 1*2 + 3*3) / (4 * 6)
    assert f["gini_watch"] == round(gini([3000.27, 1000, 0, 0]), 4)  # c was watched for 0 ms
    assert f["top10_share"] == 0.5
    assert f["breakout_rule"] == ("share of impressions in the last third of views (views 2-2) > "
                                  "2 x the creator's share of catalog clips")
    assert f["lorenz"] == {"creators": [0.0, 0.25, 0.5, 0.75, 1.0], "impressions": [0.0, 0.0, 0.1667, 0.5, 1.0]}
    assert f["exposure_over_time"] == {"block": 10, "impressions": {"a": [2], "b": [3], "c": [1], "d": [0]}}


def test_breaking_out_needs_more_than_twice_the_fair_share():
    space = FeatureSpace([clip(0, "x"), clip(1, "y")])
    f = fame_report([[1, 1, 0]], [[1.0, 1.0, 1.0]], space)  # x has the whole last third: exactly 2 x 0.5
    by = {c["creator"]: c for c in f["creators"]}
    assert by["x"]["late_share"] == 1.0 and f["breakouts"] == []
    one = fame_report([[0]], [[5.0]], FeatureSpace([clip(0, "solo")]))  # fewer than 3 views: all are late
    assert one["creators"] == [{"creator": "solo", "clips": 1, "impressions": 1, "share": 1.0, "fair_share": 1.0,
                                "late_share": 1.0, "watch_ms": 5.0, "reach": 1.0, "first_view": 0.0,
                                "broke_out": False}]
    assert one["breakout_rule"].startswith("share of impressions in the last third of views (views 0-0)")


def test_exposure_is_counted_in_blocks_of_ten_views_and_the_newcomer_window_is_checked():
    space = FeatureSpace([clip(0, "a"), clip(1, "b")])
    rows = [[0] * 10 + [1, 0]]
    f = fame_report(rows, [[1.0] * 12], space, newcomer="b", newcomer_at=10)
    assert f["exposure_over_time"]["impressions"] == {"a": [10, 1], "b": [0, 1]}
    assert f["newcomer"] == {"creator": "b", "arrives_at_view": 10, "views_until_first": 0.0, "reach": 1.0,
                             "share_after_arrival": 0.5, "fair_share": 0.5}
    assert fame_report(rows, [[1.0] * 12], space, newcomer="b", newcomer_at=12)["newcomer"] is None
    assert fame_report(rows, [[1.0] * 12], space, newcomer="b", newcomer_at=-1)["newcomer"] is None
    assert fame_report(rows, [[1.0] * 12], space, newcomer="b", newcomer_at=0)["newcomer"]["arrives_at_view"] == 0
    never = fame_report([[0, 0, 0]], [[1.0] * 3], space, newcomer="b", newcomer_at=1)["newcomer"]
    assert never["views_until_first"] is None and never["reach"] == 0.0 and never["share_after_arrival"] == 0.0


def test_the_newcomer_copies_existing_clips_of_each_topic():
    """Per topic, the newcomer's k-th clip copies the topic's clip number 3k + 1 (cyclically): fixed, so
    a fame run is reproducible, and spread over the topic's clips rather than always its first."""
    cat = creators_catalog(0, 6)
    grown = add_newcomer(cat, per_topic=2)
    extra = grown.clips[len(cat.clips):]
    assert len(extra) == 2 * len(cat.topics())
    for t in cat.topics():
        same = [c for c in cat.clips if t in c.topics]
        for k in (0, 1):
            new = grown.get(f"newcomer-{t}-{k + 1}")
            src = same[(3 * k + 1) % len(same)]
            assert new.creator == "newcomer" and new.title == f"{t} by newcomer #{k + 1}"
            assert new.path == f"sim/newcomer-{t}-{k + 1}.mp4"
            assert (new.duration_ms, new.topics, new.features) == (src.duration_ms, src.topics, src.features)
    default = add_newcomer(cat, creator="nova")
    assert [c.id for c in default.clips[len(cat.clips):]] == [f"nova-{t}-1" for t in cat.topics()]


def test_inequality_edge_cases():
    assert gini([7]) == 0.0 and gini([]) == 0.0  # one creator: nobody to be unequal to
    assert gini([0.2, 0.6]) == pytest.approx((-1 * 0.2 + 1 * 0.6) / (2 * 0.8))  # amounts below 1 are amounts
    assert gini([True, False]) == pytest.approx(0.5)  # counted as 1 and 0
    assert top_share([]) == 0.0 and top_share([0, 0]) == 0.0
    assert top_share([3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]) == 1.0  # the top 10 % of 11 creators is 2 of them
    xs, ys = lorenz([0, 0])
    assert xs == ys == [0.0, 0.5, 1.0]  # nobody seen: the line of equality
    assert lorenz([0.6, 0.2]) == ([0.0, 0.5, 1.0], [0.0, 0.25, 1.0]) and top_share([0.5, 0.25]) == pytest.approx(2 / 3)


def test_shares_and_reach_are_rounded_to_four_places():
    space = FeatureSpace([clip(0, "a"), clip(1, "b"), clip(2, "n")])
    rows = [[0, 1, 2], [0, 1, 1], [1, 0, 0]]  # 3 viewers: n reached by one of them, at its arrival
    f = fame_report(rows, np.ones((3, 3)), space, newcomer="n", newcomer_at=2)
    by = {c["creator"]: c for c in f["creators"]}
    assert by["n"]["fair_share"] == 0.3333 and by["n"]["late_share"] == 0.3333 and by["n"]["reach"] == 0.3333
    assert f["newcomer"]["reach"] == 0.3333 and f["newcomer"]["share_after_arrival"] == 0.3333


def test_creators_catalog_has_the_named_creators_and_about_three_clips_each():
    small = creators_catalog(4, 1)
    assert len(small.clips) == 64 and small.creators() == ["creator01"]  # at least 64 clips
    big = creators_catalog(4, 30)  # 8 * ceil(90 / 8) = 96 clips
    assert len(big.clips) == 96 and sorted(big.creators()) == [f"creator{i:02d}" for i in range(1, 31)]
    assert len(creators_catalog(4, 22).clips) == 72  # 8 * ceil(66 / 8)
    assert [c.duration_ms for c in creators_catalog(4, 30).clips] == [c.duration_ms for c in big.clips]
    assert [c.duration_ms for c in creators_catalog(5, 30).clips] != [c.duration_ms for c in big.clips]
    with pytest.raises(ValueError, match="creators must be 1 or more, not 0"):
        creators_catalog(4, 0)
