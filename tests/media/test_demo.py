"""The demo catalog: the plan's properties (no encoding), and real clips made, reused, remade and scanned."""

from __future__ import annotations

import json
import os
import statistics
import threading
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from feedapp.media.demo import SIDECAR, make_demo
from feedapp.media.demo_draw import BAND_H, Scene
from feedapp.media.demo_plan import CREATORS, TOPICS, plan_demo
from feedapp.media.probe import videos_opened
from feedapp.media.scan import load_folder


def _first_frame(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


# -- the plan -------------------------------------------------------------------------------------
def test_full_plan_covers_topics_and_creators_with_varied_durations() -> None:
    plan = plan_demo(0)
    assert len(plan) == 288 == len(TOPICS) * 24  # 4.5x the first demo's 64: 200 views without running dry
    assert len({p.id for p in plan}) == 288 and len({p.file for p in plan}) == 288
    assert set(Counter(p.topic for p in plan).values()) == {24} and len(TOPICS) == 12
    assert len({p.title for p in plan}) == 288  # every clip has its own title
    for topic in TOPICS:
        assert Counter(p.creator for p in plan if p.topic == topic) == {c: 3 for c in CREATORS}  # 8 creators x 3
    seconds = [p.duration_ms / 1000 for p in plan]
    assert min(seconds) >= 4.0 and max(seconds) <= 30.0
    assert max(seconds) > 25 and 10.0 <= statistics.mean(seconds) <= 14.0
    assert statistics.stdev(seconds) > 5  # really spread, not all alike
    assert sum(s < 8 for s in seconds) >= 72 and sum(s > 18 for s in seconds) >= 36
    assert all((p.width, p.height, p.fps) == (540, 960, 30) for p in plan)
    assert all(len(p.created) == 10 and p.created.startswith("2025-") for p in plan)


def test_plan_starts_with_short_clips_of_different_topics() -> None:
    plan = plan_demo(0)
    first = plan[:12]
    assert {p.topic for p in first} == set(TOPICS)
    assert all(p.duration_ms <= 5000 for p in first)
    assert first[0].duration_ms == min(p.duration_ms for p in plan)
    assert [p.duration_ms for p in first] == sorted(p.duration_ms for p in first)  # shortest first


def test_whatever_is_made_so_far_is_balanced_across_topics_and_creators() -> None:
    """Clips are made in rounds of one clip per topic: any prefix of the making order is a little catalog
    with every topic about equally present, so the feed stays varied while the rest are made."""
    plan = plan_demo(5)
    for n in range(12, len(plan) + 1):
        counts = Counter(p.topic for p in plan[:n])
        assert len(counts) == 12 and max(counts.values()) - min(counts.values()) <= 1, n
    assert {p.creator for p in plan[:12]} == set(CREATORS)  # every creator among the first clips made
    assert set(Counter(p.creator for p in plan[12:108]).values()) == {12}  # and none dominates while they come


def test_the_simulations_demo_like_catalog_knows_the_demo_plans_shape() -> None:
    from feedapp.core.demo_catalog import DEMO_PLAN_CREATORS, DEMO_PLAN_SIZE, DEMO_PLAN_TOPICS, demo_like_catalog

    assert (DEMO_PLAN_TOPICS, DEMO_PLAN_CREATORS, DEMO_PLAN_SIZE) == (TOPICS, CREATORS, len(plan_demo(0)))
    cat = demo_like_catalog(1, DEMO_PLAN_SIZE, DEMO_PLAN_TOPICS, DEMO_PLAN_CREATORS)
    plan = plan_demo(1)
    shape = lambda pairs: sorted(Counter(pairs).values())  # noqa: E731
    assert shape((c.topics[0], c.creator) for c in cat.clips) == shape((p.topic, p.creator) for p in plan)
    assert len(cat.clips) == len(plan)


def test_plan_is_deterministic_for_a_seed_and_differs_between_seeds() -> None:
    assert plan_demo(3) == plan_demo(3)
    assert [p.title for p in plan_demo(3)] != [p.title for p in plan_demo(4)]


def test_every_topic_looks_different_and_carries_its_caption() -> None:
    plan = plan_demo(0)
    means = {}
    for topic in TOPICS:
        item = next(p for p in plan if p.topic == topic)
        scene = Scene(item)
        a, b = scene.frame(0), scene.frame(15)
        assert a.shape == (960, 540, 3)
        assert np.abs(a[BAND_H:].astype(int) - b[BAND_H:].astype(int)).mean() > 0.5  # it moves
        band = a[10 : BAND_H - 10]  # the caption band sits at the top; the player captions the bottom
        assert band.mean() < 80  # a dark band ...
        assert (band > 200).any(axis=2).mean() > 0.01  # ... with light text on it
        means[topic] = a[BAND_H:].reshape(-1, 3).mean(axis=0)
    for x in TOPICS:
        for y in TOPICS:
            if x < y:
                assert np.abs(means[x] - means[y]).max() > 12, (x, y)  # palettes tell topics apart


# -- making clips ---------------------------------------------------------------------------------
def test_make_demo_is_deterministic_and_hands_clips_over_one_by_one(tmp_path: Path) -> None:
    clips, progress = [], []
    first = make_demo(tmp_path / "one", seed=0, workers=0, limit=3, on_clip=clips.append,
                      on_progress=lambda d, t: progress.append((d, t)))
    assert len(first.accepted) == 3 and not first.rejected
    assert [c.id for c in clips] == [c.id for c in first.accepted]
    assert progress[-1] == (3, 3)
    second = make_demo(tmp_path / "two", seed=0, workers=0, limit=3)
    assert (tmp_path / "one" / SIDECAR).read_text() == (tmp_path / "two" / SIDECAR).read_text()
    for a, b in zip(first.accepted, second.accepted):
        assert np.array_equal(_first_frame(Path(a.path)), _first_frame(Path(b.path)))
    clip = first.accepted[0]
    assert (clip.width, clip.height, clip.fps) == (540, 960, 30.0) and clip.duration_ms == plan_demo(0)[0].duration_ms
    records = json.loads((tmp_path / "one" / SIDECAR).read_text())
    assert {"id", "file", "title", "topics", "creator", "duration_ms", "created"} <= set(records[0])


def test_second_launch_reuses_clips_without_opening_them_and_remakes_a_damaged_one(tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    made = make_demo(dest, seed=1, workers=0, limit=2)
    mtimes = {c.path: Path(c.path).stat().st_mtime_ns for c in made.accepted}
    before = videos_opened()
    again = make_demo(dest, seed=1, workers=0, limit=2)
    assert videos_opened() - before == 0
    assert again == made and {c.path: Path(c.path).stat().st_mtime_ns for c in again.accepted} == mtimes

    victim = Path(made.accepted[1].path)
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # damaged
    (dest / ".stale.part.mp4").write_bytes(b"half")  # what a killed run leaves behind
    third = make_demo(dest, seed=1, workers=0, limit=2)
    assert third.accepted[1].duration_ms == made.accepted[1].duration_ms
    assert victim.stat().st_size > 0 and Path(made.accepted[0].path).stat().st_mtime_ns == mtimes[made.accepted[0].path]
    assert not list(dest.glob(".*.part.mp4"))

    gone = Path(made.accepted[0].path)
    gone.unlink()  # missing
    fourth = make_demo(dest, seed=1, workers=0, limit=2)
    assert gone.is_file() and [c.id for c in fourth.accepted] == [c.id for c in made.accepted]


def test_a_different_seed_remakes_the_clips(tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    a = make_demo(dest, seed=0, workers=0, limit=1)
    b = make_demo(dest, seed=5, workers=0, limit=1)
    assert a.accepted[0].id != b.accepted[0].id
    assert json.loads((dest / SIDECAR).read_text())[0]["seed"] == 5


def test_worker_processes_make_clips_and_the_folder_scans_with_the_sidecar(tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    ready: list[str] = []
    result = make_demo(dest, seed=0, workers=2, limit=3, on_clip=lambda c: ready.append(threading.current_thread().name))
    assert len(result.accepted) == 3 and not result.rejected
    assert set(ready) == {threading.current_thread().name}  # on_clip runs in the caller's thread
    before = videos_opened()
    scanned = load_folder(dest)
    assert {(c.id, c.title, c.creator, c.topics) for c in scanned.accepted} == {
        (c.id, c.title, c.creator, c.topics) for c in result.accepted
    }
    assert not scanned.rejected
    # ... with the probe results the maker kept beside the clips, as the demo's own launches do: every `lab
    # validate` of a demo study opened all 288 clips again (30 s on 2 cores), as did the first `lab run` on
    # each new database and `scan`. Same figures as the maker's probes; a clip touched since is probed again.
    assert videos_opened() - before == 0
    assert sorted((c.id, c.duration_ms, c.fps, c.width, c.height, c.rotation, c.features, c.poster)
                  for c in scanned.accepted) == sorted(
        (c.id, c.duration_ms, c.fps, c.width, c.height, c.rotation, c.features, c.poster) for c in result.accepted)
    victim = Path(result.accepted[1].path)
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    before = videos_opened()
    assert len(load_folder(dest).accepted) == 3 and videos_opened() - before == 1


def test_stop_ends_the_run_early(tmp_path: Path) -> None:
    stop = threading.Event()
    result = make_demo(tmp_path / "demo", seed=0, workers=0, limit=4, on_clip=lambda c: stop.set(), stop=stop)
    assert len(result.accepted) == 1
    assert not list((tmp_path / "demo").glob(".*.part.mp4"))


def test_unwritable_destination_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match="cannot create the demo folder"):
        make_demo(blocker / "demo", limit=1, workers=0)


def test_stop_ends_a_run_with_worker_processes(tmp_path: Path) -> None:
    import multiprocessing

    # children of earlier tests (a plugin ranker's worker waiting for garbage collection) are not the demo's
    before = {p.pid for p in multiprocessing.active_children()}
    stop = threading.Event()
    result = make_demo(tmp_path / "demo", seed=0, workers=2, limit=6, on_clip=lambda c: stop.set(), stop=stop)
    assert 1 <= len(result.accepted) < 6
    assert not list((tmp_path / "demo").glob(".*.part.mp4"))
    left = [p for p in multiprocessing.active_children() if p.pid not in before]
    assert left == []  # the demo's workers were ended, not left running


def test_the_encoding_workers_yield_the_cpu_to_the_player_after_the_first_clip(tmp_path):
    """The clips after the first (``_make_one_packed``) are made at nice +10, once per worker: the
    clips made while the viewer already watches take only what the window and its video decoding
    leave of the cores. The first clip, which the viewer waits for, keeps normal priority."""
    import multiprocessing as mp
    import os

    from feedapp.media import demo

    item = demo.plan_demo(0)[0]  # the shortest clip
    here = os.nice(0)
    with mp.get_context("spawn").Pool(1) as pool:
        first = pool.apply(os.nice, (0,))
        pool.apply(demo._make_one_packed, ((item, str(tmp_path)),))  # a clip after the first
        later = pool.apply(os.nice, (0,))
        pool.apply(demo._make_one_packed, ((item, str(tmp_path)),))  # once per worker, not once per clip
        again = pool.apply(os.nice, (0,))
    assert first == here and later == again == min(here + 10, 19)
    assert any(tmp_path.rglob("*.mp4"))

