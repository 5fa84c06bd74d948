"""The lab's dialogs and screens: start dialog, instructions / end screens, operator PIN and menu, crash recovery.

Widgets only: they show what they are given and report what the experimenter chose. The study
logic (assignment, seeds, checks) stays in ``feedapp.lab.study``; the session logic in
``feedapp.ui.lab``. Every dialog works without a nested event loop (``open()``), so tests drive
them with real clicks and key presses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from feedapp.errors import counted
from feedapp.lab.study import Assignment, Study
from feedapp.ui import overlays

ERROR_STYLE = "color: #b3261e;"
NOTE_STYLE = "color: #555;"


def _font(px: int, bold: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(px)
    f.setBold(bold)
    return f


# == start dialog ==================================================================================
class StartDialog(QDialog):
    """Participant id, the condition the study assigns (the experimenter may override it: recorded),
    the feed seed (derived unless given). ``assignment`` holds the result once accepted.

    ``continuing``: it starts the session that continues a crashed one (``participant``, ``condition``
    and ``fields`` as that one had): the id and the condition cannot be changed.

    ``previous_sessions(participant) -> list of dicts`` (id, started_utc, condition, end_reason)
    lists the participant's sessions already in the database; when there are any, Start asks
    for confirmation (``confirm_box``) before accepting. ``block_for(participant) -> int`` gives
    the block of a within-subjects study.
    """

    def __init__(
        self,
        study: Study,
        *,
        previous_sessions: Callable[[str], list[dict[str, Any]]] = lambda pid: [],
        block_for: Callable[[str], int] = lambda pid: 0,
        participant: str = "",
        condition: str | None = None,
        seed: int | None = None,
        fields: dict[str, str] | None = None,
        continuing: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.study = study
        self.previous_sessions = previous_sessions
        self.block_for = block_for
        self.assignment: Assignment | None = None
        self.seed_given = False
        self.fields: dict[str, Any] = {}  # the extra fields' values, once accepted
        self.confirm_box: QMessageBox | None = None
        self._assigned: str | None = None  # the counterbalanced condition for the typed id
        self._overridden = False
        self.setWindowTitle(f"feedapp lab: {study.name}")
        self.setMinimumWidth(460)

        title = QLabel(f"Start a session of \u201c{study.name}\u201d")
        title.setFont(_font(18, True))
        where = QLabel(f"Study file: {study.path.name if study.path else 'study'}  (sha256 {study.sha256[:12]})  \u2022  "
                       f"{counted(len(study.conditions), 'condition')}, {study.method.replace('_', ' ')}, {study.design}")
        where.setObjectName("study_line")
        where.setStyleSheet(NOTE_STYLE)
        where.setWordWrap(True)

        self.participant_edit = QLineEdit(participant)
        self.participant_edit.setObjectName("participant")
        self.participant_edit.setPlaceholderText(study.participant_pattern or "e.g. P07")
        self.participant_error = QLabel("")
        self.participant_error.setObjectName("participant_error")
        self.participant_error.setStyleSheet(ERROR_STYLE)
        self.participant_error.setWordWrap(True)

        self.condition_combo = QComboBox()
        self.condition_combo.setObjectName("condition")
        for c in study.conditions:
            self.condition_combo.addItem(f"{c.name}  ({c.ranker})", c.name)
        self.condition_note = QLabel("")
        self.condition_note.setObjectName("condition_note")
        self.condition_note.setWordWrap(True)

        self.seed_edit = QLineEdit("" if seed is None else str(seed))
        self.seed_edit.setObjectName("seed")
        self.seed_note = QLabel("")
        self.seed_note.setStyleSheet(NOTE_STYLE)
        self.seed_note.setWordWrap(True)

        limits = []
        if study.limits.minutes is not None:
            limits.append(f"{study.limits.minutes:g} min")
        if study.limits.views is not None:
            limits.append(f"{study.limits.views} views")
        limits_text = ' or '.join(limits) if limits else 'none (the session runs until it is ended)'
        self.session_info = session_info = QLabel(
            f"Limits: {limits_text}, counting what the crashed session used  \u2022  no practice block" if continuing
            else f"Limits: {limits_text}  \u2022  practice clips: {study.practice.clips}"
        )
        session_info.setObjectName("session_info")
        session_info.setWordWrap(True)
        session_info.setStyleSheet(NOTE_STYLE)

        form = QFormLayout()
        form.addRow("Participant id", self.participant_edit)
        form.addRow("", self.participant_error)
        form.addRow("Condition", self.condition_combo)
        form.addRow("", self.condition_note)
        form.addRow("Feed seed", self.seed_edit)
        form.addRow("", self.seed_note)
        # the study's extra fields ([[fields]]: text, choice, number), checked as typed, stored in sessions.fields
        self.field_widgets: dict[str, QLineEdit | QComboBox] = {}
        self.field_errors: dict[str, QLabel] = {}
        given = dict(fields or {})
        for f in study.fields:
            if f.type == "choice":
                w: QLineEdit | QComboBox = QComboBox()
                w.addItem("" if f.required else "(not given)", "")
                for c in f.choices:
                    w.addItem(c, c)
                start = given.get(f.name, f.default)
                if start in f.choices:
                    w.setCurrentIndex(w.findData(start))
                w.currentIndexChanged.connect(self._refresh)
            else:
                w = QLineEdit(given.get(f.name, f.default))
                if f.type == "number":
                    w.setPlaceholderText(" to ".join(x for x in (f"{f.min:g}" if f.min is not None else "",
                                                                  f"{f.max:g}" if f.max is not None else "") if x)
                                         or "a number")
                w.textChanged.connect(self._refresh)
                w.returnPressed.connect(self._return_pressed)
            w.setObjectName(f"field_{f.name}")
            error = QLabel("")
            error.setStyleSheet(ERROR_STYLE)
            error.setWordWrap(True)
            self.field_widgets[f.name] = w
            self.field_errors[f.name] = error
            form.addRow(f.label + ("" if f.required else " (optional)"), w)
            form.addRow("", error)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton("Start session", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setObjectName("start")
        for b in self.buttons.buttons():  # Return in a field starts (below); no button is "default" twice
            b.setAutoDefault(False)
            b.setDefault(False)
        self.buttons.accepted.connect(self.try_start)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(where)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addWidget(session_info)
        layout.addWidget(self.buttons)

        self.participant_edit.textChanged.connect(self._refresh)
        self.condition_combo.activated.connect(self._condition_chosen)  # only the experimenter's choices
        self.seed_edit.textChanged.connect(self._refresh)
        self.participant_edit.returnPressed.connect(self._return_pressed)
        self.seed_edit.returnPressed.connect(self._return_pressed)
        if condition is not None:
            self._select(condition)
            self._overridden = True
        if continuing:  # a session that crashed goes on: same participant, same condition
            self.participant_edit.setReadOnly(True)
            self.condition_combo.setEnabled(False)
        self._refresh()

    # -- state ------------------------------------------------------------------------------------
    @property
    def participant(self) -> str:
        return self.participant_edit.text()

    @property
    def chosen_condition(self) -> str:
        return str(self.condition_combo.currentData())

    @property
    def override(self) -> str | None:
        """The condition chosen by hand, or None when the counterbalanced one is used."""
        if self._overridden and self.chosen_condition != self._assigned:
            return self.chosen_condition
        return None

    def _select(self, name: str) -> None:
        i = self.condition_combo.findData(name)
        if i >= 0:
            self.condition_combo.setCurrentIndex(i)

    def _condition_chosen(self, _index: int) -> None:
        self._overridden = True
        self._refresh()

    def _seed(self) -> tuple[int | None, str | None]:
        text = self.seed_edit.text().strip()
        if not text:
            return None, None
        from feedapp.ranges import SEED

        try:
            return int(SEED.parse(text)), None
        except ValueError as e:  # not a whole number, negative, or more than SQLite's 64-bit INTEGER holds
            return None, "the seed " + str(e).removeprefix(f"{SEED.name} ")

    def _refresh(self) -> None:
        pid = self.participant
        problem = self.study.check_participant(pid)
        self._assigned = None
        if problem is None:
            try:
                self._assigned = self.study.assign(pid, block=self._block(pid)).condition.name
            except ValueError as e:
                problem = str(e)
        self.participant_error.setText(problem if pid and problem else "")
        if self._assigned is not None and not self._overridden:
            self._select(self._assigned)
        if self.override is not None and self._assigned is not None:
            note = f"chosen by hand: the study assigns \u201c{self._assigned}\u201d (recorded as an override)"
        elif self.override is not None:
            note = "chosen by hand (recorded as an override)"
        elif self._assigned is not None:
            note = f"as assigned by the study ({self.study.method.replace('_', ' ')})"
        else:
            note = "assigned once a valid participant id is typed"
        self.condition_note.setText(note)
        self.condition_note.setStyleSheet(ERROR_STYLE if self.override is not None else NOTE_STYLE)
        seed, seed_problem = self._seed()
        if seed_problem:
            self.seed_note.setText(seed_problem)
            self.seed_note.setStyleSheet(ERROR_STYLE)
        elif seed is not None:
            self.seed_note.setText("given by hand (stored in sessions.seed)")
            self.seed_note.setStyleSheet(NOTE_STYLE)
        else:
            derived = self._derived_seed(pid)
            self.seed_note.setText("derived from the study and the participant" + (f": {derived}" if derived is not None else ""))
            self.seed_note.setStyleSheet(NOTE_STYLE)
        _, field_problems = self.field_values()
        for name, label in self.field_errors.items():  # say it once something was typed (empty required: Start off)
            typed = bool(self._field_text(name).strip())
            label.setText(field_problems.get(name, "") if typed else "")
        self.start_button.setEnabled(self._problem() is None)

    def _block(self, pid: str) -> int:
        return self.block_for(pid) if self.study.design == "within" else 0

    def _derived_seed(self, pid: str) -> int | None:
        try:
            return self.study.assign(pid, self.override, block=self._block(pid)).seed
        except ValueError:
            return None

    def _field_text(self, name: str) -> str:
        w = self.field_widgets[name]
        return str(w.currentData() or "") if isinstance(w, QComboBox) else w.text()

    def field_values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """({field name: value} of the fields filled in, {field name: problem})."""
        values, problems = {}, {}
        for f in self.study.fields:
            value, problem = f.check(self._field_text(f.name))
            if problem:
                problems[f.name] = problem
            elif value is not None:
                values[f.name] = value
        return values, problems

    def _problem(self) -> str | None:
        """Why Start cannot work now (None: it can)."""
        pid = self.participant
        _, seed_problem = self._seed()
        if seed_problem:
            return seed_problem
        _, field_problems = self.field_values()
        if field_problems:
            return next(iter(field_problems.values()))
        try:
            self.study.assign(pid, self.override, block=self._block(pid))
        except ValueError as e:
            return str(e)
        return None

    # -- starting ---------------------------------------------------------------------------------
    def build_assignment(self) -> Assignment:
        pid = self.participant
        a = self.study.assign(pid, self.override, block=self._block(pid))
        seed, _ = self._seed()
        self.seed_given = seed is not None
        self.fields, _ = self.field_values()
        return dataclasses.replace(a, seed=seed) if seed is not None else a

    def _return_pressed(self) -> None:
        if self.start_button.isEnabled():
            self.try_start()

    def try_start(self) -> None:
        """Start pressed: refuse a bad id, ask when the participant already has sessions, else accept."""
        problem = self._problem()
        if problem is not None:
            self.participant_error.setText(problem)
            return
        previous = self.previous_sessions(self.participant)
        if previous:
            self.confirm_box = duplicate_box(self.participant, previous, self)
            self.confirm_box.finished.connect(self._confirmed)
            self.confirm_box.open()
            return
        self._accept_now()

    def _confirmed(self, result: int) -> None:
        box = self.confirm_box
        if box is not None and box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
            self._accept_now()

    def _accept_now(self) -> None:
        self.assignment = self.build_assignment()
        self.accept()


def duplicate_box(participant: str, previous: Sequence[dict[str, Any]], parent: QWidget | None = None) -> QMessageBox:
    """"P07 already has N session(s) ... Start another?" (Yes / No, No is the default)."""
    lines = []
    for s in previous[:5]:
        end = s.get("end_reason") or "not ended"
        lines.append(f"\u2022 {str(s.get('started_utc', ''))[:16].replace('T', ' ')} UTC, "
                     f"{s.get('condition') or 'no condition'}, {end} ({str(s.get('id', ''))[:8]})")
    more = f"\n\u2026and {len(previous) - 5} more" if len(previous) > 5 else ""
    box = QMessageBox(parent)
    box.setObjectName("duplicate_participant")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Participant already recorded")
    box.setText(f"Participant {participant} already has {counted(len(previous), 'session')} in this database.")
    box.setInformativeText("\n".join(lines) + more + f"\n\nStart another session for {participant}?")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box


# == full-window screens ===========================================================================
class ScreenPage(QWidget):
    """A dark full-window screen: a title, a text, an optional extra widget and one button."""

    proceed = Signal()

    def __init__(self, title: str, body: str, button: str | None = "Start", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, overlays.BACKGROUND)
        pal.setColor(QPalette.ColorRole.WindowText, overlays.TEXT)
        self.setPalette(pal)
        self.setAutoFillBackground(True)
        self.title = QLabel(title)
        self.title.setObjectName("title")
        self.title.setFont(_font(26, True))
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.body = QLabel(body.strip())
        self.body.setObjectName("body")
        self.body.setFont(_font(17))
        self.body.setWordWrap(True)
        self.body.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.body.setStyleSheet(f"color: {overlays.MUTED_TEXT.name()};")
        self.extra = QVBoxLayout()
        self.button: QPushButton | None = None
        column = QVBoxLayout()
        column.addStretch(2)
        column.addWidget(self.title)
        column.addSpacing(18)
        column.addWidget(self.body)
        column.addLayout(self.extra)
        column.addSpacing(28)
        if button:
            self.button = QPushButton(button)
            self.button.setObjectName("proceed")
            self.button.setFont(_font(18, True))
            self.button.setMinimumHeight(52)
            self.button.setCursor(Qt.CursorShape.PointingHandCursor)
            self.button.setStyleSheet(
                f"QPushButton {{ background: {overlays.ACCENT.name()}; color: white; border: none; border-radius: 10px;"
                " padding: 10px 36px; } QPushButton:focus { outline: none; border: 2px solid white; }"
            )
            self.button.clicked.connect(self.proceed.emit)
            row = QHBoxLayout()
            row.addStretch(1)
            row.addWidget(self.button)
            row.addStretch(1)
            column.addLayout(row)
        column.addStretch(3)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(32, 24, 32, 24)
        outer.addStretch(1)
        inner = QWidget()
        inner.setLayout(column)
        inner.setMaximumWidth(620)
        outer.addWidget(inner, 6)
        outer.addStretch(1)

    def set_text(self, title: str, body: str) -> None:
        self.title.setText(title)
        self.body.setText(body.strip())

    def showEvent(self, event) -> None:  # noqa: ANN001
        super().showEvent(event)
        if self.button is not None:
            self.button.setFocus(Qt.FocusReason.OtherFocusReason)

    def keyPressEvent(self, event) -> None:  # noqa: ANN001 - Return / Enter press the button, as in a dialog
        if self.button is not None and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.isAutoRepeat():
            self.button.click()
            return
        super().keyPressEvent(event)


def top_topics(profile: dict[str, Any], k: int = 5) -> list[tuple[str, float]]:
    """The k topics with the highest affinity in an ``engine.profile()`` snapshot, best first."""
    topics = profile.get("topics") if isinstance(profile, dict) else None
    if not isinstance(topics, dict):
        return []
    items = [(str(t), float(v)) for t, v in topics.items() if isinstance(v, (int, float))]
    return sorted(items, key=lambda kv: (-kv[1], kv[0]))[:k]


class TopicsCard(QFrame):
    """The simple debrief card: "what the feed learned about you", the top topics as bars.

    A bar's length is the topic's affinity against the largest |affinity| shown, and its sign is kept:
    a negative affinity (the viewer turned away from the topic) is drawn as a negative bar in another
    colour with its value, never as a short positive one. ``learns=False`` (a condition whose ranker
    does not learn from the viewer: random, chronological, popular, following) says so: the topics
    then describe what the viewer watched, not a feed fitted to them.
    """

    NEGATIVE = "#c0504d"

    def __init__(self, profile: dict[str, Any], parent: QWidget | None = None, *, learns: bool = True,
                 ranker: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("topics_card")
        self.setStyleSheet("#topics_card { background: #1c1c21; border-radius: 12px; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        self.learns = learns
        head = QLabel("What the feed learned about you" if learns else "What you watched")
        head.setFont(_font(17, True))
        head.setStyleSheet("color: white;")
        layout.addWidget(head)
        self.note: QLabel | None = None
        if not learns:
            self.note = QLabel(f"This feed{f' ({ranker})' if ranker else ''} did not learn from your views: it "
                               "chose clips the same way for everyone. The topics below only sum up how you watched.")
            self.note.setWordWrap(True)
            self.note.setStyleSheet(f"color: {overlays.MUTED_TEXT.name()};")
            layout.addWidget(self.note)
        self.topics = top_topics(profile)
        if not self.topics:
            none = QLabel("Not enough views to say.")
            none.setStyleSheet(f"color: {overlays.MUTED_TEXT.name()};")
            layout.addWidget(none)
        scale = max([abs(v) for _, v in self.topics] + [1e-9])
        self.bars: list[tuple[str, float, int]] = []  # (topic, affinity, signed bar value in -100..100)
        for name, value in self.topics:
            signed = int(round(100 * value / scale))
            self.bars.append((name, value, signed))
            row = QHBoxLayout()
            label = QLabel(f"#{name}")
            label.setFont(_font(15, True))
            label.setStyleSheet("color: white;")
            label.setMinimumWidth(110)
            colour = overlays.ACCENT.name() if value >= 0 else self.NEGATIVE
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setValue(abs(signed))
            bar.setInvertedAppearance(value < 0)  # a negative bar grows from the right: visibly the other way
            bar.setTextVisible(False)
            bar.setFixedHeight(12)
            bar.setStyleSheet(f"QProgressBar {{ background: #2e2e35; border: none; border-radius: 6px; }}"
                              f" QProgressBar::chunk {{ background: {colour}; border-radius: 6px; }}")
            number = QLabel(f"{value:+.2f}")
            number.setStyleSheet(f"color: {'white' if value >= 0 else self.NEGATIVE};")
            number.setMinimumWidth(46)
            row.addWidget(label)
            row.addWidget(bar, 1)
            row.addWidget(number)
            layout.addLayout(row)


# == operator ======================================================================================
class PinDialog(QDialog):
    """The experimenter's PIN. ``check(pin) -> bool``; a wrong PIN is refused (``refused`` is emitted,
    the field cleared) and the dialog stays open; the right one accepts."""

    refused = Signal()

    def __init__(self, check: Callable[[str], bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check = check
        self.setObjectName("pin_dialog")
        self.setWindowTitle("Experimenter")
        self.setModal(True)
        self.setMinimumWidth(300)
        self.pin_edit = QLineEdit()
        self.pin_edit.setObjectName("pin")
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel("")
        self.error.setStyleSheet(ERROR_STYLE)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.try_pin)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Experimenter PIN:"))
        layout.addWidget(self.pin_edit)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def try_pin(self) -> None:
        if self.check(self.pin_edit.text()):
            self.accept()
        else:
            self.pin_edit.clear()
            self.error.setText("Wrong PIN.")
            self.refused.emit()


class OperatorDialog(QDialog):
    """What the experimenter can do: pause / resume, abort the session, exit. ``chosen`` is set on close."""

    def __init__(self, *, running: bool, paused: bool, notice: str = "", info: str = "", state: str = "",
                 parent: QWidget | None = None) -> None:
        """``notice``: what the experimenter must know first (a failed write: what failed, what is safe, what to do);
        ``info``: participant, condition, views done, time left; ``state``: where the session stands when no
        feed runs (default: it has ended)."""
        super().__init__(parent)
        self.setObjectName("operator_dialog")
        self.setWindowTitle("Experimenter")
        self.setModal(True)
        self.setMinimumWidth(340)
        self.chosen: str | None = None
        layout = QVBoxLayout(self)
        self.notice: QLabel | None = None
        if notice:
            self.notice = QLabel(notice)
            self.notice.setObjectName("operator_notice")
            self.notice.setWordWrap(True)
            self.notice.setMinimumWidth(460)
            self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(self.notice)
        if running:
            state = "The session is paused." if paused else "The session is running."
        self.state = QLabel(state or "The session has ended.")
        self.state.setObjectName("state")
        self.state.setWordWrap(True)
        layout.addWidget(self.state)
        self.info = QLabel(info)  # participant, condition, views done, time left
        self.info.setObjectName("progress")
        self.info.setStyleSheet(NOTE_STYLE)
        self.info.setWordWrap(True)
        if info:
            layout.addWidget(self.info)
        self.action_buttons: dict[str, QPushButton] = {}
        actions: list[tuple[str, str]] = []
        if running:
            actions.append(("resume", "Resume the session") if paused else ("pause", "Pause the session"))
            actions.append(("abort", "Abort the session and exit"))
        else:
            actions.append(("exit", "Exit"))
        actions.append(("back", "Back"))
        for name, text in actions:
            b = QPushButton(text)
            b.setObjectName(name)
            b.clicked.connect(lambda _=False, n=name: self._choose(n))
            layout.addWidget(b)
            self.action_buttons[name] = b

    def _choose(self, name: str) -> None:
        self.chosen = name
        self.accept() if name != "back" else self.reject()


class RecoveryDialog(QDialog):
    """An interrupted lab session: close it as recovered, or continue with the same participant."""

    def __init__(self, info: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recovery_dialog")
        self.setWindowTitle("An interrupted session was found")
        self.chosen: str | None = None
        pid = info.get("participant") or "?"
        text = QLabel(
            f"The session of participant {pid} (condition {info.get('condition') or '?'}, "
            f"{info.get('views', 0)} views) stopped without ending at {str(info.get('last_utc', ''))[:19].replace('T', ' ')} UTC: "
            "the app crashed or the computer went off.\n\nIt will be closed as \u201crecovered after crash\u201d "
            "(its last view completed from the last checkpoint). Then:"
        )
        text.setWordWrap(True)
        text.setMinimumWidth(420)
        self.close_button = QPushButton("Close it and start a new session")
        self.close_button.setObjectName("close_recovered")
        self.continue_button = QPushButton(f"Continue with {pid} in a new linked session")
        self.continue_button.setObjectName("continue")
        self.close_button.clicked.connect(lambda: self._choose("close"))
        self.continue_button.clicked.connect(lambda: self._choose("continue"))
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.continue_button)
        layout.addWidget(self.close_button)

    def _choose(self, name: str) -> None:
        self.chosen = name
        self.accept()


# == consent and questionnaire ====================================================================
def _dark(widget: QWidget) -> None:
    pal = widget.palette()
    pal.setColor(QPalette.ColorRole.Window, overlays.BACKGROUND)
    pal.setColor(QPalette.ColorRole.WindowText, overlays.TEXT)
    widget.setPalette(pal)
    widget.setAutoFillBackground(True)


BUTTON_STYLE = (f"QPushButton {{ background: {overlays.ACCENT.name()}; color: white; border: none; border-radius: 10px;"
                " padding: 10px 28px; } QPushButton:focus { outline: none; border: 2px solid white; }"
                " QPushButton:disabled { background: #444; color: #999; }")
PLAIN_BUTTON_STYLE = ("QPushButton { background: #2e2e35; color: white; border: none; border-radius: 10px; padding: 10px 28px; }"
                      " QPushButton:focus { outline: none; border: 2px solid white; }")


class ConsentPage(QWidget):
    """The study's consent text with "I agree" and "I do not agree". ``answered(bool)`` says which."""

    answered = Signal(bool)

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("consent_page")
        _dark(self)
        title = QLabel("Consent")
        title.setFont(_font(26, True))
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.body = QLabel(text.strip())
        self.body.setObjectName("consent_text")
        self.body.setFont(_font(16))
        self.body.setWordWrap(True)
        self.body.setStyleSheet(f"color: {overlays.MUTED_TEXT.name()};")
        self.agree = QPushButton("I agree")
        self.agree.setObjectName("agree")
        self.refuse = QPushButton("I do not agree")
        self.refuse.setObjectName("refuse")
        for b, style in ((self.agree, BUTTON_STYLE), (self.refuse, PLAIN_BUTTON_STYLE)):
            b.setFont(_font(17, True))
            b.setMinimumHeight(50)
            b.setStyleSheet(style)
            b.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusProxy(self.agree)  # the page gets the focus when shown: Space agrees, Tab reaches the other
        self.agree.clicked.connect(lambda: self.answered.emit(True))
        self.refuse.clicked.connect(lambda: self.answered.emit(False))
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.refuse)
        row.addSpacing(16)
        row.addWidget(self.agree)
        row.addStretch(1)
        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(title)
        column.addSpacing(16)
        column.addWidget(self.body)
        column.addSpacing(24)
        column.addLayout(row)
        column.addStretch(2)
        inner = QWidget()
        inner.setLayout(column)
        inner.setMaximumWidth(620)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(32, 24, 32, 24)
        outer.addStretch(1)
        outer.addWidget(inner, 6)
        outer.addStretch(1)
        QWidget.setTabOrder(self.agree, self.refuse)  # "I agree" first (it has the focus), Tab: "I do not agree"



class _ItemRow(QFrame):
    """A Likert or choice item as one keyboard stop: 1..9 pick that answer, arrows move it, Tab or
    Return go on to the next item (Return on Submit then submits).
    The arrows never make the first choice: Down and Up are the feed's swipe keys, and a press meant
    for the feed as its last view closed (or a held key) would otherwise answer the first item.
    The row is outlined while it has the focus."""

    def __init__(self, group: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = group
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setStyleSheet("_ItemRow { border: 2px solid transparent; border-radius: 8px; }"
                           " _ItemRow:focus { border: 2px solid white; }")

    def choose(self, k: int) -> None:
        b = self.group.button(k)
        if b is not None:
            b.click()

    def keyPressEvent(self, event) -> None:  # noqa: ANN001, N802
        key, n = event.key(), len(self.group.buttons())
        current = self.group.checkedId()
        if Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            self.choose(key - Qt.Key.Key_0)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Up):
            if current > 0:  # (nothing chosen yet: nothing to move)
                step = 1 if key in (Qt.Key.Key_Right, Qt.Key.Key_Down) else -1
                self.choose(min(n, max(1, current + step)))
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.focusNextChild()
        else:
            super().keyPressEvent(event)


class QuestionnairePage(QWidget):
    """The questionnaire after the feed: Likert items (a row of numbered buttons), choices (radio
    buttons), free text. Submit is enabled once every required item is answered; ``submitted`` carries
    ``[(question, answer text or None, Likert value or None), ...]`` in order."""

    submitted = Signal(list)

    def __init__(self, questions: Sequence[Any], intro: str = "", parent: QWidget | None = None) -> None:
        from PySide6.QtWidgets import QButtonGroup, QPlainTextEdit, QRadioButton, QScrollArea

        super().__init__(parent)
        self.setObjectName("questionnaire_page")
        _dark(self)
        self.questions = list(questions)
        self.groups: dict[str, QButtonGroup] = {}
        self.rows: dict[str, _ItemRow] = {}
        self.texts: dict[str, QPlainTextEdit] = {}
        column = QVBoxLayout()
        title = QLabel("A few questions")
        title.setFont(_font(24, True))
        column.addWidget(title)
        if intro.strip():
            note = QLabel(intro.strip())
            note.setWordWrap(True)
            note.setFont(_font(15))
            note.setStyleSheet(f"color: {overlays.MUTED_TEXT.name()};")
            column.addWidget(note)
        for q in self.questions:
            column.addSpacing(14)
            label = QLabel(q.text + ("" if q.required else "  (optional)"))
            label.setWordWrap(True)
            label.setFont(_font(16, True))
            column.addWidget(label)
            if q.type == "text":
                edit = QPlainTextEdit()
                edit.setObjectName(f"q_{q.id}")
                edit.setTabChangesFocus(True)
                edit.setFixedHeight(70)
                edit.setStyleSheet("QPlainTextEdit { background: #1c1c21; color: white; border: 1px solid #555;"
                                   " border-radius: 6px; } QPlainTextEdit:focus { border: 2px solid white; }")
                edit.textChanged.connect(self._refresh)
                self.texts[q.id] = edit
                column.addWidget(edit)
                continue
            group = QButtonGroup(self)
            group.setExclusive(True)
            self.groups[q.id] = group
            item = _ItemRow(group)  # one focus stop per item: digits or arrow keys choose, Tab goes on
            item.setObjectName(f"q_{q.id}")
            self.rows[q.id] = item
            if q.type == "likert":
                # the buttons in one row, the two end labels under its ends: a portrait lab window (about
                # 420 px) holds 11 points, which a row with the labels beside it did not
                scale = QGridLayout(item)
                scale.setContentsMargins(4, 4, 4, 4)
                scale.setHorizontalSpacing(3)
                item.setMaximumWidth(q.points * 47 + 8)  # buttons up to 44 px wide, the labels under the ends
                for k in range(1, q.points + 1):
                    b = QPushButton(str(k))
                    b.setObjectName(f"q_{q.id}_{k}")
                    b.setCheckable(True)
                    b.setMinimumSize(24, 40)
                    b.setMaximumHeight(40)
                    b.setStyleSheet("QPushButton { background: #2e2e35; color: white; border: none; border-radius: 8px; }"
                                    f" QPushButton:checked {{ background: {overlays.ACCENT.name()}; }}")
                    group.addButton(b, k)
                    scale.addWidget(b, 0, k - 1)
                half = (q.points + 1) // 2
                for text, first, span, align in ((q.labels[0], 0, half, Qt.AlignmentFlag.AlignLeft),
                                                 (q.labels[1], half, q.points - half, Qt.AlignmentFlag.AlignRight)):
                    if text:
                        end = QLabel(text)
                        end.setWordWrap(True)
                        end.setAlignment(align)
                        end.setStyleSheet(f"color: {overlays.MUTED_TEXT.name()};")
                        scale.addWidget(end, 1, first, 1, span)
                for k in range(q.points):
                    scale.setColumnStretch(k, 1)
            else:
                row = QVBoxLayout(item)
                row.setContentsMargins(6, 4, 6, 4)
                for k, c in enumerate(q.choices, start=1):
                    r = QRadioButton(f"{k}  {c}" if len(q.choices) <= 9 else c)
                    r.setObjectName(f"q_{q.id}_{k}")
                    r.setStyleSheet("QRadioButton { color: white; font-size: 15px; }")
                    group.addButton(r, k)
                    row.addWidget(r)
            for b in group.buttons():
                b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            group.idClicked.connect(lambda _id: self._refresh())
            column.addWidget(item)
        column.addSpacing(22)
        self.submit = QPushButton("Submit")
        self.submit.setObjectName("submit")
        self.submit.setFont(_font(17, True))
        self.submit.setMinimumHeight(50)
        self.submit.setStyleSheet(BUTTON_STYLE)
        self.submit.clicked.connect(self._submit)
        self.submit.setAutoDefault(True)  # Return on the focused button submits (outside a QDialog it would not)
        self.missing = QLabel("")
        self.missing.setWordWrap(True)
        self.missing.setStyleSheet(f"color: {overlays.MUTED_TEXT.name()};")
        row = QHBoxLayout()
        row.addWidget(self.missing, 1)
        row.addWidget(self.submit)
        column.addLayout(row)
        column.addStretch(1)
        inner = QWidget()
        column.setContentsMargins(2, 0, 2, 0)  # the page has its margins: the items get the width
        inner.setLayout(column)
        inner.setMaximumWidth(640)
        _dark(inner)
        holder = QWidget()
        _dark(holder)
        h = QHBoxLayout(holder)
        h.setContentsMargins(0, 0, 0, 0)
        h.addStretch(1)
        h.addWidget(inner, 100)  # all the width up to its 640 px, centred beyond that
        h.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(holder)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 16, 16, 16)
        outer.addWidget(scroll)
        first = self.questions[0] if self.questions else None  # keyboard first: the page's focus goes to item 1
        if first is None:
            self.setFocusProxy(self.submit)
        else:
            self.setFocusProxy(self.texts[first.id] if first.type == "text" else self.rows[first.id])
        self._refresh()

    def answers(self) -> list[tuple[Any, str | None, float | None]]:
        out: list[tuple[Any, str | None, float | None]] = []
        for q in self.questions:
            if q.type == "text":
                text = self.texts[q.id].toPlainText().strip()
                out.append((q, text or None, None))
                continue
            k = self.groups[q.id].checkedId()
            if k < 1:
                out.append((q, None, None))
            elif q.type == "likert":
                out.append((q, str(k), float(k)))
            else:
                out.append((q, q.choices[k - 1], None))
        return out

    def _unanswered(self) -> list[str]:
        return [q.id for q, answer, _ in self.answers() if q.required and answer is None]

    def _refresh(self) -> None:
        missing = self._unanswered()
        self.submit.setEnabled(not missing)
        self.missing.setText(f"{len(missing)} question{'s' * (len(missing) != 1)} still to answer" if missing else "")

    def _submit(self) -> None:
        if not self._unanswered():
            self.submit.setEnabled(False)
            self.submitted.emit(self.answers())


__all__ = [
    "StartDialog", "duplicate_box", "ScreenPage", "TopicsCard", "top_topics", "PinDialog", "OperatorDialog",
    "RecoveryDialog", "ConsentPage", "QuestionnairePage",
]
