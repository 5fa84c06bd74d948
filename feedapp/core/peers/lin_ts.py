"""``lin_ts``: linear Thompson sampling over foryou's features (a peer baseline).

Why this peer: it is foryou's model (the same features and the same Bayesian linear regression
with drifting weights, ``foryou.py``) with the other classic exploration: instead of a fixed bonus
for uncertainty (LinUCB), each decision draws one weight vector from the posterior N(mean, scale^2 P),
and one affinity per creator from foryou's creators' table, and serves the best clip under them. Comparing the two isolates the exploration rule.

The draw uses the score stream (a Cholesky factor of ``P``, jittered if rounding left it not quite
positive definite), so the logged propensity is the policy's probability given the slot's draw.
Policy defaults as every peer: no epsilon, no fatigue, no new-creator floor, temperature 0; the
repeat gap of 10 stays.
"""

from __future__ import annotations

import numpy as np

from feedapp.core.peers.normal import normals
from feedapp.core.peers.thompson import BANDIT_POLICY
from feedapp.core.rankers.base import Param
from feedapp.core.rankers.foryou import ForYouRanker
from feedapp.core.rankers.rng import Rng


class LinearThompsonRanker(ForYouRanker):
    name = "lin_ts"
    description = "peer: linear Thompson sampling over foryou's features (posterior draw per decision)"
    own_params = (
        *(p for p in ForYouRanker.own_params if p.name not in ("optimism", "topic_counts")),  # (no bonus)
        Param("scale", 0.5, 0.0, 5.0, "spread of the posterior draw (0 = serve the posterior mean)"),
    )
    policy_defaults = BANDIT_POLICY

    def sample_weights(self, rng: Rng) -> np.ndarray:
        """One weight vector drawn from N(mean, scale^2 P)."""
        d = self._mean.size
        z = normals(rng, d)
        a = float(self.params["scale"])
        if a <= 0 or d == 0:
            return self._mean.copy()
        P = (self._P + self._P.T) / 2.0
        for jitter in (0.0, 1e-9, 1e-6, 1e-3):
            try:
                L = np.linalg.cholesky(P + jitter * np.eye(d))
                break
            except np.linalg.LinAlgError:
                continue
        else:  # not positive definite even jittered: draw from the diagonal alone
            return self._mean + a * np.sqrt(np.maximum(np.diagonal(P), 0.0)) * z
        return self._mean + a * (L @ z)

    def sample_creators(self, rng: Rng) -> np.ndarray:
        """One affinity per creator drawn from foryou's creators' table, N(mean, scale^2 variance) each."""
        k = self._cm.size
        if k == 0 or float(self.params["scale"]) <= 0:
            return self._cm.copy()
        return self._cm + float(self.params["scale"]) * np.sqrt(np.maximum(self._cv, 0.0)) * normals(rng, k)

    def scores(self, rng: Rng) -> np.ndarray:
        space = self.space
        assert space is not None, "bind the ranker to a feature space first"
        w = self.sample_weights(rng).astype(np.float32)
        c = self.sample_creators(rng)  # foryou keeps creators in a table beside the weights
        return (space.X @ w).astype(np.float64) + c[space.creator_of]

    def explain(self, row: int) -> tuple[str, ...]:
        space = self.space
        if space is None or space.d == 0:
            return ()
        c = int(space.creator_of[row])
        labels = [*space.labels, f"creator:{space.creators[c]}"]
        contrib = np.append(space.X[row] * self._mean32, np.float32(self._cm[c]))
        return tuple(f"{labels[j]} {contrib[j]:+.2f}" for j in np.argsort(-np.abs(contrib), kind="stable")[:3]
                     if abs(contrib[j]) >= 0.01 and labels[j] != "bias")
