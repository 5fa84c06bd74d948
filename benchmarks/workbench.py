"""Ranking workbench speed: parameter change, plugin reload, replay, simulate with fame figures.

Each figure is printed beside a baseline measured in the same run, and against its target:

- a parameter change re-ranks the queue (``set_param`` + ``upcoming(10)``) of the demo catalog
  (``demo_like_catalog``, 64 clips, after 30 views): median <= 5 ms. Baseline: what a feed without
  live parameters would do, build a new engine with the new value and replay the 30 views;
- a plugin reload (a new worker process imports the file, rebuilds the ranker, replays 200 views,
  validates; then the swap and re-rank):
  median <= 200 ms. Baselines: the import alone and the 200-view replay alone;
- ``replay`` of a 500-view session under 5 rankers (foryou, random, popular, chronological and the
  example plugin), with the bootstrap intervals: <= 5 s. Baseline: the logging ranker alone;
- ``feedapp simulate --viewers 1000 --views 100`` (one FeedEngine per viewer in 2 processes, with
  the creators' side): <= 30 s. Baseline: the same simulation without the fame figures.

    .venv/bin/python benchmarks/workbench.py [--repeats 15] [--skip-simulate]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as benchmarks/rerank.py: steadier on 2 shared cores

import argparse  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedapp.core.engine import FeedEngine  # noqa: E402
from feedapp.core.plugins import PluginHost, load_plugin_class, replay_into  # noqa: E402
from feedapp.core.replay import replay, session_from_engine  # noqa: E402
from feedapp.core.simulate import SimViewer, demo_like_catalog, simulate  # noqa: E402

EXAMPLE = ROOT / "examples" / "plugins" / "topic_average.py"


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times)


def drive(eng: FeedEngine, n: int, viewer_seed: int = 3) -> None:
    v = SimViewer.make(viewer_seed, eng.space.topics, eng.space.creators)
    for _ in range(n):
        c = eng.next()
        eng.finish(v.watch(c))


def row(name: str, value: float, unit: str, target: float, baseline: str) -> bool:
    met = value <= target
    print(f"{name:<46} {value:>9.2f} {unit:<3} target <= {target:g} {unit:<3} {'met' if met else 'NOT MET':<8} {baseline}")
    return met


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--skip-simulate", action="store_true", help="leave out the 1000-viewer simulation (~10 s)")
    args = ap.parse_args()
    results = []

    # 1. parameter change -> re-ranked queue
    cat = demo_like_catalog(0)
    eng = FeedEngine(cat, "foryou", seed=1)
    drive(eng, 30)
    values = iter([0.05, 0.5] * 1000)
    param_ms = median_ms(lambda: (eng.set_param("temperature", next(values)), eng.upcoming(10)), args.repeats * 4)

    def rebuild() -> None:
        e = FeedEngine(cat, "foryou", seed=1, params={"temperature": 0.5})
        drive(e, 30)
        e.upcoming(10)

    base_ms = median_ms(rebuild, max(3, args.repeats // 3))
    results.append(row("parameter change + upcoming(10), 64 clips", param_ms, "ms", 5.0,
                       f"(baseline: new engine + replay of 30 views {base_ms:.1f} ms)"))

    # 2. plugin reload with a 200-view replay
    tmp = Path(tempfile.mkdtemp(prefix="feedapp-bench-"))
    try:
        plugin = tmp / "topic_average.py"
        shutil.copy(EXAMPLE, plugin)
        peng = PluginHost.feed(cat, f"{plugin}:TopicAverage", seed=1)
        drive(peng, 200)
        host = peng.plugin_host
        ok = []
        reload_ms = median_ms(lambda: ok.append(host.reload()), args.repeats)
        assert all(ok), "a reload failed"
        import_ms = median_ms(lambda: load_plugin_class(plugin, "TopicAverage"), args.repeats)
        hist = list(host.guard.learned)  # the views the plugin learned, as a reload replays them

        def replay_only() -> None:
            r = load_plugin_class(plugin, "TopicAverage")(seed=1)
            r.bind(peng.space, peng.world)
            replay_into(r, hist)

        replay_ms = median_ms(replay_only, args.repeats)
        results.append(row("plugin reload, 200-view replay", reload_ms, "ms", 200.0,
                           f"(baseline: import alone {import_ms:.2f} ms, import + replay {replay_ms:.2f} ms)"))
        # the same with a heavier learner: a plugin subclassing foryou (Kalman update per view)
        heavy = tmp / "heavy.py"
        heavy.write_text("from feedapp.core.rankers.foryou import ForYouRanker\n\n\n"
                         "class Heavy(ForYouRanker):\n    name = 'heavy'\n")
        heng = PluginHost.feed(cat, f"{heavy}:Heavy", seed=1)
        drive(heng, 200)
        ok = []
        heavy_ms = median_ms(lambda: ok.append(heng.plugin_host.reload()), args.repeats)
        assert all(ok)
        results.append(row("plugin reload, 200-view replay, foryou-like", heavy_ms, "ms", 200.0,
                           "(same steps, a learner with a d x d posterior)"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # 3. replay of a 500-view session with 5 rankers
    leng = FeedEngine(cat, "foryou", seed=4, params={"temperature": 0.2, "epsilon": 0.2})
    drive(leng, 500)
    sess = session_from_engine(leng)
    five = ["foryou", "random", "popular", "chronological", f"{EXAMPLE}:TopicAverage"]
    t = time.perf_counter()
    rep = replay(sess, five)
    five_s = time.perf_counter() - t
    t = time.perf_counter()
    replay(sess, ["foryou"])
    one_s = time.perf_counter() - t
    assert rep["counts"]["used"] == 500
    results.append(row("replay, 500 views x 5 rankers (+bootstrap)", five_s, "s", 5.0,
                       f"(baseline: the logging ranker alone {one_s:.2f} s)"))

    # 4. simulate 1000 x 100 with the creators' side
    if not args.skip_simulate:
        t = time.perf_counter()
        r = simulate(viewers=1000, views=100, ranker="foryou", seed=0, workers=2)
        fame_s = time.perf_counter() - t
        assert "fame" in r
        t = time.perf_counter()
        simulate(viewers=1000, views=100, ranker="foryou", seed=0, workers=2, fame=False)
        plain_s = time.perf_counter() - t
        results.append(row("simulate 1000 viewers x 100 views + fame", fame_s, "s", 30.0,
                           f"(baseline: without fame figures {plain_s:.2f} s)"))
    print(f"\n{sum(results)}/{len(results)} targets met")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
