"""The fame board (key G): the creators' side of a simulated audience, live, rankers side by side.

A ``LiveFame`` simulation (``feedapp/core/fame_live.py``: simulated viewers, one feed engine each,
``foryou`` against ``following`` and ``popular``, a zero-follower newcomer whose clips join at a
given view) is advanced on the GUI thread by a ``QTimer`` in slices of a few milliseconds
(``BUDGET_MS``), so the window never waits for it; it runs only while the board is shown. Each tick
paints, per ranker: the Gini coefficient and the top-10 % share of impressions (computed with
``feedapp.core.fame``'s functions), the newcomer's share since it arrived against its fair share,
a small chart of Gini and of the newcomer's share per round, and one exposure bar per creator,
largest first, with a tick at the creator's fair share (its share of the catalog's clips). The
newcomer's bar is drawn in the accent colour, so the workshop can watch it climb (or not).

Why a timer and not a thread: the engines are pure Python and numpy on small arrays, so a thread
would hold the GIL in the same slices anyway; a timer with a time budget makes the GUI's worst wait
explicit and measurable (``tick_ms``; ``benchmarks/dev_panel.py`` reports it).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping

from PySide6.QtCore import QCoreApplication, QLineF, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPolygonF, QStaticText
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from feedapp.core.fame_live import POLICIES, FameProcess, LiveFame
from feedapp.ui.panels.dev import BASE_PX, dark_palette

BUDGET_MS = 6.0  # simulation time per tick
INTERVAL_MS = 30  # between ticks: the simulation gets at most ~20 % of the GUI thread
DISPLAY_MS = 60  # the figures are redrawn at most this often (about 16 times a second)
BG = QColor(17, 17, 21)
PANEL = QColor(28, 28, 34)
TEXT = QColor(235, 235, 240)
MUTED = QColor(160, 160, 170)
BAR = QColor(120, 150, 210)
ACCENT = QColor(254, 44, 85)  # the player's accent: the newcomer
FAIR = QColor(255, 255, 255, 170)
GINI_LINE = QColor(240, 200, 90)


_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter



def newcomer_lines(new: dict, snap: dict, fm: QFontMetrics, small: QFontMetrics, w: float) -> tuple[str, str]:
    """The newcomer's two lines in a column ``w`` px wide: the short words when the long ones do not fit
    (a 1366-px screen with three panels open cut "since view 40" to "since vi…")."""
    if not snap["newcomer_arrived"]:
        return f"newcomer joins at view {snap['newcomer_at']}", "0 followers, 0 views so far"
    share = f"{100 * new['share_after_arrival']:.1f} %"
    text = f"newcomer: {share} since view {snap['newcomer_at']}"
    if fm.horizontalAdvance(text) > w:  # the board's first line says when the newcomer joined
        text = f"newcomer: {share}"
    reached = f"{round(new['reach'] * snap['viewers'])}/{snap['viewers']}"
    sub = f"fair share {100 * new['fair_share']:.1f} % \u00b7 reached {reached} viewers"
    if small.horizontalAdvance(sub) > w:
        sub = f"fair {100 * new['fair_share']:.1f} % \u00b7 reached {reached}"
    return text, sub

class FameCanvas(QWidget):
    """Paints a ``LiveFame.snapshot()``: one column per ranker (QPainter only, no layout per bar).

    Fonts, metrics and elided creator names are computed once per font and width, not per paint:
    a paint is about a hundred ``drawText`` calls and rectangles (``paint_ms`` keeps the timings).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.snap: dict | None = None
        self.reports: dict[str, dict] = {}  # fame_report per policy once the run is over (breakouts)
        self.paint_ms: deque[float] = deque(maxlen=5000)
        self._fonts: tuple | None = None
        self._labels: dict[tuple, list] = {}
        self._static: dict[tuple[str, int], QStaticText] = {}
        # per column, per bar: (label left, label right, tick x, bar end)
        self.share_labels: dict[str, list[tuple[float, float, float, float]]] = {}
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)  # paintEvent fills every pixel
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(520, 420)
        self.setToolTip("One column per ranker, each serving the same simulated audience. Gini: how unequal the "
                        "creators' shares of views are (0: all equal, 1: one creator gets every view). Top 10 %: the "
                        "share of views that went to the most-shown tenth of creators. Bars: each creator's share "
                        "of views; the white tick is its fair share (its share of the clips). Pink: the newcomer.")

    def sizeHint(self) -> QSize:
        return QSize(640, 700)

    def set_snapshot(self, snap: dict, reports: Mapping[str, dict] | None = None) -> None:
        self.snap = snap
        self.reports = dict(reports or {})
        self.update()

    def fonts(self) -> tuple[QFont, QFont, QFont, QFontMetrics, QFontMetrics]:
        key = self.font().key()
        if self._fonts is None or self._fonts[0] != key:
            base = QFont(self.font())
            bold = QFont(base)
            bold.setBold(True)
            small = QFont(base)
            if base.pixelSize() > 0:  # the board was scaled (set_ui_scale sets a pixel size)
                bold.setPixelSize(round(base.pixelSize() * 1.15))
                small.setPixelSize(max(12, round(base.pixelSize() * 0.92)))
            else:
                bold.setPointSizeF(base.pointSizeF() * 1.15)
                small.setPointSizeF(base.pointSizeF() * 0.92)
            self._fonts = (key, base, bold, small, QFontMetrics(base), QFontMetrics(small))
            self._labels.clear()
        return self._fonts[1:]  # type: ignore[return-value]

    def _text(self, text: str, small: bool) -> QStaticText:
        """A laid-out text, kept (creator names and "7%" labels repeat on every paint)."""
        key = (text, small)
        st = self._static.get(key)
        if st is None:
            if len(self._static) > 4000:
                self._static.clear()
            st = self._static[key] = QStaticText(text)
            st.setTextFormat(Qt.TextFormat.PlainText)
        return st

    def paintEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt API
        t0 = time.perf_counter()
        p = QPainter(self)
        p.fillRect(self.rect(), BG)
        snap = self.snap
        if snap is None:
            p.setPen(MUTED)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "starting the simulated audience\u2026")
            p.end()
            return
        names = list(snap["policies"])
        gap = 10.0
        w = (self.width() - gap * (len(names) + 1)) / max(len(names), 1)
        # one bar scale for all columns, so their lengths compare across rankers
        top = max([max(v["share"], default=0.0) for v in snap["policies"].values()] + list(snap["fair_share"]) + [1e-9])
        for i, name in enumerate(names):
            self._column(p, QRectF(gap + i * (w + gap), gap, w, self.height() - 2 * gap), name, snap, top)
        p.end()
        self.paint_ms.append((time.perf_counter() - t0) * 1000.0)

    def _column(self, p: QPainter, r: QRectF, name: str, snap: dict, top: float) -> None:
        base, bold, small, fm, _ = self.fonts()
        fig = snap["policies"][name]
        p.fillRect(r, PANEL)
        x, y, w = r.left() + 8, r.top() + 6, r.width() - 16
        line = fm.height()
        p.setFont(bold)
        p.setPen(TEXT)
        p.drawText(QRectF(x, y, w, line * 1.3), _LEFT, name)
        y += line * 1.4
        p.setFont(base)
        p.setPen(GINI_LINE)
        p.drawText(QRectF(x, y, w, line), _LEFT, f"Gini {fig['gini']:.3f}")
        p.setPen(TEXT)
        p.drawText(QRectF(x, y, w, line), _RIGHT, f"top 10 % {100 * fig['top10_share']:.1f} %")
        y += line * 1.15
        new = fig.get("newcomer")
        if new is not None:
            text, sub = newcomer_lines(new, snap, fm, QFontMetrics(small), w)
            p.setPen(ACCENT)
            p.drawText(QRectF(x, y, w, line), _LEFT, fm.elidedText(text, Qt.TextElideMode.ElideRight, int(w)))
            y += line
            p.setPen(MUTED)
            p.setFont(small)
            p.drawText(QRectF(x, y, w, line), _LEFT, QFontMetrics(small).elidedText(sub, Qt.TextElideMode.ElideRight, int(w)))
            p.setFont(base)
            y += line * 1.1
        rep = self.reports.get(name)
        if rep is not None:
            p.setPen(MUTED)
            p.setFont(small)
            b = rep.get("breakouts", [])
            p.drawText(QRectF(x, y, w, line), _LEFT,
                       fm.elidedText(f"breakouts: {', '.join(b) if b else 'none'}", Qt.TextElideMode.ElideRight, int(w)))
            p.setFont(base)
            y += line
        # a small chart per column: Gini so far (yellow), newcomer's share per round (accent)
        ch = min(64.0, r.height() * 0.14)
        self._chart(p, QRectF(x, y + 2, w, ch), fig["history"], snap)
        y += ch + 8
        self._bars(p, QRectF(x, y, w, r.bottom() - y - 6), fig, snap, top, name)

    def _chart(self, p: QPainter, r: QRectF, hist: list, snap: dict) -> None:
        p.fillRect(r, QColor(22, 22, 27))
        p.setPen(QPen(QColor(70, 70, 80), 1))
        p.drawRect(r)
        views = max(snap["views"], 2)
        at = snap.get("newcomer_at")
        if at is not None:
            xa = r.left() + r.width() * at / (views - 1)
            p.setPen(QPen(QColor(254, 44, 85, 90), 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(xa, r.top()), QPointF(xa, r.bottom()))
        _, _, small, _, fm = self.fonts()
        p.setFont(small)
        lx = r.right() - 4
        for label, colour in (("newcomer per round", ACCENT), ("Gini", GINI_LINE)):
            tw = fm.horizontalAdvance(label)
            p.setPen(colour)
            p.drawText(QRectF(lx - tw, r.top() + 2, tw, fm.height()), _LEFT, label)
            lx -= tw + 8
        if len(hist) < 2:
            return
        left, bottom, sx, sy = r.left(), r.bottom() - 2, r.width() / (views - 1), r.height() - 4
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for k, colour in ((0, GINI_LINE), (2, ACCENT)):
            poly = QPolygonF([QPointF(left + sx * i, bottom - sy * min(max(h[k], 0.0), 1.0)) for i, h in enumerate(hist)])
            p.setPen(QPen(colour, 1.6))
            p.drawPolyline(poly)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _bars(self, p: QPainter, r: QRectF, fig: dict, snap: dict, top: float, name: str) -> None:
        self.share_labels[name] = []
        _, _, small, _, fm = self.fonts()
        creators = snap["creators"]
        n = len(creators)
        if n == 0 or r.height() <= 0:
            return
        imp = fig["impressions"]
        order = sorted(range(n), key=lambda j: (-imp[j], j))
        h = r.height() / n
        key = (tuple(creators), int(r.width()), h >= 9)
        labels = self._labels.get(key)
        if labels is None:  # elided names, right-aligned, laid out once per size
            label_w = min(max(fm.horizontalAdvance(c) for c in creators) + 6, r.width() * 0.38) if h >= 9 else 0
            labels = []
            if label_w:
                for c in creators:
                    text = fm.elidedText(c, Qt.TextElideMode.ElideRight, int(label_w - 4))
                    labels.append((label_w - 4 - fm.horizontalAdvance(text), self._text(text, True)))
            self._labels[key] = labels
            self._label_w = label_w
        label_w = self._label_w if labels else 0
        # the share labels' column: 34 px, or what "100%" needs in this font (a scaled-up board)
        bar_w = r.width() - label_w - max(34, fm.horizontalAdvance("100%") + 4)
        p.setFont(small)
        newcomer = snap.get("newcomer")
        share, fair = fig["share"], snap["fair_share"]
        left = r.left()
        dy = (h - fm.height()) / 2
        ticks = []
        for rank, j in enumerate(order):
            y = r.top() + rank * h
            is_new = creators[j] == newcomer
            bw = bar_w * share[j] / top
            p.fillRect(QRectF(left + label_w, y + h * 0.15, bw, h * 0.7), ACCENT if is_new else BAR)
            fx = left + label_w + bar_w * fair[j] / top
            ticks.append(QLineF(fx, y + h * 0.05, fx, y + h * 0.95))
            if labels:
                off, st = labels[j]
                p.setPen(ACCENT if is_new else MUTED)
                p.drawStaticText(QPointF(left + off, y + dy), st)
                p.setPen(TEXT if is_new else MUTED)
                pct = self._text(f"{100 * share[j]:.0f}%", True)
                x = r.right() - pct.size().width()  # right-aligned in the column right of every bar and tick
                p.drawStaticText(QPointF(x, y + dy), pct)
                self.share_labels[name].append((x, r.right(), fx, left + label_w + bw))
        p.setPen(QPen(FAIR, 1.2))
        p.drawLines(ticks)


class FameBoard(QWidget):
    """The board: a status line, run/pause and restart buttons, and the canvas.

    Two ways to run the simulation, same figures (it is deterministic):

    - ``make_process`` (what the app uses, ``install_dev_tools``): a ``FameProcess`` worker simulates
      and sends a snapshot every ``DISPLAY_MS``; the GUI thread only reads the pipe and paints, so the
      simulation's garbage collections never pause the window. Started when the board is first shown,
      paused while it is hidden, ended with the application.
    - ``make_live``: a ``LiveFame`` advanced on the GUI thread by the timer in ``budget_ms`` slices
      (tests, and a fallback where worker processes are not wanted).
    """

    ticked = Signal(int)  # views simulated in this tick (in-process), or -1 when a snapshot arrived

    def __init__(self, make_live: Callable[[], LiveFame] | None = None, *, budget_ms: float = BUDGET_MS,
                 interval_ms: int = INTERVAL_MS, make_process: Callable[[], FameProcess] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPalette(dark_palette(self.palette()))
        self.setAutoFillBackground(True)
        self.make_live = make_live or (lambda: LiveFame(policies=POLICIES))
        self.make_process = make_process
        self.budget_ms = budget_ms
        self.live: LiveFame | None = None if make_process else self.make_live()
        self.proc: FameProcess | None = None
        self.snap: dict | None = None
        self.tick_ms: deque[float] = deque(maxlen=5000)  # wall time of every tick on the GUI thread
        self.paused = False
        self._reports: dict | None = None
        self._shown_at = 0.0
        self.timer = QTimer(self, interval=DISPLAY_MS if make_process else interval_ms)
        self.timer.timeout.connect(self.tick)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(6)
        head = QHBoxLayout()
        self.title = QLabel("<b>Creators' side</b> \u2014 a simulated audience, live")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.run_button = QPushButton("Pause")
        self.restart_button = QPushButton("Restart")
        for b in (self.run_button, self.restart_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space stays the player's
        self.run_button.clicked.connect(self.toggle_run)
        self.restart_button.clicked.connect(self.restart)
        head.addWidget(self.title, 1)
        head.addWidget(self.run_button)
        head.addWidget(self.restart_button)
        lay.addLayout(head)
        lay.addWidget(self.status)
        self.canvas = FameCanvas()
        lay.addWidget(self.canvas, 1)
        self.ui_scale = 0.0  # set_ui_scale not called yet
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self.refresh()

    def design_height(self) -> int:
        """The height (design units) the board needs: the canvas's 420 plus the title and status lines."""
        return 520

    def set_ui_scale(self, s: float) -> None:
        """Text and the canvas ``s`` times their design size (the window calls this; see PlayerWindow)."""
        if abs(s - self.ui_scale) < 1e-3:
            return
        self.ui_scale = s
        f = QFont(self.font())
        f.setPixelSize(max(9, round(BASE_PX * s)))
        self.setFont(f)  # the canvas paints with its font: its figures scale with it
        self.canvas.setMinimumSize(round(520 * s), round(420 * s))

    # -- running ----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        if self.live is not None:
            return self.live.done
        return self.snap is not None and self.snap["round"] >= self.snap["views"]

    def tick(self) -> int:
        """In-process: simulate for up to ``budget_ms``, then show the figures; returns the views simulated.
        With a worker: show its newest snapshot, if a new one came."""
        t0 = time.perf_counter()
        if self.live is None:
            n = -1
            snap = self.proc.latest() if self.proc is not None else None
            if snap is not None and snap is not self.snap:
                self.refresh()
        else:
            n = self.live.advance(budget_ms=self.budget_ms)
            if self.live.done or (t0 - self._shown_at) * 1000.0 >= DISPLAY_MS:
                self.refresh()
        if self.done:
            self.timer.stop()
        self.tick_ms.append((time.perf_counter() - t0) * 1000.0)
        self.ticked.emit(n)
        return n

    def refresh(self) -> None:
        """Show the simulation's newest figures now (each tick does this)."""
        self._shown_at = time.perf_counter()
        live = self.live
        if live is not None:
            if live.done and not self._reports:
                self._reports = {p: live.report(p) for p in live.policies}  # once, at the end (breakouts)
            snap = live.snapshot()
        else:
            snap = self.proc.latest() if self.proc is not None else None
            self._reports = snap.get("reports") if snap is not None else None
        self.snap = snap
        if snap is not None:
            self.canvas.set_snapshot(snap, self._reports if self.done else None)
        state = "finished" if self.done else ("paused" if self.paused else ("running" if snap else "starting"))
        if snap is None:
            self.status.setText("Starting the simulated audience\u2026")
        else:
            at = snap["newcomer_at"]
            joined = f"newcomer joins at view {at}" if at is not None else "no newcomer"
            self.status.setText(f"view {snap['round']}/{snap['views']} of each of {snap['viewers']} simulated viewers per "
                                f"ranker \u00b7 {len(snap['creators'])} creators \u00b7 {joined} \u00b7 {state}. "
                                "Bars: share of impressions, largest first; white tick: fair share (share of clips).")
        self.run_button.setText("Run" if self.paused or self.done else "Pause")

    def toggle_run(self) -> None:
        if self.done:
            return
        self.paused = not self.paused
        if self.paused:
            self.timer.stop()
        elif self.isVisible():
            self.timer.start()
        if self.proc is not None:
            self.proc.pause(self.paused)
        self.refresh()

    def restart(self) -> None:
        """A fresh audience (and the current parameters, if ``make_live`` / ``make_process`` read them)."""
        self._reports = None
        self.paused = False
        if self.make_process is not None:
            if self.proc is not None:
                self.proc.close()
            self.proc = self.make_process() if self.isVisible() else None
        else:
            self.live = self.make_live()
        if self.isVisible():
            self.timer.start()
        self.refresh()

    def shutdown(self) -> None:
        """Stop the timer and end the worker process, if any (the application is quitting)."""
        self.timer.stop()
        if self.proc is not None:
            self.proc.close()
            self.proc = None

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt API
        super().showEvent(event)
        if self.make_process is not None and self.proc is None and not self.paused:
            self.proc = self.make_process()  # the worker starts the first time anyone looks
        elif self.proc is not None and not self.paused:
            self.proc.pause(False)
        if not self.paused and not self.done:
            self.timer.start()

    def hideEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt API: no CPU while nobody watches
        super().hideEvent(event)
        self.timer.stop()
        if self.proc is not None:
            self.proc.pause(True)
