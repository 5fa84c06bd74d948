"""The vertical-swipe view: one full-height clip at a time, moved by drag, wheel, keys and touch.

The order of clips is not decided here: ``feedapp.core.feed.Feed`` says what comes next
(``peek(+1)``, a query: what is decided) and the view calls ``move(step)`` when a swipe settles.
The next slot is decided when a clip settles: the ``settled`` listener (``SessionBridge``: learn the
view just closed, then decide) first, else this view's ``feed.decide_next()`` right after it, and
again before the neighbours are preloaded if an ``arrived`` listener made the feed forget it
(``Feed.redecide_next``); so what is preloaded is what is shown. Everything a study needs to log leaves this widget as a
Qt signal carrying a small frozen dataclass stamped with ``time.monotonic_ns()`` at the input event.

Three recycled :class:`SlotPlayer` objects hold the previous, current and next clip. The neighbours
are preloaded (source set, paused on their first frame) and the one being swiped towards starts
playing when the swipe *starts*, so the clip is already moving when the swipe settles.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import (
    QEasingCurve,
    QEvent,
    QRectF,
    QSize,
    Qt,
    QTimer,
    QVariantAnimation,
    Signal,
)
from PySide6.QtGui import (
    QGuiApplication,
    QInputEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
    QTouchEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from feedapp.core.feed import Feed
from feedapp.core.model import Clip
from feedapp.errors import visible
from feedapp.ui import overlays
from feedapp.ui.events import HOWS, Arrival, PlaybackEvent
from feedapp.ui.focus import FocusClock, focus_clock
from feedapp.ui.gestures import RUBBER_BAND, WHEEL_QUIET_MS, DragTracker, WheelGesture, step_for
from feedapp.ui.player import SlotPlayer

__all__ = ["HOWS", "Arrival", "PlaybackEvent", "SwipeView"]  # Arrival and PlaybackEvent re-exported

SNAP_MS = 220  # snap to the next/previous clip (ease-out)
SPRING_MS = 200  # spring back after a short drag
CHAIN_MIN_MS = 60  # a snap with moves still queued behind it: SNAP_MS / (1 + queued), never shorter than this
CHAIN_FRAME_WAIT_MS = 150  # with moves queued, wait at most this long for a passed-over clip's first frame
FIRST_FRAME_TIMEOUT_MS = 3000


def _now() -> int:
    return time.monotonic_ns()


_MS = 1_000_000
_WRAP_MS = 1 << 32
_MAX_INPUT_AGE_MS = 1000


def _input_ns(event: QInputEvent) -> int:
    """When the input really happened, on the monotonic clock, even if the GUI thread was busy.

    Qt gives every input event the window system's timestamp in ms. On X11 (Xorg and Xvfb) and on
    Wayland that is the server's CLOCK_MONOTONIC in ms, truncated to 32 bits, which is the clock
    this app logs with. So the age of the event is ``now - timestamp`` (mod 2^32); when that is
    plausible (0 to 1 s) the input is stamped that far back, else (synthetic test events, other
    platforms) at the moment the handler runs.
    """
    now = time.monotonic_ns()
    stamp = event.timestamp()
    if stamp:
        age_ms = (now // _MS - stamp) % _WRAP_MS
        if age_ms <= _MAX_INPUT_AGE_MS:
            return now - age_ms * _MS - (now % _MS)
    return now


class SwipeView(QWidget):
    """The feed on screen. Drive it with input or :meth:`go`; listen to its signals to log what happened.

    Signals carry :class:`Arrival` (``arrived``) or :class:`PlaybackEvent` (all others but the three
    window requests at the end). Slow listeners are fine: arrivals are emitted from the event loop,
    never from inside a paint.
    """

    arrived = Signal(object)  # Arrival, once its first frame was painted (or none came in 3 s, or it was left)
    settled = Signal(object)  # Arrival without first frame: emitted the moment the clip becomes active
    first_frame_painted = Signal(object)  # (position, ns): the active clip's first frame, even a late one
    leaving = Signal(str, object)  # (how, input_ns; an object: ns overflow a C int): a swipe away from the current clip was committed
    paused = Signal(object)  # PlaybackEvent
    resumed = Signal(object)
    mute_changed = Signal(object)  # kind "mute" or "unmute"
    loop_completed = Signal(object)
    stall_started = Signal(object)
    stall_ended = Signal(object)
    focus_lost = Signal(object)
    focus_gained = Signal(object)
    clip_failed = Signal(object)
    # (clip) a clip could not be played, said once per clip: the feed should not serve it again
    # (SessionBridge marks it in the engine). Said when the feed is at rest, never mid-swipe.
    clip_unplayable = Signal(object)
    fullscreen_requested = Signal()
    quit_requested = Signal()
    escape_pressed = Signal()  # Esc with nothing to close inside the view: the window leaves fullscreen

    def __init__(self, feed: Feed, *, muted: bool = False, preload: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.feed = feed
        self.preload = preload  # False only for the benchmark's baseline
        self.muted = muted
        self.is_paused = False
        self._slots: dict[int, SlotPlayer] = {}
        for step in (-1, 0, 1):
            slot = SlotPlayer(self, muted=True)
            slot.frame_ready.connect(lambda s=slot: self._on_slot_frame(s))
            slot.failed.connect(lambda clip, msg, s=slot: self._on_slot_failed(s, clip, msg))
            slot.loop_completed.connect(lambda clip, n, ns, s=slot: self._on_slot_loop(s, n, ns))
            slot.stall_changed.connect(lambda clip, st, ns, s=slot: self._on_slot_stall(s, st, ns))
            self._slots[step] = slot
        self._offset = 0.0
        self._anim = QVariantAnimation(self)
        self._anim.setEasingCurve(QEasingCurve.Type.OutCubic)
        self._anim.valueChanged.connect(self._on_anim_value)
        self._anim.finished.connect(self._on_anim_finished)
        self._anim_done: Callable[[], None] | None = None
        self._anim_step = 0  # +1/-1 while a committed move (snap) animates, else 0
        # Moves asked for during an animation or a drag: every one is made, in order (never dropped).
        self._queued: deque[tuple[int, str, int]] = deque()
        self._chain_timer = QTimer(self, singleShot=True, interval=CHAIN_FRAME_WAIT_MS)
        self._chain_timer.timeout.connect(self._run_queued)
        self._drag: DragTracker | None = None
        self._wheel = WheelGesture()
        self._wheel_timer = QTimer(self, singleShot=True, interval=WHEEL_QUIET_MS)
        self._wheel_timer.timeout.connect(self._wheel.end)
        self._pending: dict | None = None  # the arrival waiting for its first painted frame
        self._awaiting_frame: int | None = None  # position whose first frame is not painted yet (even after 3 s)
        self._first_frame_timer = QTimer(self, singleShot=True, interval=FIRST_FRAME_TIMEOUT_MS)
        self._first_frame_timer.timeout.connect(self._first_frame_timed_out)
        self._last_step = 1
        self._settled_ns = 0  # when the current clip became active
        self._max_position_shown = -1
        self._neighbours_due = False
        self._failed: set[str] = set()  # clips that failed to play and have not painted a frame since
        self._reported_bad: set[str] = set()
        self._unplayable_due: list[Clip] = []  # failed clips not yet said by clip_unplayable (a swipe was moving)
        # (title, body) shown instead of the technical screen when no clip can be played: a lab participant's
        # (the details go to the terminal, for the experimenter)
        self.none_playable_screen: tuple[str, str] | None = None
        self._posters: dict[str, QPixmap] = {}
        self._help = False
        self._toast = ""
        self._toast_timer = QTimer(self, singleShot=True, interval=3000)
        self._toast_timer.timeout.connect(self._hide_toast)
        self._status = ""
        self._frame: QRectF | None = None  # the current clip's picture as last painted, in its slot (letterboxed)
        self._notice = ""  # a lasting notice in the toast's place (e.g. saving fails), under any toast
        self._message: tuple[str, str] | None = None
        self._icon_opacity = 0.0
        self._icon_anim = QVariantAnimation(self)
        self._icon_anim.valueChanged.connect(self._on_icon_value)
        self._focused: bool | None = None
        self.started = False
        # diagnostics for tests and benchmarks
        self.paint_count = 0
        self.paint_ns_log: list[int] | None = None  # set to a list to record every paint's end time
        self.animating_since_ns = 0

        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(180, 320)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMouseTracking(True)  # to bring the cursor back after it was hidden in fullscreen
        self._cursor_timer = QTimer(self, singleShot=True, interval=2000)
        self._cursor_timer.timeout.connect(self._hide_cursor_if_fullscreen)
        app = QGuiApplication.instance()
        self.focus_clock = focus_clock(app) if app is not None else FocusClock()
        if app is not None:
            app.applicationStateChanged.connect(self._on_app_state)  # type: ignore[attr-defined]

    # == public API ==============================================================================
    @property
    def current_clip(self) -> Clip | None:
        return self._slots[0].clip

    @property
    def offset(self) -> float:
        return self._offset

    def slot(self, step: int) -> SlotPlayer:
        """The player holding the clip ``step`` away (-1, 0, +1); for tests and benchmarks."""
        return self._slots[step]

    def is_animating(self) -> bool:
        return self._anim.state() == QVariantAnimation.State.Running

    def start(self) -> bool:
        """Show and play the feed's first clip; False (and a waiting screen stays) when there is none."""
        if self.started:
            return True
        clip = self.feed.start()
        if clip is None:
            return False
        self.started = True
        self._message = None
        now = _now()
        cur = self._slots[0]
        cur.load(clip, preload=True)
        cur.play()
        self._apply_mute()
        self.feed.decide_next()  # slot 1, after no view (what the session's first arrival would decide)
        self._load_neighbours()
        self._settled_ns = now
        self._begin_pending("start", 0, now, now)
        self.update()
        return True

    def catalog_grew(self) -> None:
        """New clips arrived (the demo maker): start, or fill an empty 'next' slot."""
        if not self.started:
            self.start()
        elif self._slots[1].clip is None and self.preload and not self.is_animating():
            self._slots[1].load(self.feed.decide_next(), preload=True)

    def go(self, step: int, how: str, input_ns: int | None = None) -> bool:
        """Move one clip (+1 next, -1 previous) with the snap animation; False when there is none.

        Asked during an animation, a drag or before the clip just reached has painted, the move is
        queued and made after the ones before it: N presses move N clips. While moves are queued the
        snaps are shorter (``SNAP_MS / (1 + queued)``, at least ``CHAIN_MIN_MS``) and a passed-over
        clip waits at most ``CHAIN_FRAME_WAIT_MS`` for its first frame, so the feed keeps up with a
        fast swiper. A passed-over clip's view closes when the move away from it starts (its real,
        short dwell); the next clip's impression keeps the time of the press that asked for it.
        """
        input_ns = _now() if input_ns is None else input_ns
        if not self.started or self._message is not None or not self.isEnabled():
            return False
        if self.is_animating() or self._drag is not None or self._queued:
            self._queued.append((step, how, input_ns))  # behind the moves asked for before it
            if not self.is_animating() and self._drag is None and self._pending is None:
                self._run_queued()  # nothing is in the way (e.g. a tap ended the drag they waited for)
            return True
        return self._go_now(step, how, input_ns)

    def _toward(self, step: int) -> Clip | None:
        """The clip a move of ``step`` goes to. Moving forward onto a slot not decided yet decides it
        (as ``Feed.move(+1)``: only when a driver made the feed forget the decision, e.g. by learning a
        view outside the session); a backward move only reads the history."""
        return self.feed.decide_next() if step == 1 else self.feed.peek(step)

    def _go_now(self, step: int, how: str, input_ns: int) -> bool:
        if self._toward(step) is None:
            self._bounce(step)
            return False
        # A queued press predates the clip it leaves: that clip's view closes as the move starts.
        leave_ns = input_ns if input_ns >= self._settled_ns else _now()
        self._begin_swipe(step)
        self.leaving.emit(how, leave_ns)
        ms = SNAP_MS if not self._queued else max(CHAIN_MIN_MS, SNAP_MS // (1 + len(self._queued)))
        self._animate_to(-step * self.height(), ms, lambda: self._settle(step, how, input_ns), step=step)
        return True

    @property
    def queued_moves(self) -> int:
        """Moves asked for and not made yet."""
        return len(self._queued)

    def toggle_pause(self, ns: int | None = None) -> None:
        ns = _now() if ns is None else ns
        cur = self._slots[0]
        if cur.clip is None or cur.failed_now or self.is_animating():
            return
        if self.is_paused:
            self.is_paused = False
            cur.play()
            self.resumed.emit(self._event("resume", ns))
            self._flash_icon(hold=False)
        else:
            self.is_paused = True
            cur.pause()
            self.paused.emit(self._event("pause", ns))
            self._flash_icon(hold=True)

    def toggle_mute(self, ns: int | None = None) -> None:
        ns = _now() if ns is None else ns
        self.muted = not self.muted
        self._apply_mute()
        self.mute_changed.emit(self._event("mute" if self.muted else "unmute", ns))
        self.show_toast("Sound off. Press M to turn it on." if self.muted else "Sound on.", ms=1500)

    def toggle_help(self) -> None:
        self._help = not self._help
        self.update()

    @property
    def help_visible(self) -> bool:
        return self._help

    def show_toast(self, text: str, ms: int = 3000) -> None:
        self._toast = text
        self._toast_timer.start(ms)
        self.update()

    @property
    def toast_text(self) -> str:
        return self._toast

    def set_notice(self, text: str) -> None:
        """A notice that stays at the top until cleared with ``""`` (a toast shows over it meanwhile)."""
        self._notice = text
        self.update()

    @property
    def notice(self) -> str:
        return self._notice

    def set_status(self, text: str) -> None:
        """A small line at the top, e.g. 'Making demo clips 5/288'; empty hides it."""
        self._status = text
        self.update()

    def set_message(self, title: str, body: str) -> None:
        """A full-window screen instead of video (nothing to play)."""
        self._message = (title, body)
        self.update()

    def clear_message(self) -> None:
        self._message = None
        self.update()

    @property
    def message(self) -> tuple[str, str] | None:
        return self._message

    def redecide_next(self) -> None:
        """Let the order choose the next clip again (e.g. the catalog grew), unless it is on screen now."""
        if self.started and not self.is_animating() and self._drag is None:
            self.feed.redecide_next()
            self.feed.decide_next()
            self._neighbour_clip_ok(1)

    def reload_next(self) -> None:
        """The feed changed its mind about the next clip (a follow, a refresh): preload what it says now."""
        if self.started and not self.is_animating() and self._drag is None:
            self.feed.decide_next()  # decided already after a live change (FeedEngine._emit); else now
            self._neighbour_clip_ok(1)

    @property
    def neighbours_pending(self) -> bool:
        """True between an arrival and the preloading of its neighbours."""
        return self._neighbours_due

    def shutdown(self) -> None:
        """Stop every player (before the window closes) so no decoder thread outlives the view."""
        for slot in self._slots.values():
            slot.load(None)

    # == swiping =================================================================================
    def _neighbour_clip_ok(self, step: int) -> Clip | None:
        """Make sure the neighbour slot holds what the feed will show there (the order may have changed its mind)."""
        clip = self.feed.peek(step)
        slot = self._slots[step]
        if clip is None:
            if slot.clip is not None:
                slot.load(None)
            return None
        if slot.clip is None or slot.clip.id != clip.id:
            slot.load(clip, preload=self.preload)
        elif not slot.is_rewound():
            slot.rewind()  # the clip we just left: shown again from its start
        return clip

    def _begin_swipe(self, step: int, committed: bool = True) -> None:
        """The swipe starts: the clip being swiped to starts playing now, not when the swipe settles.

        ``committed=False`` for a drag, which may still spring back: the current clip is left (its
        arrival closed without a first frame) only when the drag is released into a snap."""
        self.animating_since_ns = _now()
        if committed:
            self._leave_current()
        if self._neighbour_clip_ok(step) is not None and self.preload:
            self._slots[step].play()

    def _leave_current(self) -> None:
        self._awaiting_frame = None
        if self._pending is not None:  # left before its first frame was painted: still an arrival
            self._finish_pending(None)

    def _cancel_swipe(self, steps: set[int]) -> None:
        for step in steps:
            self._slots[step].rewind()
        self._load_neighbours_if_due()

    def _animate_to(self, target: float, ms: int, done: Callable[[], None], step: int = 0) -> None:
        self._anim.stop()
        self._anim_done = done
        self._anim_step = step
        self._anim.setStartValue(float(self._offset))
        self._anim.setEndValue(float(target))
        self._anim.setDuration(max(60, ms))
        self._anim.start()

    def _on_anim_value(self, value: object) -> None:
        self._offset = float(value)  # type: ignore[arg-type]
        self.update()

    def _on_anim_finished(self) -> None:
        done, self._anim_done, self._anim_step = self._anim_done, None, 0
        if done is not None:
            done()
        self._say_unplayable()
        if self._pending is None:
            self._run_queued()
        elif self._queued:  # the queued move waits for this clip's first frame, but not for long
            self._chain_timer.start()

    def _run_queued(self) -> None:
        if not self.isEnabled() or self._message is not None:
            self._queued.clear()  # the session ended or was paused: nothing more moves
            return
        if not self.is_animating() and self._queued and self._drag is None:
            self._chain_timer.stop()
            step, how, ns = self._queued.popleft()
            self._go_now(step, how, ns)

    def _grab(self) -> float:
        """A press during an animation grabs the moving page where it is (the offset it is at).

        A committed move (a snap) lands at once: its clip becomes the current one, still off centre
        under the pointer, and the drag goes on from there. A spring-back or a bounce just stops.
        Like a finger on a scrolling list, the grab stops the feed: moves still queued are cancelled.
        """
        self._queued.clear()
        self._chain_timer.stop()
        offset, step = self._offset, self._anim_step
        done, self._anim_done, self._anim_step = self._anim_done, None, 0
        self._anim.stop()  # stop() does not emit finished
        if done is not None:
            done()
            if self.is_animating():  # a bounce chains its spring-back: stop that too
                self._anim_done = None
                self._anim.stop()
        if step:
            offset += step * self.height()
        self._offset = offset
        return offset

    def _bounce(self, step: int) -> None:
        """Nothing there (before the first clip): nudge and spring back."""
        if self.is_animating():
            return
        nudge = 0.07 * self.height() * (1 if step < 0 else -1)
        self._animate_to(nudge, 110, lambda: self._animate_to(0.0, SPRING_MS, lambda: None))

    def _settle(self, step: int, how: str, input_ns: int) -> None:
        settled_ns = self._settled_ns = _now()
        old = dict(self._slots)
        if step == 1:
            self._slots = {-1: old[0], 0: old[1], 1: old[-1]}
        else:
            self._slots = {-1: old[1], 0: old[-1], 1: old[0]}
        self.feed.move(step)
        self._last_step = step
        old[0].pause()
        self._offset = 0.0
        self.is_paused = False
        self._icon_opacity = 0.0
        cur = self._slots[0]
        if cur.clip is None or cur.clip.id != (self.feed.current.id if self.feed.current else None):
            cur.load(self.feed.current, preload=False)
        if not cur.is_playing():
            cur.play()
        self._apply_mute()
        self._neighbours_due = True  # loaded right after the first frame is painted: nothing delays it
        self._begin_pending(how, step, input_ns, settled_ns)
        self.update()
        if cur.failed_now:
            QTimer.singleShot(0, self._skip_current)

    def _load_neighbours_if_due(self) -> None:
        if self._neighbours_due and not self.is_animating() and self._drag is None:
            self._load_neighbours()

    def _load_neighbours(self) -> None:
        """Preload the clips around the current one (or, for the baseline, leave them empty)."""
        self._neighbours_due = False
        if self.preload:
            self.feed.decide_next()  # an arrival listener may have made the feed forget it (redecide_next)
        for step in (-1, 1):
            if self.preload:
                self._neighbour_clip_ok(step)
            else:
                self._slots[step].load(None)

    def _apply_mute(self) -> None:
        for step, slot in self._slots.items():
            slot.set_muted(self.muted or step != 0)

    # == arrivals ================================================================================
    def _begin_pending(self, how: str, step: int, input_ns: int, settled_ns: int) -> None:
        cur = self._slots[0]
        if cur.clip is None:
            return
        position = self.feed.position
        # A revisit: the same clip shown earlier in the feed, or a position already shown (moving back
        # to the first clip is a revisit although nothing precedes it in the history).
        revisit = self.feed.is_revisit() or position <= self._max_position_shown  # navigation, not re-serving
        self._max_position_shown = max(self._max_position_shown, position)
        self._pending = dict(
            clip=cur.clip, position=position, how=how, step=step,
            is_revisit=revisit, input_ns=input_ns, settled_ns=settled_ns,
        )
        self._awaiting_frame = position
        self._first_frame_timer.start()
        # The log needs the view to open at this moment (a pause or a quit right after settling must be
        # booked to this clip), and the order may learn and re-decide before the neighbours preload.
        self.settled.emit(Arrival(first_frame_ns=None, **self._pending))
        self.feed.decide_next()  # no-op when a listener (the session) decided it after learning

    def _finish_pending(self, first_frame_ns: int | None) -> None:
        pending, self._pending = self._pending, None
        self._first_frame_timer.stop()
        if pending is not None:
            if first_frame_ns is not None:
                self._failed.discard(pending["clip"].id)
            arrival = Arrival(first_frame_ns=first_frame_ns, **pending)
            # Emitted from the event loop, not from inside paintEvent, so slow listeners never delay a
            # paint; and before the neighbours are preloaded, so a listener that lets the order
            # re-decide the next clip (Feed.redecide_next) does so before it is preloaded.
            QTimer.singleShot(0, lambda: self.arrived.emit(arrival))
        if self._neighbours_due:
            QTimer.singleShot(0, self._load_neighbours_if_due)
        if self._queued:
            QTimer.singleShot(0, self._run_queued)

    def _first_frame_timed_out(self) -> None:
        if self._pending is not None and not self._slots[0].failed_now:
            self._finish_pending(None)

    # == slot callbacks ==========================================================================
    def _on_slot_frame(self, slot: SlotPlayer) -> None:
        # While the snap animation runs it repaints at its own steady rate and picks up the newest
        # frames; extra repaints for each decoded frame would only make the paint intervals uneven.
        if self.is_animating():
            return
        if slot is self._slots[0] or (self._offset != 0.0 and slot.image is not None):
            self.update()

    def _on_slot_failed(self, slot: SlotPlayer, clip: Clip, message: str) -> None:
        self._failed.add(clip.id)
        if clip.id not in self._reported_bad:
            self._reported_bad.add(clip.id)
            print(f"feedapp: skipping \"{visible(clip.title)}\" ({visible(clip.path)}): {message}", file=sys.stderr)
            self._unplayable_due.append(clip)
            # from the event loop: the feed then reloads a neighbour slot, maybe this very player, which must
            # not get a new source while it is still sending this failure's signals (its next one, the
            # "invalid media" status, would be taken as the new clip's failure)
            QTimer.singleShot(0, self._say_unplayable)
        if slot is self._slots[0] and not self.is_animating() and self._drag is None:
            self._skip_current()
        else:
            self.update()

    def _skip_current(self) -> None:
        cur = self._slots[0]
        if not cur.failed_now or cur.clip is None:
            return
        self._pending = None
        self._first_frame_timer.stop()
        self.clip_failed.emit(self._event("clip_failed", _now(), cur.error))
        self.show_toast(f"Skipped \u201c{cur.clip.title}\u201d: this video could not be played.")
        if all(c.id in self._failed for c in self.feed.catalog):  # every clip, not N failures in a row
            self._none_playable()
            return
        step = self._last_step
        if self._toward(step) is None:
            step = -step
        if self._toward(step) is None:
            return
        self.go(step, "auto_skip")

    def _say_unplayable(self) -> None:
        """Say the failed clips (``clip_unplayable``) once the feed is at rest: the feed then stops
        serving them, and what is on screen during a swipe is never decided again."""
        if self._unplayable_due and not self.is_animating() and self._drag is None:
            due, self._unplayable_due = self._unplayable_due, []
            for clip in due:
                self.clip_unplayable.emit(clip)

    def _none_playable(self) -> None:
        """Every clip of the catalog failed to play: a screen and a terminal line saying so, then stop."""
        clips = list(self.feed.catalog)
        gone = [c for c in clips if not os.path.exists(c.path)]
        if len(gone) == len(clips):
            where = sorted({os.path.dirname(c.path) for c in gone})
            body = (f"The clip files are no longer there ({visible(where[0])}"
                    + (f" and {len(where) - 1} other folder(s)" if len(where) > 1 else "")
                    + "): moved, deleted, or on a drive that was removed. Put them back and start feedapp again.")
        else:
            body = ("Every clip in this catalog failed to play. Check that the files are complete videos "
                    "(.mp4 with H.264 or MPEG-4 works best) and start feedapp again.")
        print(f"feedapp: none of the {len(clips)} clip(s) could be played, so playback stopped: {body}", file=sys.stderr)
        self.set_message(*(self.none_playable_screen or ("None of these clips could be played", body)))
        self.shutdown()

    def _on_slot_loop(self, slot: SlotPlayer, loops: int, ns: int) -> None:
        if slot is self._slots[0]:
            self.loop_completed.emit(self._event("loop", ns, loops))

    def _on_slot_stall(self, slot: SlotPlayer, stalled: bool, ns: int) -> None:
        if slot is self._slots[0]:
            (self.stall_started if stalled else self.stall_ended).emit(self._event("stall_start" if stalled else "stall_end", ns))

    def _on_app_state(self, state: Qt.ApplicationState) -> None:
        focused = state == Qt.ApplicationState.ApplicationActive
        self.set_focused(focused, self.focus_clock.stamp(focused, _now()))

    def set_focused(self, focused: bool, ns: int | None = None) -> None:
        """Report focus changes once per change (also called by the window on activation changes)."""
        if focused == self._focused:
            return
        first = self._focused is None
        self._focused = focused
        if first and focused:
            return  # starting focused is not an event
        ns = _now() if ns is None else ns
        (self.focus_gained if focused else self.focus_lost).emit(self._event("focus_gained" if focused else "focus_lost", ns))

    def _event(self, kind: str, ns: int, value: int | str | None = None) -> PlaybackEvent:
        return PlaybackEvent(kind=kind, ns=ns, clip=self._slots[0].clip, position=self.feed.position, value=value)

    # == painting ================================================================================
    def resizeEvent(self, event: QResizeEvent) -> None:
        dpr = self.devicePixelRatioF()
        target = QSize(round(self.width() * dpr), round(self.height() * dpr))
        for slot in self._slots.values():
            slot.set_target(target)
        super().resizeEvent(event)

    def _poster(self, clip: Clip) -> QPixmap | None:
        if not clip.poster:
            return None
        pm = self._posters.get(clip.id)
        if pm is None:
            pm = QPixmap()
            if not pm.loadFromData(clip.poster):
                return None
            if len(self._posters) > 16:
                self._posters.clear()
            self._posters[clip.id] = pm
        return pm

    def _paint_slot(self, p: QPainter, slot: SlotPlayer, rect: QRectF) -> QRectF:
        """Draw the slot's frame letterboxed in ``rect`` with its caption; return the caption's column.

        The caption and progress bar sit over the video's width (a portrait clip in a wide fullscreen
        window keeps them on the clip, not in the black bar), at the bottom of the window.
        """
        clip = slot.clip
        if clip is None:
            return rect
        if slot.failed_now:
            overlays.failed_clip(p, rect)
            return rect
        column = rect
        # The frame's image was made at the view's size off the UI thread: drawing it is a plain copy.
        pm = slot.image if slot.image is not None else self._poster(clip)
        if pm is not None and not pm.isNull():
            dpr = self.devicePixelRatioF()
            size = pm.size() / dpr
            if slot.image is None or abs(size.width() - rect.width()) > 1 and abs(size.height() - rect.height()) > 1:
                size = size.scaled(rect.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRectF(0, 0, size.width(), size.height())
            target.moveCenter(rect.center())
            if isinstance(pm, QPixmap):
                p.drawPixmap(target, pm, QRectF(pm.rect()))
            else:
                p.drawImage(target, pm, QRectF(pm.rect()))
            if target.width() < rect.width() - 2:
                column = QRectF(target.left(), rect.top(), target.width(), rect.height())
            if slot is self._slots[0]:
                self._frame = target.translated(0, -rect.top())
        overlays.caption(p, clip, column)
        return column

    def message_top(self) -> float:
        """Where toasts and the status line start: below the top fifth of the clip's picture, where clips
        carry their own title. In a window narrower than the clip's shape the picture is letterboxed and
        starts lower than the window, so the window's top fifth would put them on that title."""
        f = self._frame if self._frame is not None else QRectF(self.rect())
        return f.top() + overlays.message_top(f.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        r = QRectF(self.rect())
        p.fillRect(r, overlays.BACKGROUND)
        if self._message is not None:
            overlays.full_message(p, r, *self._message)
            overlays.pill(p, r, self._status, top=18)
            p.end()
            return
        h = r.height()
        cur_column = QRectF(0, self._offset, r.width(), h)
        self._frame = None  # set by the current slot's picture, if it has one
        for step in (-1, 0, 1):
            y = self._offset + step * h
            if y <= -h or y >= h:
                continue
            column = self._paint_slot(p, self._slots[step], QRectF(0, y, r.width(), h))
            if step == 0:
                cur_column = column
        cur = self._slots[0]
        if cur.clip is not None and cur.duration_ms > 0:
            overlays.progress(p, cur_column, cur.position_ms / cur.duration_ms)
        if self._offset == 0.0:
            overlays.play_pause_icon(p, r, self.is_paused, self._icon_opacity)
        # toasts (or the lasting notice), then the status line, below the top fifth where clips carry their
        # own title (the demo's band)
        below = overlays.pill(p, r, self._toast or self._notice, top=self.message_top(), accent=True)
        overlays.pill(p, r, self._status, top=below - r.top() + (8 if self._toast or self._notice else 0))
        if self._help:
            overlays.help_overlay(p, r)
        if not self.started and self._message is None and not self._status:
            overlays.pill(p, r, "Getting clips ready\u2026", top=h * 0.45)
        p.end()
        done_ns = _now()
        self.paint_count += 1
        if self.paint_ns_log is not None:
            self.paint_ns_log.append(done_ns)
        if (
            self._awaiting_frame is not None
            and self._offset == 0.0
            and not self.is_animating()
            and cur.image is not None
            and cur.has_moving_frame()
        ):
            position, self._awaiting_frame = self._awaiting_frame, None
            QTimer.singleShot(0, lambda: self.first_frame_painted.emit((position, done_ns)))
            if self._pending is not None:
                self._finish_pending(done_ns)

    # == pause icon / toast ======================================================================
    def _flash_icon(self, hold: bool) -> None:
        """Paused: the play symbol fades in and stays; resumed: the pause symbol shows and fades away."""
        self._icon_anim.stop()
        if hold:
            self._icon_anim.setStartValue(0.0)
            self._icon_anim.setEndValue(0.85)
            self._icon_anim.setDuration(150)
        else:
            self._icon_anim.setStartValue(0.85)
            self._icon_anim.setEndValue(0.0)
            self._icon_anim.setDuration(600)
        self._icon_anim.start()

    def _on_icon_value(self, value: object) -> None:
        self._icon_opacity = float(value)  # type: ignore[arg-type]
        self.update()

    def _hide_toast(self) -> None:
        self._toast = ""
        self.update()

    # == input: mouse and touch ==================================================================
    def _press(self, y: float, ns: int, touch: bool) -> None:
        if self._help:
            self._help = False
            self.update()
            return
        if not self.started or self._message is not None or not self.isEnabled():
            return
        base = self._grab() if self.is_animating() or self._queued else 0.0
        self._drag = DragTracker(y0=y, ns0=ns, touch=touch, base=base)
        if base:
            self.update()

    def _move(self, y: float, ns: int) -> None:
        d = self._drag
        if d is None:
            return
        first_move = not d.moved
        dy = d.move(y, ns)
        if dy is None:
            return
        if first_move:
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        shown = d.base + dy  # where the page is: a grabbed page starts where the animation left it
        step = step_for(shown)
        h = self.height()
        if self._toward(step) is None:
            self._offset = d.base + dy * RUBBER_BAND  # resistance: nothing there
        else:
            self._offset = max(-h, min(h, shown))
            if step not in d.started:
                d.started.add(step)
                self._begin_swipe(step, committed=False)
        self.update()

    def _release(self, y: float, ns: int) -> None:
        d, self._drag = self._drag, None
        if d is None:
            return
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        h = self.height()
        action, step = d.release(y, ns, h)
        if action == "tap" and self._offset != 0.0:
            action = "spring"  # a tap on a moving page holds it; it then settles where it was going
        if action == "tap":
            self.toggle_pause(ns)
            if self._queued:  # moves asked for while the button was down: no animation will start them
                QTimer.singleShot(0, self._run_queued)
        elif action == "snap" and self._toward(step) is not None:
            how = "touch" if d.touch else ("swipe_next" if step == 1 else "swipe_prev")
            remaining = abs(-step * h - self._offset) / max(1, h)
            self._leave_current()
            self.leaving.emit(how, ns)
            self._animate_to(-step * h, int(SNAP_MS * max(0.55, remaining)), lambda: self._settle(step, how, ns), step=step)
        else:
            started = set(d.started)
            self._animate_to(0.0, SPRING_MS, lambda: self._cancel_swipe(started))

    @staticmethod
    def _synthesized(event: QMouseEvent) -> bool:
        return event.source() != Qt.MouseEventSource.MouseEventNotSynthesized

    def mousePressEvent(self, event: QMouseEvent) -> None:
        ns = _input_ns(event)
        if event.button() == Qt.MouseButton.LeftButton and not self._synthesized(event):
            self._press(event.position().y(), ns, touch=False)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        ns = _input_ns(event)
        if event.buttons() & Qt.MouseButton.LeftButton and not self._synthesized(event):
            self._move(event.position().y(), ns)
        elif self._drag is None:
            self.restart_cursor_idle()

    def restart_cursor_idle(self) -> None:
        """Show the pointer now and hide it again after 2 s without moving (fullscreen only)."""
        if self.cursor().shape() == Qt.CursorShape.BlankCursor:
            self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._cursor_timer.start()

    def _hide_cursor_if_fullscreen(self) -> None:
        """In fullscreen the pointer disappears after 2 s without moving, like a video player's."""
        if self.window().isFullScreen() and self._drag is None:
            self.setCursor(Qt.CursorShape.BlankCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        ns = _input_ns(event)
        if event.button() == Qt.MouseButton.LeftButton and not self._synthesized(event):
            self._release(event.position().y(), ns)

    def event(self, event: QEvent) -> bool:
        t = event.type()
        if t in (QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.TouchEnd, QEvent.Type.TouchCancel):
            ns = _input_ns(event)  # type: ignore[arg-type]
            assert isinstance(event, QTouchEvent)
            points = event.points()
            if points:
                y = points[0].position().y()
                if t == QEvent.Type.TouchBegin:
                    self._press(y, ns, touch=True)
                elif t == QEvent.Type.TouchUpdate:
                    self._move(y, ns)
                elif t == QEvent.Type.TouchEnd:
                    self._release(y, ns)
            if t == QEvent.Type.TouchCancel and self._drag is not None:
                started = set(self._drag.started)
                self._drag = None
                self._animate_to(0.0, SPRING_MS, lambda: self._cancel_swipe(started))
            event.accept()
            return True
        return super().event(event)

    # == input: wheel and trackpad ===============================================================
    def wheelEvent(self, event: QWheelEvent) -> None:
        ns = _input_ns(event)
        event.accept()
        if event.phase() == Qt.ScrollPhase.ScrollBegin:
            self._wheel.begin()  # a new trackpad gesture: unlock at once
        self._wheel_timer.start()  # the gesture lasts until WHEEL_QUIET_MS of quiet
        decided = self._wheel.add(event.angleDelta().y(), event.pixelDelta().y(), ns)
        if decided is not None:
            step, first_ns = decided
            self.go(step, "wheel", first_ns)

    # == input: keys =============================================================================
    def keyPressEvent(self, event: QKeyEvent) -> None:
        ns = _input_ns(event)
        key = event.key()
        K = Qt.Key
        if key in (K.Key_Down, K.Key_J, K.Key_Up, K.Key_K):
            # Every press is a move (queued while the feed is moving); a held key's auto-repeat only
            # moves when the feed is at rest, so holding Down pages steadily and stops on release.
            if not event.isAutoRepeat() or not (self._queued or self.is_animating() or self._drag is not None):
                self.go(1 if key in (K.Key_Down, K.Key_J) else -1, "key", ns)
        elif event.isAutoRepeat():
            return
        elif key == K.Key_Space:
            self.toggle_pause(ns)
        elif key == K.Key_M:
            self.toggle_mute(ns)
        elif key == K.Key_F:
            self.fullscreen_requested.emit()
        elif key == K.Key_Question or event.text() == "?":
            self.toggle_help()
        elif key == K.Key_Q:
            self.quit_requested.emit()
        elif key == K.Key_Escape:
            if self._help:
                self.toggle_help()
            else:
                self.escape_pressed.emit()
        else:
            super().keyPressEvent(event)
