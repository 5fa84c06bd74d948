"""Lab sessions on screen: start dialog, duplicate participant, kiosk lock, limits, warm-up, practice, crash continuation.

Real clips (tests/clipgen.py via the ui_clips fixture), the real engine, real SQLite through EventLog,
real widgets driven with real key presses and clicks (pytest-qt), no mocks.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from feedapp.core.catalog import Catalog
from feedapp.core.engine import WARMUP_POLICY, FeedEngine
from feedapp.core.model import Clip, View
from feedapp.core.session import SessionRecorder
from feedapp.lab.data import session_ids, session_studies
from feedapp.lab.study import STUDY_EVENT, Study, parse_study
from feedapp.store.check import check
from feedapp.store.log import EventLog
from feedapp.store.recover import recover_interrupted

os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")

PIN = "4321"
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def study_text(folder: Path, *, views: int | None = 3, minutes: float | None = None, practice: int = 0,
               pattern: str = "P[0-9]{2}") -> str:
    limits = "\n".join(x for x in (f"views = {views}" if views else "", f"minutes = {minutes}" if minutes else "") if x)
    return f"""
[study]
name = "lab-ui"
catalog = "{folder.as_posix()}"
participant_pattern = "{pattern}"
skip_threshold_ms = 500
instructions = "Swipe up for the next clip."

[limits]
{limits}

[practice]
clips = {practice}

[conditions.learn]
ranker = "foryou"
warmup = ["c3", "c1"]

[conditions.shuffle]
ranker = "random"
warmup = ["c3", "c1"]
"""


def make_study(ui_clips: list[Clip], tmp_path: Path, **kw) -> Study:
    folder = Path(ui_clips[0].path).parent
    path = tmp_path / "study.toml"
    path.write_text(study_text(folder, **kw))
    return parse_study(path.read_text(), path)


def lab_session(study: Study, ui_clips: list[Clip], log: EventLog, participant: str = "P02", **kw):
    from feedapp.ui.app import start_qt
    from feedapp.ui.lab_window import LabSession

    start_qt()
    a = study.assign(participant, kw.pop("override", None))
    return LabSession(study, a, ui_clips, log, folder=Path(ui_clips[0].path).parent, muted=True, **kw)


def rows(db: Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def events(db: Path, session_id: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for kind, data in rows(db, "SELECT kind, data FROM events WHERE session_id = ? ORDER BY mono_ns", session_id):
        out.setdefault(kind, []).append(json.loads(data or "{}"))
    return out


def start_feed(qtbot, lab) -> None:
    """Show the lab window and press the participant's Start button (instructions page)."""
    qtbot.addWidget(lab.window)
    lab.show()
    qtbot.waitExposed(lab.window)
    qtbot.mouseClick(lab.instructions_page.button, Qt.MouseButton.LeftButton)


def wait_arrivals(qtbot, run, n: int) -> None:
    qtbot.waitUntil(lambda: run.recorder.position >= n - 1 and not run.view.is_animating(), timeout=8000)


# == engine ==========================================================================================
def test_engine_serves_warmup_first_with_propensity_one_and_learns_from_it(ui_clips):
    warm = [ui_clips[4], ui_clips[2]]
    engine = FeedEngine(Catalog(ui_clips), "foryou", seed=3, warmup=warm)
    served = []
    for _ in range(5):
        clip = engine.next()
        pick = engine.pick_at(engine.position)
        served.append((clip.id, pick.ranker, pick.propensity, pick.explore))
        engine.finish(View(clip.id, dwell_ms=2500, play_ms=2500, loops=1))
    assert served[:2] == [("c4", WARMUP_POLICY, 1.0, False), ("c2", WARMUP_POLICY, 1.0, False)]
    assert all(s[1] == "foryou" for s in served[2:])
    assert len(engine.views) == 5 and engine.profile()["views"] == 5  # warm-up views are learned from
    with pytest.raises(ValueError, match="not in the catalog"):
        FeedEngine(Catalog(ui_clips[:2]), "random", warmup=[ui_clips[5]])


# == start dialog ====================================================================================
def test_start_dialog_shows_assignment_and_records_an_override(qtbot, ui_clips, tmp_path):
    from feedapp.ui.app import start_qt
    from feedapp.ui.lab_dialogs import StartDialog

    start_qt()
    study = make_study(ui_clips, tmp_path)
    dialog = StartDialog(study)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not dialog.start_button.isEnabled()  # no participant yet
    qtbot.keyClicks(dialog.participant_edit, "X1")
    assert "does not match" in dialog.participant_error.text() and not dialog.start_button.isEnabled()
    dialog.participant_edit.clear()
    qtbot.keyClicks(dialog.participant_edit, "P03")
    assert dialog.participant_error.text() == ""
    assert dialog.chosen_condition == "shuffle"  # latin square: 3 mod 2 = 1 -> the second condition
    assert "as assigned" in dialog.condition_note.text()
    assert str(study.assign("P03").seed) in dialog.seed_note.text()  # derived from study and participant
    dialog.condition_combo.setFocus()
    qtbot.keyClick(dialog.condition_combo, Qt.Key.Key_Up)  # the experimenter picks the other condition
    assert dialog.chosen_condition == "learn" and dialog.override == "learn"
    assert "override" in dialog.condition_note.text()
    with qtbot.waitSignal(dialog.accepted, timeout=3000):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    a = dialog.assignment
    assert a is not None and a.participant == "P03" and a.condition.name == "learn" and a.overridden
    assert a.seed == study.assign("P03").seed and not dialog.seed_given

    # the override reaches the database, in the study event of the session that runs
    db = tmp_path / "feed.db"
    log = EventLog(db)
    from feedapp.ui.lab_window import LabSession

    lab = LabSession(study, a, ui_clips, log, folder=Path(ui_clips[0].path).parent, muted=True)
    start_feed(qtbot, lab)
    wait_arrivals(qtbot, lab.main_run, 1)
    lab.close()
    assert log.close()
    (sid, cond, participant, mode), = rows(db, "SELECT id, condition, participant, mode FROM sessions")
    assert (cond, participant, mode) == ("learn", "P03", "lab")
    study_ev = events(db, sid)[STUDY_EVENT][0]
    assert study_ev["overridden"] is True and study_ev["study"] == "lab-ui" and study_ev["study_sha256"] == study.sha256


def test_the_start_dialog_of_a_continued_session_keeps_participant_condition_and_fields(qtbot, ui_clips, tmp_path):
    """Continuing a crashed session: the id and the condition are the crashed session's and cannot be
    changed (a continuation in another condition would mix two rankers' views); its fields are filled in."""
    from feedapp.ui.app import start_qt
    from feedapp.ui.lab_dialogs import StartDialog

    start_qt()
    path = tmp_path / "study.toml"
    path.write_text(study_text(Path(ui_clips[0].path).parent) + '\n[[fields]]\nname = "age"\ntype = "number"\nwhole = true\n')
    study = parse_study(path.read_text(), path)
    assigned = study.assign("P03").condition.name
    dialog = StartDialog(study, participant="P03", condition=assigned, fields={"age": "34"}, continuing=True)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.participant_edit.isReadOnly() and not dialog.condition_combo.isEnabled()
    assert dialog.chosen_condition == assigned and dialog.override is None
    assert dialog.field_widgets["age"].text() == "34" and dialog.start_button.isEnabled()
    # a continuation has no practice block and its limits count what the crashed session used (the line
    # said "practice clips: N" and the bare limits, as for a new session; seen in a new-user trial)
    assert dialog.session_info.text().endswith("counting what the crashed session used  \u2022  no practice block")
    fresh = StartDialog(study, participant="P03")
    qtbot.addWidget(fresh)
    assert f"practice clips: {study.practice.clips}" in fresh.session_info.text()
    dialog.try_start()
    assert dialog.assignment.participant == "P03" and dialog.fields == {"age": 34}


def test_start_dialog_seed_given_by_hand(qtbot, ui_clips, tmp_path):
    from feedapp.ui.app import start_qt
    from feedapp.ui.lab_dialogs import StartDialog

    start_qt()
    study = make_study(ui_clips, tmp_path)
    dialog = StartDialog(study, participant="P04")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.seed_edit, "x")
    assert not dialog.start_button.isEnabled() and "whole number" in dialog.seed_note.text()
    for typed in ("-1", "9223372036854775808"):  # issue 15 item 2: what sessions.seed (64-bit) cannot hold
        dialog.seed_edit.clear()
        qtbot.keyClicks(dialog.seed_edit, typed)
        assert not dialog.start_button.isEnabled()
        assert "the seed must be between 0 and 9,223,372,036,854,775,807" in dialog.seed_note.text()
    dialog.seed_edit.clear()
    qtbot.keyClicks(dialog.seed_edit, "77")
    with qtbot.waitSignal(dialog.accepted, timeout=3000):
        qtbot.keyClick(dialog.participant_edit, Qt.Key.Key_Return)
    assert dialog.assignment.seed == 77 and dialog.seed_given and not dialog.assignment.overridden


def test_a_participant_with_a_session_needs_confirmation(qtbot, ui_clips, tmp_path):
    from feedapp.ui.app import start_qt
    from feedapp.ui.lab import previous_sessions
    from feedapp.ui.lab_dialogs import StartDialog

    start_qt()
    study = make_study(ui_clips, tmp_path)
    db = tmp_path / "feed.db"
    log = EventLog(db)
    a = study.assign("P05")
    rec = SessionRecorder(log, app_version="test", **a.session_kwargs(study.skip_threshold_ms))
    rec.event(STUDY_EVENT, **a.study_event(study.sha256))
    rec.end("finished")
    assert log.close()
    conn = sqlite3.connect(db)
    try:
        dialog = StartDialog(study, previous_sessions=lambda pid: previous_sessions(conn, study, pid))
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.keyClicks(dialog.participant_edit, "P05")
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        box = dialog.confirm_box
        assert box is not None and box.isVisible() and box.text() == "Participant P05 already has 1 session in this database."
        assert "2 conditions, latin square" in dialog.findChild(QLabel, "study_line").text()  # not "2 condition(s)"
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.No), Qt.MouseButton.LeftButton)
        assert dialog.isVisible() and dialog.assignment is None  # not started
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        with qtbot.waitSignal(dialog.accepted, timeout=3000):
            qtbot.mouseClick(dialog.confirm_box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
        assert dialog.assignment.participant == "P05"
        # a new participant starts without a question
        other = StartDialog(study, previous_sessions=lambda pid: previous_sessions(conn, study, pid), participant="P06")
        qtbot.addWidget(other)
        other.show()
        with qtbot.waitSignal(other.accepted, timeout=3000):
            qtbot.mouseClick(other.start_button, Qt.MouseButton.LeftButton)
        assert other.confirm_box is None
    finally:
        conn.close()


# == kiosk ===========================================================================================
def test_kiosk_cannot_be_left_without_the_hotkey_and_pin(qtbot, ui_clips, tmp_path):
    study = make_study(ui_clips, tmp_path, views=None, minutes=None)
    db = tmp_path / "feed.db"
    log = EventLog(db)
    lab = lab_session(study, ui_clips, log, kiosk=True, pin=PIN)
    start_feed(qtbot, lab)
    run = lab.main_run
    wait_arrivals(qtbot, run, 1)
    view, win = run.view, lab.window
    # were no clip to play any more, the kiosk participant is asked to call the experimenter (not told to start
    # feedapp again: tests/ui/test_unplayable_clips.py shows the screen)
    assert view.none_playable_screen is not None and view.none_playable_screen[0] == "Please call the experimenter"
    qtbot.waitUntil(win.isFullScreen, timeout=3000)  # the platform applies the state asynchronously
    blocked = []
    lab.guard.blocked.connect(blocked.append)
    for key in (Qt.Key.Key_Escape, Qt.Key.Key_Q, Qt.Key.Key_F):
        qtbot.keyClick(view, key)
    qtbot.keyClick(view, Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(view, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert not win.close()  # the close button / a window manager's close request
    qtbot.wait(100)
    assert win.isVisible() and win.isFullScreen() and run.running
    assert blocked[-1] == "close" and {"key Esc", "key Q", "key F", "key Alt+F4", "key Ctrl+W"} <= set(blocked)
    qtbot.keyClick(view, Qt.Key.Key_Down)  # the participant can still swipe
    wait_arrivals(qtbot, run, 2)

    qtbot.keyClick(view, Qt.Key.Key_O, CTRL_SHIFT)  # the experimenter's hotkey
    pin = lab.pin_dialog
    assert pin is not None and pin.isVisible()
    qtbot.keyClicks(pin.pin_edit, "0000")
    qtbot.mouseClick(pin.ok_button, Qt.MouseButton.LeftButton)
    assert pin.isVisible() and pin.error.text() == "Wrong PIN." and pin.pin_edit.text() == ""
    assert lab.operator_dialog is None and win.isVisible()
    qtbot.keyClicks(pin.pin_edit, PIN)
    qtbot.mouseClick(pin.ok_button, Qt.MouseButton.LeftButton)
    menu = lab.operator_dialog
    assert not pin.isVisible() and menu is not None and menu.isVisible()
    qtbot.mouseClick(menu.action_buttons["pause"], Qt.MouseButton.LeftButton)
    assert run.paused_by_operator and view.message is not None and not view.isEnabled()
    qtbot.keyClick(lab.window, Qt.Key.Key_O, CTRL_SHIFT)
    qtbot.keyClicks(lab.pin_dialog.pin_edit, PIN)
    qtbot.mouseClick(lab.pin_dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(lab.operator_dialog.action_buttons["resume"], Qt.MouseButton.LeftButton)
    assert not run.paused_by_operator and view.message is None and view.isEnabled()
    qtbot.keyClick(view, Qt.Key.Key_O, CTRL_SHIFT)
    qtbot.keyClicks(lab.pin_dialog.pin_edit, PIN)
    qtbot.mouseClick(lab.pin_dialog.ok_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(lab.finished, timeout=3000):
        qtbot.mouseClick(lab.operator_dialog.action_buttons["abort"], Qt.MouseButton.LeftButton)
    assert not win.isVisible()
    assert log.close()
    (sid, reason), = rows(db, "SELECT id, end_reason FROM sessions")
    ev = events(db, sid)
    assert reason == "quit"
    assert [k for k in ev if k.startswith("operator_")] == ["operator_pin_refused", "operator_pause", "operator_resume",
                                                             "operator_abort"]
    assert "pause" in ev and "resume" in ev  # the player's own pause/resume, so paused_ms holds the pause
    conn = sqlite3.connect(db)
    assert check(conn)["ok"]
    conn.close()


def test_kiosk_needs_a_pin(qtbot, ui_clips, tmp_path):
    from feedapp.cli import UserError

    study = make_study(ui_clips, tmp_path)
    log = EventLog(tmp_path / "feed.db")
    with pytest.raises(UserError, match="PIN"):
        lab_session(study, ui_clips, log, kiosk=True, pin="")
    assert log.close()


# == limits, warm-up =================================================================================
def test_view_limit_ends_the_session_as_finished_after_the_warmup(qtbot, ui_clips, tmp_path):
    study = make_study(ui_clips, tmp_path, views=3)
    db = tmp_path / "feed.db"
    log = EventLog(db)
    lab = lab_session(study, ui_clips, log, participant="P02")
    start_feed(qtbot, lab)
    run = lab.main_run
    for n in (1, 2, 3):
        wait_arrivals(qtbot, run, n)
        qtbot.wait(150)
        qtbot.keyClick(run.view, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: lab.end_page is not None and lab.end_page.isVisible(), timeout=5000)
    assert lab.window.stack.currentWidget() is lab.end_page
    assert lab.end_page.body.text().startswith("The session is over")
    qtbot.wait(400)  # the last swipe lands; nothing more is recorded
    with qtbot.waitSignal(lab.finished, timeout=3000):
        qtbot.mouseClick(lab.end_page.button, Qt.MouseButton.LeftButton)
    assert log.close()
    (sid, reason, cond), = rows(db, "SELECT id, end_reason, condition FROM sessions")
    assert reason == "finished" and cond == "learn"  # P02 -> condition 0
    imps = rows(db, "SELECT position, clip_id, policy, propensity, exploration FROM impressions "
                    "WHERE session_id = ? ORDER BY position", sid)
    assert [i[0] for i in imps] == [0, 1, 2]  # no impression after the limit
    assert imps[0][1:] == ("c3", WARMUP_POLICY, 1.0, 0) and imps[1][1:] == ("c1", WARMUP_POLICY, 1.0, 0)
    assert imps[2][2] == "foryou"
    assert rows(db, "SELECT COUNT(*) FROM views WHERE session_id = ? AND final = 1", sid)[0][0] == 3
    ev = events(db, sid)
    assert ev["limit_reached"] == [{"limit": "views", "value": 3, "views": 3, "elapsed_ms": ev["limit_reached"][0]["elapsed_ms"]}]
    assert ev["lab_session"][0]["warmup"] == ["c3", "c1"]
    conn = sqlite3.connect(db)
    assert check(conn)["ok"], check(conn)["violations"]
    assert session_studies(conn)[sid] == "lab-ui"
    conn.close()


def test_time_limit_ends_the_session_as_finished(qtbot, ui_clips, tmp_path):
    study = make_study(ui_clips, tmp_path, views=None, minutes=0.025)  # 1.5 s
    db = tmp_path / "feed.db"
    log = EventLog(db)
    lab = lab_session(study, ui_clips, log)
    start_feed(qtbot, lab)
    qtbot.waitUntil(lambda: lab.end_page is not None and lab.end_page.isVisible(), timeout=6000)
    lab.close()
    assert log.close()
    (sid, reason, start, end), = rows(db, "SELECT id, end_reason, started_mono_ns, ended_mono_ns FROM sessions")
    assert reason == "finished"
    assert 1400 <= (end - start) / 1e6 <= 3000
    (lim,) = events(db, sid)["limit_reached"]
    assert lim["limit"] == "minutes" and lim["value"] == 0.025
    (exit_,) = rows(db, "SELECT exit FROM views WHERE session_id = ? AND final = 1", sid)[0]
    assert exit_ == "finished"
    # and the codebook (codebook.csv in every export, docs/data.md) says so: it said `time_limit` meant "the
    # session's time limit was reached", which the app never writes, so a filter on it found no session
    from feedapp.store.codebook import CODEBOOK

    meaning = {c: m for c, _, _, m in CODEBOOK["sessions"]}["end_reason"]
    assert "is `finished`, and its `limit_reached` event says which limit" in meaning
    assert "`time_limit` is a valid value that feedapp itself never writes" in meaning


def test_the_longest_time_limit_a_study_may_give_starts_its_timer(qtbot, ui_clips, tmp_path):
    """Issue 15 item 11: 35,792 minutes overflowed QTimer.start at Start; the range stops at 1,440 (a day),
    and that largest value runs: the session starts, the timer counts it, nothing is lost."""
    from feedapp.ranges import LIMIT_MINUTES

    study = make_study(ui_clips, tmp_path, views=None, minutes=LIMIT_MINUTES.hi)
    db = tmp_path / "feed.db"
    log = EventLog(db)
    lab = lab_session(study, ui_clips, log)
    start_feed(qtbot, lab)
    wait_arrivals(qtbot, lab.main_run, 1)
    limit = lab.main_run.time_limit
    assert limit.timer.isActive() and limit.timer.interval() == 1440 * 60_000
    lab.close(force=True)
    assert log.close()
    assert rows(db, "SELECT end_reason FROM sessions") == [("quit",)]


# == practice ========================================================================================
def test_practice_block_is_a_separate_flagged_session(qtbot, ui_clips, tmp_path):
    study = make_study(ui_clips, tmp_path, views=1, practice=2)
    db = tmp_path / "feed.db"
    log = EventLog(db)
    lab = lab_session(study, ui_clips, log)
    start_feed(qtbot, lab)
    page = lab.window.stack.currentWidget()
    assert page.objectName() == "practice_page"
    assert page.body.text() == "2 clips to get used to swiping. They are not part of the study."  # no text given
    qtbot.mouseClick(page.button, Qt.MouseButton.LeftButton)
    prun = lab.practice_run
    for n in (1, 2):
        wait_arrivals(qtbot, prun, n)
        qtbot.wait(150)
        qtbot.keyClick(prun.view, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: lab.window.stack.currentWidget().objectName() == "practice_done_page", timeout=5000)
    qtbot.mouseClick(lab.window.stack.currentWidget().button, Qt.MouseButton.LeftButton)
    wait_arrivals(qtbot, lab.main_run, 1)
    qtbot.keyClick(lab.main_run.view, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: lab.end_page is not None and lab.end_page.isVisible(), timeout=5000)
    lab.close()
    assert log.close()
    sessions = {mode: (sid, reason) for sid, mode, reason in rows(db, "SELECT id, mode, end_reason FROM sessions")}
    psid, preason = sessions["practice"]
    msid, mreason = sessions["lab"]
    assert preason == "finished" and mreason == "finished"
    practice_clips = [c.id for c in study.practice_clips(ui_clips)]
    assert [r[0] for r in rows(db, "SELECT clip_id FROM impressions WHERE session_id = ? ORDER BY position", psid)] \
        == practice_clips
    pev, mev = events(db, psid), events(db, msid)
    assert STUDY_EVENT not in pev and pev["practice"][0]["clips"] == practice_clips
    assert mev["lab_session"][0]["practice_session"] == psid
    conn = sqlite3.connect(db)
    studies = session_studies(conn)
    # the practice block belongs to its study (a withdrawal with --study deletes it: issue 15 item 3) ...
    assert studies[msid] == studies[psid] == "lab-ui"
    assert rows(db, "SELECT study FROM sessions WHERE id = ?", psid) == [("lab-ui",)]
    # ... but reports and study exports never count it
    assert session_ids(conn, study="lab-ui") == [msid]
    assert set(session_ids(conn, study="lab-ui", practice=True)) == {psid, msid}
    assert check(conn)["ok"]
    conn.close()


# == a crash, then a new session continuing it =======================================================
def test_a_crashed_session_is_found_and_continued_in_a_linked_session(qtbot, ui_clips, tmp_path):
    import sqlite_utils

    from feedapp.ui.lab import interrupted_lab_session, load_continuation

    study = make_study(ui_clips, tmp_path, views=4)
    db = tmp_path / "feed.db"
    # a lab session in another process that dies mid-view (os._exit: no clean-up at all)
    crash = textwrap.dedent(f"""
        import os, time
        from pathlib import Path
        from feedapp.core.session import SessionRecorder
        from feedapp.lab.study import load_study
        from feedapp.store.log import EventLog
        from tests.ui.conftest import clip_for
        study = load_study({str(study.path)!r})
        clips = {{p.stem: clip_for(p, "cats") for p in Path({str(Path(ui_clips[0].path).parent)!r}).glob("*.mp4")}}
        a = study.assign("P02")
        log = EventLog({str(db)!r})
        rec = SessionRecorder(log, app_version="test", catalog_size=len(clips), fields={{"age": 34, "desk": "B"}},
                              **a.session_kwargs(study.skip_threshold_ms))
        log.clips_known(tuple(clips.values()))
        rec.event("study", **a.study_event(study.sha256))
        for k, cid in enumerate(("c3", "c1")):
            t = time.monotonic_ns()
            rec.arrive(clips[cid], reached_by="start" if k == 0 else "key", is_revisit=False, settled_ns=t,
                       policy="warmup", propensity=1.0)
            rec.first_frame(t + 10_000_000)
            time.sleep(0.3)
        rec.checkpoint()
        assert log.flush()
        print(rec.id, flush=True)
        os._exit(9)
    """)
    out = subprocess.run([sys.executable, "-c", crash], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 9, out.stderr
    crashed_id = out.stdout.strip()
    log = EventLog(db)
    sdb = sqlite_utils.Database(db)
    found = interrupted_lab_session(sdb, study)
    assert found is not None and found["id"] == crashed_id and found["participant"] == "P02"
    assert [s["id"] for s in recover_interrupted(sdb)] == [crashed_id]
    cont = load_continuation(sdb.conn, crashed_id)
    assert cont.views == 2 and cont.shown == ("c3", "c1") and len(cont.replay) == 2
    assert cont.fields == {"age": 34, "desk": "B"}  # the start dialog of the new session opens with them
    lab = lab_session(study, ui_clips, log, continuation=cont)
    assert lab.warmup == []  # both warm-up clips were shown before the crash
    start_feed(qtbot, lab)
    run = lab.main_run
    assert len(run.engine.views) == 2  # the ranker learned the crashed session's views first
    for n in (1, 2):
        wait_arrivals(qtbot, run, n)
        qtbot.wait(150)
        qtbot.keyClick(run.view, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: lab.end_page is not None and lab.end_page.isVisible(), timeout=5000)  # 4 - 2 views left
    lab.close()
    assert log.close()
    sdb.conn.close()
    new = [r for r in rows(db, "SELECT id, end_reason FROM sessions") if r[0] != crashed_id]
    (nsid, reason), = new
    assert reason == "finished"
    assert rows(db, "SELECT end_reason FROM sessions WHERE id = ?", crashed_id)[0][0] == "recovered_after_crash"
    ev = events(db, nsid)
    assert ev["continues_session"][0]["session_id"] == crashed_id and ev["continues_session"][0]["views"] == 2
    assert ev["lab_session"][0]["limits_left"]["views"] == 2
    # the crashed session's clips count as served: not shown again while unseen clips remain
    assert ev["session_catalog"][0]["served_before"] == ["c3", "c1"]
    served = [r[0] for r in rows(db, "SELECT clip_id FROM impressions WHERE session_id = ? ORDER BY position", nsid)]
    assert len(served) == 2 and not {"c3", "c1"} & set(served), served
    conn = sqlite3.connect(db)
    assert check(conn)["ok"]
    conn.close()


# == the command line ================================================================================
def test_lab_takes_a_study_file_where_a_subcommand_is_expected():
    from feedapp.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["lab", "examples/study.toml", "--participant", "P07", "--condition", "random", "--yes"])
    assert (args.lab_command, str(args.study), args.participant, args.condition, args.yes) == \
        ("run", "examples/study.toml", "P07", "random", True)
    assert parser.parse_args(["lab", "run", "s.toml", "--kiosk", "--pin", "12"]).pin == "12"
    assert parser.parse_args(["lab", "validate", "s.toml"]).lab_command == "validate"
    with pytest.raises(SystemExit):
        parser.parse_args(["lab", "valdate", "s.toml"])


def test_kiosk_hides_the_pointer_when_idle_and_shows_it_on_movement(qtbot, ui_clips, tmp_path):
    from PySide6.QtGui import QGuiApplication

    from tests.ui.helpers import hover

    study = make_study(ui_clips, tmp_path)
    log = EventLog(tmp_path / "feed.db")
    lab = lab_session(study, ui_clips, log, kiosk=True, pin=PIN)
    lab.guard._cursor_timer.setInterval(150)  # the real timer, shortened (CURSOR_IDLE_MS in use)
    start_feed(qtbot, lab)
    wait_arrivals(qtbot, lab.main_run, 1)
    qtbot.waitUntil(lambda: lab.guard.cursor_hidden, timeout=3000)
    assert QGuiApplication.overrideCursor() is not None
    assert QGuiApplication.overrideCursor().shape() == Qt.CursorShape.BlankCursor
    hover(lab.main_run.view, 200)
    assert not lab.guard.cursor_hidden and QGuiApplication.overrideCursor() is None
    qtbot.waitUntil(lambda: lab.guard.cursor_hidden, timeout=3000)  # hidden again after the next idle spell
    lab.close(force=True)
    assert not lab.guard.cursor_hidden and QGuiApplication.overrideCursor() is None
    assert log.close()


def test_the_debrief_card_keeps_the_sign_and_says_when_the_feed_did_not_learn(qtbot):
    from PySide6.QtWidgets import QLabel

    from feedapp.ui.lab_dialogs import TopicsCard

    profile = {"topics": {"cats": 0.6, "art": -0.3, "news": -0.05}}
    card = TopicsCard(profile)
    qtbot.addWidget(card)
    assert [(t, s) for t, _, s in card.bars] == [("cats", 100), ("news", -8), ("art", -50)]
    assert card.note is None
    texts = [w.text() for w in card.findChildren(QLabel)]
    assert "-0.30" in texts and "+0.60" in texts and "What the feed learned about you" in texts
    plain = TopicsCard(profile, learns=False, ranker="random")
    qtbot.addWidget(plain)
    assert plain.note is not None and "did not learn from your views" in plain.note.text() and "random" in plain.note.text()


def test_a_study_can_turn_the_debrief_card_off():
    text = textwrap.dedent("""
        [study]
        name = "s"
        catalog = "demo"
        debrief = "Thanks."
        debrief_card = false
        [conditions.A]
        ranker = "random"
    """)
    assert parse_study(text).debrief_card is False
    assert parse_study(text.replace("debrief_card = false\n", "")).debrief_card is True
    with pytest.raises(Exception, match="debrief_card"):
        parse_study(text.replace("debrief_card = false", 'debrief_card = "no"'))


def test_lab_run_checks_the_clips_with_the_databases_probe_cache(ui_clips, tmp_path, monkeypatch):
    """Seen in a new-user trial: every `feedapp lab STUDY.toml` checked the study by probing all its clips
    again before saying a word (about 10 s for the 288 demo clips each time; with a new database the
    scan after it probed them all a second time: 40-60 s of silence on a busy machine). The check now
    reads the database's probe cache without writing to it, and what it probed is stored once the
    database is open, so the scan probes nothing again. ``run_lab`` itself is driven up to the window
    (the Qt start is where it stops here), so the test fails if it stops passing or storing the cache."""
    import feedapp.media.scan as scan_mod
    import feedapp.ui.chatter as chatter
    from feedapp.ui.lab import held_probe_cache, run_lab

    class AtTheWindow(Exception):
        pass

    def stop() -> None:
        raise AtTheWindow

    study = make_study(ui_clips, tmp_path)
    study.path.write_text(study.path.read_text().replace('"c3", "c1"', '"c3.mp4", "c1.mp4"'))  # (file names)
    probed: list[str] = []
    real = scan_mod._probe_one
    monkeypatch.setattr(scan_mod, "_probe_one", lambda path, threads: (probed.append(path.name), real(path, threads))[1])
    monkeypatch.setattr(chatter, "filter_native_stderr", stop)  # run_lab's next step after the scan
    db_path = tmp_path / "study.db"
    assert held_probe_cache(db_path).added == [] and not db_path.exists()  # no database yet: nothing made
    n = len(ui_clips)
    for participant in ("P01", "P02"):  # a new database, then the next participant's start
        with pytest.raises(AtTheWindow):
            run_lab(study.path, db_path=db_path, participant=participant)
        assert len(probed) == n, probed  # the check probed each clip once, the scan none again
    again = held_probe_cache(db_path)
    assert len(again._load()) == n and again.added == []
