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

Two ways to run, same model and policy (the tests check they agree; the oracle agrees exactly):
``method="engine"`` drives one ``FeedEngine`` per viewer, in ``SHARDS`` fixed populations that share
global popularity; ``method="lockstep"`` (the CLI's default, ~50x faster) advances all viewers of
a policy together as arrays, one population. Watch-time quantiles are each viewer's own in both.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from feedapp.core.catalog import Catalog
from feedapp.core.demo_catalog import DEMO_CREATORS, DEMO_TOPICS, demo_like_catalog  # noqa: F401 - re-exported
from feedapp.core.engine import FeedEngine
from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip, View
from feedapp.core.plugins import is_plugin_spec, make_any_ranker
from feedapp.core.rankers.base import BaseRanker, Param, World
from feedapp.core.rankers.registry import make_ranker, peer_rankers
from feedapp.core.rankers.rng import Rng, SplitMix
from feedapp.core.reward import DurationQuantiles, compute_reward, is_skip

NOISE_SIGMA = 0.5
MAX_PLAYS = 3
REPEAT_FATIGUE = 0.6
SKIP_MS = 3000
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
        base = max((self.affinity.get(t, 0.15) for t in clip.topics), default=0.3)
        return min(max(base + self.creator_bias.get(clip.creator, 0.0), 0.0), 1.0)

    def likes(self, clip: Clip) -> bool:
        return any(t in self.preferred for t in clip.topics)

    def _median_wanted_s(self, appeal: float, seen: int) -> float:
        return self.patience_s * math.exp(4.0 * (appeal - 0.4)) * REPEAT_FATIGUE**seen

    def watch(self, clip: Clip) -> View:
        seen = self.seen[clip.id]
        rng = SplitMix(self.seed, _clip_key(clip.id), seen)
        a = self.appeal(clip)
        d_ms = max(clip.duration_ms, 1)
        u1, u2 = rng.random(), rng.random()  # Box-Muller: one standard normal
        z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
        wanted_ms = 1000.0 * self._median_wanted_s(a, seen) * math.exp(NOISE_SIGMA * z)
        play = int(min(wanted_ms, MAX_PLAYS * d_ms))
        loops = play // d_ms
        self.seen[clip.id] += 1
        return View(
            clip_id=clip.id,
            dwell_ms=play + 300,
            play_ms=play,
            loops=int(loops),
            skipped=is_skip(play, int(loops), d_ms, SKIP_MS),
            liked=a > 0.75 and loops >= 1 and rng.random() < 0.3,
            not_interested=a < 0.15 and rng.random() < 0.05,
        )

    def expected_play_ms(self, clips: Sequence[Clip]) -> np.ndarray:
        """E[min(wanted, 3 d)] per clip, in closed form for the log-normal noise."""
        s2 = NOISE_SIGMA**2
        key = (id(clips), len(clips))
        if self._cache.get("key") != key:  # per-clip constants, until the taste or catalog changes
            appeal = np.array([self.appeal(c) for c in clips])
            cap = np.array([MAX_PLAYS * max(c.duration_ms, 1) for c in clips], dtype=np.float64)
            self._cache = {"key": key, "mu0": math.log(self.patience_s * 1000.0) + 4.0 * (appeal - 0.4),
                           "cap": cap, "lc": np.log(cap), "ids": [c.id for c in clips]}
        c = self._cache
        seen = np.fromiter((self.seen.get(i, 0) for i in c["ids"]), dtype=np.float64, count=len(c["ids"]))
        mu = c["mu0"] + seen * math.log(REPEAT_FATIGUE)
        cap, lc = c["cap"], c["lc"]
        return np.exp(mu + s2 / 2) * _phi((lc - mu - s2) / NOISE_SIGMA) + cap * (1.0 - _phi((lc - mu) / NOISE_SIGMA))


class OracleRanker(BaseRanker):
    """Knows the viewer: scores = expected play time (seconds). Not in the registry."""

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


FOLLOWS = 2
"""Creators each simulated viewer follows (used by the ``following`` policy only)."""


def follows_of(viewer_seed: int, creators: Sequence[str], k: int = FOLLOWS) -> list[str]:
    """The creators a simulated viewer follows: ``k`` of them, a pure function of the viewer's seed."""
    pool = list(creators)
    return random.Random(f"follows-{viewer_seed}").sample(pool, min(k, len(pool))) if pool else []


def _run_viewer(engine: FeedEngine, viewer: SimViewer, views: int, topics: Sequence[str], switch_at: int | None,
                hidden: Sequence[int] = (), reveal_at: int | None = None) -> _Run:
    run = _Run()
    clips = engine.catalog.clips
    hidden_rows = np.asarray(hidden, dtype=np.intp)
    if hidden_rows.size:  # a newcomer's clips join the feed at view ``reveal_at``
        engine._blocked[hidden_rows] = True
    for i in range(views):
        if switch_at is not None and i == switch_at:
            viewer.switch(topics)
        if hidden_rows.size and i == reveal_at:
            engine._blocked[hidden_rows] = False
            engine.redecide_next()
        clip = engine.next()
        if clip is None:
            break
        view = viewer.watch(clip)
        engine.finish(view)
        run.liked.append(viewer.likes(clip))
        run.play_ms.append(view.play_ms)
        run.creators.add(clip.creator)
        run.rows.append(engine.space.row_of[clip.id])
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
processes run it, so results are identical with 1 or 2 workers."""


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


def _run_shard(job: _Job, progress: Callable[[], None] | None = None) -> dict[str, list[tuple[int, _Run]]]:
    space = FeatureSpace(job.catalog.clips)
    topics, creators = space.topics, space.creators
    rules = {k: v for k, v in make_any_ranker(job.ranker, **dict(job.params or {})).params.items()
             if k in ("repeat_gap", "max_same_topic")}
    worlds = {p: World() for p in job.policies}  # popularity is global within the shard's population
    out: dict[str, list[tuple[int, _Run]]] = {p: [] for p in (*job.policies, "oracle")}
    for v in range(job.shard, job.viewers, SHARDS):
        vseed = job.seed * 1_000_003 + v
        for p in job.policies:
            viewer = SimViewer.make(vseed, topics, creators)
            world = worlds[p] if p != "following" else World(worlds[p].popularity, set(follows_of(vseed, creators)))
            eng = FeedEngine(job.catalog, p, seed=vseed, params=job.params if p == job.ranker else None,
                             world=world, space=space, record_profile=False, explain=False)
            out[p].append((v, _run_viewer(eng, viewer, job.views, topics, job.switch_at, job.hidden, job.reveal_at)))
            if progress:
                progress()
        if job.oracle:
            viewer = SimViewer.make(vseed, topics, creators)
            eng = FeedEngine(job.catalog, OracleRanker(vseed, viewer, **rules), seed=vseed, space=space,
                             record_profile=False, explain=False)
            out["oracle"].append((v, _run_viewer(eng, viewer, job.views, topics, job.switch_at, job.hidden, job.reveal_at)))
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
    method: str = "engine",
    progress: Callable[[int, int], None] | None = None,
    newcomer: str | None = None,
    newcomer_at: int | None = None,
    fame: bool = True,
) -> dict:
    """Run ``viewers`` simulated viewers for ``views`` views each under ``ranker`` (and baselines).

    Returns plain data: one summary per policy (see the module docstring), the chance level, the
    targets and whether the ranker met them. ``method="engine"`` drives one ``FeedEngine`` per viewer
    (``workers`` > 1 runs its shards in that many processes, same results); ``method="lockstep"``
    runs all viewers of a policy as arrays (one population, ~50x faster, same model and policy).

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
    if method not in ("engine", "lockstep"):
        raise ValueError(f"method must be 'engine' or 'lockstep', not {method!r}")
    make_any_ranker(ranker, seed=seed, **dict(params or {}))  # fail early on a bad name, file or parameter
    for b in baselines:
        make_any_ranker(b)
    if method == "lockstep" and any(is_plugin_spec(p) or p in peer_rankers() for p in (ranker, *baselines)):
        method = "engine"  # a plugin or a peer has no array version: its viewers run through FeedEngine
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
    if method == "lockstep":
        by_name = _lockstep(viewers, views, ranker, seed, catalog, dict(params) if params else None, switch_at,
                            policies, oracle, progress, hidden, newcomer_at if hidden else None)
        results = [{k: list(enumerate(v)) for k, v in by_name.items()}]
    elif workers == 1 or len(jobs) == 1:
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
        "method": method,
        "switch_at": switch_at,
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


# -- the lockstep simulator: every viewer of a policy advances one view at a time, as arrays -------
#
# Why a second implementation: driving one FeedEngine per viewer costs ~250 us of numpy call
# overhead per simulated view (a 64-clip catalog is too small for numpy to pay off), so 1000
# viewers x 100 views x 4 policies takes minutes. Here the same policy (rankers/policy.py: allowed
# set, repeat gap, same-topic limit, fatigue, repeat penalty, epsilon/new-creator/softmax mixture),
# the same learner (foryou's Kalman form), the same reward (compute_reward, per-viewer quantiles)
# and the same viewer model (identical noise draws) run on V x n arrays. It samples from the same
# mixture distribution (by inverse CDF rather than component first, so individual draws differ
# from an engine with the same seed) and has no shortlist (fine for catalogs up to a few thousand
# clips). tests/core/test_simulate.py checks that both give the same learning figures.

_M64 = np.uint64((1 << 64) - 1)
_G64 = np.uint64(0x9E3779B97F4A7C15)


def _mix_arr(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = z + _G64
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _splitmix_uniforms(keys: Sequence[np.ndarray], count: int) -> list[np.ndarray]:
    """The first ``count`` draws of ``SplitMix(*keys)`` for arrays of keys (bit-identical)."""
    s = np.zeros(np.broadcast(*keys).shape, dtype=np.uint64)
    for k in keys:
        s = _mix_arr(s ^ k.astype(np.uint64))
    out = []
    with np.errstate(over="ignore"):
        for i in range(1, count + 1):
            z = _mix_arr(s + _G64 * np.uint64(i))
            out.append((z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53)))
    return out


class _Viewers:
    """V simulated viewers as arrays (appeal per clip, seen counts), watching like ``SimViewer``."""

    def __init__(self, viewers: list[SimViewer], clips: Sequence[Clip]) -> None:
        self.viewers = viewers
        self.clips = clips
        self.seeds = np.array([v.seed & ((1 << 64) - 1) for v in viewers], dtype=np.uint64)
        self.keys = np.array([_clip_key(c.id) for c in clips], dtype=np.uint64)
        self.dur = np.array([max(c.duration_ms, 1) for c in clips], dtype=np.int64)
        self.patience = np.array([v.patience_s for v in viewers])
        self.seen = np.zeros((len(viewers), len(clips)), dtype=np.int64)
        self.refresh()

    def refresh(self) -> None:
        """Recompute appeal and preferences (after a taste switch)."""
        self.appeal = np.array([[v.appeal(c) for c in self.clips] for v in self.viewers])
        self.likes = np.array([[v.likes(c) for c in self.clips] for v in self.viewers], dtype=bool)

    def expected_play_ms(self) -> np.ndarray:
        s2 = NOISE_SIGMA**2
        mu = (np.log(self.patience * 1000.0)[:, None] + 4.0 * (self.appeal - 0.4)
              + self.seen * math.log(REPEAT_FATIGUE))
        cap = (MAX_PLAYS * self.dur).astype(np.float64)[None, :]
        lc = np.log(cap)
        return np.exp(mu + s2 / 2) * _phi((lc - mu - s2) / NOISE_SIGMA) + cap * (1.0 - _phi((lc - mu) / NOISE_SIGMA))

    def watch(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        v = np.arange(rows.size)
        seen = self.seen[v, rows]
        a = self.appeal[v, rows]
        u1, u2, u3, u4 = _splitmix_uniforms([self.seeds, self.keys[rows], seen.astype(np.uint64)], 4)
        z = np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * math.pi * u2)
        wanted = 1000.0 * (self.patience * np.exp(4.0 * (a - 0.4)) * REPEAT_FATIGUE**seen) * np.exp(NOISE_SIGMA * z)
        d = self.dur[rows]
        play = np.minimum(wanted, MAX_PLAYS * d).astype(np.int64)
        loops = play // d
        like_cond = (a > 0.75) & (loops >= 1)
        liked = like_cond & (u3 < 0.3)
        ni = (a < 0.15) & (np.where(like_cond, u4, u3) < 0.05)
        self.seen[v, rows] += 1
        skipped = (play < SKIP_MS) & (loops < 1)  # reward.is_skip: loops < 1 is play < duration here
        return {"play": play, "loops": loops, "skipped": skipped, "liked": liked, "not_interested": ni}


def _lockstep_policy_run(
    name: str, space: FeatureSpace, viewers: _Viewers, params: dict, views: int, switch_at: int | None,
    topics: Sequence[str], progress: Callable[[int], None] | None,
    hidden: Sequence[int] = (), reveal_at: int | None = None, follow: np.ndarray | None = None,
) -> list[_Run]:
    """Run V viewers under one policy (a registry ranker or ``"oracle"``) for ``views`` views."""
    V, n = len(viewers.viewers), space.n
    X = space.X.astype(np.float64)
    X2 = X * X
    T = space.T.astype(np.float64)
    creator_of = space.creator_of
    nc = len(space.creators)
    learner = name == "foryou"
    p = params
    eps, temp, floor = float(p["epsilon"]), float(p["temperature"]), float(p["new_creator_floor"])
    gap, nrun = int(p["repeat_gap"]), int(p["max_same_topic"])
    tf, cf, rp, h = float(p["topic_fatigue"]), float(p["creator_fatigue"]), float(p["repeat_penalty"]), float(p["fatigue_halflife"])
    served = np.zeros((V, views), dtype=np.int64)
    blocked = np.zeros((V, n), dtype=bool)
    hidden_rows = np.asarray(hidden, dtype=np.intp)
    blocked[:, hidden_rows] = True  # a newcomer's clips join at view ``reveal_at``
    times = np.zeros((V, n), dtype=np.int64)
    seen_creator = np.zeros((V, nc), dtype=bool)
    pop = np.zeros(n)
    quants = [DurationQuantiles() for _ in range(V)]  # each viewer's own scale, as in one FeedEngine
    if learner:
        d = X.shape[1]
        g, lam, noise, opt = float(p["decay"]), float(p["prior_precision"]), float(p["noise"]), float(p["optimism"])
        mean = np.zeros((V, d))
        P = np.tile(np.eye(d) / lam, (V, 1, 1))
    vi = np.arange(V)
    runs = [_Run() for _ in range(V)]
    liked_hist = np.zeros((V, views), dtype=bool)
    play_hist = np.zeros((V, views), dtype=np.int64)
    for t in range(views):
        if switch_at is not None and t == switch_at:
            for v in viewers.viewers:
                v.switch(topics)
            viewers.refresh()
        if hidden_rows.size and t == reveal_at:
            blocked[:, hidden_rows] = False
        # scores
        if name == "oracle":
            s = viewers.expected_play_ms() / 1000.0
        elif learner:
            s = mean @ X.T + opt * np.sqrt(np.maximum(np.einsum("vii->vi", P), 0.0) @ X2.T)
        elif name in ("popular", "following"):
            v_ = np.log1p(pop)
            top = v_.max()
            s = np.broadcast_to(v_ / top if top > 0 else v_, (V, n))
        elif name == "chronological":
            s = np.broadcast_to(space.created_rank, (V, n))
        else:  # random: epsilon 1, scores do not matter
            s = np.zeros((V, n))
        # allowed set
        ok = ~blocked
        if t:
            ok[vi[:, None], served[:, max(0, t - gap) : t]] = False
        if nrun > 0 and t >= nrun and T.shape[1]:
            full = T[served[:, t - nrun : t]].min(axis=1) > 0  # V x topics
            div = ok & ~((full.astype(np.float64) @ T.T) > 0)
            use = div.any(axis=1)
            ok[use] = div[use]
        empty = ~ok.any(axis=1)
        if empty.any():
            ok[empty] = ~blocked[empty]
            if t and n > 1:
                ok[empty, served[empty, t - 1]] = False
            still = ~ok.any(axis=1)
            ok[still] = True
            if t and n > 1:
                ok[still, served[still, t - 1]] = False
        if follow is not None:  # ``following``: followed creators' clips only, as FollowingRanker.restrict
            narrowed = ok & follow
            none = ~narrowed.any(axis=1)
            if t and none.any():
                relaxed = ~blocked[none]
                if n > 1:
                    relaxed[np.arange(relaxed.shape[0]), served[none, t - 1]] = False
                narrowed[none] = relaxed & follow[none]
            use = narrowed.any(axis=1)
            ok[use] = narrowed[use]
        m = ok.sum(axis=1)
        # adjusted scores
        adj = np.array(s, dtype=np.float64)
        if t:
            k = min(t, int(6 * h) + 1)
            w = 0.5 ** (np.arange(k - 1, -1, -1, dtype=np.float64) / h)
            recent = served[:, t - k : t]
            if tf > 0 and T.shape[1]:
                adj -= tf * (np.einsum("k,vkt->vt", w, T[recent]) @ T.T)
            if cf > 0:
                exp_c = np.zeros((V, nc))
                np.add.at(exp_c, (np.repeat(vi, k), creator_of[recent].ravel()), np.tile(w, V))
                adj -= cf * exp_c[:, creator_of]
            if rp > 0:
                adj -= rp * times
        # mixture
        masked = np.where(ok, adj, -np.inf)
        best = masked.max(axis=1, keepdims=True)
        if temp > 0:
            soft = np.where(ok, np.exp((masked - best) / temp), 0.0)
        else:
            soft = np.zeros((V, n))
            soft[vi, masked.argmax(axis=1)] = 1.0
        soft /= soft.sum(axis=1, keepdims=True)
        f = np.zeros(V)
        new = None
        if floor > 0:
            new = ok & ~seen_creator[:, creator_of]
            n_new = new.sum(axis=1)
            f = np.where(n_new > 0, min(floor, 1.0 - eps), 0.0)
        probs = (1.0 - eps - f)[:, None] * soft + eps * ok / m[:, None]
        if new is not None:
            probs += (f / np.maximum(n_new, 1))[:, None] * new
        u = _splitmix_uniforms([viewers.seeds, np.full(V, t, dtype=np.uint64)], 1)[0]
        cum = np.cumsum(probs, axis=1)
        rows = np.minimum((cum < (u * cum[:, -1])[:, None]).sum(axis=1), n - 1)
        rows = np.where(ok[vi, rows], rows, masked.argmax(axis=1))  # guard against rounding at the edges
        # watch, learn, record
        out = viewers.watch(rows)
        served[:, t] = rows
        times[vi, rows] += 1
        seen_creator[vi, creator_of[rows]] = True
        blocked[vi, rows] |= out["not_interested"]
        np.add.at(pop, rows, 1.0)
        liked_hist[:, t] = viewers.likes[vi, rows]
        play_hist[:, t] = out["play"]
        if learner:
            r = np.empty(V)
            for i in range(V):
                c = space.clips[rows[i]]
                view = View(c.id, int(out["play"][i]) + 300, int(out["play"][i]), loops=int(out["loops"][i]),
                             skipped=bool(out["skipped"][i]), liked=bool(out["liked"][i]),
                             not_interested=bool(out["not_interested"][i]))
                r[i] = compute_reward(view, float(c.duration_ms), quants[i]).value
                quants[i].observe(min(float(view.play_ms), 20.0 * max(float(c.duration_ms), 1.0)), float(c.duration_ms))
            x = X[rows]
            if g < 1.0:
                mean *= g
                P *= g * g
                P[:, np.arange(d), np.arange(d)] += (1.0 - g * g) / lam
            Px = np.einsum("vij,vj->vi", P, x)
            sden = noise + np.einsum("vi,vi->v", x, Px)
            mean += Px * ((r - np.einsum("vi,vi->v", x, mean)) / sden)[:, None]
            P -= np.einsum("vi,vj->vij", Px, Px / sden[:, None])
        if progress:
            progress(V)
    for i, run in enumerate(runs):
        run.liked = liked_hist[i].tolist()
        run.play_ms = play_hist[i].tolist()
        run.creators = {space.creators[c] for c in set(creator_of[served[i]].tolist())}
        run.chance = float(viewers.likes[i].mean())
        run.rows = served[i].tolist()
    return runs


def _lockstep(viewers: int, views: int, ranker: str, seed: int, catalog: Catalog, params: dict | None,
              switch_at: int | None, policies: Sequence[str], oracle: bool,
              progress: Callable[[int, int], None] | None, hidden: Sequence[int] = (),
              reveal_at: int | None = None) -> dict[str, list[_Run]]:
    space = FeatureSpace(catalog.clips)
    topics, creators = space.topics, space.creators
    total = viewers * views * (len(policies) + int(oracle))
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if progress:
            progress(done, total)

    out: dict[str, list[_Run]] = {}
    main_params = make_ranker(ranker, **dict(params or {})).params
    for name in (*policies, *(["oracle"] if oracle else [])):
        if name == "oracle":
            pp = dict(OracleRanker(0).params)
            pp.update({k: main_params[k] for k in ("repeat_gap", "max_same_topic")})
        else:
            pp = dict(make_ranker(name, **dict(params or {}) if name == ranker else {}).params)
        vs = _Viewers([SimViewer.make(seed * 1_000_003 + v, topics, creators) for v in range(viewers)], space.clips)
        follow = None
        if name == "following":
            follow = np.zeros((viewers, space.n), dtype=bool)
            for v in range(viewers):
                ids = [space.creator_index[c] for c in follows_of(seed * 1_000_003 + v, creators)]
                follow[v] = np.isin(space.creator_of, ids)
        out[name] = _lockstep_policy_run(name, space, vs, pp, views, switch_at, topics, tick, hidden, reveal_at, follow)
    return out
