"""Scores -> the clip served in the next slot, with an exact propensity.

Why a separate, shared policy: exploration, diversity and fatigue are feed rules, not ranker
knowledge, and keeping them identical across rankers keeps experiments comparable. Everything is
vectorised over the catalog, so one decision costs a few numpy passes over n clips.

One decision, given the served history:

1. *Allowed* clips: not the clip just served; not served in the last ``repeat_gap`` impressions;
   not marked "not interested"; no topic that filled each of the last ``max_same_topic`` slots.
   If that leaves nothing, the rules are relaxed in the reverse order (diversity first), so a tiny
   catalog still plays. The ranker may narrow the set (``restrict``: ``following``); if its set is
   empty under the repeat rules they are relaxed for it, and only if it stays empty the ranker's
   restriction is dropped (``following`` falls back to popular).
2. *Adjusted score* = ranker score - ``topic_fatigue`` * recent same-topic exposure
   - ``creator_fatigue`` * recent same-creator exposure - ``repeat_penalty`` * earlier servings, where
   exposure decays with ``fatigue_halflife`` (a cool-down, not a ban; a creator the ranker names as
   liked, ``liked_creators``, gets no creator fatigue: fatigue must not hold back a fan) and each earlier serving of the
   clip counts ``0.5 ** (age / repeat_halflife)`` (``age`` = impressions since it, 0 for the last one),
   so a favourite comes back once the viewer has seen the rest: by this rule, and the reason says so.
3. *Mixture*: with probability ``epsilon`` a uniform allowed clip; with probability ``f`` (the
   ``new_creator_floor``, halved every ``new_creator_halflife`` impressions of the feed, and only while
   some allowed clip's creator has not been shown in this feed)
   a uniform clip among those creators' allowed clips; otherwise softmax(adjusted / temperature)
   over the shortlist, the ``SHORTLIST`` allowed clips with the best ranker scores (all of them in
   catalogs of up to 512 clips; temperature 0 = the best adjusted score, first row on ties). The
   logged propensity is the mixture probability of the served clip, which is exact:
   ``p(c) = (1 - eps - f) softmax(c) [c in shortlist] + eps / |allowed| + f [c new creator] / |new|``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from feedapp.core.features import FeatureSpace
from feedapp.core.model import quick_init
from feedapp.core.rankers.base import BaseRanker
from feedapp.core.rankers.rng import Rng


@quick_init
@dataclass(frozen=True)
class Decision:
    """One decision and the whole distribution it was drawn from.

    ``allowed``/``probs``/``adjusted`` cover the shortlist (every allowed row in catalogs of up to
    ``SHORTLIST`` clips). Allowed rows outside the shortlist can only be reached by the exploration
    parts of the mixture: each has ``eps_each`` (+ ``new_each`` if its creator is new). ``prob_of``
    and ``full_probs`` apply every rule, so over the catalog the probabilities sum to 1.
    """

    row: int
    propensity: float
    score: float
    explore: bool
    why: tuple[str, ...]  # policy reasons (exploration, new creator, fatigue, repeat)
    allowed: np.ndarray  # the shortlist: rows with a softmax share (all allowed rows if <= SHORTLIST)
    probs: np.ndarray  # their exact probabilities (same order); they sum to 1 unless shortlisted
    adjusted: np.ndarray  # their adjusted scores
    n: int = 0  # rows in the catalog
    ok_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))  # every allowed row
    new_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))  # allowed, creator not shown
    eps_each: float = 0.0  # epsilon / |allowed|
    new_each: float = 0.0  # new_creator_floor / |new| (0 when the floor is off or nobody is new)

    def full_probs(self) -> np.ndarray:
        """The probability of every row of the catalog for this slot (sums to 1)."""
        out = np.zeros(self.n)
        out[self.ok_rows] = self.eps_each
        if self.new_each:
            out[self.new_rows] += self.new_each
        out[self.allowed] = self.probs  # the shortlist's probabilities already hold every part
        return out

    def prob_of(self, row: int) -> float:
        """The exact probability that this slot serves ``row`` (0 if the rules did not allow it)."""
        k = int(np.searchsorted(self.allowed, row))
        if k < self.allowed.size and int(self.allowed[k]) == row:
            return float(self.probs[k])
        k = int(np.searchsorted(self.ok_rows, row))
        if not (k < self.ok_rows.size and int(self.ok_rows[k]) == row):
            return 0.0
        p = self.eps_each
        if self.new_each:
            k = int(np.searchsorted(self.new_rows, row))
            if k < self.new_rows.size and int(self.new_rows[k]) == row:
                p += self.new_each
        return p


_NO_ROWS = np.zeros(0, dtype=np.intp)
_NO_ROWS.flags.writeable = False  # ``Decision.new_rows`` when no creator is new (shared: read-only)

_WEIGHTS: dict[tuple[int, float], np.ndarray] = {}


def _fatigue_weights(k: int, halflife: float) -> np.ndarray:
    """Weights of the last k served clips, oldest first; the last served weighs 1."""
    w = _WEIGHTS.get((k, halflife))
    if w is None:
        w = 0.5 ** (np.arange(k - 1, -1, -1, dtype=np.float64) / halflife)
        if len(_WEIGHTS) < 4096:
            _WEIGHTS[(k, halflife)] = w
    return w


def allowed_mask(
    space: FeatureSpace,
    served: np.ndarray,
    blocked: np.ndarray,
    params: Mapping[str, float | int],
) -> np.ndarray:
    """Boolean mask of the rows the policy may serve next (rules relaxed if nothing is left)."""
    n = space.n
    ok = ~blocked
    if not served.size:
        return ok if _any(ok) else np.ones(n, dtype=bool)
    last = int(served[-1])
    ok[served[-int(params["repeat_gap"]) :]] = False
    has = _any(ok)  # (diversity below only ever keeps a non-empty set)
    nrun = int(params["max_same_topic"])
    if has and nrun > 0 and served.size >= nrun and len(space.topics):
        row_topics = space.row_topics
        full = row_topics[last]  # topics present in each of the last N clips
        for r in served[-nrun:-1].tolist():
            if not full:
                break
            full = full & row_topics[r]
        if full:
            diverse = ok & ~space.topic_rows(full)
            if _any(diverse):
                ok = diverse
    if not has:  # relax the repeat gap, then "not interested"; never the same clip twice in a row
        ok = ~blocked
        if n > 1:
            ok[last] = False
        if not _any(ok):
            ok = np.ones(n, dtype=bool)
            if n > 1:
                ok[last] = False
    return ok


_any = np.logical_or.reduce  # ``mask.any()`` without the method's Python wrapper (one decision makes several)


NEVER = REPEAT_NEVER_DECAYS = 100000.0
"""``repeat_halflife`` (``new_creator_halflife``) at this value, their maximum, or absent from the
parameters (settings and logs from before they existed), keeps the older rule: every earlier serving
costs the whole ``repeat_penalty`` (the ``new_creator_floor`` stays whole all session)."""


def ranker_context(ranker: object) -> dict:
    """What ``decide`` takes from the ranker beside its scores: ``restrict`` when the ranker narrows the
    allowed rows, ``liked_creators`` when it names creators the viewer demonstrably likes."""
    out: dict = {}
    if type(ranker).restrict is not BaseRanker.restrict:
        out["restrict"] = ranker.restrict  # type: ignore[attr-defined]
    liked = getattr(ranker, "liked_creators", None)
    if callable(liked):
        mask = liked()
        if mask is not None:
            out["liked_creators"] = np.asarray(mask, dtype=bool)
    return out

SHORTLIST = 512
"""The softmax part of the mixture ranges over the allowed clips with the SHORTLIST best ranker scores
(all allowed clips in a catalog this small or smaller). Fatigue and repeat cuts are applied within
the shortlist. This keeps a decision over 100k clips to a few passes over the catalog, and the
propensity stays exact because the shortlist is part of the policy's definition."""


def _finite(raw: np.ndarray) -> np.ndarray:
    """``raw`` with every NaN or infinite score below the lowest finite one: a ranker bug must not
    become a NaN propensity."""
    if math.isfinite(float(np.add.reduce(raw))):
        return raw
    finite = raw[np.isfinite(raw)]
    return np.where(np.isfinite(raw), raw, finite.min() - 1.0 if finite.size else 0.0)


def _shortlist(raw: np.ndarray) -> np.ndarray | None:
    """Indices into ``raw`` (the allowed rows' scores) of the ``SHORTLIST`` best, in row order so that
    ties resolve the same way; None when every allowed row is in it."""
    if raw.size > SHORTLIST:
        return np.sort(np.argpartition(-raw, SHORTLIST - 1)[:SHORTLIST])
    return None


def greedy_row(space: FeatureSpace, scores: np.ndarray, served: np.ndarray, blocked: np.ndarray,
               params: Mapping[str, float | int]) -> int:
    """The row ``decide`` serves when nothing in the decision is left to chance or cut: ``epsilon`` and
    ``temperature`` 0, no topic or creator fatigue, no repeat penalty, no new-creator floor, no ranker
    restriction (the simulator's oracle; ``is_greedy`` says whether ``params`` are such). Its propensity
    is exactly 1. The same steps as ``decide`` on that path (the allowed set, non-finite scores, the
    shortlist, the first best row on ties) without the mixture's arrays and records; the tests compare
    the two decision by decision."""
    allowed = allowed_mask(space, served, blocked, params).nonzero()[0]
    raw = _finite(np.asarray(scores, dtype=np.float64)[allowed])
    short = _shortlist(raw)
    if short is None:
        return int(allowed[int(raw.argmax())])
    return int(allowed[int(short[int(raw[short].argmax())])])


def uniform_row(space: FeatureSpace, served: np.ndarray, blocked: np.ndarray, params: Mapping[str, float | int],
                rng: Rng) -> tuple[int, float]:
    """(row, propensity) that ``decide`` serves at ``epsilon`` 1 (the ``random`` ranker; ``is_uniform``)
    without a ranker restriction: a uniform allowed row, drawn first from the policy stream ``rng``. The
    ranker's scores do not matter on this path (they come from a stream of their own), so they are not
    asked for. The tests compare it with ``decide`` decision by decision."""
    allowed = allowed_mask(space, served, blocked, params).nonzero()[0]
    m = allowed.size
    return int(allowed[int(rng.integers(m))]), 1.0 / m


def is_uniform(params: Mapping[str, float | int]) -> bool:
    """True when ``decide`` under ``params`` draws uniformly among the allowed rows (``uniform_row``)."""
    return float(params["epsilon"]) >= 1.0


GREEDY_ZERO = ("epsilon", "temperature", "topic_fatigue", "creator_fatigue", "repeat_penalty", "new_creator_floor")


def is_greedy(params: Mapping[str, float | int]) -> bool:
    """True when ``decide`` under ``params`` is ``greedy_row`` (every part of ``GREEDY_ZERO`` is 0)."""
    return all(float(params[k]) == 0.0 for k in GREEDY_ZERO)


def _penalties(
    space: FeatureSpace, rows: np.ndarray, served: np.ndarray, params: Mapping[str, float | int],
    liked_creators: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(topic fatigue, creator fatigue, times served) for ``rows``; None where switched off."""
    tf, cf, rp = float(params["topic_fatigue"]), float(params["creator_fatigue"]), float(params["repeat_penalty"])
    if not served.size or not (tf > 0 or cf > 0 or rp > 0):
        return None, None, None
    h = float(params["fatigue_halflife"])
    k = min(served.size, int(6 * h) + 1)
    recent = served[-k:]
    w = _fatigue_weights(k, h)
    pen_topic = pen_creator = repeat = None
    if tf > 0 and len(space.topics):
        # the products ``@`` made of T's float32 rows and float64 weights: numpy takes both in float64
        pen_topic = tf * _topic_rows64(space, rows).dot(w.dot(_topic_rows64(space, recent)))
    if cf > 0:
        exposure = np.bincount(space.creator_of[recent], weights=w, minlength=len(space.creators))
        if liked_creators is not None:
            if liked_creators.size == exposure.size:
                exposure[liked_creators] = 0.0
            else:
                k = min(liked_creators.size, exposure.size)
                exposure[:k][liked_creators[:k]] = 0.0
        pen_creator = cf * exposure[space.creator_of[rows]]
    if rp > 0:  # earlier servings, each weighed by how long ago (bincounts: ~10x cheaper than np.unique)
        rh = float(params.get("repeat_halflife", REPEAT_NEVER_DECAYS))  # absent (older settings): never decays
        rh = math.inf if rh >= REPEAT_NEVER_DECAYS else rh
        # 0.5 ** (age / rh), age = served.size - 1 .. 0: the same numbers as the fatigue weights' (cached)
        repeat = rp * np.bincount(served, weights=_fatigue_weights(served.size, rh), minlength=space.n)[rows]
    return pen_topic, pen_creator, repeat


T64_MAX_ROWS = 1 << 16
"""Up to this many clips the policy reads topic rows from the space's float64 copy of ``T`` (made once
per growth); a larger catalog converts the rows it reads (the same numbers, without a second matrix)."""


def _topic_rows64(space: FeatureSpace, rows: np.ndarray) -> np.ndarray:
    if space.n <= T64_MAX_ROWS:
        return space.T64[rows]
    return space.T[rows].astype(np.float64)


def _adjust(a: np.ndarray, pens, params: Mapping[str, float | int]) -> np.ndarray:
    pen_topic, pen_creator, repeat = pens
    if pen_topic is not None:
        a = a - pen_topic
    if pen_creator is not None:
        a = a - pen_creator
    if repeat is not None:
        a = a - repeat
    return a


def _cut_reasons(pt, pc, rep, served: np.ndarray, row: int) -> list[str]:  # noqa: ANN001
    why = []
    if pt is not None and pt > 0.005:
        why.append(f"topic fatigue -{pt:.2f}")
    if pc is not None and pc > 0.005:
        why.append(f"creator fatigue -{pc:.2f}")
    if rep is not None and rep > 0:
        why.append(repeat_note(served, row))
        if rep > 0.005:
            why.append(f"repeat -{rep:.2f}")
    return why


def cut_reasons(space: FeatureSpace, row: int, served: Sequence[int], params: Mapping[str, float | int],
                liked_creators: np.ndarray | None = None) -> tuple[str, ...]:
    """The policy's cuts of ``row``'s score after ``served``, worded as a pick's reasons (for the rows of
    Up next that are not decided yet, so a negative adjusted score says where it comes from)."""
    served_arr = np.asarray(served, dtype=np.intp)
    pens = _penalties(space, np.array([row]), served_arr, params, liked_creators)
    return tuple(_cut_reasons(*(None if p is None else p[0] for p in pens), served_arr, row))


def repeat_note(served: np.ndarray, row: int) -> str:
    """``"served 2x before, last 25 ago"``: how often and how recently ``row`` was served."""
    hits = (served == row).nonzero()[0]
    return f"served {hits.size}x before, last {served.size - int(hits[-1])} ago"


def decide(
    space: FeatureSpace,
    scores: np.ndarray,
    served: Sequence[int],
    blocked: np.ndarray,
    params: Mapping[str, float | int],
    rng: Rng,
    restrict: Callable[[np.ndarray], np.ndarray] | None = None,
    liked_creators: np.ndarray | None = None,
    *,
    reasons: bool = True,
) -> Decision:
    """Choose the row served after ``served`` (rows already in the feed, oldest first).

    ``restrict`` and ``liked_creators`` come from the ranker (``ranker_context``): a narrowing of the
    allowed rows, and one bool per creator (the space's creator ids) that the creator fatigue spares.
    ``reasons=False`` leaves ``why`` empty (no words for exploration, fatigue or repeats: a simulated
    viewer's engine logs none); the decision is otherwise the same."""
    n = space.n
    if n == 0:
        raise ValueError("cannot choose a clip from an empty catalog")
    served_arr = np.asarray(served, dtype=np.intp)
    ok = allowed_mask(space, served_arr, blocked, params)
    if restrict is not None:  # e.g. followed creators only: repeat them sooner rather than leave them
        narrowed = restrict(ok)
        if not narrowed.any() and served_arr.size:
            relaxed = ~blocked
            if n > 1:
                relaxed[int(served_arr[-1])] = False
            narrowed = restrict(relaxed)
        if narrowed.any():
            ok = narrowed
    allowed = ok.nonzero()[0]
    m = allowed.size
    eps = float(params["epsilon"])
    raw = _finite(np.asarray(scores, dtype=np.float64)[allowed])
    if eps >= 1.0:  # pure uniform (the random ranker): scores and fatigue cannot matter
        i = int(rng.integers(m))
        uniform = np.empty(m)
        uniform.fill(1.0 / m)  # (np.full's Python wrapper costs more than this on a small catalog)
        return Decision(int(allowed[i]), 1.0 / m, float(raw[i]), True, ("explore: uniform",) if reasons else (),
                        allowed, uniform, raw, n=n, ok_rows=allowed, new_rows=_NO_ROWS, eps_each=1.0 / m)

    # the shortlist (everything in small catalogs), in row order so ties resolve the same way
    short = _shortlist(raw)
    if short is not None:
        cand = allowed[short]
        a = raw[short]
    else:
        cand = allowed
        a = raw
    pens = _penalties(space, cand, served_arr, params, liked_creators)
    a = _adjust(a, pens, params)

    # the mixture
    temp = float(params["temperature"])
    best = int(a.argmax())
    if temp > 0:  # exp((a - a[best]) / temp), normalised: in place on one new array
        soft = a - a[best]
        soft /= temp
        np.exp(soft, out=soft)
        soft /= np.add.reduce(soft)
    else:
        soft = np.zeros(a.size)
        soft[best] = 1.0
    f = float(params["new_creator_floor"])
    fh = float(params.get("new_creator_halflife", NEVER))
    if f > 0 and fh < NEVER and served_arr.size:  # a new feed discovers creators; a long one mostly serves taste
        f *= 0.5 ** (served_arr.size / fh)
    new_all = None
    n_new = 0
    if f > 0:
        shown = np.bincount(space.creator_of[served_arr], minlength=len(space.creators))  # servings per creator
        if np.count_nonzero(shown) < shown.size:  # (once every creator was shown, none is new: a long feed's case)
            new_all = (shown == 0)[space.creator_of[allowed]]
            n_new = int(np.count_nonzero(new_all))
        if not n_new:
            f, new_all = 0.0, None
    f = min(f, 1.0 - eps)
    w_soft = 1.0 - eps - f
    probs = w_soft * soft + eps / m
    if new_all is not None and f > 0:
        new_c = new_all if short is None else new_all[short]
        probs += (f / n_new) * new_c

    u = rng.random()
    if u < eps:
        j, how = int(rng.integers(m)), "explore: uniform"
    elif u < eps + f and new_all is not None:
        idx = new_all.nonzero()[0]
        j, how = int(idx[rng.integers(idx.size)]), "explore: new creator"
    elif temp > 0:
        c = soft.cumsum()
        kk = min(int(c.searchsorted(rng.random() * c[-1], side="right")), a.size - 1)
        j = int(short[kk]) if short is not None else kk
        how = ""
    else:
        j = int(short[best]) if short is not None else best
        how = ""
    row = int(allowed[j])  # j indexes ``allowed``
    # where the row sits in the shortlist (if it does), for its softmax share and adjusted score
    k = j if short is None else int(np.searchsorted(short, j))
    in_short = short is None or (k < short.size and int(short[k]) == j)
    if in_short:
        propensity, score = float(probs[k]), float(a[k])
        pt, pc, rep = [None if p is None else p[k] for p in pens]
    else:  # an exploration pick outside the shortlist: no softmax share
        propensity = eps / m + (f / n_new if new_all is not None and new_all[j] else 0.0)
        one = _penalties(space, np.array([row]), served_arr, params, liked_creators)
        score = float(_adjust(raw[j : j + 1], one, params)[0])
        pt, pc, rep = (None if p is None else p[0] for p in one)
    why: list[str] = [how] if how and reasons else []
    if reasons:
        why += _cut_reasons(pt, pc, rep, served_arr, row)
    return Decision(
        row=row,
        propensity=propensity,
        score=score,
        explore=bool(how),
        why=tuple(why),
        allowed=cand,
        probs=probs,
        adjusted=a,
        n=n,
        ok_rows=allowed,
        new_rows=allowed[new_all] if new_all is not None else _NO_ROWS,
        eps_each=eps / m,
        new_each=f / n_new if new_all is not None else 0.0,
    )
