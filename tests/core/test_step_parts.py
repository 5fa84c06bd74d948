"""Parts of the engine's step made cheaper for the simulator (docs/benchmarks.md, "Simulate (issue 10)"):
each must give exactly what its plain form gives."""

from __future__ import annotations

import dataclasses
import math
import pickle

import numpy as np
import pytest

from feedapp.core.features import DURATION_EDGES_S, duration_bucket
from feedapp.core.model import Pick, View, quick_init
from feedapp.core.rankers.policy import Decision
from feedapp.core.rankers.rng import SCORE_STREAM, SplitMix, absorb, decision_streams
from feedapp.core.reward import Reward

M = (1 << 64) - 1
G = 0x9E3779B97F4A7C15


def mix(z: int) -> int:  # SplitMix64's output function (Steele, Lea, Flood 2014), written out
    z = (z + G) & M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def reference_stream(keys: tuple[int, ...], k: int) -> list[float]:
    state = 0
    for key in keys:
        state = mix(state ^ (key & M))
    out = []
    for _ in range(k):
        state = (state + G) & M
        out.append((mix(state) >> 11) / float(1 << 53))
    return out


@pytest.mark.parametrize("keys", [(0,), (7, 3, 99), (2**64 - 1, 12), (123456789, 0, 0, SCORE_STREAM)])
def test_scalar_draws_follow_splitmix64(keys):
    rng = SplitMix(*keys)
    assert [rng.random() for _ in range(6)] == reference_stream(keys, 6)


@pytest.mark.parametrize("size", [1, 5, 64, 1000])
def test_array_draw_is_the_written_out_formula(size):
    rng = SplitMix(4, 2)
    before = rng._state
    got = rng.random(size)
    first = mix((before + G) & M)  # the one scalar step the array draw takes
    want = [(mix((first + k * G) & M) >> 11) / float(1 << 53) for k in range(size)]
    assert got.dtype == np.float64 and got.tolist() == want
    assert rng._state == (before + G) & M  # one step of the stream, whatever the size
    assert SplitMix(4, 2).random(size).tolist() == want  # a fresh array each time (the cached steps untouched)


@pytest.mark.parametrize("seed,position,views", [(0, 0, 0), (5, 17, 16), (2**40 + 3, 99, 120)])
def test_decision_streams_are_keyed_by_seed_slot_and_views(seed, position, views):
    score, policy = decision_streams(seed, position, views)
    assert [policy.random() for _ in range(3)] == reference_stream((seed, position, views), 3)
    assert [score.random() for _ in range(3)] == reference_stream((seed, position, views, SCORE_STREAM), 3)
    assert SplitMix.at(absorb(absorb(0, seed), position, views))._state == SplitMix(seed, position, views)._state


def test_duration_bucket_edges():
    for i, edge in enumerate(DURATION_EDGES_S):
        assert duration_bucket(edge * 1000.0 - 1.0) == i
        assert duration_bucket(edge * 1000.0) == i + 1
    assert duration_bucket(0.0) == duration_bucket(-5.0) == 0
    assert duration_bucket(math.nan) == duration_bucket(math.inf) == duration_bucket(-math.inf) == 0
    assert duration_bucket(10**9) == len(DURATION_EDGES_S)


def _fields() -> list:
    return [("a", str), ("b", float), ("c", int, dataclasses.field(default=3)), ("d", tuple, dataclasses.field(default=())),
            ("e", list, dataclasses.field(default_factory=list))]


def _frozen(name: str) -> type:
    cls = dataclasses.make_dataclass(name, _fields(), frozen=True)
    cls.__module__ = __name__  # (pickle finds it here)
    return cls


Plain = _frozen("Plain")
Quick = quick_init(_frozen("Quick"))


def test_quick_init_builds_what_the_dataclass_builds():
    for args, kw in [(("x", 1.5), {}), (("x",), {"b": 2.0, "e": [1]}), (("y", 0.0, 7, (1, 2)), {})]:
        p, q = Plain(*args, **kw), Quick(*args, **kw)
        assert vars(p) == vars(q) and list(vars(p)) == list(vars(q))
        assert repr(q) == repr(p).replace("Plain", "Quick")
    q = Quick("x", 1.0)
    assert q.e == [] and Quick("x", 1.0).e is not q.e  # the factory is called per instance
    assert q == Quick("x", 1.0) and hash(Quick("x", 1.0, e=None)) == hash(Quick("x", 1.0, e=None))
    assert dataclasses.replace(q, c=9) == Quick("x", 1.0, 9)
    assert pickle.loads(pickle.dumps(q)) == q
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.c = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Quick("x", 1.0, f=2)  # type: ignore[call-arg]


def test_quick_init_refuses_what_it_cannot_build():
    with pytest.raises(TypeError, match="cannot build"):
        @quick_init
        @dataclasses.dataclass(frozen=True)
        class Later:
            a: int
            b: int = dataclasses.field(default=0, init=False)
    with pytest.raises(TypeError, match="cannot build"):
        @quick_init
        @dataclasses.dataclass(frozen=True)
        class Checked:
            a: int

            def __post_init__(self) -> None:
                pass


@pytest.mark.parametrize("cls", [View, Pick, Decision, Reward])
def test_the_engines_records_keep_their_dataclass_signature(cls):
    """View, Pick, Decision and Reward use quick_init: same parameters and defaults as the dataclass."""
    import inspect

    params = inspect.signature(cls).parameters
    fields = dataclasses.fields(cls)
    assert list(params) == [f.name for f in fields]
    for f in fields:
        if f.default is not dataclasses.MISSING:
            assert params[f.name].default == f.default or params[f.name].default is f.default


def _swipe_through(record_profile: bool, explain: bool, views: int = 60, refresh_at: int | None = None):
    from feedapp.core.engine import FeedEngine
    from feedapp.core.feed_session import FeedSession
    from feedapp.core.simulate import SimViewer, demo_like_catalog

    eng = FeedEngine(demo_like_catalog(1), "foryou", seed=3, record_profile=record_profile, explain=explain)
    viewer = SimViewer.make(4, eng.space.topics, eng.space.creators)
    session, view, seen = FeedSession(eng), None, []
    for i in range(views):
        if i == refresh_at:
            seen.append(eng.refresh()["profile_before"])
        clip = session.open() if view is None else session.swipe(view)
        view = viewer.watch(clip)
        if i % 20 == 7:
            seen.append(eng.profile())
    session.end("finished", view=view)
    return eng, seen


def test_an_unrecorded_profile_reads_the_same_as_a_recorded_one():
    """record_profile=False learns the views when the profile is read: the same affinities, at every read."""
    for refresh_at in (None, 33):
        kept, kept_seen = _swipe_through(True, True, refresh_at=refresh_at)
        lazy, lazy_seen = _swipe_through(False, True, refresh_at=refresh_at)
        assert lazy_seen == kept_seen and len(lazy_seen) == 3 + (refresh_at is not None)
        assert lazy.profile() == kept.profile() and lazy.taste.snapshot() == kept.taste.snapshot()
        # (a refresh before slot 33 comes after 32 views learned: the view of slot 32 is learned as 33 settles)
        assert lazy.profile()["views"] == (60 if refresh_at is None else 60 - 32) and lazy.profile_history() == []


def test_an_unrecorded_profile_still_tells_its_listeners():
    from feedapp.core.engine import FeedEngine
    from feedapp.core.model import View
    from feedapp.core.simulate import demo_like_catalog

    eng = FeedEngine(demo_like_catalog(1), "random", seed=1, record_profile=False)
    got = []
    eng.on("profile_did_update", got.append)
    clip = eng.next()
    eng.finish(View(clip.id, 4000, 3700))
    assert got == [{"views": 1, "clip_id": clip.id, "reward": eng.rewards[0]}]


def test_explain_false_picks_have_no_reasons_but_the_same_decisions():
    told, _ = _swipe_through(False, True)
    quiet, _ = _swipe_through(False, False)
    assert any(p.reasons for p in told.picks) and not any(p.reasons for p in quiet.picks)
    strip = [dataclasses.replace(p, reasons=()) for p in told.picks]
    assert strip == list(quiet.picks) and told.rewards == quiet.rewards
    assert quiet.decision().why == () and told.decision().probs.tolist() == quiet.decision().probs.tolist()


def test_a_copied_foryou_relaxes_its_own_covariance():
    """foryou keeps P's diagonal as a view; a deep copy must not write into a stale copy of it."""
    import copy

    from feedapp.core.features import FeatureSpace
    from feedapp.core.rankers.foryou import ForYouRanker
    from feedapp.core.simulate import demo_like_catalog

    space = FeatureSpace(demo_like_catalog(0).clips)
    a = ForYouRanker().bind(space)
    for c in space.clips[:5]:
        a.learn_one(c, 0.5)
    b = copy.deepcopy(a)
    for i, c in enumerate(space.clips[5:25]):
        a.learn_one(c, 0.1 * (i % 7) - 0.3)
        b.learn_one(c, 0.1 * (i % 7) - 0.3)
    assert np.array_equal(a._P, b._P) and np.array_equal(a._var32, b._var32)
    assert np.array_equal(a._var32, np.maximum(np.diagonal(a._P), 0.0).astype(np.float32))


def test_the_last_swipe_may_leave_the_next_slot_undecided():
    from feedapp.core.engine import FeedEngine
    from feedapp.core.feed_session import FeedSession
    from feedapp.core.model import View
    from feedapp.core.simulate import demo_like_catalog

    eng = FeedEngine(demo_like_catalog(0), "random", seed=2)
    s = FeedSession(eng)
    first = s.open()
    assert eng.decided == 2  # the clip on screen and the one after it
    second = s.swipe(View(first.id, 2000, 1700), decide_next=False)
    assert second is not None and eng.decided == 2 and eng.position == 1 and len(eng.views) == 1


def test_viewers_made_alike_may_share_their_per_clip_table():
    """_run_shard lets one seed's viewers (one per policy) share the per-clip constants; a taste switch
    must give the switching viewer a table of its own, and every view must be what an unshared viewer sees."""
    from feedapp.core.features import FeatureSpace
    from feedapp.core.simulate import SimViewer, demo_like_catalog

    space = FeatureSpace(demo_like_catalog(0).clips)
    make = lambda: SimViewer.make(11, space.topics, space.creators)  # noqa: E731
    a, b, alone_a, alone_b = make(), make(), make(), make()
    b._per_clip = a._per_clip
    order = [space.clips[(7 * i) % space.n] for i in range(80)]
    for i, clip in enumerate(order):
        if i == 30:
            a.switch(space.topics)
            alone_a.switch(space.topics)
        assert a.watch(clip, i) == alone_a.watch(clip, i)
        assert b.watch(clip, i) == alone_b.watch(clip, i)
    assert a._per_clip is not b._per_clip
    assert a.expected_play_ms(space.clips).tolist() == alone_a.expected_play_ms(space.clips).tolist()
