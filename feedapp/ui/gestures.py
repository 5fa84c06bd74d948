"""Gesture decisions as plain Python (no Qt): when a drag snaps or springs back, when a wheel gesture
moves one clip. Kept apart from the widget so the thresholds are read and tested in one place.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

DRAG_SLOP_PX = 8  # below this a press/release is a tap (pause), not a drag
FLING_PX_PER_MS = 0.6  # a quick flick snaps even when short
SNAP_FRACTION = 0.25  # past a quarter of the height a drag snaps to the neighbour
VELOCITY_WINDOW_NS = 100_000_000  # velocity from the last 100 ms of movement
RUBBER_BAND = 0.3  # how far the view follows a drag towards nothing (before the first clip)

WHEEL_QUIET_MS = 250  # a wheel/trackpad gesture ends after this much quiet
WHEEL_ANGLE_STEP = 120  # one notch of a mouse wheel
WHEEL_PIXEL_STEP = 60  # trackpads: this many pixels of scrolling make one clip


def step_for(dy: float) -> int:
    """Dragging up (negative dy) goes to the next clip (+1), dragging down to the previous (-1)."""
    return 1 if dy < 0 else -1


@dataclass
class DragTracker:
    """One press-move-release (mouse or finger) and what it should do when released."""

    y0: float
    ns0: int
    touch: bool
    samples: deque = field(default_factory=lambda: deque(maxlen=16))
    moved: bool = False
    started: set = field(default_factory=set)  # neighbours (+1/-1) already told to start playing
    base: float = 0.0  # the page's offset when pressed: non-zero when a moving page was grabbed mid-snap

    def __post_init__(self) -> None:
        self.samples.append((self.ns0, self.y0))

    def move(self, y: float, ns: int) -> float | None:
        """Record a move; the displacement once the drag is past the tap slop, else None."""
        self.samples.append((ns, y))
        dy = y - self.y0
        if not self.moved and abs(dy) < DRAG_SLOP_PX:
            return None
        self.moved = True
        return dy

    def velocity(self, now_ns: int) -> float:
        """Pixels per millisecond over the last 100 ms (negative: moving up)."""
        recent = [s for s in self.samples if now_ns - s[0] <= VELOCITY_WINDOW_NS]
        if len(recent) < 2 or recent[-1][0] <= recent[0][0]:
            return 0.0
        return (recent[-1][1] - recent[0][1]) / ((recent[-1][0] - recent[0][0]) / 1e6)

    def release(self, y: float, ns: int, height: float) -> tuple[str, int]:
        """('tap', 0), ('snap', step) when far enough or flung, or ('spring', step) to go back."""
        self.samples.append((ns, y))
        if not self.moved:
            return "tap", 0
        dy = y - self.y0
        step = step_for(dy)
        v = self.velocity(ns)
        far = abs(dy) > height * SNAP_FRACTION
        fling = abs(v) > FLING_PX_PER_MS and (v < 0) == (dy < 0) and abs(dy) > DRAG_SLOP_PX * 2
        return ("snap" if far or fling else "spring"), step


class WheelGesture:
    """Turns a burst of wheel notches or trackpad deltas into at most one move per gesture.

    The caller ends the gesture after ``WHEEL_QUIET_MS`` without events (a timer), and calls
    :meth:`begin` when a trackpad reports a new gesture (scroll phase 'begin').
    """

    def __init__(self) -> None:
        self.end()

    def end(self) -> None:
        self.locked = False
        self.accumulated = 0.0
        self.first_ns: int | None = None

    def begin(self) -> None:
        self.end()

    def add(self, angle_y: int, pixel_y: int, ns: int) -> tuple[int, int] | None:
        """Add one event's delta; return (step, first event's ns) the first time the gesture is big enough."""
        if self.locked:
            return None
        if self.first_ns is None:
            self.first_ns = ns  # the gesture's first event is the input that decides
        self.accumulated += pixel_y * (WHEEL_ANGLE_STEP / WHEEL_PIXEL_STEP) if pixel_y else angle_y
        if abs(self.accumulated) < WHEEL_ANGLE_STEP:
            return None
        self.locked = True
        return (1 if self.accumulated < 0 else -1), self.first_ns
