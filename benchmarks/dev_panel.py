"""Developer panel and fame board: how long a parameter change takes, how long the board blocks the GUI.

1. **Parameter change -> queue updated** (target <= 5 ms): the demo-shaped catalog (64 clips,
   ``demo_like_catalog``), ``foryou`` after 20 learned views, the panel shown. Each sample calls
   ``spin.setValue(v)`` on a real control: its ``valueChanged`` runs the panel's slot, which calls
   ``engine.set_param``, asks ``engine.upcoming(8)`` and repaints the up-next widget before
   returning, so the time around ``setValue`` is the whole chain. Baselines in the same run: the
   engine alone (``set_param`` + ``upcoming(8)``, no Qt) and the queue widget's repaint alone.
2. **Fame board tick** (target: never blocks the GUI thread > 16 ms): the default board (3 rankers x
   40 simulated viewers x 100 views, 20 creators + a newcomer) shown and running, (a) as the app runs
   it, simulated in a worker process, the GUI thread reading snapshots and painting, and (b) for
   comparison simulated on the GUI thread in 6 ms slices. Reported: each tick's wall time on the GUI
   thread, each paint of the canvas, and the GUI thread's worst stall seen by a 1 ms probe timer (the
   longest gap between its firings), with the same probe with the board paused as the baseline.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/dev_panel.py [--changes 300] [--seconds 8]
    xvfb-run -a .venv/bin/python benchmarks/dev_panel.py --screenshots docs/screenshots   # also PNGs
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the app (feedapp/cli.py)
os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedapp.core.engine import FeedEngine  # noqa: E402
from feedapp.core.model import View  # noqa: E402
from feedapp.core.simulate import demo_like_catalog  # noqa: E402

CHANGE_TARGET_MS = 5.0
TICK_TARGET_MS = 16.0


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def row(label: str, xs: list[float], target: float | None = None) -> str:
    verdict = ""
    if target is not None:
        verdict = "  ok" if max(xs) <= target else (f"  p95 ok, max over" if pct(xs, 0.95) <= target else "  OVER")
    return (f"  {label:<44}{statistics.median(xs):>8.3f}{pct(xs, 0.95):>8.3f}{max(xs):>8.3f}{len(xs):>7}"
            f"{'' if target is None else f'{target:>8.1f}'}{verdict}")


HEAD = f"  {'':<44}{'median':>8}{'p95':>8}{'max':>8}{'n':>7}{'target':>8}   (ms)"


def learned_engine(seed: int = 0, views: int = 20) -> FeedEngine:
    eng = FeedEngine(demo_like_catalog(seed), "foryou", seed=seed)
    for _ in range(views):
        c = eng.next()
        good = "cats" in c.topics or "music" in c.topics
        eng.finish(View(c.id, dwell_ms=c.duration_ms * 2 if good else 900, play_ms=c.duration_ms * 2 if good else 800,
                        loops=2 if good else 0, skipped=not good))
    return eng


def bench_param_change(app, changes: int) -> bool:  # noqa: ANN001 - QApplication
    from feedapp.ui.panels.dev import DevPanel

    values = (0.3, 1.7, 0.9, 4.2)
    # baseline: the engine alone
    eng = learned_engine()
    core = []
    for i in range(changes):
        t0 = time.perf_counter()
        eng.set_param("creator_fatigue", values[i % len(values)])
        eng.upcoming(8)
        core.append((time.perf_counter() - t0) * 1000)
    # the panel: a real control's valueChanged -> set_param -> upcoming -> queue repainted
    eng = learned_engine()
    panel = DevPanel(eng)
    panel.resize(380, 820)
    panel.show()
    app.processEvents()
    spin = panel.rows["creator_fatigue"].spin
    slider = panel.rows["optimism"].slider
    ui, inner, paint, drag, moved = [], [], [], [], 0
    for i in range(changes):  # spin and slider changes interleaved, so both see the same machine load
        before = [e.clip.id for e in panel.queue.entries]
        t0 = time.perf_counter()
        spin.setValue(values[(i + 1) % len(values)])
        ui.append((time.perf_counter() - t0) * 1000)
        inner.append(panel.last_change_ms)
        moved += [e.clip.id for e in panel.queue.entries] != before
        app.processEvents()
        t0 = time.perf_counter()
        slider.setValue((i * 37) % slider.maximum())  # a slider step, as a drag makes it
        drag.append((time.perf_counter() - t0) * 1000)
        app.processEvents()
    for _ in range(changes):
        t0 = time.perf_counter()
        panel.queue.repaint()
        paint.append((time.perf_counter() - t0) * 1000)
    panel.close()
    print(f"\n1. parameter change -> up-next queue updated ({len(eng.catalog)} clips, foryou after 20 views; "
          f"the queue order changed in {moved}/{changes} changes)")
    print(HEAD)
    print(row("baseline: engine.set_param + upcoming(8)", core))
    print(row("baseline: queue widget repaint alone", paint))
    print(row("panel: spin valueChanged -> queue painted", ui, CHANGE_TARGET_MS))
    print(row("panel: slider valueChanged -> queue painted", drag, CHANGE_TARGET_MS))
    print(row("panel's own timing (last_change_ms)", inner))
    return pct(ui, 0.95) <= CHANGE_TARGET_MS and pct(drag, 0.95) <= CHANGE_TARGET_MS


def probe_gaps(app, duration: float) -> list[float]:  # noqa: ANN001
    """Run the event loop for ``duration`` s with a 1 ms timer; the gaps between its firings (ms)."""
    from PySide6.QtCore import QTimer

    gaps: list[float] = []
    last = [time.perf_counter()]

    def fire() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000)
        last[0] = now

    probe = QTimer(interval=1)
    probe.timeout.connect(fire)
    probe.start()
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.0005)
    probe.stop()
    return gaps


def bench_fame(app, seconds: float, worker: bool) -> bool:  # noqa: ANN001
    from feedapp.core.fame_live import FameProcess, LiveFame
    from feedapp.ui.panels.fame import FameBoard

    board = FameBoard(LiveFame, make_process=FameProcess if worker else None)
    board.resize(760, 720)
    board.show()
    if worker:  # wait for the worker's first snapshot (process start and imports)
        t0 = time.perf_counter()
        while board.snap is None and time.perf_counter() - t0 < 30:
            app.processEvents()
            time.sleep(0.005)
        print(f"\n   (worker process: first snapshot {1000 * (time.perf_counter() - t0):.0f} ms after the board was shown)")
    board.toggle_run()  # paused: the baseline probe
    app.processEvents()
    base = probe_gaps(app, min(2.0, seconds))
    board.toggle_run()  # running
    t0 = time.perf_counter()
    round0 = board.snap["round"] if board.snap else 0
    running = probe_gaps(app, seconds)
    elapsed = time.perf_counter() - t0
    ticks, paints = list(board.tick_ms), list(board.canvas.paint_ms)
    snap = board.snap
    board.shutdown()
    board.close()
    mode = "worker process (the app's mode)" if worker else "in-process, QTimer slices on the GUI thread"
    print(f"\n2{'a' if worker else 'b'}. fame board, {mode}: {len(snap['policies'])} rankers x {snap['viewers']} viewers x "
          f"{snap['views']} views, {len(snap['creators'])} creators; rounds {round0} -> {snap['round']} in {elapsed:.1f} s "
          f"({(snap['round'] - round0) * snap['viewers'] * len(snap['policies']) / elapsed:.0f} views/s)")
    print(HEAD)
    print(row("baseline: GUI probe gap, board paused", base))
    print(row("GUI probe gap, board running", running, TICK_TARGET_MS))
    print(row("tick on the GUI thread", ticks, TICK_TARGET_MS))
    print(row("canvas paint", paints, TICK_TARGET_MS))
    print(f"   worst tick {max(ticks):.1f} ms, worst paint {max(paints):.1f} ms, worst GUI stall {max(running):.1f} ms "
          f"(paused baseline {max(base):.1f} ms)")
    return max(ticks) <= TICK_TARGET_MS and max(paints) <= TICK_TARGET_MS


SHAKY = textwrap.dedent("""
    import numpy as np
    from feedapp.core.rankers import BaseRanker, Param

    class Shaky(BaseRanker):
        name = "shaky"
        description = "a plugin whose scores raise (for the screenshot)"
        own_params = (Param("boost", 1.0, 0.0, 10.0, "how much to boost"),)

        def scores(self, rng):
            weights = self.topic_weights()
            return self.space.T @ weights

        def topic_weights(self):
            return np.array([self.params["boost"]] * (len(self.space.topics) + 1))  # one too many
""")


def screenshots(app, out: Path) -> list[Path]:  # noqa: ANN001
    import tempfile

    from feedapp.core.fame_live import LiveFame
    from feedapp.core.plugins import PluginHost
    from feedapp.ui.panels.dev import DevPanel
    from feedapp.ui.panels.fame import FameBoard

    out.mkdir(parents=True, exist_ok=True)
    written = []
    eng = learned_engine(views=14)
    panel = DevPanel(eng)
    panel.resize(400, 900)
    panel.show()
    app.processEvents()
    panel.rows["optimism"].spin.setValue(2.0)
    panel.rows["max_same_topic"].spin.setValue(2)
    app.processEvents()
    p = out / "dev_panel.png"
    panel.grab().save(str(p))
    written.append(p)
    panel.close()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shaky.py"
        path.write_text(SHAKY)
        eng = PluginHost.feed(demo_like_catalog(0), f"{path}:Shaky", seed=1)
        panel = DevPanel(eng)
        panel.resize(400, 900)
        panel.show()
        for _ in range(3):
            eng.next()
        for _ in range(20):
            app.processEvents()
            time.sleep(0.01)
        p = out / "dev_plugin_failure.png"
        panel.grab().save(str(p))
        written.append(p)
        panel.close()

    written += window_screenshot(app, out)

    board = FameBoard(lambda: LiveFame())
    board.resize(900, 760)
    board.show()
    board.toggle_run()
    board.live.advance_rounds(75)
    board.refresh()
    for _ in range(5):
        app.processEvents()
    p = out / "dev_fame_board.png"
    board.grab().save(str(p))
    written.append(p)
    board.close()
    return written


def window_screenshot(app, out: Path) -> list[Path]:  # noqa: ANN001
    """The real window with the developer panel docked (add_panel), on a few real demo clips."""
    import tempfile

    from feedapp.core.catalog import Catalog
    from feedapp.core.plugins import record_ranker_events
    from feedapp.core.records import MemorySink
    from feedapp.core.session import SessionRecorder
    from feedapp.media.demo import _clip, _make_one
    from feedapp.media.demo_plan import plan_demo
    from feedapp.ui.devtools import install_dev_tools
    from feedapp.ui.window import PlayerWindow

    if not hasattr(PlayerWindow, "add_panel"):
        return []
    tmp = Path(tempfile.mkdtemp(prefix="devshot-"))
    items = sorted(plan_demo(0), key=lambda it: it.frames)[:10]
    clips = []
    for it in items:
        _, _, info, err = _make_one(it, str(tmp))
        if info is not None:
            clips.append(_clip(it, tmp / it.file, info))
    eng = FeedEngine(Catalog(clips), "foryou", seed=3)
    rec = SessionRecorder(MemorySink(), app_version="shot", mode="demo", ranker="foryou")
    record_ranker_events(eng, rec)
    win = PlayerWindow(eng, muted=True)
    tools = install_dev_tools(win, eng, rec)
    win.resize(420, 800)
    win.show()
    win.view.start()
    win.set_panel_visible("dev", True)
    end = time.perf_counter() + 2.0
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)
    tools.dev.rows["creator_fatigue"].spin.setValue(1.5)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    p = out / "dev_window.png"
    win.grab().save(str(p))
    tools.close()
    win.close()
    return [p]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--screenshots", type=Path, default=None, help="also write dev*.png to this folder")
    ap.add_argument("--only-screenshots", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ForceRasterWidgets, True)  # as the app
    app = QApplication.instance() or QApplication(["dev_panel"])
    ok = True
    if not args.only_screenshots:
        print(f"platform {app.platformName()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
              f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        ok = bench_param_change(app, args.changes)
        ok &= bench_fame(app, args.seconds, worker=True)
        bench_fame(app, args.seconds, worker=False)  # for comparison: what the worker process avoids
    if args.screenshots is not None:
        for p in screenshots(app, args.screenshots):
            print(f"wrote {p}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
