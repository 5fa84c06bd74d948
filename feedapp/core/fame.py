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

``add_newcomer`` and ``creators_catalog`` build the catalogs for this; ``write_plots`` draws the PNG
charts (Lorenz curves, exposure over time, learning curves) with matplotlib's Agg canvas, imported
only when charts are asked for (no GUI backend, nothing from Qt).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

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


def format_fame(report: dict) -> str:
    """The creators' side of a ``simulate`` report, as text (one block per policy, then side by side)."""
    fame = report.get("fame") or {}
    if not fame:
        return ""
    names = list(fame)
    lines = ["", "creators' side (algorithmic fame):"]
    head = f"{'policy':<12}{'gini':>7}{'top 10%':>9}{'breakouts':>11}{'median 1st view':>17}"
    newcomer = any(f["newcomer"] for f in fame.values())
    if newcomer:
        head += f"{'newcomer: views to 1st':>24}{'reach':>8}{'share/fair':>12}"
    lines.append(head)
    for p in names:
        f = fame[p]
        firsts = [c["first_view"] for c in f["creators"] if c["first_view"] is not None]
        row = (f"{p:<12}{f['gini']:>7.3f}{f['top10_share']:>9.3f}{len(f['breakouts']):>11}"
               f"{(float(np.median(firsts)) if firsts else float('nan')):>17.1f}")
        nw = f["newcomer"]
        if newcomer and nw:
            vu = "-" if nw["views_until_first"] is None else f"{nw['views_until_first']:.1f}"
            ratio = nw["share_after_arrival"] / nw["fair_share"] if nw["fair_share"] else float("nan")
            row += f"{vu:>24}{nw['reach']:>8.3f}{ratio:>12.2f}"
        lines.append(row)
    for p in names:
        f = fame[p]
        lines.append(f"\n{p}: impressions and watch time per creator (breakout: {f['breakout_rule']})")
        lines.append(f"  {'creator':<14}{'clips':>6}{'impr.':>9}{'share':>8}{'fair':>7}{'last 1/3':>10}"
                     f"{'watch min':>11}{'reach':>7}{'1st view':>9}")
        for c in f["creators"]:
            fv = "-" if c["first_view"] is None else f"{c['first_view']:.0f}"
            lines.append(f"  {c['creator'][:14]:<14}{c['clips']:>6}{c['impressions']:>9}{c['share']:>8.3f}"
                         f"{c['fair_share']:>7.3f}{c['late_share']:>10.3f}{c['watch_ms'] / 60000:>11.1f}"
                         f"{c['reach']:>7.2f}{fv:>9}" + ("  BREAKOUT" if c["broke_out"] else ""))
    return "\n".join(lines)


def write_plots(report: dict, out_dir: str | Path) -> list[Path]:
    """PNG charts of a ``simulate`` report: Lorenz curves, exposure over time, learning curves."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ValueError("--plot needs matplotlib (pip install matplotlib)") from e
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fame = report.get("fame") or {}
    written: list[Path] = []

    def save(fig, name: str) -> None:
        FigureCanvasAgg(fig)
        path = out / name
        fig.savefig(path, dpi=110, bbox_inches="tight")
        written.append(path)

    if fame:
        fig = Figure(figsize=(5.5, 5))
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="equal exposure")
        for p, f in fame.items():
            ax.plot(f["lorenz"]["creators"], f["lorenz"]["impressions"], lw=2, label=f"{p} (Gini {f['gini']:.2f})")
        ax.set_xlabel("share of creators (least exposed first)")
        ax.set_ylabel("share of impressions")
        ax.set_title("Exposure Lorenz curve")
        ax.legend(loc="upper left", fontsize=8)
        save(fig, "lorenz.png")

        fig = Figure(figsize=(5 * len(fame), 4))
        axes = fig.subplots(1, len(fame), sharey=True, squeeze=False)[0]
        for ax, (p, f) in zip(axes, fame.items()):
            ot = f["exposure_over_time"]
            series = ot["impressions"]
            nblocks = len(next(iter(series.values()), []))
            totals = np.maximum(np.sum([v for v in series.values()], axis=0), 1)
            x = [ot["block"] * (i + 0.5) for i in range(nblocks)]
            marked = set(f["breakouts"]) | ({f["newcomer"]["creator"]} if f["newcomer"] else set())
            for name, v in series.items():
                share = np.asarray(v) / totals
                if name in marked:
                    ax.plot(x, share, lw=2.2, label=name)
                else:
                    ax.plot(x, share, lw=0.8, color="0.7")
            ax.set_title(p)
            ax.set_xlabel("view")
            if marked:
                ax.legend(fontsize=7)
        axes[0].set_ylabel("share of impressions per block of 10 views")
        fig.suptitle("Per-creator exposure over time (breakouts and newcomer highlighted)")
        save(fig, "exposure_over_time.png")

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for p in report.get("policies", []):
        curve = [np.nan if v is None else v for v in p["curve"]]
        ax.plot([BLOCK * (i + 0.5) for i in range(len(curve))], curve, marker="o", ms=3, label=p["ranker"])
    if "chance" in report:
        ax.axhline(report["chance"], color="grey", ls="--", lw=1, label="chance")
    ax.set_xlabel("view")
    ax.set_ylabel("share of clips from preferred topics")
    ax.set_ylim(0, 1)
    ax.set_title("Learning curves")
    ax.legend(fontsize=8)
    save(fig, "learning_curves.png")
    return written
