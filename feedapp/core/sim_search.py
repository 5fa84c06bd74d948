"""The informed searcher: a ceiling for what a learner can reach on the simulated viewers.

Why: the oracle (``simulate.OracleRanker``) knows the viewer's hidden taste from the first view, so
its figures do not say what a *learner* can reach, and a learning target that no policy can meet is
as uninformative as one a random feed meets. The searcher is told everything the simulation knows
*except* which topic(s) or creator the viewer likes, and every view tells it without noise whether the
viewer liked the clip (a real learner reads that from a noisy watch time). For a switcher it is also
told the exact view at which the taste moved and the topics liked before.

It keeps a posterior over the hidden taste, drawn as ``sim_viewers.KindViewer.make`` draws it:
uniform over the topics (``one_topic``, ``short_lover``, ``switcher``), over the 2- and 3-topic
sets (``several_topics``, half each), or over the creators in proportion to their clips
(``creator_fan``). Each view it serves, under the same feed rules as the ranker it is compared with
(``repeat_gap`` and ``max_same_topic``, through ``policy.allowed_mask``), the allowed clip most
likely to be liked (ties: the lowest row), and the answer removes the hypotheses it contradicts. A
clip covering two untried topics tests both, so it finds a taste about as fast as the catalog allows,
and once it knows the taste it serves liked clips whenever the feed rules leave one.

It is a reference, not a proof of optimality. Where a viewer's liked clips do not run out (the
288-clip demo, 1k and 10k clips) a learner that must read likes from noisy watch times should not
expect to beat its liked share or its views to recover a switch (for which it is even told when the
switch happened). Where they do run out (the 64-clip shape: 8 clips of a topic, a repeat gap of 10)
its greedy order serves them all at once, and a learner that paces them can score more in a given
window of views. ``mixed`` viewers are not modelled (a mixture of the kinds, with noise the searcher
does not have). ``benchmarks/search_bound.py`` prints it beside foryou; docs/benchmarks.md has the
figures.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from feedapp.core.catalog import Catalog
from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip
from feedapp.core.rankers.policy import allowed_mask
from feedapp.core.sim_metrics import Trace
from feedapp.core.sim_viewers import KindViewer, check_kind

SEARCH_KINDS = ("one_topic", "several_topics", "creator_fan", "short_lover", "switcher")


class Searcher:
    """The posterior over one viewer's hidden taste, and the clip most likely to be liked."""

    def __init__(self, space: FeatureSpace, kind: str, sizes: Mapping[str, int]) -> None:
        if check_kind(kind) not in SEARCH_KINDS:
            raise ValueError(f"the informed searcher models {', '.join(SEARCH_KINDS)}, not {kind!r}")
        self.space = space
        self.fan = kind == "creator_fan"
        if self.fan:  # hypotheses: the creators, by clip count; a clip is liked under its own creator's
            self.prior = np.array([max(sizes.get(c, 1), 1) for c in space.creators], dtype=np.float64)
            self.liked_by = None
        else:
            n_topics = len(space.topics)
            sets: list[tuple[int, ...]] = []
            weights: list[float] = []
            ks = (2, 3) if kind == "several_topics" else (1,)
            for k in ks:
                combos = list(itertools.combinations(range(n_topics), min(k, n_topics)))
                sets += combos
                weights += [1.0 / len(ks) / len(combos)] * len(combos)
            H = np.zeros((len(sets), n_topics), dtype=bool)
            for i, s in enumerate(sets):
                H[i, list(s)] = True
            # clips grouped by their topic set: one row of "liked under hypothesis h" per group
            keys = [tuple(sorted(space.row_topics[r])) for r in range(space.n)]
            groups = {k: g for g, k in enumerate(dict.fromkeys(keys))}
            self.group_of = np.array([groups[k] for k in keys], dtype=np.intp)
            G = np.zeros((len(groups), n_topics), dtype=bool)
            for k, g in groups.items():
                G[g, list(k)] = True
            self._liked_by_all = (G.astype(np.int32) @ H.T.astype(np.int32)) > 0  # groups x hypotheses
            self._sets_all = H
            self.prior = np.array(weights)
        self.reset(set())

    def reset(self, exclude_topics: set[int]) -> None:
        """Back to the prior, without the hypotheses that share a topic with ``exclude_topics`` (a
        switcher, told when its taste moved: the new taste shares no topic with the old)."""
        w = self.prior.copy()
        if not self.fan:
            if exclude_topics:
                w[self._sets_all[:, sorted(exclude_topics)].any(axis=1)] = 0.0
            self.liked_by = self._liked_by_all
        self.w = w / w.sum()
        self._compress()

    def _compress(self) -> None:
        """Keep only the hypotheses still possible (a view rules out many: later views cost less)."""
        if self.fan:
            return
        keep = self.w > 0
        if not keep.all():
            self.w = self.w[keep]
            self.liked_by = self.liked_by[:, keep]

    def p_liked(self) -> np.ndarray:
        """Per row of the space: the posterior probability that the viewer likes that clip."""
        if self.fan:
            return self.w[self.space.creator_of]
        return (self.liked_by @ self.w)[self.group_of]

    def observe(self, row: int, liked: bool) -> None:
        """The viewer did (``liked``) or did not like the clip at ``row``: drop what contradicts it."""
        if self.fan:
            hit = np.zeros(self.w.size, dtype=bool)
            hit[int(self.space.creator_of[row])] = True
        else:
            hit = self.liked_by[self.group_of[row]]
        w = np.where(hit == liked, self.w, 0.0)
        total = w.sum()
        if total <= 0:
            raise ValueError("the viewer's answers contradict every hypothesis (a viewer kind the searcher "
                             "does not model?)")
        self.w = w / total
        self._compress()


@dataclass
class SearchTrace(Trace):
    """A ``Trace`` with the clips served (for the tests and a closer look)."""

    clips: list[Clip] = field(default_factory=list)


def search_trace(catalog: Catalog, kind: str, vseed: int, views: int, rules: Mapping[str, float | int],
                 space: FeatureSpace | None = None, switch_at: int | None = None) -> SearchTrace:
    """One viewer of ``kind`` (seed ``vseed``, as ``sim_bench.run_kind`` makes it) served ``views`` clips by
    the informed searcher under the feed ``rules`` (``repeat_gap``, ``max_same_topic``)."""
    space = space if space is not None else FeatureSpace(catalog.clips)
    sizes = Counter(c.creator for c in catalog.clips)
    topics, creators = list(space.topics), list(space.creators)
    viewer = KindViewer.make(kind, vseed, topics, creators, switch_at, sizes)
    searcher = Searcher(space, kind, sizes)
    blocked = np.zeros(space.n, dtype=bool)
    served: list[int] = []
    t = SearchTrace()
    for _ in range(views):
        old = {space.topic_index[x] for x in viewer.topics}
        if viewer.before_view(topics):
            t.switched_at = len(t.liked)
            searcher.reset(old)
        ok = allowed_mask(space, np.asarray(served, dtype=np.intp), blocked, rules)
        p = np.where(ok, searcher.p_liked(), -1.0)
        row = int(p.argmax())
        clip = space.clips[row]
        liked = viewer.likes(clip)
        viewer.watched += 1
        searcher.observe(row, liked)
        served.append(row)
        t.liked.append(liked)
        t.creators.add(clip.creator)
        t.clips.append(clip)
    return t


