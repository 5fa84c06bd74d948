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
