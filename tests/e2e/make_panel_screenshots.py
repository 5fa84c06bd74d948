"""Screenshots of the real window with the taste panel, driven by the autopilot, under Xvfb.

``python -m tests.e2e.make_panel_screenshots`` (re-runs itself on its own Xvfb without a display)
builds the app the way the composition root does (Catalog of the demo clips, FeedEngine, SessionRecorder
over a MemorySink, SessionBridge, install_panels, Autopilot), lets the autopilot watch ``--views`` clips
and saves:

- ``panel.png``: the window with the panel showing the formed profile;
- ``panel-endcard.png``: the window with the end card over the player (E);
- ``panel-card.png``: the end card alone, as S saves it.

It prints what the engine says (top topics, views) so the picture can be checked against it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.swipe import ensure_display  # noqa: E402


def demo_clips(folder: Path | None, cache: Path, limit: int | None):
    """The demo catalog: ``folder`` (or assets/demo) when it holds the clips, else made once in ``cache``."""
    from feedapp.media.demo import make_demo
    from feedapp.media.demo_plan import plan_demo

    want = limit or len(plan_demo(0))

    for candidate in ([folder] if folder else []) + [ROOT / "assets" / "demo"]:
        if candidate is not None and (candidate / "catalog.json").exists():
            n = len(json.loads((candidate / "catalog.json").read_text()))
            if n >= want and len(list(candidate.glob("*.mp4"))) >= want:
                return list(make_demo(candidate, seed=0, workers=2, limit=limit).accepted)
    return list(make_demo(cache, seed=0, workers=2, limit=limit).accepted)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--clips", type=Path, default=None, help="a demo clip folder (default: assets/demo or the cache)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/feedapp-panel-demo"))
    ap.add_argument("--limit", type=int, default=None, help="use only the first N demo clips (tests)")
    ap.add_argument("--views", type=int, default=30)
    ap.add_argument("--taste", default="cats,art")
    ap.add_argument("--speed", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ranker", default="foryou")
    ap.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    args = ap.parse_args(argv)
    ensure_display()

    from feedapp.ui.app import _install_message_filter, _prepare_qt

    _prepare_qt()
    _install_message_filter()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from feedapp import __version__
    from feedapp.core.catalog import Catalog
    from feedapp.core.endcard import top_topics
    from feedapp.core.engine import FeedEngine
    from feedapp.core.records import MemorySink
    from feedapp.core.session import SessionRecorder
    from feedapp.ui.autopilot import Autopilot, parse_taste
    from feedapp.ui.panels import install_panels
    from feedapp.ui.recording import SessionBridge
    from feedapp.ui.window import PlayerWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    t0 = time.monotonic()
    clips = demo_clips(args.clips, args.cache, args.limit)
    print(f"{len(clips)} demo clips ready in {time.monotonic() - t0:.0f} s", flush=True)
    catalog = Catalog(clips)
    engine = FeedEngine(catalog, args.ranker, args.seed)
    window = PlayerWindow(engine, muted=True)
    view = window.view
    sink = MemorySink()
    recorder = SessionRecorder(sink, app_version=__version__, mode="demo", ranker=engine.ranker.name,
                               ranker_params=dict(engine.ranker.params), seed=args.seed,
                               catalog_fingerprint=catalog.fingerprint(), catalog_size=len(catalog))
    bridge = SessionBridge(view, engine, recorder)  # noqa: F841 - kept alive: logs and teaches the engine
    dock = install_panels(window, engine, recorder, visible=True, card_dir=args.out / ".cards")
    pilot = Autopilot(view, engine, parse_taste(args.taste), seed=args.seed, speed=args.speed, max_views=args.views)
    done = {"ok": False}
    pilot.decided.connect(lambda clip, ms, liked: print(
        f"  view {pilot.views + 1}: #{' #'.join(clip.topics)} @{clip.creator} {clip.duration_ms / 1000:.0f} s -> "
        f"{'watch' if liked else 'skip'} {ms / 1000:.1f} s", flush=True))

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.003)

    def shoot() -> None:
        args.out.mkdir(parents=True, exist_ok=True)
        pump(1.2)  # the last arrival's refresh and its 300 ms transition
        window.grab().save(str(args.out / "panel.png"))
        dock.toggle_card()
        pump(0.4)
        window.grab().save(str(args.out / "panel-endcard.png"))
        path = dock.save_card()
        if path is not None:
            Path(path).replace(args.out / "panel-card.png")
            try:
                Path(path).parent.rmdir()
            except OSError:
                pass
        done["ok"] = True
        app.quit()

    pilot.stopped.connect(lambda: QTimer.singleShot(0, shoot))
    QTimer.singleShot(int(args.timeout * 1000), app.quit)
    window.show()
    view.start()
    app.exec()
    bridge.end("quit")
    view.shutdown()
    prof = engine.profile()
    ms = sorted(dock.refresh_ms)
    print(f"autopilot taste {args.taste}: {pilot.views} swipes ({pilot.liked} liked), engine learned {len(engine.views)} views")
    print("top topics:", ", ".join(f"#{t} {a:+.2f}" for t, a in top_topics(prof, 3)))
    if ms:
        print(f"panel refreshes: {len(ms)}, median {ms[len(ms) // 2]:.1f} ms, max {ms[-1]:.1f} ms")
    print("saved" if done["ok"] else "NOT saved (timed out)", args.out / "panel.png", args.out / "panel-endcard.png",
          args.out / "panel-card.png")
    window.close()
    return 0 if done["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
