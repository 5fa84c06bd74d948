"""Algorithmic fame: the creators' side of a simulated feed (who gets seen, how unequally, who breaks out).

Why: a ranker that serves viewers well can still concentrate exposure on a few creators and starve
newcomers. ``feedapp simulate`` reports, per policy, from the clips served to every simulated viewer:

- ``impressions`` and ``watch_ms`` per creator, and their ``share`` of all impressions;
- ``gini``: the Gini coefficient of impressions over all creators in the catalog (0 = everybody
  equally, 1 = one creator gets everything), computed as ``sum_i (2i - n - 1) x_i / (n sum x)`` over
  the sorted counts; ``lorenz``: the Lorenz curve (share of creators vs share of impressions);
- ``top10_share``: the share of impressions that went to the top 10 % of creators (at least one);
- ``fair_share`` of a creator: its share of the catalog's clips (what a uniform feed would give it);
- ``breakouts``: creators whose share of impressions in the **last third** of the views is more
  than ``BREAKOUT_FACTOR`` (2) times their fair share;
- ``first_view`` per creator: over viewers, the median number of views a viewer made before the
  creator's first impression in their feed (every creator starts with zero exposure), and
  ``reach``: the share of viewers who saw the creator at all;
- with a **newcomer** (``simulate(..., newcomer=..., newcomer_at=V)``: a creator whose clips join
  the catalog at view V of every viewer): ``views_until_first`` (median over viewers of the views
  from V until the newcomer's first impression, among viewers reached), ``reach``, and its share of
  impressions after V against its fair share;
- ``exposure_over_time``: impressions per creator per block of 10 views (for the chart).

``add_newcomer`` and ``creators_catalog`` build the catalogs for this. The table and the PNG charts
(Lorenz curves, exposure over time, learning curves) are drawn outside the core:
``feedapp.commands.simulate.format_fame`` and ``feedapp.commands.charts.write_plots``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from feedapp.core.catalog import Catalog
from feedapp.core.demo_catalog import demo_like_catalog
from feedapp.core.features import FeatureSpace

BREAKOUT_FACTOR = 2.0
BLOCK = 10


def gini(x: Sequence[float]) -> float:
    """Gini coefficient of non-negative amounts (0 when all are equal or all are zero)."""
    a = np.sort(np.asarray(x, dtype=np.float64))
    n, total = a.size, float(a.sum()) if a.size else 0.0
    if n == 0 or total <= 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * a).sum() / (n * total))


def lorenz(x: Sequence[float]) -> tuple[list[float], list[float]]:
    """(share of creators, share of impressions) points from 0 to 1, poorest first."""
    a = np.sort(np.asarray(x, dtype=np.float64))
    total = float(a.sum())
    xs = np.linspace(0.0, 1.0, a.size + 1)
    ys = np.concatenate([[0.0], np.cumsum(a) / total]) if total > 0 else xs.copy()
    return [round(float(v), 4) for v in xs], [round(float(v), 4) for v in ys]


def top_share(x: Sequence[float], fraction: float = 0.1) -> float:
    a = np.sort(np.asarray(x, dtype=np.float64))[::-1]
    total = float(a.sum())
    if total <= 0:
        return 0.0
    k = max(1, math.ceil(fraction * a.size))
    return float(a[:k].sum() / total)


def add_newcomer(catalog: Catalog, creator: str = "newcomer", per_topic: int = 1) -> Catalog:
    """The catalog plus ``per_topic`` clips per topic by a new creator (copies of existing clips'
    length and look, new ids), so the newcomer is neither better nor worse than the others."""
    if creator in catalog.creators():
        raise ValueError(f"the catalog already has a creator called {creator!r}")
    extra = []
    for t in catalog.topics():
        same = [c for c in catalog.clips if t in c.topics]
        for k in range(min(per_topic, len(same))):
            c = same[(3 * k + 1) % len(same)]
            extra.append(dataclasses.replace(c, id=f"{creator}-{t}-{k + 1}", creator=creator,
                                             title=f"{t} by {creator} #{k + 1}", path=f"sim/{creator}-{t}-{k + 1}.mp4"))
    return Catalog([*catalog.clips, *extra])


def creators_catalog(seed: int, creators: int) -> Catalog:
    """A demo-like catalog with ``creators`` creators (about three clips each, at least 64 clips)."""
    if creators < 1:
        raise ValueError(f"creators must be 1 or more, not {creators}")
    n_clips = max(64, 8 * math.ceil(3 * creators / 8))
    return demo_like_catalog(seed, n_clips=n_clips, creators=[f"creator{i + 1:02d}" for i in range(creators)])


def fame_report(rows: np.ndarray, play_ms: np.ndarray, space: FeatureSpace, *, newcomer: str | None = None,
                newcomer_at: int | None = None) -> dict:
    """The creators' side of one policy's run: ``rows`` and ``play_ms`` are viewers x views arrays."""
    rows = np.asarray(rows, dtype=np.int64)
    play = np.asarray(play_ms, dtype=np.float64)
    V, T = rows.shape
    creators = list(space.creators)
    nc = len(creators)
    cof = space.creator_of[rows]  # viewers x views: creator id served
    imp = np.bincount(cof.ravel(), minlength=nc).astype(np.float64)
    watch = np.bincount(cof.ravel(), weights=play.ravel(), minlength=nc)
    clips_per = np.bincount(space.creator_of, minlength=nc).astype(np.float64)
    new_id = space.creator_index.get(newcomer) if newcomer else None
    fair = clips_per / max(clips_per.sum(), 1.0)
    late0 = T - T // 3 if T >= 3 else 0
    late = np.bincount(cof[:, late0:].ravel(), minlength=nc).astype(np.float64)
    late_share = late / max(late.sum(), 1.0)
    # views before each creator's first impression, per viewer (T when never shown)
    first = np.full((V, nc), T, dtype=np.int64)
    for t in range(T - 1, -1, -1):
        first[np.arange(V), cof[:, t]] = t
    total = max(imp.sum(), 1.0)
    table = []
    for j, name in enumerate(creators):
        reached = first[:, j] < T
        table.append({
            "creator": name,
            "clips": int(clips_per[j]),
            "impressions": int(imp[j]),
            "share": round(float(imp[j] / total), 4),
            "fair_share": round(float(fair[j]), 4),
            "late_share": round(float(late_share[j]), 4),
            "watch_ms": round(float(watch[j]), 1),
            "reach": round(float(reached.mean()), 4),
            "first_view": float(np.median(first[reached, j])) if reached.any() else None,
            "broke_out": bool(late_share[j] > BREAKOUT_FACTOR * fair[j]),
        })
    table.sort(key=lambda r: (-r["impressions"], r["creator"]))
    blocks = [(lo, min(lo + BLOCK, T)) for lo in range(0, T, BLOCK)]
    over_time = {name: [int((cof[:, lo:hi] == j).sum()) for lo, hi in blocks] for j, name in enumerate(creators)}
    xs, ys = lorenz(imp)
    out = {
        "creators": table,
        "gini": round(gini(imp), 4),
        "gini_watch": round(gini(watch), 4),
        "top10_share": round(top_share(imp, 0.1), 4),
        "breakouts": [r["creator"] for r in table if r["broke_out"]],
        "breakout_rule": f"share of impressions in the last third of views (views {late0}-{T - 1}) > "
                         f"{BREAKOUT_FACTOR:g} x the creator's share of catalog clips",
        "lorenz": {"creators": xs, "impressions": ys},
        "exposure_over_time": {"block": BLOCK, "impressions": over_time},
        "newcomer": None,
    }
    if new_id is not None and newcomer_at is not None and 0 <= newcomer_at < T:
        after = first[:, new_id] - newcomer_at
        reached = first[:, new_id] < T
        imp_after = cof[:, newcomer_at:]
        # the newcomer's fair share after it arrived: its clips among all clips
        out["newcomer"] = {
            "creator": newcomer,
            "arrives_at_view": newcomer_at,
            "views_until_first": float(np.median(after[reached])) if reached.any() else None,
            "reach": round(float(reached.mean()), 4),
            "share_after_arrival": round(float((imp_after == new_id).mean()), 4) if imp_after.size else 0.0,
            "fair_share": round(float(fair[new_id]), 4),
        }
    return out
