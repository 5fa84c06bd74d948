"""``following``: only clips of followed creators (``engine.follow``), falling back to ``popular``."""

from __future__ import annotations

import numpy as np

from feedapp.core.rankers.popular import PopularRanker


class FollowingRanker(PopularRanker):
    name = "following"
    description = "only creators you follow, most viewed first; popular clips when none is allowed"

    def restrict(self, allowed: np.ndarray) -> np.ndarray:
        """Followed creators' clips among ``allowed`` (all of ``allowed`` when nobody is followed)."""
        space = self.space
        if space is None or not self.world.following:
            return allowed
        ids = [space.creator_index[c] for c in self.world.following if c in space.creator_index]
        if not ids:
            return allowed
        return allowed & np.isin(space.creator_of, np.asarray(ids))  # empty: the policy falls back

    def explain(self, row: int) -> tuple[str, ...]:
        assert self.space is not None
        creator = self.space.clips[row].creator
        tag = "followed" if creator in self.world.following else "popular fallback"
        return (tag, *super().explain(row))
