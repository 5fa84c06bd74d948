"""Counter-based randomness for one decision: cheap, and a pure function of its keys.

Why not ``numpy.random.default_rng([seed, position, views])``: building a SeedSequence costs ~60 us,
more than the rest of a small-catalog decision. SplitMix64 over the keys gives the same property
(the draw for a slot depends only on seed, slot and views learned) for about a microsecond, and a
vectorised variant fills arrays (the ``random`` ranker's scores) at numpy speed.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import numpy as np

_M = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


class Rng(Protocol):
    """What rankers and the policy draw from: ``SplitMix`` in the engine, numpy's ``Generator`` alone."""

    def random(self, size: Any = None) -> Any: ...

    def integers(self, high: int) -> Any: ...


def _mix(z: int) -> int:
    z = (z + _GOLDEN) & _M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M
    return z ^ (z >> 31)


_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_C1, _C2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_STEPS: dict[int, np.ndarray] = {}


def _steps(size: int) -> np.ndarray:
    """(1, 2, ..., size) * golden ratio modulo 2**64, cached per size (read-only)."""
    a = _STEPS.get(size)
    if a is None:
        a = np.arange(1, size + 1, dtype=np.uint64) * np.uint64(_GOLDEN)
        a.flags.writeable = False
        if len(_STEPS) < 64:
            _STEPS[size] = a
    return a


def absorb(state: int, *keys: int) -> int:
    """The state after taking in ``keys``: ``SplitMix(*a, *b)`` is ``SplitMix.at(absorb(absorb(0, *a), *b))``,
    so a caller that draws for many keys with a common prefix absorbs the prefix once."""
    for k in keys:
        state = _mix(state ^ (int(k) & _M))
    return state


class SplitMix:
    """A tiny generator with the part of numpy's ``Generator`` API the rankers and policy use."""

    def __init__(self, *keys: int) -> None:
        self._state = absorb(0, *keys)

    @classmethod
    def at(cls, state: int) -> SplitMix:
        """The generator whose keys were absorbed into ``state`` (``absorb``)."""
        rng = cls.__new__(cls)
        rng._state = state
        return rng

    def _next(self) -> int:
        self._state = (self._state + _GOLDEN) & _M
        return _mix(self._state)

    def random(self, size: int | None = None):
        """A float in [0, 1), or an array of ``size`` of them."""
        if size is None:  # ``_mix(self._next())`` written out: the simulator draws several per view
            z = self._state = (self._state + _GOLDEN) & _M
            z = (z + _GOLDEN) & _M
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M
            return ((z ^ (z >> 31)) >> 11) * (1.0 / (1 << 53))
        # array arithmetic on uint64 wraps modulo 2**64 without a warning (no errstate needed); in place
        # on one temporary: the operations of ``z = (z ^ (z >> 30)) * C1`` ... without a new array each
        z = _steps(int(size)) + np.uint64(self._next())
        t = z >> _S30
        z ^= t
        z *= _C1
        np.right_shift(z, _S27, out=t)
        z ^= t
        z *= _C2
        np.right_shift(z, _S31, out=t)
        z ^= t
        z >>= _S11
        out = z.astype(np.float64)
        out *= 1.0 / (1 << 53)
        return out

    def integers(self, high: int) -> int:
        """An int in [0, high)."""
        if high <= 0:
            raise ValueError(f"high must be 1 or more, not {high}")
        return int(self.random() * high) % high

    def __getattr__(self, name: str):  # noqa: ANN204 - only for names it does not have
        """A plugin's ``scores(rng)`` that asks for numpy's other draws (``rng.normal``, ``rng.beta``, ...)
        is told what it has and how to get the rest, instead of a bare AttributeError."""
        if name.startswith("_") or not hasattr(np.random.Generator, name):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        raise AttributeError(
            f"the random stream given to scores() has random(size) and integers(high) only, not {name}(); "
            f"for numpy's other draws make a Generator from it: np.random.default_rng(rng.integers(2**63)).{name}(...)"
            " (docs/rankers.md)")


SCORE_STREAM = 0x53434F5245  # "SCORE": the key that separates a ranker's score draws from the policy's


def decision_streams(seed: int, position: int, views: int) -> tuple[SplitMix, SplitMix]:
    """(score stream, policy stream) for the decision of slot ``position`` after ``views`` views.

    The two are independent: a ranker that draws random scores (``random``, a Thompson-sampling
    plugin) draws them from the first, the policy samples the served clip from the second. So the
    scores are part of the slot's context, and the propensity the policy computes from them is the
    exact probability of its own draw, whatever epsilon is. Replay rebuilds both from the same keys.
    """
    # ``absorb(_seed_state(seed), position, views)`` written out (one call fewer per decision)
    state = _mix(_mix(_seed_state(int(seed) & _M) ^ (int(position) & _M)) ^ (int(views) & _M))
    policy = SplitMix.at(state)
    score = SplitMix.at(_mix(state ^ SCORE_STREAM))  # = SplitMix(seed, position, views, SCORE_STREAM)
    return score, policy


@functools.lru_cache(maxsize=4096)
def _seed_state(seed: int) -> int:
    """``absorb(0, seed)``: the same for every decision of an engine, so taken in once."""
    return _mix(seed)
