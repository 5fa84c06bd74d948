"""The viewer kinds behave as docs/rankers.md ("Viewer kinds") and feedapp/core/sim_viewers.py say."""

from __future__ import annotations

import math

import numpy as np
import pytest

from feedapp.core.model import Clip
from feedapp.core.sim_viewers import (
    KINDS,
    MIXED_SIGMA,
    PURE_KINDS,
    SHORT_S,
    KindViewer,
    UnknownViewerKind,
    expected_min_lognormal,
)

TOPICS = ["art", "cats", "cooking", "music", "nature", "ocean", "sports", "tech"]
CREATORS = ["kai", "juno", "mila"]


def clip(i: int, topic: str, seconds: float, creator: str = "kai") -> Clip:
    return Clip(f"c{i}", f"/c{i}.mp4", "t", (topic,), creator, int(seconds * 1000), 30.0, 540, 960)


def viewers(kind: str, n: int = 30) -> list[KindViewer]:
    return [KindViewer.make(kind, s, TOPICS, CREATORS) for s in range(n)]


def test_unknown_kind_is_refused_with_the_choices():
    with pytest.raises(UnknownViewerKind, match="choose one of: one_topic"):
        KindViewer.make("couch_potato", 1, TOPICS, CREATORS)


def test_one_topic_and_several_topics_like_as_many_topics_as_documented():
    assert all(len(v.topics) == 1 and v.creator is None for v in viewers("one_topic"))
    counts = {len(v.topics) for v in viewers("several_topics")}
    assert counts == {2, 3}


def test_several_topics_viewers_watch_part_of_every_clip_never_to_the_end():
    for v in viewers("several_topics", 10):
        assert 0.35 <= v.frac <= 0.8
        liked = next(t for t in TOPICS if t in v.topics)
        for i in range(20):
            c = clip(i, liked, 12.0)
            view = v.watch(c)
            assert view.loops == 0 and view.play_ms <= v.frac * c.duration_ms


def test_short_clip_lover_finishes_short_clips_whatever_the_topic_but_likes_one_topic():
    off_short, off_long, on_long = [], [], []
    for v in viewers("short_lover", 40):
        liked = v.topics[0]
        other = next(t for t in TOPICS if t != liked)
        assert v.likes(clip(0, liked, 30)) and not v.likes(clip(1, other, 5))
        s = clip(100 + v.seed, other, SHORT_S - 4)  # short, off-topic: watched to its end, once
        view = v.watch(s)
        off_short.append((view.loops, view.play_ms / s.duration_ms))
        off_long.append(v.watch(clip(200 + v.seed, other, 40)).play_ms)
        on_long.append(v.watch(clip(300 + v.seed, liked, 40)).play_ms)
    finished = sum(loops == 1 and frac == pytest.approx(1.0, abs=1e-3) for loops, frac in off_short)
    assert finished >= 38  # P(wanted < d) = Phi(-ln 4 / 0.5) = 0.003 per view
    assert np.median(off_long) < 8000  # a long clip off the liked topic: a few seconds
    assert np.median(on_long) > 3 * np.median(off_long)  # on topic: watched much longer


def test_one_topic_viewer_does_not_finish_short_off_topic_clips():
    finished = 0
    for v in viewers("one_topic", 40):
        other = next(t for t in TOPICS if t not in v.topics)
        finished += v.watch(clip(1, other, SHORT_S - 4)).loops >= 1
    assert finished < 20  # the short-clip lover's trait is its own


def test_creator_fan_likes_every_clip_of_the_favourite_creator_whatever_the_topic():
    for v in viewers("creator_fan", 10):
        assert v.creator in CREATORS and v.topics == ()
        other = next(c for c in CREATORS if c != v.creator)
        for t in TOPICS:
            assert v.likes(clip(0, t, 10, v.creator)) and v.appeal(clip(0, t, 10, v.creator)) == 0.9
            assert not v.likes(clip(0, t, 10, other)) and v.appeal(clip(0, t, 10, other)) <= 0.3


def test_creator_fan_picks_creators_in_proportion_to_their_clips():
    favs = [KindViewer.make("creator_fan", s, TOPICS, CREATORS, creator_clips={"kai": 98, "juno": 1, "mila": 1}).creator
            for s in range(60)]
    assert favs.count("kai") >= 50


def test_switcher_moves_its_taste_once_at_the_switch_view():
    v = KindViewer.make("switcher", 3, TOPICS, CREATORS, switch_at=5)
    before = v.topics
    switched = []
    for i in range(10):
        switched.append(v.before_view(TOPICS))
        v.watch(clip(i, "art", 10))
    assert switched == [False] * 5 + [True] + [False] * 4
    assert len(v.topics) == 1 and v.topics != before and not set(v.topics) & set(before)


def test_mixed_population_draws_every_kind_with_noisy_dwell_and_idle_pauses():
    vs = viewers("mixed", 60)
    assert {v.kind for v in vs} == set(PURE_KINDS)
    assert all(v.sigma == MIXED_SIGMA and v.pauses for v in vs)
    views = [v.watch(clip(i, "cats", 10)) for v in vs for i in range(10)]
    paused = [w for w in views if w.paused_ms]
    assert 0.05 < len(paused) / len(views) < 0.3  # PAUSE_P = 0.15
    assert all(5000 <= w.paused_ms <= 60000 and w.dwell_ms == w.play_ms + 300 + w.paused_ms for w in paused)
    assert not any(w.paused_ms for v in viewers("one_topic", 10) for w in [v.watch(clip(1, "cats", 10))])


def test_every_documented_kind_is_constructible():
    assert set(KINDS) == {*PURE_KINDS, "mixed"}
    for kind in KINDS:
        KindViewer.make(kind, 1, TOPICS, CREATORS)


def test_expected_play_is_the_mean_of_the_capped_log_normal():
    rng = np.random.default_rng(0)
    mu, cap, sigma = np.log(6000.0), 9000.0, 0.7
    mc = np.minimum(np.exp(mu + sigma * rng.standard_normal(400_000)), cap).mean()
    assert expected_min_lognormal(np.array([mu]), np.array([cap]), sigma)[0] == pytest.approx(mc, rel=0.01)


def test_expected_play_follows_the_viewer_model_and_its_repeats():
    v = KindViewer.make("short_lover", 2, TOPICS, CREATORS)
    other = next(t for t in TOPICS if t not in v.topics)
    clips = [clip(0, other, 6), clip(1, v.topics[0], 30), clip(2, other, 30)]
    e = v.expected_play_ms(clips)
    assert e[0] == pytest.approx(6000, rel=0.01)  # finished once, capped at its length
    assert e[1] > e[2]
    v.watch(clips[1])  # seen once: its median wanted time is cut by REPEAT_FATIGUE, the others unchanged
    after = v.expected_play_ms(clips)
    mu, cap = v._clip_model(clips[1])
    assert after[1] == pytest.approx(expected_min_lognormal(np.array([mu + math.log(0.6)]), np.array([cap]), v.sigma)[0])
    assert after[1] < e[1] and after[0] == e[0] and after[2] == e[2]
