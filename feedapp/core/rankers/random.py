"""``random``: every allowed clip equally likely (the baseline every study needs)."""

from __future__ import annotations

import numpy as np

from feedapp.core.rankers.base import BaseRanker
from feedapp.core.rankers.rng import Rng


class RandomRanker(BaseRanker):
    name = "random"
    description = "uniformly random among the allowed clips (baseline)"
    # epsilon 1: the policy draws uniformly, so the propensity is exactly 1 / allowed clips
    policy_defaults = {"epsilon": 1.0, "max_same_topic": 0, "topic_fatigue": 0.0, "creator_fatigue": 0.0,
                       "new_creator_floor": 0.0, "repeat_penalty": 0.0}

    def scores(self, rng: Rng) -> np.ndarray:
        assert self.space is not None, "bind the ranker to a feature space first"
        return rng.random(self.space.n)
