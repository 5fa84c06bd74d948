"""A seeded burst of mixed input (drags, flicks, keys, wheel bursts, taps, resizes): the view stays consistent."""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from feedapp.ui.swipe import Arrival
from tests.ui.helpers import click, drag, spin, wheel


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_mixed_input_never_breaks_the_feed(qtbot, window, seed):
    rng = random.Random(seed)
    view = window.view
    arrivals: list[Arrival] = []
    view.arrived.connect(arrivals.append)
    with qtbot.waitSignal(view.arrived, timeout=5000):
        view.start()
    device = QTest.createTouchDevice()
    for _ in range(40):
        h, x = view.height(), view.width() // 2
        action = rng.choice(["drag", "flick", "short", "key", "wheel", "tap", "resize", "touch", "help"])
        if action == "drag":
            a, b = sorted([rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * h], reverse=rng.random() < 0.6)
            drag(view, a, b, steps=5, step_ms=10)
        elif action == "flick":
            drag(view, h * 0.6, h * (0.45 if rng.random() < 0.6 else 0.75), steps=3, step_ms=5)
        elif action == "short":
            drag(view, h * 0.5, h * 0.45, hold_ms=150)
        elif action == "key":
            QTest.keyClick(view, rng.choice([Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_J, Qt.Key.Key_K, Qt.Key.Key_Space,
                                             Qt.Key.Key_M]))
        elif action == "wheel":
            sign = -1 if rng.random() < 0.6 else 1
            for _ in range(rng.randint(1, 6)):
                wheel(view, angle_y=sign * 120)
                spin(10)
        elif action == "tap":
            click(view)
        elif action == "resize":
            window.resize(rng.randint(200, 500), rng.randint(350, 900))
        elif action == "touch":
            QTest.touchEvent(view, device).press(0, QPoint(x, int(h * 0.8)))
            for f in (0.6, 0.4):
                spin(10)
                QTest.touchEvent(view, device).move(0, QPoint(x, int(h * f)))
            QTest.touchEvent(view, device).release(0, QPoint(x, int(h * 0.4)))
        elif action == "help":
            QTest.keyClick(view, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
            spin(30)
            QTest.keyClick(view, Qt.Key.Key_Escape)
        spin(rng.choice([0, 20, 80, 300]))
    qtbot.waitUntil(lambda: not view.is_animating(), timeout=5000)
    spin(1200)  # queued moves finish, the wheel gesture ends
    assert view.offset == 0.0 and not view.is_animating()
    assert view.current_clip == view.feed.current
    assert arrivals, "some moves happened"
    for a, b in zip(arrivals, arrivals[1:]):
        assert b.position - a.position == b.step  # one clip per arrival, in order
        assert b.input_ns >= a.input_ns
    assert arrivals[-1].position == view.feed.position
    # A clip grabbed mid-snap and swiped on (the touches here come 0-20 ms apart) was never at rest and has no
    # first frame; the clip the feed rests on at the end has one.
    assert arrivals[-1].first_frame_ns is not None
