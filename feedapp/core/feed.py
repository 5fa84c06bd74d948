"""The feed: the sequence a viewer moves through, one clip at a time.

``Feed`` keeps the history of served clips and a cursor into it. Moving back revisits history;
moving forward past the end asks the *order* (a ranker, once there is one) for the next clip.

Deciding and asking are separate: ``decide_next()`` decides the slot after the current one (the
one moment a slot is decided; ``FeedSession.arrive`` calls it after learning the view just closed),
``peek(step)`` only reads what is decided (no side effect: ``None`` for a slot not decided yet).
``move(+1)`` onto an undecided slot decides it first (a driver that does not decide ahead, and the
first clip). What the player preloads is what it will show.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from feedapp.core.catalog import Catalog
from feedapp.core.model import Clip


class Order(Protocol):
    """Chooses the next clip. The ranker issue fills this with learners; ``SimpleOrder`` is the baseline."""

    name: str

    def pick(self, candidates: Sequence[Clip], history: Sequence[Clip]) -> Clip: ...


class SimpleOrder:
    """Seeded shuffle that alternates topics; serves every clip once before any repeats."""

    name = "simple"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def pick(self, candidates: Sequence[Clip], history: Sequence[Clip]) -> Clip:
        last_topics = set(history[-1].topics) if history else set()
        fresh = [c for c in candidates if not (set(c.topics) & last_topics)]
        pool = fresh or list(candidates)
        return pool[self._rng.randrange(len(pool))]


class Feed:
    def __init__(self, catalog: Catalog, order: Order | None = None) -> None:
        self.catalog = catalog
        self.order: Order = order or SimpleOrder()
        self._history: list[Clip] = []
        self._cursor = -1
        self._furthest = -1  # the furthest position shown so far
        self._back_again = False
        self._served_this_cycle: set[str] = set()

    @property
    def history(self) -> tuple[Clip, ...]:
        return tuple(self._history)

    @property
    def decided(self) -> int:
        """How many slots are decided (``len(history)``, without copying it)."""
        return len(self._history)

    @property
    def position(self) -> int:
        """Index of the current clip in the history (0-based); -1 before the first clip."""
        return self._cursor

    @property
    def current(self) -> Clip | None:
        return self._history[self._cursor] if self._cursor >= 0 else None

    def is_revisit(self) -> bool:
        """True when the viewer came back to a position already shown (swiped back, or forward again
        through history). A clip the order serves again in a new slot is not a revisit: the order
        chose it, and that choice is logged and learned like any other."""
        return self.current is not None and self._back_again

    def peek(self, step: int) -> Clip | None:
        """The clip one ``step`` away (+1 next, -1 previous) if it is decided; no side effect."""
        target = self._cursor + step
        if 0 <= target < len(self._history):
            return self._history[target]
        return None

    def decide_next(self) -> Clip | None:
        """Decide the slot after the current one if it is not decided yet; return its clip (None
        when the order has nothing to serve). The only place a new slot is decided."""
        if self._cursor + 1 < len(self._history):
            return self._history[self._cursor + 1]
        nxt = self._choose()
        if nxt is not None:
            self._history.append(nxt)
        return nxt

    def move(self, step: int) -> Clip | None:
        """Make the clip ``step`` away current; return it, or None (and stay) when there is none.
        Moving forward onto a slot not decided yet decides it (``decide_next``)."""
        clip = self.decide_next() if step == 1 else self.peek(step)
        if clip is None:
            return None
        self._cursor += step
        self._back_again = self._cursor <= self._furthest  # this position was shown before
        self._furthest = max(self._furthest, self._cursor)
        return clip

    def start(self) -> Clip | None:
        """Serve the first clip (no-op if started)."""
        return self.current if self._cursor >= 0 else self.move(1)

    def redecide_next(self) -> None:
        """Forget an undisplayed next pick so the order can choose again at the next ``decide_next``
        (after it learned something)."""
        self._drop_next()

    def _drop_next(self) -> bool:
        """Forget an undisplayed next pick; True when there was one."""
        if len(self._history) > self._cursor + 1 and self._cursor + 1 == len(self._history) - 1:
            dropped = self._history.pop()
            if not any(c.id == dropped.id for c in self._history):
                self._served_this_cycle.discard(dropped.id)
            return True
        return False

    def _choose(self) -> Clip | None:
        clips = self.catalog.clips
        if not clips:
            return None
        candidates = [c for c in clips if c.id not in self._served_this_cycle]
        if not candidates:  # everything served: start a new cycle, but never the same clip twice in a row
            last = self._history[-1].id if self._history else None
            candidates = [c for c in clips if c.id != last]
            if not candidates:
                return None
            self._served_this_cycle.clear()
        clip = self.order.pick(candidates, self._history)
        self._served_this_cycle.add(clip.id)
        return clip
