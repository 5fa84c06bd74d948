"""Demo maker speed: time to the first clip ready and to the whole catalog, workers=1 vs workers=2.

    .venv/bin/python benchmarks/demo.py [--limit N] [--seed 0] [--workers 1 2]

Each run starts from an empty temp folder (a first launch). A third figure shows a later launch
(every clip reused), and the clips' size on disk. The baseline is workers=1 in the same run
(``--workers 2`` alone for the whole 288-clip plan, which takes minutes per run).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedapp.media.demo import make_demo  # noqa: E402
from feedapp.media.demo_plan import plan_demo  # noqa: E402


def run(dest: Path, workers: int, seed: int, limit: int | None) -> tuple[float, float, int]:
    t0 = time.monotonic()
    first: list[float] = []
    result = make_demo(dest, seed=seed, workers=workers, limit=limit,
                       on_clip=lambda c: first or first.append(time.monotonic() - t0))
    return (first[0] if first else float("nan")), time.monotonic() - t0, len(result.accepted)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None, help="only the first N clips of the plan")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to time, each from empty")
    args = ap.parse_args()
    plan = plan_demo(args.seed)[: args.limit]
    video_s = sum(p.duration_ms for p in plan) / 1000
    print(f"plan: {len(plan)} clips, {video_s:.0f} s of 540x960 30 fps video; cores: {os.cpu_count()}; "
          f"load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            dest = Path(tmp) / f"w{workers}"
            first, total, n = run(dest, workers, args.seed, args.limit)
            mb = sum(f.stat().st_size for f in dest.glob("*.mp4")) / 1e6
            print(f"workers={workers}: first clip ready {first:5.2f} s, all {n} clips {total:6.1f} s "
                  f"({total / video_s:.3f} s per second of video), {mb:.0f} MB on disk; load now "
                  f"{os.getloadavg()[0]:.1f}")
        last = args.workers[-1]
        first, total, n = run(Path(tmp) / f"w{last}", last, args.seed, args.limit)
        print(f"later launch (all reused): first clip {first * 1000:5.1f} ms, all {n} clips {total:5.2f} s")


if __name__ == "__main__":
    main()
