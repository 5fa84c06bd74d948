"""``ts_topic``: Thompson sampling per topic and per creator, with decayed counts (a peer baseline).

Why this peer: it is the simplest strong bandit for a feed whose taste is mostly "which topics,
which creators": about 60 lines, no features, no tuning, and it keeps exploring where it is unsure.

State: for each topic and each creator, a decayed count ``n`` and decayed reward sum ``s`` (every
view multiplies all of them by ``decay``, then adds 1 and the reward to the clip's topics and
creator). Belief about an arm's mean reward: N(s / (n + 1), noise^2 / (n + 1)) (a prior of one
pseudo-view at 0). Each decision draws one sample per arm from the score stream; a clip's score is
the mean sample of its topics plus its creator's sample. The policy then takes the best (temperature
0, no epsilon, no fatigue, no new-creator floor; the repeat gap of 10 stays), so the logged
propensity is the policy's probability given the slot's draw (the draw is part of the slot's
context, as for every ranker that draws from the score stream; see ``rankers/rng.py``).
"""

from __future__ import annotations

import numpy as np

from feedapp.core.model import Clip
from feedapp.core.peers.normal import normals
from feedapp.core.rankers.base import BaseRanker, Param
from feedapp.core.rankers.rng import Rng

BANDIT_POLICY = {"epsilon": 0.0, "temperature": 0.0, "max_same_topic": 0, "topic_fatigue": 0.0,
                 "creator_fatigue": 0.0, "new_creator_floor": 0.0, "repeat_penalty": 0.0}
"""Policy defaults of the peers: the peer explores by itself; only the repeat gap (10) stays."""


class TopicCreatorThompson(BaseRanker):
    name = "ts_topic"
    description = "peer: Thompson sampling per topic and per creator, counts decayed every view"
    is_learner = True
    own_params = (
        Param("decay", 0.97, 0.5, 1.0, "count and reward sum kept at each new view (1 = never forget)"),
        Param("noise", 1.0, 0.01, 10.0, "spread of one view's reward (wider = more exploration)"),
    )
    policy_defaults = BANDIT_POLICY

    def __init__(self, seed: int = 0, **params: object) -> None:
        super().__init__(seed, **params)
        self._n = {"t": np.zeros(0), "c": np.zeros(0)}
        self._s = {"t": np.zeros(0), "c": np.zeros(0)}
        self._per = np.zeros(0)
        self._per_cols = 0

    def _sized(self) -> None:
        assert self.space is not None, "bind the ranker to a feature space first"
        for k, m in (("t", len(self.space.topics)), ("c", len(self.space.creators))):
            if self._n[k].size < m:
                self._n[k] = np.concatenate([self._n[k], np.zeros(m - self._n[k].size)])
                self._s[k] = np.concatenate([self._s[k], np.zeros(m - self._s[k].size)])

    def learn_one(self, clip: Clip, reward: float) -> None:
        space = self._ensure_space([clip])
        self._sized()
        row = space.row(clip)
        g = float(self.params["decay"])
        for k in ("t", "c"):
            self._n[k] *= g
            self._s[k] *= g
        for t in space.clip_topic_ids(row):
            self._n["t"][t] += 1.0
            self._s["t"][t] += reward
        c = int(space.creator_of[row])
        self._n["c"][c] += 1.0
        self._s["c"][c] += reward

    def _samples(self, rng: Rng) -> tuple[np.ndarray, np.ndarray]:
        self._sized()
        sd = float(self.params["noise"])
        out = []
        for k in ("t", "c"):
            n, s = self._n[k], self._s[k]
            out.append(s / (n + 1.0) + sd / np.sqrt(n + 1.0) * normals(rng, n.size))
        return out[0], out[1]

    def scores(self, rng: Rng) -> np.ndarray:
        space = self.space
        assert space is not None, "bind the ranker to a feature space first"
        th_t, th_c = self._samples(rng)
        T = space.T
        if self._per.size != space.n or self._per_cols != T.shape[1]:  # topics per clip, until the catalog grows
            self._per = np.maximum(T.sum(axis=1, dtype=np.float64), 1.0)
            self._per_cols = T.shape[1]
        topic = (T @ th_t[: T.shape[1]].astype(np.float32)).astype(np.float64) / self._per
        return topic + th_c[space.creator_of]

    def explain(self, row: int) -> tuple[str, ...]:
        space = self.space
        if space is None:
            return ()
        self._sized()
        out = []
        for t in space.clip_topic_ids(row):
            n, s = self._n["t"][t], self._s["t"][t]
            out.append(f"#{space.topics[t]} mean {s / (n + 1.0):+.2f} over {n:.1f} views")
        c = int(space.creator_of[row])
        out.append(f"@{space.creators[c]} mean {self._s['c'][c] / (self._n['c'][c] + 1.0):+.2f}")
        return tuple(out)
