"""Launch benchmark: from exec of ``python -m feedapp play DIR`` to the first video frame painted.

Run on a real X server: ``xvfb-run -a .venv/bin/python benchmarks/launch.py`` (re-runs itself under
``xvfb-run -a`` when there is no display). The app prints ``first frame painted`` on stderr when
``FEEDAPP_TRACE=1``; this script times each run from just before ``Popen`` to that line.

Figures: the catalog already made and its probes cached (the target: <= 2.0 s), the same with an
empty probe cache, and in the same run a baseline: a bare ``python -c`` importing PySide6's widgets
and multimedia (what any Qt video player pays before doing anything).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.swipe import catalog_clips, ensure_display  # noqa: E402


def time_launch(folder: Path, db: Path) -> tuple[float, str]:
    env = dict(os.environ, FEEDAPP_TRACE="1")
    env.pop("QT_QPA_PLATFORM", None)
    cmd = [sys.executable, "-m", "feedapp", "play", str(folder), "--db", str(db), "--quit-after", "1.5"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    seen = float("nan")
    lines = []
    for line in proc.stderr:
        lines.append(line.rstrip())
        if "first frame painted" in line and seen != seen:
            seen = time.monotonic() - t0
    proc.wait(timeout=60)
    return seen, "\n".join(lines[-5:])


def time_baseline() -> float:
    cmd = [sys.executable, "-c", "import PySide6.QtWidgets, PySide6.QtMultimedia"]
    env = dict(os.environ, QT_LOGGING_RULES="qt.multimedia*=false")
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, env=env)
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/feedapp-bench"))
    args = ap.parse_args()
    ensure_display()

    clips, kind = catalog_clips(args.cache, args.clips)
    folder = Path(clips[0].path).parent
    print(f"feedapp launch benchmark: {folder} ({kind}), {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        cold_db = Path(tmp) / "cold.db"
        cold, tail = time_launch(folder, cold_db)  # probes every file, fills the cache
        if cold != cold:
            print("the app never reported a first frame; its last lines:\n" + tail)
            return 1
        warm = [time_launch(folder, cold_db)[0] for _ in range(args.runs)]
        base = [time_baseline() for _ in range(args.runs)]
    print(f"  exec -> first frame, probe cache empty (first launch): {cold:.2f} s")
    print(f"  exec -> first frame, catalog made and probes cached: median {statistics.median(warm):.2f} s, "
          f"max {max(warm):.2f} s over {len(warm)} runs")
    print(f"  baseline, python importing PySide6 widgets + multimedia: median {statistics.median(base):.2f} s")
    print("target (cached, median <= 2.0 s):", "met" if statistics.median(warm) <= 2.0 else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
