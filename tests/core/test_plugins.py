"""Ranker plugins: load from a file, pass the shared contract, reload on save, survive broken code."""

from __future__ import annotations

import os
import time
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
    assert host.poll(wait=True) is True
    after = topics_served(eng, 6, viewer)
    assert all("ocean" in t for t in after)
    assert [k for k, _ in events] == ["reload"]
    info = events[0][1]
    assert info["version"] == 2 and info["views_replayed"] == 6 and info["class"] == "Fav"
    assert len(eng.views) == 12 and eng.ranker.learned[:6] == [(eng.space.clips[eng.space.row_of[v.clip_id]], r, v)
                                                              for v, r in zip(eng.views[:6], eng.rewards[:6])]


def test_reload_rebuilds_learned_state_by_replaying_the_views(tmp_path):
    """The reloaded example learner ends in the state of one that saw the views live."""
    src = EXAMPLE.read_text()
    p = tmp_path / "topic_average.py"
    p.write_text(src)
    eng = PluginHost.feed(demo_like_catalog(4), f"{p}:TopicAverage", seed=5)
    viewer = SimViewer.make(9, eng.space.topics, eng.space.creators)
    topics_served(eng, 25, viewer)
    active = eng.ranker.active  # in its worker process: its state is read through the pipe
    live = active.remote_attr("count"), active.remote_attr("total")
    assert sum(live[0].values()) == 25
    p.write_text(src.replace('"novelty", 0.3', '"novelty", 0.2'))
    assert eng.plugin_host.reload() is True
    active = eng.ranker.active
    assert (active.remote_attr("count"), active.remote_attr("total")) == live
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
    assert eng.plugin_host.poll(wait=True) is True
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
    assert eng.plugin_host.poll(wait=True) is False
    assert len(fails) == 1 and fails[0]["method"] == "reload" and "Traceback" in fails[0]["traceback"]
    served = topics_served(eng, 5, viewer)
    assert all("cats" in t for t in served)
    assert eng.ranker.serving.endswith("version 1") or eng.ranker.serving == "Fav version 1"


def test_a_refused_version_keeps_its_number(tmp_path):
    """Seen in a new-user trial: a save that did not load was logged as "Fav version 2" failing, and the
    next save that loaded was version 2 too, so the log's ranker_failed and ranker_reloaded named two
    different sources alike. Every save gets its own number."""
    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    fails, reloads = [], []
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    eng.on("ranker_did_fail", fails.append)
    eng.on("ranker_did_reload", reloads.append)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    topics_served(eng, 3, viewer)
    write(p, "def broken(:")  # a syntax error
    assert eng.plugin_host.poll(wait=True) is False
    write(p, GOOD, "ocean")
    assert eng.plugin_host.poll(wait=True) is True
    assert [f["version"] for f in fails] == [2] and fails[0]["ranker"] == "Fav version 2"
    assert [r["version"] for r in reloads] == [3] and eng.ranker.serving == "Fav version 3"
    eng.plugin_host.close()


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_version_that_breaks_later_falls_back_while_serving(tmp_path, kind):
    """Version 2 works at reload, then breaks after some views: the built-in answers at once while
    version 1 restarts in its own process, rebuilt from the views; the next poll swaps it in."""
    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    fails, reloads = [], []
    eng.on("ranker_did_fail", fails.append)
    eng.on("ranker_did_reload", reloads.append)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    topics_served(eng, 3, viewer)
    late = f"if len(self.__dict__.setdefault('_n', [])) < 2:\n            self._n.append(1)\n            " \
           f"return np.array([1.0 if 'ocean' in c.topics else 0.0 for c in self.space.clips])\n        {BROKEN[kind]}"
    write(p, late)
    assert eng.plugin_host.poll(wait=True) is True  # reload validates one call to scores, which works
    served = topics_served(eng, 2, viewer)
    assert len(fails) == 1 and fails[0]["method"] == "scores" and fails[0]["version"] == 2
    assert fails[0]["fallback"] == "foryou" and fails[0]["restoring"] == "Fav version 1"
    assert "Traceback" in fails[0]["traceback"] or fails[0]["cause"] == "invalid"
    assert served[0] == ("ocean",)  # version 2 served once before breaking
    assert eng.plugin_host.reloading and eng.ranker.serving == "foryou"
    assert eng.plugin_host.poll(wait=True) is True  # version 1 is back
    assert reloads[-1]["restored"] is True and reloads[-1]["version"] == 1
    assert eng.ranker.serving == "Fav version 1" and eng.ranker.failed_over
    served = topics_served(eng, 6, viewer)
    # version 1 again: cats until all 8 cats clips are inside the repeat gap of 10
    assert all("cats" in t for t in served[:5]) and {p.ranker for p in eng.picks} == {"fav", "foryou"}
    assert all(p.propensity > 0 and np.isfinite(p.score) for p in eng.picks)
    assert len(fails) == 1
    eng.plugin_host.close()


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
    eng.plugin_host.poll(wait=True)
    write(p, BROKEN["nan"])
    eng.plugin_host.poll(wait=True)
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


# -- isolation: plugin code runs in its own process, within a time budget (issue 15, items 7-9) ----------

LOOP_S = 20  # "forever": long enough that a guard that does not cut it off fails the time checks below


def hang(kind: str) -> str:
    """Plugin code that does not return: a busy loop, one that swallows every exception, or a sleep."""
    return {
        "loop": f"import time\n        end = time.monotonic() + {LOOP_S}\n        while time.monotonic() < end:\n"
                "            pass",
        "stubborn": f"import time\n        end = time.monotonic() + {LOOP_S}\n        while time.monotonic() < end:\n"
                    "            try:\n                sum(range(1000))\n            except BaseException:\n                pass",
        "sleep": f"import time\n        time.sleep({LOOP_S})",
    }[kind]


def served_quickly(eng: FeedEngine, n: int, viewer: SimViewer) -> tuple[list[tuple[str, ...]], float]:
    """Serve and watch ``n`` clips; the topics and the longest time one step took (seconds)."""
    out, worst = [], 0.0
    for _ in range(n):
        t0 = time.perf_counter()
        c = eng.next()
        eng.finish(viewer.watch(c))
        worst = max(worst, time.perf_counter() - t0)
        out.append(c.topics)
    return out, worst


@pytest.mark.parametrize("kind", ["loop", "stubborn", "sleep"])
def test_scores_that_never_return_are_cut_off_at_the_budget_from_the_first_call(tmp_path, kind):
    """Item 7: scores loops from the start; before isolation the window never appeared."""
    p = tmp_path / "fav.py"
    write(p, hang(kind))
    t0 = time.perf_counter()
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    fails = []
    eng.on("ranker_did_fail", fails.append)
    host = eng.plugin_host
    worker = eng.ranker.active.proc.process
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    served, worst = served_quickly(eng, 10, viewer)
    assert len(served) == 10 and time.perf_counter() - t0 < 5
    assert worst < 1.0  # 50 ms budget + stopping the worker; the stall itself is measured in tests/ui
    assert [f["cause"] for f in fails] == ["timeout"] and fails[0]["method"] == "scores"
    assert "did not return within 50 ms" in fails[0]["message"] and fails[0]["fallback"] == "foryou"
    assert not worker.is_alive()  # stopped, not left running in the background
    assert eng.ranker.name == "foryou" and {pk.ranker for pk in eng.picks} == {"foryou"}
    host.close()


def test_the_budget_is_configurable_and_checked(tmp_path):
    p = tmp_path / "fav.py"
    write(p, "import time\n        time.sleep(0.12)\n        " + GOOD.replace("TOPIC", "cats"))
    slow_ok = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3, budget_ms=2000)
    viewer = SimViewer.make(1, slow_ok.space.topics, slow_ok.space.creators)
    assert all("cats" in t for t in topics_served(slow_ok, 3, viewer))  # 120 ms fits in 2 s
    assert slow_ok.plugin_host.failures == []
    slow_ok.plugin_host.close()
    tight = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)  # the default, 50 ms
    topics_served(tight, 2, viewer)
    assert [f["cause"] for f in tight.plugin_host.failures] == ["timeout"]
    tight.plugin_host.close()
    for bad in (0, -5, "soon", 10_001):
        with pytest.raises(PluginError, match="plugin time budget must be"):
            PluginHost(f"{p}:Fav", budget_ms=bad)


def test_learn_one_that_sleeps_does_not_hold_up_the_swipes(tmp_path):
    """Item 7: sleep(3) in learn_one made 8 swipes take 24 s (8 swipes -> 3 views in the window)."""
    p = tmp_path / "fav.py"
    p.write_text(PLUGIN.format(body=GOOD.replace("TOPIC", "cats")) +
                 "\n    def learn_one(self, clip, reward):\n        import time\n        time.sleep(3)\n")
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    t0 = time.perf_counter()
    served, worst = served_quickly(eng, 8, viewer)
    assert len(eng.views) == 8 and time.perf_counter() - t0 < 2.0 and worst < 1.0
    fails = eng.plugin_host.failures
    assert [(f["method"], f["cause"]) for f in fails] == [("learn_one", "timeout")]
    assert eng.ranker.active.views == 8  # the built-in fallback was rebuilt from every view, the cut-off one too
    eng.plugin_host.close()


def test_a_version_that_starts_looping_later_falls_back_to_the_last_good_version(tmp_path):
    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    topics_served(eng, 3, viewer)
    late = ("if len(self.__dict__.setdefault('_n', [])) < 2:\n            self._n.append(1)\n            "
            "return np.array([1.0 if 'ocean' in c.topics else 0.0 for c in self.space.clips])\n        " + hang("loop"))
    write(p, late)
    assert eng.plugin_host.poll(wait=True) is True
    served, worst = served_quickly(eng, 2, viewer)
    assert worst < 1.0
    fails = eng.plugin_host.failures
    assert [(f["method"], f["cause"], f["version"], f["fallback"], f["restoring"]) for f in fails] == \
        [("scores", "timeout", 2, "foryou", "Fav version 1")]
    assert served[0] == ("ocean",)
    assert eng.plugin_host.poll(wait=True) is True
    served, worst = served_quickly(eng, 5, viewer)
    assert all("cats" in t for t in served) and worst < 1.0
    assert eng.ranker.serving == "Fav version 1" and eng.ranker.active.proc.alive
    eng.plugin_host.close()


EXITS = {
    "sys.exit": "import sys\n        sys.exit(3)",
    "KeyboardInterrupt": "raise KeyboardInterrupt",
    "SystemExit": "raise SystemExit('bye')",
    "os._exit": "import os\n        os._exit(7)",
}


@pytest.mark.parametrize("how", sorted(EXITS))
def test_exits_and_interrupts_in_plugin_code_are_contained_at_start(tmp_path, how):
    """Item 8: sys.exit / KeyboardInterrupt in plugin code ended the app mid-session."""
    p = tmp_path / "fav.py"
    write(p, EXITS[how])
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    assert len(topics_served(eng, 6, viewer)) == 6  # this process is still here, and serving
    f = eng.plugin_host.failures[0]
    assert f["method"] == "scores" and f["fallback"] == "foryou"
    if how == "os._exit":
        assert f["cause"] == "crashed" and "exit code 7" in f["message"]
    else:
        assert f["cause"] == "raised" and f["message"].startswith(("SystemExit", "KeyboardInterrupt"))
        assert "Traceback (most recent call last)" in f["traceback"]
    eng.plugin_host.close()


@pytest.mark.parametrize("how", ["sys.exit", "KeyboardInterrupt"])
def test_exits_in_plugin_code_are_contained_on_live_reload(tmp_path, how):
    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    topics_served(eng, 2, viewer)
    at_import = PLUGIN.format(body=GOOD.replace("TOPIC", "ocean")) + "\n" + EXITS[how].replace("        ", "") + "\n"
    p.write_text(at_import)
    assert eng.plugin_host.reload() is False
    write(p, EXITS[how])  # a version that loads, then exits in its first scores
    assert eng.plugin_host.reload() is False
    assert [f["method"] for f in eng.plugin_host.failures] == ["reload", "reload"]
    assert "importing it raised" in eng.plugin_host.failures[0]["message"]
    assert all("cats" in t for t in topics_served(eng, 4, viewer))  # version 1 still serves
    eng.plugin_host.close()


def test_exits_at_import_before_the_feed_starts_are_one_clear_line(tmp_path):
    p = tmp_path / "fav.py"
    p.write_text("import sys\nsys.exit('not today')\n")
    with pytest.raises(PluginError, match="importing it raised SystemExit: not today"):
        PluginHost(f"{p}:Fav")
    p.write_text(PLUGIN.format(body=GOOD) + "\n    def __init__(self, seed=0, **kw):\n        raise KeyboardInterrupt\n")
    with pytest.raises(PluginError, match="creating the ranker raised KeyboardInterrupt"):
        PluginHost(f"{p}:Fav")
    p.write_text("while True:\n    pass\n")
    t0 = time.perf_counter()
    with pytest.raises(PluginError, match="did not finish within 0.3 s"):
        PluginHost(f"{p}:Fav", load_timeout_s=0.3)
    assert time.perf_counter() - t0 < 3
    with pytest.raises(PluginError, match="importing it raised SystemExit"):  # in-process loading too (replay)
        load_plugin_class(p.with_name("x.py") if p.with_name("x.py").write_text("raise SystemExit(2)\n") else p, "Fav")


def test_a_plugin_that_raises_in_bind_is_logged_and_announced(tmp_path):
    """Item 9: a failure while the engine is built happened before anything listened: it was lost."""
    from feedapp.core.records import MemorySink
    from feedapp.core.session import SessionRecorder
    from feedapp.core.plugins import record_ranker_events

    p = tmp_path / "fav.py"
    p.write_text(PLUGIN.format(body=GOOD.replace("TOPIC", "cats")) +
                 "\n    def bind(self, space, world=None):\n        raise RuntimeError('no binding today')\n")
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    sink = MemorySink()
    rec = SessionRecorder(sink, app_version="t", mode="demo", ranker=eng.ranker.name, seed=3)
    record_ranker_events(eng, rec)  # what the app wires, after the engine exists
    logged = [e.data for e in sink.of("event") if e.kind == "ranker_failed"]
    assert len(logged) == 1 and logged[0]["method"] == "bind" and logged[0]["fallback"] == "foryou"
    assert "RuntimeError: no binding today" in logged[0]["message"] and "Traceback" in logged[0]["traceback"]
    assert eng.next() is not None and eng.ranker.name == "foryou"
    eng.plugin_host.close()


PRINTER = '''
import sys
import numpy as np
from feedapp.core.plugins import PluginHost
from feedapp.core.simulate import SimViewer, demo_like_catalog

if __name__ == "__main__":  # worker processes import this script again (multiprocessing's rule)
    eng = PluginHost.feed(demo_like_catalog(2), sys.argv[1], seed=3)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    for _ in range(5):
        eng.finish(viewer.watch(eng.next()))
    host = eng.plugin_host
    text = host.output.text()
    sys.stderr.write(f"failures={len(host.failures)} kept={len(text)} dropped={'dropped' in text}\\n")
'''


def test_five_megabytes_of_plugin_output_into_a_pipe_nobody_reads_does_not_block(tmp_path):
    """Item 7: a plugin printing 5 MB into an undrained pipe blocked the GUI thread for good."""
    import subprocess
    import sys

    p = tmp_path / "fav.py"
    write(p, "print('x' * 5_000_000)\n        sys.stderr.write('y' * 100)\n        import os\n"
             "        os.write(1, b'z' * 200_000)\n        " + GOOD.replace("TOPIC", "cats"))
    p.write_text("import sys\n" + p.read_text())
    script = tmp_path / "run.py"
    script.write_text(PRINTER)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(script), f"{p}:Fav"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=tmp_path)
    try:
        proc.wait(timeout=60)  # nobody reads its stdout while it runs: a 64 KiB pipe buffer
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert out == b""  # nothing the plugin printed reached the app's own stdout
    from feedapp.core.isolation import OUTPUT_LIMIT

    line = err.decode().strip().splitlines()[-1]
    kept = int(line.split("kept=")[1].split()[0])
    assert "failures=0" in line and 0 < kept <= OUTPUT_LIMIT and "dropped=True" in line


def test_a_refreshed_feed_is_still_guarded(tmp_path):
    p = tmp_path / "fav.py"
    flag = tmp_path / "loop.flag"
    write(p, f"import os\n        if os.path.exists({str(flag)!r}):\n            {hang('loop').replace(chr(10) + '        ', chr(10) + '            ')}\n"
             f"        " + GOOD.replace("TOPIC", "cats"))
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    topics_served(eng, 3, viewer)
    guard = eng.ranker
    reloads = []
    eng.on("ranker_did_reload", reloads.append)
    t0 = time.perf_counter()
    eng.refresh()
    assert time.perf_counter() - t0 < 1.0  # the fresh instance starts in the background
    assert eng.ranker is guard is eng.plugin_host.guard and guard.learned == []
    assert eng.plugin_host.poll(wait=True) is True
    assert reloads[-1]["views_replayed"] == 0 and reloads[-1]["version"] == 1
    assert guard.serving == "Fav version 1" and not guard.failed_over and eng.plugin_host.failures == []
    assert all("cats" in t for t in topics_served(eng, 2, viewer))
    flag.write_text("loop now")
    served, worst = served_quickly(eng, 4, viewer)
    assert worst < 1.0 and [f["cause"] for f in eng.plugin_host.failures] == ["timeout"]
    eng.plugin_host.close()


def test_the_workers_mirror_of_the_catalog_follows_growth_popularity_and_follows(tmp_path):
    from feedapp.core.catalog import Catalog

    cat = demo_like_catalog(2)
    clips = list(cat.clips)
    p = tmp_path / "mirror.py"
    p.write_text(PLUGIN.format(body="return self.world.popularity.vector(self.space) + self.space.X.sum(axis=1)"
                                    " + np.array([1.0 if c.creator in self.world.following else 0.0 for c in self.space.clips])"))
    eng = PluginHost.feed(Catalog(clips[:20]), f"{p}:Fav", seed=3)
    viewer = SimViewer.make(1, eng.space.topics, eng.space.creators)
    topics_served(eng, 3, viewer)
    eng.catalog.add(clips[20:])
    eng.follow(clips[25].creator)
    topics_served(eng, 2, viewer)
    got = eng.ranker.active.scores(np.random.default_rng(0))
    want = (eng.world.popularity.vector(eng.space) + eng.space.X.sum(axis=1)
            + np.array([1.0 if c.creator in eng.world.following else 0.0 for c in eng.space.clips]))
    assert eng.space.n == len(clips) and np.allclose(got, want)
    assert eng.plugin_host.failures == []
    eng.plugin_host.close()


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "20000", "soon"])
def test_the_cli_refuses_a_budget_out_of_range_before_anything_starts(tmp_path, capsys, bad):
    from feedapp.cli import main
    from feedapp.config import ConfigError, Settings

    with pytest.raises(SystemExit) as stop:  # argparse's refusal: one line, exit code 2
        main(["play", str(tmp_path), "--db", str(tmp_path / "f.db"), "--plugin-budget", bad])
    assert stop.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("feedapp")]
    assert len(err) == 1 and "--plugin-budget" in err[0] and ("above 0 and at most 10,000 ms" in err[0] or "number" in err[0])
    assert not (tmp_path / "f.db").exists()
    with pytest.raises(ConfigError, match="--plugin-budget must be above 0"):
        Settings(db_path=tmp_path / "f.db", plugin_budget_ms=0).validate()


# -- no wait on a worker without a bound (review of issue 15: one start-up hang in ~40 runs) ------------


def _in_thread(fn, limit_s: float):
    """Run ``fn`` in a daemon thread; its result, or ``TimeoutError`` if it still waits after ``limit_s``."""
    import threading

    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit_s)
    if t.is_alive():
        raise TimeoutError(f"still waiting after {limit_s} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def test_a_stuck_forkserver_is_one_clear_error_not_a_hang(tmp_path, monkeypatch):
    """Starting a worker asks the forkserver for a process and (in multiprocessing) waits for its answer
    without a time limit: a stopped or stuck forkserver froze the app before its window, for good."""
    import signal
    from multiprocessing import forkserver

    from feedapp.core import isolation

    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    PluginHost(f"{p}:Fav").close()  # the forkserver runs
    pid = forkserver._forkserver._forkserver_pid
    assert pid
    monkeypatch.setattr(isolation, "START_TIMEOUT_S", 1.0, raising=False)
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.perf_counter()
        with pytest.raises(PluginError, match="process did not start within 1 s"):
            _in_thread(lambda: PluginHost(f"{p}:Fav", load_timeout_s=2.0), 8.0)
        assert time.perf_counter() - t0 < 4.0
    finally:
        os.kill(pid, signal.SIGCONT)
    host = _in_thread(lambda: PluginHost(f"{p}:Fav"), 20.0)  # the forkserver answers again: plugins start
    assert host.guard.active.proc.alive
    host.close()


def test_a_large_message_to_a_worker_that_does_not_read_is_cut_off_at_its_deadline(tmp_path):
    """A call's message is written to a socket; one larger than its buffer, to a worker that never reads
    (stopped, stuck), blocked the caller in the write, past every deadline."""
    import signal

    from feedapp.core.features import FeatureSpace
    from feedapp.core.isolation import PluginTimeout, PluginVersion, RemoteRanker

    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    r = RemoteRanker(PluginVersion(str(p), "Fav", p.read_text()), budget_ms=200)
    r.prepare()
    os.kill(r.proc.process.pid, signal.SIGSTOP)  # it reads nothing more (it is killed by the cut-off)
    space = FeatureSpace(list(demo_like_catalog(1, n_clips=20_000)))  # about 4 MB of pickled clips
    t0 = time.perf_counter()
    with pytest.raises(PluginTimeout):
        _in_thread(lambda: r.bind(space, timeout_s=0.5), 8.0)
    assert time.perf_counter() - t0 < 3.0
    assert not r.proc.alive
    r.close()


def test_a_version_no_longer_served_is_detached_from_the_space():
    """A reload or a failure closes the version it replaces (``plugins._close``): an in-process version stops
    hearing the space's growth, so the space does not keep every version ever loaded."""
    from feedapp.core.features import FeatureSpace
    from feedapp.core.plugins import _close

    space = FeatureSpace(demo_like_catalog(0).clips)
    kept, replaced = RANKERS["foryou"](seed=1).bind(space), RANKERS["foryou"](seed=2).bind(space)
    _close(replaced)
    owners = [getattr(f, "__self__", None) for f in space._listeners]
    assert kept in owners and replaced not in owners
    _close(replaced)  # twice: nothing left to detach


def test_ctrl_c_while_a_plugin_is_tried_stops_and_is_not_blamed_on_the_plugin(tmp_path):
    """lab validate and simulate try a plugin in its worker (quick_check) for up to 10 s. Ctrl+C while a
    looping plugin was tried came back as the plugin's problem ('conditions.A.ranker: ...: KeyboardInterrupt: ',
    exit 1; simulate exit 2); the worker ignores SIGINT, so a KeyboardInterrupt in this process is the user's."""
    import signal
    import threading

    from feedapp.core.plugins import quick_check

    path = tmp_path / "loops.py"
    path.write_text("from feedapp.core.rankers import BaseRanker\n\nclass Loops(BaseRanker):\n    name = 'loops'\n\n"
                    "    def scores(self, rng):\n        while True:\n            pass\n")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            quick_check(f"{path}:Loops", timeout_s=5.0)
    finally:
        timer.cancel()


def test_a_module_beside_the_plugin_that_it_cannot_import_is_explained(tmp_path):
    """A developer who split a plugin in two (``from helpers import bonus``) read only "No module named
    'helpers'" while helpers.py sat beside it; a module that is nowhere stays the bare error."""
    (tmp_path / "helpers.py").write_text("def bonus():\n    return 0.0\n")
    path = tmp_path / "split.py"
    path.write_text("from helpers import bonus\nimport nowhere_at_all\n")
    with pytest.raises(PluginError) as e:
        make_any_ranker(f"{path}:Split")
    assert str(e.value) == (f"{path}: importing it raised ModuleNotFoundError: No module named 'helpers' (helpers is "
                            f"beside the plugin, but a plugin is run as one file, not from its folder: put {tmp_path} "
                            "on PYTHONPATH to import it (it is then imported once per process, so saving it does not "
                            "reload the plugin), or copy what you need into the plugin)")
    path.write_text("import nowhere_at_all\n")
    with pytest.raises(PluginError) as e:
        make_any_ranker(f"{path}:Split")
    assert str(e.value) == f"{path}: importing it raised ModuleNotFoundError: No module named 'nowhere_at_all'"


def test_a_plugin_under_a_built_in_rankers_name_is_refused_where_it_would_serve(tmp_path, capsys):
    """A developer's tweak of foryou (``class Mine(ForYouRanker)``, no name of its own) served as 'foryou':
    sessions.ranker and every impression's policy said foryou, as for the built-in and for the guard's
    fallback (only ranker_version told them apart). Refused by the app's worker (so play, lab validate and
    simulate's try) and by check-ranker; a logged version is still replayed."""
    from feedapp.commands.replay import run_check_ranker_command
    from feedapp.core.plugins import quick_check

    path = tmp_path / "tweak.py"
    path.write_text("from feedapp.core.rankers.foryou import ForYouRanker\n\n\nclass Tweak(ForYouRanker):\n"
                    "    description = 'foryou, explored more'\n")
    says = (f"{path}: class Tweak is named 'foryou' (inherited from ForYouRanker), as feedapp's own 'foryou': the "
            "log names the ranker of each slot by it, so its slots could not be told from the built-in's (nor from "
            "the fallback's); give it a name of its own, name = \"...\"")
    assert quick_check(f"{path}:Tweak") == [("ranker", says)]
    assert run_check_ranker_command(f"{path}:Tweak", draws=1000) == 2
    assert capsys.readouterr().err == f"feedapp: {says}\n"
    with pytest.raises(PluginError, match="is named 'foryou'"):
        load_plugin_class(path, "Tweak", own_name=True)
    assert load_plugin_class(path, "Tweak").name == "foryou"  # a session it served replays
    path.write_text(path.read_text() + "    name = 'tweak'\n")
    assert quick_check(f"{path}:Tweak") == []


def test_a_plugin_whose_init_skips_the_base_class_is_told_so(tmp_path):
    """An __init__ without super().__init__(seed, **params): check-ranker failed every check with
    "'NoSuper' object has no attribute 'params'", simulate and play said 'creating the ranker raised
    AttributeError: ...', without a word of the missing call."""
    from feedapp.core.plugins import quick_check

    path = tmp_path / "nosuper.py"
    path.write_text("import numpy as np\nfrom feedapp.core.rankers import BaseRanker\n\n\nclass NoSuper(BaseRanker):\n"
                    "    name = 'no-super'\n\n    def __init__(self, seed=0, **params):\n        self.count = 0\n\n"
                    "    def scores(self, rng):\n        return np.zeros(self.space.n)\n")
    says = (f"{path}:NoSuper: NoSuper.__init__ does not call super().__init__(seed, **params), so the ranker has no "
            "seed or parameters; call it first (docs/rankers.md, writing a plugin, step 3)")
    with pytest.raises(PluginError) as e:
        make_any_ranker(f"{path}:NoSuper")
    assert str(e.value) == says
    assert quick_check(f"{path}:NoSuper") == [("ranker", says)]


def test_a_plugin_process_starts_in_a_child_forked_after_the_server_was_chosen(tmp_path):
    """review11: under mutmut (which forks each mutant's test run from a process that had started the
    multiprocessing forkserver), every plugin process failed to start ("ChildProcessError: No child
    processes": the inherited server is the parent's), so every mutant covered by a plugin test counted
    as killed. A forked child now starts its plugin workers with spawn."""
    import os

    p = tmp_path / "fav.py"
    write(p, GOOD, "cats")
    eng = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)  # this process starts the server
    assert eng.upcoming(1)
    out = tmp_path / "child.txt"
    pid = os.fork()
    if pid == 0:  # the child: a new plugin host, as a forked test run makes
        code = 1
        try:
            child = PluginHost.feed(demo_like_catalog(2), f"{p}:Fav", seed=3)
            viewer = SimViewer.make(1, child.space.topics, child.space.creators)
            out.write_text(" ".join(sorted({t for ts in topics_served(child, 3, viewer) for t in ts})))
            child.plugin_host.close()
            code = 0
        except BaseException as e:  # noqa: BLE001 - reported through the file
            out.write_text(f"{type(e).__name__}: {e}")
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out.read_text() if out.exists() else "no output"
    assert out.read_text() == "cats"
    eng.plugin_host.close()
