"""The demo catalog's plan: which clips exist, in what order they are made, all decided by the seed.

The plan is pure data (no OpenCV), so its properties — topics x creators, the duration spread, the
"short clips of different topics first" order — are tested without encoding a single frame.

Order matters for the first launch: the viewer waits for the first clip only. So the plan starts
with the eight shortest clips, one per topic, shortest first (about 4 s of video, roughly a second
to encode), and the rest follow in a seeded shuffle.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

FPS = 30
SIZE = (540, 960)  # width, height: portrait
MIN_S, MAX_S = 4.0, 30.0
SKEW = 2.2  # durations are 4 + 26 * q**SKEW over evenly spread quantiles q: mean about 12 s, long tail to 30 s

TOPICS: tuple[str, ...] = ("ocean", "sports", "cooking", "cats", "tech", "music", "nature", "art")
CREATORS: tuple[str, ...] = ("mila", "juno", "theo", "sasha", "kai")
CLIPS_PER_TOPIC = 8

TITLES: dict[str, tuple[str, ...]] = {
    "ocean": ("Morning swell", "Tide pools", "Blue hour surf", "Deep current", "Foam lines", "Harbour calm",
              "Storm rollers", "Glass water", "Reef drift", "Salt breeze"),
    "sports": ("Last-minute goal", "Bounce drill", "Court warm-up", "Free throw", "Keepy-uppy", "Match point",
               "Training day", "Fast break", "Penalty shot", "Rally"),
    "cooking": ("Sunday stir-fry", "Five-minute sauce", "Crispy onions", "Pan to plate", "Simmer slowly",
                "Breakfast hash", "Garlic butter", "Midnight noodles", "One-pan dinner", "Slow risotto"),
    "cats": ("Sleepy whiskers", "Curious kitten", "Blink and purr", "Window watcher", "Tail talk", "Nap o'clock",
             "Box inspector", "Loaf mode", "Zoomies", "Sunbeam"),
    "tech": ("Gear train", "Clockwork", "Tiny machines", "Build log", "Spin test", "Prototype", "Torque check",
             "Assembly line", "Cog study", "Bench demo"),
    "music": ("Bassline", "Night groove", "Four on the floor", "Little melody", "Loop jam", "Chorus",
              "Lo-fi evening", "Drum fill", "Sing along", "Tempo up"),
    "nature": ("Forest breath", "Windy pines", "Sunrise walk", "Slow clouds", "Green valley", "Trail notes",
               "Meadow", "Hilltop", "Evening light", "Quiet woods"),
    "art": ("Brush study", "Colour field", "Quick sketch", "Shapes and lines", "Paint along", "Abstract hour",
            "Warm palette", "Gesture drawing", "Bold strokes", "Studio notes"),
}


STYLE = 2  # bump when the drawing changes, so existing demo clips are remade with the new look


@dataclass(frozen=True)
class DemoItem:
    index: int  # position in the making order
    id: str
    file: str  # relative to the demo folder
    title: str
    topic: str
    creator: str
    frames: int
    created: str  # ISO date
    variant: int  # seeds the clip's own motion parameters
    seed: int
    fps: int = FPS
    width: int = SIZE[0]
    height: int = SIZE[1]

    @property
    def duration_ms(self) -> int:
        return round(self.frames * 1000 / self.fps)

    def record(self) -> dict[str, object]:
        """The sidecar entry (catalog.json) for this clip, without the file size."""
        return {
            "id": self.id,
            "file": self.file,
            "title": self.title,
            "topics": [self.topic],
            "creator": self.creator,
            "duration_ms": self.duration_ms,
            "created": self.created,
            "seed": self.seed,
            "style": STYLE,
        }


def _durations(rng: random.Random, n: int) -> list[float]:
    """n durations spread over [MIN_S, MAX_S], skewed short (most clips 5-15 s, a few long ones)."""
    out = []
    for i in range(n):
        q = min(1.0, max(0.0, (i + rng.uniform(0.1, 0.9)) / n))
        out.append(round(MIN_S + (MAX_S - MIN_S) * q**SKEW, 1))
    return out


def plan_demo(seed: int = 0) -> tuple[DemoItem, ...]:
    """The full plan (8 topics x 8 clips, every creator in every topic), in making order."""
    rng = random.Random(f"feedapp-demo-{seed}")
    n = len(TOPICS) * CLIPS_PER_TOPIC
    durations = _durations(rng, n)  # ascending
    shortest, rest = durations[: len(TOPICS)], durations[len(TOPICS) :]
    rng.shuffle(rest)
    slots: list[tuple[str, int, float]] = []  # (topic, k, seconds)
    first_topics = list(TOPICS)
    rng.shuffle(first_topics)
    for topic, seconds in zip(first_topics, shortest):
        slots.append((topic, 0, seconds))
    others = [(t, k) for t in TOPICS for k in range(1, CLIPS_PER_TOPIC)]
    rng.shuffle(others)
    slots.extend((t, k, s) for (t, k), s in zip(others, rest))

    titles = {t: rng.sample(TITLES[t], CLIPS_PER_TOPIC) for t in TOPICS}
    creator_offset = {t: rng.randrange(len(CREATORS)) for t in TOPICS}
    base = dt.date(2025, 1, 6)
    items = []
    for index, (topic, k, seconds) in enumerate(slots):
        creator = CREATORS[(creator_offset[topic] + k) % len(CREATORS)]
        items.append(
            DemoItem(
                index=index,
                id=f"demo{seed}-{topic}-{k + 1}",
                file=f"{topic}-{k + 1}.mp4",
                title=titles[topic][k],
                topic=topic,
                creator=creator,
                frames=max(1, round(seconds * FPS)),
                created=(base + dt.timedelta(days=rng.randrange(0, 330))).isoformat(),
                variant=rng.randrange(1 << 30),
                seed=seed,
            )
        )
    return tuple(items)
