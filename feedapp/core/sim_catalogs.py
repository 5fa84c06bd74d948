"""Generated catalogs for ``feedapp simulate --catalog-size N --topics T --creators C``.

Why generated: the demo's 64 clips run out of liked clips within 40 views, and real feeds have
thousands of clips from creators of very unequal size. ``generated_catalog`` makes ``Clip`` records
only (no files), fast (100k clips in about a second) and a pure function of its arguments and seed:

- creator sizes are heavy-tailed: creator ``i`` (by rank) has weight ``1 / (i + 1) ** 1.1`` (Zipf),
  every creator has at least one clip, and the rest are shared by weight;
- each creator has a home topic (topics are dealt round the creators, so every topic has
  creators) and posts 80 % of its clips there, 20 % in a topic drawn uniformly;
- 10 % of clips carry a second topic;
- lengths 4-60 s, skewed short (``4 + 56 u^2.5``, median about 9 s), like phone clips;
- visual features that depend on the topic with noise (as colour statistics would), and
  creation dates over most of a year.
"""

from __future__ import annotations

import numpy as np

from feedapp.core.catalog import Catalog
from feedapp.core.model import Clip

ZIPF = 1.1
HOME_SHARE = 0.8
SECOND_TOPIC_SHARE = 0.1
VISUAL_DIMS = 8
MAX_CLIPS = 1_000_000


def generated_catalog(n_clips: int, n_topics: int = 20, n_creators: int = 200, seed: int = 0) -> Catalog:
    """``n_clips`` clips over ``n_topics`` topics from ``n_creators`` creators of heavy-tailed size."""
    if not 1 <= n_clips <= MAX_CLIPS:
        raise ValueError(f"the catalog size must be 1 .. {MAX_CLIPS}, not {n_clips}")
    if n_topics < 1:
        raise ValueError(f"the number of topics must be 1 or more, not {n_topics}")
    if not 1 <= n_creators <= n_clips:
        raise ValueError(f"the number of creators must be 1 .. the catalog size ({n_clips}), not {n_creators}")
    rng = np.random.default_rng([seed, n_clips, n_topics, n_creators, 0x5CA7])
    w = 1.0 / np.arange(1, n_creators + 1) ** ZIPF
    extra = rng.multinomial(n_clips - n_creators, w / w.sum())
    creator_of = np.repeat(np.arange(n_creators), 1 + extra)
    rng.shuffle(creator_of)
    home = np.arange(n_creators) % n_topics
    rng.shuffle(home)
    topic = np.where(rng.random(n_clips) < HOME_SHARE, home[creator_of], rng.integers(0, n_topics, n_clips))
    second = np.where(rng.random(n_clips) < SECOND_TOPIC_SHARE, rng.integers(0, n_topics, n_clips), -1)
    dur_ms = np.round((4.0 + 56.0 * rng.random(n_clips) ** 2.5) * 1000).astype(np.int64)
    centres = rng.normal(size=(n_topics, VISUAL_DIMS))
    feats = np.round(centres[topic] + rng.normal(scale=0.5, size=(n_clips, VISUAL_DIMS)), 4)
    day = rng.integers(0, 330, n_clips)
    tnames = [f"topic{i:0{len(str(n_topics - 1))}d}" for i in range(n_topics)]
    cnames = [f"creator{i:0{len(str(n_creators - 1))}d}" for i in range(n_creators)]
    clips = []
    for i, (t, s, c, d, f, dd) in enumerate(zip(topic.tolist(), second.tolist(), creator_of.tolist(), dur_ms.tolist(),
                                               feats.tolist(), day.tolist())):
        tps = (tnames[t],) if s < 0 or s == t else (tnames[t], tnames[s])
        clips.append(Clip(id=f"gen{seed}-{i}", path=f"gen/{i}.mp4", title=f"{tnames[t]} #{i}", topics=tps,
                          creator=cnames[c], duration_ms=d, fps=30.0, width=540, height=960,
                          created=f"2025-{1 + dd // 30:02d}-{1 + dd % 30:02d}", features=tuple(f)))
    return Catalog(clips)
