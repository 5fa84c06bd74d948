"""``vw_cb``: Vowpal Wabbit's contextual bandit (``cb_explore_adf``) as a peer baseline.

Why this peer: VW is the reference implementation of contextual bandits in production; if foryou
cannot beat it on the same viewers, it is not good enough. It needs the optional Python package
``vowpalwabbit`` (``pip install 'feedapp[peers]'``; ``scripts/setup.sh --test`` installs it).
Without it, building the ranker raises ``PeerMissing`` with that instruction, and ``simulate``
reports the peer as missing instead of dropping it.

How it is driven: each clip is one action of an ADF example, described by the same things foryou
sees (topics, creator, duration bucket, the visual features), with no shared context (one model per
viewer). VW's ``cb_explore_adf`` with its softmax explorer (``--softmax --lambda vw_lambda``: the
probability of an action is proportional to exp(-lambda * predicted cost)) returns a probability per action;
the score of a clip is the log of its probability and the policy runs with temperature 1 and no
epsilon of its own, so softmax(scores) over the allowed clips *is* VW's distribution renormalised
over what the repeat rule allows, and the logged propensity is the exact probability of the pick.
Above 512 allowed clips the policy's shortlist keeps the 512 likeliest (ties in row order).

Learning: the served clip alone, with cost = -reward and the probability VW's current distribution
gives it (predicted again at learning time, so learning depends only on the views, never on how
often the feed was peeked at); ``cb_type mtr`` updates only the chosen action's regressor.
"""

from __future__ import annotations

import numpy as np

from feedapp.core.features import bucket_label, duration_bucket
from feedapp.core.model import Clip
from feedapp.core.peers.thompson import BANDIT_POLICY
from feedapp.core.rankers.base import BaseRanker, Param, ParameterError
from feedapp.core.rankers.rng import Rng

INSTALL = "pip install 'feedapp[peers]'"


class PeerMissing(ParameterError):
    """A peer whose optional package is not installed."""


def vw_missing_reason() -> str | None:
    """Why ``vw_cb`` cannot run here, or None when it can."""
    try:
        import vowpalwabbit  # noqa: F401
    except ImportError as e:
        return f"the Python package vowpalwabbit is not installed ({e}); install it with {INSTALL}"
    return None


def _token(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text) or "_"


class VowpalWabbitRanker(BaseRanker):
    name = "vw_cb"
    description = "peer: Vowpal Wabbit contextual bandit (cb_explore_adf, softmax explorer); needs feedapp[peers]"
    is_learner = True
    own_params = (
        Param("vw_lambda", 10.0, 0.1, 20.0, "VW's softmax explorer: inverse temperature over predicted costs"),
        Param("learning_rate", 0.5, 0.001, 10.0, "VW's learning rate (-l)"),
    )
    policy_defaults = {**BANDIT_POLICY, "temperature": 1.0}

    def __init__(self, seed: int = 0, **params: object) -> None:
        super().__init__(seed, **params)
        reason = vw_missing_reason()
        if reason:
            raise PeerMissing(f"ranker {self.name!r} is missing: {reason}")
        import vowpalwabbit

        self._vw = vowpalwabbit.Workspace(
            f"--cb_explore_adf --cb_type mtr --softmax --lambda {float(self.params['vw_lambda'])!r} "
            f"-l {float(self.params['learning_rate'])!r} --random_seed {self.seed % (1 << 31)} --quiet"
        )
        self._lines: list[str] = []
        self._examples = None
        self._parsed_n = -1

    def _line(self, row: int) -> str:
        assert self.space is not None
        c = self.space.clips[row]
        parts = [f"t_{_token(t)}" for t in c.topics] + [f"c_{_token(c.creator)}",
                                                         f"d_{_token(bucket_label(duration_bucket(c.duration_ms)))}"]
        cols = getattr(self.space, "visual_cols", None) or []
        x = self.space.X[row]
        parts += [f"v{i}:{float(x[j]):.4f}" for i, j in enumerate(cols)]
        return "|a " + " ".join(parts)

    def _pmf(self) -> np.ndarray:
        space = self.space
        assert space is not None, "bind the ranker to a feature space first"
        if self._parsed_n != space.n:  # parse the actions once per catalog size
            self._lines = [self._line(r) for r in range(space.n)]
            if self._examples is not None:
                self._vw.finish_example(self._examples)
            self._examples = self._vw.parse(["shared |s b", *self._lines])
            self._parsed_n = space.n
        return np.asarray(self._vw.predict(self._examples), dtype=np.float64)

    def scores(self, rng: Rng) -> np.ndarray:
        return np.log(np.maximum(self._pmf(), 1e-300))

    def learn_one(self, clip: Clip, reward: float) -> None:
        space = self._ensure_space([clip])
        row = space.row(clip)
        p = float(self._pmf()[row])
        self._vw.learn(f"shared |s b\n0:{-float(reward)!r}:{max(p, 1e-6)!r} {self._lines[row]}")

    def close(self) -> None:
        """Give back VW's native memory (its parsed actions and workspace, ~30 MB at 1,000 clips) now;
        the ranker cannot score afterwards. ``sim_bench`` calls it after each simulated viewer."""
        vw, examples = getattr(self, "_vw", None), getattr(self, "_examples", None)
        self._vw, self._examples, self._parsed_n = None, None, -1
        if vw is None:
            return
        try:
            if examples is not None:
                vw.finish_example(examples)
            vw.finish()
        except Exception:  # noqa: BLE001 - at interpreter shutdown there is nothing left to give back
            pass

    def __del__(self) -> None:
        self.close()

    def explain(self, row: int) -> tuple[str, ...]:
        return (f"VW probability {float(self._pmf()[row]):.3f}",) if self.space is not None and self.space.n else ()
