"""Scripting the feed: drive the ranker without a screen (README section "Scripting the feed").

Builds an engine over a catalog, serves clips, reports how each was watched, and reads the taste
profile and the upcoming queue with score, propensity and reasons. Same catalog, ranker, params,
seed and views give the same served sequence, bit for bit.

    .venv/bin/python examples/script_feed.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feedapp.core.engine import FeedEngine  # noqa: E402
from feedapp.core.model import View  # noqa: E402
from feedapp.core.simulate import demo_like_catalog  # noqa: E402


def main() -> None:
    catalog = demo_like_catalog(seed=0)  # or a Catalog of your own clips (feedapp.core.catalog.Catalog)
    engine = FeedEngine(catalog, ranker="foryou", seed=42, params={"epsilon": 0.05})

    for _ in range(25):
        clip = engine.next()  # serve the next clip (the first one on the first call)
        pick = engine.pick_at(engine.position)  # what the policy logged for this slot
        loves_cats = "cats" in clip.topics
        view = View(
            clip_id=clip.id,
            dwell_ms=clip.duration_ms * 2 if loves_cats else 1200,
            play_ms=clip.duration_ms * 2 if loves_cats else 1000,
            loops=2 if loves_cats else 0,
            skipped=not loves_cats,  # below the 3 s skip threshold
            liked=loves_cats and clip.duration_ms > 20000,
        )
        reward = engine.finish(view)  # learn from the view and re-rank what comes next
        print(f"{engine.position:>3} {clip.id} {'/'.join(clip.topics):<16} p={pick.propensity:.3f} "
              f"{'explore ' if pick.explore else ''}reward={reward.value:+.2f}")

    print("\ntaste profile (topic affinity, best first):")
    for topic, affinity in engine.profile()["topics"].items():
        print(f"  {topic:<10} {affinity:+.2f}")

    print("\nup next:")
    for entry in engine.upcoming(5):
        print(f"  {entry.clip.id} {'/'.join(entry.clip.topics):<16} score={entry.score:+.2f} "
              f"p={entry.propensity:.3f}  {'; '.join(entry.reasons)}")


if __name__ == "__main__":
    main()
