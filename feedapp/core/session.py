"""Turn timestamped player inputs into the log's sessions, impressions, views and events.

Qt-free: the UI calls these methods with ``time.monotonic_ns()`` stamped at the input event; tests
call them with made-up times. One clock, one state machine, so the figures mean the same everywhere.

A view's dwell (arrival settled -> the input that left it) is split into exactly one of four buckets
at every moment, in this priority: window unfocused > paused by the viewer > stalled (waiting for a
frame: before the first frame and while buffering) > playing. So ``play + paused + unfocused +
stalled == dwell`` by construction.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from feedapp.core.identity import boot_id, process_start
from feedapp.core.model import Clip, Pick
from feedapp.core.records import (
    EventRecord,
    EventSink,
    ImpressionRecord,
    ProfileSnapshot,
    SessionEnd,
    SessionRecord,
    ViewRecord,
)
from feedapp.core.reward import is_skip

END_REASONS = ("finished", "quit", "time_limit", "recovered_after_crash", "error", "terminal_closed", "terminated",
               "consent_refused")


class ViewClock:
    """Dwell split into play/paused/unfocused/stalled for one impression.

    State changes are kept as a timeline, not accumulated as they arrive, because a change may be
    reported after later ones: on X11 the window manager's focus-out reaches Qt 100 ms late and is
    back-dated to the real input (see ``feedapp.ui.focus``). A checkpoint in between must not lose
    that time, so figures are always integrated from the sorted timeline.
    """

    def __init__(self, settled_ns: int, *, focused: bool = True) -> None:
        self.settled_ns = settled_ns
        self._initial = {"focused": focused, "paused": False, "stalled": True}  # stalled until a frame
        self._changes: list[tuple[int, int, str, bool]] = []  # (ns, order of arrival, flag, value)
        self.loops = 0

    def _state_now(self) -> dict[str, bool]:
        state = dict(self._initial)
        for _, _, name, value in sorted(self._changes):
            state[name] = value
        return state

    @property
    def focused(self) -> bool:
        return self._state_now()["focused"]

    @property
    def paused(self) -> bool:
        return self._state_now()["paused"]

    @property
    def stalled(self) -> bool:
        return self._state_now()["stalled"]

    def set(self, now_ns: int, **flags: bool) -> None:
        """Record flag changes at ``now_ns`` (clamped to the start of the view)."""
        t = max(now_ns, self.settled_ns)
        for name, value in flags.items():
            if name not in self._initial:
                raise ValueError(f"unknown view state {name!r}")
            self._changes.append((t, len(self._changes), name, bool(value)))

    @staticmethod
    def _bucket(state: dict[str, bool]) -> str:
        if not state["focused"]:
            return "unfocused"
        if state["paused"]:
            return "paused"
        if state["stalled"]:
            return "stalled"
        return "play"

    def figures(self, now_ns: int) -> dict[str, float]:
        """Dwell from settling to ``now_ns`` and its four parts (they add up to it exactly)."""
        end = max(now_ns, self.settled_ns)
        buckets = {"play": 0, "paused": 0, "unfocused": 0, "stalled": 0}
        state = dict(self._initial)
        t = self.settled_ns
        for ns, _, name, value in sorted(self._changes):
            if ns > end:
                break
            buckets[self._bucket(state)] += ns - t
            t = ns
            state[name] = value
        buckets[self._bucket(state)] += end - t
        return {
            "dwell_ms": (end - self.settled_ns) / 1e6,
            "play_ms": buckets["play"] / 1e6,
            "paused_ms": buckets["paused"] / 1e6,
            "unfocused_ms": buckets["unfocused"] / 1e6,
            "stalled_ms": buckets["stalled"] / 1e6,
        }


def _new_id() -> str:
    return str(uuid.uuid4())


class SessionRecorder:
    """One session of one viewer; sends records to an EventSink as things happen."""

    def __init__(
        self,
        sink: EventSink,
        *,
        app_version: str,
        mode: str,
        ranker: str,
        ranker_params: dict[str, Any] | None = None,
        seed: int = 0,
        catalog_fingerprint: str = "",
        catalog_size: int = 0,
        participant: str = "",
        condition: str = "",
        skip_threshold_ms: int = 3000,
        study: str = "",
        fields: dict[str, Any] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        wall_clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.sink = sink
        self.clock = clock
        self.skip_threshold_ms = skip_threshold_ms
        self.id = _new_id()
        mono0 = clock()
        self._utc_offset_ns = wall_clock_ns() - mono0  # one offset, so UTC stamps keep monotonic order
        self.record = SessionRecord(
            id=self.id,
            app_version=app_version,
            mode=mode,
            ranker=ranker,
            ranker_params=dict(ranker_params or {}),
            seed=seed,
            catalog_fingerprint=catalog_fingerprint,
            catalog_size=catalog_size,
            participant=participant,
            condition=condition,
            skip_threshold_ms=skip_threshold_ms,
            started_utc=self.utc(mono0),
            started_mono_ns=mono0,
            host=socket.gethostname(),
            study=study,
            pid=os.getpid(),
            boot_id=boot_id(),
            proc_start=process_start(os.getpid()),
            fields=dict(fields or {}),
        )
        self.started_ns = mono0
        self.ended: SessionEnd | None = None
        self.focused = True
        self.position = -1
        self._impression: ImpressionRecord | None = None
        self._clip: Clip | None = None
        self._view: ViewClock | None = None
        self._liked = False
        self._not_interested = False
        self.views_closed = 0
        sink.session_started(self.record)

    # -- clocks -----------------------------------------------------------------------------------
    def utc(self, mono_ns: int) -> str:
        t = (mono_ns + self._utc_offset_ns) / 1e9
        return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds")

    def _now(self, ns: int | None) -> int:
        return self.clock() if ns is None else ns

    # -- impressions and views --------------------------------------------------------------------
    @property
    def impression_id(self) -> str | None:
        return self._impression.id if self._impression else None

    def arrive(
        self,
        clip: Clip,
        *,
        reached_by: str,
        is_revisit: bool,
        settled_ns: int,
        input_ns: int | None = None,
        policy: str = "",
        score: float | None = None,
        propensity: float | None = None,
        exploration: bool = False,
        pick: Pick | None = None,
        served_again: bool = False,
    ) -> str:
        """A clip became the active clip (the snap settled). Closes a still-open view first.

        ``pick`` (the engine's decision for this slot; None for a revisit) fills the policy, score,
        propensity, exploration and decision-context columns; without it they come from the
        keyword arguments (a feed without a ranker)."""
        if self.ended is not None:
            raise RuntimeError("this session has ended")
        if self._view is not None:
            self.leave(reached_by, settled_ns if input_ns is None else input_ns)
        self.position += 1
        self._clip = clip
        self._impression = ImpressionRecord(
            id=_new_id(),
            session_id=self.id,
            position=self.position,
            clip_id=clip.id,
            reached_by=reached_by,
            is_revisit=is_revisit,
            policy=pick.ranker if pick else policy,
            score=pick.score if pick else score,
            propensity=pick.propensity if pick else propensity,
            exploration=bool(pick.explore) if pick else exploration,
            input_mono_ns=settled_ns if input_ns is None else input_ns,
            settled_mono_ns=settled_ns,
            settled_utc=self.utc(settled_ns),
            views_learned=pick.views if pick else None,
            live_seq=pick.live if pick else None,
            params_version=pick.params_version if pick else None,
            ranker_version=pick.ranker_version if pick else None,
            scripted=bool(pick.scripted) if pick else False,
            served_again=bool(served_again) and not is_revisit,
        )
        self._view = ViewClock(settled_ns, focused=self.focused)
        self._liked = self._not_interested = False
        self.sink.impression_started(self._impression)
        return self._impression.id

    def first_frame(self, ns: int | None = None) -> float | None:
        """The first frame of the active clip was painted; returns first_frame_ms."""
        if self._view is None or self._impression is None or not self._view.stalled:
            return None
        ns = self._now(ns)
        self._view.set(ns, stalled=False)
        ms = max(0.0, (ns - self._impression.settled_mono_ns) / 1e6)
        self.sink.first_frame(self._impression.id, ms)
        return ms

    def _view_record(self, now_ns: int, exit: str, final: bool) -> ViewRecord:
        assert self._view is not None and self._impression is not None and self._clip is not None
        now_ns = max(now_ns, self._view.settled_ns)  # a queued input can predate the settle it follows
        f = self._view.figures(now_ns)
        duration = max(1, self._clip.duration_ms)
        return ViewRecord(
            impression_id=self._impression.id,
            session_id=self.id,
            dwell_ms=f["dwell_ms"],
            play_ms=f["play_ms"],
            paused_ms=f["paused_ms"],
            unfocused_ms=f["unfocused_ms"],
            stalled_ms=f["stalled_ms"],
            watch_ratio=f["play_ms"] / duration,
            loops=self._view.loops,
            skipped=is_skip(f["play_ms"], self._view.loops, duration, self.skip_threshold_ms, exit),
            exit=exit,
            liked=self._liked,
            not_interested=self._not_interested,
            ended_mono_ns=now_ns,
            ended_utc=self.utc(now_ns),
            final=final,
        )

    def checkpoint(self, ns: int | None = None) -> ViewRecord | None:
        """Write the in-flight view as it stands (final=0), so a crash loses at most one interval."""
        if self._view is None:
            return None
        rec = self._view_record(self._now(ns), exit="", final=False)
        self.sink.view_updated(rec)
        return rec

    def leave(self, exit: str, ns: int | None = None) -> ViewRecord | None:
        """The viewer left the active clip (stamped at the input that made them leave)."""
        if self._view is None:
            return None
        rec = self._view_record(self._now(ns), exit=exit, final=True)
        self.sink.view_updated(rec)
        self._view = None
        self.views_closed += 1
        return rec

    # -- state changes during a view --------------------------------------------------------------
    def _change(self, kind: str, ns: int | None, data: dict[str, Any] | None = None, **flags: bool) -> None:
        ns = self._now(ns)
        if self._view is not None and flags:
            self._view.set(ns, **flags)
        self.event(kind, ns, **(data or {}))

    def set_paused(self, paused: bool, ns: int | None = None) -> None:
        if self._view is not None and self._view.paused == paused:
            return
        self._change("pause" if paused else "resume", ns, paused=paused)

    def set_focused(self, focused: bool, ns: int | None = None) -> None:
        if self.focused == focused:
            return
        self.focused = focused
        self._change("focus_gained" if focused else "focus_lost", ns, focused=focused)

    def set_stalled(self, stalled: bool, ns: int | None = None) -> None:
        if self._view is None or self._view.stalled == stalled:
            return
        self._change("stall_start" if stalled else "stall_end", ns, stalled=stalled)

    def loop_completed(self, ns: int | None = None) -> None:
        if self._view is not None:
            self._view.loops += 1
        self.event("loop", self._now(ns), loops=self._view.loops if self._view else 0)

    def like(self, ns: int | None = None) -> None:
        self._liked = True
        self.event("like", self._now(ns))

    def not_interested(self, ns: int | None = None) -> None:
        self._not_interested = True
        self.event("not_interested", self._now(ns))

    def event(self, kind: str, ns: int | None = None, **data: Any) -> EventRecord:
        ns = self._now(ns)
        rec = EventRecord(
            id=_new_id(), session_id=self.id, kind=kind, mono_ns=ns, utc=self.utc(ns),
            impression_id=self.impression_id if self._view is not None else None, data=data,
        )
        self.sink.event(rec)
        return rec

    def profile_snapshot(self, profile: dict[str, Any], ns: int | None = None) -> None:
        ns = self._now(ns)
        self.sink.profile_snapshot(ProfileSnapshot(self.id, self.position, ns, self.utc(ns), profile))

    def end(
        self,
        reason: str,
        ns: int | None = None,
        *,
        catalog_fingerprint: str | None = None,
        catalog_size: int | None = None,
    ) -> SessionEnd:
        """Close the open view (exit = the reason) and the session. Idempotent."""
        if reason not in END_REASONS:
            raise ValueError(f"unknown end reason {reason!r}; expected one of {', '.join(END_REASONS)}")
        if self.ended is not None:
            return self.ended
        ns = self._now(ns)
        self.leave("quit" if reason == "quit" else reason, ns)
        self.ended = SessionEnd(self.id, reason, ns, self.utc(ns), catalog_fingerprint, catalog_size)
        self.sink.session_ended(self.ended)
        return self.ended
