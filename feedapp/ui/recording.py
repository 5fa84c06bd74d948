"""Connects the player's signals to the session recorder (the log) and the engine (learning).

The widget knows nothing about logging or ranking; this object subscribes to its signals and turns
them into the steps of the feed transaction (``feedapp.core.feed_session.FeedSession``: leave, arrive,
end) with the timestamps the widget stamped at the input event, and into recorder calls for the
rest (pause, focus, stalls, loops). It also checkpoints the in-flight view every 250 ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from feedapp.core.engine import FeedEngine
from feedapp.core.feed_session import FeedSession
from feedapp.core.session import SessionRecorder
from feedapp.ui.events import Arrival, PlaybackEvent

CHECKPOINT_MS = 250


class SessionBridge(QObject):
    """The widget's side of the feed transaction: its signals become ``FeedSession`` steps."""

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
        self.session = FeedSession(engine, recorder)
        self.on_view_closed = on_view_closed
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
        view.clip_unplayable.connect(self._unplayable)
        engine.on("following_did_change", lambda following: recorder.event("following", creators=sorted(following)))
        self._timer = QTimer(self, interval=CHECKPOINT_MS)
        self._timer.timeout.connect(lambda: recorder.checkpoint())
        self._timer.start()

    def _plain_event(self, ev: PlaybackEvent) -> None:
        data = {} if ev.value is None else {"value": ev.value}
        if ev.clip is not None:
            data["clip_id"] = ev.clip.id
        self.recorder.event(ev.kind, ev.ns, **data)

    def _unplayable(self, clip) -> None:  # noqa: ANN001 - Clip
        """A clip the player could not play: the engine stops serving it (a live change, logged), and
        the player preloads what it decides next instead."""
        if self.recorder.ended is None and self.engine.mark_unplayable(clip.id):
            self.view.reload_next()

    def _leaving(self, how: str, input_ns: int) -> None:
        """The input that leaves the clip: the view ends here (its dwell stops at the input event)."""
        rec = self.session.leave(how, input_ns)
        if rec is not None and self.on_view_closed is not None:
            self.on_view_closed(rec)

    def _arrived(self, arrival: Arrival) -> None:
        """The swipe settled on a clip (SwipeView.settled): learn, log the impression, decide the next slot."""
        if self.session.current_position is not None and self.recorder.ended is None:
            self._leaving(arrival.how, arrival.input_ns)  # no leaving signal came (should not happen)
        self.session.arrive(arrival.clip, position=arrival.position, how=arrival.how, is_revisit=arrival.is_revisit,
                            settled_ns=arrival.settled_ns, input_ns=arrival.input_ns)

    def _first_frame(self, position_ns: tuple[int, int]) -> None:
        """The active clip's first frame was painted (possibly after the 3 s first-frame timeout)."""
        position, ns = position_ns
        if self.session.current_position == position:
            self.recorder.first_frame(ns)

    def end(self, reason: str, ns: int | None = None) -> None:
        """Close the open view (learning from it) and the session."""
        self._timer.stop()
        if self.recorder.ended is not None:
            return
        if self.session.current_position is not None:
            self._leaving("quit" if reason == "quit" else reason, ns if ns is not None else time.monotonic_ns())
        self.session.end(reason, ns)
