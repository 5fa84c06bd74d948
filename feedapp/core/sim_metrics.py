"""The metrics of ``feedapp simulate --viewer-kind``: what each one measures, on plain traces.

Why plain traces: a metric must compute what it claims, and the tests check that on hand-made runs
(``Trace`` lists), independent of any ranker. Every metric is a mean over viewers or a pooled share;
the report puts ``random``'s value beside each one as its chance level, so a target that a random
feed also meets is visible at once. Definitions (also in ``docs/rankers.md``, "Honest metrics"):

- ``liked_after_20``: share of liked clips among views 21-30 (the next 10 after 20 views);
- ``liked_blocks``: share of liked clips per block of 20 views, through view 200;
- ``watch_vs_oracle``: total play time / the oracle's total play time (same viewers; the oracle
  knows the taste and serves the clip with the highest expected play time, under the same repeat
  gap and same-topic limit as the ranker under test);
- ``explored_after_50``: share of the ranker's own picks after view 50 that its policy *flagged* as
  exploration (uniform or new-creator draws; scripted warm-up slots excluded). Not 1 - precision;
- ``off_taste_after_50``: share of clips after view 50 the viewer does not like (1 - precision; the
  old ``explore_after_50`` figure was this);
- ``new_creator_after_50``: share of clips after view 50 whose creator this viewer had not been
  shown before;
- ``short_share``: share of served clips that are short (``sim_viewers.SHORT_S``), beside the
  catalog's share of short clips;
- ``recover_median``: for viewers whose taste switched, the median number of views after the
  switch until 7 of the last 10 served clips were liked under the new taste (views before the
  switch count as not liked, so 7 is the fastest possible); a viewer not recovered by the end of
  the run counts as never (``None`` when more than half never recovered), with ``recovered_share``;
- ``creators_shown``: creators served to at least one viewer of the audience / creators in the catalog.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

RECOVER_WINDOW = 10
RECOVER_LIKED = 7
BLOCK = 20
MAX_BLOCK_VIEW = 200


@dataclass
class Trace:
    """One viewer's run: one entry per view, in order."""

    liked: list[bool] = field(default_factory=list)  # the served clip is liked (hidden taste at that time)
    play_ms: list[int] = field(default_factory=list)
    explore: list[bool] = field(default_factory=list)  # the policy flagged the pick as exploration
    scripted: list[bool] = field(default_factory=list)  # a fixed slot (warm-up), not a ranker pick
    new_creator: list[bool] = field(default_factory=list)  # creator not shown to this viewer before
    short: list[bool] = field(default_factory=list)
    creators: set[str] = field(default_factory=set)
    switched_at: int | None = None  # view index at which the taste switched


def _mean(xs: list[float]) -> float | None:
    return float(np.mean(xs)) if xs else None


def liked_share(traces: list[Trace], lo: int, hi: int) -> float | None:
    """Mean over viewers of the liked share among views lo..hi-1 (viewers with a view there)."""
    return _mean([sum(t.liked[lo:hi]) / len(t.liked[lo:hi]) for t in traces if len(t.liked) > lo])


def pooled_share(traces: list[Trace], attr: str, lo: int, *, picks_only: bool = False) -> float | None:
    """Share of views from ``lo`` on where ``attr`` is true, pooled over viewers (ranker picks only
    if ``picks_only``: scripted slots left out)."""
    hits = total = 0
    for t in traces:
        vals = getattr(t, attr)[lo:]
        scripted = t.scripted[lo:] if picks_only else [False] * len(vals)
        for v, s in zip(vals, scripted):
            if not s:
                hits += bool(v)
                total += 1
    return hits / total if total else None


def recover_views(trace: Trace) -> int | None:
    """Views after the switch until 7 of the last 10 were liked (new taste); None if never."""
    s = trace.switched_at
    if s is None:
        return None
    window: list[bool] = [False] * RECOVER_WINDOW
    for k, liked in enumerate(trace.liked[s:], start=1):
        window = window[1:] + [bool(liked)]
        if sum(window) >= RECOVER_LIKED:
            return k
    return None


def recover_summary(traces: list[Trace]) -> tuple[float | None, float | None]:
    """(median views to recover, share recovered) over viewers whose taste switched."""
    switched = [t for t in traces if t.switched_at is not None]
    if not switched:
        return None, None
    ks = [recover_views(t) for t in switched]
    vals = sorted(math.inf if k is None else float(k) for k in ks)
    med = float(np.median(vals))
    return (None if math.isinf(med) else med), sum(k is not None for k in ks) / len(ks)


def summarise(traces: list[Trace], *, oracle_play_ms: float | None, n_creators: int, views: int) -> dict:
    """Every metric of one policy's traces (see the module docstring). Plain data, rounded."""
    play = float(sum(sum(t.play_ms) for t in traces))
    recover, recovered = recover_summary(traces)
    late = views > 50
    out = {
        "liked_after_20": liked_share(traces, 20, 30) if views > 20 else None,
        "liked_blocks": [liked_share(traces, lo, lo + BLOCK) for lo in range(0, min(views, MAX_BLOCK_VIEW), BLOCK)],
        "watch_vs_oracle": play / oracle_play_ms if oracle_play_ms else None,
        "watch_min_per_viewer": play / 60000.0 / max(len(traces), 1),
        "explored_after_50": pooled_share(traces, "explore", 50, picks_only=True) if late else None,
        "off_taste_after_50": (1.0 - liked_share(traces, 50, views)) if late and liked_share(traces, 50, views) is not None else None,
        "new_creator_after_50": pooled_share(traces, "new_creator", 50) if late else None,
        "short_share": pooled_share(traces, "short", 0),
        "recover_median": recover,
        "recovered_share": recovered,
        "creators_shown": len(set().union(*(t.creators for t in traces))) / max(n_creators, 1) if traces else None,
    }
    return {k: _round(v) for k, v in out.items()}


def _round(v):
    if isinstance(v, list):
        return [_round(x) for x in v]
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(float(v), 4)


METRICS: tuple[tuple[str, str], ...] = (
    ("liked_after_20", "liked share, views 21-30"),
    ("watch_vs_oracle", "watch time / oracle's"),
    ("explored_after_50", "flagged exploration after view 50"),
    ("off_taste_after_50", "not-liked share after view 50"),
    ("new_creator_after_50", "new-creator share after view 50"),
    ("short_share", "short-clip share"),
    ("recover_median", "views to recover a switch (median)"),
    ("recovered_share", "share of switches recovered"),
    ("creators_shown", "creators shown across the audience"),
)
"""The scalar metrics in report order, with a label for tables."""
