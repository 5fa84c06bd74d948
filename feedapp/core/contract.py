"""The ranker contract: what every ranker and plugin must do for its logged propensities to be true.

In the spirit of river's ``check_estimator``: ``check_ranker(make)`` runs every check on a ranker
built by ``make(seed)`` and returns one ``Check`` per rule (name, passed, detail). The test suite
runs it on every built-in ranker and the example plugin; ``feedapp check-ranker path.py:Class``
runs it on a plugin for its author.

The checks, on demo-like catalogs built here (no files needed):

- ``protocol``: one finite float score per clip of the bound catalog, also after clips joined it (a new
  topic and creator among them) and were learned; ``clone()`` is fresh with the same parameters;
  ``rank`` returns a permutation;
- ``scores_independent``: the scores of a decision come from its score stream only: scoring twice
  from the same keys gives the same scores, and the decision's adjusted scores do not change when
  the policy stream changes;
- ``pick_frequencies[...]``: for one decision, the served clip drawn with ``draws`` independent
  policy streams (5,000 by default) has the frequencies the policy's exact probabilities
  (``Decision.full_probs``) say, by Pearson's chi-square test (cells expecting fewer than 5 pooled;
  it fails below p = 0.001), once with each policy rule active: exploration, diversity, fatigue,
  the new-creator floor, and the shortlist (a catalog larger than ``SHORTLIST``);
- ``determinism``: two engines with the same seed and the same views serve the same clips with the
  same propensities;
- ``replay``: a session with live parameter changes and a refresh, replayed with the same ranker,
  gives back every logged propensity (to 1e-9) and the served clip of every slot;
- ``budget`` (given ``budget_ms``: ``feedapp check-ranker`` on a plugin): the median of five
  ``learn_one`` and of five ``scores`` calls (and of ``restrict`` and ``explain``, when the plugin has
  them) on a catalog of the demo's size is within the time the app gives one call into a plugin;
  past it the app stops every call and the built-in ranker serves.
"""

from __future__ import annotations

import math
import statistics
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.model import Clip, View
from feedapp.core.plugins import RankerFailure, _check_scores, check_score_form, plugin_line
from feedapp.core.rankers.base import BaseRanker, learn
from feedapp.core.rankers.policy import SHORTLIST, decide, ranker_context
from feedapp.core.rankers.rng import SplitMix, decision_streams

P_MIN = 0.001  # a pick-frequency check fails below this chi-square p-value


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"check": self.name, "passed": bool(self.passed), "detail": self.detail}


def chi2_sf(x: float, dof: int) -> float:
    """P(X >= x) for a chi-square variable with ``dof`` degrees of freedom (the regularised upper
    incomplete gamma function Q(dof/2, x/2): a series below a+1, Lentz's continued fraction above)."""
    a, z = dof / 2.0, x / 2.0
    if z <= 0:
        return 1.0
    if z < a + 1:
        term = total = 1.0 / a
        k = a
        while abs(term) > abs(total) * 1e-15:
            k += 1
            term *= z / k
            total += term
        return max(0.0, 1.0 - total * math.exp(-z + a * math.log(z) - math.lgamma(a)))
    b, c, d = z + 1 - a, 1e300, 1.0 / (z + 1 - a)
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1.0 / d
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h * math.exp(-z + a * math.log(z) - math.lgamma(a))


def chi2_pvalue(counts: Counter, probs: np.ndarray, n: int) -> tuple[float, int]:
    """Pearson's test of pick ``counts`` (row -> count) against ``probs`` over rows; cells expecting
    fewer than 5 picks are pooled. Returns (p-value, picks outside the distribution)."""
    rows = np.flatnonzero(probs > 0)
    outside = sum(c for r, c in counts.items() if probs[r] <= 0)
    expected = probs[rows] * n
    obs = np.array([counts.get(int(r), 0) for r in rows], dtype=float)
    big = expected >= 5
    o = np.append(obs[big], obs[~big].sum())
    e = np.append(expected[big], expected[~big].sum())
    if e[-1] <= 0:
        o, e = o[:-1], e[:-1]
    if o.size < 2:
        return 1.0, outside
    return chi2_sf(float(((o - e) ** 2 / e).sum()), o.size - 1), outside


def _catalog(n: int, seed: int = 0) -> list[Clip]:
    rnd = np.random.default_rng(seed)
    topics = ("ocean", "sports", "cooking", "cats", "tech", "music", "nature", "art")
    out = []
    for i in range(n):
        t = (topics[i % 8],) if i % 5 else (topics[i % 8], topics[(i + 3) % 8])
        out.append(Clip(f"k{i}", f"/k{i}.mp4", f"clip {i}", t, f"creator{i % max(5, n // 4)}",
                        int(rnd.integers(3000, 40000)), 30.0, 540, 960, created=f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
                        features=tuple(float(x) for x in rnd.normal(size=4))))
    return out


def _view(clip: Clip, k: int) -> View:
    liked = "cats" in clip.topics or "music" in clip.topics
    play = clip.duration_ms * (1.2 if liked else 0.1)
    return View(clip.id, play + 200, play, loops=int(liked), skipped=not liked, liked=liked and k % 3 == 0)


def _engine(make: Callable[[int], BaseRanker], clips: list[Clip], seed: int, params: dict, views: int) -> FeedEngine:
    eng = FeedEngine(Catalog(clips), make(seed), seed=seed, params=params, explain=False, record_profile=False)
    _watch(eng, views)
    return eng


def _watch(eng: FeedEngine, views: int) -> None:
    for k in range(len(eng.views), len(eng.views) + views):
        c = eng.next()
        eng.finish(_view(c, k))


# each policy rule active once (on top of the ranker's own defaults)
RULES: dict[str, tuple[int, dict]] = {
    "exploration": (64, {"epsilon": 0.3, "temperature": 0.5}),
    "diversity": (64, {"epsilon": 0.05, "temperature": 0.5, "max_same_topic": 1}),
    "fatigue": (64, {"epsilon": 0.05, "temperature": 0.5, "topic_fatigue": 0.8, "creator_fatigue": 0.8,
                     "repeat_penalty": 0.5}),
    "new_creator_floor": (64, {"epsilon": 0.05, "temperature": 0.5, "new_creator_floor": 0.4}),
    "shortlist": (SHORTLIST + 150, {"epsilon": 0.2, "temperature": 0.5, "new_creator_floor": 0.2}),
}


def _score_problem(eng: FeedEngine) -> str | None:
    """What the app's guard would refuse in these scores (its own check and words), or None."""
    try:
        _check_scores(eng.ranker.scores(decision_streams(1, len(eng.history), len(eng.views))[0]), eng.space.n)
    except RankerFailure as e:  # a list, the wrong shape or dtype, NaN or inf: every call falls back in the app
        return str(e)
    return None


GROWTH = "after 6 clips joined the catalog (with a new topic and a new creator, as while the demo's clips are made)"


def _joining(n_old: int, k: int = 6) -> list[Clip]:
    """``k`` clips that join a catalog of ``n_old`` later: a topic and a creator it has not seen yet among them."""
    rnd = np.random.default_rng(9)
    return [Clip(f"j{i}", f"/j{i}.mp4", f"joined {i}", ("gardening",) if i % 2 else ("cats", "gardening"),
                 "newcomer" if i % 3 else "creator0", int(rnd.integers(3000, 40000)), 30.0, 540, 960,
                 created=f"2027-01-{1 + i:02d}", features=tuple(float(x) for x in rnd.normal(size=4)))
            for i in range(n_old, n_old + k)]


def _protocol(make: Callable[[int], BaseRanker]) -> Check:
    clips = _catalog(40)
    eng = _engine(make, clips, 1, {}, 0)
    problem = _score_problem(eng)  # before any view: wrongly shaped scores would break the first pick (and rank)
    if problem is None:
        _watch(eng, 8)
        problem = _score_problem(eng)
    if problem is None:  # clips join (the demo's catalog grows as its clips are made; _space_did_grow)
        joined = _joining(len(clips))
        try:
            eng.catalog.add(joined)
            problem = _score_problem(eng)
            for k, c in enumerate(joined if problem is None else ()):
                learn(eng.ranker, c, 0.5 if k % 2 else -0.5, _view(c, 8 + k))
            problem = problem or _score_problem(eng)
        except Exception as e:  # noqa: BLE001 - said as any check's failure, with when it happened
            e.add_note(GROWTH)
            raise
        if problem is not None:
            problem = f"{GROWTH}: {problem}"
    if problem is not None:
        return Check("protocol", False, problem)
    problems = []
    fresh = eng.ranker.clone()
    if fresh.params != eng.ranker.params or fresh.space is not None:
        problems.append("clone() is not a fresh, unbound ranker with the same parameters")
    order = make(2).rank(clips)
    if sorted(c.id for c in order) != sorted(c.id for c in clips):
        problems.append("rank() does not return a permutation of its candidates")
    return Check("protocol", not problems, "; ".join(problems) or "scores finite, one per clip, also after clips joined; clone fresh; rank a permutation")


def _scores_independent(make: Callable[[int], BaseRanker]) -> Check:
    eng = _engine(make, _catalog(64), 3, {"epsilon": 0.3, "temperature": 0.5}, 10)
    pos, views = len(eng.history), len(eng.views)
    a = np.asarray(eng.ranker.scores(decision_streams(3, pos, views)[0]), dtype=float)
    b = np.asarray(eng.ranker.scores(decision_streams(3, pos, views)[0]), dtype=float)
    if not np.array_equal(a, b, equal_nan=True):  # NaN scores are the protocol check's to report
        return Check("scores_independent", False, "two score streams with the same keys gave different scores "
                     "(draw randomness only from the rng passed to scores)")
    ref = decide(eng.space, a, eng._rows, eng._blocked, eng.ranker.params, SplitMix(1),
                 **ranker_context(eng.ranker))
    other = decide(eng.space, a, eng._rows, eng._blocked, eng.ranker.params, SplitMix(2),
                   **ranker_context(eng.ranker))
    live = eng.decision()
    same = (np.array_equal(ref.adjusted, other.adjusted, equal_nan=True)
            and np.array_equal(live.adjusted, ref.adjusted, equal_nan=True))
    return Check("scores_independent", same, "scores depend on the score stream only" if same else
                 "the decision's scores changed with the policy stream")


def _frequencies(make: Callable[[int], BaseRanker], rule: str, draws: int) -> Check:
    n_clips, params = RULES[rule]
    eng = _engine(make, _catalog(n_clips, seed=5), 7, params, 9)
    pos, views = len(eng.history), len(eng.views)
    scores = eng.ranker.scores(decision_streams(7, pos, views)[0])
    ref = decide(eng.space, scores, eng._rows, eng._blocked, eng.ranker.params, SplitMix(0),
                 **ranker_context(eng.ranker))
    full = ref.full_probs()
    if abs(float(full.sum()) - 1.0) > 1e-9:
        return Check(f"pick_frequencies[{rule}]", False, f"the probabilities sum to {full.sum():.12f}, not 1")
    counts: Counter = Counter()
    wrong_p = 0
    for k in range(draws):
        d = decide(eng.space, scores, eng._rows, eng._blocked, eng.ranker.params, SplitMix(11, k),
                   **ranker_context(eng.ranker))
        counts[d.row] += 1
        wrong_p += abs(d.propensity - full[d.row]) > 1e-12
    p, outside = chi2_pvalue(counts, full, draws)
    ok = bool(p >= P_MIN and outside == 0 and wrong_p == 0)  # a plain bool: numpy's is not JSON
    detail = f"chi-square p = {p:.3g} over {draws} draws ({int((full > 0).sum())} clips possible)"
    if outside:
        detail += f"; {outside} picks of clips with probability 0"
    if wrong_p:
        detail += f"; {wrong_p} picks logged a propensity other than their probability"
    return Check(f"pick_frequencies[{rule}]", ok, detail)


def _determinism(make: Callable[[int], BaseRanker]) -> Check:
    runs = []
    for _ in range(2):
        eng = _engine(make, _catalog(64), 4, {"epsilon": 0.2, "temperature": 0.3}, 25)
        runs.append([(p.clip_id, p.propensity) for p in eng.picks])
    same = runs[0] == runs[1]
    return Check("determinism", same, "same seed and views: same clips, same propensities" if same else
                 "two engines with the same seed and views served differently")


def _replay(make: Callable[[int], BaseRanker]) -> Check:
    from feedapp.core.replay import replay, session_from_engine

    eng = FeedEngine(Catalog(_catalog(64, seed=2)), make(6), seed=6, params={"epsilon": 0.2, "temperature": 0.3})
    for k in range(40):
        if k == 12:
            eng.set_param("epsilon", 0.4)
        if k == 25:
            eng.refresh()
        c = eng.next()
        eng.finish(_view(c, k))
    rep = replay(session_from_engine(eng), ["target"], make=lambda name, seed, params: _configured(make, seed, params),
                 n_boot=10, keep_steps=False)
    r = rep["rankers"][0].get("reproduced") or {}
    ok = r.get("max_propensity_error", 1.0) <= 1e-9 and r.get("served_agrees") == 1.0
    return Check("replay", ok, f"replay reproduces the logged propensities to {r.get('max_propensity_error', float('nan')):.1e} "
                 f"and the served clip at {r.get('served_agrees', 0):.0%} of 40 slots")


BUDGET_CLIPS = 288  # the demo catalog's size: the budget check times calls on this many clips
BUDGET_CALLS = 5  # calls timed per method; their median is compared with the budget


def median_call_ms(call: Callable[[int], object], budget_ms: float, calls: int = BUDGET_CALLS) -> float:
    """The median wall time in ms of ``call(0)``, ``call(1)``, ... (``calls`` of them); stops early
    once more than half took over ``budget_ms`` (the median is over it then, whatever the rest take)."""
    times: list[float] = []
    for k in range(calls):
        t0 = time.perf_counter()
        call(k)
        times.append((time.perf_counter() - t0) * 1000.0)
        if sum(t > budget_ms for t in times) > calls // 2:
            break
    return statistics.median(times)


def over_budget(median: dict[str, float], budget_ms: float, clips: int, *, option: str = " (--plugin-budget)",
                where: str = "the feed") -> tuple[str, bool]:
    """Describe the median times per method (``scores() 200.4 ms, ...``) and whether one is over the
    budget (``option``: how to change it; ``where``: where the plugin would be stopped)."""
    detail = ", ".join(f"{m}() {f'{t:.1f}' if t >= 0.05 else '< 0.1'} ms" for m, t in median.items())
    detail += f" (median of {BUDGET_CALLS} calls, {clips} clips)"
    slow = [f"{m}()" for m, t in median.items() if t > budget_ms]
    if not slow:
        return f"{detail}, within the app's {budget_ms:g} ms per call", False
    return (f"{detail}: {' and '.join(slow)} over the {budget_ms:g} ms the app gives one call into a plugin{option}, "
            f"so in {where} each such call would be stopped and foryou would serve instead; make it faster"), True


def _budget(make: Callable[[int], BaseRanker], budget_ms: float) -> Check:
    clips = _catalog(BUDGET_CLIPS, seed=8)
    eng = _engine(make, clips, 8, {}, 3)
    r, k0 = eng.ranker, len(eng.views)
    median = {
        "learn_one": median_call_ms(lambda k: learn(r, clips[k0 + k], 0.5, _view(clips[k0 + k], k0 + k)), budget_ms),
        "scores": median_call_ms(lambda k: r.scores(decision_streams(8, k, k0 + BUDGET_CALLS)[0]), budget_ms),
    }
    mask = np.ones(len(clips), dtype=bool)
    if type(r).restrict is not BaseRanker.restrict:  # called at every decision, as scores is
        median["restrict"] = median_call_ms(lambda k: r.restrict(mask), budget_ms)
    if type(r).explain is not BaseRanker.explain:  # called for every row of Up next
        median["explain"] = median_call_ms(lambda k: r.explain(k), budget_ms)
    detail, slow = over_budget(median, budget_ms, BUDGET_CLIPS)
    return Check("budget", not slow, detail + ", or give check-ranker and the app a larger --plugin-budget" if slow else detail)


def _configured(make: Callable[[int], BaseRanker], seed: int, params: dict) -> BaseRanker:
    r = make(seed)
    for k, v in params.items():
        r.set_param(k, v)
    return r


def check_ranker(make: Callable[[int], BaseRanker], *, draws: int = 5000, source: Path | None = None,
                 budget_ms: float | None = None) -> list[Check]:
    """Run every check on rankers built by ``make(seed)``; a check that raises fails with the error
    (and, given the plugin's ``source`` file, the line and method of it that raised). ``budget_ms``
    (a plugin's time per call in the app) adds the ``budget`` check, right after ``protocol``."""
    make = _shape_checked(make)
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("protocol", lambda: _protocol(make)),
        *((("budget", lambda: _budget(make, budget_ms)),) if budget_ms is not None else ()),
        ("scores_independent", lambda: _scores_independent(make)),
        *((f"pick_frequencies[{rule}]", (lambda rule=rule: _frequencies(make, rule, draws))) for rule in RULES),
        ("determinism", lambda: _determinism(make)),
        ("replay", lambda: _replay(make)),
    ]
    out = []
    for name, run in checks:
        try:
            out.append(run())
        except RankerFailure as e:  # scores the policy cannot use (a list, the wrong shape): said as such
            out.append(Check(name, False, str(e)))
        except Exception as e:  # noqa: BLE001 - a ranker that raises fails that check, with the reason
            where = plugin_line("".join(traceback.format_exception(e)), source) if source is not None else ""
            when = "".join(f" {n}" for n in getattr(e, "__notes__", ()))
            out.append(Check(name, False, f"raised {type(e).__name__}: {str(e).strip()}{where}{when}"))
    return out


def _shape_checked(make: Callable[[int], BaseRanker]) -> Callable[[int], BaseRanker]:
    """``make`` whose rankers' scores that are not one number per clip stop a check with the app guard's
    words, not as the policy's IndexError on them ('index 63 is out of bounds for axis 0 with size 63').
    NaN passes: the protocol names it, and the other checks still say what they test."""
    def build(seed: int) -> BaseRanker:
        r = make(seed)
        scores = r.scores

        def checked(rng):  # noqa: ANN001, ANN202
            out = scores(rng)
            check_score_form(out, r.space.n if r.space is not None else None)
            return out

        r.scores = checked  # type: ignore[method-assign]
        return r

    return build
