"""The developer panel: controls from the spec, live changes logged and re-ranking, presets, plugins.

Real engine, real SessionRecorder with a MemorySink (wired by ``record_ranker_events`` exactly as
the composition root does), real widgets driven with real key presses and clicks.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QDoubleSpinBox, QFileDialog, QLineEdit, QSpinBox

from feedapp.core.engine import FeedEngine
from feedapp.core.model import View
from feedapp.core.plugins import PluginHost, record_ranker_events
from feedapp.preset_files import load_preset, save_preset
from feedapp.core.rankers.registry import RANKERS
from feedapp.core.records import MemorySink
from feedapp.core.session import SessionRecorder
from feedapp.core.simulate import demo_like_catalog
from feedapp.ui.panels.dev import DevPanel

os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")


def make_recorder(engine: FeedEngine) -> tuple[SessionRecorder, MemorySink]:
    sink = MemorySink()
    rec = SessionRecorder(sink, app_version="test", mode="demo", ranker=engine.ranker.name,
                          ranker_params=dict(engine.ranker.params), seed=engine.seed)
    record_ranker_events(engine, rec)  # what app.py wires
    return rec, sink


def events(sink: MemorySink, kind: str) -> list:
    return [r for k, r in sink.records if k == "event" and r.kind == kind]


def watched(engine: FeedEngine, n: int, loved: str = "cats") -> None:
    """Serve ``n`` clips and report views: long for the loved topic, quick skips otherwise."""
    for _ in range(n):
        clip = engine.next()
        good = loved in clip.topics
        engine.finish(View(clip.id, dwell_ms=clip.duration_ms * 2 if good else 900,
                           play_ms=clip.duration_ms * 2 if good else 800, loops=2 if good else 0, skipped=not good))


def shown(qtbot, panel: DevPanel) -> DevPanel:
    qtbot.addWidget(panel)
    panel.resize(380, 820)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def type_value(qtbot, spin, text: str) -> None:
    """Select the spin box's text, type ``text`` and press Enter, as a person would."""
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)


def queue_ids(panel: DevPanel) -> list[str]:
    return [e.clip.id for e in panel.queue.entries]


@pytest.fixture()
def engine() -> FeedEngine:
    return FeedEngine(demo_like_catalog(0), "foryou", seed=7)


@pytest.mark.parametrize("name", list(RANKERS))
def test_controls_are_built_from_the_spec_of_every_registered_ranker(qtbot, name):
    eng = FeedEngine(demo_like_catalog(0), name, seed=1)
    panel = shown(qtbot, DevPanel(eng))
    spec = eng.ranker.spec()
    assert list(panel.rows) == [p.name for p in spec]
    assert f"Ranker: {name}" in panel.title.text()
    for p in spec:
        row = panel.rows[p.name]
        if p.kind == "int":
            assert isinstance(row.spin, QSpinBox)
        else:
            assert isinstance(row.spin, QDoubleSpinBox) and row.spin.decimals() >= 2
        assert row.spin.value() == pytest.approx(p.default)
        assert row.slider.value() == row.scale.to_position(p.default)
        assert row.scale.to_value(row.slider.minimum()) == pytest.approx(p.min)
        assert row.scale.to_value(row.slider.maximum()) == pytest.approx(p.max)
        assert p.description in row.label.toolTip()
        # the arrows stay inside the spec's range
        row.spin.setValue(p.max)
        row.spin.stepBy(3)
        assert row.spin.value() == pytest.approx(p.max)
        row.spin.setValue(p.min)
        row.spin.stepBy(-3)
        assert row.spin.value() == pytest.approx(p.min)
    for p in spec:  # and every value set above went through the engine and is within range
        assert p.min <= eng.ranker.params[p.name] <= p.max


def test_slider_scales_linear_log_and_one_step_per_integer(qtbot, engine):
    panel = shown(qtbot, DevPanel(engine))
    assert panel.rows["max_same_topic"].scale.per_int and panel.rows["max_same_topic"].slider.maximum() == 100
    gap = panel.rows["repeat_gap"].scale
    assert gap.log and gap.to_value(gap.steps // 2) == pytest.approx(316, abs=1)  # sqrt(1 * 100000)
    prior = panel.rows["prior_precision"].scale
    assert prior.log and prior.to_value(prior.steps // 2) == pytest.approx(1.0)
    eps = panel.rows["epsilon"].scale
    assert not eps.log and eps.to_value(250) == pytest.approx(0.25)
    for row in panel.rows.values():  # every position maps back to itself (no drifting slider)
        for pos in (0, row.scale.steps // 3, row.scale.steps):
            assert row.scale.to_position(row.scale.to_value(pos)) == pos


def test_a_typed_change_applies_at_once_is_logged_and_re_ranks_the_queue(qtbot, engine):
    rec, sink = make_recorder(engine)
    watched(engine, 12)
    panel = shown(qtbot, DevPanel(engine, rec))
    before = queue_ids(panel)
    assert before == [e.clip.id for e in engine.upcoming(8)] and len(before) == 8
    type_value(qtbot, panel.rows["optimism"].spin, "5")
    assert engine.ranker.params["optimism"] == 5.0
    after = queue_ids(panel)
    assert after == [e.clip.id for e in engine.upcoming(8)]
    assert after != before  # the queue visibly re-ranked
    assert any(m for m in panel.queue.moves)  # with arrows showing how far clips moved
    ev = events(sink, "ranker_param_changed")
    assert len(ev) == 1 and ev[0].data == {"name": "optimism", "old": 0.3, "new": 5.0}
    assert ev[0].mono_ns > 0 and ev[0].utc
    assert panel.last_change_ms is not None and panel.last_change_ms < 100
    assert panel.rows["optimism"].slider.value() == panel.rows["optimism"].scale.to_position(5.0)
    assert "optimism: 0.3 \u2192 5" in panel.message.text()


def test_a_slider_move_applies_through_the_engine(qtbot, engine):
    rec, sink = make_recorder(engine)
    panel = shown(qtbot, DevPanel(engine, rec))
    row = panel.rows["creator_fatigue"]
    row.slider.setValue(row.scale.to_position(2.5))  # what a drag does: valueChanged with a new position
    assert engine.ranker.params["creator_fatigue"] == pytest.approx(2.5)
    assert row.spin.value() == pytest.approx(2.5)
    ev = events(sink, "ranker_param_changed")
    assert [(e.data["name"], e.data["old"], e.data["new"]) for e in ev] == [("creator_fatigue", 0.3, 2.5)]


def test_integer_parameters_stay_integers(qtbot, engine):
    rec, sink = make_recorder(engine)
    panel = shown(qtbot, DevPanel(engine, rec))
    type_value(qtbot, panel.rows["max_same_topic"].spin, "7")
    assert engine.ranker.params["max_same_topic"] == 7 and isinstance(engine.ranker.params["max_same_topic"], int)
    qtbot.keyClicks(panel.rows["max_same_topic"].spin.lineEdit(), ".5")  # the integer control takes no decimals
    assert "." not in panel.rows["max_same_topic"].spin.text()
    ev = events(sink, "ranker_param_changed")
    assert ev[-1].data == {"name": "max_same_topic", "old": 8, "new": 7}


@pytest.mark.parametrize(("param", "typed", "says"), [
    ("epsilon", "5", "parameter epsilon must be between 0 and 1, not 5.0"),
    ("repeat_gap", "-3", "parameter repeat_gap must be between 1 and 100000, not -3"),
    ("prior_precision", "2000", "parameter prior_precision must be between 0.001 and 1000"),
])
def test_an_out_of_range_typed_value_shows_a_clear_message_and_changes_nothing(qtbot, engine, param, typed, says):
    rec, sink = make_recorder(engine)
    panel = shown(qtbot, DevPanel(engine, rec))
    old = engine.ranker.params[param]
    messages = []
    panel.message_changed.connect(lambda text, error: messages.append((text, error)))
    type_value(qtbot, panel.rows[param].spin, typed)
    assert engine.ranker.params[param] == old
    assert panel.rows[param].spin.value() == pytest.approx(old)  # the control shows the value in use again
    assert messages and messages[-1][1] is True and says in messages[-1][0]
    assert says in panel.message.text() and "kept" in panel.message.text()
    assert "Traceback" not in panel.message.text()
    assert events(sink, "ranker_param_changed") == []


def test_changes_made_elsewhere_show_in_the_controls_and_queue(qtbot, engine):
    panel = shown(qtbot, DevPanel(engine))
    engine.set_param("epsilon", 0.5)  # e.g. another panel or a preset
    assert panel.rows["epsilon"].spin.value() == pytest.approx(0.5)
    watched(engine, 3)
    qtbot.waitUntil(lambda: queue_ids(panel) == [e.clip.id for e in engine.upcoming(8)], timeout=2000)


@pytest.mark.parametrize("scale", [1.0, 0.9])
def test_every_reset_button_stays_inside_the_scrolled_list(qtbot, engine, scale):
    """At its design width (the 1366x768 laptop gives it about that) with the list scrolling and every
    name in bold (changed), no control is cut off under the scroll bar (the reset column was)."""
    panel = shown(qtbot, DevPanel(engine))
    for p in engine.ranker.spec():
        engine.set_param(p.name, p.max if p.max != p.default else p.min)  # (a switch on by default: off)
    panel.set_ui_scale(scale)
    panel.resize(round(380 * scale), round(560 * scale))
    qtbot.waitUntil(lambda: panel.scroll.verticalScrollBar().isVisible(), timeout=2000)
    panel.params_widget.layout().activate()
    viewport = panel.scroll.viewport().width()
    for name, row in panel.rows.items():
        assert row.label.font().bold(), name
        right = row.reset.mapTo(panel.params_widget, row.reset.rect().topRight()).x()
        assert right < viewport, (name, right, viewport)


def test_preset_round_trip_through_the_panel(qtbot, engine, tmp_path):
    rec, sink = make_recorder(engine)
    panel = shown(qtbot, DevPanel(engine, rec, presets_dir=tmp_path / "presets"))
    type_value(qtbot, panel.rows["epsilon"].spin, "0.2")
    type_value(qtbot, panel.rows["repeat_gap"].spin, "25")
    type_value(qtbot, panel.rows["decay"].spin, "0.9")
    saved = dict(engine.ranker.params)
    path = panel.save_preset_to(tmp_path / "presets" / "mine.toml")
    assert path is not None and path.exists()
    assert load_preset(path).params == saved
    assert panel.reset_all() == 3
    assert engine.ranker.params["repeat_gap"] == 10
    changed = panel.load_preset_from(path)
    assert sorted(n for n, _, _ in changed) == ["decay", "epsilon", "repeat_gap"]
    assert engine.ranker.params == saved
    assert panel.rows["repeat_gap"].spin.value() == 25 and panel.rows["decay"].spin.value() == pytest.approx(0.9)
    names = [e.data["name"] for e in events(sink, "ranker_param_changed")]
    assert names.count("epsilon") == 3  # typed, reset, loaded: each change is an event
    assert [e.data["path"] for e in events(sink, "preset_saved")] == [str(path)]
    assert events(sink, "preset_loaded")[0].data["changed"] == 3


def _drive_file_dialog(path: Path, seen: list) -> None:
    """Answer the panel's file dialog like a person: pick the file and press the dialog's button."""
    def answer() -> None:
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, QFileDialog):
            QTimer.singleShot(20, answer)
            return
        seen.append(dlg.directory().absolutePath())
        name_box = dlg.findChild(QLineEdit, "fileNameEdit")  # the dialog's "File name" box
        name_box.setText(str(path))
        dlg.accept()

    QTimer.singleShot(20, answer)


def test_preset_buttons_open_file_dialogs_in_the_presets_folder(qtbot, engine, tmp_path):
    folder = tmp_path / "data" / "presets"
    panel = shown(qtbot, DevPanel(engine, presets_dir=folder))
    engine.set_param("temperature", 0.5)
    seen: list[str] = []
    _drive_file_dialog(folder / "warm.toml", seen)
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert seen == [str(folder)]
    assert load_preset(folder / "warm.toml").params["temperature"] == 0.5
    engine.set_param("temperature", 0.05)
    _drive_file_dialog(folder / "warm.toml", seen)
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    assert engine.ranker.params["temperature"] == 0.5
    assert "Loaded warm.toml" in panel.message.text()


def test_a_preset_for_another_ranker_or_a_broken_file_is_refused_with_a_message(qtbot, engine, tmp_path):
    panel = shown(qtbot, DevPanel(engine))
    other = save_preset(tmp_path / "pop.toml", "popular", {"epsilon": 0.3})
    before = dict(engine.ranker.params)
    assert panel.load_preset_from(other) is None
    assert "is a preset for ranker 'popular'; the feed runs 'foryou'" in panel.message.text()
    bad = tmp_path / "bad.toml"
    bad.write_text('ranker = "foryou"\nepsilon = 7\n')
    assert panel.load_preset_from(bad) is None
    assert "epsilon must be between 0 and 1" in panel.message.text()
    assert panel.load_preset_from(tmp_path / "missing.toml") is None
    assert "there is no preset file" in panel.message.text()
    assert engine.ranker.params == before


BROKEN = textwrap.dedent("""
    import numpy as np
    from feedapp.core.rankers import BaseRanker, Param

    class Shaky(BaseRanker):
        name = "shaky"
        description = "a plugin whose scores raise"
        own_params = (Param("boost", 1.0, 0.0, 10.0, "how much to boost"),)

        def scores(self, rng):
            return self.helper()

        def helper(self):
            raise RuntimeError("boom in scores")
""")

FIXED = BROKEN.replace('raise RuntimeError("boom in scores")', "return np.zeros(self.space.n) + self.params['boost']")


def test_a_broken_plugin_shows_its_traceback_and_the_feed_keeps_serving(qtbot, tmp_path):
    path = tmp_path / "shaky.py"
    path.write_text(BROKEN)
    eng = PluginHost.feed(demo_like_catalog(0), f"{path}:Shaky", seed=2)
    rec, sink = make_recorder(eng)
    panel = shown(qtbot, DevPanel(eng, rec))  # its first queue asks for scores: the plugin raises
    assert panel.plugin_box.isVisible()
    assert "Shaky" in panel.plugin_path.text() and str(path) in panel.plugin_path.text()
    assert panel.traceback_view.isVisible()
    tb = panel.traceback_view.toPlainText()
    assert "Traceback (most recent call last)" in tb and 'raise RuntimeError("boom in scores")' in tb
    assert "in helper" in tb
    fm = QFontMetrics(panel.traceback_view.font())
    assert fm.horizontalAdvance("iiii") == fm.horizontalAdvance("MMMM")  # monospace
    assert "failed in scores(): RuntimeError: boom in scores" in panel.failure_title.text()
    assert "foryou" in panel.failure_title.text()  # no version worked yet: the built-in serves
    served = [eng.next() for _ in range(6)]  # the feed never stopped
    assert all(c is not None for c in served)
    assert len(queue_ids(panel)) == 8
    qtbot.waitUntil(lambda: "optimism" in panel.rows, timeout=2000)  # the controls follow the fallback
    assert "falling back" in panel.plugin_status.text()
    assert events(sink, "ranker_failed")[0].data["method"] == "scores"

    path.write_text(FIXED)
    qtbot.mouseClick(panel.reload_button, Qt.MouseButton.LeftButton)  # loads in its own process, then swaps
    qtbot.waitUntil(lambda: "version 2" in panel.plugin_status.text(), timeout=10000)
    assert "version 2" in panel.plugin_status.text() and "1 reload" in panel.plugin_status.text()
    assert "Earlier failure (version 1); version 2 is serving now." in panel.failure_title.text()
    qtbot.waitUntil(lambda: "boost" in panel.rows, timeout=2000)
    type_value(qtbot, panel.rows["boost"].spin, "3")
    assert eng.ranker.params["boost"] == 3.0 and eng.ranker.name == "shaky"
    assert events(sink, "ranker_reloaded")[0].data["version"] == 2
    assert eng.next() is not None


def test_a_reload_that_does_not_load_is_shown_and_the_plugin_keeps_serving(qtbot, tmp_path):
    path = tmp_path / "shaky.py"
    path.write_text(FIXED)
    eng = PluginHost.feed(demo_like_catalog(0), f"{path}:Shaky", seed=2)
    panel = shown(qtbot, DevPanel(eng))
    assert not panel.traceback_view.isVisible()
    path.write_text(FIXED + "\n    def broken(:\n")
    assert panel.reload_plugin(wait=True) is False
    assert panel.traceback_view.isVisible() and "syntax error" in panel.traceback_view.toPlainText()
    assert eng.ranker.name == "shaky" and eng.next() is not None


def test_a_plugin_that_failed_while_the_engine_was_built_is_shown_when_the_panel_opens(qtbot, tmp_path):
    """Item 9 of issue 15: a plugin raising in bind fell back silently (no event, no message)."""
    path = tmp_path / "shaky.py"
    path.write_text(FIXED + "\n    def bind(self, space, world=None):\n        raise ValueError('cannot bind')\n")
    eng = PluginHost.feed(demo_like_catalog(0), f"{path}:Shaky", seed=2)
    rec, sink = make_recorder(eng)
    panel = shown(qtbot, DevPanel(eng, rec))
    assert panel.traceback_view.isVisible() and "ValueError: cannot bind" in panel.traceback_view.toPlainText()
    assert "failed in bind(): ValueError: cannot bind" in panel.failure_title.text()
    assert "falling back" in panel.plugin_status.text() and "budget 50 ms per call" in panel.plugin_status.text()
    assert [e.data["method"] for e in events(sink, "ranker_failed")] == ["bind"]
    assert eng.next() is not None
    eng.plugin_host.close()


def test_install_dev_tools_docks_both_panels_toggled_by_d_and_g(qtbot, ui_clips):
    from feedapp.core.catalog import Catalog
    from feedapp.ui.devtools import install_dev_tools
    from feedapp.ui.window import PlayerWindow

    eng = FeedEngine(Catalog(ui_clips), "foryou", seed=1)
    rec, sink = make_recorder(eng)
    win = PlayerWindow(eng, muted=True)
    qtbot.addWidget(win)
    win.resize(270, 480)
    win.show()
    qtbot.waitExposed(win)
    tools = install_dev_tools(win, eng, rec)
    try:
        assert win.panels["dev"] is tools.dev and win.panels["fame"] is tools.fame
        assert not tools.dev.isVisible() and not tools.fame.isVisible()
        assert tools.fame.proc is None  # no worker until the board is looked at
        w0 = win.width()
        qtbot.keyClick(win.view, Qt.Key.Key_D)
        assert tools.dev.isVisible() and win.width() > w0
        assert len(queue_ids(tools.dev)) == 6  # every clip of this small catalog, best first
        type_value(qtbot, tools.dev.rows["epsilon"].spin, "0.5")  # Enter gives the keys back to the feed
        assert eng.ranker.params["epsilon"] == 0.5
        assert events(sink, "ranker_param_changed")[-1].data == {"name": "epsilon", "old": 0.05, "new": 0.5}
        assert win.focusWidget() is win.view
        qtbot.keyClick(win.view, Qt.Key.Key_G)
        assert tools.fame.isVisible() and tools.fame.proc is not None and tools.fame.proc.process.is_alive()
        qtbot.waitUntil(lambda: tools.fame.snap is not None, timeout=30000)  # snapshots from the worker
        qtbot.keyClick(win.view, Qt.Key.Key_G)
        assert not tools.fame.isVisible() and not tools.fame.timer.isActive()
        qtbot.keyClick(win.view, Qt.Key.Key_D)
        assert not tools.dev.isVisible()
    finally:
        proc = tools.fame.proc.process if tools.fame.proc is not None else None
        tools.close()
        win.view.shutdown()
    assert proc is None or not proc.is_alive()


def test_a_plugins_own_parameters_get_controls_too(qtbot, tmp_path, monkeypatch):
    eng = PluginHost.feed(demo_like_catalog(0), "examples/plugins/topic_average.py:TopicAverage", seed=1)
    panel = shown(qtbot, DevPanel(eng))
    assert list(panel.rows)[:2] == ["prior_weight", "novelty"]
    assert isinstance(panel.rows["prior_weight"].spin, QDoubleSpinBox)
    type_value(qtbot, panel.rows["novelty"].spin, "1.5")
    assert eng.ranker.params["novelty"] == 1.5 and eng.ranker.name == "topic-average"
    assert "version 1" in panel.plugin_status.text() and "serving" in panel.plugin_status.text()
    assert not panel.traceback_view.isVisible()
    assert panel.ranker_id() == "examples/plugins/topic_average.py:TopicAverage"
    path = panel.save_preset_to(tmp_path / "topic.toml")  # a preset names the plugin file and class
    assert load_preset(path).ranker == "examples/plugins/topic_average.py:TopicAverage"
    panel.reset_all()
    assert eng.ranker.params["novelty"] == 0.3
    import feedapp.core.plugins as plugins

    def no_import(*a, **k):  # the plugin runs in its worker; loading its preset must not import it here
        raise AssertionError("the plugin file was imported into the app's process")

    monkeypatch.setattr(plugins, "load_plugin_class", no_import)
    assert [n for n, _, _ in panel.load_preset_from(path)] == ["novelty"]
    assert eng.ranker.params["novelty"] == 1.5
