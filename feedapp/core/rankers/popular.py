"""``popular``: most viewed clips first, counted over everybody (``World.popularity``)."""

from __future__ import annotations

import numpy as np

from feedapp.core.rankers.base import BaseRanker
from feedapp.core.rankers.rng import Rng


class PopularRanker(BaseRanker):
    name = "popular"
    description = "most viewed first (global view counts), with a little exploration"
    policy_defaults = {"epsilon": 0.05, "temperature": 0.0, "topic_fatigue": 0.0, "creator_fatigue": 0.0,
                       "new_creator_floor": 0.0, "repeat_penalty": 2.0}

    def __init__(self, seed: int = 0, **params: object) -> None:
        super().__init__(seed, **params)
        self._cache: tuple[object, ...] = ()
        self._vec = np.zeros(0)

    def popularity(self) -> np.ndarray:
        """log(1 + views) scaled to [0, 1] per row (cached until a view is counted)."""
        assert self.space is not None, "bind the ranker to a feature space first"
        pop = self.world.popularity
        key = (id(pop), pop.version, self.space.n)
        if key != self._cache:
            v = np.log1p(pop.vector(self.space))
            top = np.maximum.reduce(v) if v.size else 0.0  # = v.max(), without the method's Python wrapper
            self._vec = v / top if top > 0 else v
            self._cache = key
        return self._vec

    def scores(self, rng: Rng) -> np.ndarray:
        return self.popularity().copy()

    def explain(self, row: int) -> tuple[str, ...]:
        assert self.space is not None
        return (f"{self.world.popularity.counts.get(self.space.clips[row].id, 0)} views",)
