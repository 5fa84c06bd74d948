"""Connects the player's signals to the session recorder (the log) and the engine (learning).

The widget knows nothing about logging or ranking; this object subscribes to its signals and turns
them into recorder calls with the timestamps the widget stamped at the input event, and into
``engine.finish(view)`` when a view closes. It also checkpoints the in-flight view every 250 ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from feedapp.core.engine import FeedEngine, view_from_record
from feedapp.core.session import SessionRecorder
from feedapp.ui.events import Arrival, PlaybackEvent

CHECKPOINT_MS = 250


class SessionBridge(QObject):
    def __init__(
        self,
        view,  # noqa: ANN001 - SwipeView
        engine: FeedEngine,
        recorder: SessionRecorder,
        *,
        on_view_closed: Callable[[object], None] | None = None,
    ) -> None:
        super().__init__(view)
        self.view = view
        self.engine = engine
        self.recorder = recorder
        self.on_view_closed = on_view_closed
        self._current: Arrival | None = None
        self._to_learn: tuple[object, Arrival] | None = None  # a closed view the engine has not learned yet
        view.leaving.connect(self._leaving)
        view.settled.connect(self._arrived)
        view.first_frame_painted.connect(self._first_frame)
        view.paused.connect(lambda ev: recorder.set_paused(True, ev.ns))
        view.resumed.connect(lambda ev: recorder.set_paused(False, ev.ns))
        view.focus_lost.connect(lambda ev: recorder.set_focused(False, ev.ns))
        view.focus_gained.connect(lambda ev: recorder.set_focused(True, ev.ns))
        view.stall_started.connect(lambda ev: recorder.set_stalled(True, ev.ns))
        view.stall_ended.connect(lambda ev: recorder.set_stalled(False, ev.ns))
        view.loop_completed.connect(lambda ev: recorder.loop_completed(ev.ns))
        view.mute_changed.connect(self._plain_event)
        view.clip_failed.connect(self._plain_event)
        engine.on("profile_did_update", lambda snap: recorder.profile_snapshot(dict(snap)))
        engine.on("following_did_change", lambda following: recorder.event("following", creators=sorted(following)))
        self._timer = QTimer(self, interval=CHECKPOINT_MS)
        self._timer.timeout.connect(lambda: recorder.checkpoint())
        self._timer.start()

    def _plain_event(self, ev: PlaybackEvent) -> None:
        data = {} if ev.value is None else {"value": ev.value}
        if ev.clip is not None:
            data["clip_id"] = ev.clip.id
        self.recorder.event(ev.kind, ev.ns, **data)

    def _leaving(self, how: str, input_ns: int) -> None:
        """The input that leaves the clip: the view ends here (its dwell stops at the input event).

        The engine learns from it only when the next clip has arrived: while the swipe animates, the
        next clip is already on screen and must not be re-decided.
        """
        prev = self._current
        rec = self.recorder.leave(how, input_ns)
        self._current = None
        if rec is not None and prev is not None:
            self._to_learn = (rec, prev)
            if self.on_view_closed is not None:
                self.on_view_closed(rec)

    def _learn(self) -> None:
        if self._to_learn is not None:
            rec, prev = self._to_learn
            self._to_learn = None
            self.engine.finish(view_from_record(rec, prev.clip.id, prev.is_revisit))

    def _arrived(self, arrival: Arrival) -> None:
        """The swipe settled on a clip (SwipeView.settled): the impression and its view start now."""
        if self.recorder.ended is not None:
            return
        if self._current is not None:  # no leaving signal came (should not happen): close it now
            self._leaving(arrival.how, arrival.input_ns)
        self._learn()
        pick = None
        if not arrival.is_revisit and 0 <= arrival.position < len(self.engine.picks):
            pick = self.engine.pick_at(arrival.position)
        self.recorder.arrive(
            arrival.clip,
            reached_by=arrival.how,
            is_revisit=arrival.is_revisit,
            settled_ns=arrival.settled_ns,
            input_ns=arrival.input_ns,
            policy=pick.ranker if pick else "history",
            score=pick.score if pick else None,
            propensity=pick.propensity if pick else None,
            exploration=bool(pick.explore) if pick else False,
        )
        self._current = arrival

    def _first_frame(self, position_ns: tuple[int, int]) -> None:
        """The active clip's first frame was painted (possibly after the 3 s first-frame timeout)."""
        position, ns = position_ns
        if self._current is not None and self._current.position == position:
            self.recorder.first_frame(ns)

    def end(self, reason: str, ns: int | None = None) -> None:
        """Close the open view (learning from it) and the session."""
        self._timer.stop()
        if self.recorder.ended is not None:
            return
        if self._current is not None:
            self._leaving("quit" if reason == "quit" else reason, ns if ns is not None else time.monotonic_ns())
        self._learn()
        catalog = self.engine.catalog
        self.recorder.end(reason, ns, catalog_fingerprint=catalog.fingerprint(), catalog_size=len(catalog))
