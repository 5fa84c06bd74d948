"""The questionnaire fits the lab window's portrait width: no sideways scrolling, Submit in view.

Seen with examples/study.toml in a (non-kiosk) lab window on a 1366x768 screen (418x691): its
7-point Likert item with "strongly disagree"/"strongly agree" beside the buttons was wider than the
window, so the page scrolled sideways, the texts were cut off and Submit was out of view."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedapp.lab.study import Question, load_study
from feedapp.ui.lab_dialogs import QuestionnairePage
from tests.ui.helpers import spin

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "study.toml"
ELEVEN = Question("recommend", "likert", "How likely are you to recommend it?", points=11,
                  labels=("not at all likely", "extremely likely"))


@pytest.mark.parametrize("width", [418, 360])
@pytest.mark.parametrize("extra", [(), (ELEVEN,)])
def test_the_example_questionnaire_fits_a_portrait_lab_window(qtbot, width, extra):
    study = load_study(EXAMPLE)
    page = QuestionnairePage([*study.questionnaire, *extra], study.questionnaire_intro)
    qtbot.addWidget(page)
    page.resize(width, 691)
    page.show()
    qtbot.waitExposed(page)
    spin(30)
    from PySide6.QtWidgets import QScrollArea

    scroll = page.findChild(QScrollArea)
    assert scroll.horizontalScrollBar().maximum() == 0  # nothing to scroll sideways to
    viewport = scroll.viewport()
    right = page.submit.mapTo(viewport, page.submit.rect().topRight()).x()
    assert 0 < right <= viewport.width()  # Submit is in view
    for item in page.rows.values():
        for b in item.group.buttons():
            assert b.mapTo(viewport, b.rect().topRight()).x() <= viewport.width()


def test_a_swipe_key_does_not_answer_the_first_item(qtbot):
    """Seen in a new-user trial: the participant swiping with Down as the view limit ended the feed
    pressed Down once more on the questionnaire, and its first Likert item read "1" (strongly
    disagree), an answer nobody gave. The arrow keys move an answer already chosen, never make one."""
    from PySide6.QtCore import Qt

    study = load_study(EXAMPLE)
    page = QuestionnairePage(study.questionnaire, study.questionnaire_intro)
    qtbot.addWidget(page)
    first = page.focusProxy()
    assert first is page.rows["enjoyed"]
    for key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_Right, Qt.Key.Key_Left, Qt.Key.Key_Down):
        qtbot.keyClick(first, key)
    assert page.groups["enjoyed"].checkedId() == -1 and page.answers()[0][1] is None
    qtbot.keyClick(page.rows["usual_app"], Qt.Key.Key_Down)
    assert page.groups["usual_app"].checkedId() == -1
    qtbot.keyClick(first, Qt.Key.Key_3)  # a digit chooses; then the arrows move it, within the scale
    qtbot.keyClick(first, Qt.Key.Key_Down)
    assert page.groups["enjoyed"].checkedId() == 4
    qtbot.keyClick(first, Qt.Key.Key_Left)
    qtbot.keyClick(first, Qt.Key.Key_Up)
    assert page.groups["enjoyed"].checkedId() == 2
    for _ in range(3):
        qtbot.keyClick(first, Qt.Key.Key_Up)
    assert page.groups["enjoyed"].checkedId() == 1
    for _ in range(9):
        qtbot.keyClick(first, Qt.Key.Key_Right)
    assert page.groups["enjoyed"].checkedId() == 7
    qtbot.keyClick(page.rows["usual_app"], Qt.Key.Key_2)
    qtbot.keyClick(page.rows["usual_app"], Qt.Key.Key_Down)
    assert page.answers()[1][1] == "YouTube Shorts"


def test_return_goes_on_to_the_next_item_and_submits_from_submit(qtbot):
    """Left alone in a stop's note: the questionnaire's Return key did nothing, so a participant
    using the keyboard had to find Tab and Space. Return on an item goes on to the next one; on the
    focused Submit button it submits; on a text item it stays a new line."""
    from PySide6.QtCore import Qt

    study = load_study(EXAMPLE)
    page = QuestionnairePage(study.questionnaire, study.questionnaire_intro)
    qtbot.addWidget(page)
    page.show()
    page.activateWindow()
    qtbot.waitActive(page)
    got: list = []
    page.submitted.connect(got.append)
    page.setFocus()
    first, second, text = page.rows["enjoyed"], page.rows["usual_app"], page.texts["comments"]
    qtbot.waitUntil(first.hasFocus)
    qtbot.keyClick(first, Qt.Key.Key_Return)  # nothing chosen yet: Return only goes on, answers nothing
    assert second.hasFocus() and page.groups["enjoyed"].checkedId() == -1
    qtbot.keyClick(second, Qt.Key.Key_2)
    qtbot.keyClick(second, Qt.Key.Key_Enter)
    assert text.hasFocus()
    qtbot.keyClicks(text, "fun")
    qtbot.keyClick(text, Qt.Key.Key_Return)
    assert text.toPlainText() == "fun\n" and not got
    qtbot.keyClick(text, Qt.Key.Key_Tab)
    assert not page.submit.isEnabled() and not page.submit.hasFocus()  # "enjoyed" is still unanswered
    first.setFocus()
    qtbot.keyClick(first, Qt.Key.Key_5)
    page.submit.setFocus()
    qtbot.keyClick(page.submit, Qt.Key.Key_Return)
    assert len(got) == 1
    assert [(q.id, answer) for q, answer, _ in got[0]] == [("enjoyed", "5"), ("usual_app", "Instagram Reels"),
                                                          ("comments", "fun")]
