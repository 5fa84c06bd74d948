"""View -> reward: how much a view says the viewer wanted this clip.

Why debias by duration: raw watch time rewards long clips (a 30 s clip watched for 6 s "beats" a
6 s clip watched to the end) and raw watch ratio rewards short ones. Following Kuaishou's D2Q
(Zhan et al., KDD 2022, "Deconfounding Duration Bias in Watch-time Prediction"), the signal is the
*quantile* of the watch time among views of clips of similar length: watching more than is typical
for that length is positive, less is negative, whatever the length.

``DurationQuantiles`` keeps, per duration bucket, the watch times seen so far, blended with a prior
worth ``prior_weight`` views so that the very first view already gets a sensible reward. The prior
is a log-logistic distribution of play time whose median is ``typical_play_s(d) = min(d, 3 + 0.35 d)``
seconds for a clip of ``d`` seconds (short clips are typically watched to the end, long ones for a
third or so), with shape ``PRIOR_SHAPE``.

The reward (``RewardConfig`` holds the weights) is, in order:

====================  ==============================================================================
part                  value
====================  ==============================================================================
watch                 ``2 q - 1`` in [-1, 1], ``q`` the duration-bucket quantile of ``play_ms``
skip                  if ``skipped``: ``min(watch, 0) - skip_penalty`` (quick skips are negative)
loops                 ``+ loop_bonus`` per completed play after the first (a loop), at most ``max_loop_bonus``
revisit               ``+ revisit_bonus`` when the viewer came back to the clip
like                  ``+ like_bonus``
not interested        the reward is ``not_interested_reward`` whatever else happened
====================  ==============================================================================

and is clipped to [-2, 2]. Negative ``dwell_ms``/``play_ms``/``loops`` or NaN are an error
(``ViewError``); absurdly long plays are capped at ``max_watch_ratio`` times the clip length.
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections import deque
from dataclasses import dataclass

from feedapp.core.features import DURATION_EDGES_S, duration_bucket
from feedapp.core.model import Clip, View, quick_init

PRIOR_SHAPE = 2.5


class ViewError(ValueError):
    """A view that cannot be real (negative or NaN durations, unknown clip)."""


def typical_play_s(duration_s: float) -> float:
    """The prior's median play time for a clip of ``duration_s`` seconds."""
    d = max(duration_s, 0.5)
    return min(d, 3.0 + 0.35 * d)


def prior_cdf(play_s: float, duration_s: float) -> float:
    """Prior probability that a view of a clip this long plays for less than ``play_s``."""
    if play_s <= 0:
        return 0.0
    m = typical_play_s(duration_s)
    return 1.0 / (1.0 + (play_s / m) ** -PRIOR_SHAPE)


class DurationQuantiles:
    """Watch-time quantiles per duration bucket, learned online on top of a prior.

    Share one instance between engines to get population quantiles (as D2Q does); give each engine
    its own for a per-viewer scale. ``window`` bounds memory and lets the scale follow drift.
    """

    def __init__(self, prior_weight: float = 20.0, window: int = 2000) -> None:
        if prior_weight < 0 or not math.isfinite(prior_weight):
            raise ValueError(f"prior_weight must be a finite number >= 0, not {prior_weight}")
        if window < 1:
            raise ValueError(f"window must be 1 or more, not {window}")
        self.prior_weight = prior_weight
        self.window = window
        n = len(DURATION_EDGES_S) + 1
        self._sorted: list[list[float]] = [[] for _ in range(n)]
        self._recent: list[deque[float]] = [deque() for _ in range(n)]

    def quantile(self, play_ms: float, duration_ms: float) -> float:
        """Where ``play_ms`` falls among plays of clips of this length, in (0, 1)."""
        b = duration_bucket(duration_ms)
        xs = self._sorted[b]
        ratio = play_ms / max(duration_ms, 1.0)
        lo = bisect.bisect_left(xs, ratio)
        hi = bisect.bisect_right(xs, ratio)
        emp = lo + 0.5 * (hi - lo)
        prior = prior_cdf(play_ms / 1000.0, duration_ms / 1000.0)
        q = (self.prior_weight * prior + emp + 0.5) / (self.prior_weight + len(xs) + 1.0)
        return min(max(q, 0.0), 1.0)

    def observe(self, play_ms: float, duration_ms: float) -> None:
        b = duration_bucket(duration_ms)
        ratio = play_ms / max(duration_ms, 1.0)
        bisect.insort(self._sorted[b], ratio)
        self._recent[b].append(ratio)
        if len(self._recent[b]) > self.window:
            old = self._recent[b].popleft()
            xs = self._sorted[b]
            del xs[bisect.bisect_left(xs, old)]

    def count(self) -> int:
        return sum(len(x) for x in self._sorted)


@dataclass(frozen=True)
class RewardConfig:
    skip_penalty: float = 0.5
    loop_bonus: float = 0.1
    max_loop_bonus: float = 0.3
    revisit_bonus: float = 0.5
    like_bonus: float = 1.0
    not_interested_reward: float = -2.0
    max_watch_ratio: float = 20.0


@quick_init
@dataclass(frozen=True)
class Reward:
    """The reward and its parts, so a panel (and a test) can say why."""

    value: float
    quantile: float
    parts: tuple[tuple[str, float], ...]


def check_view(view: View) -> None:
    """Raise ``ViewError`` (one clear sentence) for a view no clock could have measured."""
    for name, v in (("dwell_ms", view.dwell_ms), ("play_ms", view.play_ms), ("loops", view.loops),
                    ("paused_ms", view.paused_ms), ("unfocused_ms", view.unfocused_ms)):
        t = type(v)
        # int: always finite; float checked first (the common case) without the Real check's cost
        if t is not int and not (math.isfinite(v) if t is float else isinstance(v, numbers.Real) and math.isfinite(v)):
            raise ViewError(f"view of clip {view.clip_id!r}: {name} must be a finite number, not {v!r}")
        if v < 0:
            raise ViewError(f"view of clip {view.clip_id!r}: {name} must be 0 or more, not {v}")


UNPLAYABLE_EXIT = "auto_skip"
"""The exit of a view whose clip could not be played (the player moved on by itself). Such a view is
not a skip (``is_skip``) and not learned (``FeedEngine.finish`` ignores it): it says nothing about
what the viewer wants."""


def is_skip(play_ms: float, loops: int, duration_ms: float, threshold_ms: float, exit: str = "") -> bool:
    """The skip rule: ``play_ms`` below the session's threshold, unless the clip was watched to its end.

    Watched to its end = a completed play (``loops >= 1``) or ``play_ms >= duration_ms``; so a clip
    shorter than the threshold watched to its end is never a skip, while one left before its end is.
    A clip that could not be played (``exit == UNPLAYABLE_EXIT``) is never a skip.
    """
    if exit == UNPLAYABLE_EXIT:
        return False
    return play_ms < threshold_ms and loops < 1 and play_ms < duration_ms


SKIP_THRESHOLD_MS = 3000
"""The skip threshold when nobody set one: the app's settings, study files and the simulators all start
from 3000 ms (a view with less play time that did not reach the clip's end is a skip)."""


def view_of(
    clip: Clip,
    play_ms: float,
    *,
    threshold_ms: float = SKIP_THRESHOLD_MS,
    dwell_ms: float | None = None,
    paused_ms: float = 0.0,
    liked: bool = False,
    not_interested: bool = False,
    exit: str = "swipe_next",
    position: int | None = None,
) -> View:
    """The ``View`` the player would record for ``clip`` played for ``play_ms`` in all (loops included):
    ``loops`` = completed plays (``play_ms // duration``) and ``skipped`` by ``is_skip`` at
    ``threshold_ms``, so a driver of its own (a simulated viewer, a script) gets views measured by
    the app's rules. ``dwell_ms`` (time on screen) defaults to ``play_ms + paused_ms``. Raises
    ``ViewError`` for a negative or non-finite time (``check_view``)."""
    duration = max(int(clip.duration_ms), 1)
    for name, v in (("play_ms", play_ms), ("paused_ms", paused_ms)):
        if not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
            raise ViewError(f"view of clip {clip.id!r}: {name} must be a finite number of 0 or more, not {v!r}")
    loops = int(play_ms // duration)
    view = View(clip_id=clip.id, dwell_ms=play_ms + paused_ms if dwell_ms is None else dwell_ms, play_ms=play_ms,
                loops=loops, skipped=is_skip(play_ms, loops, duration, threshold_ms, exit), liked=liked,
                not_interested=not_interested, exit=exit, paused_ms=paused_ms, position=position)
    check_view(view)
    return view


def compute_reward(
    view: View,
    duration_ms: float,
    quantiles: DurationQuantiles | None = None,
    config: RewardConfig = RewardConfig(),
) -> Reward:
    """The reward for ``view`` of a clip lasting ``duration_ms`` (see the module docstring)."""
    check_view(view)
    duration_ms = duration_ms if math.isfinite(duration_ms) and duration_ms > 0 else 1000.0
    play = min(float(view.play_ms), config.max_watch_ratio * duration_ms)
    if quantiles is None:
        q = prior_cdf(play / 1000.0, duration_ms / 1000.0)
    else:
        q = quantiles.quantile(play, duration_ms)
    parts: list[tuple[str, float]] = []
    watch = 2.0 * q - 1.0
    parts.append(("watch", watch))
    value = watch
    if view.skipped:
        skip = min(watch, 0.0) - config.skip_penalty - watch
        parts.append(("skip", skip))
        value += skip
    if view.loops > 1 and not view.skipped:  # ``loops`` counts completed plays: 2 = watched, then again
        bonus = min(config.loop_bonus * min(view.loops - 1, 1000), config.max_loop_bonus)
        parts.append(("loops", bonus))
        value += bonus
    if view.revisit:
        parts.append(("revisit", config.revisit_bonus))
        value += config.revisit_bonus
    if view.liked:
        parts.append(("like", config.like_bonus))
        value += config.like_bonus
    if view.not_interested:
        parts.append(("not_interested", config.not_interested_reward - value))
        value = config.not_interested_reward
    value = min(max(value, -2.0), 2.0)
    return Reward(value=value, quantile=q, parts=tuple(parts))
