"""The developer panel (key D): every parameter of the active ranker as a live control, presets, plugins.

What it shows and why:

- **One row per parameter**, generated from the ranker's own spec (``ranker.spec()``: name, default,
  min, max, description, kind), never written per parameter: a slider and a spin box (``QSpinBox``
  for ``kind="int"``, ``QDoubleSpinBox`` otherwise) and a button back to the default. Sliders are
  logarithmic when a range spans three decades or more with a positive minimum (``prior_precision``
  0.001..1000, ``repeat_gap`` 1..100000), linear otherwise; integer parameters with up to 1000
  values get one slider step per value.
- A change applies at once through ``engine.set_param`` (the engine re-decides the next slot and
  emits ``ranker_param_did_change``, which the composition root logs as a ``ranker_param_changed``
  event with old and new value) and the compact **up-next list** (``engine.upcoming(8)``) is
  re-drawn with how far each clip moved.
- Typed values are not clamped by the spin box: a value outside the spec reaches the engine, whose
  ``ParameterError`` sentence is shown in the panel and the control goes back to the value in use.
- **Presets**: save to / load from TOML (``feedapp.preset_files``), default folder ``data/presets``.
- **Plugins** (``--ranker file.py:Class``, the engine has ``plugin_host``): path, version, reload
  count, what is serving, a "Reload now" button, and on ``ranker_did_fail`` the traceback text
  (monospace, scrollable). The feed itself never stops: the core falls back on its own.

No ranking logic lives here: the panel renders what the engine exposes and writes user input back
through ``engine.set_param``; everything it computes is presentation (slider positions, deltas).
"""

from __future__ import annotations

import html
import math
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontMetrics, QPainter, QPalette, QStaticText
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from feedapp.core.model import QueueEntry
from feedapp.core.plugins import is_plugin_spec, parse_spec
from feedapp.core.presets import PresetError, apply_preset
from feedapp.preset_files import load_preset, save_preset
from feedapp.core.rankers.base import Param, ParameterError

PRESETS_DIR = Path("data") / "presets"
UP_NEXT = 8
SLIDER_STEPS = 1000
OK_COLOUR = QColor(120, 210, 140)
ERROR_COLOUR = QColor(255, 120, 120)
_VLEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_VRIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
UP_COLOUR = QColor(110, 200, 130)
DOWN_COLOUR = QColor(240, 120, 120)


def dark_palette(base: QPalette) -> QPalette:
    """The player's dark look for standard widgets (spin boxes, sliders, buttons) in a panel."""
    pal = QPalette(base)
    roles = QPalette.ColorRole
    for role, colour in (
        (roles.Window, QColor(18, 18, 22)), (roles.WindowText, QColor(235, 235, 240)),
        (roles.Base, QColor(32, 32, 38)), (roles.AlternateBase, QColor(40, 40, 46)),
        (roles.Text, QColor(235, 235, 240)), (roles.Button, QColor(44, 44, 52)),
        (roles.ButtonText, QColor(235, 235, 240)), (roles.Highlight, QColor(254, 44, 85)),
        (roles.HighlightedText, QColor(255, 255, 255)), (roles.ToolTipBase, QColor(40, 40, 46)),
        (roles.ToolTipText, QColor(235, 235, 240)), (roles.PlaceholderText, QColor(150, 150, 160)),
        (roles.Mid, QColor(70, 70, 80)), (roles.Dark, QColor(12, 12, 14)), (roles.Light, QColor(90, 90, 100)),
    ):
        pal.setColor(role, colour)
    pal.setColor(QPalette.ColorGroup.Disabled, roles.Text, QColor(120, 120, 128))
    pal.setColor(QPalette.ColorGroup.Disabled, roles.ButtonText, QColor(120, 120, 128))
    pal.setColor(QPalette.ColorGroup.Disabled, roles.WindowText, QColor(120, 120, 128))
    return pal


BASE_PX = 13  # the panels' text size at scale 1 (px)

def monospace_font() -> QFont:
    """The system's fixed-width font, or a known monospaced family when the system one is not."""
    f = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    fm = QFontMetrics(f)
    if fm.horizontalAdvance("iiii") == fm.horizontalAdvance("MMMM"):
        return f
    families = set(QFontDatabase.families())
    for name in ("DejaVu Sans Mono", "Liberation Mono", "Noto Mono", "Consolas", "Menlo", "Courier New"):
        if name in families:
            g = QFont(name, f.pointSize())
            g.setStyleHint(QFont.StyleHint.TypeWriter)
            return g
    return f


def _set_text_colour(label: QLabel, colour: QColor) -> None:
    """A label's text colour through its palette (cheaper than a style sheet, which re-polishes)."""
    pal = label.palette()
    if pal.color(QPalette.ColorRole.WindowText) != colour:
        pal.setColor(QPalette.ColorRole.WindowText, colour)
        label.setPalette(pal)


def _alive(obj: object) -> bool:
    try:
        import shiboken6

        return shiboken6.isValid(obj)
    except ImportError:  # pragma: no cover - shiboken6 ships with PySide6
        return True


def hook(engine, event: str, method: Callable[..., None]) -> None:  # noqa: ANN001 - FeedEngine
    """``engine.on(event, ...)`` through a weak reference: a closed panel is not kept alive or called."""
    ref = weakref.WeakMethod(method)

    def call(*args: object) -> None:
        m = ref()
        if m is not None and _alive(m.__self__):
            m(*args)

    engine.on(event, call)


def _digits(v: float) -> int:
    """Decimals needed to write ``v`` exactly (up to 6)."""
    for d in range(0, 7):
        if abs(round(v, d) - v) < 1e-12:
            return d
    return 6


def is_log(p: Param) -> bool:
    """A range over three decades or more with a positive minimum is shown on a log scale."""
    return p.min > 0 and p.max / p.min >= 1000


def decimals_for(p: Param) -> int:
    """Decimals of a parameter's spin box: the spec's own numbers exactly, three for ranges up to 10,
    and three significant digits at the bottom of a logarithmic range (at most 6)."""
    if p.kind == "int":
        return 0
    need = max(2, *(_digits(v) for v in (p.min, p.default, p.max)))
    if p.max - p.min <= 10:
        need = max(need, 3)
    if is_log(p):
        need = max(need, _digits(p.min) + 2)
    return min(need, 6)


class SliderScale:
    """Maps a parameter's range to integer slider positions (linear, logarithmic, or one step per int).

    Linear float sliders have one step per value the spin box can show, at most ``SLIDER_STEPS``, so a
    slider position and the value it applies always map back to each other.
    """

    def __init__(self, p: Param) -> None:
        self.p = p
        self.log = is_log(p)
        self.per_int = p.kind == "int" and not self.log and (p.max - p.min) <= SLIDER_STEPS
        self.decimals = decimals_for(p)
        if self.per_int:
            self.steps = int(p.max - p.min)
        elif self.log or p.kind == "int":
            self.steps = SLIDER_STEPS
        else:
            self.steps = max(1, min(SLIDER_STEPS, int(round((p.max - p.min) * 10**self.decimals))))

    def to_position(self, value: float) -> int:
        p = self.p
        v = min(max(float(value), p.min), p.max)
        if self.per_int:
            return int(round(v - p.min))
        if p.max == p.min:
            return 0
        if self.log:
            f = math.log(v / p.min) / math.log(p.max / p.min)
        else:
            f = (v - p.min) / (p.max - p.min)
        return int(round(f * self.steps))

    def to_value(self, position: int) -> float | int:
        p = self.p
        if self.per_int:
            return int(p.min + position)
        f = position / self.steps
        if self.log:
            v = p.min * (p.max / p.min) ** f
            v = float(f"{v:.3g}")  # three significant digits: 0.00126, 3.16, 1000
        else:
            v = p.min + f * (p.max - p.min)
        v = min(max(round(v, self.decimals), p.min), p.max)
        return int(round(v)) if p.kind == "int" else v


def _clamped_step(box, step: Callable[[int], None], steps: int) -> None:  # noqa: ANN001 - a spin box
    """Arrow keys and buttons move within the spec's range; one valueChanged at most."""
    before = box.value()
    box.blockSignals(True)
    step(steps)
    v = min(max(box.value(), box.p.min), box.p.max)
    box.setValue(before)
    box.blockSignals(False)
    if v != before:
        box.setValue(int(v) if isinstance(box, QSpinBox) else v)


class _IntSpin(QSpinBox):
    """Integer spin box whose arrows stay in the spec's range but whose typed values are not clamped
    (an out-of-range number reaches the engine, which explains what is wrong)."""

    def __init__(self, p: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.p = p
        self.setRange(-(10**9), 10**9)

    def stepBy(self, steps: int) -> None:
        _clamped_step(self, super().stepBy, steps)


class _FloatSpin(QDoubleSpinBox):
    def __init__(self, p: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.p = p
        self.setDecimals(decimals_for(p))
        self.setRange(-1e9, 1e9)
        self.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)

    def stepBy(self, steps: int) -> None:
        _clamped_step(self, super().stepBy, steps)


# the slider gives way first: at the panel's design width, with the list's scroll bar and every name in
# bold (changed), the reset buttons must stay inside the visible part of the list (they were cut off at 90)
SLIDER_MIN_W = 40


class ParamRow:
    """The controls of one parameter: name, slider, spin box, back-to-default button."""

    def __init__(self, p: Param, value: float | int, panel: DevPanel) -> None:
        self.p = p
        self.scale = SliderScale(p)
        self.label = QLabel(p.name)
        self.label.setToolTip(f"{p.description}\n[{p.min:g} .. {p.max:g}, default {p.default:g}]")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.scale.steps)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the player keeps the arrow keys
        self.slider.setToolTip(self.label.toolTip())
        self.slider.setMinimumWidth(SLIDER_MIN_W)
        self.spin: QSpinBox | QDoubleSpinBox = _IntSpin(p) if p.kind == "int" else _FloatSpin(p)
        self.spin.setKeyboardTracking(False)  # typed values apply on Enter or when leaving the box
        self.spin.setToolTip(self.label.toolTip())
        self.spin.setFixedWidth(96)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.reset = QPushButton("\u21ba")
        self.reset.setToolTip(f"back to the default, {p.default:g}")
        self.reset.setFixedWidth(28)
        self.reset.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.show(value)
        name = p.name
        self.slider.valueChanged.connect(lambda pos: panel._control_changed(name, self.scale.to_value(pos), "slider"))
        self.spin.valueChanged.connect(lambda v: panel._control_changed(name, v, "spin"))
        self.spin.lineEdit().returnPressed.connect(panel.editing_finished.emit)  # Enter, not a click elsewhere
        self.reset.clicked.connect(lambda: panel._control_changed(name, p.default, "reset"))

    def show(self, value: float | int) -> None:
        """Put ``value`` into both controls without sending their change signals."""
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        self.slider.setValue(self.scale.to_position(value))
        self.spin.setValue(int(value) if self.p.kind == "int" else float(value))
        for w in (self.slider, self.spin):
            w.blockSignals(False)
        changed = value != self.p.default  # a parameter away from its default is shown in bold
        if self.label.font().bold() != changed:
            f = self.label.font()
            f.setBold(changed)
            self.label.setFont(f)

    def set_ui_scale(self, s: float) -> None:
        self.slider.setMinimumWidth(round(SLIDER_MIN_W * s))
        self.spin.setFixedWidth(round(96 * s))
        self.reset.setFixedWidth(round(28 * s))
        f = self.label.font()  # set explicitly once bold: follow the panel's size by hand
        f.setPixelSize(max(9, round(BASE_PX * s)))
        self.label.setFont(f)

    def widgets(self) -> tuple[QWidget, ...]:
        return self.label, self.slider, self.spin, self.reset


class UpNextList(QWidget):
    """The next clips as the engine would serve them, painted as compact rows with how far each moved.

    Rows and columns follow the font (the panel's scale): a row is a line of text plus 5 px."""

    def __init__(self, rows: int = UP_NEXT, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows = rows
        self.entries: list[QueueEntry] = []
        self.moves: list[int | None] = []  # +k moved up k places since the last list, None = new in the list
        self._last_ids: list[str] = []
        self._texts: dict[tuple, QStaticText] = {}
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())

    @property
    def ROW(self) -> int:  # noqa: N802 - was a constant
        return self.fontMetrics().height() + 5

    def sizeHint(self) -> QSize:
        return QSize(320, self.ROW * self.rows + 4)

    def changeEvent(self, event) -> None:  # noqa: ANN001, N802 - the panel's font changed (its scale)
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.FontChange:
            self._texts.clear()
            self.setMinimumHeight(self.sizeHint().height())
        super().changeEvent(event)

    def set_entries(self, entries: list[QueueEntry]) -> None:
        ids = [e.clip.id for e in entries]
        before = {cid: i for i, cid in enumerate(self._last_ids)}
        if ids != self._last_ids:  # only a changed order shows arrows; a repeat keeps the last arrows
            self.moves = [before[cid] - i if cid in before else None for i, cid in enumerate(ids)] if before else [0] * len(ids)
        self._last_ids = ids
        self.entries = list(entries)
        self.update()

    def text_rows(self) -> list[str]:
        """The rows as plain text (what is painted, for tests and screen readers)."""
        out = []
        for i, e in enumerate(self.entries):
            topics = " ".join(f"#{t}" for t in e.clip.topics)
            out.append(f"{i + 1}. {e.clip.title}  @{e.clip.creator} {topics}  score {e.score:.2f}  p {e.propensity:.2f}")
        return out

    def _static(self, key: tuple, text: str) -> QStaticText:
        st = self._texts.get(key)
        if st is None:
            if len(self._texts) > 2000:
                self._texts.clear()
            st = self._texts[key] = QStaticText(text)
            st.setTextFormat(Qt.TextFormat.PlainText)
        return st

    def paintEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt API
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        text = pal.color(QPalette.ColorRole.WindowText)
        bg = pal.color(QPalette.ColorRole.Base)
        muted = QColor(round(text.red() * 0.72 + bg.red() * 0.28), round(text.green() * 0.72 + bg.green() * 0.28),
                       round(text.blue() * 0.72 + bg.blue() * 0.28))  # opaque: its contrast is what it shows
        p.setFont(self.font())
        fm = QFontMetrics(self.font())
        w = self.width()
        row = self.ROW
        dy = (row - fm.height()) / 2
        if not self.entries:
            p.setPen(muted)
            p.drawText(QRectF(6, 0, w - 12, row), _VLEFT, "nothing to serve yet")
        rw = fm.horizontalAdvance("-00.00  p 0.00") + 8  # the score column, the same width on every row
        num_w = fm.horizontalAdvance("00") + 2
        mv_w = max(fm.horizontalAdvance("\u25bc00"), fm.horizontalAdvance("new")) + 4
        label_x = 4 + num_w + 4 + mv_w + 4
        label_w = max(w - rw - label_x, 20)
        for i, e in enumerate(self.entries[: self.rows]):
            y = 2 + i * row
            p.setPen(muted)
            p.drawText(QRectF(4, y, num_w, row), _VRIGHT, str(i + 1))
            mv = self.moves[i] if i < len(self.moves) else 0
            if mv:
                p.setPen(UP_COLOUR if mv > 0 else DOWN_COLOUR)
                p.drawText(QRectF(8 + num_w, y, mv_w, row), _VLEFT, f"\u25b2{mv}" if mv > 0 else f"\u25bc{-mv}")
            elif mv is None:
                p.setPen(UP_COLOUR)
                p.drawText(QRectF(8 + num_w, y, mv_w, row), _VLEFT, "new")
            p.setPen(muted)
            p.drawText(QRectF(w - rw, y, rw - 4, row), _VRIGHT, f"{e.score:6.2f}  p {e.propensity:.2f}")
            c = e.clip
            key = (c.id, label_w)
            st = self._texts.get(key)
            if st is None:  # title, creator and topics of a clip do not change: elide and lay out once
                topics = " ".join(f"#{t}" for t in c.topics)
                st = self._static(key, fm.elidedText(f"{c.title}  @{c.creator} {topics}", Qt.TextElideMode.ElideRight, label_w))
            p.setPen(text if e.decided else muted)
            p.drawStaticText(QPointF(label_x, y + dy), st)
        p.end()


class DevPanel(QWidget):
    """Live controls for the engine's ranker. ``last_change_ms``: the last change, control to queue painted."""

    param_applied = Signal(str, object, object)  # name, old, new (after the queue was re-drawn)
    message_changed = Signal(str, bool)  # text, is_error
    editing_finished = Signal()  # a typed value was entered: the host may give the focus back to the player

    def __init__(self, engine, recorder=None, *, presets_dir: Path | str = PRESETS_DIR,  # noqa: ANN001
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.recorder = recorder
        self.presets_dir = Path(presets_dir)
        self.host = getattr(engine, "plugin_host", None)
        self.rows: dict[str, ParamRow] = {}
        self._spec: tuple[Param, ...] = ()
        self.last_change_ms: float | None = None
        self.failures: list[dict] = []

        self.setMinimumWidth(340)
        self.setPalette(dark_palette(self.palette()))
        self.setAutoFillBackground(True)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(6)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        outer.addWidget(self.title)

        self.plugin_box = QGroupBox("Plugin")
        pl = QVBoxLayout(self.plugin_box)
        self.plugin_path = QLabel()
        self.plugin_path.setWordWrap(True)
        self.plugin_path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plugin_status = QLabel()
        self.plugin_status.setWordWrap(True)
        self.reload_button = QPushButton("Reload now")
        self.reload_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reload_button.clicked.connect(self.reload_plugin)
        head = QHBoxLayout()
        head.addWidget(self.plugin_status, 1)
        head.addWidget(self.reload_button)
        self.failure_title = QLabel()
        _set_text_colour(self.failure_title, ERROR_COLOUR)
        self.failure_title.setWordWrap(True)
        self.traceback_view = QPlainTextEdit()
        self.traceback_view.setReadOnly(True)
        self.traceback_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.traceback_view.setFont(monospace_font())
        self.traceback_view.setMinimumHeight(110)
        self.traceback_view.setMaximumHeight(190)
        pl.addWidget(self.plugin_path)
        pl.addLayout(head)
        pl.addWidget(self.failure_title)
        pl.addWidget(self.traceback_view)
        self.failure_title.hide()
        self.traceback_view.hide()
        outer.addWidget(self.plugin_box)
        self.plugin_box.setVisible(self.host is not None)

        self.params_widget = QWidget()
        self.grid = QGridLayout(self.params_widget)
        self.grid.setContentsMargins(0, 0, 4, 0)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(3)
        self.grid.setColumnStretch(1, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.params_widget)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll = scroll
        outer.addWidget(scroll, 1)

        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save preset\u2026")
        self.load_button = QPushButton("Load preset\u2026")
        self.defaults_button = QPushButton("Defaults")
        for b in (self.save_button, self.load_button, self.defaults_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(b)
        self.save_button.clicked.connect(self.save_preset_dialog)
        self.load_button.clicked.connect(self.load_preset_dialog)
        self.defaults_button.clicked.connect(self.reset_all)
        outer.addLayout(buttons)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.message)

        up = QLabel("<b>Up next</b> (what the ranker would serve now; \u25b2\u25bc: moved by the last change)")
        up.setWordWrap(True)
        outer.addWidget(up)
        self.queue = UpNextList()
        outer.addWidget(self.queue)

        self._refresh_timer = QTimer(self, singleShot=True, interval=0)
        self._refresh_timer.timeout.connect(self._deferred_refresh)
        for event in ("view_did_finish", "pick_did_decide", "following_did_change"):
            hook(engine, event, self._engine_moved)
        hook(engine, "ranker_param_did_change", self._param_did_change)
        hook(engine, "ranker_did_reload", self._did_reload)
        hook(engine, "ranker_did_fail", self._did_fail)
        self._reload_timer = QTimer(self, interval=50)  # finishes a reload started by the button
        self._reload_timer.timeout.connect(self._poll_reload)
        self.rebuild()
        self._show_plugin_status()
        if self.host is not None and self.host.failures:  # failed before this panel existed (e.g. in bind)
            self._did_fail(self.host.failures[-1])
        self.refresh_queue()

    def sizeHint(self) -> QSize:
        return QSize(380, 820)

    def design_height(self) -> int:
        """The height (design units) the panel needs at least; the parameter list scrolls below that."""
        return 560

    def set_ui_scale(self, s: float) -> None:
        """Text and controls ``s`` times their design size (the window calls this; see PlayerWindow)."""
        if abs(s - getattr(self, "ui_scale", 0.0)) < 1e-3:
            return
        self.ui_scale = s
        f = QFont(self.font())
        f.setPixelSize(max(9, round(BASE_PX * s)))
        self.setFont(f)
        for row in self.rows.values():
            row.set_ui_scale(s)

    # -- building ---------------------------------------------------------------------------------
    def rebuild(self, force: bool = False) -> bool:
        """(Re)make one row per parameter of the ranker now serving; True if the spec changed."""
        spec = tuple(self.engine.ranker.spec())
        if spec == self._spec and not force:
            return False
        for row in self.rows.values():
            for w in row.widgets():
                self.grid.removeWidget(w)
                w.deleteLater()
        self.rows.clear()
        self._spec = spec
        params = self.engine.ranker.params
        for i, p in enumerate(spec):
            row = ParamRow(p, params.get(p.name, p.default), self)
            if getattr(self, "ui_scale", 0.0):  # the window has scaled the panel already
                row.set_ui_scale(self.ui_scale)
            for col, w in enumerate(row.widgets()):
                self.grid.addWidget(w, i, col)
            self.rows[p.name] = row
        self.grid.setRowStretch(len(spec), 1)
        r = self.engine.ranker
        kind = "learns from every view" if getattr(r, "is_learner", False) else "does not learn"
        desc = getattr(r, "description", "")
        self.title.setText(f"<b>Ranker: {html.escape(r.name)}</b> ({kind})<br><span>{html.escape(desc)}</span>")
        return True

    def sync(self, name: str | None = None) -> None:
        """Show the engine's current values in the controls (all, or one parameter)."""
        params = self.engine.ranker.params
        for n, row in self.rows.items():
            if name is None or n == name:
                row.show(params.get(n, row.p.default))

    # -- changing ---------------------------------------------------------------------------------
    def _control_changed(self, name: str, value: float | int, source: str) -> None:
        """A control's valueChanged: apply, re-rank, repaint the queue; ``last_change_ms`` times all of it."""
        t0 = time.perf_counter()
        if self.set_param(name, value) and self._last_set_changed:
            self.last_change_ms = (time.perf_counter() - t0) * 1000.0

    _last_set_changed = False

    def set_param(self, name: str, value: object) -> bool:
        """Apply one value through the engine (as a control does); False, with a message, if refused."""
        self._last_set_changed = False
        old = self.engine.ranker.params.get(name)
        if old == value:
            self.sync(name)
            return True
        try:
            self.engine.set_param(name, value)
        except ParameterError as e:
            self.show_message(f"{e} \u2014 kept {self._fmt(name, old)}.", error=True)
            self.sync(name)
            return False
        new = self.engine.ranker.params.get(name)
        self.sync(name)
        self.refresh_queue(paint_now=True)
        self._last_set_changed = True
        self.show_message(f"{name}: {self._fmt(name, old)} \u2192 {self._fmt(name, new)}", error=False)
        self.param_applied.emit(name, old, new)
        return True

    def _fmt(self, name: str, v: object) -> str:
        row = self.rows.get(name)
        if isinstance(v, float) and row is not None:
            text = f"{v:.{row.scale.decimals}f}"
            return text.rstrip("0").rstrip(".") if "." in text else text
        return f"{v}"

    def reset_all(self) -> int:
        """Every parameter back to its default (each change logged); returns how many changed."""
        n = 0
        for p in self._spec:
            if self.engine.ranker.params.get(p.name) != p.default and self.set_param(p.name, p.default):
                n += 1
        self.show_message(f"{n} parameter(s) back to their defaults" if n else "All parameters are at their defaults.", False)
        return n

    # -- queue ------------------------------------------------------------------------------------
    def refresh_queue(self, paint_now: bool = False) -> None:
        """Ask the engine for the next clips and draw them (``paint_now``: paint before returning)."""
        self._refresh_timer.stop()
        try:
            entries = self.engine.upcoming(UP_NEXT)
        except Exception as e:  # noqa: BLE001 - shown, never a traceback dialog; the feed goes on
            self.show_message(f"The up-next list could not be computed: {type(e).__name__}: {e}", error=True)
            return
        self.queue.set_entries(entries)
        if paint_now:
            self.queue.repaint()

    def _engine_moved(self, *args: object) -> None:
        if self.isVisible():
            self._refresh_timer.start()

    def _deferred_refresh(self) -> None:
        if self.isVisible():
            self.refresh_queue()

    def _param_did_change(self, name: str, old: object, new: object) -> None:
        """A change from anywhere (this panel, a preset, another panel): show it."""
        row = self.rows.get(name)
        if row is not None:
            row.show(new)
        self._engine_moved()

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt API
        super().showEvent(event)
        self.rebuild()
        self.sync()
        self.refresh_queue()  # the catalog may have grown or views been learned while hidden

    # -- messages ---------------------------------------------------------------------------------
    def show_message(self, text: str, error: bool) -> None:
        _set_text_colour(self.message, ERROR_COLOUR if error else OK_COLOUR)
        self.message.setText(text)
        self.message_changed.emit(text, error)

    # -- presets ----------------------------------------------------------------------------------
    def ranker_id(self) -> str:
        """What a preset names: the registry name, or the plugin's ``file.py:Class`` while it serves."""
        if self.host is not None:
            guard = self.host.guard
            if not (guard.failed_over and guard.serving == guard.fallback_name):
                return self.host.spec
        return self.engine.ranker.name

    def _same_ranker(self, name: str) -> bool:
        mine = self.ranker_id()
        if name == mine:
            return True
        if is_plugin_spec(name) and is_plugin_spec(mine):
            (pa, ca), (pb, cb) = parse_spec(name), parse_spec(mine)
            return ca == cb and pa.resolve() == pb.resolve()
        return False

    def save_preset_to(self, path: str | Path) -> Path | None:
        """Write the current values to ``path`` (TOML); the path, or None with a message."""
        try:
            out = save_preset(path, self.ranker_id(), dict(self.engine.ranker.params), spec=tuple(self.engine.ranker.spec()))
        except (PresetError, OSError) as e:
            self.show_message(f"The preset was not saved: {e}", error=True)
            return None
        self.show_message(f"Saved the preset to {out}", error=False)
        if self.recorder is not None:
            self.recorder.event("preset_saved", path=str(out), ranker=self.ranker_id())
        return out

    def load_preset_from(self, path: str | Path) -> list[tuple[str, object, object]] | None:
        """Read a preset and apply it (each change logged); the changes, or None with a message."""
        try:
            # the running ranker's spec: a plugin's file is not imported into this process again
            preset = load_preset(path, spec_of=lambda name: tuple(self.engine.ranker.spec())
                                 if self._same_ranker(name) else None)
        except PresetError as e:
            self.show_message(str(e), error=True)
            return None
        if not self._same_ranker(preset.ranker):
            self.show_message(f"{path} is a preset for ranker {preset.ranker!r}; the feed runs {self.ranker_id()!r}. "
                              "Nothing was changed.", error=True)
            return None
        try:
            changed = apply_preset(self.engine, preset)
        except (PresetError, ParameterError) as e:
            self.sync()
            self.show_message(f"The preset was not applied: {e}", error=True)
            return None
        self.sync()
        self.refresh_queue(paint_now=True)
        self.show_message(f"Loaded {Path(path).name}: {len(changed)} parameter(s) changed", error=False)
        if self.recorder is not None:
            self.recorder.event("preset_loaded", path=str(path), ranker=preset.ranker, changed=len(changed))
        return changed

    def _dialog(self, save: bool) -> QFileDialog:
        self.presets_dir.mkdir(parents=True, exist_ok=True)
        dlg = QFileDialog(self, "Save ranker preset" if save else "Load ranker preset", str(self.presets_dir),
                          "Ranker presets (*.toml);;All files (*)")
        dlg.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # the same dialog everywhere (and in tests)
        dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave if save else QFileDialog.AcceptMode.AcceptOpen)
        dlg.setFileMode(QFileDialog.FileMode.AnyFile if save else QFileDialog.FileMode.ExistingFile)
        dlg.setDefaultSuffix("toml")
        if save:
            dlg.selectFile(f"{self.engine.ranker.name}.toml")
        return dlg

    def save_preset_dialog(self) -> Path | None:
        dlg = self._dialog(save=True)
        if not dlg.exec() or not dlg.selectedFiles():
            return None
        return self.save_preset_to(dlg.selectedFiles()[0])

    def load_preset_dialog(self) -> list | None:
        dlg = self._dialog(save=False)
        if not dlg.exec() or not dlg.selectedFiles():
            return None
        return self.load_preset_from(dlg.selectedFiles()[0])

    # -- plugins ----------------------------------------------------------------------------------
    def _show_plugin_status(self) -> None:
        if self.host is None:
            return
        guard = self.host.guard
        self.plugin_path.setText(f"<b>{html.escape(self.host.class_name)}</b> from <code>{html.escape(str(self.host.path))}</code>")
        state = "falling back" if guard.failed_over else "serving"
        loading = " \u00b7 loading a new version\u2026" if self.host.reloading else ""
        self.plugin_status.setText(f"version {guard.version} \u00b7 {self.host.reloads} reload(s) \u00b7 "
                                   f"{state}: {guard.serving} \u00b7 budget {self.host.budget_ms:g} ms per call{loading}")

    def reload_plugin(self, wait: bool = False) -> bool | None:
        """Load the plugin file again now (as on save); the feed keeps serving whatever happens.

        The new version loads in its own process: this returns at once (None) and a timer swaps it in
        when it is ready (``wait=True``: wait for it; True/False as ``PluginHost.reload``).
        """
        if self.host is None:
            return None
        ok = self.host.reload(wait=wait)
        if ok is None:
            self._reload_timer.start()
        self._show_plugin_status()
        return ok

    def _poll_reload(self) -> None:
        if self.host is None or not _alive(self):
            return
        if self.host.poll() is not None or not self.host.reloading:
            self._reload_timer.stop()
        self._show_plugin_status()

    def _did_fail(self, info: dict) -> None:
        self.failures.append(dict(info))
        method = info.get("method", "?")
        back = f" while {info['restoring']} restarts" if info.get("restoring") else ""
        title = (f"{info.get('ranker', 'the plugin')} failed in {method}(): {info.get('message', '')}\n"
                 f"The feed goes on with {info.get('fallback', 'the fallback')}{back}.")
        self.failure_title.setText(title)
        self.failure_title.show()
        text = str(info.get("traceback", ""))
        if info.get("output"):
            text += f"\n--- what the plugin printed last ---\n{info['output']}"
        self.traceback_view.setPlainText(text)
        self.traceback_view.show()
        self.traceback_view.verticalScrollBar().setValue(self.traceback_view.verticalScrollBar().maximum())
        self.plugin_box.show()
        self._show_plugin_status()
        self.show_message(f"Plugin failure in {method}(); the feed goes on with {info.get('fallback', 'the fallback')}.",
                          error=True)
        QTimer.singleShot(0, self._after_ranker_swap)  # not inside the engine call that failed

    def _did_reload(self, info: dict) -> None:
        self._show_plugin_status()
        if self.failures:
            self.failure_title.setText(f"Earlier failure (version {self.failures[-1].get('version', '?')}); "
                                       f"version {info.get('version')} is serving now.")
        verb = "Restarted" if info.get("restored") else "Reloaded"
        self.show_message(f"{verb} version {info.get('version')}: {info.get('views_replayed', 0)} view(s) replayed "
                          f"in {info.get('ms', 0)} ms", error=False)
        QTimer.singleShot(0, self._after_ranker_swap)

    def _after_ranker_swap(self) -> None:
        if not _alive(self):
            return
        self.rebuild()
        self.sync()
        self._engine_moved()
