"""Standard normal draws from a decision's score stream (``Rng`` offers uniforms only)."""

from __future__ import annotations

import numpy as np

from feedapp.core.rankers.rng import Rng


def normals(rng: Rng, k: int) -> np.ndarray:
    """``k`` independent N(0, 1) draws (Box-Muller over 2k uniforms of ``rng``)."""
    if k <= 0:
        return np.zeros(0)
    u = np.asarray(rng.random(2 * k), dtype=np.float64)
    return np.sqrt(-2.0 * np.log1p(-u[:k])) * np.cos(2.0 * np.pi * u[k:])
