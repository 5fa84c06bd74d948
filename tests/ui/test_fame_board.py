"""The fame board: advances on its timer while shown, paints, and shows fame_report's figures."""

from __future__ import annotations


import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from feedapp.core.fame_live import NEWCOMER, FameProcess, LiveFame
from feedapp.ui.panels.fame import ACCENT, FameBoard


def small_live() -> LiveFame:
    return LiveFame(viewers=6, views=30, creators=8, newcomer_at=10, seed=2)


@pytest.fixture()
def board(qtbot):
    b = FameBoard(small_live, budget_ms=4.0, interval_ms=5)
    qtbot.addWidget(b)
    b.resize(760, 640)
    b.show()
    qtbot.waitExposed(b)
    yield b
    b.timer.stop()


def accent_pixels(board: FameBoard) -> int:
    img = board.canvas.grab().toImage()
    n = 0
    for y in range(0, img.height(), 2):
        for x in range(0, img.width(), 2):
            c = QColor(img.pixel(x, y))
            if abs(c.red() - ACCENT.red()) < 12 and abs(c.green() - ACCENT.green()) < 12 and abs(c.blue() - ACCENT.blue()) < 12:
                n += 1
    return n


def test_the_board_advances_on_its_own_and_shows_fame_reports_figures(qtbot, board):
    assert board.timer.isActive()
    qtbot.waitUntil(lambda: board.live.rounds_done >= 16, timeout=30000)
    qtbot.mouseClick(board.run_button, Qt.MouseButton.LeftButton)  # pause
    assert board.paused and not board.timer.isActive() and board.run_button.text() == "Run"
    live = board.live
    live.advance_rounds(1)  # finish the round in progress: fame_report needs whole rounds
    board.refresh()
    snap = board.canvas.snap
    assert snap["round"] == live.rounds_done >= 17
    for p in ("foryou", "following", "popular"):
        rep = live.report(p)  # feedapp.core.fame.fame_report on the same simulated rows
        fig = snap["policies"][p]
        assert round(fig["gini"], 4) == rep["gini"]
        assert round(fig["top10_share"], 4) == rep["top10_share"]
        assert dict(zip(snap["creators"], fig["impressions"])) == {c["creator"]: c["impressions"] for c in rep["creators"]}
        assert round(fig["newcomer"]["share_after_arrival"], 4) == rep["newcomer"]["share_after_arrival"]
        assert round(fig["newcomer"]["reach"], 4) == rep["newcomer"]["reach"]
    assert f"view {live.rounds_done}/30" in board.status.text() and "paused" in board.status.text()


def test_the_newcomer_appears_on_the_board_once_it_joins(qtbot, board):
    qtbot.mouseClick(board.run_button, Qt.MouseButton.LeftButton)  # pause and step by hand
    board.live.advance_rounds(9)
    board.refresh()
    assert all(f["newcomer"]["impressions"] == 0 for f in board.canvas.snap["policies"].values())
    assert board.canvas.snap["newcomer"] == NEWCOMER
    before = accent_pixels(board)
    board.live.advance_rounds(21)
    assert board.live.done
    board.refresh()
    assert board.canvas.snap["policies"]["foryou"]["newcomer"]["impressions"] > 0
    assert accent_pixels(board) > before + 20  # the newcomer's bar (accent colour) is now drawn
    assert set(board.canvas.reports) == {"foryou", "following", "popular"}  # breakouts at the end
    assert "finished" in board.status.text()


def test_it_runs_only_while_shown_and_restarts_fresh(qtbot, board):
    qtbot.waitUntil(lambda: board.live.views_done > 0, timeout=5000)
    board.hide()
    assert not board.timer.isActive()
    done = board.live.views_done
    qtbot.wait(60)
    assert board.live.views_done == done
    board.show()
    assert board.timer.isActive()
    first = board.live
    qtbot.mouseClick(board.restart_button, Qt.MouseButton.LeftButton)
    assert board.live is not first and board.timer.isActive()


def test_ticks_keep_to_their_budget(qtbot):
    """Every tick hands LiveFame.advance the board's time budget (advance's own stop at the budget is
    tested with a fake clock in tests/core/test_fame_live.py); the time a tick takes is a speed figure,
    measured by benchmarks/dev_panel.py on a quiet machine, not here where CI shares the cores."""
    asked: list[float | None] = []

    class Recording(LiveFame):
        def advance(self, views=None, budget_ms=None, **kw):  # noqa: ANN001, ANN003
            asked.append(budget_ms)
            return super().advance(views, budget_ms, **kw)

    b = FameBoard(lambda: Recording(viewers=20, views=40, creators=12, newcomer_at=15), budget_ms=6.0, interval_ms=1)
    qtbot.addWidget(b)
    b.resize(760, 640)
    b.show()
    # 60 ticks, or the end of the simulation (the timer stops then; on a fast quiet machine it came first)
    qtbot.waitUntil(lambda: len(b.tick_ms) >= 60 or b.done, timeout=30000)
    b.timer.stop()
    assert len(asked) >= 3 and set(asked) == {6.0}  # (52 ticks to the end here; the work never fits in one budget)
    assert b.canvas.paint_ms  # the figures were drawn while it ran


def test_the_worker_process_board_shows_the_same_figures_and_ends_with_it(qtbot):
    args = dict(viewers=4, views=14, creators=6, newcomer_at=5, seed=4)
    b = FameBoard(make_process=lambda: FameProcess(duty=1.0, every_ms=20, **args))
    qtbot.addWidget(b)
    b.resize(760, 640)
    assert b.proc is None  # nothing runs until the board is looked at
    b.show()
    qtbot.waitExposed(b)
    assert b.proc is not None and b.proc.process.is_alive()
    qtbot.waitUntil(lambda: b.done, timeout=60000)
    live = LiveFame(**args)  # the same simulation in this process: deterministic, so the same rows
    live.advance_rounds(14)
    mine = live.snapshot()
    snap = b.canvas.snap
    for p in live.policies:
        assert snap["policies"][p]["impressions"] == mine["policies"][p]["impressions"]
        assert snap["policies"][p]["gini"] == mine["policies"][p]["gini"]
        assert snap["reports"][p] == live.report(p)  # fame_report computed in the worker
        assert b.canvas.reports[p]["breakouts"] == live.report(p)["breakouts"]
    assert "finished" in b.status.text()
    proc = b.proc.process
    b.shutdown()
    assert not proc.is_alive()


def test_the_share_labels_sit_clear_of_the_fair_share_ticks(qtbot, board):
    """The white fair-share tick crossed the "6%" beside short bars (seen at 1366x768, G): the shares
    now stand in their own column, right of every bar and tick."""
    qtbot.waitUntil(lambda: board.canvas.snap is not None, timeout=5000)
    for size in ((760, 640), (520, 420)):
        board.canvas.resize(*size)
        board.canvas.grab()  # paints
        labels = board.canvas.share_labels
        assert set(labels) == set(board.canvas.snap["policies"]) and all(labels.values())
        for column in labels.values():
            for left, right, tick, bar in column:
                assert tick < left - 1 and bar < left - 1 and right - left > 5, (left, right, tick, bar)


def test_the_share_column_widens_with_the_boards_scale(qtbot, board):
    """Scaled up (a fullscreen window: 1.7), "45%" is wider than the column's 34 design pixels: the
    column follows the text, so the longest bar and the ticks still end left of every label."""
    qtbot.waitUntil(lambda: board.canvas.snap is not None, timeout=5000)
    board.timer.stop()
    for s in (1.7, 2.5):
        board.set_ui_scale(s)
        board.canvas.resize(round(760 * s), round(640 * s))
        board.canvas.grab()
        board.canvas.grab()  # (the labels' sizes are known from the first paint on)
        for column in board.canvas.share_labels.values():
            for left, right, tick, bar in column:
                assert tick < left - 1 and bar < left - 1, (s, left, tick, bar)


def test_the_newcomers_line_is_never_cut_mid_word(qtbot):
    """Seen in a new-user trial: on a 1366x768 screen with the three panels open, each column read
    "newcomer: 22.3 % since vi…". A column too narrow for the long line gets the short one whole."""
    from PySide6.QtGui import QFont, QFontMetrics

    from feedapp.ui.panels.fame import newcomer_lines

    f = QFont()
    f.setPixelSize(13)
    fm = QFontMetrics(f)
    new = {"share_after_arrival": 0.223, "fair_share": 0.111, "reach": 1.0}
    snap = {"newcomer_arrived": True, "newcomer_at": 40, "viewers": 40}
    long_text = "newcomer: 22.3 % since view 40"
    assert newcomer_lines(new, snap, fm, fm, fm.horizontalAdvance(long_text) + 1)[0] == long_text
    narrow = fm.horizontalAdvance(long_text) - 10
    text, sub = newcomer_lines(new, snap, fm, fm, narrow)
    assert text == "newcomer: 22.3 %" and fm.horizontalAdvance(text) <= narrow
    assert sub == "fair 11.1 % \u00b7 reached 40/40"
    assert newcomer_lines(new, {**snap, "newcomer_arrived": False}, fm, fm, narrow)[0] == "newcomer joins at view 40"
