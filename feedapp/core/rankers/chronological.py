"""``chronological``: newest clip first (``Clip.created``), older ones after, then round again."""

from __future__ import annotations

import numpy as np

from feedapp.core.rankers.base import BaseRanker
from feedapp.core.rankers.rng import Rng


class ChronologicalRanker(BaseRanker):
    name = "chronological"
    description = "newest first by creation date, like a following tab; clips without a date come last"
    # scores are in [0, 1]; a repeat penalty of 2 puts every served clip behind every unserved one
    policy_defaults = {"epsilon": 0.0, "temperature": 0.0, "max_same_topic": 0, "topic_fatigue": 0.0,
                       "creator_fatigue": 0.0, "new_creator_floor": 0.0, "repeat_penalty": 2.0}

    def scores(self, rng: Rng) -> np.ndarray:
        assert self.space is not None, "bind the ranker to a feature space first"
        return self.space.created_rank.copy()

    def explain(self, row: int) -> tuple[str, ...]:
        assert self.space is not None
        created = self.space.clips[row].created
        return (f"created {created}" if created else "no creation date",)
