"""The policy's rules and foryou's model, checked against their documented formulas recomputed here.

The propensity tests (test_exact_propensities.py, the contract suite) show that the policy logs the
probability of its own draw; they cannot see a rule that is wrong but self-consistent (fatigue
weights reversed, the worst clips shortlisted, the optimism bonus gone). These tests pin each rule
to the formula in the module docstrings, on catalogs small enough to compute it by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip
from feedapp.core.rankers import make_ranker
from feedapp.core.rankers.policy import (
    SHORTLIST,
    allowed_mask,
    cut_reasons,
    decide,
    greedy_row,
    is_greedy,
    is_uniform,
    ranker_context,
    uniform_row,
)
from feedapp.core.sim_catalogs import generated_catalog
from feedapp.core.rankers.rng import SplitMix

#: every rule off but the one a test switches on
QUIET = {"epsilon": 0.0, "temperature": 1.0, "max_same_topic": 0, "topic_fatigue": 0.0, "creator_fatigue": 0.0,
         "fatigue_halflife": 1.0, "new_creator_floor": 0.0, "repeat_gap": 1, "repeat_penalty": 0.0}


def _clip(i: int, topic: str, creator: str) -> Clip:
    return Clip(f"c{i}", "", f"C{i}", (topic,), creator, 10_000, 30, 540, 960)


def _space(spec: list[tuple[str, str]]) -> FeatureSpace:
    return FeatureSpace([_clip(i, t, c) for i, (t, c) in enumerate(spec)])


def _decide(space, scores, served, params, seed=0, blocked=None):
    blocked = np.zeros(space.n, dtype=bool) if blocked is None else blocked
    return decide(space, np.asarray(scores, dtype=np.float64), served, blocked, {**QUIET, **params}, SplitMix(seed))


def _expected_adjusted(spec, scores, served, tf, cf, h, rp):
    """score - tf * sum of w(age) over recent same-topic clips - cf * (same creator) - rp * times served,
    w(age) = 0.5 ** (age / h), age 0 = the clip served last."""
    out = []
    for row, (topic, creator) in enumerate(spec):
        a = float(scores[row])
        for age, s in enumerate(reversed(served)):
            w = 0.5 ** (age / h)
            a -= tf * w * (spec[s][0] == topic) + cf * w * (spec[s][1] == creator)
        out.append(a - rp * served.count(row))
    return np.array(out)


SPEC = [("cats", "ann"), ("dogs", "bob"), ("cats", "cy"), ("dogs", "ann"), ("art", "bob"), ("art", "dee"),
        ("tech", "eve"), ("cats", "bob")]


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch):
    """The weight and step caches start empty, so every test computes them (not a value cached earlier)."""
    from feedapp.core.rankers import policy, rng

    monkeypatch.setattr(policy, "_WEIGHTS", {})
    monkeypatch.setattr(rng, "_STEPS", {})


def test_fatigue_weighs_the_last_served_clip_most():
    scores = np.linspace(0.2, 0.9, len(SPEC))
    served = [0, 1, 4]  # cats/ann three slots ago, dogs/bob two ago, art/bob last
    tf, cf, h = 0.4, 0.3, 1.5
    dec = _decide(_space(SPEC), scores, served, {"topic_fatigue": tf, "creator_fatigue": cf, "fatigue_halflife": h})
    exp = _expected_adjusted(SPEC, scores, served, tf, cf, h, 0.0)
    assert dec.allowed.tolist() == [r for r in range(len(SPEC)) if r != 4]  # only the clip just served is out
    assert dec.adjusted == pytest.approx(exp[dec.allowed], rel=1e-12)
    cut = scores - exp
    assert cut[5] == pytest.approx(tf)  # art/dee: art was served last (weight 1), dee never
    assert cut[2] == pytest.approx(tf * 0.5 ** (2 / h))  # cats/cy: cats three slots ago
    soft = np.exp(exp[dec.allowed] - exp[dec.allowed].max())
    assert dec.probs == pytest.approx(soft / soft.sum(), rel=1e-12)
    assert dec.propensity == pytest.approx(dec.prob_of(dec.row)) and dec.propensity > 0


def test_fatigue_only_looks_back_six_halflives():
    scores = np.zeros(len(SPEC))
    served = [0] + [6] * 1 + [5, 6, 5, 6, 5, 6]  # cats/ann 7 slots ago, beyond int(6 * 1) + 1 = 7 recent slots
    dec = _decide(_space(SPEC), scores, served, {"topic_fatigue": 1.0, "repeat_gap": 1})
    cats = [k for k, r in enumerate(dec.allowed.tolist()) if SPEC[r][0] == "cats"]
    assert [dec.adjusted[k] for k in cats] == [0.0] * len(cats)  # 7 slots ago is forgotten
    dec = _decide(_space(SPEC), scores, served[1:] + [0], {"topic_fatigue": 1.0})
    cats = [k for k, r in enumerate(dec.allowed.tolist()) if SPEC[r][0] == "cats"]
    assert all(dec.adjusted[k] == pytest.approx(-1.0) for k in cats)


def test_repeat_penalty_counts_earlier_servings_and_says_so():
    scores = np.zeros(len(SPEC))
    served = [2, 6, 2, 6, 1]
    dec = _decide(_space(SPEC), scores, served, {"repeat_penalty": 0.3, "temperature": 0.0})
    exp = _expected_adjusted(SPEC, scores, served, 0.0, 0.0, 1.0, 0.3)
    assert dec.adjusted == pytest.approx(exp[dec.allowed])
    assert dec.row == 0  # first of the clips never served (ties keep row order)
    dec = _decide(_space(SPEC), np.where(np.arange(len(SPEC)) == 2, 5.0, 0.0), served,
                  {"repeat_penalty": 0.3, "temperature": 0.0})
    assert dec.row == 2 and dec.score == pytest.approx(5.0 - 0.6)
    assert dec.why == ("served 2x before, last 3 ago", "repeat -0.60")
    assert dec.propensity == 1.0 and not dec.explore


def test_repeat_penalty_decays_with_the_time_since_each_serving():
    """Each earlier serving counts 0.5 ** (age / repeat_halflife), age 0 = the clip served last: a favourite
    served long ago is cut less than one served just now, and comes back above a never-served clip that
    scores lower (the rule that brings favourites back once a small catalog is exhausted)."""
    served = [2] + [6] * 9 + [3, 6]  # row 2 eleven slots ago; row 3 one slot ago (ages 11 and 1)
    scores = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0])
    params = {"repeat_penalty": 0.6, "repeat_halflife": 5.0, "temperature": 0.0}
    dec = _decide(_space(SPEC), scores, served, params)
    adj = dict(zip(dec.allowed.tolist(), dec.adjusted.tolist()))
    assert adj[2] == pytest.approx(1.0 - 0.6 * 0.5 ** (11 / 5))
    assert adj[3] == pytest.approx(1.0 - 0.6 * 0.5 ** (1 / 5))
    assert dec.row == 2 and dec.why == ("served 1x before, last 12 ago", "repeat -0.13")
    # without a halflife (older settings) every serving costs the whole cut, forever: row 4 wins
    old = {k: v for k, v in {**QUIET, **params}.items() if k != "repeat_halflife"}
    dec = decide(_space(SPEC), scores, served, np.zeros(len(SPEC), dtype=bool), old, SplitMix(0))
    assert dec.row == 4


def test_creator_fatigue_spares_liked_creators_and_the_new_creator_floor_halves():
    scores = np.zeros(len(SPEC))
    served = [0, 3]  # ann twice
    liked = np.array([c == "ann" for c in _space(SPEC).creators])
    plain = _decide(_space(SPEC), scores, served, {"creator_fatigue": 0.5})
    spared = decide(_space(SPEC), scores, served, np.zeros(len(SPEC), dtype=bool), {**QUIET, "creator_fatigue": 0.5},
                    SplitMix(0), liked_creators=liked)
    ann = [k for k, r in enumerate(plain.allowed.tolist()) if SPEC[r][1] == "ann"]
    assert ann and all(plain.adjusted[k] < 0 for k in ann) and all(spared.adjusted[k] == 0 for k in ann)
    assert spared.adjusted.tolist() == [0.0 if SPEC[r][1] == "ann" else a
                                        for r, a in zip(plain.allowed.tolist(), plain.adjusted.tolist())]
    # the floor halves every new_creator_halflife impressions of the feed: 0.4 * 0.5 ** (2 / 4) here
    dec = _decide(_space(SPEC), scores, served, {"new_creator_floor": 0.4, "new_creator_halflife": 4.0})
    assert dec.new_each * dec.new_rows.size == pytest.approx(0.4 * 0.5 ** 0.5)
    dec = _decide(_space(SPEC), scores, served, {"new_creator_floor": 0.4, "new_creator_halflife": 100000.0})
    assert dec.new_each * dec.new_rows.size == pytest.approx(0.4)  # 100000: never halves


def test_reasons_name_the_fatigue_cuts():
    scores = np.where(np.arange(len(SPEC)) == 7, 3.0, 0.0)  # cats/bob: the best by far
    dec = _decide(_space(SPEC), scores, [0, 1], {"topic_fatigue": 0.2, "creator_fatigue": 0.4, "temperature": 0.0})
    assert dec.row == 7
    assert dec.why == ("topic fatigue -0.10", "creator fatigue -0.40")  # cats 2 ago (w 0.5), bob last (w 1)


def test_temperature_zero_takes_the_best_adjusted_score_and_ties_go_to_the_first_row():
    scores = [0.5, 0.9, 0.9, 0.1, 0.0, 0.0, 0.0, 0.0]
    dec = _decide(_space(SPEC), scores, [], {"temperature": 0.0})
    assert dec.row == 1 and dec.propensity == 1.0 and dec.probs.tolist() == [0, 1, 0, 0, 0, 0, 0, 0]


def _big(n: int) -> list[tuple[str, str]]:
    return [(f"t{i % 7}", f"cr{i % 40}") for i in range(n)]


def test_the_shortlist_holds_the_best_scores_not_the_worst():
    spec = _big(SHORTLIST + 200)
    space = _space(spec)
    rng = np.random.default_rng(3)
    scores = rng.permutation(space.n).astype(np.float64)  # distinct scores in a shuffled order
    dec = _decide(space, scores, [], {"temperature": 0.0})
    best = np.sort(np.argsort(-scores)[:SHORTLIST])
    assert dec.allowed.tolist() == best.tolist()
    assert dec.row == int(np.argmax(scores)) and dec.propensity == 1.0
    assert dec.prob_of(int(np.argmin(scores))) == 0.0  # never reachable without exploration
    dec = _decide(space, scores, [], {"temperature": 0.0, "epsilon": 0.2})
    worst = int(np.argmin(scores))
    assert dec.prob_of(worst) == pytest.approx(0.2 / space.n)  # reachable by exploration only
    assert dec.full_probs().sum() == pytest.approx(1.0, abs=1e-12)


def test_the_new_creator_floor_is_in_every_logged_propensity():
    spec = _big(SHORTLIST + 200)
    space = _space(spec)
    scores = np.arange(space.n, dtype=np.float64)  # the last rows are the shortlist
    served = list(range(space.n - 30, space.n))  # their creators are no longer new
    params = {"temperature": 0.0, "epsilon": 0.1, "new_creator_floor": 0.3, "repeat_gap": 100}
    seen = {spec[r][1] for r in served}
    ok = [r for r in range(space.n) if r not in served]
    new = [r for r in ok if spec[r][1] not in seen]
    assert 0 < len(new) < len(ok)
    base = _decide(space, scores, served, params)
    best = max(ok, key=lambda r: scores[r])
    assert base.new_rows.tolist() == new and base.ok_rows.tolist() == ok
    for row in (best, new[0], next(r for r in ok if r not in new and r != best)):
        expected = 0.1 / len(ok) + 0.3 / len(new) * (row in new) + 0.6 * (row == best)
        assert base.prob_of(row) == pytest.approx(expected, rel=1e-12)
    picked_new_outside = picked_best = 0
    for k in range(400):
        d = _decide(space, scores, served, params, seed=k)
        expected = 0.1 / len(ok) + 0.3 / len(new) * (d.row in new) + 0.6 * (d.row == best)
        assert d.propensity == pytest.approx(expected, rel=1e-12), d.why
        picked_new_outside += d.row in new and d.row not in d.allowed
        picked_best += d.row == best
        assert ("explore: new creator" in d.why) == (d.why[:1] == ("explore: new creator",))
    assert picked_new_outside > 0 and 0.55 < picked_best / 400 < 0.8


def test_the_floor_is_off_when_every_creator_was_shown():
    spec = [("a", "x"), ("b", "y"), ("c", "x"), ("d", "y")]
    dec = _decide(_space(spec), [0.0, 0.0, 1.0, 0.0], [0, 1], {"new_creator_floor": 0.5, "temperature": 0.0})
    assert dec.new_each == 0.0 and dec.row == 2 and dec.propensity == 1.0


def test_diversity_drops_a_topic_that_filled_the_last_slots_and_relaxes_when_nothing_is_left():
    spec = [("cats", "a"), ("cats", "b"), ("cats", "c"), ("dogs", "d"), ("cats", "e")]
    space = _space(spec)
    blocked = np.zeros(space.n, dtype=bool)
    mask = allowed_mask(space, np.array([0, 1]), blocked, {**QUIET, "max_same_topic": 2, "repeat_gap": 2})
    assert mask.tolist() == [False, False, False, True, False]
    mask = allowed_mask(space, np.array([0, 1]), blocked, {**QUIET, "max_same_topic": 3, "repeat_gap": 2})
    assert mask.tolist() == [False, False, True, True, True]  # only 2 cats in a row: no limit yet
    blocked[3] = True  # "not interested" in the only other topic: diversity gives way
    mask = allowed_mask(space, np.array([0, 1]), blocked, {**QUIET, "max_same_topic": 2, "repeat_gap": 2})
    assert mask.tolist() == [False, False, True, False, True]
    everything = np.ones(space.n, dtype=bool)  # all blocked: the repeat gap and the block give way
    mask = allowed_mask(space, np.array([0, 1]), everything, {**QUIET, "repeat_gap": 5})
    assert mask.tolist() == [True, False, True, True, True]
    assert allowed_mask(space, np.array([], dtype=np.intp), everything, QUIET).all()


def _foryou_by_hand(space, views, *, optimism, prior_precision, decay, noise, shrink, bias_shrink, topic_counts=1):
    """foryou's documented model written out: a Kalman filter over the columns that are not creator
    columns (duration columns with prior precision ``shrink`` times the others', the bias column
    ``bias_shrink`` times), beside one (mean, variance) per creator, updated jointly without their
    cross-covariance. The bonus: with ``topic_counts`` each topic's standard deviation comes from its
    own views (``n``: summed squared features, relaxed as the weights) and the clip's topics add theirs."""
    X = space.X.astype(np.float64)
    keep = np.array([0.0 if lab.startswith("creator:") else 1.0 for lab in space.labels])
    factor = {"duration": shrink, "bias": bias_shrink}
    pv = np.array([1 / (prior_precision * factor.get(lab.split(":")[0], 1.0)) for lab in space.labels]) * keep
    mean, P = np.zeros(space.d), np.diag(pv)
    cm, cv = np.zeros(len(space.creators)), np.full(len(space.creators), 1 / prior_precision)
    n = np.zeros(space.d)
    g = decay
    for row, reward in views:
        x, c = X[row] * keep, space.creator_of[row]
        n = g * g * n + x * x
        mean, P = g * mean, g * g * P + (1 - g * g) * np.diag(pv)  # relax towards the prior
        cm, cv = g * cm, g * g * cv + (1 - g * g) / prior_precision
        s = noise + x @ P @ x + cv[c]
        err = (reward - x @ mean - cm[c]) / s
        mean, P = mean + P @ x * err, P - np.outer(P @ x, x @ P) / s
        cm[c], cv[c] = cm[c] + cv[c] * err, cv[c] - cv[c] ** 2 / s
    cof = space.creator_of
    # the bias weight (column 0, 1 in every row) is learned but left out of the score
    var = np.diag(P)
    if topic_counts:
        topic = np.array([lab.startswith("topic:") for lab in space.labels])
        sd_t = np.where(topic, 1 / np.sqrt(1 / np.where(topic, pv, 1.0) + n / noise), 0.0)
        sd = np.sqrt((X @ sd_t) ** 2 + (X * X) @ np.where(topic, 0.0, var) + cv[cof])
    else:
        sd = np.sqrt((X * X) @ var + cv[cof])
    return X @ mean - mean[0] + cm[cof] + optimism * sd, mean, cm


@pytest.mark.parametrize("topic_counts", [1, 0])
def test_foryou_scores_are_posterior_mean_plus_optimism_times_sd(topic_counts):
    spec = SPEC
    space = _space(spec)
    r = make_ranker("foryou", optimism=0.7, prior_precision=2.0, decay=0.9, noise=0.5, duration_shrink=4.0,
                    bias_shrink=5.0, topic_counts=topic_counts)
    r.bind(space)
    X = space.X.astype(np.float64)
    # before any view: mean 0; every clip's uncertainty: its non-creator columns plus its creator's entry
    hand = dict(optimism=0.7, prior_precision=2.0, decay=0.9, noise=0.5, shrink=4.0, bias_shrink=5.0,
                topic_counts=topic_counts)
    before, _, _ = _foryou_by_hand(space, [], **hand)
    assert r.scores(SplitMix(1)) == pytest.approx(before, rel=1e-6)
    assert before[0] == pytest.approx(0.7 * math.sqrt((1 / 5 + 1 / 4 + 1 + 1) / 2.0))  # bias, length, cats; ann
    views = [(0, 1.0), (2, 0.8), (1, -0.5), (7, 0.3)]
    for row, reward in views:
        r.learn_one(space.clips[row], reward)
    assert r.views == 4
    expected, mean, cm = _foryou_by_hand(space, views, **hand)
    assert r.scores(SplitMix(1)) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert r.weights()["bias"] == pytest.approx(mean[0], rel=1e-5)
    assert r.weights()["creator:ann"] == pytest.approx(cm[space.creator_index["ann"]], rel=1e-5)
    assert cm[space.creator_index["ann"]] > 0 > cm[space.creator_index["bob"]]  # bob: -0.5 and 0.3
    calm = make_ranker("foryou", optimism=0.0).bind(_space(spec))
    assert calm.scores(SplitMix(1)).tolist() == [0.0] * len(spec)


def test_foryou_keeps_every_creator_apart_however_many():
    """Creators past the feature space's 32 one-hot slots share hashed columns; foryou's own table does
    not: a fan's creator gains, a creator sharing its column does not move, and once the evidence is
    clear (affinity - 1 sd > fan_margin) the creator is named liked, so creator fatigue spares it."""
    clips = [_clip(i, f"t{i % 5}", f"cr{i % 100}") for i in range(300)]
    space = FeatureSpace(clips)
    fan = [c for c in space.clips if c.creator == "cr50"]
    others = [c for c in space.clips if c.creator != "cr50"][:40]
    shared = [c for c in space.creators[32:] if space.creator_col[c] == space.creator_col["cr50"]
              and c != "cr50" and c not in {o.creator for o in others}]
    assert shared, "the test needs a creator that aliases cr50 in the feature space"
    r = make_ranker("foryou").bind(space)
    fan_id = space.creator_index["cr50"]
    for k in range(30):
        if k == 2:
            assert not r.liked_creators().any()  # two views are no proof
        r.learn_one(fan[k % 3], 1.0)
        r.learn_one(others[k], -0.5)
    w = r.weights()
    assert w["creator:cr50"] > 0.6 and w[f"creator:{shared[0]}"] == 0.0
    assert r.liked_creators()[fan_id] and r.liked_creators().sum() == 1
    assert not make_ranker("foryou", fan_margin=5.0).bind(space).liked_creators().any()


def test_foryou_explains_its_score():
    space = _space(SPEC)
    r = make_ranker("foryou", optimism=1.0).bind(space)
    for _ in range(5):
        r.learn_one(space.clips[0], 1.0)
    why = r.explain(0)
    # the largest contributions of the clip's features (the bias column is not a reason), then the bonus
    assert {w.rsplit(" ", 1)[0] for w in why[:-1]} <= {"topic:cats", "creator:ann", "duration:8-12s"}
    assert "creator:ann" in {w.rsplit(" ", 1)[0] for w in why[:-1]}  # from the creators' table
    assert len(why) >= 3 and all(w.rsplit(" ", 1)[1].startswith("+") for w in why)
    assert why[-1].startswith("uncertainty +")
    assert make_ranker("foryou", optimism=0.0).bind(space).explain(0) == ()  # nothing learned, no bonus
    assert float(why[-1].split("+")[1]) == pytest.approx(r.bonus(0), abs=0.006)
    # the bonus is the one in the score: the score less the posterior mean's part
    calm = make_ranker("foryou", optimism=0.0).bind(space)
    for _ in range(5):
        calm.learn_one(space.clips[0], 1.0)
    assert r.bonus(0) == pytest.approx(r.scores(SplitMix(1))[0] - calm.scores(SplitMix(1))[0], rel=1e-5)
    # five views of cats (each older one relaxed by decay^2): its variance is 1 / (1 + n / noise), well
    # below an untried topic's 1
    n = sum(0.99 ** (2 * k) for k in range(5))
    assert r.bonus(0) ** 2 == pytest.approx(1 / (1 + n) + float((space.X[0] ** 2) @ np.where(r._topic, 0, r._var32))
                                            + r._cv[0], rel=1e-4)


def test_an_untried_topic_keeps_its_bonus_above_a_topic_tried_and_skipped():
    """Issue 11 (10k clips, 50 topics): a skip's surprise is shared by the bias, the creator and the topic,
    so the shared posterior lowered a skipped topic's variance by about a quarter and the bonus barely told
    it from a topic never tried. With ``topic_counts`` a topic's sd falls with its own views (one view:
    1 -> 0.71), and a clip of two untried topics adds both (it tests two at once)."""
    clips = [_clip(i, t, f"cr{i}") for i, t in enumerate(["art", "tech", "food", "art"])]
    clips.append(Clip("both", "", "both", ("tech", "food"), "cr9", 10_000, 30, 540, 960))
    gaps = {}
    for counts in (1, 0):
        space = FeatureSpace(clips)
        r = make_ranker("foryou", optimism=1.0, topic_counts=counts).bind(space)
        r.learn_one(space.clips[0], -1.0)  # art, skipped
        tried, untried = r.bonus(3), r.bonus(1)  # another art clip (its creator untried too), a tech clip
        gaps[counts] = untried - tried
        if counts:
            assert r.bonus(4) > untried + 0.2  # two untried topics: a larger bonus than one
    assert gaps[1] > 0.15 and gaps[1] > 2 * gaps[0], gaps  # (0.155 and 0.074: the creator, bias and length share the rest)


def test_foryou_bonus_as_written_out_for_clips_of_several_topics_or_none_while_the_catalog_grows():
    """The topics' part of the bonus is a gather for one-topic rows and a short sum for the others
    (``_topic_rows``, kept until growth). A catalog without any topic, rows of two and three topics, rows
    without a topic, rows that join later without a new column, a creator and a topic column that appear
    after views were learned: scores, ``bonus`` and 'Why this clip' are the model written out over the
    catalog as it is then, with ``topic_counts`` 1 and 0."""
    hand = dict(optimism=0.7, prior_precision=2.0, decay=0.9, noise=0.5, shrink=4.0, bias_shrink=5.0)

    def clip(i, topics, creator):
        return Clip(f"m{i}", "", f"M{i}", tuple(topics), creator, 10_000 + 3_000 * (i % 3), 30, 540, 960)

    space = FeatureSpace([clip(0, [], "ann"), clip(1, [], "bob")])  # no topic at all yet
    rankers = {counts: make_ranker("foryou", optimism=0.7, prior_precision=2.0, decay=0.9, noise=0.5,
                                   duration_shrink=4.0, bias_shrink=5.0, shift_keep=1.0,
                                   topic_counts=counts).bind(space) for counts in (1, 0)}
    views = []

    def learn(row, reward):
        for r in rankers.values():
            r.learn_one(space.clips[row], reward)
        views.append((row, reward))

    def check():
        for counts, r in rankers.items():
            want, _, _ = _foryou_by_hand(space, views, **hand, topic_counts=counts)
            mean_part, _, _ = _foryou_by_hand(space, views, **{**hand, "optimism": 0.0})
            assert r.scores(SplitMix(1)) == pytest.approx(want, rel=1e-5, abs=1e-6), counts
            bonus = [r.bonus(i) for i in range(space.n)]
            assert bonus == pytest.approx(want - mean_part, rel=1e-5, abs=1e-6), counts
            assert [r.explain(i)[-1] for i in range(space.n)] == [f"uncertainty +{b:.2f}" for b in bonus]
            assert r.liked_creators().shape == (len(space.creators),)

    check()
    learn(0, 0.5)
    check()
    space.add([clip(2, ["cats"], "ann")])  # one topic in the catalog: the clips without it have no topic part
    check()
    space.add([clip(3, ["cats", "dogs"], "bob"), clip(4, [], "cy"), clip(5, ["dogs", "art", "cats"], "ann"),
               clip(6, ["art"], "bob")])
    check()  # the topics untried
    for row, reward in [(3, -1.0), (5, 0.5), (4, 1.0), (2, -0.5)]:
        learn(row, reward)
    check()
    space.add([clip(7, ["dogs", "cats"], "cy"), clip(8, [], "ann")])  # rows, no new column
    check()
    learn(7, 1.5)
    space.add([clip(9, ["art"], "dee")])  # a creator column
    check()
    learn(9, 0.7)
    space.add([clip(10, ["tech", "cats"], "ann"), clip(11, ["tech"], "bob")])  # a topic after the others' views
    assert space.labels[-1] == "topic:tech"
    check()
    learn(10, -1.0)
    learn(11, 0.5)
    check()
    assert make_ranker("foryou", optimism=0.0).bind(space).bonus(0) == 0.0


# -- the other rankers' scores and rules ----------------------------------------------------------------


def test_popular_scores_are_log_views_scaled_to_one():
    space = _space(SPEC)
    r = make_ranker("popular").bind(space)
    assert r.scores(SplitMix(1)).tolist() == [0.0] * len(SPEC)  # nobody has watched anything yet
    r.world.popularity.add("c2", 9)
    r.world.popularity.add("c5", 3)
    expected = np.zeros(len(SPEC))
    expected[2], expected[5] = 1.0, math.log1p(3) / math.log1p(9)
    assert r.scores(SplitMix(1)) == pytest.approx(expected)
    r.world.popularity.add("c5", 6)  # counted live: the cached vector follows
    assert r.scores(SplitMix(1))[5] == pytest.approx(1.0)
    assert r.explain(5) == ("9 views",) and r.explain(0) == ("0 views",)
    p = make_ranker("popular").params
    assert (p["epsilon"], p["temperature"], p["repeat_penalty"], p["new_creator_floor"]) == (0.05, 0.0, 2.0, 0.0)


def test_following_keeps_to_followed_creators_and_says_why():
    space = _space(SPEC)
    r = make_ranker("following").bind(space)
    allowed = np.ones(len(SPEC), dtype=bool)
    assert r.restrict(allowed).tolist() == allowed.tolist()  # nobody followed: everything
    r.world.following.add("nobody-here")
    assert r.restrict(allowed).tolist() == allowed.tolist()  # only unknown creators: everything
    r.world.following.add("bob")
    assert np.flatnonzero(r.restrict(allowed)).tolist() == [1, 4, 7]
    allowed[4] = False
    assert np.flatnonzero(r.restrict(allowed)).tolist() == [1, 7]
    assert r.explain(1) == ("followed", "0 views") and r.explain(0) == ("popular fallback", "0 views")


def test_chronological_serves_the_newest_first():
    dated = [Clip(f"d{i}", "", "", ("t",), "a", 5000, 30, 1, 1, created=d)
             for i, d in enumerate(["2024-03-01", "", "2024-05-01", "2023-01-01"])]
    r = make_ranker("chronological").bind(FeatureSpace(dated))
    assert r.scores(SplitMix(0)).tolist() == pytest.approx([2 / 3, 0.0, 1.0, 1 / 3])
    assert [c.id for c in r.rank(dated)] == ["d2", "d0", "d3", "d1"]
    assert r.explain(2) == ("created 2024-05-01",) and r.explain(1) == ("no creation date",)
    p = make_ranker("chronological").params
    assert (p["epsilon"], p["temperature"], p["repeat_penalty"], p["max_same_topic"]) == (0.0, 0.0, 2.0, 0)


def test_random_draws_its_scores_from_the_stream_it_is_given():
    space = _space(SPEC)
    r = make_ranker("random").bind(space)
    assert r.scores(SplitMix(3, 4)).tolist() == SplitMix(3, 4).random(len(SPEC)).tolist()
    assert r.params["epsilon"] == 1.0 and r.params["max_same_topic"] == 0


def test_popularity_counts_known_before_binding_and_follows_the_world_and_growing_catalogs():
    from feedapp.core.rankers.base import Popularity, World

    space = _space(SPEC)
    r = make_ranker("popular", seed=5).bind(space, World(Popularity({"c1": 4, "elsewhere": 7})))
    assert r.seed == 5 and r.scores(SplitMix(0)) == pytest.approx([0, 1, 0, 0, 0, 0, 0, 0])
    r.bind(space, World(Popularity({"c0": 1})))  # another world, same version number: not the cached one
    assert r.scores(SplitMix(0)) == pytest.approx([1, 0, 0, 0, 0, 0, 0, 0])  # one view is the top: 1.0
    space.add([_clip(8, "cats", "zed")])
    r.world.popularity.add("c8", 1)
    assert r.scores(SplitMix(0)) == pytest.approx([1, 0, 0, 0, 0, 0, 0, 0, 1])


def test_the_plain_order_protocol_and_parameter_messages():
    from feedapp.core.rankers import RANKERS, ParameterError

    cs = [_clip(i, "t", "a") for i in range(40)]
    calm = make_ranker("popular", epsilon=0.0)
    assert calm.rank(cs) == cs  # equal scores: the input order, whatever the length
    assert calm.pick(cs) is cs[0]
    eager = make_ranker("popular", epsilon=1.0, seed=3)  # always a uniform candidate
    assert len({eager.pick(cs).id for _ in range(30)}) > 5
    with pytest.raises(ValueError, match="^cannot pick from an empty list of candidates$"):
        calm.pick([])
    assert all(cls().seed == 0 for cls in RANKERS.values())
    r = make_ranker("foryou")
    with pytest.raises(ParameterError, match=r"^ranker 'foryou' has no parameter 'speed' \(it has: decay, prior_precision, "):
        r.set_param("speed", 1)
    with pytest.raises(ParameterError, match="^ranker 'foryou': parameter decay must be between 0.5 and 1"):
        r.set_param("decay", 2)
    for name in ("random", "chronological", "popular"):
        with pytest.raises(AssertionError, match="bind the ranker to a feature space first"):
            make_ranker(name).scores(SplitMix(0))
    assert make_ranker("foryou").explain(0) == ()  # not bound yet: nothing to say


def test_describe_lists_every_ranker_with_its_sliders():
    from feedapp.core.rankers import describe

    for d in describe():
        assert set(d) == {"name", "description", "learner", "default", "params"} and d["description"]
        assert set(d["params"][0]) == {"name", "default", "min", "max", "kind", "description"}
    foryou = describe()[0]
    assert foryou["learner"] is True and foryou["params"][0] == {
        "name": "decay", "default": 0.99, "min": 0.5, "max": 1.0, "kind": "float",
        "description": "weight kept by past views at each new view (1 = never forget)"}


def test_a_small_uncertainty_is_still_explained():
    space = _space(SPEC)
    r = make_ranker("foryou", optimism=0.3).bind(space)
    x = space.X[0].astype(np.float64)
    bonus = 0.3 * math.sqrt((x * x) @ r._var32 + r._cv[space.creator_of[0]])
    assert 0.01 <= bonus < 1.0 and r.explain(0) == (f"uncertainty +{bonus:.2f}",)


def test_array_draws_continue_the_splitmix64_sequence():
    """Element i of ``random(size)`` is SplitMix64's output for the state base + (i + 1) * golden, where
    base is the generator's next output: the documented algorithm, written out here in plain ints."""
    M, G = (1 << 64) - 1, 0x9E3779B97F4A7C15

    def finalize(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        return z ^ (z >> 31)

    for keys, size in [((3, 4), 7), ((0,), 1), ((11, 2, 9), 70)]:
        state = 0
        for k in keys:  # the keys are folded in with the same mix
            state = finalize(((state ^ k) + G) & M)
        assert SplitMix(*keys)._state == state
        state = (state + G) & M
        base = finalize((state + G) & M)  # what the array draw takes as its base
        want = [(finalize((base + (i + 1) * G) & M) >> 11) / (1 << 53) for i in range(size)]
        got = SplitMix(*keys).random(size)
        assert got.tolist() == want
        assert SplitMix(*keys).random(size).tolist() == want  # cached steps are not changed by a draw


def test_learn_passes_the_view_the_way_each_learn_one_takes_it():
    from feedapp.core.model import View
    from feedapp.core.rankers.base import learn, view_argument

    got = []

    class Old:
        def learn_one(self, clip, reward):
            got.append(("old", clip, reward))

    class Positional:
        def learn_one(self, clip, reward, seen=None):  # any name for the third parameter
            got.append(("positional", clip, reward, seen))

    class Keyword:
        def learn_one(self, clip, reward, *, view=None):
            got.append(("keyword", clip, reward, view))

    class Anything:
        def learn_one(self, clip, reward, **extra):
            got.append(("kwargs", clip, reward, extra))

    assert [view_argument(r) for r in (Old(), Positional(), Keyword(), Anything())] == [
        "", "positional", "keyword", "keyword"]
    assert view_argument(Positional()) == "positional"  # read once per function, then cached
    builtin = type("Builtin", (), {"learn_one": staticmethod(max)})()  # no signature to read: the old protocol
    assert view_argument(builtin) == ""
    v = View("c0", 1000, 800)
    for r in (Old(), Positional(), Keyword(), Anything()):
        learn(r, "clip", 0.5, v)
        learn(r, "clip", 0.25, None)  # no view: clip and reward only, whatever the signature
    assert got == [("old", "clip", 0.5), ("old", "clip", 0.25),
                   ("positional", "clip", 0.5, v), ("positional", "clip", 0.25, None),
                   ("keyword", "clip", 0.5, v), ("keyword", "clip", 0.25, None),
                   ("kwargs", "clip", 0.5, {"view": v}), ("kwargs", "clip", 0.25, {})]


def test_scalar_draws_integers_and_the_two_streams():
    from feedapp.core.rankers.rng import SCORE_STREAM, decision_streams

    M, G = (1 << 64) - 1, 0x9E3779B97F4A7C15
    a, b = SplitMix(5, 6), SplitMix(5, 6)
    first = a.random()
    assert 0.0 <= first < 1.0 and a.random() != first and b.random() == first  # a stream, and a pure function
    assert [SplitMix(9).integers(7) for _ in range(3)] == [int(SplitMix(9).random() * 7)] * 3
    draws = SplitMix(1)
    assert {draws.integers(3) for _ in range(200)} == {0, 1, 2}
    with pytest.raises(ValueError, match="^high must be 1 or more, not 0$"):
        SplitMix(1).integers(0)
    score, policy = decision_streams(7 + (1 << 64), 3, 2)  # seeds are taken modulo 2**64
    assert score.random() == SplitMix(7, 3, 2, SCORE_STREAM).random() and SCORE_STREAM == 0x53434F5245
    assert policy.random() == SplitMix(7, 3, 2).random()
    assert SplitMix(-1)._state == SplitMix(M)._state  # keys are taken modulo 2**64
    from feedapp.core.rankers.rng import absorb

    prefix = absorb(0, 5, -6)  # a common prefix taken in once, the rest of the keys later: the same stream
    assert SplitMix.at(absorb(prefix, 7)).random(4).tolist() == SplitMix(5, -6, 7).random(4).tolist()
    assert SplitMix.at(prefix).random() == SplitMix(5, -6).random() and absorb(prefix) == prefix


def test_registry_and_ranker_construction_messages():
    from feedapp.core.rankers import ParameterError, UnknownRanker
    from feedapp.core.rankers.base import Popularity

    assert make_ranker().name == "foryou" and make_ranker("popular").seed == 0
    assert make_ranker("ts_topic", seed=2).name == "ts_topic"  # a peer, found by name
    with pytest.raises(UnknownRanker, match=r"^there is no ranker called 'tiktok' \(choose one of: foryou, random, "
                                            r"chronological, popular, following; peers: ts_topic, lin_ts, vw_cb; "
                                            r"or a plugin, path/to/file.py:ClassName\)$"):
        make_ranker("tiktok")
    # a typo is named (seen in a trial: `play --ranker foryuo` listed the names without saying which)
    for typo, meant in (("foryuo", "foryou"), ("ForYou", "foryou"), ("popluar", "popular"), ("ts-topic", "ts_topic")):
        with pytest.raises(UnknownRanker, match=rf"^there is no ranker called '{typo}'; did you mean '{meant}'\? \(choose"):
            make_ranker(typo)
    # a plugin file without its class (seen in a new-user trial: "there is no ranker called 'mine.py'")
    with pytest.raises(UnknownRanker, match=r"^plugins/mine.py is a plugin file: name the ranker class in it too, "
                                            r"as plugins/mine.py:ClassName$"):
        make_ranker("plugins/mine.py")
    with pytest.raises(ParameterError, match="^ranker 'foryou': parameter decay must be between"):
        make_ranker("foryou", decay=2)
    with pytest.raises(ParameterError, match=r"^ranker 'foryou' has no parameter 'speed' \(it has: decay, "):
        make_ranker("foryou", speed=1)
    for bad in (True, 2.5, "3"):
        with pytest.raises(ParameterError, match=f"^ranker 'popular': seed must be a whole number, not {bad!r}$"):
            make_ranker("popular", seed=bad)
    with pytest.raises(ParameterError, match="must be between 0 and 1, not a number that large$"):
        make_ranker("foryou", epsilon=10**400)
    pop = Popularity()
    pop.add("a")
    pop.add("b", 3)
    assert pop.counts == {"a": 1, "b": 3}
    space = _space(SPEC)
    pop.vector(space)
    pop.add("not-in-this-catalog")  # counted, and the catalog's vector is left alone
    assert pop.counts["not-in-this-catalog"] == 1 and pop.vector(space).sum() == 0.0


def test_the_softmax_divides_by_the_temperature():
    scores = np.array([0.5, 0.9, 0.2, 0.0, 0.7, 0.1, 0.3, 0.6])
    for temp in (0.25, 2.0):
        dec = _decide(_space(SPEC), scores, [], {"temperature": temp})
        soft = np.exp(scores / temp)
        assert dec.probs == pytest.approx(soft / soft.sum(), rel=1e-12)
        assert dec.propensity == pytest.approx(float(dec.probs[dec.row])) and dec.why == ()


def test_pure_exploration_is_uniform_over_the_allowed_clips():
    scores = np.arange(len(SPEC), dtype=np.float64)
    dec = _decide(_space(SPEC), scores, [3], {"epsilon": 1.0})
    allowed = [r for r in range(len(SPEC)) if r != 3]
    assert dec.explore and dec.why == ("explore: uniform",) and dec.propensity == 1 / 7
    assert dec.allowed.tolist() == allowed and dec.ok_rows.tolist() == allowed and dec.n == len(SPEC)
    assert dec.adjusted.tolist() == scores[allowed].tolist() and dec.score == scores[dec.row]
    assert dec.full_probs().tolist() == [1 / 7 if r != 3 else 0.0 for r in range(len(SPEC))]
    picks = {_decide(_space(SPEC), scores, [3], {"epsilon": 1.0}, seed=k).row for k in range(80)}
    assert picks == set(allowed)
    with pytest.raises(ValueError, match="^cannot choose a clip from an empty catalog$"):
        _decide(FeatureSpace([]), np.zeros(0), [], {})


def test_broken_scores_count_as_the_lowest():
    scores = np.array([0.5, np.nan, 0.2, np.inf, 0.7, 0.1, -np.inf, 0.6])
    dec = _decide(_space(SPEC), scores, [], {"temperature": 0.5})
    fixed = np.where(np.isfinite(scores), scores, 0.1 - 1.0)
    soft = np.exp(fixed / 0.5)
    assert dec.adjusted.tolist() == fixed.tolist() and dec.probs == pytest.approx(soft / soft.sum())
    dec = _decide(_space(SPEC), np.full(len(SPEC), np.nan), [], {"temperature": 0.5})
    assert dec.adjusted.tolist() == [0.0] * len(SPEC)  # nothing finite: all equal


def test_a_restriction_that_leaves_nothing_relaxes_the_repeat_rules_but_not_the_last_clip():
    space = _space(SPEC)
    only_bob = lambda ok: ok & np.isin(space.creator_of, [space.creator_index["bob"]])  # noqa: E731
    served = [1, 4, 7]  # every clip by bob, within the repeat gap
    dec = decide(space, np.zeros(len(SPEC)), served, np.zeros(len(SPEC), dtype=bool),
                 {**QUIET, "repeat_gap": 10}, SplitMix(0), restrict=only_bob)
    assert dec.ok_rows.tolist() == [1, 4]  # bob again, but never the clip just served
    blocked = np.zeros(len(SPEC), dtype=bool)
    blocked[[1, 4]] = True  # "not interested" in the other two: the restriction is dropped
    dec = decide(space, np.zeros(len(SPEC)), served, blocked, {**QUIET, "repeat_gap": 10}, SplitMix(0),
                 restrict=only_bob)
    assert dec.ok_rows.tolist() == [0, 2, 3, 5, 6]


def test_the_floor_reaches_new_creators_with_its_own_share():
    scores = np.zeros(len(SPEC))
    served = [0, 1]  # ann and bob shown; cy, dee, eve new
    dec = _decide(_space(SPEC), scores, served, {"new_creator_floor": 0.3, "epsilon": 0.1, "temperature": 0.0})
    new = [2, 5, 6]
    assert dec.new_rows.tolist() == new and dec.new_each == pytest.approx(0.1)
    assert dec.eps_each == pytest.approx(0.1 / 7)  # every clip but the one just served
    best = int(dec.allowed[np.argmax(dec.adjusted)])
    for row in range(len(SPEC)):
        expected = 0.0 if row == 1 else 0.1 / 7 + 0.1 * (row in new) + 0.6 * (row == best)
        assert dec.prob_of(row) == pytest.approx(expected)
    whys = {_decide(_space(SPEC), scores, served, {"new_creator_floor": 0.3, "epsilon": 0.1, "temperature": 0.0},
                    seed=k).why for k in range(200)}
    assert {("explore: uniform",), ("explore: new creator",), ()} <= whys
    capped = _decide(_space(SPEC), scores, served, {"new_creator_floor": 0.9, "epsilon": 0.5})
    assert capped.new_each == pytest.approx(0.5 / 3)  # the floor never exceeds what exploration leaves


def test_diversity_rule_on_clips_of_several_topics_and_after_the_catalog_grows():
    """The topic run of ``max_same_topic`` read as written: a topic fills the run when each of the last N
    clips has it (clips of two and three topics here), and every clip with such a topic is left out
    (unless that leaves nothing); also for rows and topics added after the space was made."""
    rng = np.random.default_rng(5)
    names = ["cats", "dogs", "art", "tech"]

    def clips(lo, hi, pool):
        return [Clip(f"m{i}", "", f"M{i}", tuple(rng.choice(pool, size=rng.integers(1, 4), replace=False)),
                     f"cr{i % 3}", 10_000, 30, 540, 960) for i in range(lo, hi)]

    space = FeatureSpace(clips(0, 12, names))

    def by_hand(served, blocked, nrun, gap):
        ok = ~blocked
        ok[served[-gap:]] = False
        T = space.T
        full = T[served[-nrun:]].min(axis=0) > 0
        if full.any():
            diverse = ok & ~(T[:, full].max(axis=1) > 0)
            if diverse.any():
                ok = diverse
        return ok

    checked = 0
    for grow in (False, True):
        if grow:
            space.add(clips(12, 20, names + ["food"]))  # new rows, and a topic the space had not seen
        for _ in range(60):
            served = rng.integers(0, space.n, size=int(rng.integers(3, 8)))
            blocked = rng.random(space.n) < 0.1
            nrun = int(rng.integers(1, 4))
            want = by_hand(served, blocked, nrun, 2)
            if not want.any():
                continue
            got = allowed_mask(space, served, blocked, {**QUIET, "max_same_topic": nrun, "repeat_gap": 2})
            assert got.tolist() == want.tolist()
            checked += 1
    assert checked > 80


def test_topic_fatigue_is_the_same_from_the_float64_copy_and_from_converted_rows(monkeypatch):
    """Small catalogs read topic rows from the space's float64 copy of T, large ones convert the rows
    they read: the same numbers, so the same adjusted scores and propensities to the last bit."""
    from feedapp.core.rankers import policy

    rng = np.random.default_rng(2)
    names = ["cats", "dogs", "art", "tech", "food"]
    space = FeatureSpace([Clip(f"t{i}", "", f"T{i}", tuple(rng.choice(names, size=int(rng.integers(1, 4)), replace=False)),
                               f"cr{i % 5}", 10_000, 30, 540, 960) for i in range(40)])
    params = {"topic_fatigue": 0.7, "fatigue_halflife": 4.0, "max_same_topic": 0, "repeat_gap": 3}
    cases = [(rng.normal(size=space.n), rng.integers(0, space.n, size=int(rng.integers(1, 25)))) for _ in range(30)]

    def run():
        return [_decide(space, s, served, params, seed=k) for k, (s, served) in enumerate(cases)]

    small = run()
    monkeypatch.setattr(policy, "T64_MAX_ROWS", 0)
    large = run()
    for a, b in zip(small, large):
        assert (a.row, a.propensity, a.score) == (b.row, b.propensity, b.score)
        assert a.adjusted.tobytes() == b.adjusted.tobytes() and a.probs.tobytes() == b.probs.tobytes()
    assert any("topic fatigue" in r for d in small for r in d.why)


def test_fatigue_looks_back_six_halflives_plus_one_slots_at_any_halflife():
    """The window is int(6 * h) + 1 slots: at h = 2 a clip 12 slots ago still counts 0.5 ** 6, one 13 ago
    does not."""
    scores = np.zeros(len(SPEC))
    served = [2, 0] + [6, 5] * 6  # cats/cy 13 slots ago, cats/ann 12 ago, then tech and art
    dec = _decide(_space(SPEC), scores, served, {"topic_fatigue": 1.0, "fatigue_halflife": 2.0})
    adj = dict(zip(dec.allowed.tolist(), dec.adjusted.tolist()))
    assert [adj[r] for r in (0, 2, 7)] == [-(0.5 ** 6)] * 3  # the cats clips: only the serving 12 ago
    assert adj[1] == adj[3] == 0.0


def test_liked_creators_of_another_length_spare_the_creators_they_cover():
    """A liked mask shorter than the space's creators (creators added since the ranker built it) spares the
    creators it covers; a longer one is read up to the space's creators."""
    space = _space(SPEC)  # creators in order: ann, bob, cy, dee, eve
    served = [0, 1]  # ann two slots ago (weight 0.5), bob last (weight 1)
    params = {**QUIET, "creator_fatigue": 0.4}

    def adjusted(liked):
        dec = decide(space, np.zeros(len(SPEC)), served, np.zeros(len(SPEC), dtype=bool), params, SplitMix(0),
                     liked_creators=np.array(liked, dtype=bool))
        return dict(zip(dec.allowed.tolist(), dec.adjusted.tolist()))

    short = adjusted([True])  # ann only
    assert [short[r] for r in (0, 3, 4, 7, 2)] == [0.0, 0.0, -0.4, -0.4, 0.0]
    long = adjusted([False, True, False, False, False, True, True])  # bob, and two creators the space lacks
    assert [long[r] for r in (0, 3, 4, 7, 2)] == [-0.2, -0.2, 0.0, 0.0, 0.0]


def test_ranker_context_passes_the_restriction_and_liked_creators_as_bools():
    from feedapp.core.rankers.popular import PopularRanker

    space = _space(SPEC)
    assert ranker_context(make_ranker("popular").bind(space)) == {}  # no restriction, no liked creators
    following = make_ranker("following").bind(space)
    assert ranker_context(following) == {"restrict": following.restrict}
    foryou = make_ranker("foryou").bind(space)
    ctx = ranker_context(foryou)
    assert list(ctx) == ["liked_creators"] and ctx["liked_creators"].tolist() == foryou.liked_creators().tolist()

    class Fan(PopularRanker):  # a plugin-style ranker naming its liked creators by 0/1, or not at all
        mask: list[int] | None = [0, 1, 0, 0, 1]

        def liked_creators(self):
            return self.mask

    fan = Fan().bind(space)
    liked = ranker_context(fan)["liked_creators"]
    assert liked.dtype == bool and liked.tolist() == [False, True, False, False, True]
    fan.mask = None
    assert ranker_context(fan) == {}


def test_cut_reasons_word_the_cuts_of_an_undecided_row_like_a_picks():
    space = _space(SPEC)
    params = {**QUIET, "topic_fatigue": 0.2, "creator_fatigue": 0.4}
    assert cut_reasons(space, 7, [0, 1], params) == ("topic fatigue -0.10", "creator fatigue -0.40")
    assert cut_reasons(space, 6, [0, 1], params) == ()  # tech/eve: nothing in common with what was served
    liked = np.array([False, True, False, False, False])  # bob spared
    assert cut_reasons(space, 7, [0, 1], params, liked) == ("topic fatigue -0.10",)
    rep = {**QUIET, "repeat_penalty": 0.3}
    assert cut_reasons(space, 2, [2, 6, 2, 6, 1], rep) == ("served 2x before, last 3 ago", "repeat -0.60")
    assert cut_reasons(space, 0, [2, 6, 2, 6, 1], rep) == ()
    assert cut_reasons(space, 2, [], rep) == () and cut_reasons(space, 2, [2, 6], QUIET) == ()
    # a cut of exactly 0.005 (weight 1) is not worth naming; a repeat is named however small
    tiny = {**QUIET, "topic_fatigue": 0.005, "creator_fatigue": 0.005, "repeat_penalty": 0.005}
    assert cut_reasons(space, 1, [6, 5, 4, 3, 2, 1, 0], tiny) == ("served 1x before, last 2 ago",)
    assert cut_reasons(space, 7, [0, 4], tiny) == ()  # cats 2 ago (0.0025), bob last (exactly 0.005)
    assert cut_reasons(space, 7, [4, 0], tiny) == ()  # bob 2 ago (0.0025), cats last (exactly 0.005)
    assert cut_reasons(space, 7, [4], {**tiny, "creator_fatigue": 0.0051}) == ("creator fatigue -0.01",)


def test_prob_of_a_row_past_every_allowed_or_new_row():
    dec = _decide(_space(SPEC), np.zeros(len(SPEC)), [0, 7], {"epsilon": 0.1})
    assert dec.prob_of(7) == 0.0  # the clip just served, the last row of the catalog
    spec = _big(SHORTLIST + 200)  # creator cr(i % 40)
    space = _space(spec)
    scores = -np.arange(space.n, dtype=np.float64)  # the first 512 rows are the shortlist
    last = space.n - 1
    dec = _decide(space, scores, [last - 40], {"epsilon": 0.1, "new_creator_floor": 0.3})  # the last row's creator
    assert last not in dec.allowed and last not in dec.new_rows and dec.new_rows[-1] < last
    assert dec.prob_of(last) == pytest.approx(0.1 / (space.n - 1))  # exploration's share only: not new


def test_a_restriction_keeps_the_repeat_rules_while_it_leaves_something():
    space = _space(SPEC)
    only_bob = lambda ok: ok & np.isin(space.creator_of, [space.creator_index["bob"]])  # noqa: E731
    dec = decide(space, np.zeros(len(SPEC)), [1, 0], np.zeros(len(SPEC), dtype=bool), {**QUIET, "repeat_gap": 10},
                 SplitMix(0), restrict=only_bob)
    assert dec.ok_rows.tolist() == [4, 7]  # bob's clip 1 was served within the gap: not back yet
    two = _space([("cats", "bob"), ("dogs", "ann")])  # two clips: the relaxed rules still skip the last one
    only_bob2 = lambda ok: ok & (two.creator_of == two.creator_index["bob"])  # noqa: E731
    dec = decide(two, np.zeros(2), [0], np.zeros(2, dtype=bool), QUIET, SplitMix(0), restrict=only_bob2)
    assert dec.ok_rows.tolist() == [1] and dec.row == 1


def test_pure_exploration_ignores_fatigue_and_repeats():
    scores = np.arange(len(SPEC), dtype=np.float64)
    params = {"epsilon": 1.0, "topic_fatigue": 0.5, "creator_fatigue": 0.5, "repeat_penalty": 1.0}
    for seed in range(6):
        dec = _decide(_space(SPEC), scores, [0, 3, 1], params, seed=seed)
        allowed = [0, 2, 3, 4, 5, 6, 7]
        assert dec.adjusted.tolist() == scores[allowed].tolist() and dec.score == scores[dec.row]
        assert dec.why == ("explore: uniform",) and dec.propensity == 1 / 7 and dec.eps_each == 1 / 7


def test_the_first_decision_of_a_feed_finds_every_creator_new():
    dec = _decide(_space(SPEC), np.zeros(len(SPEC)), [], {"new_creator_floor": 0.3, "epsilon": 0.1})
    assert dec.new_rows.tolist() == list(range(len(SPEC))) and dec.new_each == pytest.approx(0.3 / len(SPEC))
    assert dec.propensity == pytest.approx(0.6 / len(SPEC) + 0.1 / len(SPEC) + 0.3 / len(SPEC))


def test_scores_of_any_float_type_are_decided_in_float64():
    scores = np.random.default_rng(4).normal(size=len(SPEC)).astype(np.float32)
    blocked = np.zeros(len(SPEC), dtype=bool)
    params = {**QUIET, "temperature": 0.3, "epsilon": 0.05}
    low = decide(_space(SPEC), scores, [2], blocked, params, SplitMix(1))
    wide = decide(_space(SPEC), scores.astype(np.float64), [2], blocked, params, SplitMix(1))
    assert low.adjusted.dtype == np.float64 and low.probs.tobytes() == wide.probs.tobytes()
    assert (low.row, low.propensity) == (wide.row, wide.propensity)


def test_the_shortlist_is_the_best_scores_on_orders_that_partition_unevenly():
    """Score orders (valleys, saw teeth) where a partition at the wrong rank would keep another clip than the
    512th best: the shortlist is still exactly the SHORTLIST best."""
    for m, shape in ((652, "valley"), (559, "saw"), (649, "vee")):
        x = np.arange(m, dtype=np.float64)
        scores = {"valley": np.minimum(x, m - x) - x / (4 * m), "saw": x % 37 + x / (4 * m),
                  "vee": np.abs(x - m / 2) + x / (4 * m)}[shape]
        dec = _decide(_space(_big(m)), scores, [], {"temperature": 0.0})
        assert dec.allowed.tolist() == np.sort(np.argsort(-scores)[:SHORTLIST]).tolist(), shape


def test_the_softmax_holds_for_scores_far_from_zero():
    for big in (800.0, -800.0):
        scores = np.array([big, big - 1.0, big - 2.0, 0.0, 0.0, 0.0, 0.0, 0.0]) if big > 0 else \
            np.array([big, big - 1.0, big - 2.0, -2000.0, -2000.0, -2000.0, -2000.0, -2000.0])
        dec = _decide(_space(SPEC), scores, [], {"temperature": 1.0})
        soft = np.exp(scores - scores.max())
        assert np.isfinite(dec.probs).all() and dec.probs == pytest.approx(soft / soft.sum(), rel=1e-12)


def test_softmax_draws_reach_every_clip_at_its_share():
    """Over many decision streams each clip is drawn about as often as its logged probability says, the last
    row of the shortlist included."""
    scores = np.zeros(len(SPEC))
    counts = np.zeros(len(SPEC), dtype=int)
    for seed in range(400):
        dec = _decide(_space(SPEC), scores, [], {"temperature": 1.0}, seed=seed)
        assert dec.propensity == pytest.approx(1 / 8)
        counts[dec.row] += 1
    assert counts.min() >= 25 and counts.max() <= 75, counts.tolist()  # 50 each expected (sd about 6.6)


def test_an_exploration_pick_outside_the_shortlist_carries_its_cuts():
    """A clip reached only by exploration (not shortlisted) logs its adjusted score and the cuts' reasons,
    sparing the ranker's liked creators like any other pick."""
    spec = _big(SHORTLIST + 200)  # creator cr(i % 40), creator id i % 40
    space = _space(spec)
    scores = -np.arange(space.n, dtype=np.float64) / space.n  # the first 512 rows are the shortlist
    served = [601, 600]  # cr1 two slots ago (weight 0.5), cr0 last (weight 1)
    liked = np.zeros(len(space.creators), dtype=bool)
    liked[1] = True
    params = {**QUIET, "epsilon": 0.9, "creator_fatigue": 0.4}
    seen = set()
    for seed in range(300):
        dec = decide(space, scores, served, np.zeros(space.n, dtype=bool), params, SplitMix(seed),
                     liked_creators=liked)
        if dec.row < SHORTLIST or dec.row % 40 > 1:
            continue
        cr = dec.row % 40
        seen.add(cr)
        assert dec.propensity == pytest.approx(0.9 / (space.n - 1))
        if cr == 0:
            assert dec.score == scores[dec.row] - 0.4 and dec.why == ("explore: uniform", "creator fatigue -0.40")
        else:  # liked: no creator fatigue
            assert dec.score == scores[dec.row] and dec.why == ("explore: uniform",)
    assert seen == {0, 1}


def test_allowed_mask_keeps_not_interested_and_the_last_clip_out_as_long_as_it_can():
    space = _space(SPEC)
    blocked = np.zeros(len(SPEC), dtype=bool)
    blocked[[2, 5]] = True
    first = allowed_mask(space, np.array([], dtype=np.intp), blocked, QUIET)  # a feed's first slot
    assert first.dtype == bool and first.tolist() == (~blocked).tolist()
    gap = allowed_mask(space, np.array([0, 1, 3, 4, 6, 7]), blocked, {**QUIET, "repeat_gap": 10})
    assert gap.tolist() == [True, True, False, True, True, False, True, False]  # the gap gives way, the block not
    for served in ([], [3]):  # everything blocked, a restriction applies to what is left: still bool masks
        dec = decide(space, np.zeros(len(SPEC)), served, np.ones(len(SPEC), dtype=bool), QUIET, SplitMix(0),
                     restrict=lambda ok: ok & (space.creator_of == space.creator_index["bob"]))
        assert dec.ok_rows.tolist() == [r for r in (1, 4, 7) if r not in served]
    two, one = _space(SPEC[:2]), _space(SPEC[:1])
    assert allowed_mask(two, np.array([0]), np.zeros(2, dtype=bool), {**QUIET, "repeat_gap": 2}).tolist() == [False, True]
    assert allowed_mask(two, np.array([1, 0]), np.zeros(2, dtype=bool), {**QUIET, "repeat_gap": 2}).tolist() == \
        [False, True]  # both within the gap: it gives way, but not to the clip just served
    assert allowed_mask(two, np.array([0]), np.ones(2, dtype=bool), QUIET).tolist() == [False, True]
    assert allowed_mask(one, np.array([0]), np.ones(1, dtype=bool), QUIET).tolist() == [True]  # it plays again


def test_a_skip_counts_against_its_topic_not_only_against_the_average():
    """With ``bias_shrink`` 10 the average-reward weight learns slowly, so skips lower the topics they
    were of: a topic skipped once ranks well below one never tried, and a view merely less bad than the
    skips (-0.2 among -1.4s) does not lift its topic far above the untried ones. With an equal prior
    (``bias_shrink`` 1, the default) the skipped topics stay near untried ones and the less-bad one
    jumps ahead: the trap that keeps a 10k-clip search going back to the same topics."""
    from feedapp.core.sim_catalogs import generated_catalog

    cat = generated_catalog(1000, 20, 200, 0)
    space = FeatureSpace(cat.clips)
    by_topic: dict[str, list] = {}
    for c in cat.clips:
        if len(c.topics) == 1:
            by_topic.setdefault(c.topics[0], []).append(c)
    topics = sorted(by_topic)

    def after_skips(**params) -> tuple[float, float, float]:
        r = make_ranker("foryou", **params).bind(space)
        for t in topics[:8]:
            r.learn_one(by_topic[t][0], -1.4)
        r.learn_one(by_topic[topics[8]][0], -0.2)
        s = r.scores(SplitMix(1))

        def topic_score(t: str) -> float:  # the topic's other clips, on average
            return float(np.mean([s[space.row_of[c.id]] for c in by_topic[t][1:]]))

        return (float(np.mean([topic_score(t) for t in topics[:8]])), topic_score(topics[8]),
                float(np.mean([topic_score(t) for t in topics[9:]])))

    skipped, less_bad, untried = after_skips(bias_shrink=10.0)
    assert skipped < untried - 0.3, (skipped, untried)
    assert less_bad < untried + 0.1, (less_bad, untried)
    skipped, less_bad, untried = after_skips()
    assert skipped > untried - 0.3 and less_bad > untried + 0.15, (skipped, less_bad, untried)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # (inf + -inf in the finite check)
def test_greedy_and_uniform_rows_are_decides_rows():
    """The lean decisions are ``decide``'s on their paths: random allowed sets (blocked rows, the same-topic
    limit), scores with ties and non-finite values, catalogs below and above the shortlist."""
    rnd = np.random.default_rng(7)
    for n in (5, 64, 700):
        cat = generated_catalog(n, 6, max(1, n // 20), seed=n)
        space = FeatureSpace(cat.clips)
        params = dict(make_ranker("random").params)
        greedy = {**params, "epsilon": 0.0, "temperature": 0.0, "max_same_topic": 2, "repeat_gap": 4}
        assert is_greedy(greedy) and not is_uniform(greedy) and is_uniform(params) and not is_greedy(params)
        for trial in range(40):
            served = rnd.integers(0, n, size=int(rnd.integers(0, 12))).astype(np.intp)
            blocked = rnd.random(n) < 0.2
            scores = np.round(rnd.normal(size=n), 1)  # ties
            if trial % 4 == 0:
                scores[rnd.integers(0, n, 3)] = [np.nan, np.inf, -np.inf]
            elif trial % 4 == 1:  # every score tied: above the shortlist, its first row is not the catalog's
                scores[:] = 0.5
            want = decide(space, scores, served, blocked, greedy, SplitMix(trial), reasons=False)
            assert greedy_row(space, scores, served, blocked, greedy) == want.row and want.propensity == 1.0
            want = decide(space, scores, served, blocked, params, SplitMix(trial, 1), reasons=False)
            assert uniform_row(space, served, blocked, params, SplitMix(trial, 1)) == (want.row, want.propensity)
