"""The demo catalog's plan: which clips exist, in what order they are made, all decided by the seed.

The plan is pure data (no OpenCV), so its properties — topics x creators, the duration spread, the
"short clips of different topics first" order — are tested without encoding a single frame.

Size: 12 topics x 24 clips = 288 clips (8 creators, each with 3 clips in every topic), about 58 min
of video, so a workshop viewer can spend 200 views without running out of unseen clips: a viewer
who likes one topic has 24 clips of it, one who likes three has 72. (Until issue 11 the demo had
8 topics x 8 clips = 64.)

Order matters for the first launch: the viewer waits for the first clip only. So the plan starts
with the twelve shortest clips, one per topic, shortest first (about 4 s of video, roughly a second
to encode). The rest follow in rounds: every round has one clip of every topic (in a seeded order,
creators rotating), so whatever has been made so far is a balanced little catalog and the feed has
every topic to choose from while the rest are made in the background.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

FPS = 30
SIZE = (540, 960)  # width, height: portrait
MIN_S, MAX_S = 4.0, 30.0
SKEW = 2.2  # durations are 4 + 26 * q**SKEW over evenly spread quantiles q: mean about 12 s, long tail to 30 s

TOPICS: tuple[str, ...] = ("ocean", "sports", "cooking", "cats", "tech", "music", "nature", "art",
                           "space", "city", "weather", "games")
CREATORS: tuple[str, ...] = ("mila", "juno", "theo", "sasha", "kai", "noor", "ravi", "lena")
CLIPS_PER_TOPIC = 24  # a multiple of len(CREATORS): every creator has as many clips in every topic

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
    "space": ("Orbit", "Night sky", "Moonrise", "Ringed planet", "Star field", "Deep space", "Comet tail",
              "Lunar loop", "Stargazing", "Far away"),
    "city": ("Rush hour", "Skyline", "Night bus", "Neon street", "Rooftops", "Downtown", "Last train",
             "City lights", "Crosswalk", "After dark"),
    "weather": ("Rainy day", "Drizzle", "Passing shower", "Grey skies", "Puddles", "Storm front",
                "Rain on glass", "Cloudburst", "Wet pavement", "Umbrella weather"),
    "games": ("Falling blocks", "High score", "Level up", "Combo", "Pixel rain", "Stack them",
              "Bonus round", "Line clear", "Speed run", "Game over"),
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


def _titles(rng: random.Random, topic: str) -> list[str]:
    """CLIPS_PER_TOPIC titles for a topic: its names in a seeded order, then again as "…, part 2", "part 3"."""
    names = rng.sample(TITLES[topic], len(TITLES[topic]))
    out = []
    for k in range(CLIPS_PER_TOPIC):
        part = k // len(names) + 1
        out.append(names[k % len(names)] + (f", part {part}" if part > 1 else ""))
    return out


def plan_demo(seed: int = 0) -> tuple[DemoItem, ...]:
    """The full plan (12 topics x 24 clips = 288, every creator 3 times in every topic), in making order."""
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
    later = iter(rest)
    for k in range(1, CLIPS_PER_TOPIC):  # round k: clip k of every topic, topics in a seeded order
        round_topics = list(TOPICS)
        rng.shuffle(round_topics)
        slots.extend((t, k, next(later)) for t in round_topics)

    titles = {t: _titles(rng, t) for t in TOPICS}
    spread = [i % len(CREATORS) for i in range(len(TOPICS))]  # every creator in the first round of clips
    rng.shuffle(spread)
    creator_offset = dict(zip(TOPICS, spread))
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
