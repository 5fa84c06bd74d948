"""Simulation speed: ``feedapp simulate --viewers 1000 --views 100`` against the 10 s target.

There is one simulator: every viewer is one ``FeedEngine`` driven through the app's feed step
(``FeedSession``), the viewers split into fixed shards run by ``--workers`` processes. Printed, each
with its wall time, CPU time (this process and its workers) and CPU time per simulated view:

- the ranker alone (no baselines, no oracle), 1000 x 100 = 100,000 views, in ``--workers`` processes;
- the CLI's default work: the ranker, random and popular beside it, and the oracle (400,000 views);
- baseline, in the same run: the ranker alone on a tenth of the viewers in one process, scaled to
  the full size (what one core does; the workers' speed-up is the ratio).

    .venv/bin/python benchmarks/simulate.py [--viewers 1000] [--views 100] [--workers N] [--ranker foryou]
                                            [--skip-full]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread per worker: steadier on 2 shared cores

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedapp.commands.simulate import ProgressBar  # noqa: E402
from feedapp.core.simulate import BASELINES, default_workers, simulate  # noqa: E402

TARGET_S = 10.0


def cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(label: str, **kw) -> tuple[float, float, dict]:
    c0, t0 = cpu_s(), time.perf_counter()
    report = simulate(progress=ProgressBar(label), fame=False, **kw)
    return time.perf_counter() - t0, cpu_s() - c0, report


def line(what: str, wall: float, cpu: float, n_views: int, target: float | None) -> str:
    verdict = "" if target is None else f"; target <= {target:.0f} s: {'met' if wall <= target else 'NOT MET'}"
    return (f"{what}: {wall:.1f} s wall, {cpu:.1f} s CPU, {1e6 * cpu / n_views:.0f} us CPU per simulated view "
            f"({n_views:,} views){verdict}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewers", type=int, default=1000)
    ap.add_argument("--views", type=int, default=100)
    ap.add_argument("--ranker", default="foryou")
    ap.add_argument("--workers", type=int, default=default_workers(), help="default: one per core, at most 4 (the CLI's)")
    ap.add_argument("--skip-full", action="store_true", help="time the ranker alone only")
    args = ap.parse_args()
    print(f"simulate --viewers {args.viewers} --views {args.views} --ranker {args.ranker}: {args.workers} worker "
          f"process(es), {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}")
    kw = dict(views=args.views, ranker=args.ranker, seed=0)
    ok = True
    sample = max(1, args.viewers // 10)
    wall0, cpu0, _ = timed("baseline", viewers=sample, workers=1, baselines=(), oracle=False, **kw)
    scale = args.viewers / sample
    print(line(f"baseline: {args.ranker} alone, {sample} viewers in 1 process, x{scale:g}", wall0 * scale, cpu0 * scale,
               args.viewers * args.views, None))
    wall, cpu, _ = timed("ranker alone", viewers=args.viewers, workers=args.workers, baselines=(), oracle=False, **kw)
    print(line(f"{args.ranker} alone, {args.workers} process(es)", wall, cpu, args.viewers * args.views, TARGET_S)
          + f"; {wall0 * scale / wall:.1f}x the baseline")
    ok &= wall <= TARGET_S
    if not args.skip_full:
        wall2, cpu2, rep = timed("default run", viewers=args.viewers, workers=args.workers, **kw)
        names = [p["ranker"] for p in rep["policies"]]
        print(line(f"default run ({', '.join(names)}), {args.workers} process(es)", wall2, cpu2,
                   args.viewers * args.views * len(names), TARGET_S))
        ok &= wall2 <= TARGET_S
        m = rep["policies"][0]
        print(f"{args.ranker}: precision_after_20 {m['precision_after_20']:.3f}, watch_ratio {m['watch_ratio']:.3f}, "
              f"off_taste_after_50 {m['off_taste_after_50']:.3f}, creators_shown {m['creators_shown']:.3f}"
              f" (baselines: {', '.join(BASELINES)})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
