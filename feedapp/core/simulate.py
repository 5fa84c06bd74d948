"""Simulated viewers with hidden tastes, for tests, demos and ``feedapp simulate``.

Why simulate: a ranker's learning can be measured without people only against viewers whose taste
we know. Each simulated viewer prefers 1-3 topics (hidden), has a patience, and watches each clip
for a time that grows with how much it likes the clip, is capped by the clip's length (it loops a
short clip at most three plays), is noisy, and drops for clips it has already seen (repeat fatigue).

The viewer model, for a clip of ``d`` seconds with appeal ``a`` in [0, 1] (the best of its topics'
affinities plus a small creator bias; preferred topics 0.75-1.0, others 0.0-0.3):

    wanted  = patience * exp(4 (a - 0.4)) * exp(N(0, 0.5)) * 0.6 ** times_seen   seconds
    play    = min(wanted, 3 d);  loops = completed plays;  skipped = play < 3 s and not watched to the end
    like    with probability 0.3 when a > 0.75 and the clip was watched to the end
    not interested  with probability 0.05 when a < 0.15

The noise of a view depends only on (viewer, clip, times seen), so the ranker under test and the
oracle see the same viewer. The **oracle** knows the hidden taste and the viewer model: it serves
the clip with the highest expected play time, under the same feed rules as the ranker under test
(repeat gap and same-topic limit) but without exploration, fatigue or creator floor.

Repeats: the demo catalog has ~64 clips and a run has 100 views, so clips come back after the
ranker's ``repeat_gap`` impressions (10 by default), for every policy alike; the viewer's repeat
fatigue makes a repeat worth less, so an honest ranker does not lean on them.

Metrics (averaged over viewers):

- ``curve``: share of served clips from the viewer's preferred topics, per block of 10 views;
- ``precision_after_20``: that share over the 10 clips served after the first 20 views;
- ``chance``: what a random feed would get (preferred clips / all clips);
- ``watch_ratio``: total play time / the oracle's total play time, over all views;
- ``off_taste_after_50``: share of impressions after view 50 with no preferred topic (1 - precision;
  this is *not* exploration: the share of picks the policy flagged as exploration is reported by
  ``feedapp simulate --viewer-kind``, ``sim_bench``/``sim_metrics``);
- ``creators_shown``: creators served at least once to some viewer / creators in the catalog;
- with ``switch_at``: the viewer's taste moves to new topics at that view, and
  ``precision_after_switch`` is the share from the *new* topics over views switch_at+15..+24.

Read the late part of the curves with the catalog in mind: a viewer with one preferred topic has
about 10 clips of it, so after ~40 views even the oracle serves repeats (worth less) or other
topics, and ``off_taste_after_50`` is then high for every policy.

One implementation of the policy: every viewer of any ranker but the three below (``foryou``,
``following``, a plugin...) is one ``FeedEngine`` driven through the feed transaction
(``FeedSession`` without a recorder: the app's own step, so the slot after a clip is decided when
that clip settles, after the view before it was learned), the same engine, policy, rankers and
reward the app runs. Viewers are split into ``SHARDS`` fixed populations that share global
popularity per policy; ``workers`` processes run the shards (same results with any number).
Watch-time quantiles are each viewer's own. There is no array implementation: an earlier one
drifted from the engine unnoticed.

Three policies learn nothing from a view but its "not interested" mark and the view count of its
clip: the oracle, ``random`` drawing uniformly (epsilon 1, its default) and ``popular``. They run
without an engine (``_run_lean``), at a third to two thirds of the cost: the policy's own functions
(``decide`` itself for ``popular``; ``greedy_row`` and ``uniform_row``, which are ``decide`` on
those paths, for the other two; ``allowed_mask``) at the moments of the feed step, with the
engine's random streams and the ranker's own scores, minus the records and learning nobody reads.
tests/core/test_simulate.py compares their runs with the engine's slot for slot, exactly (clips,
plays, propensities, the shared counts), through taste switches, a newcomer, "not interested"
marks, relaxed rules and the shortlist. Any other policy, or ``random`` at another epsilon, runs
the engine (so would the oracle, were its parameters to leave anything to chance or cut a score).
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import signal
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from feedapp.core.catalog import Catalog
from feedapp.core.demo_catalog import DEMO_CREATORS, DEMO_TOPICS, demo_like_catalog  # noqa: F401 - re-exported
from feedapp.core.engine import FeedEngine
from feedapp.core.feed_session import FeedSession
from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip, View
from feedapp.core.plugins import make_any_ranker
from feedapp.core.rankers.base import BaseRanker, Param, World
from feedapp.core.rankers.policy import decide, greedy_row, is_greedy, is_uniform, ranker_context, uniform_row
from feedapp.core.rankers.popular import PopularRanker
from feedapp.core.rankers.random import RandomRanker
from feedapp.core.rankers.rng import Rng, SplitMix, absorb, decision_streams
from feedapp.core.reward import SKIP_THRESHOLD_MS, is_skip

NOISE_SIGMA = 0.5
MAX_PLAYS = 3
REPEAT_FATIGUE = 0.6
SKIP_MS = SKIP_THRESHOLD_MS  # the app's default skip threshold
BASELINES = ("random", "popular")


def _phi(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF, vectorised (Abramowitz-Stegun 7.1.26 erf, error < 1.5e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _clip_key(clip_id: str) -> int:
    key = _CLIP_KEYS.get(clip_id)
    if key is None:
        key = int.from_bytes(hashlib.blake2b(clip_id.encode(), digest_size=8).digest(), "little")
        _CLIP_KEYS[clip_id] = key
    return key


_CLIP_KEYS: dict[str, int] = {}


@dataclass
class SimViewer:
    """A viewer whose taste the simulation knows and the ranker must discover."""

    seed: int
    preferred: tuple[str, ...]
    affinity: dict[str, float]
    creator_bias: dict[str, float]
    patience_s: float
    seen: Counter = field(default_factory=Counter)
    _cache: dict = field(default_factory=dict, repr=False)
    _watched: list = field(default_factory=list, repr=False)  # clip ids in the order watched (for the oracle's cache)
    _per_clip: dict = field(default_factory=dict, repr=False)  # clip id -> (appeal, likes, noise key state), per taste

    @classmethod
    def make(cls, seed: int, topics: Sequence[str], creators: Sequence[str]) -> SimViewer:
        rng = random.Random(seed)
        k = rng.randint(1, min(3, max(len(topics), 1)))
        preferred = tuple(rng.sample(list(topics), k)) if topics else ()
        v = cls(seed, (), {t: 0.0 for t in topics}, {c: rng.gauss(0, 0.08) for c in creators}, rng.uniform(2.5, 6.0))
        v._set_taste(preferred, rng)
        return v

    def _set_taste(self, preferred: tuple[str, ...], rng: random.Random) -> None:
        self._cache = {}
        self._per_clip = {}
        self.preferred = preferred
        self.affinity = {t: (rng.uniform(0.75, 1.0) if t in preferred else rng.uniform(0.0, 0.3))
                         for t in sorted(set(self.affinity) | set(preferred))}

    def switch(self, topics: Sequence[str]) -> None:
        """Move the taste to new topics (none of the old ones if the catalog allows)."""
        rng = random.Random(self.seed * 7919 + 1)
        others = [t for t in topics if t not in self.preferred] or list(topics)
        k = min(len(self.preferred) or 1, len(others))
        self.affinity = {t: 0.0 for t in topics}
        self._set_taste(tuple(rng.sample(others, k)), rng)

    def appeal(self, clip: Clip) -> float:
        base = None  # the best of the clip's topics' affinities (0.3 for a clip without topics)
        for t in clip.topics:
            a = self.affinity.get(t, 0.15)
            if base is None or a > base:
                base = a
        return min(max((0.3 if base is None else base) + self.creator_bias.get(clip.creator, 0.0), 0.0), 1.0)

    def likes(self, clip: Clip) -> bool:
        return any(t in self.preferred for t in clip.topics)

    def _clip_consts(self, clip: Clip) -> tuple[float, bool, int]:
        """(appeal, likes, the noise generator's state after the viewer's seed and the clip's key), kept
        per clip until the taste changes: a view then only absorbs its times seen."""
        got = self._per_clip.get(clip.id)
        if got is None:
            got = self._per_clip[clip.id] = (self.appeal(clip), self.likes(clip), absorb(0, self.seed, _clip_key(clip.id)))
        return got

    def _median_wanted_s(self, appeal: float, seen: int) -> float:
        return self.patience_s * math.exp(4.0 * (appeal - 0.4)) * REPEAT_FATIGUE**seen

    def watch(self, clip: Clip, position: int | None = None) -> View:
        """How this viewer watches ``clip`` now (``position``: its feed slot, passed on in the View)."""
        seen = self.seen.get(clip.id, 0)  # (= self.seen[clip.id], without Counter's __missing__ call)
        a, _, key_state = self._clip_consts(clip)
        rng = SplitMix.at(absorb(key_state, seen))  # = SplitMix(self.seed, _clip_key(clip.id), seen)
        d_ms = max(clip.duration_ms, 1)
        u1, u2 = rng.random(), rng.random()  # Box-Muller: one standard normal
        z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
        wanted_ms = 1000.0 * self._median_wanted_s(a, seen) * math.exp(NOISE_SIGMA * z)
        play = int(min(wanted_ms, MAX_PLAYS * d_ms))
        loops = play // d_ms
        self.seen[clip.id] = seen + 1
        self._watched.append(clip.id)
        return View(
            clip_id=clip.id,
            dwell_ms=play + 300,
            play_ms=play,
            loops=int(loops),
            skipped=is_skip(play, int(loops), d_ms, SKIP_MS),
            liked=a > 0.75 and loops >= 1 and rng.random() < 0.3,
            not_interested=a < 0.15 and rng.random() < 0.05,
            position=position,
        )

    def expected_play_ms(self, clips: Sequence[Clip]) -> np.ndarray:
        """E[min(wanted, 3 d)] per clip, in closed form for the log-normal noise.

        It depends on a clip's times seen only, so it is computed once per (clip, times seen): a table
        with one row per count, extended when a clip is seen more often (the same numbers, elementwise)."""
        key = (id(clips), len(clips))
        if self._cache.get("key") != key:  # per-clip constants, until the taste or catalog changes
            per_clip = self._per_clip  # (the appeals watch already worked out, else worked out here)
            appeal = np.array([got[0] if (got := per_clip.get(c.id)) is not None else self.appeal(c) for c in clips])
            cap = np.array([MAX_PLAYS * max(c.duration_ms, 1) for c in clips], dtype=np.float64)
            ids = [c.id for c in clips]
            self._cache = {"key": key, "mu0": math.log(self.patience_s * 1000.0) + 4.0 * (appeal - 0.4),
                           "cap": cap, "lc": np.log(cap), "row": {i: k for k, i in enumerate(ids)},
                           "seen": np.array([self.seen.get(i, 0) for i in ids], dtype=np.intp),
                           "applied": len(self._watched), "table": np.zeros((0, len(ids))), "cols": np.arange(len(ids))}
        c = self._cache
        seen, row = c["seen"], c["row"]
        top = c.get("top")
        if top is None:
            top = c["top"] = int(seen.max()) if seen.size else 0
        for cid in self._watched[c["applied"]:]:  # the views since the last call
            k = row.get(cid)
            if k is not None:
                seen[k] += 1
                top = max(top, int(seen[k]))
        c["applied"] = len(self._watched)
        c["top"] = top  # the most times any clip was seen
        table = c["table"]
        if top >= table.shape[0]:
            more = [self._expected_at(float(s)) for s in range(table.shape[0], top + 1)]
            table = c["table"] = np.vstack([table, *more])
        return table[seen, c["cols"]]

    def _expected_at(self, seen: float) -> np.ndarray:
        """E[min(wanted, 3 d)] of every clip of the cached catalog, seen ``seen`` times."""
        c = self._cache
        s2 = NOISE_SIGMA**2
        mu = c["mu0"] + seen * math.log(REPEAT_FATIGUE)
        cap, lc = c["cap"], c["lc"]
        return np.exp(mu + s2 / 2) * _phi((lc - mu - s2) / NOISE_SIGMA) + cap * (1.0 - _phi((lc - mu) / NOISE_SIGMA))


class OracleRanker(BaseRanker):
    """Knows the viewer: scores = expected play time (seconds). Not in the registry. ``simulate`` runs it
    through ``_run_lean`` with ``_oracle_chooser`` (the same slots as an engine serving it, without the engine)."""

    name = "oracle"
    description = "knows the simulated viewer's hidden taste (upper reference, simulation only)"
    policy_defaults = {"epsilon": 0.0, "temperature": 0.0, "topic_fatigue": 0.0, "creator_fatigue": 0.0,
                       "new_creator_floor": 0.0, "repeat_penalty": 0.0}
    own_params: tuple[Param, ...] = ()

    def __init__(self, seed: int = 0, viewer: SimViewer | None = None, **params: object) -> None:
        super().__init__(seed, **params)
        self.viewer = viewer

    def clone(self) -> OracleRanker:
        return OracleRanker(self.seed, self.viewer, **self.params)

    def scores(self, rng: Rng) -> np.ndarray:
        assert self.space is not None and self.viewer is not None
        return self.viewer.expected_play_ms(self.space.clips) / 1000.0


@dataclass
class _Run:
    liked: list[bool] = field(default_factory=list)  # served clip has a preferred topic (at that time)
    play_ms: list[int] = field(default_factory=list)
    creators: set[str] = field(default_factory=set)
    chance: float = 0.0
    rows: list[int] = field(default_factory=list)  # feature-space row served at each view (for fame.py)
    propensity: list[float] = field(default_factory=list)  # the logged propensity of each served slot


FOLLOWS = 2
"""Creators each simulated viewer follows (used by the ``following`` policy only)."""


def follows_of(viewer_seed: int, creators: Sequence[str], k: int = FOLLOWS) -> list[str]:
    """The creators a simulated viewer follows: ``k`` of them, a pure function of the viewer's seed."""
    pool = list(creators)
    return random.Random(f"follows-{viewer_seed}").sample(pool, min(k, len(pool))) if pool else []


def _run_viewer(engine: FeedEngine, viewer: SimViewer, views: int, topics: Sequence[str], switch_at: int | None,
                hidden: Sequence[int] = (), reveal_at: int | None = None) -> _Run:
    """One simulated viewer swipes through ``views`` clips of the feed transaction (``FeedSession``,
    no recorder): the slot after each clip is decided when the clip settles, after learning the view
    before it, as in the app. A taste switch or a newcomer's arrival makes the undisplayed decision
    be made again before the viewer swipes to it."""
    run = _Run()
    clips = engine.catalog.clips
    hidden_rows = np.asarray(hidden, dtype=np.intp)
    if hidden_rows.size:  # a newcomer's clips join the feed at view ``reveal_at``
        engine._blocked[hidden_rows] = True
    session = FeedSession(engine)
    view = None
    for i in range(views):
        if switch_at is not None and i == switch_at:
            viewer.switch(topics)
            engine.redecide_next()  # the oracle's scores read the taste
        if hidden_rows.size and i == reveal_at:
            engine._blocked[hidden_rows] = False
            engine.redecide_next()
        # (the last clip's next slot is never shown: not decided; each decision has its own streams,
        # so leaving one out changes no other)
        clip = session.open() if view is None else session.swipe(view, decide_next=i + 1 < views)
        if clip is None:
            break
        view = viewer.watch(clip, engine.position)
        run.liked.append(viewer._per_clip[clip.id][1])  # = viewer.likes(clip) (watch just kept it)
        run.play_ms.append(view.play_ms)
        run.creators.add(clip.creator)
        run.rows.append(engine.space.row_of[clip.id])
    session.end("finished", view=view)
    engine.close()  # the shard's catalog and space outlive the viewer: let its engine go
    run.propensity = [p.propensity for p in engine.picks[: len(run.rows)]]
    run.chance = sum(viewer.likes(c) for c in clips) / max(len(clips), 1)
    return run


Chooser = Callable[[np.ndarray, np.ndarray, int, int], tuple[int, float]]
"""``(served rows, blocked mask, slot, views learned) -> (row, propensity)``: one decision of a policy
whose decisions read nothing a view teaches but the "not interested" marks and the shared view counts
(``_run_lean``)."""


def _oracle_chooser(viewer: SimViewer, space: FeatureSpace, params: dict) -> Chooser:
    """The oracle's decisions (``OracleRanker``'s scores, the same division; ``greedy_row``)."""
    clips = space.clips

    def choose(served: np.ndarray, blocked: np.ndarray, slot: int, learned: int) -> tuple[int, float]:
        return greedy_row(space, viewer.expected_play_ms(clips) / 1000.0, served, blocked, params), 1.0

    return choose


def _uniform_chooser(seed: int, space: FeatureSpace, params: dict) -> Chooser:
    """The ``random`` ranker's decisions at epsilon 1: the engine's policy stream for the slot
    (``decision_streams``), ``uniform_row``."""

    def choose(served: np.ndarray, blocked: np.ndarray, slot: int, learned: int) -> tuple[int, float]:
        return uniform_row(space, served, blocked, params, decision_streams(seed, slot, learned)[1])

    return choose


def _popular_chooser(seed: int, space: FeatureSpace, world: World, params: dict) -> tuple[Chooser, PopularRanker]:
    """The ``popular`` ranker's decisions: its scores from the shared ``world``'s counts (the score
    stream, unread) and ``decide`` with the policy stream, as ``FeedEngine._decide`` makes them. The
    ranker is returned to be unbound when the run ends."""
    ranker = PopularRanker(seed, **params)
    ranker.bind(space, world)

    def choose(served: np.ndarray, blocked: np.ndarray, slot: int, learned: int) -> tuple[int, float]:
        score_rng, rng = decision_streams(seed, slot, learned)
        d = decide(space, ranker.scores(score_rng), served, blocked, ranker.params, rng, **ranker_context(ranker),
                   reasons=False)  # (the context: none for popular today; kept as the engine passes it)
        return d.row, d.propensity

    return choose, ranker


def _lean_kind(policy: str, params: dict | None) -> tuple[str, dict] | None:
    """("uniform" | "popular", the ranker's parameters) when ``_run_lean`` can run ``policy``: the built-in
    ``random`` ranker drawing uniformly (``is_uniform``), or the built-in ``popular``; else None."""
    ranker = make_any_ranker(policy, **dict(params or {}))
    if type(ranker) is RandomRanker and is_uniform(ranker.params):
        return "uniform", dict(ranker.params)
    if type(ranker) is PopularRanker:
        return "popular", dict(ranker.params)
    return None


def _run_lean(viewer: SimViewer, space: FeatureSpace, choose: Chooser, views: int, topics: Sequence[str],
              switch_at: int | None, hidden: Sequence[int] = (), reveal_at: int | None = None,
              world: World | None = None) -> _Run:
    """A run of a policy that learns nothing from a view but its "not interested" mark and, given a
    ``world``, the view count of its clip (the oracle; ``random`` at epsilon 1; ``popular``) without an
    engine: the slots, plays and propensities of ``_run_viewer`` over a ``FeedEngine`` serving it, at a
    fraction of the cost. The same moments as the feed step: slot k+1 is decided when clip k settles,
    after the view of clip k-1 was learned (a "not interested" blocks its clip, the count goes up); a
    taste switch or a newcomer's arrival decides the undisplayed slot again before the swipe to it; the
    last view is learned when the run ends (the next viewer sees its count). tests/core/test_simulate.py
    compares the two run for run, exactly, for the three policies."""
    run = _Run()
    clips = space.clips
    blocked = np.zeros(space.n, dtype=bool)
    hidden_rows = np.asarray(hidden, dtype=np.intp)
    if hidden_rows.size:
        blocked[hidden_rows] = True
    served = np.zeros(views, dtype=np.intp)
    learned = 0  # views the engine would have learned (each when the next clip settles)
    nxt: tuple[int, float] | None = choose(served[:0], blocked, 0, 0)
    last: tuple[int, View] | None = None  # the view learned when the next clip settles
    per_clip = viewer._per_clip
    for i in range(views):
        if switch_at is not None and i == switch_at:
            viewer.switch(topics)
            per_clip = viewer._per_clip
            nxt = None
        if hidden_rows.size and i == reveal_at:
            blocked[hidden_rows] = False
            nxt = None
        if nxt is None:  # decided again when the viewer swipes to it, before the last view is learned
            nxt = choose(served[:i], blocked, i, learned)
        row, p = nxt
        served[i] = row
        if last is not None:
            learned += 1
            if world is not None:
                world.popularity.add(clips[last[0]].id)
            if last[1].not_interested:
                blocked[last[0]] = True
        nxt = choose(served[: i + 1], blocked, i + 1, learned) if i + 1 < views else None
        clip = clips[row]
        view = viewer.watch(clip, i)
        last = (row, view)
        run.liked.append(per_clip[clip.id][1])
        run.play_ms.append(view.play_ms)
        run.creators.add(clip.creator)
        run.rows.append(row)
        run.propensity.append(p)
    if last is not None and world is not None:  # the session ends: its last view is learned
        world.popularity.add(clips[last[0]].id)
    run.chance = sum(viewer.likes(c) for c in clips) / max(len(clips), 1)
    return run


def _window(runs: list[_Run], lo: int, hi: int) -> float:
    vals = [sum(r.liked[lo:hi]) / len(r.liked[lo:hi]) for r in runs if len(r.liked) > lo]
    return float(np.mean(vals)) if vals else float("nan")


def _r(x: float) -> float | None:
    """Rounded for the report; None (JSON null) where there was nothing to measure."""
    return None if x is None or math.isnan(x) else round(x, 4)


def _summary(name: str, runs: list[_Run], oracle_ms: float, views: int, n_creators: int, switch_at: int | None) -> dict:
    play = float(sum(sum(r.play_ms) for r in runs))
    out = {
        "ranker": name,
        "curve": [_r(_window(runs, lo, lo + 10)) for lo in range(0, views, 10)],
        "precision_after_20": _r(_window(runs, 20, 30)),
        "watch_ms_per_viewer": round(play / max(len(runs), 1), 1),
        "watch_ratio": round(play / oracle_ms, 4) if oracle_ms > 0 else None,
        "off_taste_after_50": _r(1.0 - _window(runs, 50, views)) if views > 50 else None,
        "creators_shown": round(len(set().union(*(r.creators for r in runs))) / max(n_creators, 1), 4),
    }
    if switch_at is not None:
        out["precision_after_switch"] = _r(_window(runs, switch_at + 15, switch_at + 25))
    return out


TARGETS = {
    "precision_after_20": 0.70,
    "watch_ratio": 0.85,
    "creators_shown": 1.0,
    "precision_after_switch": 0.70,
}


SHARDS = 4
"""Viewers are split into this many fixed populations (viewer i in shard i % SHARDS), each with its
own global popularity per policy (watch-time quantiles are per viewer, as in one FeedEngine). The split never depends on how many
processes run it, so results are identical with any number of workers."""


def default_workers() -> int:
    """Worker processes when none are asked for: one per core this process may run on (its CPU affinity,
    e.g. ``taskset`` or a container's cpuset; all cores where that cannot be read), at most one per shard
    (``SHARDS``), so a machine with 4 or more cores runs every shard at once. The report is the same with
    any number."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (not on every platform)
        cores = os.cpu_count() or 1
    return max(1, min(cores, SHARDS))


@dataclass(frozen=True)
class _Job:
    shard: int
    viewers: int
    views: int
    ranker: str
    seed: int
    catalog: Catalog
    params: dict | None
    switch_at: int | None
    policies: tuple[str, ...]
    oracle: bool
    hidden: tuple[int, ...] = ()
    reveal_at: int | None = None


_COUNTER = None  # set in worker processes: a shared count of finished viewer runs


def _init_worker(counter) -> None:  # pragma: no cover - runs in the worker process
    global _COUNTER
    _COUNTER = counter
    # Ctrl+C reaches the whole process group: the parent stops the run (and its pool); a worker that
    # took it too printed its own traceback for every shard it ran (~80 lines of noise)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_shard(job: _Job, progress: Callable[[], None] | None = None) -> dict[str, list[tuple[int, _Run]]]:
    space = FeatureSpace(job.catalog.clips)
    topics, creators = space.topics, space.creators
    rules = {k: v for k, v in make_any_ranker(job.ranker, **dict(job.params or {})).params.items()
             if k in ("repeat_gap", "max_same_topic")}
    worlds = {p: World() for p in job.policies}  # popularity is global within the shard's population
    # the policies that learn nothing from a view but its "not interested" mark and its clip's view count
    # (random drawing uniformly, popular) run without an engine (``_run_lean``: the same slots); every
    # other policy runs the engine's step
    lean = {p: _lean_kind(p, job.params if p == job.ranker else None) for p in job.policies}
    out: dict[str, list[tuple[int, _Run]]] = {p: [] for p in (*job.policies, "oracle")}
    for v in range(job.shard, job.viewers, SHARDS):
        vseed = job.seed * 1_000_003 + v
        # one viewer per policy, all the same one as made: they share the table of per-clip constants
        # (appeal, liked, noise key), filled by whichever watches a clip first; a taste switch gives a
        # viewer a table of its own
        consts: dict = {}
        for p in job.policies:
            viewer = SimViewer.make(vseed, topics, creators)
            viewer._per_clip = consts
            world = worlds[p] if p != "following" else World(worlds[p].popularity, set(follows_of(vseed, creators)))
            kind = lean[p]
            if kind is not None and kind[0] == "uniform":
                run = _run_lean(viewer, space, _uniform_chooser(vseed, space, kind[1]), job.views, topics,
                                job.switch_at, job.hidden, job.reveal_at)
            elif kind is not None:  # popular
                choose, ranker = _popular_chooser(vseed, space, world, kind[1])
                run = _run_lean(viewer, space, choose, job.views, topics, job.switch_at, job.hidden, job.reveal_at,
                                world=world)
                ranker.unbind()
            else:
                eng = FeedEngine(job.catalog, p, seed=vseed, params=job.params if p == job.ranker else None,
                                 world=world, space=space, record_profile=False, explain=False)
                run = _run_viewer(eng, viewer, job.views, topics, job.switch_at, job.hidden, job.reveal_at)
            out[p].append((v, run))
            if progress:
                progress()
        if job.oracle:
            viewer = SimViewer.make(vseed, topics, creators)
            viewer._per_clip = consts
            oracle = OracleRanker(vseed, viewer, **rules)
            if is_greedy(oracle.params):  # always with OracleRanker's defaults (the engine's step otherwise)
                run = _run_lean(viewer, space, _oracle_chooser(viewer, space, oracle.params), job.views, topics,
                                job.switch_at, job.hidden, job.reveal_at)
            else:
                eng = FeedEngine(job.catalog, oracle, seed=vseed, space=space, record_profile=False, explain=False)
                run = _run_viewer(eng, viewer, job.views, topics, job.switch_at, job.hidden, job.reveal_at)
            out["oracle"].append((v, run))
            if progress:
                progress()
    return out


def _run_shard_in_worker(job: _Job) -> dict[str, list[tuple[int, _Run]]]:  # pragma: no cover - worker
    def tick() -> None:
        with _COUNTER.get_lock():
            _COUNTER.value += 1

    return _run_shard(job, tick)


def simulate(
    viewers: int = 200,
    views: int = 100,
    ranker: str = "foryou",
    seed: int = 0,
    *,
    catalog: Catalog | None = None,
    params: dict[str, object] | None = None,
    switch_at: int | None = None,
    baselines: Sequence[str] = BASELINES,
    oracle: bool = True,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    newcomer: str | None = None,
    newcomer_at: int | None = None,
    fame: bool = True,
) -> dict:
    """Run ``viewers`` simulated viewers for ``views`` views each under ``ranker`` (and baselines).

    Returns plain data: one summary per policy (see the module docstring), the chance level, the
    targets and whether the ranker met them. Each viewer is one ``FeedEngine`` driven through
    ``FeedSession``, except under the oracle, ``random`` drawing uniformly and ``popular``, which run
    ``_run_lean`` (the same slots); ``workers`` > 1 runs the ``SHARDS`` populations in that many
    processes (same results).

    The creators' side (``feedapp.core.fame``) is in ``report["fame"]`` (one entry per policy) unless
    ``fame=False``. ``newcomer`` names a creator of the catalog whose clips are held back until view
    ``newcomer_at`` of every viewer (``fame.add_newcomer`` makes one). Viewers follow ``FOLLOWS``
    creators each (``follows_of``), which only the ``following`` policy reads.
    """
    if viewers < 1:
        raise ValueError(f"viewers must be 1 or more, not {viewers}")
    if views < 1:
        raise ValueError(f"views must be 1 or more, not {views}")
    if switch_at is not None and not (0 < switch_at < views):
        raise ValueError(f"switch_at must be between 1 and views - 1 ({views - 1}), not {switch_at}")
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers}")
    make_any_ranker(ranker, seed=seed, **dict(params or {}))  # fail early on a bad name, file or parameter
    for b in baselines:
        make_any_ranker(b)
    catalog = catalog if catalog is not None else demo_like_catalog(seed)
    if len(catalog) == 0:
        raise ValueError("the catalog has no clips to simulate with")
    space = FeatureSpace(catalog.clips)
    topics, creators = space.topics, space.creators
    hidden: tuple[int, ...] = ()
    if newcomer is not None:
        if newcomer not in space.creator_index:
            raise ValueError(f"there is no creator called {newcomer!r} in the catalog to hold back")
        if newcomer_at is None or not (0 < newcomer_at < views):
            raise ValueError(f"newcomer_at must be between 1 and views - 1 ({views - 1}), not {newcomer_at}")
        hidden = tuple(int(r) for r in np.flatnonzero(space.creator_of == space.creator_index[newcomer]))
    policies = tuple(dict.fromkeys([ranker, *baselines]))
    total = viewers * (len(policies) + int(oracle))
    jobs = [_Job(s, viewers, views, ranker, seed, catalog, dict(params) if params else None, switch_at, policies, oracle,
                 hidden, newcomer_at if hidden else None)
            for s in range(min(SHARDS, viewers))]
    results: list[dict[str, list[tuple[int, _Run]]]] = []
    if workers == 1 or len(jobs) == 1:
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total)

        results = [_run_shard(j, tick) for j in jobs]
    else:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        counter = ctx.Value("i", 0)
        with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker, initargs=(counter,)) as pool:
            pending = pool.map_async(_run_shard_in_worker, jobs)
            while not pending.ready():
                pending.wait(0.2)
                if progress:
                    progress(min(counter.value, total), total)
            results = pending.get()
        if progress:
            progress(total, total)

    def gather(name: str) -> list[_Run]:
        pairs = sorted((pair for r in results for pair in r[name]), key=lambda vr: vr[0])
        return [run for _, run in pairs]

    runs = {p: gather(p) for p in policies}
    oracle_runs = gather("oracle") if oracle else []
    oracle_ms = float(sum(sum(r.play_ms) for r in oracle_runs)) if oracle else 0.0
    summaries = [_summary(p, runs[p], oracle_ms, views, len(creators), switch_at) for p in policies]
    if oracle:
        summaries.append(_summary("oracle", oracle_runs, oracle_ms, views, len(creators), switch_at))
    main = summaries[0]
    checks = {}
    # a viewer whose taste switches is not the stable viewer the watch and exploration targets are for
    keys = ("precision_after_20", "creators_shown", "precision_after_switch") if switch_at is not None else TARGETS
    for key in keys:
        target = TARGETS[key]
        val = main.get(key)
        if val is None or (isinstance(val, float) and math.isnan(val)):
            continue
        checks[key] = {"value": val, "target": target, "met": bool(val >= target)}
    report = {
        "viewers": viewers,
        "views": views,
        "seed": seed,
        "switch_at": switch_at,
        "params": dict(params or {}),  # the evaluated ranker's own values; the policies beside it keep their defaults
        "catalog": {"clips": len(catalog), "topics": len(topics), "creators": len(creators)},
        "chance": round(float(np.mean([r.chance for r in runs[ranker]])), 4),
        "policies": summaries,
        "targets": checks,
    }
    if fame:
        from feedapp.core.fame import fame_report

        def matrix(rs: list[_Run], attr: str) -> np.ndarray:
            return np.array([getattr(r, attr) for r in rs], dtype=np.float64 if attr == "play_ms" else np.int64)

        report["newcomer"] = {"creator": newcomer, "arrives_at_view": newcomer_at} if hidden else None
        report["fame"] = {p: fame_report(matrix(runs[p], "rows"), matrix(runs[p], "play_ms"), space,
                                         newcomer=newcomer if hidden else None, newcomer_at=newcomer_at)
                          for p in policies}
    return report
