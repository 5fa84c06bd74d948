"""The view clock and session recorder, driven with made-up monotonic times (ns)."""

import pytest

from feedapp.core.model import Clip
from feedapp.core.records import MemorySink
from feedapp.core.session import SessionRecorder

MS = 1_000_000
CLIP = Clip(id="a", path="/a.mp4", title="A", topics=("cats",), creator="ann",
            duration_ms=10_000, fps=30.0, width=540, height=960)


def recorder(sink, t0=1_000 * MS, threshold=3000):
    return SessionRecorder(sink, app_version="t", mode="demo", ranker="simple", clock=lambda: t0,
                           skip_threshold_ms=threshold)


def test_dwell_is_split_into_play_paused_unfocused_stalled():
    sink = MemorySink()
    rec = recorder(sink)
    t = 2_000 * MS
    rec.arrive(CLIP, reached_by="start", is_revisit=False, settled_ns=t)
    assert rec.first_frame(t + 15 * MS) == pytest.approx(15.0)
    rec.set_paused(True, t + 1_015 * MS)
    rec.set_paused(False, t + 1_515 * MS)  # 500 ms paused
    rec.set_focused(False, t + 2_000 * MS)
    rec.set_paused(True, t + 2_100 * MS)  # paused while unfocused counts as unfocused
    rec.set_focused(True, t + 2_800 * MS)  # 800 ms unfocused
    rec.set_paused(False, t + 3_000 * MS)  # 200 ms paused
    rec.set_stalled(True, t + 4_000 * MS)
    rec.set_stalled(False, t + 4_100 * MS)  # 100 ms stall
    rec.loop_completed(t + 4_500 * MS)
    view = rec.leave("swipe_next", t + 12_015 * MS)
    assert view.dwell_ms == pytest.approx(12_015)
    assert view.paused_ms == pytest.approx(700)
    assert view.unfocused_ms == pytest.approx(800)
    assert view.stalled_ms == pytest.approx(115)
    assert view.play_ms == pytest.approx(12_015 - 700 - 800 - 115)
    assert view.play_ms + view.paused_ms + view.unfocused_ms + view.stalled_ms == pytest.approx(view.dwell_ms)
    assert view.watch_ratio == pytest.approx(view.play_ms / 10_000)
    assert view.loops == 1 and view.skipped is False and view.exit == "swipe_next" and view.final
    kinds = [e.kind for e in sink.of("event")]
    assert kinds == ["pause", "resume", "focus_lost", "pause", "focus_gained", "resume", "stall_start",
                     "stall_end", "loop"]


def test_quick_swipe_is_a_skip_and_positions_are_consecutive():
    sink = MemorySink()
    rec = recorder(sink)
    t = 5_000 * MS
    for i in range(3):
        rec.arrive(CLIP, reached_by="swipe_next" if i else "start", is_revisit=False,
                   settled_ns=t, input_ns=t - 250 * MS)
        rec.first_frame(t + 10 * MS)
        t += 1_000 * MS
    rec.end("quit", t)
    views = [v for v in sink.of("view") if v.final]
    assert [i.position for i in sink.of("impression")] == [0, 1, 2]
    assert all(v.skipped for v in views) and len(views) == 3
    # the first view ends at the input that left it, 250 ms before the next clip settled
    assert views[0].dwell_ms == pytest.approx(750)
    assert views[-1].exit == "quit"
    assert sink.of("end")[0].end_reason == "quit"


def test_checkpoint_is_not_final_and_times_are_utc_ordered():
    sink = MemorySink()
    rec = recorder(sink)
    rec.arrive(CLIP, reached_by="start", is_revisit=False, settled_ns=3_000 * MS)
    cp = rec.checkpoint(3_250 * MS)
    assert cp.final is False and cp.dwell_ms == pytest.approx(250)
    end = rec.end("time_limit", 4_000 * MS)
    assert end.ended_utc > rec.record.started_utc
    with pytest.raises(ValueError, match="unknown end reason"):
        rec.end("bored")


def test_a_back_dated_change_after_a_checkpoint_is_not_lost():
    """X11 reports focus-out 100 ms late; the UI back-dates it. A checkpoint in between must not eat it."""
    sink = MemorySink()
    rec = recorder(sink)
    t = 10_000 * MS
    rec.arrive(CLIP, reached_by="start", is_revisit=False, settled_ns=t)
    rec.first_frame(t)
    rec.checkpoint(t + 1_050 * MS)
    rec.set_focused(False, t + 1_000 * MS)  # reported at 1100 ms, back-dated to the input at 1000 ms
    rec.set_focused(True, t + 1_600 * MS)
    view = rec.leave("key", t + 2_000 * MS)
    assert view.unfocused_ms == pytest.approx(600)
    assert view.play_ms == pytest.approx(1_400)


# -- every field of every record, with fixed clocks -------------------------------------------------------

import os  # noqa: E402
import socket  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

from feedapp.core.identity import boot_id, process_start  # noqa: E402
from feedapp.core.model import Pick  # noqa: E402
from feedapp.core.session import END_REASONS, ViewClock  # noqa: E402

WALL0 = datetime(2024, 5, 6, 7, 8, 9, 250_000, tzinfo=timezone.utc)
MONO0 = 5_000 * MS
CLOCK_NOW = 999_999 * MS  # what the clock says when no time is given: never the stamp a test passes


def fixed(sink, **kw):
    wall_ns = int(WALL0.timestamp()) * 10**9 + WALL0.microsecond * 1000
    rec = SessionRecorder(sink, app_version="9.9", mode="lab", ranker="foryou", clock=lambda: MONO0,
                          wall_clock_ns=lambda: wall_ns, **kw)
    rec.clock = lambda: CLOCK_NOW
    return rec


def utc_at(mono_ns: int) -> str:
    return (WALL0 + timedelta(microseconds=(mono_ns - MONO0) // 1000)).isoformat(timespec="milliseconds")


def test_the_session_record_says_who_recorded_what_and_when():
    sink = MemorySink()
    rec = fixed(sink)
    s = rec.record
    assert sink.of("session") == [s] and s.id == rec.id and str(uuid.UUID(s.id)) == s.id
    assert (s.app_version, s.mode, s.ranker, s.ranker_params, s.seed) == ("9.9", "lab", "foryou", {}, 0)
    assert (s.catalog_fingerprint, s.catalog_size, s.participant, s.condition, s.study, s.fields) == ("", 0, "", "", "", {})
    assert s.skip_threshold_ms == 3000 and rec.skip_threshold_ms == 3000
    assert s.started_mono_ns == MONO0 == rec.started_ns and s.started_utc == "2024-05-06T07:08:09.250+00:00"
    assert (s.host, s.pid, s.boot_id, s.proc_start) == (socket.gethostname(), os.getpid(), boot_id(),
                                                        process_start(os.getpid()))
    params = {"epsilon": 0.1}
    full = fixed(MemorySink(), ranker_params=params, seed=4, catalog_fingerprint="abc", catalog_size=12,
                 participant="P1", condition="B", skip_threshold_ms=2500, study="s1", fields={"age": 30}).record
    assert (full.ranker_params, full.seed, full.catalog_fingerprint, full.catalog_size, full.participant,
            full.condition, full.skip_threshold_ms, full.study, full.fields) == (
        params, 4, "abc", 12, "P1", "B", 2500, "s1", {"age": 30})
    assert full.ranker_params is not params
    assert rec.utc(MONO0 + 1_500 * MS) == "2024-05-06T07:08:10.750+00:00"  # UTC follows the monotonic clock


def test_impressions_carry_the_pick_or_the_given_columns():
    sink = MemorySink()
    rec = fixed(sink)
    t = MONO0 + 100 * MS
    rec.arrive(CLIP, reached_by="start", is_revisit=False, settled_ns=t, policy="manual", score=0.5,
               propensity=0.25, exploration=True)
    (imp,) = sink.of("impression")
    assert (imp.session_id, imp.position, imp.clip_id, imp.reached_by, imp.is_revisit) == (rec.id, 0, "a", "start", False)
    assert (imp.policy, imp.score, imp.propensity, imp.exploration) == ("manual", 0.5, 0.25, True)
    assert (imp.input_mono_ns, imp.settled_mono_ns, imp.settled_utc) == (t, t, utc_at(t))
    assert (imp.views_learned, imp.live_seq, imp.params_version, imp.ranker_version, imp.scripted,
            imp.served_again) == (None, None, None, None, False, False)
    assert rec.impression_id == imp.id
    pick = Pick("a", 1, "foryou", 0.75, 0.125, True, (), views=3, live=2, params_version=1,
                ranker_version="builtin:foryou", scripted=True)
    rec.arrive(CLIP, reached_by="swipe_next", is_revisit=False, settled_ns=t + 900 * MS, input_ns=t + 800 * MS,
               pick=pick, policy="ignored", score=9.0, propensity=1.0, served_again=True)
    imp = sink.of("impression")[-1]
    assert (imp.policy, imp.score, imp.propensity, imp.exploration) == ("foryou", 0.75, 0.125, True)
    assert (imp.views_learned, imp.live_seq, imp.params_version, imp.ranker_version, imp.scripted,
            imp.served_again) == (3, 2, 1, "builtin:foryou", True, True)
    assert (imp.input_mono_ns, imp.settled_mono_ns, imp.position) == (t + 800 * MS, t + 900 * MS, 1)
    # the open view was closed at the input that left it, with the way the viewer left as its exit
    (first,) = [v for v in sink.of("view") if v.final]
    assert (first.exit, first.dwell_ms, first.ended_mono_ns, first.ended_utc) == (
        "swipe_next", 800.0, t + 800 * MS, utc_at(t + 800 * MS))
    assert rec.views_closed == 1
    rec.arrive(CLIP, reached_by="swipe_prev", is_revisit=True, settled_ns=t + 2_000 * MS, served_again=True)
    imp = sink.of("impression")[-1]
    assert imp.is_revisit and not imp.served_again and imp.policy == "" and imp.exploration is False
    assert rec.views_closed == 2
    second = [v for v in sink.of("view") if v.final][1]  # no input stamp: left when the next clip settled
    assert (second.exit, second.dwell_ms) == ("swipe_prev", 1100.0)


def test_view_records_are_exact_and_start_clean():
    sink = MemorySink()
    rec = fixed(sink)
    t = MONO0
    rec.arrive(CLIP, reached_by="start", is_revisit=False, settled_ns=t)
    assert rec.first_frame(t) == 0.0 and rec.first_frame(t + 5 * MS) is None  # only the first one counts
    assert sink.of("first_frame") == [(rec.impression_id, 0.0)]
    cp = rec.checkpoint(t + 400 * MS)
    assert (cp.exit, cp.final, cp.dwell_ms, cp.play_ms, cp.session_id) == ("", False, 400.0, 400.0, rec.id)
    assert sink.of("view") == [cp] and rec.views_closed == 0
    rec.like(t + 500 * MS)
    rec.not_interested(t + 600 * MS)
    v = rec.leave("key", t + 1_000 * MS)
    assert (v.liked, v.not_interested, v.ended_mono_ns, v.ended_utc, v.final) == (True, True, t + 1_000 * MS,
                                                                                 utc_at(t + 1_000 * MS), True)
    assert rec.leave("key", t + 2_000 * MS) is None and rec.checkpoint(t + 2_000 * MS) is None
    assert rec.first_frame(t + 2_000 * MS) is None
    rec.arrive(CLIP, reached_by="swipe_next", is_revisit=False, settled_ns=t + 3_000 * MS)
    assert rec.first_frame(t + 3_015 * MS) == 15.0
    rec.arrive(CLIP, reached_by="swipe_next", is_revisit=False, settled_ns=t + 3_000 * MS)
    rec.first_frame(t + 2_900 * MS)  # a frame stamped before the settle it follows: 0 ms, not negative
    assert sink.of("first_frame")[-1] == (rec.impression_id, 0.0)
    v = rec.leave("key", t + 4_000 * MS)
    assert (v.liked, v.not_interested) == (False, False)  # likes belong to the view they were given in
    assert v.play_ms == 1000.0 and v.stalled_ms == 0.0


def test_events_carry_their_own_stamp_and_the_open_impression():
    sink = MemorySink()
    rec = fixed(sink)
    t = MONO0 + 10 * MS
    rec.set_paused(True, t)  # no open view: the event is logged, nothing else happens
    rec.set_stalled(True, t)  # no open view: nothing to stall
    rec.loop_completed(t)
    e = sink.of("event")
    assert [(x.kind, x.mono_ns, x.utc, x.impression_id, x.data, x.session_id) for x in e] == [
        ("pause", t, utc_at(t), None, {}, rec.id), ("loop", t, utc_at(t), None, {"loops": 0}, rec.id)]
    rec.arrive(CLIP, reached_by="start", is_revisit=False, settled_ns=t)
    rec.set_paused(False, t + MS)  # already playing: no event
    rec.set_stalled(True, t + 2 * MS)  # already stalled (no frame yet): no event
    rec.like(t + 3 * MS)
    rec.not_interested(t + 4 * MS)
    rec.loop_completed(t + 5 * MS)
    rec.loop_completed(t + 6 * MS)
    rec.set_focused(True, t + 7 * MS)  # already focused: no event
    rec.set_focused(False, t + 8 * MS)
    assert rec.focused is False
    got = [(x.kind, x.mono_ns, x.impression_id, x.data) for x in sink.of("event")[2:]]
    imp = rec.impression_id
    assert got == [("like", t + 3 * MS, imp, {}), ("not_interested", t + 4 * MS, imp, {}),
                   ("loop", t + 5 * MS, imp, {"loops": 1}), ("loop", t + 6 * MS, imp, {"loops": 2}),
                   ("focus_lost", t + 8 * MS, imp, {})]
    assert len({x.id for x in sink.of("event")}) == len(sink.of("event"))
    assert rec.event("custom", t + 9 * MS, n=1).data == {"n": 1}
    rec.like()  # no stamp: the clock's
    assert sink.of("event")[-1].mono_ns == CLOCK_NOW
    v = rec.leave("key", t + 1_000 * MS)
    assert v.loops == 2 and v.unfocused_ms == pytest.approx(992.0)
    assert rec.event("after", t + 1_001 * MS).impression_id is None  # between views: no impression


def test_a_view_that_starts_unfocused_is_unfocused_until_focus_returns():
    sink = MemorySink()
    rec = fixed(sink)
    t = MONO0
    rec.set_focused(False, t)
    rec.arrive(CLIP, reached_by="start", is_revisit=False, settled_ns=t + 100 * MS)
    rec.first_frame(t + 100 * MS)
    rec.set_focused(True, t + 400 * MS)
    v = rec.leave("key", t + 1_100 * MS)
    assert (v.unfocused_ms, v.play_ms) == (300.0, 700.0)


def test_ending_closes_the_view_with_the_reason_and_records_the_catalog():
    sink = MemorySink()
    rec = fixed(sink)
    rec.arrive(CLIP, reached_by="start", is_revisit=False, settled_ns=MONO0)
    rec.profile_snapshot({"cats": 0.5}, MONO0 + 10 * MS)
    (snap,) = sink.of("profile")
    assert (snap.session_id, snap.after_position, snap.mono_ns, snap.utc, snap.profile) == (
        rec.id, 0, MONO0 + 10 * MS, utc_at(MONO0 + 10 * MS), {"cats": 0.5})
    end = rec.end("time_limit", MONO0 + 2_000 * MS, catalog_fingerprint="f2", catalog_size=40)
    assert (end.session_id, end.end_reason, end.ended_mono_ns, end.ended_utc) == (
        rec.id, "time_limit", MONO0 + 2_000 * MS, utc_at(MONO0 + 2_000 * MS))
    assert (end.catalog_fingerprint, end.catalog_size) == ("f2", 40) and sink.of("end") == [end]
    (v,) = [v for v in sink.of("view") if v.final]
    assert v.exit == "time_limit" and v.ended_mono_ns == MONO0 + 2_000 * MS
    assert rec.end("quit", MONO0 + 3_000 * MS) is end and len(sink.of("end")) == 1  # idempotent
    with pytest.raises(RuntimeError, match="^this session has ended$"):
        rec.arrive(CLIP, reached_by="swipe_next", is_revisit=False, settled_ns=MONO0 + 4_000 * MS)
    with pytest.raises(ValueError, match="expected one of " + ", ".join(END_REASONS)):
        rec.end("bored")
    quit_ = fixed(MemorySink())
    quit_.arrive(CLIP, reached_by="start", is_revisit=False, settled_ns=MONO0)
    assert quit_.end("quit", MONO0 + MS).catalog_fingerprint is None
    assert [v.exit for v in quit_.sink.of("view")] == ["quit"]


def test_a_one_millisecond_clip_has_a_watch_ratio_per_millisecond():
    sink = MemorySink()
    rec = fixed(sink)
    tiny = Clip(id="t", path="/t.mp4", title="T", topics=(), creator="x", duration_ms=1, fps=30.0, width=1, height=1)
    rec.arrive(tiny, reached_by="start", is_revisit=False, settled_ns=MONO0)
    rec.first_frame(MONO0)
    assert rec.leave("key", MONO0 + 3 * MS).watch_ratio == 3.0


def test_view_clock_integrates_its_timeline_exactly():
    c = ViewClock(0)  # focused, stalled until a frame
    assert (c.focused, c.paused, c.stalled) == (True, False, True)
    c.set(1 * MS, stalled=False)
    c.set(3 * MS, paused=True)
    c.set(7 * MS, paused=False)
    c.set(10 * MS, focused=False)
    assert (c.paused, c.focused, c.stalled) == (False, False, False)
    assert c.figures(12 * MS) == {"dwell_ms": 12.0, "play_ms": 5.0, "paused_ms": 4.0, "unfocused_ms": 2.0,
                                  "stalled_ms": 1.0}
    # a checkpoint earlier than changes already recorded counts only what happened before it
    assert c.figures(5 * MS) == {"dwell_ms": 5.0, "play_ms": 2.0, "paused_ms": 2.0, "unfocused_ms": 0.0,
                                 "stalled_ms": 1.0}
    assert c.figures(-5) == {"dwell_ms": 0.0, "play_ms": 0.0, "paused_ms": 0.0, "unfocused_ms": 0.0, "stalled_ms": 0.0}
    with pytest.raises(ValueError, match="unknown view state 'speed'"):
        c.set(0, speed=True)
