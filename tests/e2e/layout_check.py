"""Measure the real window's layout on an X server of a given size, and take the README's panel shots.

``python -m tests.e2e.layout_check --screen 1366x768 [--fullscreen] [--scale 2] [--shots DIR] [--report R.json]``
(re-runs itself on its own Xvfb, tests/e2e/xvfb.py, with that screen when there is no display). It builds the app as
the composition root does (demo clips, FeedEngine, SessionRecorder, SessionBridge, the taste panel,
the developer panel and the fame board), lets the autopilot watch ``--views`` clips, then measures:

- **text** (before the first view, and after ``--views``): every string the panels and the key help draw (``QPainter.drawText`` is wrapped while the
  window is grabbed): its font size on screen in px, the width it needs against the width it was
  given (a cut-off label needs more), whether it was elided (``...``), its colour's WCAG contrast on
  the cards' background; and every QLabel / QPushButton's text against its width;
- **taste bars**: the on-screen length of the top topic's bar, counted in the screenshot's pixels,
  and the length of the full bar track;
- **fit**: after every key of every toggle sequence of G, D and P (all six orders, each undone in
  reverse), the window and every visible widget inside the screen, and after undoing, the same
  window geometry and panel widths as before;
- **zoom**: Ctrl+= / Ctrl+- / Ctrl+0 change the scale and come back.

The report (JSON) holds the figures; ``tests/e2e/test_layout_xvfb.py`` asserts on them. With
``--shots`` it saves the README's pictures: ``panel.png`` (the taste panel at 1366x768; also written by
make_panel_screenshots.py, run this one last), ``laptop_tabs.png`` (all three panels open at
1366x768: they share a column) and, with ``--fullscreen`` on 1920x1080, ``projector.png``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from tests.e2e.xvfb import on_xvfb

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ELLIPSIS = "\u2026"


def ensure_display(screen: str) -> None:
    """Re-run on a fresh Xvfb (tests/e2e/xvfb.py: a free display number, never a fixed one) with a ``screen`` sized X server."""
    if os.environ.get("FEEDAPP_LAYOUT_CHILD"):
        return
    if shutil.which("Xvfb") is None:
        sys.exit("layout_check needs Xvfb (apt-get install xvfb)")
    env = dict(os.environ, FEEDAPP_LAYOUT_CHILD="1")
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("DISPLAY", None)
    cmd = [*on_xvfb(f"{screen}x24"), sys.executable, "-m", "tests.e2e.layout_check", *sys.argv[1:]]
    raise SystemExit(subprocess.call(cmd, env=env, cwd=ROOT))


class TextLog:
    """Wraps ``QPainter.drawText`` to note what was drawn where (only while ``on``)."""

    def __init__(self) -> None:
        from PySide6.QtGui import QPainter

        self.on = False
        self.items: list[dict] = []
        self._orig = QPainter.drawText
        log = self

        def draw_text(p, *a):  # noqa: ANN001, ANN202
            if log.on:
                log.note(p, a)
            return log._orig(p, *a)

        QPainter.drawText = draw_text

    def note(self, p, a) -> None:  # noqa: ANN001
        from PySide6.QtCore import QRect, QRectF
        from PySide6.QtGui import QFontInfo, QFontMetricsF
        from PySide6.QtWidgets import QWidget

        if len(a) != 3 or not isinstance(a[0], (QRect, QRectF)) or not isinstance(a[2], str) or not a[2].strip():
            return
        rect, flags, text = QRectF(a[0]), int(a[1]), a[2]
        dev = p.device()
        owner = type(dev).__name__ if isinstance(dev, QWidget) else "pixmap"
        scale = p.worldTransform().m22()
        fm = QFontMetricsF(p.font())
        from PySide6.QtCore import Qt

        wrap = bool(flags & int(Qt.TextFlag.TextWordWrap))
        need_w = fm.horizontalAdvance(text)
        need_h = fm.boundingRect(rect, flags, text).height() if wrap else fm.height()
        self.items.append({
            "owner": owner, "text": text, "px": QFontInfo(p.font()).pixelSize() * scale,
            "width": rect.width() * scale, "need": need_w * scale, "wrap": wrap,
            "height": rect.height() * scale, "need_h": need_h * scale,
            "elided": ELLIPSIS in text, "colour": p.pen().color().name(), "alpha": p.pen().color().alpha(),
            "opacity": p.opacity(),
        })


def widget_report(window) -> dict:  # noqa: ANN001 - PlayerWindow
    """Geometry of the window and its visible widgets against the screen; labels and buttons against their text."""
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QAbstractScrollArea, QLabel, QPushButton, QWidget

    screen = window.screen().geometry()
    frame = window.frameGeometry()
    outside, cut = [], []
    win_rect = QRect(window.mapToGlobal(QPoint(0, 0)), window.size())
    for w in window.findChildren(QWidget):
        if not w.isVisible() or w.width() <= 0:
            continue
        a, scrolled = w.parentWidget(), False
        while a is not None and a is not window:
            if isinstance(a, QAbstractScrollArea):
                scrolled = True
                break
            a = a.parentWidget()
        if scrolled:
            continue  # inside a scroll area: scrolled into view, not laid out on screen
        r = QRect(w.mapToGlobal(QPoint(0, 0)), w.size())
        if not screen.contains(r) or not win_rect.contains(r):
            outside.append({"widget": type(w).__name__, "name": w.objectName(), "rect": [r.x(), r.y(), r.width(), r.height()]})
        if isinstance(w, QLabel) and not w.wordWrap() and w.text() and not w.text().startswith("<"):
            need = w.fontMetrics().horizontalAdvance(w.text())
            if need > w.contentsRect().width() + 1:
                cut.append({"widget": "QLabel", "text": w.text(), "need": need, "width": w.contentsRect().width()})
        if isinstance(w, QPushButton) and w.text():
            need = w.fontMetrics().horizontalAdvance(w.text())
            if need > w.width() - 4:
                cut.append({"widget": "QPushButton", "text": w.text(), "need": need, "width": w.width()})
    return {
        "screen": [screen.width(), screen.height()],
        "window": [frame.x(), frame.y(), frame.width(), frame.height()],
        "window_inside": screen.contains(frame),
        "outside": outside,
        "cut": cut,
        "scale": round(window.ui_scale, 3),
        "stacked": window.stacked,
        "open": [n for n in window.panels if window.panel_visible(n)],
        "widths": {n: w.width() for n, w in window.panels.items() if w.isVisible()},
        "view_width": window.view.width(),
    }


def bar_run(img, bars, colour) -> int:  # noqa: ANN001 - QImage of the window, ProfileBars, QColor
    """The longest horizontal run of the top topic's colour along the first bar row (screen pixels)."""
    from PySide6.QtCore import QPoint

    from feedapp.ui.panels.profile import ROW_H

    s = bars.ui_scale
    dpr = img.devicePixelRatio()
    origin = bars.mapTo(bars.window(), QPoint(0, 0))
    y = int((origin.y() + (30 + ROW_H / 2) * s) * dpr)
    best = run = 0
    for x in range(int(origin.x() * dpr), int((origin.x() + bars.width()) * dpr)):
        c = img.pixelColor(x, y)
        close = abs(c.red() - colour.red()) + abs(c.green() - colour.green()) + abs(c.blue() - colour.blue()) <= 24
        run = run + 1 if close else 0
        best = max(best, run)
    return round(best / dpr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screen", default="1366x768", help="the X server's screen, WxH")
    ap.add_argument("--fullscreen", action="store_true")
    ap.add_argument("--scale", type=float, default=None, help="the window's zoom (like feedapp --scale)")
    ap.add_argument("--views", type=int, default=12)
    ap.add_argument("--speed", type=float, default=4.0)
    ap.add_argument("--taste", default="cats,art")
    ap.add_argument("--limit", type=int, default=8, help="demo clips to use (the first N)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/feedapp-layout-demo"))
    ap.add_argument("--clips", type=Path, default=None, help="a folder holding the demo clips already")
    ap.add_argument("--shots", type=Path, default=None, help="save screenshots here")
    ap.add_argument("--prefix", default="", help="prefix for the screenshot names")
    ap.add_argument("--report", type=Path, default=None, help="write the figures here (JSON)")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--orders", choices=("all", "rotations"), default="all",
                    help="toggle G, D and P in every order (6), or in the three rotations (each key first once)")
    args = ap.parse_args(argv)
    ensure_display(args.screen)

    from feedapp.ui.app import _install_message_filter, _prepare_qt

    _prepare_qt()
    _install_message_filter()
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from feedapp import __version__
    from feedapp.core.catalog import Catalog
    from feedapp.core.engine import FeedEngine
    from feedapp.core.records import MemorySink
    from feedapp.core.session import SessionRecorder
    from feedapp.ui.autopilot import Autopilot, parse_taste
    from feedapp.ui.devtools import install_dev_tools
    from feedapp.ui.panels import install_panels, style
    from feedapp.ui.recording import SessionBridge
    from feedapp.ui.window import PlayerWindow
    from tests.e2e.make_panel_screenshots import demo_clips

    app = QApplication.instance() or QApplication([sys.argv[0]])
    texts = TextLog()
    clips = demo_clips(args.clips, args.cache, args.limit)
    catalog = Catalog(clips)
    engine = FeedEngine(catalog, "foryou", 0)
    window = PlayerWindow(engine, muted=True, zoom=args.scale or 1.0)
    view = window.view
    recorder = SessionRecorder(MemorySink(), app_version=__version__, mode="demo", ranker="foryou",
                               ranker_params=dict(engine.ranker.params), seed=0,
                               catalog_fingerprint=catalog.fingerprint(), catalog_size=len(catalog))
    bridge = SessionBridge(view, engine, recorder)
    dock = install_panels(window, engine, recorder, visible=True, card_dir=Path(tempfile.gettempdir()) / "feedapp-layout-cards")  # never written: no S here
    tools = install_dev_tools(window, engine, recorder)
    pilot = Autopilot(view, engine, parse_taste(args.taste), seed=0, speed=args.speed, max_views=args.views)
    report: dict = {"screen": args.screen, "fullscreen": args.fullscreen, "zoom": args.scale or 1.0}

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.003)

    def grab(name: str | None, what: str) -> dict:
        """Grab the window with the text log on; save it as ``name`` (if given); the figures of what was drawn."""
        texts.items.clear()
        texts.on = True
        img = window.grab().toImage()
        texts.on = False
        if name and args.shots is not None:
            args.shots.mkdir(parents=True, exist_ok=True)
            img.save(str(args.shots / f"{args.prefix}{name}.png"))
        items = list(texts.items)
        panel_owners = {"ProfileBars", "HistoryChart", "InterestMapView", "WhyCard", "UpNextList", "FiguresStrip",
                        "FameCanvas", "UpNextList"}
        panel = [t for t in items if t["owner"] in panel_owners]
        shown = [t for t in panel if t["opacity"] >= 0.99 and t["alpha"] == 255]
        card = style.CARD_BG
        from PySide6.QtGui import QColor

        return {
            "what": what,
            "image": img,
            "texts": len(items),
            "panel_min_px": min((t["px"] for t in panel if t["owner"] != "FameCanvas"), default=None),
            "fame_min_px": min((t["px"] for t in panel if t["owner"] == "FameCanvas"), default=None),
            "cut_off": [t for t in items if not t["wrap"] and t["need"] > t["width"] + 1.0],
            "wrap_cut": [t for t in items if t["wrap"] and t["need_h"] > t["height"] + 1.0],
            "elided": sorted({t["text"] for t in items if t["elided"]}),
            "low_contrast": sorted({(t["colour"], round(style.contrast(QColor(t["colour"]), card), 2)) for t in shown
                                    if style.contrast(QColor(t["colour"]), card) < 4.5}),
            "help_min_px": min((t["px"] for t in items if t["owner"] == "SwipeView"), default=None),
        }

    def check(label: str) -> dict:
        pump(0.35)
        state = widget_report(window)
        shot = grab(None, label)
        state.pop("view_width", None)
        state.update(label=label, cut_off=shot["cut_off"], panel_min_px=shot["panel_min_px"])
        return state

    def run_checks() -> None:
        pump(1.5)  # the last arrival's refresh and its transition
        if args.fullscreen:
            window.toggle_fullscreen()
            pump(1.0)
        main_shot = grab("panel" if not args.fullscreen else "projector", "taste panel")
        img = main_shot.pop("image")
        bars = dock.panel.bars
        top = next(iter(bars.values()), None)
        report["taste"] = {k: v for k, v in main_shot.items()}
        report["taste"]["top_topic"] = top
        report["taste"]["top_affinity"] = round(bars.values()[top], 3) if top else None
        report["taste"]["bar_px"] = bar_run(img, bars, dock.colours(top)) if top else 0
        report["taste"]["track_px"] = round(bars.track_px(), 1)
        report["layout"] = widget_report(window)
        before = widget_report(window)
        # every order of G, D, P; after each key the window and its widgets stay on the screen;
        # undoing in reverse order restores the layout
        sequences = []
        keys = {"G": Qt.Key.Key_G, "D": Qt.Key.Key_D, "P": Qt.Key.Key_P}
        orders = list(itertools.permutations("GDP")) if args.orders == "all" else [tuple("GDP"), tuple("DPG"), tuple("PGD")]
        for order in orders:
            steps = []
            for k in list(order) + list(reversed(order)):
                QTest.keyClick(view, keys[k])
                steps.append(check(k))
            after = widget_report(window)
            sequences.append({"order": "".join(order), "steps": steps,
                              "restored": after["window"] == before["window"] and after["widths"] == before["widths"]
                              and after["open"] == before["open"]})
        report["sequences"] = sequences
        # the developer panel and the fame board open (the README's dev_window.png)
        QTest.keyClick(view, Qt.Key.Key_D)
        pump(0.5)
        dev = grab(None, "developer panel")
        dev.pop("image")
        report["dev"] = {**dev, **widget_report(window)}
        QTest.keyClick(view, Qt.Key.Key_G)
        pump(2.5)  # the simulated audience starts
        fame = grab("laptop_tabs" if not args.fullscreen else None, "fame board")
        fame.pop("image")
        report["fame"] = {**fame, **widget_report(window)}
        QTest.keyClick(view, Qt.Key.Key_G)
        QTest.keyClick(view, Qt.Key.Key_D)
        pump(0.4)
        # the key help
        view.toggle_help()
        pump(0.3)
        helpshot = grab(None, "key help")
        helpshot.pop("image")
        report["help"] = helpshot
        view.toggle_help()
        # zoom keys
        z0, s0 = window.zoom, window.ui_scale
        QTest.keyClick(view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
        pump(0.3)
        smaller = window.ui_scale
        QTest.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
        pump(0.3)
        report["zoom_keys"] = {"zoom": z0, "scale": round(s0, 3), "after_ctrl_minus": round(smaller, 3),
                               "after_ctrl_0": round(window.ui_scale, 3), "zoom_after_ctrl_0": window.zoom}
        report["ok"] = True
        app.quit()

    def before_first_view() -> None:
        """The panel as a newcomer first sees it: nothing learned yet (its own words must fit too)."""
        if "first_view" not in report and engine.position == 0 and not engine.views:
            shot = grab(None, "before the first view")
            shot.pop("image")
            report["first_view"] = shot

    dock.refreshed.connect(lambda ms: QTimer.singleShot(0, before_first_view))
    pilot.stopped.connect(lambda: QTimer.singleShot(0, run_checks))
    QTimer.singleShot(int(args.timeout * 1000), app.quit)
    window.show()
    view.start()
    app.exec()
    bridge.end("quit")
    tools.close()
    view.shutdown()
    window.close()
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps({k: report.get(k) for k in ("screen", "fullscreen", "zoom", "ok")}))
    return 0 if report.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
