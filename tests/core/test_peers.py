"""Peer rankers: they keep the ranker contract, learn, and a missing one is reported, not dropped."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from feedapp.cli import main
from feedapp.core import peers as peers_mod
from feedapp.core.catalog import Catalog
from feedapp.core.demo_catalog import demo_like_catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.model import View
from feedapp.core.peers import PEERS, PeerMissing, missing_peers
from feedapp.core.peers.vw import VowpalWabbitRanker
from feedapp.core.rankers import RANKERS, UnknownRanker, make_ranker
from feedapp.core.rankers.rng import SplitMix
from feedapp.core.sim_bench import run_kind

HAS_VW = importlib.util.find_spec("vowpalwabbit") is not None
NEEDS_VW = pytest.mark.skipif(not HAS_VW, reason="vowpalwabbit is not installed (pip install 'feedapp[peers]')")
PURE = ["ts_topic", "lin_ts"]


def _contract(name: str, capsys) -> None:
    """``feedapp check-ranker NAME`` (the contract suite, 1,000 draws per pick-frequency check)."""
    code = main(["check-ranker", name, "--draws", "1000", "--json"])
    report = json.loads(capsys.readouterr().out)
    failed = [c for c in report["checks"] if not c["passed"]]
    assert code == 0 and report["passed"] and len(report["checks"]) == 9, failed


@pytest.mark.parametrize("name", PURE)
def test_peer_keeps_the_ranker_contract(name, capsys):
    _contract(name, capsys)


@NEEDS_VW
def test_vw_peer_keeps_the_ranker_contract(capsys):
    _contract("vw_cb", capsys)


def test_peers_are_found_by_name_but_not_in_the_app_menu():
    assert set(PEERS) == {"ts_topic", "lin_ts", "vw_cb"} and not set(PEERS) & set(RANKERS)
    assert make_ranker("ts_topic").name == "ts_topic"
    with pytest.raises(UnknownRanker, match="peers: ts_topic, lin_ts, vw_cb"):
        make_ranker("ts_topc")


@pytest.mark.parametrize("name", [*PURE, pytest.param("vw_cb", marks=NEEDS_VW)])
def test_peer_learns_the_rewarded_topic(name):
    cat = demo_like_catalog(1)
    eng = FeedEngine(cat, name, seed=3, record_profile=False, explain=False)
    for _ in range(40):
        c = eng.next()
        good = "cats" in c.topics
        eng.finish(View(c.id, c.duration_ms * (2 if good else 0.05), c.duration_ms * (2 if good else 0.05),
                        loops=2 if good else 0, skipped=not good))
    s = np.mean([eng.ranker.scores(SplitMix(9, k)) for k in range(20)], axis=0)
    cats = np.array(["cats" in c.topics for c in eng.space.clips])
    assert s[cats].mean() > s[~cats].mean() + 0.1


def test_a_missing_peer_is_reported_with_the_reason_not_dropped(monkeypatch):
    reason = "the Python package vowpalwabbit is not installed (test); install it with pip install 'feedapp[peers]'"
    monkeypatch.setattr("feedapp.core.peers.vw.vw_missing_reason", lambda: reason)
    monkeypatch.setattr(peers_mod, "vw_missing_reason", lambda: reason)
    with pytest.raises(PeerMissing, match=r"feedapp\[peers\]"):
        VowpalWabbitRanker()
    assert missing_peers() == {"vw_cb": reason}
    r = run_kind("one_topic", Catalog(demo_like_catalog(0).clips), ("foryou", "ts_topic", "vw_cb"), viewers=2, views=12)
    assert [p["ranker"] for p in r["policies"]] == ["foryou", "ts_topic"]
    assert "vw_cb" in r["missing"] and "feedapp[peers]" in r["missing"]["vw_cb"]
    with pytest.raises(ValueError, match="vw_cb.*missing"):
        run_kind("one_topic", demo_like_catalog(0), ("vw_cb",), viewers=1, views=5)


def test_run_kind_reports_every_ranker_with_random_as_chance_and_the_oracle():
    r = run_kind("switcher", demo_like_catalog(0), ("foryou", "ts_topic"), viewers=3, views=60, switch_at=30)
    assert [p["ranker"] for p in r["policies"]] == ["foryou", "ts_topic"]
    assert r["chance"]["ranker"] == "random" and r["chance"]["explored_after_50"] == 1.0
    assert r["oracle"]["watch_vs_oracle"] == 1.0 and r["oracle"]["recovered_share"] is not None
    assert len(r["policies"][0]["liked_blocks"]) == 3 and r["catalog"]["clips"] == 64


def test_lin_ts_scores_creators_from_foryous_table():
    """lin_ts learns with foryou's step, which keeps creators in a table beside the weights: its draw
    covers the table too (scale 0: the posterior means exactly), so a fan's creator is found."""
    from feedapp.core.features import FeatureSpace

    space = FeatureSpace(demo_like_catalog(0).clips)
    r = make_ranker("lin_ts", scale=0.0).bind(space)
    fav = space.creators[2]
    for c in space.clips[:30]:
        r.learn_one(c, 1.0 if c.creator == fav else -0.5)
    expected = space.X.astype(np.float64) @ r._mean + r._cm[space.creator_of]
    assert r.scores(SplitMix(3)) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert r._cm[space.creator_index[fav]] > 0.3
    assert any(w.startswith(f"creator:{fav} +") for w in r.explain(space.row(next(c for c in space.clips if c.creator == fav))))
    drawn = make_ranker("lin_ts", scale=1.0).bind(space)
    a, b = drawn.scores(SplitMix(1)), drawn.scores(SplitMix(2))
    assert not np.allclose(a - a.mean(), b - b.mean())  # creators' draws differ between streams
