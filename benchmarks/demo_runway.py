"""Does the demo catalog run dry within 200 views? Simulated viewers on the old (64) and new (288) demo shape.

    .venv/bin/python benchmarks/demo_runway.py [--viewers 20] [--views 200] [--kinds one_topic several_topics mixed]

Both catalogs are ``demo_like_catalog`` records (no video): the first demo's shape (64 clips, 8 topics, 5
creators; the baseline) and the plan ``feedapp demo`` makes now (``DEMO_PLAN_SIZE`` clips, 12 topics, 8
creators). For each viewer kind it prints foryou's liked share per block of 20 views: the runway the
catalog gives before the ranker has to bring liked clips back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedapp.core.demo_catalog import (  # noqa: E402
    DEMO_PLAN_CREATORS, DEMO_PLAN_SIZE, DEMO_PLAN_TOPICS, demo_like_catalog)
from feedapp.core.sim_bench import run_kind  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewers", type=int, default=20)
    ap.add_argument("--views", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", nargs="+", default=["one_topic", "several_topics", "mixed"])
    args = ap.parse_args()
    catalogs = {
        "demo 64 (baseline)": demo_like_catalog(args.seed),
        f"demo {DEMO_PLAN_SIZE}": demo_like_catalog(args.seed, DEMO_PLAN_SIZE, DEMO_PLAN_TOPICS, DEMO_PLAN_CREATORS),
    }
    print(f"foryou, {args.viewers} viewers x {args.views} views, seed {args.seed}: liked share per block of 20 views")
    for kind in args.kinds:
        for name, cat in catalogs.items():
            r = run_kind(kind, cat, ("foryou",), viewers=args.viewers, views=args.views, seed=args.seed, oracle=False)
            fy = r["policies"][0]
            blocks = " ".join(f"{b:.2f}" for b in fy["liked_blocks"])
            print(f"{kind:15s} {name:19s} liked share of the catalog {r['catalog']['liked_share']:.2f}  "
                  f"after 20 views {fy['liked_after_20']:.2f}  blocks {blocks}")


if __name__ == "__main__":
    main()
