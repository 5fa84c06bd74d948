"""Event append on the UI thread: how long a SessionRecorder call blocks its caller.

Target (issue 3): p99 <= 2 ms. Measured: every call the player makes per view (arrive, first frame,
pause/resume, checkpoint, leave) and plain events, 20,000 calls, into a real WAL file through the
threaded EventLog. Baseline in the same run: the same rows inserted and committed directly on the
calling thread with sqlite-utils (what the shared design first suggested), and the same with
another connection holding the write lock for 50 ms of every 150 ms (an analyst's tool).

Run: .venv/bin/python benchmarks/log_append.py
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feedapp.core.model import Clip  # noqa: E402
from feedapp.core.session import SessionRecorder  # noqa: E402
from feedapp.store.db import open_db  # noqa: E402
from feedapp.store.log import EventLog  # noqa: E402

CLIP = Clip(id="a", path="/a.mp4", title="A", topics=("cats",), creator="ann",
            duration_ms=10_000, fps=30.0, width=540, height=960)
N_VIEWS = 2_000


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def drive(recorder: SessionRecorder) -> list[float]:
    """Time each call the player makes for N_VIEWS views (ms per call)."""
    times: list[float] = []

    def timed(fn, *a, **k):  # noqa: ANN001, ANN002, ANN003
        t = time.perf_counter_ns()
        fn(*a, **k)
        times.append((time.perf_counter_ns() - t) / 1e6)

    t0 = time.monotonic_ns()
    for i in range(N_VIEWS):
        t = t0 + i * 5_000_000_000
        timed(recorder.arrive, CLIP, reached_by="key", is_revisit=False, settled_ns=t)
        timed(recorder.first_frame, t + 5_000_000)
        timed(recorder.set_paused, True, t + 1_000_000_000)
        timed(recorder.set_paused, False, t + 1_500_000_000)
        timed(recorder.checkpoint, t + 2_000_000_000)
        timed(recorder.event, "mute", t + 2_100_000_000)
        timed(recorder.leave, "key", t + 4_000_000_000)
    return times


class DirectSink:
    """Baseline: commit each row on the calling thread with sqlite-utils."""

    def __init__(self, path: Path) -> None:
        from feedapp.store.log import EventLog as _E

        self.db = open_db(path)
        self._w = _E.__dict__
        self._writer = _E.__new__(_E)

    def __getattr__(self, name):  # noqa: ANN001, ANN204
        ops = {"session_started": "_w_session", "impression_started": "_w_impression", "first_frame": "_w_first_frame",
               "view_updated": "_w_view", "event": "_w_event", "session_ended": "_w_end",
               "profile_snapshot": "_w_profile", "clips_known": "_w_clips"}
        if name not in ops:
            raise AttributeError(name)
        fn = self._w[ops[name]]

        def call(*args):  # noqa: ANN002
            with self.db.conn:
                fn(self._writer, self.db, *args)

        return call


def locker(path: Path, stop: threading.Event) -> None:
    con = sqlite3.connect(path, isolation_level=None, timeout=10)
    while not stop.is_set():
        con.execute("BEGIN IMMEDIATE")
        time.sleep(0.05)
        con.execute("COMMIT")
        time.sleep(0.1)
    con.close()


def run(label: str, make_sink, with_lock: bool) -> None:  # noqa: ANN001
    d = Path(tempfile.mkdtemp(prefix="feedapp-bench-log-"))
    path = d / "feed.db"
    sink = make_sink(path)
    rec = SessionRecorder(sink, app_version="bench", mode="demo", ranker="simple")
    sink.clips_known((CLIP,))
    stop = threading.Event()
    th = threading.Thread(target=locker, args=(path, stop), daemon=True)
    if with_lock:
        th.start()
    t = time.perf_counter()
    times = drive(rec)
    wall = time.perf_counter() - t
    stop.set()
    if with_lock:
        th.join()
    if hasattr(sink, "close"):
        sink.close(timeout=60)
    print(f"{label:<46} calls {len(times):>6}  median {statistics.median(times):6.3f} ms  "
          f"p99 {pct(times, 99):7.3f} ms  max {max(times):8.3f} ms  ({wall:.1f} s)")
    shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    print(__doc__.splitlines()[0])
    run("EventLog (writer thread)                     ", EventLog, with_lock=False)
    run("EventLog, another program locks 50 ms of every 150", EventLog, with_lock=True)
    run("baseline: commit on the calling thread       ", DirectSink, with_lock=False)
    run("baseline, another program locks 50 ms of every 150", DirectSink, with_lock=True)
    print("target: p99 <= 2 ms for the EventLog rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
