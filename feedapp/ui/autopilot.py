"""Autopilot: a simulated viewer with a taste drives the real window (``feedapp demo --autopilot cats,art``).

It uses only the swipe view's public API: on each arrival it decides how long to stay, then calls
``view.go(+1, "key")`` from a QTimer, exactly as a key press would. A clip with one of its topics is
watched to the end and often past it into a loop: its length plus 250 ms plus up to 0.8 times its
length more. The others are skipped after about a second (0.7 to 1.3 s). Everything it decides comes
from a ``random.Random`` seeded with ``seed``, one draw per arrival, so the same seed and the same
served clips give the same dwell times.

``speed`` divides the skip times and the looping part (``speed=3`` makes a quicker demo) but never
the first full play of a liked clip, which is also at least ``min_watch_ms`` (default 3500 ms, above
the default skip threshold of 3000 ms): a sped-up demo sends the engine the same kind of signal as a
real viewer. The recorder logs what really happened: play time is measured by the player, not taken
from the autopilot.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from PySide6.QtCore import QObject, QTimer, Signal

from feedapp.config import parse_taste  # noqa: F401 - Qt-free, so the CLI checks --autopilot before a session starts
from feedapp.core.model import Clip
from feedapp.ranges import QT_TIMER_MS_MAX

END_MARGIN_MS = 250  # a liked clip is watched this long past its end, so the first play completes


class Autopilot(QObject):
    decided = Signal(object, float, bool)  # (clip, dwell ms, liked): what it will do with the clip that arrived
    stopped = Signal()

    def __init__(self, view, engine, topics: Iterable[str], seed: int = 0, speed: float = 1.0, *,  # noqa: ANN001
                 max_views: int | None = None, min_watch_ms: float = 3500.0) -> None:
        super().__init__(view)
        if not speed > 0:
            raise ValueError(f"autopilot speed must be above 0, not {speed}")
        self.view = view
        self.engine = engine
        self.topics = frozenset(topics)
        if not self.topics:
            raise ValueError("the autopilot needs at least one topic it likes")
        self.seed = seed
        self.speed = float(speed)
        self.max_views = max_views
        self.min_watch_ms = float(min_watch_ms)
        self.rng = random.Random(f"feedapp-autopilot-{seed}")
        self.views = 0  # swipes it made
        self.liked = 0
        self.plan: list[tuple[str, float, bool]] = []  # (clip id, dwell ms, liked) per arrival
        self.running = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._next)
        view.arrived.connect(self._on_arrived)
        self._planned_early: str | None = None
        if view.current_clip is not None and view.started:  # already playing: plan the current clip now
            self._planned_early = view.current_clip.id
            self._plan(view.current_clip)

    def likes(self, clip: Clip) -> bool:
        return bool(self.topics.intersection(clip.topics))

    def dwell_ms(self, clip: Clip) -> tuple[float, bool]:
        """How long to stay on ``clip`` (ms, already divided by speed) and whether it is to its taste."""
        u = self.rng.random()  # one draw per arrival, whatever the clip
        if self.likes(clip):
            ms = clip.duration_ms + END_MARGIN_MS + clip.duration_ms * 0.8 * u / self.speed
            return max(ms, self.min_watch_ms), True
        return (700.0 + 600.0 * u) / self.speed, False

    def _plan(self, clip: Clip) -> None:
        ms, liked = self.dwell_ms(clip)
        self.plan.append((clip.id, ms, liked))
        self.decided.emit(clip, ms, liked)
        self._timer.start(max(1, min(QT_TIMER_MS_MAX, int(round(ms)))))  # a clip of hours at speed 0.01 stays countable

    def _on_arrived(self, arrival) -> None:  # noqa: ANN001 - Arrival
        if not self.running:
            return
        early, self._planned_early = self._planned_early, None
        if arrival.how == "start" and early == arrival.clip.id:  # the start arrival of a clip planned already
            return
        self._plan(arrival.clip)

    def _next(self) -> None:
        if not self.running:
            return
        if self.max_views is not None and self.views >= self.max_views:
            self.stop()
            return
        if self.view.message is not None:  # nothing to play (an error screen): stop driving
            self.stop()
            return
        liked = bool(self.plan and self.plan[-1][2])
        if self.view.go(1, "key"):
            self.views += 1
            self.liked += liked
        else:  # the next clip is not there yet (demo clips still being made): try again shortly
            self._timer.start(500)

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._timer.stop()
            self.stopped.emit()
