"""What running a plugin ranker in its own process costs, against calling it in-process, in one run.

The plugin is ``examples/plugins/topic_average.py:TopicAverage``. For each catalog size it measures,
in this process (the baseline: ``make_any_ranker``, what replay does) and through the worker
(``PluginHost``, what the app does):

- one ``scores`` call, one ``learn_one`` call (median and 95th percentile);
- one feed step: ``engine.next()`` + ``engine.finish(view)`` (scores, explain, learn);

and, for the worker only: starting a worker and loading the plugin, a reload (new worker, replaying
the views), and the longest single feed step when the plugin starts looping (budget 50 ms: the
window's stall; the fallback is the built-in ranker rebuilt from the views).

    .venv/bin/python benchmarks/plugin_isolation.py [--sizes 64 1000 10000] [--repeats 300]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the app sets it

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from feedapp.core.engine import FeedEngine  # noqa: E402
from feedapp.core.features import FeatureSpace  # noqa: E402
from feedapp.core.plugins import PluginHost, make_any_ranker  # noqa: E402
from feedapp.core.rankers.rng import SplitMix  # noqa: E402
from feedapp.core.simulate import SimViewer  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from rerank import synthetic_catalog  # noqa: E402

EXAMPLE = ROOT / "examples" / "plugins" / "topic_average.py"
SPEC = f"{EXAMPLE}:TopicAverage"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def timed(fn, repeats: int) -> list[float]:  # noqa: ANN001
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e6)
    return out


def row(what: str, base: list[float], iso: list[float]) -> str:
    mb, mi = statistics.median(base), statistics.median(iso)
    return (f"| {what} | {mb:,.0f} / {pct(base, 0.95):,.0f} | {mi:,.0f} / {pct(iso, 0.95):,.0f} "
            f"| +{mi - mb:,.0f} |")


def bench_size(n: int, repeats: int) -> list[str]:
    catalog = synthetic_catalog(n, seed=1)
    space = FeatureSpace(catalog.clips)
    clips = list(catalog.clips)
    lines = []
    # -- single calls -------------------------------------------------------------------------------
    local = make_any_ranker(SPEC, seed=1).bind(space)
    host = PluginHost(SPEC, seed=1)
    eng_iso = FeedEngine(catalog, host.guard, seed=1)  # binds it: the clips go to the worker once
    host.connect(eng_iso)
    remote = host.guard.active
    rng = SplitMix(1, 2, 3)
    for r in (local, remote):
        for c in clips[:20]:
            r.learn_one(c, 0.5)
    i = iter(range(10**9))
    base_s = timed(lambda: local.scores(rng), repeats)
    iso_s = timed(lambda: remote.scores(rng), repeats)
    base_l = timed(lambda: local.learn_one(clips[next(i) % n], 0.3), repeats)
    iso_l = timed(lambda: remote.learn_one(clips[next(i) % n], 0.3), repeats)
    lines.append(row(f"{n:,} clips: `scores`", base_s, iso_s))
    lines.append(row(f"{n:,} clips: `learn_one`", base_l, iso_l))
    # -- a feed step --------------------------------------------------------------------------------
    eng_local = FeedEngine(catalog, make_any_ranker(SPEC, seed=1), seed=1)
    viewer = SimViewer.make(4, eng_local.space.topics, eng_local.space.creators)

    def step(eng: FeedEngine) -> None:
        eng.finish(viewer.watch(eng.next()))

    steps = max(50, repeats // 3)
    base_f = timed(lambda: step(eng_local), steps)
    iso_f = timed(lambda: step(eng_iso), steps)
    lines.append(row(f"{n:,} clips: feed step (next + finish)", base_f, iso_f))
    assert host.failures == [], host.failures
    # -- worker only: reload, start, a loop ---------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "topic_average.py"
        p.write_text(EXAMPLE.read_text())
        h2 = PluginHost(f"{p}:TopicAverage", seed=1)
        eng = FeedEngine(catalog, h2.guard, seed=1)
        h2.connect(eng)
        for _ in range(100):
            step(eng)
        t = time.perf_counter()
        assert h2.reload() is True
        reload_ms = (time.perf_counter() - t) * 1000
        src = EXAMPLE.read_text().replace("    def scores(self, rng", "    def scores(self, rng, _loop=None):\n"
                                          "        import time as _t\n"
                                          "        if getattr(self, '_go', 0) > 1:\n"
                                          "            while True:\n"
                                          "                _t.sleep(0)\n"
                                          "        self._go = getattr(self, '_go', 0) + 1\n"
                                          "        return self._scores(rng)\n\n"
                                          "    def _scores(self, rng")
        p.write_text(src)
        assert h2.reload() is True
        worst = 0.0
        for _ in range(6):
            t = time.perf_counter()
            step(eng)
            worst = max(worst, (time.perf_counter() - t) * 1000)
        assert [f["cause"] for f in h2.failures] == ["timeout"], h2.failures
        h2.close()
    lines.append(f"| {n:,} clips: reload with 100 views replayed (worker only) | | {reload_ms:,.1f} ms | |")
    lines.append(f"| {n:,} clips: longest feed step when the plugin starts looping (budget 50 ms) | | {worst:,.1f} ms | |")
    host.close()
    return lines


def start_cost(repeats: int = 10) -> tuple[float, float]:
    """(first worker, incl. the forkserver; median of later ones) in ms: new process + import + create."""
    t = time.perf_counter()
    PluginHost(SPEC).close()
    first = (time.perf_counter() - t) * 1000
    later = []
    for _ in range(repeats):
        t = time.perf_counter()
        PluginHost(SPEC).close()
        later.append((time.perf_counter() - t) * 1000)
    return first, statistics.median(later)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 1000, 10000])
    ap.add_argument("--repeats", type=int, default=300)
    args = ap.parse_args()
    first, later = start_cost()
    print(f"worker start + load: first {first:.0f} ms (starts the forkserver), then median {later:.1f} ms\n")
    print("| what | in-process median / p95 (us) | worker median / p95 (us) | overhead (us, median) |")
    print("|---|---|---|---|")
    for n in args.sizes:
        for line in bench_size(n, args.repeats):
            print(line, flush=True)
    print(f"\nnumpy {np.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} cores")


if __name__ == "__main__":  # worker processes import this file again (multiprocessing's rule)
    main()
