"""FeedEngine: scriptable, deterministic, drivable through Feed's navigation API, safe on bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine, view_from_record
from feedapp.core.records import ViewRecord
from feedapp.core.model import Clip, View
from feedapp.core.rankers import ParameterError
from feedapp.core.rankers.rng import decision_streams
from feedapp.core.reward import ViewError
from feedapp.core.simulate import SimViewer, demo_like_catalog


def clip(i: int, topics=("cats",), creator="ana", dur=8000, created="", features=()) -> Clip:
    return Clip(f"c{i}", f"/x/{i}.mp4", f"clip {i}", tuple(topics), creator, dur, 30.0, 540, 960,
                created=created, features=tuple(features))


def drive(eng: FeedEngine, viewer: SimViewer, n: int, peek_extra: bool = False) -> list[str]:
    """Play n clips like the UI would: settle, peek the next to preload, finish the view, swipe."""
    served = []
    cur = eng.start()
    for _ in range(n):
        if peek_extra:
            eng.decide_next()  # the player preloads the next clip...
            eng.peek(+1)
        eng.finish(viewer.watch(cur))  # ...then the view closes and the engine forgets that decision
        if peek_extra:
            eng.upcoming(5)
            eng.decision()
        served.append(cur.id)
        cur = eng.move(1)
    return served


def test_same_inputs_same_sequence_bit_for_bit():
    cat = demo_like_catalog(5)
    runs = []
    for peek in (False, True, False):
        eng = FeedEngine(cat, "foryou", seed=11)
        viewer = SimViewer.make(3, eng.space.topics, eng.space.creators)
        seq = drive(eng, viewer, 60, peek_extra=peek)
        runs.append((seq, [(p.clip_id, p.score, p.propensity) for p in eng.picks[:60]], eng.profile()))
    assert runs[0] == runs[1] == runs[2]  # peeking and re-deciding in between changes nothing


def test_other_seed_other_sequence():
    cat = demo_like_catalog(5)
    seqs = set()
    for seed in (1, 2):
        eng = FeedEngine(cat, "foryou", seed=seed)
        seqs.add(tuple(drive(eng, SimViewer.make(3, eng.space.topics, eng.space.creators), 30)))
    assert len(seqs) == 2


def test_navigation_api_matches_feed():
    eng = FeedEngine(demo_like_catalog(0), "foryou", seed=0)
    first = eng.start()
    assert eng.current is first and eng.position == 0 and not eng.is_revisit()
    assert eng.peek(+1) is None and eng.upcoming(3) and eng.decision() is not None
    assert len(eng.history) == 1 and len(eng.picks) == 1  # the queries decided nothing
    nxt = eng.decide_next()
    assert eng.peek(+1) is nxt and eng.decide_next() is nxt  # decided once
    assert eng.upcoming(3)[0].clip is nxt and eng.upcoming(3)[0].decided
    eng.redecide_next()
    assert len(eng.history) == 1 and len(eng.picks) == 1
    second = eng.move(1)
    assert eng.position == 1 and eng.move(-1) is first and eng.position == 0
    assert eng.move(1) is second
    assert [p.clip_id for p in eng.picks] == [c.id for c in eng.history]
    assert eng.pick_at(0).position == 0 and eng.pick_at(0).ranker == "foryou" and eng.pick_at(0).views == 0
    eng.finish(View(second.id, dwell_ms=900, play_ms=900, skipped=True))
    assert eng.peek(1) is None and len(eng.picks) == 2
    assert eng.decide_next() is not None and eng.pick_at(2).views == 1
    assert json.loads(json.dumps(eng.pick_at(2).as_dict()))["views"] == 1


def test_upcoming_has_scores_propensities_and_reasons():
    eng = FeedEngine(demo_like_catalog(0), "foryou", seed=0)
    eng.start()
    q = eng.upcoming(10)
    assert len(q) == 10 and len({e.clip.id for e in q}) == 10
    assert all(0 < e.propensity <= 1 and math.isfinite(e.score) for e in q)
    assert sum(e.propensity for e in q) <= 1.0 + 1e-9
    assert any(e.reasons for e in q)
    assert len(eng.history) == 1  # reading the queue decides nothing


def test_upcoming_rows_name_the_policy_cuts_in_their_scores():
    """An undecided row of Up next shows its adjusted score; its reasons carry the policy's cuts (fatigue,
    repeats), worded as a pick's, so a negative score says where it comes from."""
    from feedapp.core.rankers.policy import cut_reasons

    eng = FeedEngine(demo_like_catalog(0), "foryou", seed=0)
    for _ in range(40):
        c = eng.next()
        eng.finish(View(c.id, dwell_ms=4000, play_ms=4000))
    rows = eng._rows.tolist()
    q = [e for e in eng.upcoming(10) if not e.decided]
    assert q
    for e in q:
        row = eng.space.row(e.clip)
        cuts = cut_reasons(eng.space, row, rows, eng.ranker.params, eng.ranker.liked_creators())
        assert e.reasons == eng.ranker.explain(row) + cuts
        if row in rows:
            times = rows.count(row)
            ago = len(rows) - max(i for i, r in enumerate(rows) if r == row)
            assert f"served {times}x before, last {ago} ago" in e.reasons
    assert any(r.startswith(("creator fatigue -", "topic fatigue -", "repeat -")) for e in q for r in e.reasons)


def test_profile_learns_and_keeps_plain_snapshots():
    eng = FeedEngine(demo_like_catalog(0), "foryou", seed=0)
    for _ in range(30):
        c = eng.next()
        liked = "cats" in c.topics
        eng.finish(View(c.id, dwell_ms=20000, play_ms=c.duration_ms * (2 if liked else 0) + (0 if liked else 900),
                        loops=2 if liked else 0, skipped=not liked))
    prof = eng.profile()
    assert next(iter(prof["topics"])) == "cats"  # best first
    hist = eng.profile_history()
    assert len(hist) == 30 and hist[-1]["views"] == 30
    json.dumps(hist)  # plain data for the log
    assert all(math.isfinite(v) for s in hist for v in s["topics"].values())


def test_empty_and_tiny_catalogs():
    eng = FeedEngine(Catalog(), "foryou")
    assert eng.start() is None and eng.upcoming(5) == [] and eng.peek(1) is None
    one = FeedEngine(Catalog([clip(1)]), "foryou")
    assert one.start().id == "c1"
    for _ in range(5):
        one.finish(View("c1", dwell_ms=100, play_ms=100, skipped=True))
        assert one.move(1).id == "c1"  # the only clip comes back
    assert all(math.isfinite(v) for v in one.profile()["topics"].values())


@pytest.mark.parametrize("name", ["foryou", "random", "chronological", "popular", "following"])
def test_odd_catalog_never_crashes_nor_nans(name):
    cs = [clip(i, topics=() if i % 3 == 0 else ("cats",), creator="solo", dur=[0, 5000, 31000][i % 3],
               features=[(float("nan"), float("inf")), (), (1.0, -1e308, 3.0)][i % 3]) for i in range(9)]
    eng = FeedEngine(Catalog(cs), name, seed=4)
    for i in range(25):
        c = eng.next()
        eng.finish(View(c.id, dwell_ms=10**12 if i % 5 == 0 else 50, play_ms=10**12 if i % 5 == 0 else 0,
                        loops=10**9 if i % 5 == 0 else 0, liked=i % 7 == 0))
    snap = eng.profile()
    assert all(math.isfinite(v) for v in snap["topics"].values()) and all(math.isfinite(v) for v in snap["creators"].values())
    assert all(0 < p.propensity <= 1 for p in eng.picks)
    assert np.all(np.isfinite(eng.ranker.scores(decision_streams(4, 0, 0)[0])))


def test_impossible_views_are_clear_errors_and_change_nothing():
    eng = FeedEngine(demo_like_catalog(0), "foryou")
    c = eng.start()
    with pytest.raises(ViewError, match="dwell_ms must be 0 or more"):
        eng.finish(View(c.id, dwell_ms=-5, play_ms=0))
    with pytest.raises(ViewError, match="not in the catalog"):
        eng.finish(View("nope", dwell_ms=5, play_ms=0))
    assert eng.views == [] and eng.profile()["views"] == 0


def test_catalog_growth_while_running():
    cat = Catalog([clip(i, topics=("cats",), creator="ana") for i in range(3)])
    eng = FeedEngine(cat, "foryou", seed=0, params={"new_creator_floor": 0.0})
    eng.start()
    d0 = eng.space.d
    cat.add([clip(10 + i, topics=("ocean",), creator="ben", features=(0.1 * i, 1.0)) for i in range(5)])
    assert eng.space.n == 8 and eng.space.d > d0
    seen = {eng.next().id for _ in range(20)}
    assert seen & {f"c{10 + i}" for i in range(5)}


def test_diversity_limit_is_kept():
    cs = [clip(i, topics=(["cats", "ocean", "art"][i % 3],), creator=f"cr{i % 4}") for i in range(30)]
    eng = FeedEngine(Catalog(cs), "foryou", seed=1, params={"max_same_topic": 2, "epsilon": 0.0})
    for _ in range(40):  # a viewer who only wants cats: the feed still breaks every run of 2
        c = eng.next()
        eng.finish(View(c.id, dwell_ms=9000, play_ms=16000 if "cats" in c.topics else 500, loops=2,
                        skipped="cats" not in c.topics))
    topics = [c.topics[0] for c in eng.history]
    assert topics.count("cats") >= 15  # it still serves mostly what the viewer wants
    for i in range(len(topics) - 2):
        assert not (topics[i] == topics[i + 1] == topics[i + 2]), topics[i : i + 3]


def test_every_creator_gets_a_first_chance():
    # one creator has a single clip among 60: the floor still shows it early
    cs = [clip(i, topics=("cats",), creator=f"big{i % 3}") for i in range(60)] + [clip(99, topics=("cats",), creator="newbie")]
    eng = FeedEngine(Catalog(cs), "foryou", seed=0, params={"new_creator_floor": 0.5})
    shown = {eng.next().creator for _ in range(15)}
    assert "newbie" in shown


def test_not_interested_is_respected():
    cs = [clip(i, topics=(["cats", "ocean"][i % 2],), creator=f"cr{i % 3}") for i in range(12)]
    eng = FeedEngine(Catalog(cs), "foryou", seed=0, params={"repeat_gap": 1})
    c = eng.start()
    eng.finish(View(c.id, dwell_ms=500, play_ms=500, skipped=True, not_interested=True))
    later = [eng.next().id for _ in range(40)]
    assert c.id not in later


def test_repeats_wait_for_the_repeat_gap():
    eng = FeedEngine(demo_like_catalog(0), "foryou", seed=0, params={"repeat_gap": 20})
    ids = [eng.next().id for _ in range(100)]
    for i, cid in enumerate(ids):
        assert cid not in ids[max(0, i - 20) : i]


def test_following_and_chronological():
    cs = [clip(i, topics=("cats",), creator=f"cr{i % 4}", created=f"2026-01-{i + 1:02d}") for i in range(20)]
    chrono = FeedEngine(Catalog(cs), "chronological")
    first = [chrono.next().id for _ in range(20)]
    assert first == [f"c{i}" for i in range(19, -1, -1)]  # newest first, each once
    fol = FeedEngine(Catalog(cs), "following", seed=0, params={"epsilon": 0.0})
    fol.follow("cr2")
    got = {fol.next().creator for _ in range(10)}
    assert got == {"cr2"}
    fol.unfollow("cr2")
    assert len({fol.next().creator for _ in range(10)}) > 1
    with pytest.raises(ValueError, match="no creator called"):
        fol.follow("nobody")


def test_popular_counts_views_globally():
    from feedapp.core.rankers import World

    cat = demo_like_catalog(0)
    world = World()
    a = FeedEngine(cat, "popular", seed=0, world=world)
    target = cat.clips[17]
    for _ in range(5):
        a.finish(View(target.id, dwell_ms=3000, play_ms=3000))
    b = FeedEngine(cat, "popular", seed=1, world=world, params={"epsilon": 0.0})
    assert b.start().id == target.id


def test_engine_events_are_declared():
    from feedapp.core.engine import EVENTS, UnknownEvent

    eng = FeedEngine(demo_like_catalog(0), "foryou")
    with pytest.raises(UnknownEvent, match="did you mean 'view_did_finish'"):
        eng.on("view_did_finsh", lambda *a: None)
    with pytest.raises(ValueError, match="no event 'anything'"):
        eng.on("anything", lambda *a: None)
    for name in EVENTS:
        eng.on(name, lambda *a: None)


def test_live_parameter_change_and_events():
    eng = FeedEngine(demo_like_catalog(0), "foryou")
    events = []
    for name in ("pick_did_decide", "view_did_finish", "profile_did_update", "ranker_param_did_change"):
        eng.on(name, lambda *a, name=name: events.append(name))
    c = eng.start()
    eng.peek(1)
    eng.set_param("epsilon", 0.5)
    assert len(eng.history) == 1  # the undisplayed pick was dropped to be decided again
    with pytest.raises(ParameterError, match="epsilon"):
        eng.set_param("epsilon", 3)
    eng.finish(View(c.id, dwell_ms=1000, play_ms=1000))
    assert events[:1] == ["pick_did_decide"] and "ranker_param_did_change" in events
    assert events[-2:] == ["view_did_finish", "profile_did_update"]
    info = eng.session_info()
    assert info["params"]["epsilon"] == 0.5 and len(info["catalog_fingerprint"]) == 16


def test_bad_engine_arguments():
    with pytest.raises(ValueError, match="seed"):
        FeedEngine(demo_like_catalog(0), "foryou", seed="x")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="choose one of"):
        FeedEngine(demo_like_catalog(0), "nope")


def test_engine_learns_from_the_session_recorders_view_records():
    eng = FeedEngine(demo_like_catalog(0), "foryou", seed=0)
    c = eng.start()
    rec = ViewRecord(impression_id="i1", session_id="s1", dwell_ms=12000.5, play_ms=11800.25, paused_ms=0.0,
                     unfocused_ms=200.25, stalled_ms=0.0, watch_ratio=11800.25 / c.duration_ms, loops=1,
                     skipped=False, exit="swipe_next", liked=True, not_interested=False, ended_mono_ns=1,
                     ended_utc="2026-01-01T00:00:00Z", final=True)
    view = view_from_record(rec, c.id, revisit=False)
    assert view.play_ms == 11800.25 and view.liked and view.exit == "swipe_next"
    reward = eng.finish(view)
    assert reward.value > 0.9 and eng.profile()["views"] == 1


def test_session_log_is_enough_to_replay_the_feed():
    """Drive the engine through the session recorder like the app does, then rebuild the served
    sequence from the logged records alone (seed, ranker, params and views)."""
    from feedapp.core.records import MemorySink
    from feedapp.core.session import SessionRecorder

    cat = demo_like_catalog(2)
    now = [0]

    def clock() -> int:
        return now[0]

    eng = FeedEngine(cat, "foryou", seed=9)
    sink = MemorySink()
    info = eng.session_info()
    rec = SessionRecorder(sink, app_version="test", mode="demo", ranker=info["ranker"], ranker_params=info["params"],
                          seed=eng.seed, catalog_fingerprint=info["catalog_fingerprint"], clock=clock,
                          wall_clock_ns=lambda: 1_700_000_000_000_000_000)
    eng.on("profile_did_update", lambda snap: rec.profile_snapshot(dict(snap), now[0]))
    viewer = SimViewer.make(4, eng.space.topics, eng.space.creators)
    clip = eng.start()
    for _ in range(30):
        pick = eng.pick_at(eng.position)
        rec.arrive(clip, reached_by="swipe_next", is_revisit=eng.is_revisit(), settled_ns=now[0],
                   policy=pick.ranker, score=pick.score, propensity=pick.propensity, exploration=pick.explore)
        eng.peek(1)  # the player preloads the next clip while this one plays
        rec.first_frame(now[0] + 5_000_000)
        watched = viewer.watch(clip)
        now[0] += 5_000_000 + int(watched.play_ms * 1e6)
        view = rec.leave("swipe_next", now[0])
        now[0] += 250_000_000
        eng.finish(view_from_record(view, clip.id, revisit=False))
        clip = eng.move(1)

    impressions = [r for kind, r in sink.records if kind == "impression"]
    views = [r for kind, r in sink.records if kind == "view" and r.final]
    assert len(impressions) == len(views) == 30 and len([k for k, _ in sink.records if k == "profile"]) == 30
    assert all(0 < i.propensity <= 1 and i.policy == "foryou" for i in impressions)

    # replay: a fresh engine, the logged views in order, the picks decided at the same moments
    session = next(r for kind, r in sink.records if kind == "session")
    again = FeedEngine(cat, session.ranker, seed=session.seed, params=session.ranker_params)
    replayed = [again.start().id]
    for imp, view in zip(impressions, views):
        again.peek(1)
        again.finish(view_from_record(view, imp.clip_id))
        replayed.append(again.move(1).id)
    assert replayed[:30] == [i.clip_id for i in impressions]
    assert again.profile() == eng.profile()


def test_a_live_change_decides_the_forgotten_slot_again_once_it_is_logged():
    """A decided, undisplayed slot is decided again right after a live change and its listeners (the
    log), so the new pick counts the change; learning a view only forgets it (the driver decides)."""
    eng = FeedEngine(demo_like_catalog(0), "foryou", seed=3)
    eng.start()
    first = eng.decide_next()
    seen = []
    eng.on("ranker_param_did_change", lambda *a: seen.append((len(eng.history), eng.live)))
    eng.set_param("epsilon", 0.5)
    assert seen == [(1, 1)]  # the listener ran with the slot undecided and the change counted
    assert len(eng.history) == 2 and eng.pick_at(1).live == 1 and eng.pick_at(1).params_version == 1
    assert first is not None
    eng.finish(View(eng.current.id, dwell_ms=900, play_ms=900, skipped=True))
    assert len(eng.history) == 1 and eng.peek(1) is None  # forgotten, not decided again
    eng.upcoming(5)
    assert len(eng.history) == 1 and len(eng.picks) == 1
    assert eng.decide_next() is not None and eng.pick_at(1).views == 1


def test_a_catalog_growing_one_clip_at_a_time_through_twelve_topics():
    """What the demo maker does: clips arrive one by one, a new topic with many of them. The topic matrix
    starts 8 topics wide; the ninth topic used to fail inside the engine (IndexError), its feature space half updated."""
    clips = [clip(i, topics=(f"t{i % 12}",), creator=f"cr{i % 8}") for i in range(40)]
    cat = Catalog(clips[:1])
    eng = FeedEngine(cat, "foryou", seed=1)
    cur = eng.start()
    viewer = SimViewer.make(2, [f"t{k}" for k in range(12)], [f"cr{k}" for k in range(8)])
    for c in clips[1:]:
        cat.add([c])
        eng.finish(viewer.watch(cur))
        cur = eng.move(1)
    assert len(eng.space.topics) == 12 and eng.space.T.shape == (40, 12)
    assert [eng.space.topics[j] for j in np.flatnonzero(eng.space.T[eng.space.row_of["c11"]])] == ["t11"]
    assert {c.id for c in eng.catalog.clips} == {c.id for c in clips}


def test_a_closed_engine_leaves_the_shared_catalog_and_space_and_can_be_freed():
    import gc
    import weakref

    from feedapp.core.features import FeatureSpace

    cat = demo_like_catalog(0)
    space = FeatureSpace(cat.clips)
    kept = FeedEngine(cat, "foryou", seed=1, space=space)
    gone = FeedEngine(cat, "foryou", seed=2, space=space)
    for eng in (kept, gone):
        eng.finish(View(eng.next().id, 5000, 4000))
    d_before = gone.ranker._mean.size
    gone.close()
    gone.close()  # twice: nothing left to detach
    assert gone.views and gone.picks  # its record stays readable
    cat.add([Clip("late", "", "late", ("brand-new-topic",), "late-creator", 9000, 30, 540, 960)])
    assert kept.space.n == cat.__len__() and kept.ranker._mean.size > d_before  # the open engine grew
    assert gone.ranker._mean.size == d_before  # the closed one's ranker was not called
    ref = weakref.ref(gone)
    del gone, eng
    gc.collect()
    assert ref() is None  # nothing shared keeps it alive
    also = FeedEngine(cat, "foryou", seed=3, space=space)
    ref = weakref.ref(also)
    del also
    gc.collect()
    assert ref() is not None  # without close the shared catalog keeps the engine alive (why the simulator closes)


def test_refresh_detaches_the_ranker_it_replaces():
    """"Refresh my feed" binds a fresh ranker; the one it replaces stops hearing the space's growth and is freed
    (before, the space kept every ranker ever refreshed away, calling each on growth)."""
    import gc
    import weakref

    cat = demo_like_catalog(0)
    eng = FeedEngine(cat, "foryou", seed=1)
    listeners = eng.space._listeners
    old = [weakref.ref(eng.ranker)]
    for _ in range(3):
        eng.finish(View(eng.next().id, 5000, 4000))
        eng.refresh()
        old.append(weakref.ref(eng.ranker))
    assert [getattr(f, "__self__", None) for f in listeners].count(eng.ranker) == 1
    assert not any(getattr(f, "__self__", None) is r() for f in listeners for r in old[:-1])
    d_before = eng.ranker._mean.size
    cat.add([Clip("late", "", "late", ("brand-new-topic",), "late-creator", 9000, 30, 540, 960)])
    assert eng.ranker._mean.size > d_before  # the serving ranker still grows with the catalog
    gc.collect()
    assert [r() is None for r in old[:-1]] == [True, True, True]
    eng.close()
    assert not any(getattr(f, "__self__", None) is eng.ranker for f in listeners)


def test_a_listener_that_raises_leaves_picks_aligned_with_the_history():
    """A ``pick_did_decide`` listener that raises (a panel's bug; Qt would swallow it in a slot) must not
    leave a pick whose clip never joined the feed: the decision is undone and made again, the same."""
    cat = demo_like_catalog(1)
    calm = FeedEngine(cat, "foryou", seed=3)
    eng = FeedEngine(cat, "foryou", seed=3)
    calls = {"n": 0}

    def flaky(pick):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("panel bug")

    eng.on("pick_did_decide", flaky)
    raised = 0
    for e in (calm, eng):
        clip = e.next()
        for _ in range(6):
            e.finish(View(clip.id, 3000, 3000, exit="swipe_next"))
            try:
                clip = e.next()
            except RuntimeError:  # the slot was not served: ask again
                raised += 1
                clip = e.next()
    assert raised == 1
    assert len(eng.picks) == len(eng.history) == eng._n_rows
    assert all(p.clip_id == c.id for p, c in zip(eng.picks, eng.history))
    assert [p.clip_id for p in eng.picks] == [p.clip_id for p in calm.picks]  # decided again, the same
    assert [p.propensity for p in eng.picks] == [p.propensity for p in calm.picks]


def test_a_continued_feed_counts_the_crashed_sessions_clips_as_served():
    """A lab session continued after a crash: the clips the crashed session showed count as served
    before slot 0 (no repeat while unseen clips remain, with the study's repeat gap), without being
    slots of this feed; the start state logs them, and replay's engine takes them the same way."""
    from feedapp.core.feed_session import FeedSession

    cat = Catalog([clip(i, topics=(("cats", "dogs", "art")[i % 3],), creator=f"c{i % 4}") for i in range(18)])
    shown = [f"c{i}" for i in (3, 1, 7, 12, 0, 5, 16, 9, 10, 2, 14)]  # 11 of the 18
    for seed in range(5):
        eng = FeedEngine(cat, "random", seed=seed, params={"repeat_gap": 100000})
        assert eng.continue_after([*shown, "not-in-the-catalog"]) == 11
        assert eng.served_before == tuple(shown)
        first = [eng.next().id for _ in range(5)]
        eng.decide_next()  # the slot after the current one decided (preloaded), not shown yet
        eng.redecide_next()  # forgetting it keeps the clips served before and this feed's slots
        assert eng.served_before == tuple(shown) and len(eng._rows) == 11 + 5
        first += [eng.next().id for _ in range(2)]
        assert sorted(first) == sorted(c.id for c in cat.clips if c.id not in shown), first
        assert len(eng.picks) == len(eng.history) == 7  # they are not slots of this feed
    eng = FeedEngine(cat, "random", seed=0, params={"repeat_gap": 100000})
    eng.continue_after(shown)
    assert FeedSession(eng).start_state()["served_before"] == shown
    assert FeedSession(FeedEngine(cat, "random", seed=0)).start_state()["served_before"] == []
    eng.next()
    with pytest.raises(RuntimeError, match=r"^continue_after must come before this feed's first slot$"):
        eng.continue_after(shown)
