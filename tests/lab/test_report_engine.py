"""A study report built from sessions that simulated viewers ran through the real FeedEngine.

Each participant: Study.assign -> FeedEngine(ranker of the condition, seed of the assignment) ->
SessionRecorder -> EventLog, exactly the path the player uses (impression with the pick's score and
propensity, view closed by SessionRecorder, engine.finish learning from it, profile snapshots from
the engine's hook). The report's figures are then checked against values computed independently
from the rows.
"""

from __future__ import annotations

import math
import random
import sqlite3

import numpy as np
import pytest

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine, view_from_record
from feedapp.core.session import SessionRecorder
from feedapp.lab.report import session_figures, study_figures
from feedapp.lab.study import STUDY_EVENT, parse_study
from feedapp.store.log import EventLog
from feedapp.store.sessions import open_for_reading
from tests.lab.conftest import CLIPS, STUDY_TEXT

MS = 1_000_000
LIKED = {"cats", "cooking"}
N_VIEWS = 40


def run_viewer(log: EventLog, study, participant: str, t0: int) -> SessionRecorder:
    a = study.assign(participant)
    now = [t0]
    rec = SessionRecorder(log, app_version="test", clock=lambda: now[0], catalog_size=len(CLIPS),
                          **a.session_kwargs(study.skip_threshold_ms))
    log.clips_known(CLIPS)
    rec.event(STUDY_EVENT, t0, **a.study_event(study.sha256))
    # three warm-up clips open the feed (scripted slots: logged, but not ranker picks)
    engine = FeedEngine(Catalog(CLIPS), ranker=a.condition.ranker, seed=a.seed, params=a.condition.params,
                        warmup=CLIPS[:3])
    engine.on("profile_did_update", lambda snap: rec.profile_snapshot(dict(snap), now[0]))
    rng = random.Random(a.seed)
    t = t0 + 10 * MS
    for _ in range(N_VIEWS):
        clip = engine.next()
        pick = engine.pick_at(engine.position)
        rec.arrive(clip, reached_by="key", is_revisit=False, settled_ns=t, input_ns=t, pick=pick)
        rec.first_frame(t + 5 * MS)
        liked = bool(set(clip.topics) & LIKED)
        watch_ms = clip.duration_ms * rng.uniform(0.9, 1.6) if liked else rng.uniform(600, 1800)
        t += int(watch_ms * MS) + 5 * MS
        now[0] = t
        view = rec.leave("key", t)
        engine.finish(view_from_record(view, clip.id))
        t += 250 * MS
    now[0] = t
    rec.end("finished", t)
    return rec


@pytest.fixture(scope="module")
def engine_study(tmp_path_factory):
    study = parse_study(STUDY_TEXT)
    path = tmp_path_factory.mktemp("engine-study") / "feed.db"
    log = EventLog(path)
    participants = [f"P{n:02d}" for n in range(1, 7)]
    recs = [run_viewer(log, study, p, (1 + i) * 10_000_000 * MS) for i, p in enumerate(participants)]
    assert log.close(timeout=30)
    return path, study, recs


def test_study_report_from_engine_driven_sessions_matches_the_rows(engine_study):
    path, study, recs = engine_study
    conn = open_for_reading(path)
    fig = study_figures(conn, study.name)
    raw = sqlite3.connect(path)
    conditions = sorted({r.record.condition for r in recs})
    assert sorted(fig["conditions"]) == conditions
    for cond in conditions:
        per = raw.execute(
            "SELECT AVG(v.watch_ratio), AVG(v.skipped), AVG(v.dwell_ms) FROM views v JOIN sessions s ON s.id = v.session_id "
            "WHERE s.condition = ? AND v.final = 1 GROUP BY s.id ORDER BY s.id", [cond]).fetchall()
        c = fig["conditions"][cond]
        assert c["sessions"] == len(per) and c["views"] == len(per) * N_VIEWS
        xs = np.array([p[0] for p in per])
        assert c["per_session"]["watch_ratio"]["mean"] == pytest.approx(xs.mean())
        if len(xs) > 1:
            half = c["per_session"]["watch_ratio"]["ci_high"] - xs.mean()
            from feedapp.lab.stats import t_quantile

            assert half == pytest.approx(t_quantile(0.975, len(xs) - 1) * xs.std(ddof=1) / math.sqrt(len(xs)), rel=1e-6)
        explo = raw.execute(
            "SELECT AVG(i.exploration) FROM impressions i JOIN sessions s ON s.id = i.session_id "
            "WHERE s.condition = ? AND i.policy != 'history' AND i.scripted = 0", [cond]).fetchone()[0]
        assert c["exploration_share"] == pytest.approx(explo, abs=1e-6)
    # the learner serves the liked topics more than random does: the report shows the difference
    rankers = {cond: fig["conditions"][cond]["rankers"][0] for cond in conditions}
    learn = next(c for c, r in rankers.items() if r == "foryou")
    other = next(c for c, r in rankers.items() if r != "foryou")
    assert fig["conditions"][learn]["per_session"]["watch_ratio"]["mean"] > \
        fig["conditions"][other]["per_session"]["watch_ratio"]["mean"]


def test_session_report_profile_comes_from_the_engine_snapshots(engine_study):
    path, study, recs = engine_study
    conn = open_for_reading(path)
    learner = next(r for r in recs if r.record.ranker == "foryou")
    fig = session_figures(conn, learner.id)
    raw = sqlite3.connect(path)
    n_snaps = raw.execute("SELECT COUNT(*) FROM profile_snapshots WHERE session_id = ?", [learner.id]).fetchone()[0]
    assert n_snaps == N_VIEWS
    assert fig["summary"]["views"] == N_VIEWS
    skip_rate = raw.execute("SELECT AVG(skipped) FROM views WHERE session_id = ? AND final = 1", [learner.id]).fetchone()[0]
    assert fig["summary"]["skip_rate"]["mean"] == pytest.approx(skip_rate)
    assert raw.execute("SELECT COUNT(*) FROM impressions WHERE session_id = ? AND scripted = 1",
                       [learner.id]).fetchone()[0] == 3
    explo = raw.execute("SELECT AVG(exploration) FROM impressions WHERE session_id = ? AND scripted = 0",
                        [learner.id]).fetchone()[0]
    assert fig["exploration"]["share"] == pytest.approx(explo)
