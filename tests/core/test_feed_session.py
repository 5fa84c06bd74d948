"""The feed transaction: what the app decides, learns and logs is exactly what replay reproduces.

A driver does what the widget does (``SwipeView`` + ``SessionBridge``): the first clip starts, each
swipe closes the view at the input, moves the feed, and the next clip settles; the slot after it
is decided then (preloading), so each decision sees one view fewer than the slot number. Along the
way the viewer swipes back, changes parameters, follows and unfollows, refreshes the feed, the
catalog grows and a plugin reloads. The session goes through the real SQLite writer, is read back
with ``read_logged_session`` and replayed: every logged propensity comes back to 1e-9, the replayed
draws are the served clips, and on-policy IPS equals the logged mean reward.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine, view_from_record
from feedapp.core.feed_session import LIVE_CHANGE, SESSION_CATALOG, FeedSession
from feedapp.core.plugins import PluginError, PluginHost
from feedapp.core.records import MemorySink
from feedapp.core.replay import LoggedStep, ReplayError, replay
from feedapp.core.session import SessionRecorder
from feedapp.core.simulate import SimViewer, demo_like_catalog
from feedapp.store.replay_log import read_logged_session
from feedapp.store.log import EventLog
from feedapp.store.sessions import open_for_reading

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "topic_average.py"
SEC = 1_000_000_000


def _recorder(engine: FeedEngine, sink, clock) -> SessionRecorder:
    """The recorder the app opens for ``engine``'s session, writing to ``sink``, on a test ``clock``."""
    return SessionRecorder(sink, app_version="test", mode="demo", ranker=engine.ranker.name,
                           ranker_params=dict(engine.ranker.params), seed=engine.seed,
                           catalog_fingerprint=engine.catalog.fingerprint(), catalog_size=len(engine.catalog),
                           clock=clock)


class WidgetDriver:
    """What SwipeView and SessionBridge do, without Qt: start, leave at the input, move, settle."""

    def __init__(self, engine: FeedEngine, sink, seed: int = 0) -> None:
        self.engine = engine
        self.t = SEC
        self.recorder = _recorder(engine, sink, lambda: self.t)
        self.session = FeedSession(engine, self.recorder)
        self.viewer = SimViewer.make(seed, engine.space.topics or ("cats",), engine.space.creators or ("x",))
        self.max_shown = -1

    def start(self) -> None:
        clip = self.engine.start()
        self._settled(clip, "start")

    def _settled(self, clip, how: str) -> None:
        pos = self.engine.position
        revisit = self.engine.is_revisit() or pos <= self.max_shown
        self.max_shown = max(self.max_shown, pos)
        self.session.arrive(clip, position=pos, how=how, is_revisit=revisit, settled_ns=self.t, input_ns=self.t)
        self.recorder.first_frame(self.t + 20_000_000)

    def watch_and_swipe(self, step: int = 1) -> None:
        clip = self.engine.current
        v = self.viewer.watch(clip)
        self.t += int(max(v.play_ms, 50.0) * 1e6) + 20_000_000
        for _ in range(v.loops):
            self.recorder.loop_completed(self.t)
        if v.liked:
            self.recorder.like(self.t)
        if self.engine.peek(step) is None:
            return
        how = "swipe_next" if step > 0 else "swipe_prev"
        self.session.leave(how, self.t)
        self.t += 250_000_000  # the snap animation
        clip = self.engine.move(step)
        self._settled(clip, how)

    def live(self) -> None:
        """After a live change the widget preloads what the feed says now (SwipeView.reload_next)."""
        self.session.decide_next()

    def end(self) -> None:
        self.session.end("quit", self.t)


def run_session(engine: FeedEngine, sink, *, views: int = 60, seed: int = 0, growth=(), follow=None,
                reload_host=None, restart_done_at: int | None = None) -> WidgetDriver:
    d = WidgetDriver(engine, sink, seed)
    rnd = random.Random(seed)
    d.start()
    for i in range(views):
        if i == 8:
            engine.set_param("epsilon", 0.3)
            d.live()
        if i == 15 and follow is not None:
            engine.follow(follow)
            d.live()
        if i == 22:
            engine.refresh()
            d.live()
        if i == 27 and growth:
            engine.catalog.add(growth)
            d.live()
        if i == 31 and follow is not None:
            engine.unfollow(follow)
            d.live()
        if i == 35:
            engine.set_param("temperature", 0.4)
            d.live()
        if i == 40 and reload_host is not None:
            assert reload_host.reload()
            d.live()
        # what the app's 500 ms timer does: finish background (re)starts. A restart that takes until step
        # ``restart_done_at`` is not looked for before it (a quick worker could finish it sooner, and the
        # test would then see it back at whichever step polled first)
        if reload_host is not None and (restart_done_at is None or i >= restart_done_at):
            reload_host.poll(wait=i == restart_done_at)
        step = -1 if (i % 9 == 5 and rnd.random() < 0.8) else 1
        d.watch_and_swipe(step)
    d.end()
    return d


def record_sqlite(tmp_path: Path, engine: FeedEngine, **run) -> tuple[Path, WidgetDriver]:
    """Run a session into a real SQLite log, with clips logged as the app logs them."""
    path = tmp_path / "feed.db"
    log = EventLog(path)
    log.clips_known(engine.catalog.clips)
    engine.catalog.on_grow(log.clips_known)  # as the app wires it
    d = run_session(engine, log, **run)
    assert log.close()
    return path, d


def read_back(path: Path, sid: str):
    conn = open_for_reading(path)
    try:
        return read_logged_session(conn, sid)
    finally:
        conn.close()


def _split_catalog(seed: int = 1):
    clips = demo_like_catalog(seed, n_clips=72, visual_dims=6).clips
    return Catalog(clips[:60]), clips[60:]


def _assert_reproduced(rep: dict, name: str, picks) -> None:
    """Every logged propensity to 1e-9, every draw the served clip, on-policy IPS = logged mean."""
    decided = [s for s in rep["steps"] if name in s["rankers"]]
    assert decided and all(not s["scripted"] and not s["revisit"] for s in decided)
    for s in decided:
        assert s["rankers"][name]["p_logged_clip"] == pytest.approx(s["propensity"], abs=1e-9), s["position"]
        assert s["rankers"][name]["drawn"] == s["clip"], s["position"]
    r = next(x for x in rep["rankers"] if x["ranker"] == name)
    assert r["reproduced"]["exact_log"] is True and r["reproduced"]["served_agrees"] == 1.0
    assert r["reproduced"]["max_propensity_error"] <= 1e-9
    assert r["estimates"]["ips"]["value"] == rep["logged"]["value"]
    assert r["estimates"]["snips"]["value"] == rep["logged"]["value"]
    assert r["effective_samples"] == rep["counts"]["used"]
    served = [p.clip_id for p in picks if not p.scripted]
    shown = [s["clip"] for s in rep["steps"] if not s["revisit"] and not s["scripted"]]
    assert shown == served[: len(shown)] and len(served) - len(shown) <= 1  # + the preloaded, never shown


@pytest.mark.parametrize("ranker, params", [
    ("foryou", {"temperature": 0.2}),
    ("random", {"epsilon": 0.5, "temperature": 0.3, "new_creator_floor": 0.2, "creator_fatigue": 0.3}),
    ("popular", {"temperature": 0.2}),
    ("following", {"temperature": 0.1}),
    ("chronological", {"temperature": 0.05, "epsilon": 0.1}),
])
def test_a_live_session_replays_exactly_from_the_sqlite_log(tmp_path, ranker, params):
    catalog, later = _split_catalog()
    engine = FeedEngine(catalog, ranker, seed=5, params=params)
    path, d = record_sqlite(tmp_path, engine, views=60, seed=3, growth=later, follow=engine.space.creators[1])
    logged = read_back(path, d.recorder.id[:8])
    changes = [e["change"] for e in logged.live]
    assert changes == ["param", "following", "refresh", "catalog", "following", "param"]
    assert logged.exact and logged.notes == () and len(logged.initial) == 60 and len(logged.clips) == 72
    assert any(st.is_revisit for st in logged.steps)
    # with preloading, the slot after the current one was decided before the current view closed
    assert any(st.views_learned is not None and st.views_learned < st.position for st in logged.steps)
    rep = replay(logged, [ranker, "foryou" if ranker != "foryou" else "random"], n_boot=50)
    _assert_reproduced(rep, ranker, engine.picks)
    assert rep["session"]["clips"] == 72


def test_visual_features_are_stored_with_the_clip_and_replayed(tmp_path):
    catalog, _ = _split_catalog(2)
    assert all(len(c.features) == 6 for c in catalog.clips)
    engine = FeedEngine(catalog, "foryou", seed=1, params={"temperature": 0.3})
    path, d = record_sqlite(tmp_path, engine, views=30, seed=1)
    logged = read_back(path, d.recorder.id)
    assert [c.features for c in logged.clips] == [c.features for c in catalog.clips]  # exact floats
    _assert_reproduced(replay(logged, ["foryou"], n_boot=20), "foryou", engine.picks)


def test_a_plugin_session_with_a_reload_replays_exactly():
    catalog, _ = _split_catalog(3)
    spec = f"{EXAMPLE}:TopicAverage"
    engine = PluginHost.feed(catalog, spec, seed=2, params={"temperature": 0.3})
    assert engine.ranker_version.startswith("plugin:")
    sink = MemorySink()
    sink.clips_known(tuple(catalog.clips))
    run_session(engine, sink, views=50, seed=2, reload_host=engine.plugin_host)
    engine.plugin_host.close()
    logged = _memory_session(sink)
    changes = [(e["change"], e.get("ranker_version")) for e in logged.live]
    # "refresh my feed" with a plugin: the built-in serves while a fresh plugin instance starts in the
    # background; whenever the code serving changes, that is a live change replay applies at its place
    assert changes[:3] == [("param", None), ("refresh", None), ("serving", "builtin:foryou")]
    assert ("reload", engine.ranker_version) in changes and engine.ranker_version.startswith("plugin:")
    rep = replay(logged, [spec], n_boot=20)
    _assert_reproduced(rep, spec, engine.picks)


@pytest.mark.parametrize("done_at", [30, 38])
def test_a_plugin_restarted_across_a_parameter_change_replays_exactly(done_at):
    """"Refresh my feed" restarts the plugin in the background (the built-in serves meanwhile); a parameter
    set before the restart is done (step 35) reaches the restarted version, as replay rebuilds it. A
    restart that took until step 38 used to serve with the temperature of its start (mismatch at 38-40)."""
    catalog, _ = _split_catalog(3)
    spec = f"{EXAMPLE}:TopicAverage"
    engine = PluginHost.feed(catalog, spec, seed=2, params={"temperature": 0.3})
    sink = MemorySink()
    sink.clips_known(tuple(catalog.clips))
    run_session(engine, sink, views=50, seed=2, reload_host=engine.plugin_host, restart_done_at=done_at)
    engine.plugin_host.close()
    logged = _memory_session(sink)
    changes = [(e["change"], e["views"]) for e in logged.live]
    assert changes[:3] == [("param", 8), ("refresh", 22), ("serving", 22)]
    restored = [v for c, v in changes if c == "reload" and v < 40]
    assert restored == [done_at], changes  # the restarted version is back at that step, then the reload at 40
    assert ("param", 35) in changes  # before the restart was done at 38, after it at 30
    _assert_reproduced(replay(logged, [spec], n_boot=20), spec, engine.picks)


def _memory_session(sink: MemorySink):
    """The LoggedSession the SQLite reader would build, from a MemorySink's records."""
    from feedapp.core.engine import view_from_record
    from feedapp.core.replay import LoggedSession, LoggedStep

    sess = sink.of("session")[0]
    events = sink.of("event")
    start = next(e.data for e in events if e.kind == SESSION_CATALOG)
    live = tuple(e.data for e in events if e.kind == LIVE_CHANGE)
    views = {v.impression_id: v for v in sink.of("view") if v.final}
    clips = {c.id: c for batch in sink.of("clips") for c in batch}
    steps = []
    for imp in sink.of("impression"):
        v = views.get(imp.id)
        steps.append(LoggedStep(imp.position, imp.clip_id, imp.is_revisit, imp.policy, imp.propensity,
                                None if v is None else view_from_record(v, imp.clip_id, imp.is_revisit),
                                imp.views_learned, imp.live_seq, imp.params_version, imp.ranker_version,
                                imp.scripted))
    order = list(start["clips"]) + [c for e in live if e["change"] == "catalog" for c in e["clips"]]
    return LoggedSession(sess.id, sess.ranker, start["params"], sess.seed, tuple(clips[c] for c in order),
                         tuple(steps), live=live, start=start)


def test_impressions_record_what_each_decision_saw():
    catalog, _ = _split_catalog(4)
    engine = FeedEngine(catalog, "foryou", seed=0, warmup=catalog.clips[:3])
    sink = MemorySink()
    sink.clips_known(tuple(catalog.clips))
    run_session(engine, sink, views=40, seed=4)
    imps = sink.of("impression")
    assert [i.scripted for i in imps[:3]] == [True, True, True] and not any(i.scripted for i in imps[3:])
    assert [i.policy for i in imps[:3]] == ["warmup"] * 3
    ranked = [i for i in imps if not i.is_revisit and not i.scripted]
    assert all(i.ranker_version == "builtin:foryou" for i in ranked)
    assert [i.params_version for i in ranked] == sorted(i.params_version for i in ranked)
    assert ranked[-1].params_version == 2 and ranked[0].params_version == 0
    assert all(i.views_learned < i.position for i in ranked)  # preloaded: decided before the previous view closed
    start = next(e for e in sink.of("event") if e.kind == SESSION_CATALOG)
    assert start.data["clips"] == [c.id for c in catalog.clips] and start.data["warmup"] == [c.id for c in catalog.clips[:3]]
    live = [e for e in sink.of("event") if e.kind == LIVE_CHANGE]
    assert [e.data["seq"] for e in live] == list(range(len(live)))
    assert all(e.impression_id is not None for e in live)  # logged at its place in the feed
    rep = replay(_memory_session(sink), ["foryou"], n_boot=20)
    assert rep["counts"]["scripted"] == 3  # warm-up slots are not ranker picks: out of OPE
    _assert_reproduced(rep, "foryou", engine.picks)


def test_replay_with_other_parameters():
    catalog, _ = _split_catalog(5)
    engine = FeedEngine(catalog, "foryou", seed=3, params={"temperature": 0.2})
    sink = MemorySink()
    sink.clips_known(tuple(catalog.clips))
    run_session(engine, sink, views=40, seed=5)
    logged = _memory_session(sink)
    base = replay(logged, ["foryou"], n_boot=20)
    hot = replay(logged, ["foryou"], params={"temperature": 3.0}, n_boot=20)
    assert "reproduced" in base["rankers"][0] and "reproduced" not in hot["rankers"][0]
    assert hot["target_params"] == {"temperature": 3.0}
    p_base = [s["rankers"]["foryou"]["p_logged_clip"] for s in base["steps"] if "foryou" in s["rankers"]]
    p_hot = [s["rankers"]["foryou"]["p_logged_clip"] for s in hot["steps"] if "foryou" in s["rankers"]]
    assert np.std(p_hot) < np.std(p_base)  # a hot softmax spreads its probability evenly
    with pytest.raises(ValueError, match="temperature"):
        replay(logged, ["foryou"], params={"temperature": -1})


def test_replay_command_reports_the_reproduction_and_takes_param(tmp_path, capsys):
    from feedapp.cli import main

    catalog, _ = _split_catalog(6)
    engine = FeedEngine(catalog, "foryou", seed=8, params={"temperature": 0.2})
    path, d = record_sqlite(tmp_path, engine, views=30, seed=6)
    sid = d.recorder.id[:8]
    assert main(["replay", "--db", str(path), "--session", sid, "--ranker", "foryou", "random", "--no-steps"]) == 0
    out = capsys.readouterr().out
    assert "foryou served this session: replay reproduces its logged propensities to 0.0e+00 and its served clip " \
           "at 100% of the slots" in out
    assert main(["replay", "--db", str(path), "--session", sid, "--ranker", "foryou", "--param", "epsilon=0.5",
                 "--no-steps"]) == 0
    out = capsys.readouterr().out
    assert "targets replayed with epsilon=0.5 for the whole session" in out and "served this session" not in out
    assert main(["replay", "--db", str(path), "--session", sid, "--ranker", "foryou", "--param", "epsilon=7"]) == 2
    err = capsys.readouterr().err
    assert "epsilon must be between 0 and 1" in err and err.count("\n") == 1


def _plugin_session(tmp_path: Path, views: int):
    """A session served by the example plugin copied to ``tmp_path/mine.py``: (file, spec, catalog, engine, sink)."""
    plugin = tmp_path / "mine.py"
    plugin.write_text(EXAMPLE.read_text())
    catalog, _ = _split_catalog(7)
    spec = f"{plugin}:TopicAverage"
    engine = PluginHost.feed(catalog, spec, seed=4, params={"temperature": 0.3})
    sink = MemorySink()
    sink.clips_known(tuple(catalog.clips))
    run_session(engine, sink, views=views, seed=7)
    engine.plugin_host.close()
    return plugin, spec, catalog, engine, sink


def test_a_plugin_session_replays_the_logged_code_after_the_file_changed(tmp_path):
    plugin, spec, _, engine, sink = _plugin_session(tmp_path, 30)
    # the author edits the file afterwards: the scores change, the logged session must not
    plugin.write_text(EXAMPLE.read_text().replace("class TopicAverage", "class TopicAverage_old") +
                      "\n\nclass TopicAverage(TopicAverage_old):\n    def scores(self, rng):\n"
                      "        return -super().scores(rng)\n")
    rep = replay(_memory_session(sink), [spec], n_boot=20)
    _assert_reproduced(rep, spec, engine.picks)


def test_a_plugin_session_replays_from_the_log_where_the_plugin_file_is_not(tmp_path, capsys):
    """The log holds the source of the plugin that served, but replay refused it on a machine without the
    file ('there is no plugin file .../mine.py'): a lab's database analysed elsewhere, or the file moved."""
    plugin, spec, catalog, engine, sink = _plugin_session(tmp_path, 12)
    path, d = record_sqlite(tmp_path, PluginHost.feed(catalog, spec, seed=4), views=8, seed=7)  # as the app logs it
    d.engine.plugin_host.close()
    plugin.unlink()
    rep = replay(_memory_session(sink), [spec, "foryou"], n_boot=20)
    _assert_reproduced(rep, spec, engine.picks)
    note = f"there is no file {plugin} here: {spec} is the plugin that served, replayed from the source the log holds"
    assert rep["session"]["notes"] == [note]
    with pytest.raises(PluginError, match="there is no plugin file"):  # another class of it is not in the log
        replay(_memory_session(sink), [f"{plugin}:Other"], n_boot=20)
    from feedapp.cli import main

    assert main(["replay", "--db", str(path), "--session", d.recorder.id[:8], "--ranker", spec, "--no-steps"]) == 0
    out = capsys.readouterr().out
    assert f"note: {note}" in out and f"{spec} served this session: replay reproduces" in out


def test_an_edited_copy_of_the_plugin_is_replayed_from_its_own_file(tmp_path):
    """Seen in a new-user trial: replaying a plugin session against an edited copy of the plugin (another
    file, same class and ranker name) said "copy.py:TopicAverage served this session" and replayed the
    logged code instead, so the copy's changes (here: its scores raise) never ran. Only the file and
    class that served are the serving ranker."""
    plugin = tmp_path / "mine.py"
    plugin.write_text(EXAMPLE.read_text())
    catalog, _ = _split_catalog(7)
    engine = PluginHost.feed(catalog, f"{plugin}:TopicAverage", seed=4)
    sink = MemorySink()
    sink.clips_known(tuple(catalog.clips))
    run_session(engine, sink, views=12, seed=7)
    engine.plugin_host.close()
    copy = tmp_path / "copy.py"
    copy.write_text(EXAMPLE.read_text().replace("        T = space.T.astype(np.float64)\n",
                                                "        raise ValueError('edited')\n"))
    session = _memory_session(sink)
    with pytest.raises(ReplayError, match="copy.py:TopicAverage raised ValueError: edited"):
        replay(session, [f"{copy}:TopicAverage"], n_boot=20)
    rep = replay(session, [f"{plugin}:TopicAverage", "foryou"], n_boot=20)  # the file that served: the log's code
    assert "reproduced" in rep["rankers"][0] and "reproduced" not in rep["rankers"][1]
    from feedapp.core.replay import _names_the_served_code

    logged = {"path": "plugins/mine.py", "class": "TopicAverage"}  # a path logged as given, relative
    assert _names_the_served_code(f"{tmp_path}/plugins/mine.py:TopicAverage", logged)
    assert not _names_the_served_code(f"{tmp_path}/plugins/copy.py:TopicAverage", logged)
    assert not _names_the_served_code(f"{tmp_path}/plugins/mine.py:Other", logged)


def test_a_copy_of_the_same_file_name_in_another_folder_is_not_the_served_plugin(tmp_path, monkeypatch):
    """A plugin logged as given (`--ranker mine.py:TopicAverage`, relative) and an edited copy of the
    same file name in another folder (`exp/mine.py`): replayed where the app ran, the copy was taken for
    the file that served (its path ends in the logged one), so the logged code was replayed and the
    copy's edit never ran."""
    from feedapp.core.replay import _names_the_served_code

    (tmp_path / "exp").mkdir()
    for f in (tmp_path / "mine.py", tmp_path / "exp" / "mine.py"):
        f.write_text(EXAMPLE.read_text())
    logged = {"path": "mine.py", "class": "TopicAverage"}
    monkeypatch.chdir(tmp_path)  # where the app ran: the served mine.py is here
    assert _names_the_served_code("mine.py:TopicAverage", logged)
    assert _names_the_served_code(f"{tmp_path}/mine.py:TopicAverage", logged)
    assert not _names_the_served_code("exp/mine.py:TopicAverage", logged)
    monkeypatch.chdir(tmp_path / "exp")  # elsewhere (no mine.py of the log here): the file given is taken for it
    (tmp_path / "exp" / "mine.py").rename(tmp_path / "exp" / "kept.py")
    assert _names_the_served_code("../mine.py:TopicAverage", logged)


def test_open_and_swipe_log_what_a_driver_without_a_widget_did():
    """``open``/``swipe`` (drivers without a widget) with a recorder: each impression is logged with how it
    was reached, when it settled, its slot and the decision that served it; ``next_clip`` names the slot
    decided for preloading without deciding anything."""
    engine = FeedEngine(demo_like_catalog(2), "foryou", seed=4)
    sink = MemorySink()
    t = [SEC]
    session = FeedSession(engine, _recorder(engine, sink, lambda: t[0]))
    first = session.open(ns=2 * SEC)
    decided = len(engine.picks)
    upcoming = session.next_clip()
    assert upcoming is not None and upcoming == engine.peek(1) and len(engine.picks) == decided  # no side effect
    t[0] = 5 * SEC
    second = session.swipe(how="key", ns=6 * SEC)
    assert second == upcoming
    third = session.swipe(ns=9 * SEC)
    imps = sink.of("impression")
    assert [(i.clip_id, i.position, i.reached_by, i.is_revisit, i.settled_mono_ns) for i in imps] == [
        (first.id, 0, "start", False, 2 * SEC), (second.id, 1, "key", False, 6 * SEC), (third.id, 2, "swipe_next", False, 9 * SEC)]
    assert [i.propensity for i in imps] == [p.propensity for p in engine.picks[:3]]
    assert [i.views_learned for i in imps[1:]] == [0, 1]  # slot p decided (preloaded) after p - 1 views
    closed = [v for v in sink.of("view") if v.final]
    assert [(v.exit, v.ended_mono_ns) for v in closed[:2]] == [("key", 6 * SEC), ("swipe_next", 9 * SEC)]  # at the input


class _Both:
    """A sink that hands every record to two sinks: the SQLite writer and a MemorySink to compare with."""

    def __init__(self, *sinks) -> None:
        self.sinks = sinks

    def __getattr__(self, name):
        return lambda *args: [getattr(s, name)(*args) for s in self.sinks] and None


def test_the_sqlite_reader_returns_every_logged_field_of_a_session(tmp_path):
    """What ``read_logged_session`` reads back is what the recorder logged, field by field: each
    impression's slot, clip, revisit flag, policy, propensity and decision context, warm-up slots as
    scripted, each closed view's figures (pauses, time out of focus, loops, likes, "not interested",
    how it was left), no view for the slot whose view never closed (the app died), the session's
    start record, its parameters, its live changes in order and its catalog with the clips that joined."""
    catalog, later = _split_catalog(8)
    first = tuple(catalog.clips)  # the catalog grows in place below
    engine = FeedEngine(catalog, "foryou", seed=2, warmup=catalog.clips[:2], params={"temperature": 0.3})
    path = tmp_path / "feed.db"
    log, mem = EventLog(path), MemorySink()
    sink = _Both(log, mem)
    sink.clips_known(tuple(catalog.clips))
    engine.catalog.on_grow(sink.clips_known)
    d = WidgetDriver(engine, sink, seed=8)
    rec = d.recorder
    d.start()
    for i in range(24):
        if i == 4:
            engine.set_param("epsilon", 0.25)
            d.live()
        if i == 9:
            engine.catalog.add(later)
            d.live()
        if i % 5 == 1:  # paused for 0.7 s
            rec.set_paused(True, d.t)
            d.t += 700_000_000
            rec.set_paused(False, d.t)
        if i % 7 == 2:  # another window had the focus for 0.4 s
            rec.set_focused(False, d.t)
            d.t += 400_000_000
            rec.set_focused(True, d.t)
        if i % 6 == 3:
            rec.not_interested(d.t)
        if i % 4 == 2:
            rec.like(d.t)
        d.watch_and_swipe(-1 if i in (10, 17) else 1)
    rec.checkpoint(d.t + SEC)  # the last view was never closed: the app died
    assert log.close()

    logged = read_back(path, rec.id)
    views = {v.impression_id: v for v in mem.of("view") if v.final}
    want = []
    for imp in mem.of("impression"):
        v = views.get(imp.id)
        want.append(LoggedStep(imp.position, imp.clip_id, imp.is_revisit, imp.policy, imp.propensity,
                               None if v is None else view_from_record(v, imp.clip_id, imp.is_revisit, imp.position),
                               imp.views_learned, imp.live_seq, imp.params_version, imp.ranker_version, imp.scripted))
    assert list(logged.steps) == want
    # the session exercised what it should: the comparison above covers each of these
    got_views = [st.view for st in logged.steps if st.view is not None]
    assert logged.steps[-1].view is None and len(got_views) == len(want) - 1
    assert [st.scripted for st in logged.steps[:3]] == [True, True, False] and logged.steps[0].policy == "warmup"
    assert any(st.is_revisit for st in logged.steps) and any(st.params_version == 1 for st in logged.steps)
    assert any(v.paused_ms == 700 for v in got_views) and any(v.unfocused_ms == 400 for v in got_views)
    assert any(v.not_interested for v in got_views) and any(v.liked for v in got_views)
    assert any(v.loops for v in got_views) and {v.exit for v in got_views} == {"swipe_next", "swipe_prev"}
    assert any(v.skipped for v in got_views) and not all(v.skipped for v in got_views)
    start = next(e.data for e in mem.of("event") if e.kind == SESSION_CATALOG)
    live = [e.data for e in mem.of("event") if e.kind == LIVE_CHANGE]
    assert logged.start == start and list(logged.live) == live and [e["change"] for e in live] == ["param", "catalog"]
    assert logged.params == start["params"] and logged.params["temperature"] == 0.3 and logged.params["epsilon"] == 0.05
    assert (logged.id, logged.ranker, logged.seed) == (rec.id, "foryou", 2)
    assert logged.clips == first + tuple(later) and logged.notes == ()


def _edited(path: Path, name: str, sql: str, *args) -> Path:
    """A copy ``name``.db of the log at ``path`` with one statement applied (a file damaged or edited by hand)."""
    import shutil
    import sqlite3

    copy = path.with_name(f"{name}.db")
    shutil.copy(path, copy)
    conn = sqlite3.connect(copy)
    conn.execute(sql, args)
    conn.commit()
    conn.close()
    return copy


def test_a_log_missing_what_the_session_needs_is_refused_in_one_line(tmp_path, capsys):
    """``feedapp replay`` on a log whose clips table lost a clip of the session's catalog, or a clip that
    joined it while it ran, or on a session that never showed a clip: exit code 2, one line that names
    the session and the clip."""
    from feedapp.cli import main

    catalog, later = _split_catalog(9)
    first = catalog.clips[5].id
    engine = FeedEngine(catalog, "foryou", seed=1)
    path, d = record_sqlite(tmp_path, engine, views=30, seed=9, growth=later)
    sid = d.recorder.id
    log = EventLog(path)  # and a session that ended before its first clip
    empty = SessionRecorder(log, app_version="test", mode="lab", ranker="foryou", seed=1)
    empty.end("quit", SEC)
    assert log.close()
    cases = [(_edited(path, "lost_first", "DELETE FROM clips WHERE id = ?", first),
              sid, f"session {sid}'s catalog names clip {first!r}, which is not in the log's clips table"),
             (_edited(path, "lost_joined", "DELETE FROM clips WHERE id = ?", later[3].id),
              sid, f"session {sid}: clip {later[3].id!r} joined its catalog, but it is not in the log's clips table"),
             (path, empty.id, f"session {empty.id} has no impressions to replay")]
    for db, session, says in cases:
        assert main(["replay", "--db", str(db), "--session", session, "--ranker", "foryou"]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err


def test_a_session_continued_from_earlier_views_says_replay_starts_without_them(tmp_path):
    """A session whose start record says the engine had learned views before it (``data.views``, a
    continued lab session) reads back with a note saying replay starts without them."""
    catalog, _ = _split_catalog(10)
    path, d = record_sqlite(tmp_path, FeedEngine(catalog, "foryou", seed=1), views=6, seed=1)
    assert read_back(path, d.recorder.id).notes == ()
    continued = _edited(path, "continued", "UPDATE events SET data = json_set(data, '$.views', 17) WHERE kind = ?",
                        SESSION_CATALOG)
    assert read_back(continued, d.recorder.id).notes == (
        "the session started from 17 views learned in an earlier session (a continued lab session: a session this "
        "file does not name); replay starts without them (the clips that session showed count as served)",)


def _crashed(tmp_path: Path, catalog_seed: int, *, views: int):
    """(catalog, file, driver) of a foryou session that stopped after ``views`` views (a crashed lab session)."""
    catalog, _ = _split_catalog(catalog_seed)
    path = tmp_path / "feed.db"
    log = EventLog(path)
    log.clips_known(catalog.clips)
    crashed = run_session(FeedEngine(catalog, "foryou", seed=3), log, views=views, seed=5)
    assert log.close()
    return catalog, path, crashed


def _continued(path: Path, catalog: Catalog, crashed_id: str, *, views: int, seed: int, unplayable_at: int = -1,
               own_only: bool = False):
    """The next start of the lab app continuing ``crashed_id``: read as the lab app reads it, an engine
    that takes it as FeedRun's does (``continue_from``), ``views`` views (the one at ``unplayable_at``
    a clip that could not be played, auto-skipped)."""
    from feedapp.ui.lab import load_continuation

    from feedapp.store.replay_log import _session_views

    conn = open_for_reading(path)
    cont = load_continuation(conn, crashed_id)
    own = _session_views(conn, crashed_id)
    conn.close()
    log = EventLog(path)
    engine = FeedEngine(catalog, "foryou", seed=seed)
    # (own_only: as continuations were recorded before they followed the chain: the crashed session's own views)
    engine.continue_from(own if own_only else cont.replay, cont.shown)
    d = WidgetDriver(engine, log, seed=5)
    d.start()
    d.recorder.event("continues_session", session_id=cont.session_id, views=cont.views, elapsed_ms=1.0)
    for i in range(views):
        if i == unplayable_at:
            d.t += 100_000_000
            d.session.leave("auto_skip", d.t)
            d._settled(engine.move(1), "auto_skip")
        else:
            d.watch_and_swipe(1)
    d.end()
    assert log.close()
    return cont, engine, d


def test_a_continued_lab_session_replays_exactly_from_the_crashed_sessions_views(tmp_path):
    """Seen in a new-user trial: `feedapp replay` of a lab session continued after a crash reproduced
    none of its propensities (0% of the served clips, errors up to 0.87): the continuation's ranker had
    first learned the crashed session's 13 views, replay's had not. Replay now learns them from the
    same file, read as the lab app reads them (``continued_views``), and reproduces every slot."""
    catalog, path, crashed = _crashed(tmp_path, 11, views=14)
    cont, engine, d = _continued(path, catalog, crashed.recorder.id, views=20, seed=4)
    logged = read_back(path, d.recorder.id)
    assert logged.notes == () and logged.before == cont.replay and len(logged.before) == logged.start["views"] == 15
    _assert_reproduced(replay(logged, ["foryou"], n_boot=20), "foryou", engine.picks)


def test_a_continuation_of_a_continuation_with_an_unplayable_clip_replays_exactly(tmp_path):
    """A continued lab session that crashed in turn is continued with what both crashed sessions saw
    (the first one's views, then the second's), and a clip that could not be played (not learned,
    so not in the start's view count) does not stop replay from learning them: every continuation
    replays exactly. Before, replay of a continuation whose crashed session had an auto-skipped clip
    started without its views (propensity error 0.86, 10% served), and a second continuation learned
    only the second session's views and could serve the first one's clips again."""
    catalog, path, first = _crashed(tmp_path, 12, views=6)
    one, _, second = _continued(path, catalog, first.recorder.id, views=6, seed=4, unplayable_at=2)
    two, engine, third = _continued(path, catalog, second.recorder.id, views=8, seed=4)
    assert two.replay[: len(one.replay)] == one.replay and len(two.replay) == len(one.replay) + 7
    assert two.shown[: len(one.shown)] == one.shown
    # the continuation knows both sessions' clips: none comes back within the repeat gap of where it was shown
    # (learning only the second session's let the first one's come back at once)
    combined, gap = [*two.shown, *(c.id for c in engine.history)], int(engine.ranker.params["repeat_gap"])
    for i in range(len(two.shown), len(combined)):
        before = [j for j in range(i) if combined[j] == combined[i]]
        assert not before or i - before[-1] > gap, (i, combined[i], before)
    logged = read_back(path, third.recorder.id)
    assert logged.notes == () and logged.before == two.replay and logged.start["views"] == len(two.replay) - 1
    _assert_reproduced(replay(logged, ["foryou"], n_boot=20), "foryou", engine.picks)
    middle = read_back(path, second.recorder.id)  # (the auto-skipped clip was in this one)
    assert middle.notes == () and middle.before == one.replay


def test_a_crashed_sessions_views_read_back_as_its_engine_learned_them(tmp_path):
    """What a continuation (and replay of one) learns first is exactly what the crashed session's
    engine learned, field by field: pauses, time out of focus, a like, "not interested", loops,
    skips, a swipe back (a revisit) and every exit. Before, the tests compared two reads of the file
    with each other, so a field read wrongly (a like read as none, the pause time read as 0) passed."""
    from feedapp.store.replay_log import continued_views

    catalog, _ = _split_catalog(13)
    path = tmp_path / "feed.db"
    log = EventLog(path)
    log.clips_known(catalog.clips)
    engine = FeedEngine(catalog, "foryou", seed=3)
    d = WidgetDriver(engine, log, seed=5)
    d.start()
    for i in range(14):
        if i == 2:
            d.recorder.set_paused(True, d.t)
            d.t += 1_500_000_000
            d.recorder.set_paused(False, d.t)
        if i == 4:
            d.recorder.set_focused(False, d.t)
            d.t += 700_000_000
            d.recorder.set_focused(True, d.t)
        if i == 6:
            d.recorder.not_interested(d.t)
        if i == 8:
            d.recorder.like(d.t)
        d.watch_and_swipe(1)
        if i == 10:
            d.watch_and_swipe(-1)  # back to the clip before: a revisit
    d.end()
    assert log.close()
    conn = open_for_reading(path)
    try:
        got = continued_views(conn, d.recorder.id)
    finally:
        conn.close()
    assert got == tuple(engine.views)
    assert [v.position for v in got] == list(range(len(got)))
    assert any(v.paused_ms >= 1500 for v in got) and any(v.unfocused_ms >= 700 for v in got)
    assert any(v.liked for v in got) and any(v.not_interested for v in got) and any(v.revisit for v in got)
    assert any(v.loops for v in got) and any(v.skipped for v in got) and not all(v.skipped for v in got)
    assert {v.exit for v in got} >= {"swipe_next", "swipe_prev", "quit"}
    assert all(v.dwell_ms > v.play_ms > 0 for v in got if not v.skipped)


def test_a_continuations_chain_a_miscounted_start_and_an_older_continuation_read_back(tmp_path):
    """``continued_chain`` names the sessions oldest first; a continuation recorded before continuations
    followed the chain (its engine learned the crashed session's own views only) still reads back the
    views it learned; a start whose view count matches neither says so in a note that names the session
    and how many views the file holds for it."""
    from feedapp.store.replay_log import continued_chain

    catalog, path, first = _crashed(tmp_path, 14, views=5)
    _, _, second = _continued(path, catalog, first.recorder.id, views=5, seed=4)
    own, engine, third = _continued(path, catalog, second.recorder.id, views=6, seed=4, own_only=True)
    conn = open_for_reading(path)
    try:
        assert continued_chain(conn, third.recorder.id) == (first.recorder.id, second.recorder.id, third.recorder.id)
        assert continued_chain(conn, first.recorder.id) == (first.recorder.id,)
    finally:
        conn.close()
    logged = read_back(path, third.recorder.id)
    second_own = second.engine.views[len(first.engine.views):]  # what the second session itself learned
    assert logged.notes == () and logged.start["views"] == len(second_own) < len(own.replay)
    assert logged.before == tuple(second_own)
    _assert_reproduced(replay(logged, ["foryou"], n_boot=20), "foryou", engine.picks)
    miscounted = _edited(path, "miscounted", "UPDATE events SET data = json_set(data, '$.views', 99) "
                         "WHERE kind = ? AND session_id = ?", SESSION_CATALOG, third.recorder.id)
    assert read_back(miscounted, third.recorder.id).notes == (
        f"the session started from 99 views learned in an earlier session (a continued lab session: session "
        f"{second.recorder.id}, which this file holds with {len(own.replay)} views); replay starts without them "
        "(the clips that session showed count as served)",)


def test_a_clip_that_could_not_be_played_is_not_served_again_and_replays_exactly(tmp_path):
    """The player could not play a clip (its file deleted or damaged while the app runs): SessionBridge
    marks it (``FeedEngine.mark_unplayable``), a live change. It was served again and again before (a
    clip nobody watched looks fresh to the ranker), so a viewer kept landing on broken clips and the
    player called the whole catalog unplayable. Now it is left out, and replay applies the change at
    its logged place: every propensity comes back exactly."""
    clips = demo_like_catalog(1, n_clips=12, visual_dims=6).clips

    def session(mark: bool):
        engine = FeedEngine(Catalog(clips), "foryou", seed=5)
        path = tmp_path / f"feed{int(mark)}.db"
        log = EventLog(path)
        log.clips_known(engine.catalog.clips)
        d = WidgetDriver(engine, log, seed=3)
        d.start()
        bad: list[str] = []
        for i in range(40):
            if i in (2, 6):  # the preloaded next clip fails to load
                nxt = engine.peek(1).id
                bad.append(nxt)
                if mark:
                    assert engine.mark_unplayable(nxt) and not engine.mark_unplayable(nxt)  # once per clip
                    d.live()
            d.watch_and_swipe(1)
        d.end()
        assert log.close()
        return engine, path, d, bad

    control, _, _, bad0 = session(mark=False)
    served_after = [p.clip_id for p in control.picks[4:]]
    assert any(c in served_after for c in bad0), "the control run must serve those clips again for the test to mean anything"
    engine, path, d, bad = session(mark=True)
    assert engine.unplayable == set(bad) and len(bad) == 2
    served = [p.clip_id for p in engine.picks]
    assert bad[0] not in served[3:] and bad[1] not in served[7:], served  # never after the slot it failed in
    logged = read_back(path, d.recorder.id[:8])
    assert [e["change"] for e in logged.live] == ["unplayable", "unplayable"]
    assert [e["clip"] for e in logged.live] == bad
    _assert_reproduced(replay(logged, ["foryou"], n_boot=20), "foryou", engine.picks)


def test_a_session_logged_before_a_parameter_existed_replays_as_it_ranked(tmp_path):
    """foryou's ``topic_counts`` (and ``shift_keep``) came after sessions were logged without them; such a
    session's parameters lack the name, and replay with today's default (1) ranked otherwise. Replay
    fills a missing name with the value that ranks as before (``params_before``): every slot again."""
    catalog, _ = _split_catalog(3)
    engine = FeedEngine(catalog, "foryou", seed=1, params={"temperature": 0.3, "topic_counts": 0, "shift_keep": 1.0})
    path, d = record_sqlite(tmp_path, engine, views=14, seed=2)
    old = _edited(path, "old", "UPDATE sessions SET ranker_params = json_remove(ranker_params, '$.topic_counts', "
                  "'$.shift_keep')")
    old = _edited(old, "older", "UPDATE events SET data = json_remove(data, '$.params.topic_counts', "
                  "'$.params.shift_keep') WHERE kind = ?", SESSION_CATALOG)
    logged = read_back(old, d.recorder.id)
    assert "topic_counts" not in logged.params and "shift_keep" not in logged.params
    _assert_reproduced(replay(logged, ["foryou"], n_boot=20), "foryou", engine.picks)
    today = replay(logged, ["foryou"], params={"topic_counts": 1}, n_boot=20)  # the default as it is now
    steps = [s for s in today["steps"] if "foryou" in s["rankers"]]
    assert any(s["rankers"]["foryou"]["p_logged_clip"] != pytest.approx(s["propensity"], abs=1e-9) for s in steps)
