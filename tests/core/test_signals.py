"""Signals that mean what they say (issue 10, point 7): skips, clips that could not be played,
revisits and clips served again."""

from __future__ import annotations

import pytest

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.feed_session import FeedSession
from feedapp.core.model import Clip
from feedapp.core.records import MemorySink
from feedapp.core.replay import replay
from feedapp.core.reward import UNPLAYABLE_EXIT, is_skip
from feedapp.core.session import SessionRecorder

MS = 1_000_000


@pytest.mark.parametrize("play, loops, duration, exit, skipped", [
    (1000, 0, 10_000, "swipe_next", True),  # left early: a skip
    (2999, 0, 10_000, "key", True),
    (3000, 0, 10_000, "key", False),  # at the threshold: watched
    (1900, 0, 2000, "key", True),  # a short clip left before its end: a skip
    (2000, 0, 2000, "key", False),  # a short clip watched to its end: never a skip
    (2100, 1, 2000, "key", False),  # ... nor when it looped
    (1500, 1, 8000, "key", False),  # a completed play (loops >= 1) is watched to the end, whatever play_ms says
    (100, 0, 10_000, UNPLAYABLE_EXIT, False),  # could not be played: not a skip
])
def test_the_skip_rule(play, loops, duration, exit, skipped):
    assert is_skip(play, loops, duration, 3000, exit) is skipped


def _clips(n=6, duration=2000):
    return [Clip(f"c{i}", f"/c{i}.mp4", f"C{i}", (("cats", "dogs")[i % 2],), f"m{i % 3}", duration, 30.0, 540, 960)
            for i in range(n)]


class Driver:
    def __init__(self, engine: FeedEngine) -> None:
        self.t = 10**9
        self.sink = MemorySink()
        self.sink.clips_known(tuple(engine.catalog.clips))
        self.engine = engine
        self.rec = SessionRecorder(self.sink, app_version="t", mode="demo", ranker=engine.ranker.name,
                                   ranker_params=dict(engine.ranker.params), seed=engine.seed,
                                   skip_threshold_ms=3000, clock=lambda: self.t)
        self.fs = FeedSession(engine, self.rec)
        self.max_shown = -1

    def arrive(self, how: str) -> None:
        pos = self.engine.position
        revisit = self.engine.is_revisit() or pos <= self.max_shown
        self.max_shown = max(self.max_shown, pos)
        self.fs.arrive(self.engine.current, position=pos, how=how, is_revisit=revisit, settled_ns=self.t)
        self.rec.first_frame(self.t)

    def watch(self, ms: float, loops: int = 0, how: str = "key", step: int = 1) -> None:
        self.t += int(ms * MS)
        for _ in range(loops):
            self.rec.loop_completed(self.t)
        self.fs.leave(how, self.t)
        self.engine.move(step)
        self.t += 250 * MS
        self.arrive(how)


def test_a_clip_that_could_not_play_is_not_a_skip_and_not_learned_and_replay_stays_exact():
    eng = FeedEngine(Catalog(_clips()), "foryou", seed=1, params={"temperature": 0.3, "repeat_gap": 2})
    d = Driver(eng)
    eng.start()
    d.arrive("start")
    d.watch(2100, loops=1)  # a short clip watched to its end
    d.watch(150, how=UNPLAYABLE_EXIT)  # this one failed to play; the player moved on by itself
    d.watch(1200)  # a real skip
    for _ in range(12):
        d.watch(2500, loops=1)
    d.fs.end("quit", d.t)
    views = [v for v in d.sink.of("view") if v.final]
    assert [v.skipped for v in views[:3]] == [False, False, True]
    assert views[1].exit == UNPLAYABLE_EXIT
    assert len(eng.views) == len(views) - 1  # the engine never learned the unplayable one
    assert all(v.exit != UNPLAYABLE_EXIT for v in eng.views)
    from tests.core.test_feed_session import _memory_session

    rep = replay(_memory_session(d.sink), ["foryou"], n_boot=20)
    assert rep["counts"]["unplayable"] == 1
    r = rep["rankers"][0]["reproduced"]
    assert r["max_propensity_error"] <= 1e-9 and r["served_agrees"] == 1.0


def test_revisits_and_clips_served_again_are_told_apart():
    eng = FeedEngine(Catalog(_clips(4)), "random", seed=2, params={"repeat_gap": 1})
    d = Driver(eng)
    eng.start()
    d.arrive("start")
    for i in range(10):
        d.watch(4000, step=-1 if i == 4 else 1)
    imps = d.sink.of("impression")
    revisits = [i for i in imps if i.is_revisit]
    again = [i for i in imps if i.served_again]
    assert len(revisits) == 2  # back one, then forward again over the slot already shown
    assert again and all(i.propensity is not None and not i.is_revisit for i in again)
    first_seen = {}
    for i in imps:
        if not i.is_revisit:
            assert i.served_again == (i.clip_id in first_seen)
            first_seen.setdefault(i.clip_id, i.position)
