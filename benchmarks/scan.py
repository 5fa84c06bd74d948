"""Scan speed: first (uncached) scan vs cached rescan of 1,000 clips, against the plain probe rate.

    .venv/bin/python benchmarks/scan.py [--clips 1000] [--dir /tmp/feedapp-bench-scan]

The folder holds a few real clips (made once with tests.clipgen) hard-linked under 1,000 distinct
paths in 20 topic folders; it is reused between runs. Target: rescan of the unchanged folder < 1 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedapp.media.probe import probe, videos_opened  # noqa: E402
from feedapp.media.scan import find_videos, load_folder  # noqa: E402
from feedapp.store.cache import ProbeCache  # noqa: E402
from feedapp.store.db import open_db  # noqa: E402
from tests.clipgen import make_clip  # noqa: E402


def build(folder: Path, n: int) -> None:
    seeds = folder / ".seeds"
    sources = []
    for i, (seconds, size) in enumerate([(2.0, (240, 426)), (3.0, (240, 426)), (4.0, (360, 640)), (2.5, (426, 240)), (5.0, (240, 426))]):
        path = seeds / f"seed{i}.mp4"
        if not path.exists():
            make_clip(path, seconds=seconds, size=size, colour=(40 * i, 200 - 30 * i, 120), label=str(i))
        sources.append(path)
    for k in range(n):
        path = folder / f"topic{k % 20:02d}" / f"clip {k:04d}.mp4"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.link(sources[k % len(sources)], path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "feedapp-bench-scan")
    args = ap.parse_args()
    t0 = time.perf_counter()
    build(args.dir, args.clips)
    videos, _, _ = find_videos(args.dir)
    print(f"folder: {args.dir} ({len(videos)} clips, built/checked in {time.perf_counter() - t0:.1f} s)")

    # Baseline: plain probe(), one thread, on 50 files.
    t0 = time.perf_counter()
    for path in videos[:50]:
        probe(path)
    per = (time.perf_counter() - t0) / 50
    print(f"baseline  probe() one thread      : {per * 1000:6.1f} ms/clip  ({1 / per:6.0f} clips/s)")

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        opened = videos_opened()
        t0 = time.perf_counter()
        first = load_folder(args.dir, cache=ProbeCache(open_db(db_path)))
        t_first = time.perf_counter() - t0
        print(f"first scan (2 probe threads)     : {t_first:6.2f} s  ({len(videos) / t_first:6.0f} clips/s, "
              f"{videos_opened() - opened} videos opened, {len(first.accepted)} accepted)")

        opened = videos_opened()
        t0 = time.perf_counter()
        again = load_folder(args.dir, cache=ProbeCache(open_db(db_path)))  # fresh process-like cache: reads SQLite
        t_re = time.perf_counter() - t0
        print(f"rescan, unchanged (new cache obj): {t_re:6.2f} s  ({videos_opened() - opened} videos opened)  "
              f"target < 1 s: {'met' if t_re < 1 else 'NOT met'}")
        assert again.accepted == first.accepted

        cache = ProbeCache(open_db(db_path))
        load_folder(args.dir, cache=cache)
        t0 = time.perf_counter()
        load_folder(args.dir, cache=cache)
        print(f"rescan, same cache object (warm) : {time.perf_counter() - t0:6.2f} s")
        print(f"speed-up of rescan over first scan: x{t_first / t_re:.0f}")


if __name__ == "__main__":
    main()
