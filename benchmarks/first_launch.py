"""First launch of the demo: from the README's command to the first frame painted, clips made on the spot.

Runs ``bash scripts/demo.sh`` (set-up already done: it only checks) with an empty demo folder and a
new database under ``xvfb-run -a``, and reads the app's trace line for the first painted frame.
Baseline in the same run: the same command with every demo clip already made (a later launch).
Target (issue 2): the first clip plays within 10 s of the command on a 2-core machine.

Run: .venv/bin/python benchmarks/first_launch.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_launch(clips: Path, db: Path) -> float:
    env = dict(os.environ, FEEDAPP_TRACE="1")
    env.pop("QT_QPA_PLATFORM", None)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["xvfb-run", "-a", "bash", "scripts/demo.sh", "--clips", str(clips), "--db", str(db), "--quit-after", "6", "--mute"],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )
    first = None
    assert proc.stderr is not None
    for line in proc.stderr:
        if first is None and "first frame painted" in line:
            first = time.monotonic() - t0
    proc.wait()
    if first is None:
        raise RuntimeError("the app never painted a frame")
    return first


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(__doc__.splitlines()[0])
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    fresh, reused = [], []
    for _ in range(args.runs):
        d = Path(tempfile.mkdtemp(prefix="feedapp-first-launch-"))
        fresh.append(one_launch(d / "demo", d / "feed.db"))
        reused.append(one_launch(d / "demo", d / "feed.db"))
        shutil.rmtree(d, ignore_errors=True)
    print(f"first launch (no clips yet):  command -> first frame median {statistics.median(fresh):.2f} s, "
          f"max {max(fresh):.2f} s over {args.runs} runs   target <= 10 s: {'met' if max(fresh) <= 10 else 'NOT met'}")
    print(f"baseline, later launch:       command -> first frame median {statistics.median(reused):.2f} s, "
          f"max {max(reused):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
