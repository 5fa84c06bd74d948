"""kill -9 the real app at random moments: committed rows lost (must be 0) and in-flight view lost.

    .venv/bin/python benchmarks/kill9.py [--runs 20] [--seed 0] [--xvfb]

Each run starts ``feedapp play`` on a folder of short generated clips (cats and dogs) with the
autopilot swiping (it watches cats to the end and skips dogs, so views close and new ones start all
the time), waits a random 0-8 s after the first clip arrived, and sends SIGKILL. At once, from another connection, it counts the killed session's rows
(everything committed at the moment of the kill) and notes the in-flight view: the time since its
last checkpoint (or since it settled, when no checkpoint was written yet) is what the kill lost.
The next run's start recovers the session (a final short start recovers the last one); at the end
every killed session must still have every row it had at the kill, be closed as
``recovered_after_crash`` with its in-flight view completed from the checkpoint, and ``feedapp
check`` must pass. Exit code 1 when any of that fails.

The app runs offscreen (QT_QPA_PLATFORM=offscreen), or on a virtual X display with ``--xvfb``
(``xvfb-run -a``, as tests/e2e does where a real display is needed).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.clipgen import make_clip  # noqa: E402

TABLES = ("impressions", "views", "events", "profile_snapshots")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))}, kernel {platform.release()}"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}); {os_name}; Python {platform.python_version()}"


def app_cmd(folder: Path, db: Path, xvfb: bool, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "feedapp", "play", str(folder), "--db", str(db), "--mute", *extra]
    return ["xvfb-run", "-a", *cmd] if xvfb else cmd


def app_env(xvfb: bool) -> dict[str, str]:
    env = dict(os.environ, FEEDAPP_TRACE="1", PYTHONPATH=str(ROOT))
    env.pop("DISPLAY", None) if not xvfb else None
    env["QT_QPA_PLATFORM"] = "xcb" if xvfb else "offscreen"
    return env


def snapshot(db: Path, killed_ns: int, pid: int) -> dict:
    """What was committed at the kill: the killed process's session rows and its in-flight view."""
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT id FROM sessions WHERE pid = ? ORDER BY started_mono_ns DESC LIMIT 1", [pid]).fetchone()
        if row is None:  # killed before its session row was committed
            return {"session": None}
        sid = row[0]
        counts = {t: con.execute(f"SELECT COUNT(*) FROM {t} WHERE session_id = ?", [sid]).fetchone()[0] for t in TABLES}
        rows = {t: sorted(con.execute(f"SELECT * FROM {t} WHERE session_id = ?", [sid]).fetchall(), key=repr)
                for t in ("impressions", "events", "profile_snapshots")}
        last = con.execute("SELECT id, settled_mono_ns FROM impressions WHERE session_id = ? ORDER BY position DESC "
                           "LIMIT 1", [sid]).fetchone()
        inflight = None
        if last is not None:
            v = con.execute("SELECT final, ended_mono_ns, dwell_ms FROM views WHERE impression_id = ?", [last[0]]).fetchone()
            if v is None:  # settled, no checkpoint yet (< 250 ms): all of it so far is lost
                inflight = {"impression": last[0], "lost_ms": (killed_ns - last[1]) / 1e6, "checkpoint_ms": None}
            elif v[0] == 0:
                inflight = {"impression": last[0], "lost_ms": (killed_ns - v[1]) / 1e6, "checkpoint_ms": v[2]}
        return {"session": sid, "counts": counts, "rows": rows, "inflight": inflight}
    finally:
        con.close()


def one_run(folder: Path, db: Path, rnd: random.Random, xvfb: bool, speed: float) -> dict:
    proc = subprocess.Popen(app_cmd(folder, db, xvfb, "--autopilot", "cats", "--autopilot-speed", str(speed)),
                            cwd=ROOT, env=app_env(xvfb), stderr=subprocess.PIPE, text=True)
    arrived = threading.Event()
    lines: list[str] = []

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "arrived at #0" in line:
                arrived.set()

    threading.Thread(target=read, daemon=True).start()
    if not arrived.wait(60):
        proc.kill()
        raise SystemExit("the app did not show its first clip within 60 s:\n" + "".join(lines))
    delay = rnd.uniform(0.0, 8.0)
    time.sleep(delay)
    target = proc.pid
    if xvfb:  # xvfb-run's child is the app: kill the python process itself
        kids = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "feedapp"], capture_output=True, text=True).stdout.split()
        target = int(kids[0]) if kids else proc.pid
    os.kill(target, signal.SIGKILL)
    killed_ns = time.monotonic_ns()
    proc.wait()
    snap = snapshot(db, killed_ns, target)
    snap["delay_s"] = delay
    snap["recovered_at_start"] = sum("recovered_after_crash" in ln for ln in lines)
    return snap


def verify(db: Path, runs: list[dict]) -> list[str]:
    problems = []
    con = sqlite3.connect(db)
    try:
        for k, r in enumerate(runs):
            sid = r["session"]
            if sid is None:
                continue
            end = con.execute("SELECT end_reason FROM sessions WHERE id = ?", [sid]).fetchone()
            if end is None or end[0] != "recovered_after_crash":
                problems.append(f"run {k}: session {sid[:8]} is {end}, not recovered_after_crash")
            for t in ("impressions", "events", "profile_snapshots"):
                now = sorted(con.execute(f"SELECT * FROM {t} WHERE session_id = ?", [sid]).fetchall(), key=repr)
                missing = [x for x in r["rows"][t] if x not in now]
                r.setdefault("lost", 0)
                r["lost"] += len(missing)
                if missing:
                    problems.append(f"run {k}: {len(missing)} committed {t} row(s) lost")
            n_views = con.execute("SELECT COUNT(*) FROM views WHERE session_id = ?", [sid]).fetchone()[0]
            if n_views < r["counts"]["views"]:
                problems.append(f"run {k}: views went from {r['counts']['views']} to {n_views}")
                r["lost"] += r["counts"]["views"] - n_views
            inf = r["inflight"]
            if inf and inf["checkpoint_ms"] is not None:
                v = con.execute("SELECT final, exit, dwell_ms FROM views WHERE impression_id = ?", [inf["impression"]]).fetchone()
                if v != (1, "crash", inf["checkpoint_ms"]):
                    problems.append(f"run {k}: in-flight view not completed from its checkpoint: {v}")
    finally:
        con.close()
    check = subprocess.run([sys.executable, "-m", "feedapp", "check", "--db", str(db)], cwd=ROOT,
                           capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if check.returncode != 0:
        problems.append("feedapp check failed:\n" + check.stdout + check.stderr)
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speed", type=float, default=4.0, help="--autopilot-speed of the app (default 4: a swipe every ~1 s)")
    ap.add_argument("--xvfb", action="store_true", help="run the app under xvfb-run -a instead of offscreen")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="feedapp-kill9-") as tmp:
        folder = Path(tmp) / "clips"
        for i in range(6):  # the autopilot watches the cats clips to the end and skips the dogs ones
            topic = "cats" if i % 2 == 0 else "dogs"
            make_clip(folder / topic / f"c{i}.mp4", seconds=1.0 + 0.5 * (i % 3), colour=(40 * i, 120, 200), label=str(i))
        db = Path(tmp) / "feed.db"
        runs = []
        t0 = time.monotonic()
        for k in range(args.runs):
            r = one_run(folder, db, rnd, args.xvfb, args.speed)
            runs.append(r)
            inf = r.get("inflight")
            c = r.get("counts", {})
            print(f"run {k + 1:2d}: killed {r['delay_s']:.2f} s after the first clip; committed {c.get('impressions', 0)} "
                  f"impressions, {c.get('views', 0)} views, {c.get('events', 0)} events; in-flight view lost "
                  + (f"{inf['lost_ms']:.0f} ms" + ("" if inf["checkpoint_ms"] is not None else " (no checkpoint yet)")
                     if inf else "nothing (no view open)"), flush=True)
        # a last short start recovers the last killed session
        subprocess.run(app_cmd(folder, db, args.xvfb, "--quit-after", "1"), cwd=ROOT, env=app_env(args.xvfb),
                       capture_output=True, timeout=120)
        problems = verify(db, runs)
        wall = time.monotonic() - t0
    lost_ms = [r["inflight"]["lost_ms"] for r in runs if r.get("inflight")]
    committed = sum(sum(r["counts"].values()) for r in runs if r.get("session"))
    lost_rows = sum(r.get("lost", 0) for r in runs)
    print(f"\n{len(runs)} kills in {wall:.0f} s; committed rows at the kills: {committed}; committed rows lost: {lost_rows}")
    if lost_ms:
        ranked = sorted(lost_ms)
        p95 = ranked[max(0, -(-95 * len(ranked) // 100) - 1)]  # nearest rank
        print(f"in-flight view lost (ms since its last checkpoint, {len(lost_ms)} kills with a view open): "
              f"median {statistics.median(lost_ms):.0f}, 95th percentile {p95:.0f}, max {ranked[-1]:.0f}")
    for p in problems:
        print("PROBLEM:", p)
    print("all killed sessions recovered, every committed row kept, feedapp check passes" if not problems
          else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
