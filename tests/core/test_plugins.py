"""Ranker plugins: load from a file, pass the shared contract, reload on save, survive broken code."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from feedapp.core.engine import FeedEngine
from feedapp.core.model import View
from feedapp.core.plugins import (
    GuardedRanker,
    PluginError,
    PluginHost,
    PluginWatcher,
    is_plugin_spec,
    load_plugin_class,
    make_any_ranker,
    parse_spec,
)
from feedapp.core.rankers import RANKERS, ParameterError
from feedapp.core.simulate import SimViewer, demo_like_catalog
from tests.core import test_rankers as contract

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plugins" / "topic_average.py"
EXAMPLE_SPEC = f"{EXAMPLE}:TopicAverage"


# -- the shared contract suite (tests/core/test_rankers.py) on the example plugin ------------------


@pytest.fixture
def registered(monkeypatch):
    """The example plugin, loaded from its file and registered under its name for the contract tests."""
    cls = load_plugin_class(EXAMPLE, "TopicAverage")
    monkeypatch.setitem(RANKERS, cls.name, cls)
    return cls.name


CONTRACT = [
    contract.test_spec_is_complete_and_defaults_are_in_range,
    contract.test_rank_is_a_permutation_and_seeded,
    contract.test_clone_is_fresh_with_same_params,
    contract.test_scores_are_never_nan_even_for_odd_clips,
    contract.test_engine_serves_with_exact_propensities,
    contract.test_ranker_works_as_plain_feed_order,
    contract.test_learners_learn_a_synthetic_viewers_favourite_topic,
]


@pytest.mark.parametrize("check", CONTRACT, ids=lambda f: f.__name__)
def test_example_plugin_keeps_the_ranker_contract(registered, check):
    check(registered)


@pytest.mark.parametrize("param, bad", [("epsilon", 1.5), ("repeat_gap", 0), ("novelty", -1), ("prior_weight", "x")])
def test_example_plugin_validates_parameters(registered, param, bad):
    with pytest.raises(ParameterError, match=param):
        make_any_ranker(EXAMPLE_SPEC, **{param: bad})


# -- loading -------------------------------------------------------------------------------------


PLUGIN = '''
import numpy as np
from feedapp.core.rankers import BaseRanker, Param

class Fav(BaseRanker):
    name = "fav"
    description = "serves one topic first"
    policy_defaults = {{"epsilon": 0.0, "temperature": 0.0, "new_creator_floor": 0.0, "max_same_topic": 0,
                       "topic_fatigue": 0.0, "creator_fatigue": 0.0, "repeat_penalty": 0.0}}

    def scores(self, rng):
        {body}
'''


def write(path: Path, body: str, topic: str = "cats") -> None:
    path.write_text(PLUGIN.format(body=body.replace("TOPIC", topic)))
    st = path.stat()  # make sure the watcher sees a new stamp even within one clock tick
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


GOOD = "return np.array([1.0 if 'TOPIC' in c.topics else 0.0 for c in self.space.clips])"


def test_spec_parsing_and_clear_load_errors(tmp_path):
    assert is_plugin_spec("a/b.py:Cls") and not is_plugin_spec("foryou") and not is_plugin_spec("x.txt:C")
    assert parse_spec("dir/x.py:Fav") == (Path("dir/x.py"), "Fav")
    with pytest.raises(PluginError, match="path/to/file.py:ClassName"):
        parse_spec("x.py")
    with pytest.raises(PluginError, match="there is no plugin file"):
        load_plugin_class(tmp_path / "missing.py", "Fav")
    p = tmp_path / "fav.py"
    write(p, GOOD)
    with pytest.raises(PluginError, match="defines no class 'Nope' \\(it defines: Fav\\)"):
        load_plugin_class(p, "Nope")
    (tmp_path / "syntax.py").write_text("class Fav(:\n")
    with pytest.raises(PluginError, match="line 1: syntax error"):
        load_plugin_class(tmp_path / "syntax.py", "Fav")
    (tmp_path / "boom.py").write_text("raise RuntimeError('no import for you')\n")
    with pytest.raises(PluginError, match="RuntimeError: no import for you"):
        load_plugin_class(tmp_path / "boom.py", "Fav")
    (tmp_path / "plain.py").write_text("class Fav:\n    name = 'fav'\n    def scores(self, rng): return []\n")
    with pytest.raises(PluginError, match="does not follow the ranker protocol: it has no learn_one"):
        load_plugin_class(tmp_path / "plain.py", "Fav")
    (tmp_path / "noname.py").write_text("from feedapp.core.rankers import BaseRanker\nclass Fav(BaseRanker):\n    pass\n")
    with pytest.raises(PluginError, match="needs a class attribute name"):
        load_plugin_class(tmp_path / "noname.py", "Fav")
    for err in (PluginError("x"),):
        assert isinstance(err, ValueError)  # the CLI turns ValueError into one line and exit code 2


def test_each_load_is_a_fresh_module(tmp_path):
    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    a = load_plugin_class(p, "Fav")
    write(p, GOOD, "ocean")
    b = load_plugin_class(p, "Fav")
    assert a is not b and a.__module__ != b.__module__


# -- reload while the feed runs --------------------------------------------------------------------


def topics_served(eng: FeedEngine, n: int, viewer: SimViewer) -> list[tuple[str, ...]]:
    out = []
    for _ in range(n):
        c = eng.next()
        eng.finish(viewer.watch(c))
        out.append(c.topics)
    return out


def test_edit_on_disk_and_reload_changes_what_is_served(tmp_path):
    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    events = []
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    eng.on("ranker_did_reload", lambda info: events.append(("reload", info)))
    eng.on("ranker_did_fail", lambda info: events.append(("fail", info)))
    host = eng.plugin_host
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    before = topics_served(eng, 6, viewer)
    assert all("cats" in t for t in before)
    assert host.poll() is None  # nothing changed yet
    write(p, GOOD, "ocean")
    assert host.poll() is True
    after = topics_served(eng, 6, viewer)
    assert all("ocean" in t for t in after)
    assert [k for k, _ in events] == ["reload"]
    info = events[0][1]
    assert info["version"] == 2 and info["views_replayed"] == 6 and info["class"] == "Fav"
    assert len(eng.views) == 12 and eng.ranker.learned[:6] == [(eng.space.clips[eng.space.row_of[v.clip_id]], r)
                                                              for v, r in zip(eng.views[:6], eng.rewards[:6])]


def test_reload_rebuilds_learned_state_by_replaying_the_views(tmp_path):
    """The reloaded example learner ends in the state of one that saw the views live."""
    src = EXAMPLE.read_text()
    p = tmp_path / "topic_average.py"
    p.write_text(src)
    eng = PluginHost.feed(demo_like_catalog(4), f"{p}:TopicAverage", seed=5)
    viewer = SimViewer.make(9, eng.space.topics, eng.space.creators)
    topics_served(eng, 25, viewer)
    live = dict(eng.ranker.active.count), dict(eng.ranker.active.total)
    p.write_text(src.replace('"novelty", 0.3', '"novelty", 0.2'))
    assert eng.plugin_host.reload() is True
    assert (dict(eng.ranker.active.count), dict(eng.ranker.active.total)) == live
    assert eng.ranker.params["novelty"] == 0.2  # the new default


def test_parameter_set_through_the_guard_survives_a_reload_and_is_announced(tmp_path):
    p = tmp_path / "topic_average.py"
    p.write_text(EXAMPLE.read_text())
    eng = PluginHost.feed(demo_like_catalog(4), f"{p}:TopicAverage", seed=5)
    changes = []
    eng.on("ranker_param_did_change", lambda name, old, new: changes.append((name, old, new)))
    eng.set_param("novelty", 1.5)
    assert changes == [("novelty", 0.3, 1.5)]
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10_000_000))
    assert eng.plugin_host.poll() is True
    assert eng.ranker.params["novelty"] == 1.5


# -- broken plugin code: the feed never stops ------------------------------------------------------

BROKEN = {
    "exception": "raise KeyError('oops in scores')",
    "nan": "return np.full(self.space.n, float('nan'))",
    "wrong type": "return [1.0] * self.space.n",
    "wrong shape": "return np.zeros(3)",
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_version_falls_back_to_the_last_good_one(tmp_path, kind):
    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    fails = []
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    eng.on("ranker_did_fail", fails.append)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    topics_served(eng, 3, viewer)
    # a version that fails at load time: the reload is refused, version 1 keeps serving
    write(p, BROKEN[kind])
    assert eng.plugin_host.poll() is False
    assert len(fails) == 1 and fails[0]["method"] == "reload" and "Traceback" in fails[0]["traceback"]
    served = topics_served(eng, 5, viewer)
    assert all("cats" in t for t in served)
    assert eng.ranker.serving.endswith("version 1") or eng.ranker.serving == "Fav version 1"


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_version_that_breaks_later_falls_back_while_serving(tmp_path, kind):
    """Version 2 works at reload, then breaks after some views: version 1 takes over, rebuilt."""
    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    fails = []
    eng.on("ranker_did_fail", fails.append)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    topics_served(eng, 3, viewer)
    late = f"if len(self.__dict__.setdefault('_n', [])) < 2:\n            self._n.append(1)\n            " \
           f"return np.array([1.0 if 'ocean' in c.topics else 0.0 for c in self.space.clips])\n        {BROKEN[kind]}"
    write(p, late)
    assert eng.plugin_host.poll() is True  # reload validates one call to scores, which works
    served = topics_served(eng, 8, viewer)
    assert len(served) == 8  # the feed never stopped
    assert len(fails) == 1 and fails[0]["method"] == "scores" and fails[0]["version"] == 2
    assert fails[0]["fallback"] == "Fav version 1"
    assert "Traceback" in fails[0]["traceback"]
    assert served[0] == ("ocean",)  # version 2 served once before breaking
    # then version 1 again: cats until all 8 cats clips are inside the repeat gap of 10
    assert all("cats" in t for t in served[1:6]) and {p.ranker for p in eng.picks} == {"fav"}
    assert all(p.propensity > 0 and np.isfinite(p.score) for p in eng.picks)


def test_first_version_failing_falls_back_to_the_builtin_ranker(tmp_path):
    p = tmp_path / "fav.py"
    write(p, BROKEN["nan"])
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3, fallback="random")
    fails = []
    eng.on("ranker_did_fail", fails.append)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    assert len(topics_served(eng, 10, viewer)) == 10
    assert fails and fails[0]["fallback"] == "random" and eng.ranker.name == "random"
    assert {p.ranker for p in eng.picks} == {"random"}


def test_learn_one_failure_is_caught_and_the_fallback_has_the_view(tmp_path):
    p = tmp_path / "fav.py"
    p.write_text(PLUGIN.format(body=GOOD.replace("TOPIC", "cats")) +
                 "\n    def learn_one(self, clip, reward):\n        raise ValueError('cannot learn')\n")
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    fails = []
    eng.on("ranker_did_fail", fails.append)
    c = eng.next()
    eng.finish(View(c.id, dwell_ms=5000, play_ms=5000))
    assert fails[0]["method"] == "learn_one" and fails[0]["fallback"] == "foryou"
    assert eng.ranker.active.views == 1  # foryou, rebuilt from the one view
    assert eng.next() is not None


def test_guard_passes_parameter_errors_through():
    g = GuardedRanker(lambda: make_any_ranker(EXAMPLE_SPEC))
    with pytest.raises(ParameterError, match="novelty"):
        g.set_param("novelty", 99)
    assert g.set_param("novelty", 1.0) == (0.3, 1.0)


def test_watcher_sees_size_and_time_changes_once(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")
    w = PluginWatcher(p)
    assert w.changed() is False
    p.write_text("a = 22\n")
    assert w.changed() is True and w.changed() is False
    p.unlink()
    assert w.changed() is False  # vanished mid-save: not a change yet
    p.write_text("a = 333\n")
    assert w.changed() is True


def test_engine_with_a_plain_plugin_instance_matches_registry_style_use():
    eng = FeedEngine(demo_like_catalog(1), make_any_ranker(EXAMPLE_SPEC, seed=2), seed=2)
    viewer = SimViewer.make(4, eng.space.topics, eng.space.creators)
    assert len(topics_served(eng, 20, viewer)) == 20
    assert eng.session_info()["ranker"] == "topic-average"


def test_parameter_changes_reloads_and_failures_become_session_events(tmp_path):
    from feedapp.core.plugins import record_ranker_events
    from feedapp.core.records import MemorySink
    from feedapp.core.session import SessionRecorder

    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    sink = MemorySink()
    rec = SessionRecorder(sink, app_version="t", mode="demo", ranker=eng.ranker.name, seed=3)
    record_ranker_events(eng, rec)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    topics_served(eng, 2, viewer)
    eng.set_param("epsilon", 0.25)
    assert eng.ranker.params["epsilon"] == 0.25  # applied...
    write(p, GOOD, "ocean")
    eng.plugin_host.poll()
    write(p, BROKEN["nan"])
    eng.plugin_host.poll()
    events = [(e.kind, e.data) for e in sink.of("event")]
    assert [k for k, _ in events] == ["ranker_param_changed", "ranker_reloaded", "ranker_failed"]
    assert events[0][1] == {"name": "epsilon", "old": 0.0, "new": 0.25}  # ...and logged with old and new
    assert events[1][1]["version"] == 2 and events[1][1]["views_replayed"] == 2
    assert "non-finite" in events[2][1]["message"] and "Traceback" in events[2][1]["traceback"]
    assert eng.ranker.params["epsilon"] == 0.25  # carried over to version 2


def test_fallback_ignores_plugin_parameter_values_outside_its_own_ranges(tmp_path):
    p = tmp_path / "fav.py"
    p.write_text(PLUGIN.format(body=BROKEN["exception"]).replace(
        'description = "serves one topic first"',
        'description = "serves one topic first"\n    own_params = (Param("decay", 1.0, 0.0, 5.0, "not foryou\'s decay"),)'))
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3, params={"decay": 3.0})
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    assert len(topics_served(eng, 5, viewer)) == 5
    assert eng.ranker.name == "foryou" and eng.ranker.params["decay"] == 0.99  # foryou's own default
