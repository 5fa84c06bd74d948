"""An example ranker plugin: the average reward of each topic, with a bonus for topics barely tried.

Run it with ``feedapp demo --ranker examples/plugins/topic_average.py:TopicAverage`` (once the app
takes plugin specs), or in replay: ``feedapp replay --db data/feed.db --session ab12 --ranker foryou
examples/plugins/topic_average.py:TopicAverage``. Edit it while the feed runs: on save it is
reloaded and its state rebuilt from the session's views. docs/rankers.md walks through it.
"""

from __future__ import annotations

import numpy as np

from feedapp.core.model import Clip
from feedapp.core.rankers import BaseRanker, Param


class TopicAverage(BaseRanker):
    name = "topic-average"
    description = "average reward per topic, plus a bonus for topics tried only a few times"
    is_learner = True
    own_params = (
        Param("prior_weight", 2.0, 0.0, 100.0, "pseudo-views at reward 0 that every topic starts with"),
        Param("novelty", 0.3, 0.0, 5.0, "bonus for a topic seen k times: novelty / sqrt(1 + k)"),
    )

    def __init__(self, seed: int = 0, **params: object) -> None:
        super().__init__(seed, **params)  # checks every parameter against the spec above
        self.total: dict[str, float] = {}  # topic -> sum of rewards
        self.count: dict[str, int] = {}  # topic -> views

    def learn_one(self, clip: Clip, reward: float) -> None:
        for t in clip.topics:
            self.total[t] = self.total.get(t, 0.0) + reward
            self.count[t] = self.count.get(t, 0) + 1

    def _topic_values(self) -> np.ndarray:
        assert self.space is not None
        w = float(self.params["prior_weight"])
        bonus = float(self.params["novelty"])
        out = np.empty(len(self.space.topics))
        for t, j in self.space.topic_index.items():
            k = self.count.get(t, 0)
            out[j] = self.total.get(t, 0.0) / (k + w) if k + w > 0 else 0.0
            out[j] += bonus / np.sqrt(1.0 + k)
        return out

    def scores(self, rng) -> np.ndarray:
        space = self.space
        assert space is not None, "bind the ranker to a feature space first"
        if not space.topics:
            return np.zeros(space.n)
        T = space.T.astype(np.float64)
        per_clip = T @ self._topic_values()
        return per_clip / np.maximum(T.sum(axis=1), 1.0)  # clips without topics score 0

    def explain(self, row: int) -> tuple[str, ...]:
        assert self.space is not None
        clip = self.space.clips[row]
        return tuple(f"{t}: {self.count.get(t, 0)} views" for t in clip.topics)
