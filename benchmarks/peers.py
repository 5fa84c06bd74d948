"""The baseline table of issue 11: foryou vs the peers vs random, per viewer kind and catalog.

For each catalog (``--catalogs``: the demo-like 64 clips; the 288-clip demo's shape; generated 1k clips, 20 topics, 200
creators; generated 10k clips, 50 topics, 2,000 creators) and each viewer kind, runs
``sim_bench.run_kind`` (one FeedEngine per viewer and ranker, the oracle, random as chance) for
every seed, averages the seeds and prints a Markdown table per catalog (the one in
docs/benchmarks.md) plus the JSON of every averaged report with ``--json FILE``.

    .venv/bin/python benchmarks/peers.py [--viewers 50] [--views 100] [--seeds 3] [--catalogs demo demo288 1k 10k] [--json out.json]
        [--rankers foryou ts_topic lin_ts vw_cb]   (foryou alone: --rankers foryou)
        [--param NAME=VALUE ...]                   (the ranker under test's parameters)
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedapp.config import parse_params  # noqa: E402
from feedapp.core.plugins import make_any_ranker  # noqa: E402
from feedapp.core.demo_catalog import (  # noqa: E402
    DEMO_PLAN_CREATORS,
    DEMO_PLAN_SIZE,
    DEMO_PLAN_TOPICS,
    demo_like_catalog,
)
from feedapp.core.sim_bench import DEFAULT_PEERS, mean_reports, run_kind  # noqa: E402
from feedapp.core.sim_catalogs import generated_catalog  # noqa: E402
from feedapp.core.sim_viewers import KINDS  # noqa: E402

COLS = (("liked_after_20", "liked 21-30"), ("watch_vs_oracle", "watch/oracle"), ("explored_after_50", "flagged expl. >50"),
        ("new_creator_after_50", "new creator >50"), ("short_share", "short share"), ("recover_median", "recover (median)"), ("recovered_share", "recovered"),
        ("creators_shown", "creators shown"))


CATALOGS = {
    "demo": ("demo 64", lambda s: demo_like_catalog(s)),
    # the demo `feedapp demo` makes now: 12 topics x 24 clips, 8 creators with 3 clips in every topic
    "demo288": ("demo 288 (the demo's plan: 12 topics, 8 creators)",
                lambda s: demo_like_catalog(s, DEMO_PLAN_SIZE, DEMO_PLAN_TOPICS, DEMO_PLAN_CREATORS)),
    "1k": ("generated 1k (20 topics, 200 creators)", lambda s: generated_catalog(1000, 20, 200, s)),
    "10k": ("generated 10k (50 topics, 2,000 creators)", lambda s: generated_catalog(10_000, 50, 2000, s)),
}


def fmt(v: object) -> str:
    return "–" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)


def table(name: str, reports: list[dict]) -> str:
    head = "| kind | ranker | " + " | ".join(c[1] for c in COLS) + " | liked per 20 views |"
    lines = [f"**{name}**", "", head, "|" + "---|" * (len(COLS) + 3)]
    for r in reports:
        for p in [*r["policies"], r["chance"], r["oracle"]]:
            blocks = " ".join(fmt(b) for b in p["liked_blocks"])
            lines.append(f"| {r['viewer_kind']} | {p['ranker']} | " + " | ".join(fmt(p[c]) for c, _ in COLS) + f" | {blocks} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewers", type=int, default=50)
    ap.add_argument("--views", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--catalogs", nargs="+", choices=tuple(CATALOGS), default=["demo", "1k"])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS))
    ap.add_argument("--rankers", nargs="+", default=["foryou", *DEFAULT_PEERS],
                    help="the ranker under test first, then the peers (random and the oracle are always added)")
    ap.add_argument("--param", action="append", metavar="NAME=VALUE",
                    help="a parameter of the ranker under test (repeatable), e.g. --param max_same_topic=5")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--render", type=Path, default=None, help="print the tables of an earlier --json file and stop")
    a = ap.parse_args()
    if a.render:
        for name, reports in json.loads(a.render.read_text()).items():
            print(table(name, reports) + "\n")
        return 0
    try:  # a bad --param is one line, not a traceback halfway through the run
        params = parse_params(a.param) or None
        make_any_ranker(a.rankers[0], **dict(params or {}))
    except ValueError as e:  # ConfigError and ParameterError are ValueErrors
        ap.error(str(e))
    t0 = time.monotonic()
    out: dict[str, list[dict]] = {}
    for name, make in (CATALOGS[c] for c in a.catalogs):
        out[name] = []
        for kind in a.kinds:
            runs = [run_kind(kind, make(s), tuple(a.rankers), viewers=a.viewers, views=a.views, seed=s, params=params)
                    for s in range(a.seeds)]
            out[name].append({**mean_reports(runs), "per_seed": runs})
            print(f"# {name} {kind} done at {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        print(table(name, out[name]) + "\n", flush=True)
        missing = {k: v for r in out[name] for k, v in r["missing"].items()}
        if missing:
            print("missing peers: " + "; ".join(f"{k}: {v}" for k, v in missing.items()) + "\n")
    print(f"{a.viewers} viewers per kind, {a.views} views, seeds 0..{a.seeds - 1}"
          f"{', ' + a.rankers[0] + ' with ' + str(params) if params else ''}; {time.monotonic() - t0:.0f} s on "
          f"{platform.machine()} ({platform.python_version()})")
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
