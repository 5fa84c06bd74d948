"""The session flow from the study file (issue 14): start-dialog fields, consent, questionnaire, debrief,
dialogs that pause the clip, the experimenter's progress line. Real widgets, real SQLite, real clips."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt

from feedapp.core.model import Clip
from feedapp.lab.study import Study, parse_study
from feedapp.store.check import check
from feedapp.store.log import EventLog
from tests.ui.test_lab_ui import CTRL_SHIFT, PIN, events, rows, study_text, wait_arrivals

FLOW = """
consent = "You will watch short clips. Your views are recorded under a code, never your name."
debrief = "The feed you saw was chosen by a ranker. Thank you for taking part."
questionnaire_intro = "About the clips you just watched."

[[fields]]
name = "age"
label = "Age"
type = "number"
whole = true
min = 18
max = 99

[[fields]]
name = "handedness"
label = "Handedness"
type = "choice"
choices = ["left", "right"]

[[fields]]
name = "experimenter"
label = "Experimenter"
type = "text"
required = false

[[questionnaire]]
id = "enjoyed"
type = "likert"
text = "I enjoyed the clips."
points = 5
labels = ["not at all", "very much"]

[[questionnaire]]
id = "device"
type = "choice"
text = "Where do you usually watch short videos?"
choices = ["phone", "computer", "tablet"]

[[questionnaire]]
id = "comments"
type = "text"
text = "Anything else?"
required = false
"""


def flow_study(ui_clips: list[Clip], tmp_path: Path, **kw) -> Study:
    folder = Path(ui_clips[0].path).parent
    text = study_text(folder, **kw).replace('instructions = "Swipe up for the next clip."',
                                            'instructions = "Swipe up for the next clip."\n' + FLOW.split("[[fields]]")[0])
    text += "\n[[fields]]" + "[[fields]]".join(FLOW.split("[[fields]]")[1:])
    path = tmp_path / "study.toml"
    path.write_text(text)
    return parse_study(text, path)


def make_lab(study: Study, ui_clips: list[Clip], log: EventLog, participant: str = "P02", **kw):
    from feedapp.ui.app import start_qt
    from feedapp.ui.lab_window import LabSession

    start_qt()
    return LabSession(study, study.assign(participant), ui_clips, log, folder=Path(ui_clips[0].path).parent,
                      muted=True, **kw)


def test_start_dialog_fields_are_checked_as_typed(qtbot, ui_clips, tmp_path):
    from feedapp.ui.app import start_qt
    from feedapp.ui.lab_dialogs import StartDialog

    start_qt()
    study = flow_study(ui_clips, tmp_path)
    assert [f.name for f in study.fields] == ["age", "handedness", "experimenter"]
    dialog = StartDialog(study, participant="P03")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    age, hand = dialog.field_widgets["age"], dialog.field_widgets["handedness"]
    assert not dialog.start_button.isEnabled()  # age and handedness are required
    qtbot.keyClicks(age, "17")
    assert dialog.field_errors["age"].text() == "Age: must be at least 18, not 17"
    age.clear()
    qtbot.keyClicks(age, "2x")
    assert "must be a number" in dialog.field_errors["age"].text()
    age.clear()
    qtbot.keyClicks(age, "34")
    assert dialog.field_errors["age"].text() == "" and not dialog.start_button.isEnabled()
    hand.setCurrentIndex(hand.findData("left"))
    assert dialog.start_button.isEnabled()
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.assignment is not None and dialog.fields == {"age": 34, "handedness": "left"}


def test_consent_refusal_records_nothing_but_the_refusal(qtbot, ui_clips, tmp_path):
    study = flow_study(ui_clips, tmp_path)
    db = tmp_path / "feed.db"
    log = EventLog(db)
    lab = make_lab(study, ui_clips, log, fields={"age": 40, "handedness": "right"})
    qtbot.addWidget(lab.window)
    lab.show()
    qtbot.waitExposed(lab.window)
    assert lab.window.stack.currentWidget() is lab.consent_page
    qtbot.mouseClick(lab.consent_page.refuse, Qt.MouseButton.LeftButton)
    assert lab.window.stack.currentWidget().objectName() == "refused_page" and lab.main_run is None
    with qtbot.waitSignal(lab.finished, timeout=3000):
        qtbot.mouseClick(lab.end_page.button, Qt.MouseButton.LeftButton)
    assert log.close()
    (sid, reason, fields, participant, study_name), = rows(
        db, "SELECT id, end_reason, fields, participant, study FROM sessions")
    assert (reason, json.loads(fields), participant, study_name) == ("consent_refused", {}, "P02", "lab-ui")
    assert list(events(db, sid)) == ["consent"] and events(db, sid)["consent"][0]["given"] is False
    for table in ("impressions", "views", "profile_snapshots", "questionnaire"):
        assert rows(db, f"SELECT COUNT(*) FROM {table}") == [(0,)], table


def test_operator_menu_open_when_the_limit_ends_the_feed_says_so(qtbot, ui_clips, tmp_path):
    # seen in a new-user trial: the time limit ended the feed behind the open menu, which went on saying
    # "The session is running ... 0:12 left" and offering Pause and Abort over the questionnaire
    study = flow_study(ui_clips, tmp_path, views=3)
    log = EventLog(tmp_path / "feed.db")
    lab = make_lab(study, ui_clips, log, fields={"age": 40, "handedness": "right"})
    qtbot.addWidget(lab.window)
    lab.show()
    qtbot.waitExposed(lab.window)
    qtbot.mouseClick(lab.consent_page.agree, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(lab.instructions_page.button, Qt.MouseButton.LeftButton)
    run = lab.main_run
    wait_arrivals(qtbot, run, 1)
    lab.request_operator()  # no PIN: the menu opens over the running feed
    assert lab.operator_dialog.state.text() == "The session is running."
    assert "abort" in lab.operator_dialog.action_buttons
    run.limit_reached("minutes")  # what the session's timer does when the minutes are up
    assert lab.phase == "questionnaire"
    menu = lab.operator_dialog
    assert menu.isVisible() and menu.state.text().startswith("The feed has ended and is recorded")
    assert set(menu.action_buttons) == {"exit", "back"}
    assert menu.info.text().endswith("1 of 3 views done, no time limit")  # the view the limit closed counts
    qtbot.mouseClick(menu.action_buttons["back"], Qt.MouseButton.LeftButton)
    assert lab.window.stack.currentWidget() is lab.questionnaire_page and not menu.isVisible()
    lab.close(force=True)
    assert log.close()


def test_consent_feed_questionnaire_and_debrief(qtbot, ui_clips, tmp_path):
    study = flow_study(ui_clips, tmp_path, views=3)
    db = tmp_path / "feed.db"
    log = EventLog(db)
    lab = make_lab(study, ui_clips, log, pin=PIN, fields={"age": 40, "handedness": "right"})
    qtbot.addWidget(lab.window)
    lab.show()
    qtbot.waitExposed(lab.window)
    # the experimenter's menu before the feed said "The session has ended." (seen in a new-user trial)
    assert lab.operator_state().startswith("The session has not started yet")
    lab._open_operator_menu()
    assert lab.operator_dialog.state.text().startswith("The session has not started yet")
    assert "exit" in lab.operator_dialog.action_buttons and "abort" not in lab.operator_dialog.action_buttons
    lab.operator_dialog.reject()
    qtbot.mouseClick(lab.consent_page.agree, Qt.MouseButton.LeftButton)
    assert lab.window.stack.currentWidget() is lab.instructions_page
    qtbot.mouseClick(lab.instructions_page.button, Qt.MouseButton.LeftButton)
    run = lab.main_run
    wait_arrivals(qtbot, run, 1)
    qtbot.wait(700)
    # the PIN dialog takes the focus: the clip pauses (no loops behind it) and the log says so
    qtbot.keyClick(run.view, Qt.Key.Key_O, CTRL_SHIFT)
    assert run.view.is_paused and lab.pin_dialog.isVisible()
    qtbot.keyClicks(lab.pin_dialog.pin_edit, PIN)
    qtbot.mouseClick(lab.pin_dialog.ok_button, Qt.MouseButton.LeftButton)
    menu = lab.operator_dialog
    assert menu.info.text() == "Participant P02, condition learn (foryou); 0 of 3 views done, no time limit"
    qtbot.mouseClick(menu.action_buttons["back"], Qt.MouseButton.LeftButton)
    assert not run.view.is_paused  # playing again
    for n in (2, 3):
        qtbot.keyClick(run.view, Qt.Key.Key_Down)
        wait_arrivals(qtbot, run, n)
        qtbot.wait(150)
    qtbot.keyClick(run.view, Qt.Key.Key_Down)  # the third view closes: limit reached
    qtbot.waitUntil(lambda: lab.phase == "questionnaire", timeout=5000)
    page = lab.questionnaire_page
    assert lab.operator_state().startswith("The feed has ended and is recorded; the participant is answering")
    assert not page.submit.isEnabled() and page.missing.text() == "2 questions still to answer"
    assert page.focusProxy() is page.rows["enjoyed"]  # the keyboard starts at the first item
    qtbot.keyClick(page.rows["enjoyed"], Qt.Key.Key_5)  # digits choose, arrows move
    qtbot.keyClick(page.rows["enjoyed"], Qt.Key.Key_Left)
    assert page.groups["enjoyed"].checkedId() == 4 and not page.submit.isEnabled()
    assert page.missing.text() == "1 question still to answer"  # not "1 question(s)"
    qtbot.keyClick(page.rows["device"], Qt.Key.Key_2)
    assert page.submit.isEnabled()
    qtbot.keyClicks(page.texts["comments"], "fun, but too many cats")
    qtbot.mouseClick(page.submit, Qt.MouseButton.LeftButton)
    assert lab.phase == "end" and study.debrief in lab.end_page.body.text()
    assert lab.operator_state() == "The session has ended."
    with qtbot.waitSignal(lab.finished, timeout=3000):
        qtbot.mouseClick(lab.end_page.button, Qt.MouseButton.LeftButton)
    assert log.close()
    (sid, reason, fields), = rows(db, "SELECT id, end_reason, fields FROM sessions")
    assert reason == "finished" and json.loads(fields) == {"age": 40, "handedness": "right"}
    answers = rows(db, "SELECT item, position, type, answer, value FROM questionnaire WHERE session_id = ? "
                       "ORDER BY position", sid)
    assert answers == [("enjoyed", 0, "likert", "4", 4.0), ("device", 1, "choice", "computer", None),
                       ("comments", 2, "text", "fun, but too many cats", None)]
    ev = events(db, sid)
    assert ev["consent"][0]["given"] is True
    assert ev["dialog_opened"] == [{"dialog": "pin"}] and ev["dialog_closed"] == [{"dialog": "pin"}]
    kinds = [k for (k,) in rows(db, "SELECT kind FROM events WHERE session_id = ? ORDER BY mono_ns", sid)]
    i = kinds.index("dialog_opened")
    assert kinds[i + 1] == "pause" and "resume" in kinds[i + 1:kinds.index("dialog_closed") + 2]
    conn = sqlite3.connect(db)
    assert check(conn)["ok"]
    mode, since = conn.execute("SELECT mode, since_start_ms FROM view_log WHERE session_id = ? AND position = 1",
                               [sid]).fetchone()
    conn.close()
    assert mode == "lab" and since > 500


def test_demo_clips_that_exist_are_not_made_again(tmp_path, capsys):
    """`lab run` with catalog = "demo": when every clip of the demo plan is in the folder, nothing is made
    (no "making the demo clips" progress); the folder is only scanned, as `lab validate` checked it."""
    import pytest

    from feedapp.cli import UserError
    from feedapp.lab.study import parse_study
    from feedapp.media.demo_plan import plan_demo
    from feedapp.store.db import open_db
    from feedapp.ui.lab import _demo_made, _lab_clips

    folder = tmp_path / "demo"
    study = parse_study(study_text(folder).replace(f'catalog = "{folder.as_posix()}"', 'catalog = "demo"\nclips = "demo"'),
                        tmp_path / "study.toml")
    assert study.clips_folder() == folder and not _demo_made(folder)
    for item in plan_demo(0):  # every file of the plan exists (here: empty, so none will play)
        (folder / item.file).parent.mkdir(parents=True, exist_ok=True)
        (folder / item.file).write_bytes(b"")
    assert _demo_made(folder)
    with pytest.raises(UserError, match="has no playable clip"):
        _lab_clips(study, open_db(memory=True), None)
    assert "making the demo clips" not in capsys.readouterr().err


def test_operator_progress_counts_views_and_time_left(qtbot, ui_clips, tmp_path):
    import re

    study = flow_study(ui_clips, tmp_path, views=3, minutes=2)
    log = EventLog(tmp_path / "feed.db")
    lab = make_lab(study, ui_clips, log, fields={"age": 40, "handedness": "right"})
    qtbot.addWidget(lab.window)
    lab.show()
    qtbot.waitExposed(lab.window)
    assert lab.progress_text() == "Participant P02, condition learn (foryou); now: consent"
    qtbot.mouseClick(lab.consent_page.agree, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(lab.instructions_page.button, Qt.MouseButton.LeftButton)
    run = lab.main_run
    wait_arrivals(qtbot, run, 1)
    qtbot.keyClick(run.view, Qt.Key.Key_Down)
    wait_arrivals(qtbot, run, 2)
    text = lab.progress_text()
    assert re.fullmatch(r"Participant P02, condition learn \(foryou\); 1 of 3 views done, (2:00|1:5\d) left", text), text
    lab.close(force=True)
    assert log.close()
