"""Viewer kinds for ``feedapp simulate --viewer-kind``: simulated viewers that stress a ranker.

Why kinds: one population of "1-3 liked topics" viewers hides the failures that matter (a feed of
short clips for a viewer who finishes every short clip but likes one topic, a fan held back by
creator fatigue, a taste switch never followed). Each kind is documented in ``docs/rankers.md``
("Viewer kinds"); the tests check each behaves as written there.

Every kind shares one watch model, with per-clip numbers that depend on the kind. For a clip of
``d`` seconds seen ``k`` times before, with appeal ``a`` (the viewer's affinity for it, in [0, 1]):

    wanted  = median * exp(N(0, sigma))        median = patience * exp(4 (a - 0.4)) * 0.6 ** k  seconds
    play    = min(wanted, cap)                 cap = 3 d (at most three plays)
    skipped = play < 3 s and not watched to the end
    liked   with probability 0.3 when the clip is liked (hidden taste) and play reached 0.9 cap or d

and what changes per kind:

- ``one_topic``: one liked topic (affinity 0.75-1.0, other topics 0.0-0.3);
- ``several_topics``: 2-3 liked topics, and partial watching: the cap is ``frac * d`` with
  ``frac`` (0.35-0.8) the viewer's own, so no clip is ever finished or looped;
- ``creator_fan``: likes every clip of one creator (drawn in proportion to creators' clip counts;
  appeal 0.9, whatever the topic), other clips
  by topic affinity 0.0-0.3 (no liked topic);
- ``short_lover``: one liked topic; a short clip (``<= SHORT_S`` seconds) of any other topic is
  watched to its end once (median 4 d, cap d), a short clip of the liked topic as a one-topic viewer
  would (loops), a long clip by topic (off-topic: a few seconds);
- ``switcher``: one liked topic, which moves to another topic at view ``switch_at`` (default 50);
- ``mixed``: each viewer is one of the five kinds above (by its seed), with noisy dwell
  (sigma 1.0 instead of 0.5) and idle pauses: with probability 0.15 a view has a pause of 5-60 s
  (``paused_ms``, added to the dwell, not to the play time).

The noise of a view depends only on (viewer, clip, times seen), so the policy under test and the
oracle see the same viewer. ``expected_play_ms`` is E[min(wanted, cap)] in closed form, which the
oracle (``simulate.OracleRanker``) serves by.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from feedapp.core.model import Clip, View
from feedapp.core.rankers.rng import SplitMix
from feedapp.core.sim_kinds import KINDS
from feedapp.core.reward import SKIP_THRESHOLD_MS, view_of
from feedapp.core.simulate import _clip_key, _phi

PURE_KINDS = tuple(k for k in KINDS if k != "mixed")
SHORT_S = 10.0
"""A clip this many seconds long or shorter is short (``short_lover``; the short-clip share)."""
DEFAULT_SWITCH_AT = 50
SIGMA = 0.5
MIXED_SIGMA = 1.0
PAUSE_P = 0.15
REPEAT_FATIGUE = 0.6
MAX_PLAYS = 3
SKIP_MS = SKIP_THRESHOLD_MS  # the app's default skip threshold


def is_short(clip: Clip) -> bool:
    return clip.duration_ms <= SHORT_S * 1000.0


class UnknownViewerKind(ValueError):
    """A viewer kind that is not in ``KINDS``."""


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise UnknownViewerKind(f"there is no viewer kind called {kind!r} (choose one of: {', '.join(KINDS)})")
    return kind


def expected_min_lognormal(mu: np.ndarray, cap: np.ndarray, sigma: float) -> np.ndarray:
    """E[min(W, cap)] for W log-normal with log-median ``mu`` and log-sd ``sigma`` (elementwise)."""
    s2 = sigma * sigma
    lc = np.log(cap)
    return np.exp(mu + s2 / 2) * _phi((lc - mu - s2) / sigma) + cap * (1.0 - _phi((lc - mu) / sigma))


@dataclass
class KindViewer:
    """One simulated viewer of a kind: hidden taste, watch model, and what it counts as liked."""

    kind: str  # the behaviour (for ``mixed`` viewers: the pure kind drawn for this viewer)
    seed: int
    topics: tuple[str, ...]  # liked topics (none for a fan)
    creator: str | None  # the favourite creator of a fan
    affinity: dict[str, float]
    patience_s: float
    sigma: float = SIGMA
    frac: float = 1.0  # several_topics: share of a clip watched at most
    pauses: bool = False
    switch_at: int | None = None
    seen: Counter = field(default_factory=Counter)
    watched: int = 0  # views so far (the switch happens before view ``switch_at``)
    _consts: dict = field(default_factory=dict, repr=False)

    @classmethod
    def make(cls, kind: str, seed: int, topics: Sequence[str], creators: Sequence[str],
             switch_at: int | None = None, creator_clips: Mapping[str, int] | None = None) -> KindViewer:
        """The viewer of ``kind`` for ``seed`` over these topics and creators (a pure function of them).

        A fan's creator is drawn with probability proportional to its number of clips
        (``creator_clips``; equal weights without it): fans gather around creators who post a lot."""
        check_kind(kind)
        rng = random.Random(f"viewer-{kind}-{seed}")
        noisy = kind == "mixed"
        if noisy:
            kind = PURE_KINDS[rng.randrange(len(PURE_KINDS))]
        topics = sorted(topics)
        k = {"several_topics": rng.randint(2, 3), "creator_fan": 0}.get(kind, 1)
        liked = tuple(rng.sample(topics, min(k, len(topics))))
        fav = None
        if kind == "creator_fan" and creators:
            pool = sorted(creators)
            fav = rng.choices(pool, weights=[max((creator_clips or {}).get(c, 1), 1) for c in pool])[0]
        v = cls(kind=kind, seed=seed, topics=liked, creator=fav,
                affinity={t: rng.uniform(0.75, 1.0) if t in liked else rng.uniform(0.0, 0.3) for t in topics},
                patience_s=rng.uniform(2.5, 6.0), sigma=MIXED_SIGMA if noisy else SIGMA,
                frac=rng.uniform(0.35, 0.8) if kind == "several_topics" else 1.0, pauses=noisy,
                switch_at=(switch_at if switch_at is not None else DEFAULT_SWITCH_AT) if kind == "switcher" else None)
        return v

    # -- the hidden taste ------------------------------------------------------------------------
    def likes(self, clip: Clip) -> bool:
        """Whether the clip is one this viewer likes now (the ground truth of every "liked" metric)."""
        if self.creator is not None:
            return clip.creator == self.creator
        return any(t in self.topics for t in clip.topics)

    def appeal(self, clip: Clip) -> float:
        if self.creator is not None and clip.creator == self.creator:
            return 0.9
        return max((self.affinity.get(t, 0.15) for t in clip.topics), default=0.3)

    def switch(self, topics: Sequence[str]) -> None:
        """Move the liked topic(s) to others (none of the old ones if the catalog allows)."""
        rng = random.Random(f"switch-{self.seed}")
        others = sorted(t for t in topics if t not in self.topics) or sorted(topics)
        new = tuple(rng.sample(others, min(max(len(self.topics), 1), len(others))))
        self.affinity = {t: rng.uniform(0.75, 1.0) if t in new else rng.uniform(0.0, 0.3) for t in sorted(topics)}
        self.topics = new
        self._consts = {}

    def _clip_model(self, clip: Clip) -> tuple[float, float]:
        """(log of the median wanted ms before repeats, cap in ms) for this clip."""
        d = float(max(clip.duration_ms, 1))
        a = self.appeal(clip)
        mu = math.log(self.patience_s * 1000.0) + 4.0 * (a - 0.4)
        cap = MAX_PLAYS * d
        if self.kind == "several_topics":
            cap = self.frac * d
        elif self.kind == "short_lover" and is_short(clip) and not self.likes(clip):
            mu, cap = math.log(4.0 * d), d  # finished once, whatever the topic
        return mu, cap

    # -- watching -------------------------------------------------------------------------------
    def before_view(self, topics: Sequence[str]) -> bool:
        """Call before each view; switches the taste at ``switch_at``. True when it switched now."""
        if self.switch_at is not None and self.watched == self.switch_at:
            self.switch(topics)
            return True
        return False

    def watch(self, clip: Clip) -> View:
        seen = self.seen[clip.id]
        rng = SplitMix(self.seed, _clip_key(clip.id), seen)
        mu, cap = self._clip_model(clip)
        u1, u2 = rng.random(), rng.random()  # Box-Muller: one standard normal
        z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
        wanted = math.exp(mu + self.sigma * z) * REPEAT_FATIGUE**seen
        d = max(clip.duration_ms, 1)
        play = int(min(wanted, cap))
        loops = play // d
        liked = self.likes(clip) and (play >= 0.9 * cap or loops >= 1) and rng.random() < 0.3
        paused = 5000 + int(55000 * rng.random()) if self.pauses and rng.random() < PAUSE_P else 0
        self.seen[clip.id] += 1
        self.watched += 1
        return view_of(clip, play, threshold_ms=SKIP_MS, dwell_ms=play + 300 + paused, paused_ms=paused, liked=liked,
                       not_interested=self.appeal(clip) < 0.15 and rng.random() < 0.05)

    def expected_play_ms(self, clips: Sequence[Clip]) -> np.ndarray:
        """E[play ms] of each clip now (repeats included), in closed form: what the oracle serves by."""
        key = (id(clips), len(clips))
        if self._consts.get("key") != key:
            mc = np.array([self._clip_model(c) for c in clips], dtype=np.float64).reshape(-1, 2)
            self._consts = {"key": key, "mu": mc[:, 0], "cap": mc[:, 1], "ids": [c.id for c in clips]}
        c = self._consts
        seen = np.fromiter((self.seen.get(i, 0) for i in c["ids"]), dtype=np.float64, count=len(c["ids"]))
        return expected_min_lognormal(c["mu"] + seen * math.log(REPEAT_FATIGUE), c["cap"], self.sigma)
