"""TasteProfile: what the feed believes the viewer likes, in words a person can read.

Why separate from the ranker: every ranker (even ``random``) gets the same readable profile, so a
study can show the profile forming under any condition, and the profile can be rebuilt from the
log (reward per view) without the ranker's internals.

Affinity of a topic (or creator) is a recency-weighted mean of the rewards of views of its clips,
shrunk towards 0 by ``prior_views`` pseudo-views of reward 0, so one lucky view does not make a
favourite: ``affinity = sum(decay^age * reward) / (sum(decay^age) + prior_views)``, in [-2, 2].
Decay is applied lazily (each entry remembers the view count it was last touched at), so an update
costs O(topics of the clip), whatever the catalog size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from feedapp.core.model import Clip


@dataclass
class _Tally:
    weighted: float = 0.0  # sum of decayed rewards
    weight: float = 0.0  # sum of decays
    views: int = 0
    step: int = 0  # view count at the last update


@dataclass
class TasteProfile:
    decay: float = 0.97
    prior_views: float = 1.0
    record: bool = True  # keep a snapshot per view in ``history``
    views: int = 0
    topics: dict[str, _Tally] = field(default_factory=dict)
    creators: dict[str, _Tally] = field(default_factory=dict)
    history: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not (0.0 < self.decay <= 1.0):
            raise ValueError(f"profile decay must be in (0, 1], not {self.decay}")
        if self.prior_views < 0 or not math.isfinite(self.prior_views):
            raise ValueError(f"profile prior_views must be a finite number >= 0, not {self.prior_views}")

    def _bump(self, table: dict[str, _Tally], key: str, reward: float) -> None:
        t = table.get(key)
        if t is None:
            t = table[key] = _Tally(step=self.views)
        f = self.decay ** (self.views - t.step)
        t.weighted = t.weighted * f + reward
        t.weight = t.weight * f + 1.0
        t.views += 1
        t.step = self.views

    def _affinity(self, t: _Tally) -> float:
        f = self.decay ** (self.views - t.step)
        return (t.weighted * f) / (t.weight * f + self.prior_views) if (t.weight * f + self.prior_views) > 0 else 0.0

    def update(self, clip: Clip, reward: float, *, position: int | None = None) -> dict[str, object]:
        """Learn from one view's reward; return (and keep) the snapshot taken after it."""
        if not math.isfinite(reward):
            raise ValueError(f"reward for clip {clip.id!r} must be finite, not {reward}")
        self.views += 1
        for topic in dict.fromkeys(clip.topics):
            self._bump(self.topics, topic, reward)
        self._bump(self.creators, clip.creator, reward)
        if not self.record:
            return {"views": self.views, "clip_id": clip.id, "reward": reward}
        snap = self.snapshot()
        snap["clip_id"] = clip.id
        snap["reward"] = round(reward, 4)
        if position is not None:
            snap["position"] = position
        self.history.append(snap)
        return snap

    def topic_affinity(self) -> dict[str, float]:
        """Topic -> affinity, best first."""
        return dict(sorted(((k, self._affinity(t)) for k, t in self.topics.items()), key=lambda kv: (-kv[1], kv[0])))

    def creator_affinity(self) -> dict[str, float]:
        return dict(sorted(((k, self._affinity(t)) for k, t in self.creators.items()), key=lambda kv: (-kv[1], kv[0])))

    def top_topics(self, k: int = 3) -> list[str]:
        return [t for t, a in self.topic_affinity().items() if a > 0][:k]

    def snapshot(self) -> dict[str, object]:
        """Plain data (JSON-ready) the log can store after each view."""
        return {
            "views": self.views,
            "topics": {k: round(v, 4) for k, v in self.topic_affinity().items()},
            "creators": {k: round(v, 4) for k, v in self.creator_affinity().items()},
            "topic_views": {k: t.views for k, t in sorted(self.topics.items())},
        }
