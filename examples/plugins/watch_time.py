"""An example ranker plugin that learns from the whole view, not from the reward: per topic, how much
of its clips the viewer really watched (play time over duration, loops included), and how often the
viewer swiped back to see one again.

``learn_one(self, clip, reward, view)`` declares the third parameter, so the engine passes the
whole ``feedapp.core.model.View`` (dwell_ms, play_ms, loops, exit, position, ...; docs/rankers.md).
Try it: ``feedapp simulate --ranker examples/plugins/watch_time.py:WatchTime``, ``feedapp demo
--ranker examples/plugins/watch_time.py:WatchTime``, ``feedapp check-ranker
examples/plugins/watch_time.py:WatchTime``, or as a lab study condition (docs/researchers.md).
"""

from __future__ import annotations

import numpy as np

from feedapp.core.model import Clip, View
from feedapp.core.rankers import BaseRanker, Param

MAX_RATIO = 3.0  # play time counted up to three times the clip's duration


class WatchTime(BaseRanker):
    name = "watch-time"
    description = "per topic: the share of its clips really watched (loops included), plus swipes back"
    is_learner = True
    own_params = (
        Param("prior_weight", 3.0, 0.0, 100.0, "pseudo-views at the prior watch ratio that every topic starts with"),
        Param("prior", 0.5, 0.0, MAX_RATIO, "the watch ratio a topic is assumed to have before any view"),
        Param("back_bonus", 0.5, 0.0, 5.0, "added to the watch ratio of a view the viewer swiped back to"),
    )

    def __init__(self, seed: int = 0, **params: object) -> None:
        super().__init__(seed, **params)
        self.watched: dict[str, float] = {}  # topic -> sum of watch ratios
        self.count: dict[str, int] = {}  # topic -> views

    def learn_one(self, clip: Clip, reward: float, view: View | None = None) -> None:
        if view is None:  # called without the view (plain use of the ranker): the reward stands in
            ratio = max(float(reward), 0.0)
        else:
            ratio = min(view.play_ms / max(float(clip.duration_ms), 1.0), MAX_RATIO)
            if view.revisit:  # the viewer came back to it: worth more than its play time says
                ratio += float(self.params["back_bonus"])
        for t in clip.topics:
            self.watched[t] = self.watched.get(t, 0.0) + ratio
            self.count[t] = self.count.get(t, 0) + 1

    def _topic_values(self) -> np.ndarray:
        assert self.space is not None
        w, prior = float(self.params["prior_weight"]), float(self.params["prior"])
        out = np.empty(len(self.space.topics))
        for t, j in self.space.topic_index.items():
            k = self.count.get(t, 0)
            out[j] = (self.watched.get(t, 0.0) + w * prior) / (k + w) if k + w > 0 else prior
        return out

    def scores(self, rng) -> np.ndarray:
        space = self.space
        assert space is not None, "bind the ranker to a feature space first"
        if not space.topics:
            return np.zeros(space.n)
        T = space.T.astype(np.float64)
        return (T @ self._topic_values()) / np.maximum(T.sum(axis=1), 1.0)

    def explain(self, row: int) -> tuple[str, ...]:
        assert self.space is not None
        clip = self.space.clips[row]
        return tuple(f"{t}: watched {self.watched.get(t, 0.0) / max(self.count.get(t, 0), 1):.2f} of a clip"
                     for t in clip.topics)
