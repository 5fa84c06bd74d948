"""The gesture thresholds, without Qt: when a drag snaps, springs back or is a tap; one clip per wheel gesture."""

from __future__ import annotations

import pytest

from feedapp.ui.gestures import WHEEL_PIXEL_STEP, DragTracker, WheelGesture

MS = 1_000_000
H = 800.0


def drag(points: list[tuple[int, float]]) -> tuple[str, int]:
    (t0, y0), *rest = points
    d = DragTracker(y0=y0, ns0=t0 * MS, touch=False)
    for t, y in rest[:-1]:
        d.move(y, t * MS)
    t, y = rest[-1]
    return d.release(y, t * MS, H)


@pytest.mark.parametrize(
    "points, expected",
    [
        ([(0, 500), (100, 500)], ("tap", 0)),  # no movement
        ([(0, 500), (50, 505), (100, 504)], ("tap", 0)),  # within the slop
        ([(0, 700), (200, 400), (400, 350)], ("snap", 1)),  # up by 350 of 800 (> a quarter): next
        ([(0, 200), (200, 500), (400, 450)], ("snap", -1)),  # down by 250: previous
        ([(0, 500), (300, 450), (600, 420), (900, 420)], ("spring", 1)),  # 80 px, slowly: back
        ([(0, 500), (20, 460), (40, 420)], ("snap", 1)),  # 80 px in 40 ms: a flick
        ([(0, 500), (200, 400), (300, 380), (340, 420)], ("spring", 1)),  # up, then flicked back down
    ],
)
def test_drag_decisions(points, expected):
    assert drag(points) == expected


def test_wheel_notches_in_one_gesture_make_one_move():
    g = WheelGesture()
    results = [g.add(-120, 0, i * 10 * MS) for i in range(5)]
    assert results[0] == (1, 0) and results[1:] == [None] * 4
    g.end()  # the quiet timer fired
    assert g.add(120, 0, 999 * MS) == (-1, 999 * MS)


def test_small_trackpad_deltas_add_up_and_the_first_event_is_the_input_time():
    g = WheelGesture()
    steps = [g.add(0, -10, (5 + i) * MS) for i in range(WHEEL_PIXEL_STEP // 10 + 2)]
    decided = [s for s in steps if s is not None]
    assert decided == [(1, 5 * MS)]


def test_a_new_trackpad_gesture_unlocks_at_once():
    g = WheelGesture()
    assert g.add(-120, 0, 0) is not None and g.add(-120, 0, MS) is None
    g.begin()
    assert g.add(-120, 0, 2 * MS) == (1, 2 * MS)
