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
