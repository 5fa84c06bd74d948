"""``learn_one`` receives the whole view (play, dwell, loops, position, exit), in process, across the
plugin worker's boundary, through a reload and in replay; ``learn_one(clip, reward)`` keeps working."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.model import View
from feedapp.core.plugins import PluginHost, load_plugin_class, make_any_ranker
from feedapp.core.rankers.base import view_argument
from feedapp.core.records import MemorySink
from feedapp.core.replay import replay
from feedapp.core.simulate import demo_like_catalog
from tests.core.test_feed_session import WidgetDriver, _assert_reproduced, read_back, record_sqlite

WATCHER = '''
import numpy as np
from feedapp.core.rankers import BaseRanker

class Watcher(BaseRanker):
    name = "watcher"
    is_learner = True

    def __init__(self, seed=0, **params):
        super().__init__(seed, **params)
        self.seen = []  # what learn_one was given, in order
        self.weight = {{}}  # topic -> loops and seconds of dwell: scores depend on the view, not the reward

    def learn_one(self, clip, reward, {view_param}):
        self.seen.append((clip.id, view.position, view.dwell_ms, view.play_ms, view.loops, view.exit, reward))
        for t in clip.topics:
            self.weight[t] = self.weight.get(t, 0.0) + view.loops + view.dwell_ms / 10000.0

    def scores(self, rng):
        s = self.space
        if not s.topics:
            return np.zeros(s.n)
        return s.T.astype(np.float64) @ np.array([self.weight.get(t, 0.0) for t in s.topics])
'''

LEGACY = '''
import numpy as np
from feedapp.core.rankers import BaseRanker

class Legacy(BaseRanker):
    name = "legacy"
    is_learner = True

    def __init__(self, seed=0, **params):
        super().__init__(seed, **params)
        self.rewards = []

    def learn_one(self, clip, reward):
        self.rewards.append(reward)

    def scores(self, rng):
        return np.zeros(self.space.n)
'''


def _write(tmp_path: Path, text: str, name: str = "watcher.py") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _views(engine: FeedEngine, n: int) -> list[View]:
    """Serve ``n`` clips and close each view with figures that differ per view."""
    out = []
    for k in range(n):
        clip = engine.next()
        v = View(clip.id, dwell_ms=1000.0 + 37.5 * k, play_ms=900.0 + 11.0 * k, loops=k % 3,
                 exit="swipe_next" if k % 2 else "key_down")
        engine.finish(v)
        out.append(v)
    return out


@pytest.mark.parametrize("view_param, how", [("view=None", "positional"), ("v_ignored=None, view=None", "positional"),
                                              ("*, view", "keyword"), ("**kw", "keyword")])
def test_an_in_process_plugin_named_by_spec_sees_every_field_of_each_view(tmp_path, view_param, how):
    text = WATCHER.format(view_param=view_param)
    if view_param == "**kw":
        text = text.replace("def learn_one(self, clip, reward, **kw):", "def learn_one(self, clip, reward, **kw):\n"
                            "        view = kw['view']")
    if view_param.startswith("v_ignored"):  # a third positional parameter gets the view whatever its name
        text = text.replace("v_ignored=None, view=None", "view=None, other=None")
    p = _write(tmp_path, text)
    engine = FeedEngine(Catalog(demo_like_catalog(1).clips[:30]), f"{p}:Watcher", seed=3)
    assert view_argument(engine.ranker) == how
    given = _views(engine, 6)
    seen = engine.ranker.seen
    assert [s[:6] for s in seen] == [(v.clip_id, k, v.dwell_ms, v.play_ms, v.loops, v.exit) for k, v in enumerate(given)]
    assert [s[6] for s in seen] == engine.rewards  # the reward is still the second argument
    assert engine.ranker_version.startswith("plugin:")  # the source's hash, as when a PluginHost serves it


def test_a_learn_one_without_a_view_parameter_keeps_working(tmp_path):
    p = _write(tmp_path, LEGACY, "legacy.py")
    engine = FeedEngine(Catalog(demo_like_catalog(1).clips[:30]), f"{p}:Legacy", seed=3)
    assert view_argument(engine.ranker) == ""
    _views(engine, 5)
    assert engine.ranker.rewards == engine.rewards and len(engine.rewards) == 5
    assert view_argument(load_plugin_class(p, "Legacy")(seed=0)) == ""  # the built-ins' two-argument form
    assert view_argument(FeedEngine(Catalog(demo_like_catalog(1).clips[:5]), "foryou").ranker) == ""


def test_the_plugin_worker_gets_the_whole_view_of_each_impression_and_a_reload_gets_them_again(tmp_path):
    """The widget learns a view when the next clip settles (the feed has moved on): the view's position
    is still its own impression's (``impressions.position``), swipes back included."""
    p = _write(tmp_path, WATCHER.format(view_param="view=None"))
    engine = PluginHost.feed(Catalog(demo_like_catalog(2).clips[:40]), f"{p}:Watcher", seed=4)
    try:
        sink = MemorySink()
        d = WidgetDriver(engine, sink, seed=0)
        d.start()
        for step in (1, 1, 1, -1, -1, 1, 1, 1, 1):
            d.watch_and_swipe(step)
        d.end()
        imps = {r.id: r for kind, r in sink.records if kind == "impression"}
        views = [r for kind, r in sink.records if kind == "view" and r.final]
        logged = [(imps[r.impression_id].clip_id, imps[r.impression_id].position, r.dwell_ms, r.play_ms, r.loops, r.exit)
                  for r in views]
        seen = engine.ranker.active.remote_attr("seen")  # the plugin instance in its worker process
        assert [s[:6] for s in seen] == logged and len(seen) == 10
        assert [s[1] for s in seen] == list(range(10)) and {s[5] for s in seen} >= {"swipe_prev", "quit"}
        assert any(s[4] > 0 for s in seen)  # loops were counted
        assert [s[6] for s in seen] == pytest.approx(engine.rewards, abs=0)
        assert engine.plugin_host.reload() is True  # a new version is rebuilt from the same whole views
        assert engine.ranker.active.remote_attr("seen") == seen
    finally:
        engine.plugin_host.close()


def test_a_plugin_that_learns_from_the_view_replays_exactly_from_the_sqlite_log(tmp_path):
    """Replay gives the plugin the logged views (dwell, loops, exit, position), so its scores, and
    every logged propensity, come back."""
    p = _write(tmp_path, WATCHER.format(view_param="view=None"))
    spec = f"{p}:Watcher"
    engine = PluginHost.feed(Catalog(demo_like_catalog(3).clips[:50]), spec, seed=2, params={"temperature": 0.3})
    try:
        path, d = record_sqlite(tmp_path, engine, views=30, seed=2)
    finally:
        engine.plugin_host.close()
    logged = read_back(path, d.recorder.id)
    assert [st.view.position for st in logged.steps if st.view is not None] == \
        [st.position for st in logged.steps if st.view is not None]
    _assert_reproduced(replay(logged, [spec], n_boot=20), spec, engine.picks)


def test_the_example_watch_time_plugin_learns_from_the_view_not_the_reward():
    """examples/plugins/watch_time.py: every reward 0, yet the topic watched to the end (and swiped back
    to) comes first, because it reads play time, duration and revisits from the view."""
    spec = f"{Path(__file__).resolve().parents[2] / 'examples' / 'plugins' / 'watch_time.py'}:WatchTime"
    engine = FeedEngine(Catalog(demo_like_catalog(1).clips), spec, seed=1)
    r = engine.ranker
    assert view_argument(r) == "positional"
    space = engine.space
    for k, clip in enumerate(space.clips[:40]):
        liked = "cats" in clip.topics
        r.learn_one(clip, 0.0, View(clip.id, 1.0, clip.duration_ms * (2.0 if liked else 0.1), loops=int(liked),
                                    revisit=liked and k % 2 == 0, position=k))
    s = r.scores(None)
    cats = np.array(["cats" in c.topics for c in space.clips])
    assert cats.any() and s[cats].min() > s[~cats].max()
    fresh = make_any_ranker(spec)  # without views, the same zero rewards teach it nothing about cats
    fresh.bind(space)
    for clip in space.clips[:40]:
        fresh.learn_one(clip, 0.0)
    f = fresh.scores(None)
    assert not (f[cats].min() > f[~cats].max())


def test_a_feed_session_without_a_log_gives_each_view_its_impression_position(tmp_path):
    """The simulator's viewer kinds and the fame board drive a FeedSession with views that carry no
    position (a simulated viewer does not count impressions); the session fills in the place it
    counted, as impressions.position would say, so a plugin sees 0, 1, 2, ... there too."""
    from feedapp.core.feed_session import FeedSession

    p = _write(tmp_path, WATCHER.format(view_param="view=None"))
    engine = FeedEngine(Catalog(demo_like_catalog(1).clips[:30]), f"{p}:Watcher", seed=3)
    session = FeedSession(engine)
    view = None
    for k in range(6):
        clip = session.open() if view is None else session.swipe(view)
        view = View(clip.id, dwell_ms=1000.0 + k, play_ms=900.0, exit="swipe_next")
    session.end("finished", view=view)
    assert [s[1] for s in engine.ranker.seen] == [0, 1, 2, 3, 4, 5]
