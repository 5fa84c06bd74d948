"""The first line demo and play print: what plays, and that ? lists the keys (the demo, a workshop's first
command, did not say it; only play did)."""

from __future__ import annotations

from feedapp.core.model import Clip, Rejection, ScanResult
from feedapp.ui.app import start_line


def test_demo_and_play_both_say_that_question_mark_lists_the_keys(tmp_path):
    demo = start_line(0, None, None, tmp_path / "demo")
    assert demo == (f"playing the demo catalog in {tmp_path / 'demo'} (seed 0); missing clips are made in the "
                    "background; press ? for keys")
    clip = Clip(id="a", path=str(tmp_path / "a.mp4"), title="a", topics=("x",), creator="c", duration_ms=4000,
                fps=30.0, width=540, height=960)
    play = start_line(7, tmp_path, ScanResult(accepted=(clip,), rejected=(Rejection(str(tmp_path / "b.mp4"), "bad"),)), None)
    assert play == (f"playing 1 clip from {tmp_path} (seed 7); 1 file will not be played (see `feedapp scan`); "
                    "press ? for keys")  # not "1 clips", "1 file(s)"
    nothing = start_line(7, tmp_path, ScanResult(accepted=(), rejected=()), None)
    assert nothing.startswith(f"nothing to play in {tmp_path}: ") and "press ?" not in nothing  # no window to press it in
