"""The contract every ranker keeps (river-style): seeded, clonable, permutations, finite, validated.

Runs on every ranker of the registry; learners must also learn a synthetic viewer's favourite topic.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.feed import Feed
from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip, View
from feedapp.core.rankers import RANKERS, BaseRanker, ParameterError, UnknownRanker, describe, make_ranker
from feedapp.core.rankers.policy import decide
from feedapp.core.rankers.rng import SplitMix
from feedapp.core.simulate import demo_like_catalog

ALL = sorted(RANKERS)
LEARNERS = [n for n in ALL if RANKERS[n].is_learner]


def clips() -> list[Clip]:
    return list(demo_like_catalog(3).clips)


def odd_clips() -> list[Clip]:
    """Clips that break naive code: no topics, NaN/inf features, ragged feature lengths."""
    base = clips()[:20]
    weird = [
        Clip("x1", "", "no topics", (), "solo", 5000, 30, 540, 960, features=(float("nan"), 1.0, 2.0)),
        Clip("x2", "", "inf", ("cats",), "solo", 7000, 30, 540, 960, features=(float("inf"), float("-inf"))),
        Clip("x3", "", "long feats", ("art", "art"), "solo", 0, 30, 540, 960, features=tuple(range(40))),
        Clip("x4", "", "no feats", ("tech",), "solo2", 12000, 30, 540, 960, created="2020-01-01"),
    ]
    return base + weird


@pytest.mark.parametrize("name", ALL)
def test_spec_is_complete_and_defaults_are_in_range(name):
    spec = RANKERS[name].spec()
    assert len({p.name for p in spec}) == len(spec)
    for p in spec:
        assert p.min <= p.default <= p.max, p
        assert p.description
    r = make_ranker(name)
    assert set(r.params) == {p.name for p in spec}


@pytest.mark.parametrize("name", ALL)
def test_rank_is_a_permutation_and_seeded(name):
    cs = clips()
    a = make_ranker(name, seed=7).rank(cs)
    b = make_ranker(name, seed=7).rank(cs)
    assert sorted(c.id for c in a) == sorted(c.id for c in cs)
    assert [c.id for c in a] == [c.id for c in b]


def test_random_ranker_depends_on_its_seed():
    cs = clips()
    orders = {tuple(c.id for c in make_ranker("random", seed=s).rank(cs)) for s in range(5)}
    assert len(orders) == 5


@pytest.mark.parametrize("name", ALL)
def test_clone_is_fresh_with_same_params(name):
    r = make_ranker(name, seed=3, repeat_gap=5)
    cs = clips()
    for c in cs[:10]:
        r.learn_one(c, 1.0 if "cats" in c.topics else -1.0)
    c2 = r.clone()
    assert c2 is not r and c2.params == r.params and c2.seed == r.seed
    assert c2.space is None  # unbound, unfitted
    assert [c.id for c in c2.rank(cs)] == [c.id for c in make_ranker(name, seed=3, repeat_gap=5).rank(cs)]


@pytest.mark.parametrize("name", ALL)
def test_scores_are_never_nan_even_for_odd_clips(name):
    r = make_ranker(name, seed=1)
    cs = odd_clips()
    ranked = r.rank(cs)
    assert len(ranked) == len(cs)
    for i, c in enumerate(cs):
        r.learn_one(c, [-2.0, 2.0, 0.0][i % 3])
    s = r.scores(SplitMix(1))
    assert s.shape == (len(cs),) and np.all(np.isfinite(s))
    assert np.all(np.isfinite(r.space.X))


@pytest.mark.parametrize("name", ALL)
def test_engine_serves_with_exact_propensities(name):
    eng = FeedEngine(demo_like_catalog(1), name, seed=2)
    for _ in range(30):
        clip = eng.next()
        eng.finish(View(clip.id, dwell_ms=4000, play_ms=4000, loops=0))
    for p in eng.picks:
        assert 0.0 < p.propensity <= 1.0 and math.isfinite(p.score)
    # the distribution the next pick is drawn from is a proper one
    dec = eng._decide(len(eng.history))
    assert dec.probs.sum() == pytest.approx(1.0)
    assert np.all(dec.probs >= 0)


@pytest.mark.parametrize("name", ALL)
def test_ranker_works_as_plain_feed_order(name):
    feed = Feed(demo_like_catalog(2), make_ranker(name, seed=1))
    seen = [feed.move(1) for _ in range(70)]
    assert all(c is not None for c in seen)
    assert len({c.id for c in seen[:64]}) == 64  # Feed's own rule: every clip once per cycle


@pytest.mark.parametrize("name", LEARNERS)
def test_learners_learn_a_synthetic_viewers_favourite_topic(name):
    cs = clips()
    r = make_ranker(name, seed=0)
    rng = np.random.default_rng(0)
    for i in rng.permutation(len(cs))[:40]:
        c = cs[i]
        r.learn_one(c, 1.0 if "ocean" in c.topics else -0.8)
    top = r.rank(cs)[:8]
    assert sum("ocean" in c.topics for c in top) >= 7, [c.topics for c in top]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("param, bad", [("epsilon", 1.5), ("repeat_gap", 0), ("temperature", -1), ("epsilon", "lots"),
                                        ("repeat_gap", 2.5), ("epsilon", float("nan"))])
def test_out_of_range_parameters_are_clear_errors(name, param, bad):
    with pytest.raises(ParameterError, match=param) as e:
        make_ranker(name, **{param: bad})
    assert isinstance(e.value, ValueError)
    assert str(e.value).count("\n") == 0


def test_unknown_names_are_clear_errors():
    with pytest.raises(UnknownRanker, match="choose one of"):
        make_ranker("tiktok")
    with pytest.raises(ParameterError, match="no parameter 'speed'"):
        make_ranker("foryou", speed=3)
    r = make_ranker("foryou")
    with pytest.raises(ParameterError, match="between"):
        r.set_param("decay", 2)
    assert r.set_param("decay", 0.9) == (0.99, 0.9)


def test_describe_is_plain_data_for_sliders():
    data = describe()
    assert [d["name"] for d in data][0] == "foryou" and sum(d["default"] for d in data) == 1
    assert {d["name"] for d in data} == {"foryou", "random", "chronological", "popular", "following"}
    json.dumps(data)


def test_policy_propensities_match_observed_frequencies():
    """Draw the same decision 8 000 times with different keys: frequencies match the logged p."""
    cat = demo_like_catalog(4)
    eng = FeedEngine(cat, "foryou", seed=0, params={"temperature": 0.3, "epsilon": 0.2})
    for _ in range(12):
        c = eng.next()
        eng.finish(View(c.id, dwell_ms=9000, play_ms=9000 if "music" in c.topics else 800, skipped="music" not in c.topics))
    space, ranker = eng.space, eng.ranker
    scores = ranker.scores(SplitMix(0))
    ref = decide(space, scores, eng._rows, eng._blocked, ranker.params, SplitMix(0))
    counts: Counter[int] = Counter()
    n = 8000
    for k in range(n):
        counts[decide(space, scores, eng._rows, eng._blocked, ranker.params, SplitMix(99, k)).row] += 1
    for row, p in zip(ref.allowed, ref.probs):
        sd = math.sqrt(p * (1 - p) / n)
        assert abs(counts[int(row)] / n - p) < 5 * sd + 1e-4, (row, p, counts[int(row)] / n)
    assert sum(counts.values()) == n and set(counts) <= set(int(r) for r in ref.allowed)


def test_feature_space_grows_and_stays_finite():
    space = FeatureSpace(odd_clips()[:3])
    d0 = space.d
    space.add([Clip("new", "", "t", ("brand-new-topic",), "newbie", 9000, 30, 1, 1, features=(1.0,) * 8)])
    assert space.d == d0 + 2 and "topic:brand-new-topic" in space.labels
    assert np.all(np.isfinite(space.X)) and space.X.shape == (4, space.d)


def test_many_creators_share_hashed_columns():
    cs = [Clip(f"c{i}", "", "t", ("a",), f"creator{i}", 5000, 30, 1, 1) for i in range(50)]
    space = FeatureSpace(cs, creator_slots=8)
    creator_cols = [lab for lab in space.labels if lab.startswith("creator:")]
    assert len(creator_cols) == 8 and len(space.creators) == 50
    assert np.allclose(space.X.sum(axis=1), space.X[0].sum())


def test_shortlisted_policy_on_a_large_catalog_is_still_exact():
    """Above SHORTLIST allowed clips the softmax covers the best ones; exploration covers all."""
    from feedapp.core.rankers.policy import SHORTLIST, allowed_mask

    cs = [Clip(f"b{i}", "", "t", (f"t{i % 9}",), f"cr{i % 40}", 5000 + 37 * i, 30, 1, 1) for i in range(SHORTLIST + 300)]
    params = {"epsilon": 0.3, "temperature": 0.5, "new_creator_floor": 0.0}
    eng = FeedEngine(Catalog(cs), "foryou", seed=0, params=params)
    for _ in range(15):
        c = eng.next()
        eng.finish(View(c.id, dwell_ms=6000, play_ms=6000 if "t3" in c.topics else 500, skipped="t3" not in c.topics))
    scores = eng.ranker.scores(SplitMix(0))
    rows = np.asarray(eng._rows)
    n_allowed = int(allowed_mask(eng.space, rows, eng._blocked.copy(), eng.ranker.params).sum())
    ref = decide(eng.space, scores, eng._rows, eng._blocked, eng.ranker.params, SplitMix(0))
    assert ref.allowed.size == SHORTLIST < n_allowed
    # the probabilities of all allowed clips add up to one: shortlist + the exploration-only rest
    assert ref.probs.sum() + (n_allowed - SHORTLIST) * 0.3 / n_allowed == pytest.approx(1.0)
    short = {int(r): float(p) for r, p in zip(ref.allowed, ref.probs)}
    outside = 0
    for k in range(400):
        d = decide(eng.space, scores, eng._rows, eng._blocked, eng.ranker.params, SplitMix(5, k))
        if d.row in short:
            assert d.propensity == pytest.approx(short[d.row])
        else:
            outside += 1
            assert d.explore and d.propensity == pytest.approx(0.3 / n_allowed)
    assert outside > 0


@pytest.mark.parametrize("kind", ["topic", "creator"])
def test_fatigue_weighs_the_latest_clip_most(kind):
    """Fatigue halves every ``fatigue_halflife`` impressions back: the clip just served weighs 1, the one
    before it 0.5 (halflife 1). Reversed weights (or a penalty of the wrong clip) fail here, exactly."""
    def c(i, topic, creator):
        return Clip(f"f{i}", "", f"clip {i}", (topic,), creator, 8000, 30, 540, 960)

    # served a (topic a, creator x) then b (topic b, creator y); candidates share one topic or creator each
    cs = [c(0, "a", "x"), c(1, "b", "y"), c(2, "a", "z"), c(3, "b", "w")] if kind == "topic" else \
         [c(0, "a", "x"), c(1, "b", "y"), c(2, "c", "x"), c(3, "d", "y")]
    space = FeatureSpace(cs)
    params = {"epsilon": 0.0, "temperature": 1.0, "max_same_topic": 0, "repeat_gap": 2, "repeat_penalty": 0.0,
              "new_creator_floor": 0.0, "fatigue_halflife": 1.0,
              "topic_fatigue": 0.4 if kind == "topic" else 0.0, "creator_fatigue": 0.4 if kind == "creator" else 0.0}
    dec = decide(space, np.zeros(4), [0, 1], np.zeros(4, dtype=bool), params, SplitMix(1))
    assert dec.allowed.tolist() == [2, 3]
    assert dec.adjusted.tolist() == [-0.4 * 0.5, -0.4 * 1.0]  # like the older clip: half the cut
    e = math.exp(-0.2) + math.exp(-0.4)
    assert dec.probs.tolist() == pytest.approx([math.exp(-0.2) / e, math.exp(-0.4) / e], abs=1e-15)


def test_the_feature_space_hands_out_read_only_arrays_that_follow_its_growth():
    """Every ranker of an engine and the policy read one FeatureSpace: none may change it in place."""
    clips = demo_like_catalog(0).clips
    space = FeatureSpace(clips[:10])
    names = ("X", "X2", "T", "T64", "creator_of", "duration_ms", "created_rank")
    for name in names:
        with pytest.raises(ValueError, match="read-only"):
            getattr(space, name)[0] = 0
    with pytest.raises(ValueError, match="read-only"):
        space.topic_rows(frozenset({0}))[0] = False
    X0 = space.X.copy()  # a copy is the plugin's own to change
    X0[:] = 0
    space.add(clips[10:])  # growth: new arrays, still read-only, with the new rows
    assert space.X.shape[0] == space.T.shape[0] == space.duration_ms.size == len(clips)
    assert space.X[:, 0].tolist() == [1.0] * len(clips)  # the bias column, untouched by the copy
    for name in names:
        assert not getattr(space, name).flags.writeable


class _NarrowsInPlace(BaseRanker):
    """Keeps only clips under 5 ms (none): ``allowed &= ...``, the numpy idiom, on the policy's own mask."""

    name = "narrows"

    def restrict(self, allowed):  # noqa: ANN001, ANN201
        allowed &= self.space.duration_ms < 5
        return allowed

    def scores(self, rng):  # noqa: ANN001, ANN201
        return rng.random(self.space.n)


class _NarrowsToACopy(_NarrowsInPlace):
    def restrict(self, allowed):  # noqa: ANN001, ANN201
        return allowed & (self.space.duration_ms < 5)


def test_a_restrict_that_narrows_the_mask_in_place_leaves_the_policy_its_fallback():
    """The policy drops a restriction whose set is empty. A plugin narrowing in place emptied the policy's
    own mask too, so in-process (simulate, replay, check-ranker) every decision failed with 'attempt to get
    argmax of an empty sequence', while in the app its worker got a copy and served. Now both serve alike."""
    served = []
    for cls in (_NarrowsInPlace, _NarrowsToACopy):
        eng = FeedEngine(demo_like_catalog(0), cls(seed=3), seed=3, explain=False, record_profile=False)
        for _ in range(12):
            c = eng.next()
            eng.finish(View(c.id, 1000, 1000, skipped=True))
        served.append([(p.clip_id, p.propensity) for p in eng.picks])
    assert served[0] == served[1] and len(served[0]) == 12
    mask = np.ones(4, dtype=bool)
    space = FeatureSpace(demo_like_catalog(0).clips[:4])
    r = _NarrowsInPlace(seed=0).bind(space)
    assert not r.restrict(mask).any() and mask.all()  # the caller's mask is its own


def test_a_logged_session_without_a_newer_parameter_replays_with_the_value_that_ranked_before():
    """``BaseRanker.logged_params``: the parameters a session's log names are kept; one it does not name (it
    was logged before the parameter existed) gets ``params_before``'s value, if the ranker has it."""
    from feedapp.core.peers.lin_ts import LinearThompsonRanker
    from feedapp.core.rankers.foryou import ForYouRanker

    assert ForYouRanker.params_before == {"shift_keep": 1.0, "topic_counts": 0}
    assert ForYouRanker.logged_params({"decay": 0.9}) == {"decay": 0.9, "shift_keep": 1.0, "topic_counts": 0}
    assert ForYouRanker.logged_params({"topic_counts": 1, "shift_keep": 0.6}) == {"topic_counts": 1, "shift_keep": 0.6}
    assert ForYouRanker.logged_params({"topic_counts": 1}) == {"topic_counts": 1, "shift_keep": 1.0}
    assert LinearThompsonRanker.logged_params({"scale": 0.4}) == {"scale": 0.4, "shift_keep": 1.0}  # no topic_counts
    assert make_ranker("random").logged_params({"epsilon": 0.1}) == {"epsilon": 0.1}


def test_a_subclass_restrict_narrows_its_own_copy_of_the_mask():
    """BaseRanker.__init_subclass__ wraps a subclass's own ``restrict`` so that it gets a copy of the
    allowed mask: narrowing in place (natural numpy) must not empty the policy's mask, which it keeps to
    fall back on. The wrapper keeps the method's name, text and self, and a subclass of that subclass
    inherits the one wrapper instead of copying twice."""
    import numpy as np

    from feedapp.core.rankers.base import BaseRanker

    class Narrow(BaseRanker):
        name = "narrow"

        def restrict(self, allowed):  # noqa: ANN001, ANN202
            """Only the rows before ``self.keep``."""
            allowed[self.keep:] = False
            return allowed

    class Narrower(Narrow):
        name = "narrower"

    r = Narrow()
    r.keep = 2
    mask = np.ones(5, dtype=bool)
    out = r.restrict(mask)
    assert out.tolist() == [True, True, False, False, False]
    assert mask.all() and out is not mask  # the caller's mask is untouched
    assert Narrow.restrict.__name__ == "restrict" and Narrow.restrict.__doc__ == "Only the rows before ``self.keep``."
    assert Narrow.restrict._gets_a_copy and Narrow.restrict.__wrapped__ is not Narrow.restrict
    assert Narrower.restrict is Narrow.restrict  # inherited as it is, not wrapped again
    r2 = Narrower()
    r2.keep = 4
    assert r2.restrict(mask).tolist() == [True, True, True, True, False] and mask.all()
