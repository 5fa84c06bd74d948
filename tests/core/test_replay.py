"""``feedapp replay``: a logged session re-decided by other rankers, with off-policy estimates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from feedapp.core.engine import FeedEngine
from feedapp.core.model import View
from feedapp.core.replay import LoggedSession, LoggedStep, ReplayError, replay, session_from_engine
from feedapp.core.reward import DurationQuantiles, compute_reward
from feedapp.core.session import SessionRecorder
from feedapp.core.simulate import SimViewer, demo_like_catalog
from feedapp.commands.replay import run_replay_command
from feedapp.store.replay_log import read_logged_session
from feedapp.store.log import EventLog
from feedapp.store.sessions import open_for_reading

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "topic_average.py"


def drive(ranker="foryou", n=120, seed=4, params=None, viewer_seed=3, catalog_seed=1):
    eng = FeedEngine(demo_like_catalog(catalog_seed), ranker, seed=seed, params=params)
    v = SimViewer.make(viewer_seed, eng.space.topics, eng.space.creators)
    for _ in range(n):
        c = eng.next()
        eng.finish(v.watch(c))
    return eng


def test_replaying_the_logging_ranker_reproduces_its_propensities():
    eng = drive(params={"temperature": 0.2, "epsilon": 0.2})
    rep = replay(session_from_engine(eng), ["foryou"], n_boot=300)
    steps = rep["steps"]
    assert [s["rankers"]["foryou"]["p_logged_clip"] for s in steps] == [p.propensity for p in eng.picks]
    assert [s["rankers"]["foryou"]["drawn"] for s in steps] == [p.clip_id for p in eng.picks]
    assert rep["rankers"][0]["reproduced"] == {"exact_log": True, "max_propensity_error": 0.0, "served_agrees": 1.0}
    r = rep["rankers"][0]
    # all weights are 1: IPS = SNIPS = the logged mean reward, and the effective sample size is n
    assert r["estimates"]["ips"]["value"] == r["estimates"]["snips"]["value"] == rep["logged"]["value"]
    assert rep["logged"]["value"] == pytest.approx(float(np.mean(eng.rewards)), abs=1e-4)
    assert r["effective_samples"] == 120.0


def test_a_continued_feed_replays_exactly_with_the_clips_served_before_it():
    """A lab session continued after a crash (``FeedEngine.continue_after``): its log's
    ``served_before`` reaches replay's engine, so the repeat rules see what the live one saw and every
    propensity is reproduced; without them the crashed session's clips would be allowed again."""
    eng = FeedEngine(demo_like_catalog(1), "foryou", seed=4, params={"temperature": 0.2, "epsilon": 0.2,
                                                                     "repeat_gap": 100000})
    before = [c.id for c in eng.catalog.clips[::2]]  # 32 of the 64
    eng.continue_after(before)
    v = SimViewer.make(3, eng.space.topics, eng.space.creators)
    for _ in range(30):
        c = eng.next()
        assert c.id not in before
        eng.finish(v.watch(c))
    session = session_from_engine(eng)
    assert session.start["served_before"] == before
    rep = replay(session, ["foryou"], n_boot=50)
    assert rep["rankers"][0]["reproduced"] == {"exact_log": True, "max_propensity_error": 0.0, "served_agrees": 1.0}


def test_a_feed_continued_from_a_crashed_ones_views_replays_exactly_from_the_engine():
    """``session_from_engine`` of a feed that first learned a crashed feed's views (``continue_from``,
    what the lab app does): those views are the session's ``before`` and its own views stay with its
    own slots. Before, its first steps carried the crashed feed's views and replay stopped with 'a
    decision saw 26 views, but the log has only 25'. Replay's rewards are the engine's: they were
    measured against clip-length quantiles that had not seen the crashed feed's views (logged mean
    0.2045 against the engine's 0.2162 here)."""
    cat = demo_like_catalog(1)
    first = FeedEngine(cat, "foryou", seed=3)
    v = SimViewer.make(3, first.space.topics, first.space.creators)
    for _ in range(12):
        first.finish(v.watch(first.next()))
    eng = FeedEngine(cat, "foryou", seed=4)
    assert eng.continue_from(first.views, [c.id for c in first.history]) == 12
    for _ in range(25):
        eng.finish(v.watch(eng.next()))
    session = session_from_engine(eng)
    assert session.before == tuple(first.views) and session.start["views"] == 12
    assert [st.view for st in session.steps] == eng.views[12:]
    rep = replay(session, ["foryou"], n_boot=20)
    assert rep["rankers"][0]["reproduced"] == {"exact_log": True, "max_propensity_error": 0.0, "served_agrees": 1.0}
    # the rewards too are the engine's: their clip-length quantiles first saw the crashed feed's views
    assert [s["reward"] for s in rep["steps"]] == [round(r, 4) for r in eng.rewards[12:]]
    assert rep["logged"]["value"] == round(float(np.mean(eng.rewards[12:])), 4)


def test_rewards_are_recomputed_from_the_view_figures_as_the_engine_does():
    eng = drive(n=40)
    rep = replay(session_from_engine(eng), ["random"], n_boot=100)
    assert [s["reward"] for s in rep["steps"]] == [round(r, 4) for r in eng.rewards]
    # and by hand, for the first view: the prior-only quantile
    v0, c0 = eng.views[0], eng.catalog.get(eng.views[0].clip_id)
    assert rep["steps"][0]["reward"] == round(compute_reward(v0, c0.duration_ms, DurationQuantiles()).value, 4)


def test_other_rankers_serve_differently_and_get_estimates_with_intervals():
    eng = drive(ranker="random", n=300)  # a uniform logger: every target is well supported
    rep = replay(session_from_engine(eng), ["foryou", "popular", f"{EXAMPLE}:TopicAverage"], n_boot=500)
    assert [r["ranker"] for r in rep["rankers"]][0] == "foryou"
    for r in rep["rankers"]:
        for name in ("ips", "snips", "dr"):
            e = r["estimates"][name]
            assert e["low"] <= e["value"] <= e["high"] and e["n"] == 300
        assert 0 < r["effective_samples"] <= 300
    by = {r["ranker"]: r for r in rep["rankers"]}
    # the learner that picks the viewer's topics is estimated well above the uniform logger
    assert by["foryou"]["estimates"]["snips"]["value"] > rep["logged"]["high"]
    # the step table: every ranker's top pick with a probability
    s = rep["steps"][50]
    assert set(s["rankers"]) == {"foryou", "popular", f"{EXAMPLE}:TopicAverage"}
    assert all(0 < x["p"] <= 1 for x in s["rankers"].values())
    json.dumps(rep)


def test_revisits_and_missing_views_are_excluded_and_counted():
    eng = drive(n=20)
    base = session_from_engine(eng)
    steps = list(base.steps)
    # the viewer swiped back to position 3 (a revisit: no propensity) and the app crashed mid-view at the end
    back = LoggedStep(99, steps[3].clip_id, True, "history", None,
                      View(steps[3].clip_id, 4000, 4000, revisit=True))
    steps.insert(10, back)
    steps.append(LoggedStep(100, steps[5].clip_id, False, "foryou", 0.2, None))
    sess = LoggedSession("s", base.ranker, base.params, base.seed, base.clips, tuple(steps))
    rep = replay(sess, ["foryou"], n_boot=100)
    assert rep["counts"] == {"impressions": 22, "revisit": 1, "scripted": 0, "no_propensity": 0, "unplayable": 0,
                             "no_view": 1, "used": 20}


def test_clear_errors():
    eng = drive(n=5)
    sess = session_from_engine(eng)
    with pytest.raises(ValueError, match="no ranker called 'tiktok'"):
        replay(sess, ["foryou", "tiktok"])
    no_p = LoggedSession("abc", "random", {}, 0, sess.clips,
                         tuple(LoggedStep(s.position, s.clip_id, False, "", None, s.view) for s in sess.steps))
    with pytest.raises(ReplayError, match="session abc has no logged propensities"):
        replay(no_p, ["foryou"])


# -- from a real SQLite log, through the command ------------------------------------------------------


def record(path: Path, ranker="foryou", n=60, seed=7, propensities=True, drop_params=(), params=None,
           context=False) -> str:
    """A session written the way the app writes it: recorder + SQLite writer, engine picks logged
    (with ``context``: the whole pick, as the app logs it, so that replay can be exact)."""
    log = EventLog(path)
    eng = FeedEngine(demo_like_catalog(2), ranker, seed=seed, params=params)
    viewer = SimViewer.make(5, eng.space.topics, eng.space.creators)
    log.clips_known(eng.catalog.clips)
    params = {k: v for k, v in eng.ranker.params.items() if k not in drop_params}
    rec = SessionRecorder(log, app_version="test", mode="demo", ranker=ranker, ranker_params=params,
                          seed=seed, catalog_fingerprint=eng.catalog.fingerprint(), catalog_size=len(eng.catalog))
    t = 1_000_000_000
    for i in range(n):
        clip = eng.next()
        pick = eng.pick_at(eng.position)
        if context:
            rec.arrive(clip, reached_by="swipe_next" if i else "start", is_revisit=False, settled_ns=t, pick=pick)
        else:
            rec.arrive(clip, reached_by="swipe_next" if i else "start", is_revisit=False, settled_ns=t,
                       policy=pick.ranker, score=pick.score, propensity=pick.propensity if propensities else None,
                       exploration=pick.explore)
        rec.first_frame(t)
        v = viewer.watch(clip)
        if context:  # the loops the log holds, so the engine learns exactly what replay reads back
            for k in range(v.loops):
                rec.loop_completed(t + int((k + 1) * clip.duration_ms * 1e6))
        t += int(v.play_ms * 1e6)
        vr = rec.leave("swipe_next", t)
        eng.finish(View(clip.id, vr.dwell_ms, vr.play_ms, loops=vr.loops if context else v.loops, skipped=vr.skipped))
        t += 1000
    rec.end("finished", t)
    assert log.close()
    return rec.id


def test_read_a_logged_session_by_prefix_and_replay_it(tmp_path, capsys):
    path = tmp_path / "feed.db"
    sid = record(path)
    conn = open_for_reading(path)
    sess = read_logged_session(conn, sid[:6].upper())
    conn.close()
    assert sess.id == sid and len(sess.steps) == 60 and len(sess.clips) == 64 and sess.ranker == "foryou"
    assert all(s.view is not None and s.propensity is not None for s in sess.steps)
    rc = run_replay_command(open_for_reading, path, sid[:8], ["foryou", "random"], as_json=True)
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["counts"]["used"] == 60 and [r["ranker"] for r in out["rankers"]] == ["foryou", "random"]
    assert "bootstrap" in out["ci"] and "recomputed" in out["reward"]
    rc = run_replay_command(open_for_reading, path, sid[:8], ["foryou", "popular"])
    text = capsys.readouterr().out
    assert rc == 0 and "IPS" in text and "SNIPS" in text and "DR" in text and "(logged)" in text
    assert text.count("\n") > 60  # one line per step


def test_a_log_from_before_the_half_lives_replays_with_the_rules_it_was_served_by(tmp_path):
    """A session logged before repeat_halflife and new_creator_halflife existed was served by cuts that
    never decayed: its parameters read back with both at 100000 (never); a newer log keeps its own."""
    old = record(tmp_path / "old.db", n=5, drop_params=("repeat_halflife", "new_creator_halflife"))
    new = record(tmp_path / "new.db", n=5)
    for path, sid, want in ((tmp_path / "old.db", old, (100000.0, 100000.0)), (tmp_path / "new.db", new, (30.0, 15.0))):
        conn = open_for_reading(path)
        p = read_logged_session(conn, sid).params
        conn.close()
        assert (p["repeat_halflife"], p["new_creator_halflife"]) == want


def test_a_log_from_before_the_bias_shrink_replays_exactly_with_an_equal_prior(tmp_path, capsys):
    """foryou logged before ``bias_shrink`` existed learned the bias with the others' prior: its
    parameters read back with bias_shrink 1 (whatever the default), so replaying the serving ranker
    reproduces every propensity; another value would not."""
    path = tmp_path / "old.db"
    sid = record(path, n=40, params={"bias_shrink": 1.0, "temperature": 0.3}, drop_params=("bias_shrink",),
                 context=True)
    conn = open_for_reading(path)
    sess = read_logged_session(conn, sid)
    conn.close()
    assert sess.params["bias_shrink"] == 1.0
    rep = replay(sess, ["foryou"], n_boot=50)
    assert rep["rankers"][0]["reproduced"] == {"exact_log": True, "max_propensity_error": 0.0, "served_agrees": 1.0}
    today = replay(sess, ["foryou"], n_boot=50, params={"bias_shrink": 10.0})
    err = max(abs(s["rankers"]["foryou"]["p_logged_clip"] - st.propensity) for s, st in zip(today["steps"], sess.steps))
    assert err > 1e-3
    new = record(tmp_path / "new.db", n=5)
    conn = open_for_reading(tmp_path / "new.db")
    assert read_logged_session(conn, new).params["bias_shrink"] == 1.0  # a newer log: its own value
    conn.close()
    newer = record(tmp_path / "newer.db", n=5, params={"bias_shrink": 7.0})
    conn = open_for_reading(tmp_path / "newer.db")
    assert read_logged_session(conn, newer).params["bias_shrink"] == 7.0
    conn.close()


def test_command_errors_are_one_line_and_exit_code_2(tmp_path, capsys):
    path = tmp_path / "feed.db"
    record(path, n=5)
    nop = record(path, n=5, propensities=False)
    cases = [
        (["foryou"], "zzzz", "no session id starts with 'zzzz'"),
        (["tiktok"], nop[:8], "no ranker called 'tiktok'"),
        (["foryou"], nop[:8], "has no logged propensities"),
        ([f"{tmp_path}/nope.py:X"], nop[:8], "there is no plugin file"),
    ]
    for rankers, session, msg in cases:
        assert run_replay_command(open_for_reading, path, session, rankers) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err
    assert run_replay_command(open_for_reading, tmp_path / "missing.db", "a", ["foryou"]) == 2
    assert "there is no database" in capsys.readouterr().err


def test_probabilities_outside_the_shortlist_are_exact_and_sum_to_one():
    """Above SHORTLIST clips the target's probability of a logged clip outside its softmax shortlist
    is the exploration share; over all clips the probabilities still add up to one.
    (With the new-creator floor on as well: tests/core/test_exact_propensities.py.)"""
    from feedapp.core.catalog import Catalog
    from feedapp.core.features import FeatureSpace
    from feedapp.core.model import Clip
    from feedapp.core.rankers import make_ranker
    from feedapp.core.rankers.policy import SHORTLIST, decide
    from feedapp.core.rankers.rng import SplitMix

    cs = [Clip(f"b{i}", "", "t", (f"t{i % 9}",), f"cr{i % 40}", 5000 + 37 * i, 30, 1, 1) for i in range(SHORTLIST + 100)]
    space = FeatureSpace(cs)
    r = make_ranker("foryou", epsilon=0.3, new_creator_floor=0.0)
    r.bind(space)
    served = [3, 50, 600]
    blocked = np.zeros(space.n, dtype=bool)
    dec = decide(space, r.scores(SplitMix(1)), served, blocked, r.params, SplitMix(1))
    probs = [dec.prob_of(row) for row in range(space.n)]
    assert sum(probs) == pytest.approx(1.0)
    outside = [p for row, p in enumerate(probs) if row not in set(dec.allowed.tolist()) and row not in served[-1:]]
    assert outside and all(p == pytest.approx(0.3 / (space.n - len(served))) for p in outside if p > 0)
    # and a long session on this catalog replays
    eng = FeedEngine(Catalog(cs), "random", seed=1)
    for _ in range(30):
        c = eng.next()
        eng.finish(View(c.id, 4000, 4000))
    rep = replay(session_from_engine(eng), ["foryou"], n_boot=100)
    assert rep["counts"]["used"] == 30 and rep["rankers"][0]["effective_samples"] > 0


# -- plugins in replay: in-process, contained, NaN reported (issue 15, item 18) ------------------------

SOMETIMES_NAN = '''
import numpy as np
from feedapp.core.rankers import BaseRanker

class Patchy(BaseRanker):
    name = "patchy"

    def scores(self, rng):
        s = np.array([1.0 if "cats" in c.topics else 0.0 for c in self.space.clips])
        s[::3] = np.nan
        {extra}
        return s
'''


def test_a_plugin_returning_nan_gets_a_warning_in_the_report_the_text_and_on_stderr(tmp_path, capsys):
    """Item 18: replay printed estimates for a NaN-returning plugin without a word."""
    plugin = tmp_path / "patchy.py"
    plugin.write_text(SOMETIMES_NAN.format(extra="s[1] = np.inf"))
    path = tmp_path / "feed.db"
    sid = record(path, n=20)
    rep = replay(session_from_engine(drive(n=20)), ["foryou", f"{plugin}:Patchy"], n_boot=100)
    by = {r["ranker"]: r for r in rep["rankers"]}
    assert by["foryou"]["nonfinite_decisions"] == 0 and by[f"{plugin}:Patchy"]["nonfinite_decisions"] == 20
    assert len(rep["warnings"]) == 1 and "NaN or infinite scores at 20 of 20 decisions" in rep["warnings"][0]
    assert all(r["estimates"]["ips"]["value"] is not None for r in rep["rankers"])  # still estimated, flagged
    assert run_replay_command(open_for_reading, path, sid[:8], ["foryou", f"{plugin}:Patchy"], steps=False) == 0
    out = capsys.readouterr()
    assert "WARNING:" in out.out and "NaN or infinite" in out.out
    assert "feedapp: warning:" in out.err and "Patchy" in out.err
    assert run_replay_command(open_for_reading, path, sid[:8], ["foryou"], steps=False) == 0
    out = capsys.readouterr()
    assert "WARNING" not in out.out and out.err == ""


DUCK = '''
import numpy as np
from feedapp.core.rankers.base import POLICY_PARAMS, Param

class Duck:  # the protocol's methods and attributes, without subclassing BaseRanker
    name = "duck"
    own = (Param("like", 1.0, 0.0, 5.0, "weight of a topic's summed reward"),)

    def __init__(self, seed=0, **params):
        self.seed, self.space, self.sums = seed, None, {}
        self.params = {**{p.name: p.default for p in self.spec()}, "temperature": 0.3, **params}

    @classmethod
    def spec(cls):
        return cls.own + POLICY_PARAMS

    def bind(self, space, world=None):
        self.space = space
        return self

    def clone(self):
        return Duck(self.seed, **self.params)

    def set_param(self, name, value):
        old = self.params[name]
        self.params[name] = float(value)
        return old, self.params[name]

    def scores(self, rng):
        w = float(self.params["like"])
        return np.array([w * sum(self.sums.get(t, 0.0) for t in c.topics) for c in self.space.clips])

    def learn_one(self, clip, reward):
        for t in clip.topics:
            self.sums[t] = self.sums.get(t, 0.0) + reward

    def explain(self, row):
        return ()

    def restrict(self, allowed):
        return allowed
'''


def test_a_session_served_by_a_plugin_that_does_not_subclass_baseranker_replays(tmp_path):
    """The protocol asks for methods and attributes, not a base class, so the app serves such a plugin; replay of
    its session raised AttributeError: type object 'Duck' has no attribute 'logged_params' (``params_before``)."""
    plugin = tmp_path / "duck.py"
    plugin.write_text(DUCK)
    eng = FeedEngine(demo_like_catalog(1), f"{plugin}:Duck", seed=4, params={"like": 2.0})
    v = SimViewer.make(3, eng.space.topics, eng.space.creators)
    for _ in range(15):
        eng.finish(v.watch(eng.next()))
    session = session_from_engine(eng)
    assert session.params["like"] == 2.0
    rep = replay(session, [f"{plugin}:Duck"], n_boot=10)
    assert rep["rankers"][0]["reproduced"] == {"exact_log": True, "max_propensity_error": 0.0, "served_agrees": 1.0}


@pytest.mark.parametrize("extra, says", [
    ("import sys; sys.exit(4)", "raised SystemExit: 4 (at line 11 of patchy.py, in scores) while being replayed"),
    ("raise KeyboardInterrupt('plugin, not you')",
     "raised KeyboardInterrupt: plugin, not you (at line 11 of patchy.py, in scores) while being replayed"),
    # the policy's IndexError was blamed on the plugin: 'raised IndexError: index 3 is out of bounds ...'
    ("return s[:3]", ": scores() must return one score per clip, shape (64,), not (3,) while being replayed"),
    # a list was replayed and estimated, while the app refuses it at every call and foryou serves
    ("return list(s)", ": scores() must return a numpy array, not list while being replayed"),
    # a boolean mask as scores: the app refuses it at every call (foryou serves), replay estimated it
    ("return s > 0", ": scores() must return numbers, not dtype bool while being replayed"),
])
def test_plugin_exits_and_errors_in_replay_are_one_line_and_exit_code_2(tmp_path, capsys, extra, says):
    plugin = tmp_path / "patchy.py"
    plugin.write_text(SOMETIMES_NAN.format(extra=extra))
    path = tmp_path / "feed.db"
    sid = record(path, n=5)
    assert run_replay_command(open_for_reading, path, sid[:8], [f"{plugin}:Patchy"]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and err.startswith("feedapp: plugin ")
    plugin.write_text("import sys\nsys.exit('at import')\n")
    assert run_replay_command(open_for_reading, path, sid[:8], [f"{plugin}:Patchy"]) == 2
    assert "importing it raised SystemExit: at import" in capsys.readouterr().err


def test_the_direct_method_uses_the_targets_whole_distribution():
    """DR = mean(dm_i + w_i (r_i - q_i)) with dm_i the cross-fitted reward model averaged over the
    target's probabilities of every clip in slot i (ope.py's definition), recomputed here from the
    target's replayed distributions."""
    from feedapp.core.features import FeatureSpace
    from feedapp.core.ope import cross_fit
    from feedapp.core.rankers import make_ranker
    from feedapp.core.replay import replay_ranker

    eng = drive(ranker="random", n=60)
    session = session_from_engine(eng)
    rep = replay(session, ["foryou", "popular"], n_boot=20)
    assert rep["counts"]["used"] == 60
    r = np.array(eng.rewards)
    logged_p = np.array([p.propensity for p in eng.picks])
    X = FeatureSpace(session.clips).X.astype(np.float64)
    rows = np.array([eng.space.row_of[p.clip_id] for p in eng.picks])
    models, fold = cross_fit(X[rows], r, folds=2, seed=0)
    q = np.stack([m.predict(X) for m in models])
    values = []
    for entry in rep["rankers"]:
        steps = replay_ranker(session, lambda: make_ranker(entry["ranker"], seed=session.seed))["steps"]
        dm = np.array([s["probs"] @ q[fold[k]] for k, s in enumerate(steps)])
        w = np.array([s["target_p"] for s in steps]) / logged_p
        dr = float(np.mean(dm + w * (r - q[fold, rows])))
        assert entry["estimates"]["dr"]["value"] == pytest.approx(dr, abs=1e-4)
        assert entry["estimates"]["ips"]["value"] == pytest.approx(float(np.mean(w * r)), abs=1e-4)
        values.append(dr)
    assert abs(values[0] - values[1]) > 1e-3  # two targets, two distributions, two direct-method terms


def test_session_from_engine_holds_what_the_log_would_hold_and_replays_exactly():
    import dataclasses

    from feedapp.core.catalog import Catalog

    clips = list(demo_like_catalog(1).clips)
    initial = Catalog(clips[:-6])  # grows in place below
    first = [c.id for c in initial.clips]
    grown = [dataclasses.replace(c, id=f"new-{c.id}") for c in clips[-6:]]
    eng = FeedEngine(initial, "foryou", seed=4, warmup=initial.clips[:2], params={"temperature": 0.2})
    viewer = SimViewer.make(2, eng.space.topics, eng.space.creators)

    def views(k):
        for _ in range(k):
            c = eng.next()
            eng.finish(viewer.watch(c))

    views(8)
    eng.set_param("epsilon", 0.3)
    views(5)
    eng.catalog.add(grown)
    eng.follow(eng.space.creators[0])
    views(5)
    eng.refresh()
    views(4)
    eng.set_param("new_creator_floor", 0.4)
    views(3)
    eng.next()  # decided, not watched: not in the log yet
    s = session_from_engine(eng)
    assert (s.id, s.ranker, s.seed) == ("engine", "foryou", 4)
    assert s.params == {**eng.ranker.params, "epsilon": 0.05, "new_creator_floor": 0.1}  # what it started with
    assert s.clips == tuple(eng.space.clips) and s.live == tuple(eng.live_log)
    assert [e["change"] for e in s.live] == ["param", "catalog", "following", "refresh", "param"]
    assert s.start == {"views": 0, "live": 0, "params_version": 0, "warmup": first[:2],
                       "clips": [c.id for c in eng.space.clips[: len(first)]],  # rows in order, before growth
                       "served_before": []}  # (not a continued feed)
    assert set(s.start["clips"]) == set(first)
    assert len(s.steps) == 25 == len(eng.views)
    assert [(st.position, st.clip_id, st.is_revisit, st.policy, st.propensity, st.view, st.views_learned, st.live_seq,
             st.params_version, st.ranker_version, st.scripted) for st in s.steps] == [
        (i, p.clip_id, False, p.ranker, p.propensity, eng.views[i], p.views, p.live, p.params_version,
         p.ranker_version, p.scripted) for i, p in enumerate(eng.picks[:25])]
    assert [st.scripted for st in s.steps[:3]] == [True, True, False] and s.steps[-1].params_version == 2
    assert session_from_engine(eng, "s1").id == "s1"
    rep = replay(s, ["foryou"], n_boot=20)
    assert rep["rankers"][0]["reproduced"] == {"exact_log": True, "max_propensity_error": 0.0, "served_agrees": 1.0}
    assert rep["counts"]["scripted"] == 2 and rep["session"]["live_changes"] == 5


# -- logs written by older schemas ----------------------------------------------------------------------


def _schema3_log(path: Path, catalog_size: int | None, seed: int = 9,
                 params: str = '{"temperature": 0.2, "epsilon": 0.1}') -> None:
    """A file as feedapp 3 wrote it (clips keyed by id, no features, no decision context, no session
    catalog record): a foryou session of a warm-up slot, two ranked slots, a swipe back and a view the
    app never closed, then a slot without a ranker; the clips table holds a clip another session showed."""
    import sqlite_utils

    from feedapp.store.db import MIGRATIONS

    db = sqlite_utils.Database(path)
    for m in MIGRATIONS[:3]:
        m(db)
    db.execute("PRAGMA user_version=3")
    db["sessions"].insert({"id": "s-old", "app_version": "3", "mode": "lab", "ranker": "foryou", "seed": seed,
                           "ranker_params": params,
                           "catalog_size": catalog_size, "skip_threshold_ms": 3000,
                           "started_utc": "2026-01-05T10:00:00.000+00:00", "started_mono_ns": 1})
    db["clips"].insert_all([
        {"id": "c1", "path": "/v/c1.mp4", "title": "One", "topics": '["cats", "dogs"]', "creator": "ann",
         "duration_ms": 4000, "fps": 30.0, "width": 540, "height": 960, "rotation": 90, "created": "2024-03-01"},
        {"id": "c2", "path": None, "title": None, "topics": "not json", "creator": None, "duration_ms": None,
         "fps": None, "width": None, "height": None, "rotation": None, "created": None},
        {"id": "c3", "path": "/v/c3.mp4", "title": "Three", "topics": '["tech"]', "creator": "bo",
         "duration_ms": 2000, "fps": 25.0, "width": 720, "height": 1280, "rotation": 0, "created": ""},
    ])
    # (clip, revisit, policy, propensity, view: (dwell, play, loops, skipped, liked, not_interested, exit, final))
    slots = [("c1", 0, "warmup", None, (5000.0, 4500.0, 1, 0, 1, 0, "swipe_next", 1)),
             ("c3", 0, "foryou", 0.25, (1200.0, 1000.0, 0, 1, 0, 1, "key", 1)),
             ("c1", 1, "history", None, (800.0, 700.0, 0, 1, 0, 0, "swipe_prev", 1)),
             ("c2", 0, "foryou", 0.5, (300.0, 300.0, 0, 1, 0, 0, "", 0)),
             ("c3", 0, None, None, None)]
    for pos, (clip, rev, policy, p, v) in enumerate(slots):
        db["impressions"].insert({"id": f"i{pos}", "session_id": "s-old", "position": pos, "clip_id": clip,
                                  "is_revisit": rev, "policy": policy, "propensity": p, "settled_mono_ns": pos})
        if v is None:
            continue
        dwell, play, loops, skipped, liked, ni, exit_, final = v
        db["views"].insert({"impression_id": f"i{pos}", "session_id": "s-old", "dwell_ms": dwell, "play_ms": play,
                            "paused_ms": 100.0 * pos, "unfocused_ms": None if pos == 1 else 50.0, "loops": loops,
                            "skipped": skipped, "liked": liked, "not_interested": ni, "exit": exit_, "final": final})
    db.conn.close()


def test_a_log_from_before_the_session_catalog_reads_every_clip_with_notes_for_the_researcher(tmp_path):
    """A schema-3 log: the session's catalog is every clip in the file, read field by field (missing
    facts empty, unreadable topics none, no visual features); warm-up slots are scripted by their
    policy; the view never closed counts as none; and the report says, in words, that the file's clips
    are not the session's catalog and that the propensities cannot be reproduced exactly."""
    from feedapp.core.model import Clip

    path = tmp_path / "old.db"
    _schema3_log(path, catalog_size=2)
    conn = open_for_reading(path)
    sess = read_logged_session(conn, "S-O")
    conn.close()
    assert (sess.id, sess.ranker, sess.seed, sess.params) == ("s-old", "foryou", 9, {"temperature": 0.2, "epsilon": 0.1})
    assert sess.clips == (Clip("c1", "/v/c1.mp4", "One", ("cats", "dogs"), "ann", 4000, 30.0, 540, 960, 90, "2024-03-01"),
                          Clip("c2", "", "", (), "", 0, 0.0, 0, 0, 0, ""),
                          Clip("c3", "/v/c3.mp4", "Three", ("tech",), "bo", 2000, 25.0, 720, 1280, 0, ""))
    assert sess.start == {} and sess.live == () and sess.initial == sess.clips and not sess.exact
    assert sess.steps == (
        LoggedStep(0, "c1", False, "warmup", None, View("c1", 5000.0, 4500.0, 1, False, True, False, False, "swipe_next",
                                                          0.0, 50.0, position=0), scripted=True),
        LoggedStep(1, "c3", False, "foryou", 0.25, View("c3", 1200.0, 1000.0, 0, True, False, True, False, "key",
                                                          100.0, 0.0, position=1)),
        LoggedStep(2, "c1", True, "history", None, View("c1", 800.0, 700.0, 0, True, False, False, True, "swipe_prev",
                                                          200.0, 50.0, position=2)),
        LoggedStep(3, "c2", False, "foryou", 0.5, None),
        LoggedStep(4, "c3", False, "", None, None),
    )
    assert sess.notes == (
        "the session's catalog had 2 clips; the log's clips table holds 3 (clips of every session in this file); "
        "the replay uses all of them",
        "this log does not record what each decision saw (views learned, live changes): every slot is replayed as "
        "decided after all earlier views, so the logged propensities are not reproduced exactly")
    # the catalog was the file's clips, or its size was not logged: nothing to say about it; seed 0 is a
    # seed like any other; parameters that are not a JSON object read as none (the ranker's defaults)
    for size, params in ((3, "[0.2]"), (None, "not json")):
        _schema3_log(tmp_path / f"{size}.db", catalog_size=size, seed=0, params=params)
        conn = open_for_reading(tmp_path / f"{size}.db")
        sess = read_logged_session(conn, "s-old")
        conn.close()
        assert len(sess.notes) == 1 and "does not record what each decision saw" in sess.notes[0]
        assert (sess.seed, sess.params) == (0, {})


def test_a_clip_described_anew_reads_back_as_each_session_showed_it(tmp_path):
    """A clip whose title changed between two sessions (schema 4 keeps every version): each session
    reads back the version it showed, and a session that did not show it gets the newest."""
    import dataclasses

    from feedapp.core.model import Clip

    old = Clip("c", "/v/c.mp4", "Old title", ("cats",), "ann", 4000, 30.0, 540, 960)
    new = dataclasses.replace(old, title="New title", duration_ms=4200)
    other = Clip("x", "/v/x.mp4", "Other", ("dogs",), "bo", 3000, 30.0, 540, 960)
    path = tmp_path / "feed.db"
    log = EventLog(path)
    sids = []
    for announced, shown in (((old, other), old), ((new,), new), ((), other)):
        if announced:
            log.clips_known(announced)
        rec = SessionRecorder(log, app_version="test", mode="play", ranker="random", seed=1)
        rec.arrive(shown, reached_by="start", is_revisit=False, settled_ns=10**9, policy="random", propensity=0.5)
        rec.end("quit", 3 * 10**9)
        sids.append(rec.id)
    assert log.close()
    conn = open_for_reading(path)
    got = [{c.id: (c.title, c.duration_ms) for c in read_logged_session(conn, sid).clips} for sid in sids]
    conn.close()
    assert got == [{"c": ("Old title", 4000), "x": ("Other", 3000)}, {"c": ("New title", 4200), "x": ("Other", 3000)},
                   {"c": ("New title", 4200), "x": ("Other", 3000)}]


def test_slots_served_by_a_stand_in_are_noted():
    """Seen in a new-user trial: a plugin whose scores took 200 ms was stopped at every call and foryou served
    all its slots; replay said 'served by creator-love ... slow.py:CreatorLove served this session' and printed
    the plugin's estimates, which were foryou's, without a word."""
    from dataclasses import replace

    session = session_from_engine(drive(n=10))
    assert replay(session, ["random"], n_boot=10)["session"]["notes"] == []
    steps = tuple(replace(st, policy="foryou-fallback") if i < 4 else st for i, st in enumerate(session.steps))
    notes = replay(replace(session, steps=steps), ["random"], n_boot=10)["session"]["notes"]
    assert notes == ["4 of the 10 slots used for the estimates were served by foryou-fallback (4), not foryou (a "
                     "plugin's fallback while it failed or restarted; the log's ranker_failed events say why): "
                     "replayed as it served, the plugin serves them so too, so its figures are partly foryou-fallback's"]


def test_what_a_plugin_prints_while_replayed_goes_to_stderr(tmp_path, capsys):
    plugin = tmp_path / "patchy.py"
    plugin.write_text(SOMETIMES_NAN.format(extra="print('debug', len(s)); s[::3] = 0.0"))
    path = tmp_path / "feed.db"
    sid = record(path, n=5)
    assert run_replay_command(open_for_reading, path, sid[:8], [f"{plugin}:Patchy"], as_json=True) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["rankers"][0]["ranker"] == f"{plugin}:Patchy" and "debug 64" in err


LOOPS_UNTIL_CTRL_C = '''
import os, signal, time
import numpy as np
from feedapp.core.rankers import BaseRanker

class Stuck(BaseRanker):
    name = "stuck"

    def scores(self, rng):
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl+C while it loops
        for _ in range(500):  # (bounded: without the interrupt the test fails instead of hanging)
            time.sleep(0.01)
        return np.zeros(self.space.n)
'''


def test_ctrl_c_while_a_plugin_loops_in_replay_says_where_it_was_and_exits_130(tmp_path, capsys):
    # a plugin that never returns makes replay run until Ctrl+C (no time limit in batch tools); the line then
    # said 'plugin ... raised KeyboardInterrupt:  (at line ...) ...; fix it and replay again', as if the plugin
    # had raised it, with exit code 2
    import signal

    plugin = tmp_path / "stuck.py"
    plugin.write_text(LOOPS_UNTIL_CTRL_C)
    path = tmp_path / "feed.db"
    sid = record(path, n=5)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, as in a terminal
    try:
        assert run_replay_command(open_for_reading, path, sid[:8], [f"{plugin}:Stuck"], steps=False) == 130
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    finally:
        signal.signal(signal.SIGINT, before)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"feedapp: stopped by Ctrl+C while plugin {plugin}:Stuck was running "
                                                   "(at line "), err
    assert re.search(r"\(at line 1[0-2] of stuck\.py, in scores\), being replayed: ", err), err  # where Ctrl+C found it
    assert "without a time limit" in err and "raised KeyboardInterrupt" not in err
