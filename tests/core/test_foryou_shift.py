"""foryou forgets faster when a taste changes (``shift_keep``, ``shift_threshold``): a feed of mostly
favourites whose rewards suddenly fall short triggers it within a few views; the same feed with the taste
kept, noise included, never does (20 seeded streams each)."""

from __future__ import annotations

import numpy as np

from feedapp.core.features import FeatureSpace
from feedapp.core.rankers import make_ranker
from feedapp.core.simulate import demo_like_catalog

CAT = demo_like_catalog(0)
SPACE = FeatureSpace(CAT.clips)
CATS = [c for c in CAT.clips if "cats" in c.topics]
OTHER = [c for c in CAT.clips if "cats" not in c.topics]
SWITCH = 60


def _stream(seed: int, switched: bool, **params):
    """A feed that is 90% #cats (what foryou serves a cat lover); rewards +0.8 for cats and -0.4 for the
    rest, noise sd 0.5; with ``switched`` the viewer turns against cats at view 60 (-0.6, the rest +0.3)."""
    r = make_ranker("foryou", seed=0, **params).bind(SPACE)
    rng = np.random.default_rng(seed)
    first = None
    for v in range(120):
        c = CATS[rng.integers(len(CATS))] if rng.random() < 0.9 else OTHER[rng.integers(len(OTHER))]
        likes_cats = not (switched and v >= SWITCH)
        base = (0.8 if "cats" in c.topics else -0.4) if likes_cats else (-0.6 if "cats" in c.topics else 0.3)
        r.learn_one(c, base + rng.normal(0, 0.5))
        if first is None and r.shifts:
            first = v
    return r, first


def test_a_kept_taste_never_triggers_faster_forgetting():
    assert [_stream(s, switched=False)[0].shifts for s in range(20)] == [0] * 20


def test_a_changed_taste_is_detected_within_a_few_views_and_forgotten_faster():
    runs = [_stream(s, switched=True) for s in range(20)]
    firsts = [first for _, first in runs if first is not None]
    assert len(firsts) >= 10, firsts  # 14 of 20 here; the others' bias absorbed the change at once
    assert all(SWITCH <= f <= SWITCH + 8 for f in firsts), firsts
    for s in range(20):
        fast, first = runs[s]
        if first is None:
            continue
        slow, never = _stream(s, switched=True, shift_keep=1.0)
        assert never is None and slow.shifts == 0  # 1 turns it off
        # the faster forgetting moved the stream's state: the weights differ from the run without it
        assert fast.weights()["topic:cats"] != slow.weights()["topic:cats"]


def test_shift_forgetting_relaxes_towards_the_prior():
    """One detected shift keeps ``shift_keep`` of the mean and brings the variances back towards the prior."""
    r = make_ranker("foryou", seed=0, shift_keep=0.5, shift_threshold=0.1).bind(SPACE)
    for _ in range(30):
        r.learn_one(CATS[0], 1.0)
    m_before, v_before = r._mean.copy(), r._P.diagonal().copy()
    shifts = r.shifts
    r.learn_one(CATS[0], -3.0)  # far below the prediction: the average falls past -0.1 at once
    assert r.shifts == shifts + 1
    col = SPACE.labels.index("topic:cats")
    assert r._mean[col] < 0.5 * m_before[col] + 1e-9  # at most half kept (then the view itself lowers it)
    assert r._P.diagonal()[col] > v_before[col]  # less sure than before
