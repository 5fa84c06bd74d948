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
    return simulate(viewers=60, views=60, ranker="foryou", seed=0, catalog=cat, method="lockstep",
                    baselines=("following", "popular", "random"), newcomer="newcomer", newcomer_at=30)


def test_seeded_simulation_reports_the_creators_side(sim):
    assert set(sim["fame"]) == {"foryou", "following", "popular", "random"}
    for p, f in sim["fame"].items():
        total = sum(c["impressions"] for c in f["creators"])
        assert total == 60 * 60  # every impression belongs to one creator
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


def test_seeded_simulation_is_reproducible(sim):
    cat = add_newcomer(creators_catalog(0, 12))
    again = simulate(viewers=60, views=60, ranker="foryou", seed=0, catalog=cat, method="lockstep",
                     baselines=("following", "popular", "random"), newcomer="newcomer", newcomer_at=30)
    assert again["fame"] == sim["fame"]


def test_following_serves_followed_creators_in_both_simulators():
    cat = creators_catalog(1, 10)
    creators = sorted({c.creator for c in cat.clips})
    for method in ("lockstep", "engine"):
        r = simulate(viewers=1, views=40, ranker="following", seed=3, catalog=cat, method=method, baselines=(),
                     oracle=False)
        space = FeatureSpace(cat.clips)
        followed = set(follows_of(3 * 1_000_003, space.creators))
        by = {c["creator"]: c["impressions"] for c in r["fame"]["following"]["creators"]}
        assert sum(by[c] for c in followed) / 40 >= 0.85, (method, followed, by)
        assert set(creators) >= followed


def test_engine_and_lockstep_agree_on_the_newcomer_under_foryou():
    cat = add_newcomer(creators_catalog(0, 12))
    out = {}
    for method in ("lockstep", "engine"):
        r = simulate(viewers=24, views=50, ranker="foryou", seed=2, catalog=cat, method=method, baselines=(),
                     oracle=False, newcomer="newcomer", newcomer_at=25)
        out[method] = r["fame"]["foryou"]
    for m in out.values():
        assert m["exposure_over_time"]["impressions"]["newcomer"][:2] == [0, 0]
        assert m["newcomer"]["reach"] == 1.0
    assert abs(out["lockstep"]["gini"] - out["engine"]["gini"]) < 0.05
    assert abs(out["lockstep"]["newcomer"]["share_after_arrival"] - out["engine"]["newcomer"]["share_after_arrival"]) < 0.05


def test_bad_newcomer_arguments():
    cat = add_newcomer(creators_catalog(0, 6))
    with pytest.raises(ValueError, match="no creator called 'nobody'"):
        simulate(viewers=2, views=10, catalog=cat, newcomer="nobody", newcomer_at=5)
    with pytest.raises(ValueError, match="newcomer_at must be between 1 and views - 1"):
        simulate(viewers=2, views=10, catalog=cat, newcomer="newcomer", newcomer_at=10)
    with pytest.raises(ValueError, match="already has a creator called 'newcomer'"):
        add_newcomer(cat)


def test_cli_reports_fame_as_json_text_and_charts(tmp_path, capsys):
    assert run_simulate_command(30, 40, "foryou", 1, as_json=True, progress=False,
                                compare=["following", "popular"], creators=10, newcomer_at=20) == 0
    rep = json.loads(capsys.readouterr().out)
    assert [p["ranker"] for p in rep["policies"]] == ["foryou", "following", "popular", "oracle"]
    assert set(rep["fame"]) == {"foryou", "following", "popular"} and rep["newcomer"]["creator"] == "newcomer"
    assert rep["catalog"]["creators"] == 11
    assert run_simulate_command(20, 30, "foryou", 1, progress=False) == 0
    text = capsys.readouterr().out
    assert "creators' side" in text and "gini" in text and "breakouts" in text
    pytest.importorskip("matplotlib")
    out = tmp_path / "charts"
    assert run_simulate_command(20, 30, "foryou", 1, progress=False, plot_dir=out) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["exposure_over_time.png", "learning_curves.png", "lorenz.png"]
    for p in out.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
