"""What the player reports, as small frozen dataclasses carried by Qt signals (see SwipeView).

They hold only plain values (a Clip, ints, strings), so the logging code that receives them needs no
Qt. All times are ``time.monotonic_ns()`` stamped when the input event arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

from feedapp.core.model import Clip

HOWS = ("swipe_next", "swipe_prev", "key", "wheel", "touch", "start", "auto_skip")
EVENT_KINDS = ("pause", "resume", "mute", "unmute", "loop", "stall_start", "stall_end",
               "focus_lost", "focus_gained", "clip_failed")


@dataclass(frozen=True)
class Arrival:
    """A clip became the active clip: the snap animation settled on it and its first frame was painted.

    ``how`` is one of ``swipe_next``/``swipe_prev`` (mouse drag), ``key``, ``wheel``, ``touch``,
    ``start`` (first clip) or ``auto_skip`` (moved on by itself past a clip that could not be played);
    ``step`` says the direction (+1 next, -1 previous, 0 start). ``is_revisit``: this clip or this
    position was shown before in the feed (going back is a revisit). Times: ``input_ns`` when the
    deciding input happened (key press, first wheel event of the gesture, drag/touch release),
    ``settled_ns`` when the animation settled, ``first_frame_ns`` when the first frame of this clip
    decoded after it started playing was painted (None if none came within 3 s, or the viewer moved on
    before one was painted).
    """

    clip: Clip
    position: int
    how: str
    step: int
    is_revisit: bool
    input_ns: int
    settled_ns: int
    first_frame_ns: int | None

    @property
    def first_frame_ms(self) -> float | None:
        """From the swipe settling to the first frame painted (the impression's ``first_frame_ms``)."""
        return None if self.first_frame_ns is None else (self.first_frame_ns - self.settled_ns) / 1e6


@dataclass(frozen=True)
class PlaybackEvent:
    """Anything else with a timestamp (``kind`` in EVENT_KINDS) about the clip at ``position``.

    ``value`` is the number of completed loops for ``loop`` and the message for ``clip_failed``.
    """

    kind: str
    ns: int
    clip: Clip | None
    position: int
    value: int | str | None = None
