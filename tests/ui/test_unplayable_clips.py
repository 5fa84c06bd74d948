"""Clips that stop playing while the app runs (deleted, replaced by a damaged file): the feed stops
serving them, the player never calls a catalog with playable clips unplayable, and a failure is
never pinned on the clip loaded after it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from feedapp.core.catalog import Catalog
from feedapp.core.feed import Feed
from feedapp.core.model import Clip
from feedapp.store.log import EventLog
from feedapp.ui.app import attach_session, make_engine, new_recorder
from feedapp.ui.events import PlaybackEvent
from feedapp.ui.window import PlayerWindow
from tests.ui.helpers import assert_foryou_replays_exactly, end_and_read_back, started_window


def _broken(tmp_path, ui_clips: list[Clip]) -> list[Clip]:
    """Two clips whose files went bad after the scan: one deleted, one overwritten with text."""
    gone = replace(ui_clips[4], id="gone", path=str(tmp_path / "gone.mp4"), title="Gone clip")
    text = tmp_path / "text.mp4"
    text.write_text("not a video any more")
    return [gone, replace(ui_clips[5], id="text", path=str(text), title="Text clip")]


class BrokenFirst:
    """An order that serves a broken clip whenever it may (the first clip excepted)."""

    name = "broken-first"

    def pick(self, candidates: Sequence[Clip], history: Sequence[Clip]) -> Clip:
        broken = [c for c in candidates if c.id in ("gone", "text") or c.path.endswith("c1.mp4")]
        return broken[0] if broken and history else next((c for c in candidates if c not in broken), candidates[0])


def test_failures_of_some_clips_never_say_that_no_clip_can_be_played(qtbot, tmp_path, ui_clips):
    # It counted failures in a row: served three times in a row, two broken clips of a catalog of three
    # made the player say "None of these clips could be played" and stop, while the first one played.
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
    good = ui_clips[0]
    w, _ = started_window(qtbot, Feed(Catalog([good, *_broken(tmp_path, ui_clips)]), BrokenFirst()))
    view = w.view
    failures: list[PlaybackEvent] = []
    view.clip_failed.connect(failures.append)
    QTest.keyClick(view, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: len(failures) >= 4 or view.message is not None, timeout=15000)
    assert view.message is None, view.message
    assert {f.clip.id for f in failures} == {"gone", "text"}
    view.shutdown()


def test_when_every_clip_file_is_gone_the_screen_and_the_terminal_say_so(qtbot, tmp_path, ui_clips, capfd):
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
    clips = [replace(c, path=str(tmp_path / f"moved{i}.mp4")) for i, c in enumerate(ui_clips[:2])]
    w = PlayerWindow(Feed(Catalog(clips), BrokenFirst()), muted=True)
    qtbot.addWidget(w)
    w.show()
    w.view.start()
    qtbot.waitUntil(lambda: w.view.message is not None, timeout=10000)
    title, body = w.view.message
    assert title == "None of these clips could be played"
    assert f"The clip files are no longer there ({tmp_path})" in body and "drive" in body
    assert "feedapp: none of the 2 clip(s) could be played, so playback stopped" in capfd.readouterr().err


def test_a_lab_participant_is_asked_to_call_the_experimenter_when_no_clip_plays(qtbot, tmp_path, ui_clips, capfd):
    # the participant (kiosk mode) was told to 'Put them back and start feedapp again'
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
    clips = [replace(c, path=str(tmp_path / f"moved{i}.mp4")) for i, c in enumerate(ui_clips[:2])]
    w = PlayerWindow(Feed(Catalog(clips), BrokenFirst()), muted=True)
    w.view.none_playable_screen = ("Please call the experimenter", "The videos cannot be played right now.")  # as lab_window
    qtbot.addWidget(w)
    w.show()
    w.view.start()
    qtbot.waitUntil(lambda: w.view.message is not None, timeout=10000)
    assert w.view.message == ("Please call the experimenter", "The videos cannot be played right now.")
    assert f"The clip files are no longer there ({tmp_path})" in capfd.readouterr().err  # for the experimenter


def test_the_session_stops_serving_a_clip_that_could_not_be_played(qtbot, tmp_path, ui_clips, capfd):
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
    path = tmp_path / "feed.db"
    log = EventLog(path)
    broken = _broken(tmp_path, ui_clips)
    catalog = Catalog([*ui_clips[:4], *broken])
    engine = make_engine(catalog, "foryou", 4, {"temperature": 0.3, "repeat_gap": 2})
    log.clips_known(catalog.clips)
    window = PlayerWindow(engine, muted=True)
    qtbot.addWidget(window)
    window.resize(270, 480)
    view = window.view
    recorder = new_recorder(log, catalog, mode="demo", ranker=engine.ranker.name,
                            ranker_params=dict(engine.ranker.params), seed=4, skip_threshold_ms=1000)
    bridge = attach_session(window, engine, recorder, panels_visible=None, dev_tools=False)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(view.arrived, timeout=5000):
        view.start()
    for _ in range(14):
        with qtbot.waitSignal(view.arrived, timeout=8000):
            QTest.keyClick(view, Qt.Key.Key_Down)
        qtbot.wait(150)
    logged = end_and_read_back(bridge, view, log, path, recorder.id)
    marked = [(e["clip"], e["slots"]) for e in logged.live if e["change"] == "unplayable"]
    # each broken clip once, and never a good one (a failure pinned on the clip loaded into the same player
    # from inside the failure's own signals marked a playable clip: 'C2 ... (invalid media)')
    assert sorted(c for c, _ in marked) == ["gone", "text"], marked
    for clip_id, slots in marked:
        assert all(st.clip_id != clip_id for st in logged.steps if st.position >= slots), (clip_id, slots)
    err = capfd.readouterr().err
    skipped = [line for line in err.splitlines() if line.startswith("feedapp: skipping")]
    assert len(skipped) == 2 and all("Gone clip" in s or "Text clip" in s for s in skipped), skipped
    assert_foryou_replays_exactly(logged)


def test_a_clip_file_replaced_after_the_scan_is_not_played_as_that_clip(qtbot, tmp_path, ui_clips):
    # a 2 s clip overwritten by a 12 s one while the app ran was played and logged under the 2 s clip: 3.7 s of
    # play with 0 loops, watch ratio 1.84 (more than the whole clip, never completed) and the ranker learned it
    import shutil

    from feedapp.media.scan import load_folder, remember_scanned

    folder = tmp_path / "clips" / "cats"
    folder.mkdir(parents=True)
    for i in range(2):
        shutil.copy(ui_clips[i].path, folder / f"c{i}.mp4")
    scan = load_folder(tmp_path / "clips")
    assert sorted(scan.stamps) == sorted(c.path for c in scan.accepted) and len(scan.accepted) == 2
    remember_scanned(scan.stamps)  # what the composition root does after its scan (ui.app._scan_folder)
    kept, replaced = sorted(scan.accepted, key=lambda c: c.path)
    shutil.copy(ui_clips[3].path, tmp_path / "other.mp4")
    (tmp_path / "other.mp4").replace(replaced.path)  # another video under the scanned clip's name
    w, first = started_window(qtbot, Feed(Catalog([kept, replaced]), BrokenFirst()))
    view = w.view
    assert first.clip == kept and first.first_frame_ns is not None  # unchanged: plays
    with qtbot.waitSignal(view.clip_failed, timeout=8000) as failed:
        QTest.keyClick(view, Qt.Key.Key_Down)
    assert failed.args[0].clip == replaced
    assert "replaced or changed after it was scanned" in failed.args[0].value and "start feedapp again" in failed.args[0].value
    view.shutdown()
