"""One feed transaction: the Qt-free object every consumer of the feed drives.

The widget (through ``feedapp.ui.recording.SessionBridge``), the lab runner and the autopilot (both
through the widget), the simulator (``feedapp.core.simulate``: ``open``, ``swipe``, ``end`` without a
recorder, the closed views given by the simulated viewer) and replay (``feedapp.core.replay``:
``learn`` and ``serve_logged`` at the points the log says) drive a ``FeedSession``. One step, in
this order:

```
leave(how, input_ns)      input leaves clip p: view p closed, its record handed to the log
                          (without a recorder the driver hands the closed ``View`` itself)
arrive(clip, ...)         clip p+1 settles: the engine learns view p, the impression of p+1 is
                          logged with the decision that served it (views learned, live changes,
                          parameter version, ranker version, scripted or picked), then slot p+2 is
                          decided (``decide_next``): the one moment a slot is decided
next_clip()               what the widget should preload: a query, no side effect
```

So the decision of slot p+2 has seen p+1 views (the player preloads it while p+1 plays), in the app,
the lab, the autopilot and the simulator alike. A live change that forgets an undisplayed decision
decides that slot again as soon as the change is complete (``FeedEngine._emit``); learning a view
waits for the next ``decide_next``.

Live changes (parameter change, plugin reload, refresh, follow/unfollow, catalog growth, a clip
that could not be played) enter the engine (``engine.set_param``, ``engine.follow``, ``engine.refresh``,
the plugin host, ``catalog.add``, ``engine.mark_unplayable``); the engine counts them and records what replay needs (``engine.live_log``), and
this object logs each one as a ``live_change`` event carrying its position (views learned, slots
served, its sequence number). The session's starting state (catalog rows, parameters, ranker
version) is logged once as ``session_catalog``. With these, replay puts an engine in exactly the
state each logged decision saw (docs/architecture.md, "One feed transaction").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from feedapp.core.engine import LIVE_EVENTS, FeedEngine, plugin_info, view_from_record
from feedapp.core.model import Clip, Pick, View
from feedapp.core.records import ViewRecord
from feedapp.core.session import SessionRecorder

SESSION_CATALOG = "session_catalog"  # event kind: the engine's state when the session started
LIVE_CHANGE = "live_change"  # event kind: one live change, with its position


class FeedSession:
    """The engine and the session's log, stepped together (see the module docstring)."""

    def __init__(self, engine: FeedEngine, recorder: SessionRecorder | None = None) -> None:
        self.engine = engine
        self.recorder = recorder
        self._to_learn: View | None = None  # closed view not learned yet
        self._current: tuple[Clip, int, bool] | None = None  # (clip, feed position, revisit) on screen
        self._shown = -1  # impressions so far - 1: the open view's impressions.position (swipes back included)
        if recorder is not None:
            recorder.event(SESSION_CATALOG, **self.start_state())
            for hook in LIVE_EVENTS:
                engine.on(hook, self._live_did_change)
            engine.on("profile_did_update", lambda snap: recorder.profile_snapshot(dict(snap)))

    def start_state(self) -> dict[str, Any]:
        """What replay starts from: the catalog's rows in order, parameters, counters, versions."""
        eng = self.engine
        return {"clips": [c.id for c in eng.space.clips], "views": len(eng.views), "live": eng.live,
                "params": dict(eng.ranker.params), "params_version": eng.params_version,
                "ranker_version": eng.ranker_version, "seed": eng.seed, "warmup": [c.id for c in eng.warmup],
                # a guarded plugin: the parameters set through the guard (what a rebuilt version gets) and its code
                "overrides": dict(getattr(eng.ranker, "overrides", {}) or {}), "plugin": plugin_info(eng.ranker),
                # a continued lab session: the clips its crashed predecessor showed, served before slot 0
                "served_before": list(eng.served_before)}

    @property
    def current_position(self) -> int | None:
        """The feed position of the clip whose view is open, or None between a leave and an arrive."""
        return None if self._current is None else self._current[1]

    def _live_did_change(self, *_: Any) -> None:
        if self.recorder is not None and self.recorder.ended is None:
            self.recorder.event(LIVE_CHANGE, **self.engine.live_log[-1])

    # -- the step ---------------------------------------------------------------------------------
    def open(self, ns: int = 0) -> Clip | None:
        """For drivers without a widget (the simulator): serve slot 0 and let it settle (``arrive``)."""
        clip = self.engine.start()
        if clip is not None:
            self.arrive(clip, position=self.engine.position, how="start", is_revisit=False, settled_ns=ns)
        return clip

    def swipe(self, view: View | None = None, how: str = "swipe_next", ns: int = 0, *,
              decide_next: bool = True) -> Clip | None:
        """For drivers without a widget: leave the current clip (``view``: how it was watched, when
        there is no recorder to close it), move to the next slot and let it settle. None at the end.
        ``decide_next=False``: the driver knows this is the last clip it will see (the slot after it
        would be decided for nothing)."""
        self.leave(how, ns, view=view)
        clip = self.engine.move(1)
        if clip is not None:
            self.arrive(clip, position=self.engine.position, how=how, is_revisit=self.engine.is_revisit(),
                        settled_ns=ns, decide_next=decide_next)
        return clip

    def leave(self, how: str, input_ns: int | None = None, *, view: View | None = None) -> ViewRecord | None:
        """The input that leaves the current clip: its view closes and goes to the log now; the
        engine learns it when the next clip settles (``arrive``), so what is on screen during the
        swipe is never re-decided. With a recorder the view is the one it closes; without one the
        driver passes ``view`` (a simulated viewer's)."""
        cur, self._current = self._current, None
        rec = self.recorder.leave(how, input_ns) if self.recorder is not None else None
        if cur is not None:
            if rec is not None:
                self._to_learn = view_from_record(rec, cur[0].id, cur[2], self.recorder.position)  # its impressions.position
            elif self.recorder is None and view is not None:
                if view.clip_id != cur[0].id:
                    raise ValueError(f"the view is of clip {view.clip_id!r}, but clip {cur[0].id!r} was on screen")
                if view.position is None:  # the driver does not count impressions: this object does
                    view = replace(view, position=self._shown)
                self._to_learn = view
        return rec

    def learn_pending(self) -> None:
        """Learn the closed view that waits for it (called by ``arrive`` and ``end``)."""
        if self._to_learn is not None:
            view, self._to_learn = self._to_learn, None
            self.learn(view)

    def learn(self, view: View) -> None:
        """The engine learns one closed view now (``learn_pending``; replay at the logged point)."""
        self.engine.finish(view)

    def serve_logged(self, pick: Pick) -> Clip:
        """Replay: the logged slot settles with the logged decision (``FeedEngine.serve_logged``)."""
        clip = self.engine.serve_logged(pick)
        self._current = (clip, self.engine.position, False)
        return clip

    def arrive(self, clip: Clip, *, position: int, how: str, is_revisit: bool, settled_ns: int,
               input_ns: int | None = None, decide_next: bool = True) -> str | None:
        """Clip at feed ``position`` settled: learn the previous view, log this impression, decide the next slot."""
        if self.recorder is not None and self.recorder.ended is not None:
            return None
        if self._current is not None:  # no leave came (should not happen): close it now
            self.leave(how, input_ns if input_ns is not None else settled_ns)
        self.learn_pending()
        impression_id = None
        if self.recorder is not None:  # the impression is logged with the decision that served it
            pick = None
            if not is_revisit and 0 <= position < self.engine.decided:  # picks are aligned with history
                pick = self.engine.pick_at(position)
            # served again: a new slot whose clip the feed already showed (the ranker's choice, not navigation)
            again = not is_revisit and any(c.id == clip.id for c in self.engine.history[:max(position, 0)])
            impression_id = self.recorder.arrive(
                clip, reached_by=how, is_revisit=is_revisit, settled_ns=settled_ns, input_ns=input_ns, pick=pick,
                policy="history",  # when no ranker decided the slot (a revisit)
                served_again=again,
            )
        self._current = (clip, position, is_revisit)
        self._shown += 1
        if decide_next:
            self.decide_next()
        return impression_id

    def decide_next(self) -> Clip | None:
        """Decide the slot after the current one, if it is not decided yet (the decision moment)."""
        return self.engine.decide_next()

    def next_clip(self) -> Clip | None:
        """The clip the widget should preload next: the decided one, or None (no side effect)."""
        return self.engine.peek(1)

    def end(self, reason: str, ns: int | None = None, *, view: View | None = None) -> None:
        """Close the open view (learning from it) and the session (``view``: without a recorder,
        how the last clip was watched)."""
        if self.recorder is None:
            if self._current is not None:
                self.leave(reason, ns, view=view)
            self.learn_pending()
            return
        if self.recorder.ended is not None:
            self.learn_pending()
            return
        if self._current is not None:
            self.leave("quit" if reason == "quit" else reason, ns)
        self.learn_pending()
        catalog = self.engine.catalog
        self.recorder.end(reason, ns, catalog_fingerprint=catalog.fingerprint(), catalog_size=len(catalog))
