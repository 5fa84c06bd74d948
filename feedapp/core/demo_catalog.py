"""A catalog with the real demo's shape, made of ``Clip`` records only (no files): for simulations,
the creators' side (``fame``) and tests. Its own module so ``simulate`` and ``fame`` both import it
without importing each other."""

from __future__ import annotations

import random
from collections.abc import Sequence

from feedapp.core.catalog import Catalog
from feedapp.core.model import Clip

# The demo `feedapp demo` makes (media/demo_plan.py, kept equal by tests/media/test_demo.py): 12 topics x 24 clips,
# 8 creators with 3 clips in every topic.
DEMO_PLAN_TOPICS = ("ocean", "sports", "cooking", "cats", "tech", "music", "nature", "art",
                    "space", "city", "weather", "games")
DEMO_PLAN_CREATORS = ("mila", "juno", "theo", "sasha", "kai", "noor", "ravi", "lena")
DEMO_PLAN_SIZE = 288
# The first demo's shape (64 clips, 8 topics x 5 creators): demo_like_catalog's default, which the tests and the
# figures recorded in docs/benchmarks.md use.
DEMO_TOPICS = DEMO_PLAN_TOPICS[:8]
DEMO_CREATORS = DEMO_PLAN_CREATORS[:5]


def demo_like_catalog(seed: int = 0, n_clips: int = 64, topics: Sequence[str] = DEMO_TOPICS,
                      creators: Sequence[str] = DEMO_CREATORS, visual_dims: int = 8,
                      second_topic_share: float = 0.0) -> Catalog:
    """A catalog with the demo's shape (feedapp.media.demo_plan), made of ``Clip`` records only.

    By default the first demo's size: 64 clips, 8 topics x 8 clips, 5 creators. The demo that
    ``feedapp demo`` makes now has 288 clips (12 topics x 24, 8 creators);
    ``demo_like_catalog(seed, DEMO_PLAN_SIZE, DEMO_PLAN_TOPICS, DEMO_PLAN_CREATORS)`` has that shape.
    Like the demo: every creator in every topic, one topic per clip, lengths
    4-30 s skewed short (``4 + 26 q^2.2`` over spread quantiles: mean about 12 s), creation dates
    over most of a year; plus visual features that depend on the topic with noise (as colour
    statistics would). ``second_topic_share`` gives that share of clips a second topic.
    """
    if n_clips < 0:
        raise ValueError(f"n_clips must be 0 or more, not {n_clips}")
    rng = random.Random(f"feedapp-sim-{seed}")
    centres = {t: [rng.gauss(0, 1) for _ in range(visual_dims)] for t in topics}
    durations = [4.0 + 26.0 * min(1.0, (i + rng.uniform(0.1, 0.9)) / max(n_clips, 1)) ** 2.2 for i in range(n_clips)]
    rng.shuffle(durations)
    offset = {t: rng.randrange(len(creators)) for t in topics}
    clips = []
    for i in range(n_clips):
        main = topics[i % len(topics)] if topics else ""
        k = i // max(len(topics), 1)
        tps: tuple[str, ...] = (main,) if main else ()
        if len(topics) > 1 and rng.random() < second_topic_share:
            tps = (main, rng.choice([t for t in topics if t != main]))
        creator = creators[(offset.get(main, 0) + k) % len(creators)]
        day = rng.randrange(330)
        clips.append(
            Clip(
                id=f"sim{seed}-{main or 'clip'}-{k + 1}",
                path=f"sim/{main or 'untitled'}-{k + 1}.mp4",
                title=f"{main or 'clip'} #{k + 1}",
                topics=tps,
                creator=creator,
                duration_ms=int(round(durations[i] * 1000)),
                fps=30.0,
                width=540,
                height=960,
                created=f"2025-{1 + day // 30:02d}-{1 + day % 30:02d}" if day < 360 else "2025-12-01",
                features=tuple(c + rng.gauss(0, 0.5) for c in centres[main]) if main else (),
            )
        )
    return Catalog(clips)
