"""The taste panel ("see your taste profile form") and the controller that feeds it from the engine.

``TasteDock`` subscribes to the engine's hooks and the swipe view's signals and re-reads what the
engine exposes (``profile()``, ``profile_history()``, ``pick_at(position)``, ``upcoming(8)``,
``views``, ``rewards``, ``world.following``); the widgets only paint what they are given. It never
works inside a swipe: a refresh is queued with ``QTimer.singleShot(0)`` from the arrival, which runs
after the view has preloaded the neighbours, and is skipped while the snap animation runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

import shiboken6
from pathlib import Path

from PySide6.QtCore import QEasingCurve, QEvent, QObject, Qt, QTimer, QVariantAnimation, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from feedapp.core.endcard import explain, last_view_sentence, session_figures, top_topics, views_since_refresh
from feedapp.core.model import Clip
from feedapp.ui.panels import style
from feedapp.ui.panels.endcard import CARD_SIZE, MIN_CARD_SCALE, EndCard
from feedapp.ui.panels.figures import FiguresStrip
from feedapp.ui.panels.mapview import InterestMapView
from feedapp.ui.panels.profile import HistoryChart, ProfileBars
from feedapp.ui.panels.upnext import COUNT, PosterCache, UpNextList
from feedapp.ui.panels.why import WhyCard

PANEL_WIDTH = 680  # design units (scale 1); the window scales the panel (see feedapp/ui/window.py)
ANIM_MS = 300
MARGIN, SPACING = 8, 8
BUTTON_H = 30  # a button's height at scale 1 (13 px text, padding and border)

_BUTTON_CSS = """
QPushButton { background: #26262e; color: #f0f0f0; border: 1px solid #3a3a46; border-radius: %(r)dpx;
              padding: %(pad)dpx %(padx)dpx; font-size: %(px)dpx; }
QPushButton:hover { background: #32323c; }
QPushButton:pressed { background: #fe2c55; }
"""


class _ClipsById(Mapping):
    """Clip id -> Clip over the engine's feature space, without copying it."""

    def __init__(self, space) -> None:  # noqa: ANN001 - FeatureSpace
        self.space = space

    def __getitem__(self, clip_id: str) -> Clip:
        return self.space.clips[self.space.row_of[clip_id]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.space.row_of)

    def __len__(self) -> int:
        return len(self.space.row_of)


class TastePanel(QWidget):
    """The panel's widgets in two columns: taste (bars, history, map) | this clip (why, up next, figures)."""

    def __init__(self, colours: style.TopicColours, posters: PosterCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, style.PANEL_BG)
        self.setPalette(pal)
        self.setAutoFillBackground(True)
        self.setMinimumWidth(PANEL_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.ui_scale = 1.0
        self.bars = ProfileBars(colours)
        self.history = HistoryChart(colours)
        self.map = InterestMapView(colours)
        self.why = WhyCard(colours)
        self.upnext = UpNextList(colours, posters)
        self.figures = FiguresStrip()
        self.refresh_button = self._button("Refresh my feed (R)")
        self.follow_button = self._button("Follow (L)")
        self.card_button = self._button("End card (E)")
        self.save_button = self._button("Save card (S)")
        root = QHBoxLayout(self)
        left, right = QVBoxLayout(), QVBoxLayout()
        self._columns = (left, right)
        self._rows: list[QHBoxLayout] = []
        left.addWidget(self.bars)
        left.addWidget(self.history, 3)
        left.addWidget(self.map, 4)
        right.addWidget(self.why)
        right.addWidget(self.upnext, 1)
        right.addWidget(self.figures)
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        row1.addWidget(self.refresh_button)
        row1.addWidget(self.follow_button)
        row2.addWidget(self.card_button)
        row2.addWidget(self.save_button)
        right.addLayout(row1)
        right.addLayout(row2)
        self._rows = [row1, row2]
        root.addLayout(left, 1)
        root.addLayout(right, 1)
        self._apply_layout_scale()

    @property
    def parts(self) -> tuple[style.ScaledWidget, ...]:
        return (self.bars, self.history, self.map, self.why, self.upnext, self.figures)

    @property
    def buttons(self) -> tuple[QPushButton, ...]:
        return (self.refresh_button, self.follow_button, self.card_button, self.save_button)

    def set_ui_scale(self, s: float) -> None:
        """Draw everything ``s`` times its design size (the window calls this; see PlayerWindow)."""
        if abs(s - self.ui_scale) < 1e-3:
            return
        self.ui_scale = s
        for part in self.parts:
            part.set_ui_scale(s)
        self._apply_layout_scale()

    def _apply_layout_scale(self) -> None:
        s = self.ui_scale
        m, g = round(MARGIN * s), round(SPACING * s)
        self.layout().setContentsMargins(m, m, m, m)
        self.layout().setSpacing(g)
        for col in self._columns:
            col.setSpacing(g)
            col.setContentsMargins(0, 0, 0, 0)
        for row in self._rows:
            row.setSpacing(round(6 * s))
        px = max(12, round(13 * s))
        css = _BUTTON_CSS % {"px": px, "pad": round(5 * s), "padx": round(6 * s), "r": round(6 * s)}
        for b in self.buttons:
            b.setStyleSheet(css)

    def design_height(self) -> int:
        """The height (design units) the panel needs for everything in it to fit (from design sizes, so
        the same at every scale: the window's layout must not drift when it is asked again)."""
        from feedapp.ui.panels import figures, profile, upnext, why

        right = why.HEIGHT + upnext.MIN_HEIGHT + figures.HEIGHT + 2 * BUTTON_H + 4 * SPACING
        left = profile.ProfileBars._height(self.bars._rows) + 150 + 180 + 2 * SPACING
        return max(right, left) + 2 * MARGIN

    def _button(self, text: str) -> QPushButton:
        b = QPushButton(text, self)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the player keeps the keyboard
        b.setCursor(Qt.CursorShape.PointingHandCursor)
        return b

    def sizeHint(self):  # noqa: ANN201
        s = super().sizeHint()
        s.setWidth(PANEL_WIDTH)
        return s


class TasteDock(QObject):
    """Wires the taste panel and the end card to a window, its engine and its session recorder.

    Keys (added to the window): P panel, R refresh my feed, L follow/unfollow the current creator,
    E end card, S save the end card as a PNG (into ``card_dir``). With ``controls=False`` (a lab
    participant) only P is added and the buttons are hidden.
    """

    refreshed = Signal(float)  # ms the last panel refresh took

    def __init__(self, window, engine, recorder, *, visible: bool, controls: bool = True,  # noqa: ANN001
                 card_dir: Path | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.view = window.view
        self.engine = engine
        self.recorder = recorder
        self.controls = controls
        if card_dir is None:
            from feedapp.config import default_data_dir

            card_dir = default_data_dir() / "cards"
        self.card_dir = Path(card_dir)
        self.colours = style.TopicColours()
        self.posters = PosterCache(dpr=window.devicePixelRatioF() or 1.0)
        self.panel = TastePanel(self.colours, self.posters)
        self.card = EndCard(self.colours, parent=window)
        self.panel.figures.set_clock(self._elapsed_s)  # the session clock ticks every second
        self.refresh_ms: list[float] = []  # every panel refresh, for benchmarks and tests
        self.refresh_count = 0
        self.skipped_while_animating = 0
        self._scheduled = False
        self._waits = 0
        self._stale = True
        self._last_position = -1
        self._max_arrived = -1
        self._came_back = False  # the current clip was reached by going back (a position shown before)
        self._moved = True  # something besides catalog growth asked for the pending refresh
        self._view_rows: list[int] = []
        self._served: set[int] = set()
        self._served_upto = 0
        self._anim = QVariantAnimation(self)
        self._anim.setDuration(ANIM_MS)
        self._anim.setStartValue(0.0)
        self._anim.setEndValue(1.0)
        self._anim.setEasingCurve(QEasingCurve.Type.OutCubic)
        self._anim.valueChanged.connect(self._on_anim)

        window.add_panel("taste", self.panel, Qt.Key.Key_P, visible, title="taste panel")
        if controls:
            window.add_key(Qt.Key.Key_R, self.refresh_feed, "refresh my feed: start a fresh profile")
            window.add_key(Qt.Key.Key_L, self.follow_current, "follow or unfollow this clip's creator")
            window.add_key(Qt.Key.Key_E, self.toggle_card, "show or hide your end card")
            window.add_key(Qt.Key.Key_S, self.save_card, "save the end card as a PNG")
            self.panel.refresh_button.clicked.connect(self.refresh_feed)
            self.panel.follow_button.clicked.connect(self.follow_current)
            self.panel.card_button.clicked.connect(self.toggle_card)
            self.panel.save_button.clicked.connect(self.save_card)
        else:
            for b in (self.panel.refresh_button, self.panel.follow_button, self.panel.card_button, self.panel.save_button):
                b.hide()
        window.panel_toggled.connect(self._on_panel_toggled)
        self.view.arrived.connect(self._on_arrived)
        self.view.leaving.connect(lambda how, ns: self._finish_animation())
        self.view.installEventFilter(self)
        self.panel.installEventFilter(self)  # shown again (in front of stacked panels): bring it up to date
        for hook in ("profile_did_update", "following_did_change", "ranker_param_did_change", "ranker_did_reload"):
            engine.on(hook, lambda *args: self.schedule())
        # demo clips arriving: new clips join Up next at the bottom, the rows shown keep their places
        engine.catalog.on_grow(lambda added: self.schedule(grew=True))
        self.schedule()

    # == when to refresh =========================================================================
    @property
    def showing(self) -> bool:
        return not self.panel.isHidden() or not self.card.isHidden()

    def _alive(self) -> bool:
        """False once the window is gone (the engine outlives it and still calls its hooks)."""
        return shiboken6.isValid(self) and shiboken6.isValid(self.view) and shiboken6.isValid(self.panel)

    def schedule(self, *, grew: bool = False) -> None:
        """Refresh soon, from the event loop (never inside a swipe or a paint). ``grew``: only because the
        catalog grew (the queue shown keeps its order; see ``refresh``)."""
        if not self._alive():
            return
        self._stale = True
        if not grew:
            self._moved = True
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self, self._run_scheduled)

    def _run_scheduled(self) -> None:
        self._scheduled = False
        if not self._alive():
            return
        if self.view.is_animating():  # the arrival after this swipe schedules again
            self.skipped_while_animating += 1
            return
        if self.view.neighbours_pending and self._waits < 20:
            # the view has not preloaded the neighbours of the clip that just arrived: go after it, so
            # the panel never delays the preload and shows the next clip the view really preloaded
            self._waits += 1
            self._scheduled = True
            QTimer.singleShot(0, self, self._run_scheduled)
            return
        self._waits = 0
        if self.showing and self._stale:
            self.refresh()

    def _on_arrived(self, arrival) -> None:  # noqa: ANN001 - Arrival
        self._came_back = arrival.position <= self._max_arrived
        self._max_arrived = max(self._max_arrived, arrival.position)
        self.schedule()

    def _on_panel_toggled(self, name: str, visible: bool) -> None:
        if name == "taste" and visible:
            self.schedule()

    def _finish_animation(self) -> None:
        """A swipe starts: jump to the end of the transition so the panel does not repaint during it."""
        if self._anim.state() == QVariantAnimation.State.Running:
            self._anim.stop()
            self._on_anim(1.0)

    def _on_anim(self, value: object) -> None:
        t = float(value)  # type: ignore[arg-type]
        self.panel.bars.set_progress(t)
        self.panel.upnext.set_progress(t)
        self.panel.map.set_progress(t)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.view and event.type() in (QEvent.Type.Resize, QEvent.Type.Move):
            self._place_card()
        elif obj is self.panel and event.type() == QEvent.Type.Show:
            self.schedule()
        return False

    def _elapsed_s(self) -> float:
        return max(0.0, (self.recorder.clock() - self.recorder.started_ns) / 1e9)

    # == the refresh =============================================================================
    def _sync_rows(self) -> None:
        e, space = self.engine, self.engine.space
        views = e.views
        if len(self._view_rows) > len(views):
            self._view_rows = []
        for v in views[len(self._view_rows):]:
            self._view_rows.append(space.row_of.get(v.clip_id, 0))
        history = e.history
        upto = min(e.position + 1, len(history))
        for clip in history[self._served_upto:upto]:
            r = space.row_of.get(clip.id)
            if r is not None:
                self._served.add(r)
        self._served_upto = max(self._served_upto, upto)

    def refresh(self) -> None:
        """Re-read everything the panel shows from the engine (a few ms; see benchmarks/panel.py)."""
        t0 = time.perf_counter_ns()
        e = self.engine
        space = e.space
        self.colours.sync(space.topics)
        prof = e.profile()
        panel = self.panel
        panel.bars.set_profile(dict(prof["topics"]), dict(prof.get("topic_views", {})), list(space.topics))
        panel.history.set_history(e.profile_history())
        self._sync_rows()
        since = views_since_refresh(e)
        clips = _ClipsById(space)
        cur = e.current
        pos = e.position
        if cur is not None:
            pick = e.pick_at(pos) if 0 <= pos < len(e.picks) else None
            why = explain(pick, cur, e.views[since:], clips, epsilon=float(e.ranker.params.get("epsilon", 0.0)),
                          repeat_penalty=float(e.ranker.params.get("repeat_penalty", 0.0)),
                          following=tuple(e.world.following), revisit=self._came_back)
            note = None
            history = e.profile_history()
            if len(e.views) > since and e.rewards and history and e.views[-1].clip_id in space.row_of:
                before = history[-2].get("topics", {}) if len(e.views) - since >= 2 and len(history) >= 2 else {}
                note = last_view_sentence(e.views[-1], clips[e.views[-1].clip_id], e.rewards[-1], before,
                                          history[-1].get("topics", {}))
            panel.why.set_pick(cur, why, e.ranker.name, first=pos == 0 and not self._came_back, last_note=note)
        # the clip on screen is not "up next" (a small catalog can offer it again for the next place)
        upcoming = [q for q in e.upcoming(COUNT + 1) if cur is None or q.clip.id != cur.id][:COUNT] if cur is not None else []
        grew_only = not self._moved and pos == self._last_position
        self._moved = False
        if grew_only and panel.upnext.entries:
            panel.upnext.extend_entries(upcoming)
        else:
            panel.upnext.set_entries(upcoming, shift=max(0, pos - self._last_position) if self._last_position >= 0 else 0)
        self._last_position = pos
        figures = session_figures(e.views, clips, sorted(e.world.following))
        panel.figures.set_figures(figures, self._elapsed_s())
        current_row = space.row_of.get(cur.id) if cur is not None else None
        panel.map.set_state(space, self._view_rows[since:], list(e.rewards[since:]), self._served, current_row)
        if cur is not None:
            followed = cur.creator in e.world.following
            panel.follow_button.setText(f"{'Unfollow' if followed else 'Follow'} @{cur.creator} (L)")
        if not self.card.isHidden():
            self._update_card()
        self._stale = False
        self.refresh_count += 1
        ms = (time.perf_counter_ns() - t0) / 1e6
        self.refresh_ms.append(ms)
        if not self.view.is_animating() and not grew_only:
            self._anim.stop()
            self._anim.start()
        else:  # catalog growth alone: no transition (nothing moved because of the viewer)
            self._anim.stop()
            self._on_anim(1.0)
        self.refreshed.emit(ms)

    # == actions =================================================================================
    def refresh_feed(self) -> bool:
        """Refresh my feed: the engine starts a fresh profile (``engine.refresh()``); logged as ``feed_refreshed``."""
        before = [t for t, _ in top_topics(self.engine.profile(), 3)]
        views = len(self.engine.views)
        self.engine.refresh()
        self.recorder.event("feed_refreshed", views_before=views, top_topics_before=before, ranker=self.engine.ranker.name)
        self._reload_next()
        self.view.show_toast("Fresh start: your feed forgot what it learned. Watch what you like.", 3000)
        self.schedule()
        return True

    def follow_current(self) -> str | None:
        """Follow the current clip's creator (or unfollow, if followed); returns the creator."""
        clip = self.view.current_clip
        if clip is None or not clip.creator:
            return None
        if clip.creator in self.engine.world.following:
            self.engine.unfollow(clip.creator)
            self.view.show_toast(f"Unfollowed @{clip.creator}.", 1800)
        else:
            self.engine.follow(clip.creator)
            self.view.show_toast(f"Following @{clip.creator}.", 1800)
        self._reload_next()
        self.schedule()
        return clip.creator

    def _reload_next(self) -> None:
        """The engine re-decided the next clip: preload what it says now (SwipeView skips it mid-swipe)."""
        self.view.reload_next()

    def _place_card(self) -> None:
        """Centred over the player, at the window's scale; kept inside the window when the player is narrower."""
        # as large as the panels' text, but within the player's column and the window's height: a player
        # narrower than the card's design size (a 1280-pixel window's is 373) shrinks it, down to
        # MIN_CARD_SCALE, rather than let it cover the panel's left edge (whose chart's "+1.0" then read
        # "-1.0"); the saved PNG keeps the design size
        fits = min(self.view.width() * 0.95 / CARD_SIZE.width(), self.window.height() * 0.95 / CARD_SIZE.height())
        self.card.set_ui_scale(max(MIN_CARD_SCALE, min(getattr(self.window, "ui_scale", 1.0), fits)))
        g = self.view.geometry()
        x = g.center().x() - self.card.width() // 2
        y = g.center().y() - self.card.height() // 2
        x = max(0, min(x, self.window.width() - self.card.width()))
        y = max(0, min(y, self.window.height() - self.card.height()))
        self.card.move(x, y)

    def _footer(self) -> str:
        e = self.engine
        return f"feedapp \u00b7 ranker {e.ranker.name} \u00b7 seed {e.seed} \u00b7 session {self.recorder.id[:8]}"

    def _update_card(self) -> None:
        e = self.engine
        figures = session_figures(e.views, _ClipsById(e.space), sorted(e.world.following))
        self.panel.history.set_history(e.profile_history())
        self.card.set_content(e.profile(), self.panel.history.series, figures, self._elapsed_s(), self._footer(),
                              learns=bool(getattr(e.ranker, "is_learner", True)))

    def toggle_card(self) -> None:
        if self.card.isHidden():
            self._update_card()
            self._place_card()
            self.card.show()
            self.card.raise_()
        else:
            self.card.hide()
        self.view.setFocus()

    def save_card(self) -> Path | None:
        """Save the end card as a PNG into ``card_dir``; returns the path (None if it could not be written)."""
        self._update_card()
        path = self.card_dir / f"feedapp-card-{self.recorder.id[:8]}-{len(self.engine.views)}views.png"
        try:
            ok = self.card.save(path)
            why = "" if ok else f"{path} could not be written"
        except OSError as e:
            ok, why = False, str(e)
        if not ok:
            self._tell(f"Could not save the card: {why}")
            return None
        self.recorder.event("end_card_saved", path=str(path))
        self._tell(f"Saved your card to {path}")
        return path

    def _tell(self, text: str) -> None:
        """A toast on the player, and on the card when it is shown: it covers the player's toasts."""
        self.view.show_toast(text, 4000)
        if self.card.isVisible():
            self.card.show_note(text, 4000)
