"""How well could any feed do without knowing the taste? Issue 11's learning targets against an
informed searcher, in the same run as foryou.

The informed searcher (``feedapp.core.sim_search``) is told everything the simulation knows except
which topic(s) or creator the viewer likes, hears every like without noise, and is told when a
switcher's taste moved; it serves the clip most likely to be liked under foryou's feed rules. Where
liked clips do not run out, its figures are what a learner can at best expect; the oracle's are not
(it knows the taste from the first view).

Printed per catalog and kind (the same viewers, seeds and metric code as ``benchmarks/peers.py``,
``sim_metrics``): liked share after 20 views (views 21-30) and, for switchers, the median views to
recover (7 of the last 10 liked) for random (the chance level, in the same run), the informed searcher and
foryou; ``mixed`` is left out (a mixture of the others, with noise the searcher does not have).

    .venv/bin/python benchmarks/search_bound.py [--viewers 20] [--views 100] [--seeds 2]
        [--catalogs demo demo288 1k 10k] [--kinds one_topic several_topics creator_fan switcher] [--no-foryou]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.peers import CATALOGS  # noqa: E402
from feedapp.core.features import FeatureSpace  # noqa: E402
from feedapp.core.plugins import make_any_ranker  # noqa: E402
from feedapp.core.sim_bench import run_kind  # noqa: E402
from feedapp.core.sim_metrics import Trace, liked_share, recover_summary  # noqa: E402
from feedapp.core.sim_search import SEARCH_KINDS, search_trace  # noqa: E402
from feedapp.core.sim_viewers import DEFAULT_SWITCH_AT  # noqa: E402

KINDS = ("one_topic", "several_topics", "creator_fan", "switcher")  # (short_lover: as one_topic, for the searcher)


def mean(xs: list) -> float | None:
    """The mean over seeds; None if any seed has none (e.g. more than half never recovered)."""
    return float(np.mean(xs)) if xs and all(x is not None for x in xs) else None


def fmt(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewers", type=int, default=20)
    ap.add_argument("--views", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--catalogs", nargs="+", choices=tuple(CATALOGS), default=["demo", "demo288", "1k", "10k"])
    ap.add_argument("--kinds", nargs="+", choices=SEARCH_KINDS, default=list(KINDS))
    ap.add_argument("--no-foryou", action="store_true", help="leave foryou out (the searcher and random only)")
    a = ap.parse_args(argv)
    if a.viewers < 1 or a.views <= 30 or a.seeds < 1:
        ap.error("--viewers and --seeds must be 1 or more and --views more than 30")
    rules = {k: v for k, v in make_any_ranker("foryou").params.items() if k in ("repeat_gap", "max_same_topic")}
    print(f"# informed searcher vs foryou ({platform.processor() or platform.machine()}, {a.viewers} viewers x "
          f"{a.seeds} seeds, {a.views} views; feed rules {rules})\n")
    print("| catalog | kind | liked 21-30: random / searcher / foryou | recover (median views): searcher / foryou |")
    print("|---|---|---|---|")
    for cname in a.catalogs:
        label, make = CATALOGS[cname]
        for kind in a.kinds:
            t0 = time.perf_counter()
            chance, srch, fy, rec_s, rec_f = [], [], [], [], []
            for s in range(a.seeds):
                catalog = make(s)
                space = FeatureSpace(catalog.clips)
                traces = [search_trace(catalog, kind, s * 1_000_003 + v, a.views, rules, space)
                          for v in range(a.viewers)]
                srch.append(liked_share(traces, 20, 30))
                rec_s.append(recover_summary(traces)[0])
                rep = run_kind(kind, catalog, ("random",) if a.no_foryou else ("foryou",), viewers=a.viewers,
                               views=a.views, seed=s, oracle=False)  # random runs either way: the chance level
                chance.append(rep["chance"]["liked_after_20"])
                if not a.no_foryou:
                    pol = rep["policies"][0]
                    fy.append(pol["liked_after_20"])
                    rec_f.append(pol["recover_median"])
            rec = f"{fmt(mean(rec_s), 1)} / {fmt(mean(rec_f), 1)}" if kind == "switcher" else ""
            print(f"| {label} | {kind} | {fmt(mean(chance))} / **{fmt(mean(srch))}** / {fmt(mean(fy))} | {rec} |"
                  f"  <!-- {time.perf_counter() - t0:.0f} s -->", flush=True)
    print(f"\n(switch at view {DEFAULT_SWITCH_AT}; the searcher is told the switch; random = the chance level)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
