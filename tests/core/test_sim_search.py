"""The informed searcher (``feedapp.core.sim_search``): a ceiling for learners, so it must search as
the docstring says: most-likely-liked clip first, every answer used, the feed rules kept."""

from __future__ import annotations

import numpy as np
import pytest

from feedapp.core.catalog import Catalog
from feedapp.core.demo_catalog import DEMO_PLAN_CREATORS, DEMO_PLAN_SIZE, DEMO_PLAN_TOPICS, demo_like_catalog
from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip
from feedapp.core.sim_metrics import recover_views
from feedapp.core.sim_search import Searcher, search_trace
from feedapp.core.sim_viewers import KindViewer

RULES = {"repeat_gap": 10, "max_same_topic": 8}


def _clip(i: int, topics: tuple[str, ...], creator: str = "c0") -> Clip:
    return Clip(id=f"k{i}", path=f"/clips/k{i}.mp4", title=f"k{i}", topics=topics, creator=creator,
                duration_ms=8000, fps=30.0, width=540, height=960)


def test_a_clip_with_two_untried_topics_is_tried_first_and_a_miss_rules_both_out():
    clips = [_clip(0, ("a",)), _clip(1, ("b",)), _clip(2, ("c", "d")), _clip(3, ("e",)), _clip(4, ("a", "b"))]
    space = FeatureSpace(clips)
    s = Searcher(space, "one_topic", {"c0": 5})
    p = s.p_liked()
    assert p[space.row_of["k2"]] == pytest.approx(0.4) and p[space.row_of["k0"]] == pytest.approx(0.2)
    first = int(np.argmax(p))
    assert space.clips[first].id == "k2"  # the lowest row of the two-topic clips
    s.observe(first, liked=False)  # neither c nor d
    p = s.p_liked()
    assert p[space.row_of["k2"]] == 0.0
    assert p[space.row_of["k0"]] == pytest.approx(1 / 3) and p[space.row_of["k4"]] == pytest.approx(2 / 3)
    s.observe(space.row_of["k4"], liked=True)  # a or b
    assert p[space.row_of["k3"]] > 0 and s.p_liked()[space.row_of["k3"]] == 0.0
    s.observe(space.row_of["k0"], liked=False)
    assert s.p_liked()[space.row_of["k1"]] == pytest.approx(1.0)


def test_a_fans_search_starts_with_the_creator_with_most_clips():
    clips = [_clip(0, ("a",), "small"), _clip(1, ("a",), "big"), _clip(2, ("b",), "big"), _clip(3, ("b",), "big")]
    space = FeatureSpace(clips)
    s = Searcher(space, "creator_fan", {"small": 1, "big": 3})
    p = s.p_liked()
    assert p[space.row_of["k1"]] == pytest.approx(0.75) and p[space.row_of["k0"]] == pytest.approx(0.25)
    s.observe(space.row_of["k1"], liked=False)
    assert s.p_liked()[space.row_of["k0"]] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="contradict"):
        s.observe(space.row_of["k0"], liked=False)


def test_several_topics_weighs_two_and_three_topic_tastes_half_each_as_the_viewers_are_drawn():
    clips = [_clip(i, (t,)) for i, t in enumerate("abcd")]
    space = FeatureSpace(clips)
    p = Searcher(space, "several_topics", {"c0": 4}).p_liked()
    # a topic is in 3 of the 6 pairs and 3 of the 4 triples: 0.5 * 3/6 + 0.5 * 3/4 (uniform over all 10 sets: 0.6)
    assert p == pytest.approx([0.625] * 4)


def test_mixed_viewers_are_not_modelled():
    space = FeatureSpace([_clip(0, ("a",))])
    with pytest.raises(ValueError, match="models one_topic, several_topics, creator_fan, short_lover, switcher, not 'mixed'"):
        Searcher(space, "mixed", {})


def _first_liked(liked: list[bool]) -> int:
    return liked.index(True)


def test_a_one_topic_viewer_is_found_within_one_view_per_topic_and_then_served_its_topic():
    catalog = demo_like_catalog(0, DEMO_PLAN_SIZE, DEMO_PLAN_TOPICS, DEMO_PLAN_CREATORS)
    n_topics = len(FeatureSpace(catalog.clips).topics)
    for v in range(6):
        t = search_trace(catalog, "one_topic", v, 40, RULES)
        k = _first_liked(t.liked)
        assert k < n_topics  # never a topic twice while it searches
        after = t.liked[k: k + 16]
        # 24 clips of the topic: all liked but the slot the same-topic limit (8) keeps for another topic
        assert sum(after) >= 14, (v, t.liked)


def test_the_feed_rules_bind_the_searcher_too():
    catalog = demo_like_catalog(0)  # 64 clips: 8 of a one-topic viewer's topic, repeat gap 10
    t = search_trace(catalog, "one_topic", 3, 60, RULES)
    k = _first_liked(t.liked)
    window = t.liked[k + 20: k + 40]
    assert sum(window) <= 16  # 8 liked clips can fill at most 8 of every 10 slots
    free = search_trace(catalog, "one_topic", 3, 60, {"repeat_gap": 1, "max_same_topic": 0})
    assert all(free.liked[_first_liked(free.liked):])


def test_a_switch_is_recovered_once_the_new_topic_is_found():
    catalog = demo_like_catalog(1, DEMO_PLAN_SIZE, DEMO_PLAN_TOPICS, DEMO_PLAN_CREATORS)
    space = FeatureSpace(catalog.clips)
    for v in range(6):
        t = search_trace(catalog, "switcher", v, 90, RULES, space, switch_at=50)
        assert t.switched_at == 50
        found = _first_liked(t.liked[50:])
        assert found < len(space.topics) - 1  # a topic ruled out is not tried again
        old = KindViewer.make("switcher", v, space.topics, space.creators).topics[0]
        assert not any(old in c.topics for c in t.clips[50: 50 + found + 1])  # nor the topic liked before
        assert recover_views(t) == found + 7  # then 7 liked in a row


def test_the_searcher_beats_chance_by_far_on_a_generated_catalog():
    from feedapp.core.sim_catalogs import generated_catalog

    catalog = generated_catalog(1000, 20, 200, 0)
    space = FeatureSpace(catalog.clips)
    shares = [np.mean(search_trace(catalog, "several_topics", v, 30, RULES, space).liked[20:30]) for v in range(5)]
    assert np.mean(shares) >= 0.8  # chance: 2-3 of 20 topics, about 0.15


def test_search_bound_prints_the_chance_level_also_without_foryou(capsys):
    """``benchmarks/search_bound.py --no-foryou`` says it prints "the searcher and random only": the
    random column must hold a figure then too, not a dash."""
    from benchmarks.search_bound import main

    for extra, foryou in (([], True), (["--no-foryou"], False)):
        assert main(["--catalogs", "demo", "--kinds", "one_topic", "--viewers", "2", "--seeds", "1", "--views", "31",
                     *extra]) == 0
        row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| demo 64 | one_topic"))
        chance, searcher, fy = row.split("|")[3].split("/")
        assert chance.strip() != "–" and float(chance) < float(searcher.strip(" *"))
        assert (fy.strip() != "–") == foryou


def test_a_fan_is_the_viewer_sim_bench_makes_and_is_searched_by_clip_count():
    """search_trace's fan is drawn as ``sim_bench.run_kind`` draws it (creators weighted by their clips),
    the searcher's first guess is the creator with most clips, and the trace's creators are those served."""
    from collections import Counter

    # creator cN posts N clips; the lowest rows belong to the smallest creators
    clips = [_clip(10 * n + i, ("abcdef"[(n + i) % 6],), f"c{n}") for n in range(1, 7) for i in range(n)]
    catalog = Catalog(clips)
    space = FeatureSpace(catalog.clips)
    sizes = Counter(c.creator for c in clips)
    for v in range(8):
        t = search_trace(catalog, "creator_fan", v, 12, {"repeat_gap": 30, "max_same_topic": 0})
        fan = KindViewer.make("creator_fan", v, space.topics, space.creators, None, sizes).creator
        assert t.liked == [c.creator == fan for c in t.clips], (v, fan)
        assert t.clips[0].creator == "c6"  # most likely liked first
        assert any(t.liked)  # found within the 12 views (one view per creator at most)
        assert t.creators == {c.creator for c in t.clips}


def test_a_switch_comes_at_the_view_asked_for():
    catalog = demo_like_catalog(1, DEMO_PLAN_SIZE, DEMO_PLAN_TOPICS, DEMO_PLAN_CREATORS)
    t = search_trace(catalog, "switcher", 0, 40, RULES, switch_at=30)
    assert t.switched_at == 30
