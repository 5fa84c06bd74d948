"""Simulation speed: ``feedapp simulate --viewers 1000 --views 100`` should take <= 30 s here.

Runs the same work as the CLI command (``--method lockstep``, its default; ``--method engine``
drives one FeedEngine per viewer instead) (the ranker, random and popular beside it, and the oracle;
progress bar on stderr), prints the wall time, the CPU time of this process and its workers, the
time per simulated view, and the verdict. ``--only-ranker`` also times the ranker alone (no
baselines, no oracle) for comparison.

    .venv/bin/python benchmarks/simulate.py [--viewers 1000] [--views 100] [--workers 2] [--only-ranker]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedapp.commands.simulate import ProgressBar  # noqa: E402
from feedapp.core.simulate import BASELINES, simulate  # noqa: E402

TARGET_S = 30.0


def cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(label: str, **kw) -> tuple[float, float, dict]:
    c0, t0 = cpu_s(), time.perf_counter()
    report = simulate(progress=ProgressBar(label), **kw)
    return time.perf_counter() - t0, cpu_s() - c0, report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewers", type=int, default=1000)
    ap.add_argument("--views", type=int, default=100)
    ap.add_argument("--ranker", default="foryou")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--method", choices=("lockstep", "engine"), default="lockstep",
                    help="lockstep (the CLI's default: all viewers as arrays) or engine (one FeedEngine per viewer)")
    ap.add_argument("--only-ranker", action="store_true", help="also time the ranker without baselines and oracle")
    args = ap.parse_args()
    print(f"simulate --viewers {args.viewers} --views {args.views} --ranker {args.ranker} --method {args.method} "
          f"({args.workers if args.method == 'engine' else 1} process(es), {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f})")
    wall, cpu, rep = timed("full", viewers=args.viewers, views=args.views, ranker=args.ranker, workers=args.workers,
                           method=args.method)
    n_views = args.viewers * args.views * (len(rep["policies"]))
    print(f"full run ({', '.join(p['ranker'] for p in rep['policies'])}): {wall:.1f} s wall, {cpu:.1f} s CPU, "
          f"{1e6 * cpu / n_views:.0f} us CPU per simulated view ({n_views} views); target <= {TARGET_S:.0f} s: "
          f"{'met' if wall <= TARGET_S else 'NOT MET'}")
    if args.only_ranker:
        wall2, cpu2, _ = timed("ranker only", viewers=args.viewers, views=args.views, ranker=args.ranker,
                               workers=args.workers, baselines=(), oracle=False, method=args.method)
        print(f"ranker only: {wall2:.1f} s wall, {cpu2:.1f} s CPU")
    m = rep["policies"][0]
    print(f"{args.ranker}: precision_after_20 {m['precision_after_20']:.3f}, watch_ratio {m['watch_ratio']:.3f}, "
          f"off_taste_after_50 {m['off_taste_after_50']:.3f}, creators_shown {m['creators_shown']:.3f}"
          f" (baselines: {', '.join(BASELINES)})")
    return 0 if wall <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
