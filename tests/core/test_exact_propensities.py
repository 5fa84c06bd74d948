"""Exact propensities: every rule of the policy is in the probability it logs and replay recomputes.

- The ranker's scores come from a stream independent of the policy's sampling stream, so the
  ``random`` ranker's propensities are exact at any epsilon (issue 10, point 4).
- Over the whole catalog the target probabilities sum to 1, with the new-creator floor reaching
  clips outside the softmax shortlist (issue 10, "Why").
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from feedapp.core.catalog import Catalog
from feedapp.core.contract import chi2_pvalue
from feedapp.core.engine import FeedEngine
from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip, View
from feedapp.core.rankers import make_ranker
from feedapp.core.rankers.policy import SHORTLIST, decide
from feedapp.core.rankers.rng import SplitMix, decision_streams
from feedapp.core.replay import replay, session_from_engine
from feedapp.core.simulate import demo_like_catalog


def _chi2_pvalue(counts: Counter, rows: np.ndarray, probs: np.ndarray, n: int) -> float:
    """Pearson's test of observed pick counts against the probabilities (tiny cells pooled)."""
    full = np.zeros(max(int(rows.max()), max(counts)) + 1)
    full[rows] = probs
    p, outside = chi2_pvalue(counts, full, n)
    assert outside == 0  # nothing was picked outside the distribution
    return p


def test_scores_come_from_their_own_stream():
    score_rng, policy_rng = decision_streams(7, 3, 2)
    assert score_rng.random() != policy_rng.random()
    # the policy stream is what the engine always drew from; the score stream has its own key
    assert decision_streams(7, 3, 2)[1].random() == SplitMix(7, 3, 2).random()


def test_random_ranker_scores_do_not_depend_on_the_policy_stream_and_its_picks_match_its_propensities():
    """``random`` with epsilon 0.5: half the picks follow its random scores. The scores the engine
    served with are those of the score stream, and for those scores the policy's draws (over 6,000
    independent policy streams) have the frequencies the logged propensities claim."""
    eng = FeedEngine(demo_like_catalog(3), "random", seed=11,
                     params={"epsilon": 0.5, "temperature": 0.3, "max_same_topic": 2, "new_creator_floor": 0.2,
                             "topic_fatigue": 0.2, "creator_fatigue": 0.3})
    for _ in range(6):
        c = eng.next()
        eng.finish(View(c.id, 4000, 4000))
    for p in eng.picks:  # every served score is the score stream's draw (no fatigue on slot 0)
        score_rng, _ = decision_streams(11, p.position, p.views)
        raw = score_rng.random(eng.space.n)[eng.space.row_of[p.clip_id]]
        if p.position == 0:
            assert p.score == raw
    position, views = len(eng.history), len(eng.views)
    score_rng, policy_rng = decision_streams(11, position, views)
    scores = eng.ranker.scores(score_rng)
    ref = eng._decide(position)
    assert np.array_equal(ref.adjusted, decide(eng.space, scores, eng._rows, eng._blocked, eng.ranker.params,
                                               policy_rng).adjusted)
    n = 6000
    counts: Counter = Counter()
    for k in range(n):
        counts[decide(eng.space, scores, eng._rows, eng._blocked, eng.ranker.params, SplitMix(5, k)).row] += 1
    full = ref.full_probs()
    rows = np.flatnonzero(full > 0)
    assert _chi2_pvalue(counts, rows, full[rows], n) > 0.001


def _big_catalog() -> list[Clip]:
    # more creators than fit in the shortlist's clips, so new creators exist outside it
    return [Clip(f"b{i}", "", "t", (f"t{i % 9}",), f"cr{i % 300}", 5000 + 37 * i, 30, 1, 1)
            for i in range(SHORTLIST + 300)]


def test_target_probabilities_include_the_new_creator_floor_outside_the_shortlist_and_sum_to_one():
    space = FeatureSpace(_big_catalog())
    r = make_ranker("foryou", epsilon=0.1, new_creator_floor=0.3, temperature=0.5, new_creator_halflife=100000)
    r.bind(space)
    for c in space.clips[:40]:  # a taste, so the shortlist is not just the first rows
        r.learn_one(c, 1.0 if "t3" in c.topics else -0.5)
    served = [3, 50, 600, 7]
    blocked = np.zeros(space.n, dtype=bool)
    scores = r.scores(SplitMix(1))
    dec = decide(space, scores, served, blocked, r.params, SplitMix(1))
    full = dec.full_probs()
    assert full.sum() == pytest.approx(1.0, abs=1e-12)
    assert [dec.prob_of(row) for row in range(space.n)] == full.tolist()
    short = set(dec.allowed.tolist())
    new_outside = [row for row in dec.new_rows.tolist() if row not in short]
    assert new_outside, "the test needs new creators outside the shortlist"
    assert full[new_outside[0]] == pytest.approx(0.1 / dec.ok_rows.size + 0.3 / dec.new_rows.size)
    # every served pick's propensity is the replayable probability, including picks off the shortlist
    off = 0
    counts: Counter = Counter()
    n = 5000
    for k in range(n):
        d = decide(space, scores, served, blocked, r.params, SplitMix(9, k))
        assert d.propensity == full[d.row]
        off += d.row not in short
        counts[d.row] += 1
    assert off > 0
    rows = np.flatnonzero(full > 0)
    assert _chi2_pvalue(counts, rows, full[rows], n) > 0.001


def test_replay_of_a_large_catalog_with_the_floor_reproduces_every_logged_propensity():
    eng = FeedEngine(Catalog(_big_catalog()), "foryou", seed=2,
                     params={"epsilon": 0.2, "new_creator_floor": 0.4, "temperature": 0.3})
    for _ in range(40):
        c = eng.next()
        eng.finish(View(c.id, 4000, 4000 if "t2" in c.topics else 900, skipped="t2" not in c.topics))
    assert any("new creator" in " ".join(p.reasons) for p in eng.picks)
    rep = replay(session_from_engine(eng), ["foryou"], n_boot=50)
    target = [s["rankers"]["foryou"]["p_logged_clip"] for s in rep["steps"]]
    assert target == [p.propensity for p in eng.picks]
    assert rep["rankers"][0]["estimates"]["ips"]["value"] == rep["logged"]["value"]
