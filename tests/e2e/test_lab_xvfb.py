"""``feedapp lab STUDY.toml`` end to end on a real X server (its own Xvfb, tests/e2e/xvfb.py), driven through X (xdotool).

Also makes the lab screenshots for the docs:
``xvfb-run -a -s "-screen 0 1280x1024x24" .venv/bin/python -m tests.e2e.test_lab_xvfb docs/screenshots``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clipgen import make_clip
from tests.e2e.xvfb import on_xvfb

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
FEEDAPP = f"{PY} -m feedapp"
COLOURS_BGR = [(40, 40, 220), (40, 200, 40), (220, 80, 40), (200, 200, 40), (200, 40, 200), (40, 200, 200)]
TOPICS = ("cats", "food", "travel")

pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)"),
    pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed"),
]


def make_catalog(root: Path) -> Path:
    for i, bgr in enumerate(COLOURS_BGR):
        make_clip(root / TOPICS[i % 3] / f"clip {i}.mp4", seconds=3.0, size=(270, 480), colour=bgr,
                  label=f"#{TOPICS[i % 3]} {i}")
    return root


def write_study(path: Path, catalog: Path, *, views: int = 3, practice: int = 0) -> Path:
    path.write_text(f"""
[study]
name = "e2e-lab"
catalog = "{catalog.as_posix()}"
participant_pattern = "P[0-9]{{2}}"
skip_threshold_ms = 1000
instructions = \"\"\"
Swipe up (or press Down) for the next clip and down (Up) to go back.
Watch as you would at home. The session ends by itself.
\"\"\"

[limits]
views = {views}
minutes = 5

[practice]
clips = {practice}

[conditions.foryou]
ranker = "foryou"
warmup = ["clip 0.mp4", "clip 4.mp4"]

[conditions.random]
ranker = "random"
warmup = ["clip 0.mp4", "clip 4.mp4"]
""")
    return path


def xvfb(script: str, tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # a real xcb window, not offscreen
    env["FEEDAPP_DATA"] = str(tmp_path / "data")
    return subprocess.run([*on_xvfb("1280x1024x24"), "bash", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def feedapp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*FEEDAPP.split(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_catalog(tmp_path_factory.mktemp("lab_catalog"))


def test_lab_command_runs_a_session_that_ends_by_its_view_limit(catalog: Path, tmp_path: Path):
    study = write_study(tmp_path / "study.toml", catalog)
    db, err, shot = tmp_path / "lab.db", tmp_path / "err.txt", tmp_path / "end.png"
    script = f"""
{FEEDAPP} lab '{study}' --participant P01 --yes --mute --db '{db}' 2>'{err}' &
APP=$!
sleep 5
xdotool mousemove 200 300
xdotool key Return; sleep 2
for i in 1 2 3; do xdotool key Down; sleep 1.5; done
sleep 1
{PY} -m tests.e2e.grab_screen '{shot}'
xdotool key Return
wait $APP
echo "rc=$?"
"""
    r = xvfb(script, tmp_path)
    stderr = err.read_text() if err.exists() else ""
    assert "rc=0" in r.stdout, (r.stdout, r.stderr, stderr)
    assert "Traceback" not in stderr, stderr
    assert "participant P01, condition random" in stderr  # latin square: 1 mod 2 -> the second condition
    assert f"recording to {db.resolve()}" in stderr  # the researcher sees which file holds the session
    conn = sqlite3.connect(db)
    (sid, mode, participant, condition, reason), = conn.execute(
        "SELECT id, mode, participant, condition, end_reason FROM sessions").fetchall()
    assert (mode, participant, condition, reason) == ("lab", "P01", "random", "finished")
    imps = conn.execute("SELECT clip_id, policy, propensity FROM impressions WHERE session_id = ? ORDER BY position",
                        [sid]).fetchall()
    assert len(imps) == 3 and [i[1] for i in imps] == ["warmup", "warmup", "random"] and imps[0][2] == 1.0
    kinds = [k for (k,) in conn.execute("SELECT kind FROM events WHERE session_id = ? ORDER BY mono_ns", [sid])]
    assert kinds[0] == "study" and "limit_reached" in kinds
    limit = json.loads(conn.execute("SELECT data FROM events WHERE kind = 'limit_reached'").fetchone()[0])
    assert limit["limit"] == "views" and limit["views"] == 3
    conn.close()

    c = feedapp("check", "--db", str(db))
    assert c.returncode == 0, c.stdout + c.stderr
    out = tmp_path / "report"
    rep = feedapp("lab", "report", "--db", str(db), "--study", "e2e-lab", "--out", str(out))
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert (out / "study-e2e-lab.html").exists() or any(out.glob("*.html"))
    from PySide6.QtGui import QColor, QImage

    img = QImage(str(shot))
    assert not img.isNull()
    bright = sum(1 for y in range(0, 854, 2) for x in range(0, 480, 2) if QColor(img.pixel(x, y)).lightness() > 150)
    assert bright > 100, "the end screen's text is drawn"


def test_kiosk_ignores_escape_q_and_alt_f4_and_leaves_with_hotkey_and_pin(catalog: Path, tmp_path: Path):
    study = write_study(tmp_path / "study.toml", catalog, views=50)
    db, err = tmp_path / "kiosk.db", tmp_path / "err.txt"
    script = f"""
{FEEDAPP} lab '{study}' --participant P02 --yes --kiosk --pin 2468 --mute --db '{db}' 2>'{err}' &
APP=$!
sleep 5
xdotool mousemove 300 300
xdotool key Return; sleep 2
xdotool key Down; sleep 1.2
xdotool key Escape; sleep 0.3; xdotool key q; sleep 0.3; xdotool key alt+F4; sleep 0.3; xdotool key ctrl+q; sleep 0.5
kill -0 $APP && echo "alive-after-keys"
xdotool key ctrl+shift+o; sleep 1
xdotool type --delay 50 1111; xdotool key Return; sleep 0.8
kill -0 $APP && echo "alive-after-wrong-pin"
xdotool type --delay 50 2468; xdotool key Return; sleep 0.8
xdotool key Tab; sleep 0.2; xdotool key Return
wait $APP
echo "rc=$?"
"""
    r = xvfb(script, tmp_path)
    stderr = err.read_text() if err.exists() else ""
    assert "alive-after-keys" in r.stdout and "alive-after-wrong-pin" in r.stdout, (r.stdout, stderr)
    assert "rc=0" in r.stdout, (r.stdout, r.stderr, stderr)
    conn = sqlite3.connect(db)
    (sid, reason), = conn.execute("SELECT id, end_reason FROM sessions").fetchall()
    kinds = [k for (k,) in conn.execute("SELECT kind FROM events WHERE session_id = ? ORDER BY mono_ns", [sid])]
    conn.close()
    assert reason == "quit"
    assert "operator_pin_refused" in kinds and "operator_abort" in kinds
    assert feedapp("check", "--db", str(db)).returncode == 0


def test_after_a_crash_the_next_start_continues_the_participant_in_a_linked_session(catalog: Path, tmp_path: Path):
    """kill -9 mid-session; the next `feedapp lab STUDY.toml` asks, the experimenter continues with the same id."""
    study = write_study(tmp_path / "study.toml", catalog, views=4)
    db, err1, err2 = tmp_path / "crash.db", tmp_path / "err1.txt", tmp_path / "err2.txt"
    script = f"""
{FEEDAPP} lab '{study}' --participant P03 --yes --mute --db '{db}' 2>'{err1}' &
APP=$!
sleep 5
xdotool mousemove 200 300
xdotool key Return; sleep 2
xdotool key Down; sleep 1.5
kill -9 $APP; wait $APP 2>/dev/null
sleep 6
{FEEDAPP} lab '{study}' --mute --db '{db}' 2>'{err2}' &
APP=$!
sleep 5
xdotool key Return; sleep 1.5
xdotool key Return; sleep 2
xdotool mousemove 200 300
xdotool key Return; sleep 2
for i in 1 2; do xdotool key Down; sleep 1.5; done
xdotool key Return
wait $APP
echo "rc=$?"
"""
    r = xvfb(script, tmp_path, timeout=150)
    stderr = err2.read_text() if err2.exists() else ""
    assert "rc=0" in r.stdout, (r.stdout, r.stderr, stderr)
    conn = sqlite3.connect(db)
    sessions = conn.execute("SELECT id, participant, end_reason FROM sessions ORDER BY started_utc").fetchall()
    assert [(p, e) for _, p, e in sessions] == [("P03", "recovered_after_crash"), ("P03", "finished")]
    old, new = sessions[0][0], sessions[1][0]
    data = conn.execute("SELECT data FROM events WHERE session_id = ? AND kind = 'continues_session'", [new]).fetchone()
    assert data is not None and json.loads(data[0])["session_id"] == old
    new_views = conn.execute("SELECT COUNT(*) FROM views WHERE session_id = ? AND final = 1", [new]).fetchone()[0]
    assert new_views == 2  # 4 views in all: 2 before the crash (one completed from its checkpoint) + 2
    conn.close()
    assert feedapp("check", "--db", str(db)).returncode == 0


# == screenshots for the docs (run under xvfb-run, see the module docstring) ==========================
def make_lab_screenshots(out: Path, work: Path) -> list[Path]:
    """Start dialog, instructions, the feed, the PIN dialog and the end screen, grabbed from real widgets."""
    import time

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from feedapp.lab.study import load_study
    from feedapp.media.scan import load_folder
    from feedapp.store.log import EventLog
    from feedapp.ui.app import start_qt
    from feedapp.ui.lab_window import LabSession
    from feedapp.ui.lab_dialogs import StartDialog

    def spin(ms: float) -> None:
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.005)

    out.mkdir(parents=True, exist_ok=True)
    cat = make_catalog(work / "clips")
    study = load_study(write_study(work / "study.toml", cat, views=4))
    clips = list(load_folder(cat).accepted)
    start_qt()
    saved: list[Path] = []

    def save(widget, name: str) -> None:  # noqa: ANN001
        spin(300)
        path = out / name
        widget.grab().save(str(path))
        saved.append(path)

    dialog = StartDialog(study, participant="P07", previous_sessions=lambda pid: [])
    dialog.show()
    dialog.condition_combo.setCurrentIndex(0)
    dialog.condition_combo.activated.emit(0)  # the experimenter overrides the assigned condition
    save(dialog, "lab-start-dialog.png")
    a = dialog.build_assignment()
    dialog.close()
    log = EventLog(work / "shots.db")
    lab = LabSession(study, a, clips, log, folder=cat, kiosk=False, pin="1234", muted=True)
    lab.show()
    lab.window.resize(480, 854)
    save(lab.window, "lab-instructions.png")
    lab.instructions_page.button.click()
    run = lab.main_run
    spin(1500)
    run.view.go(1, "key")
    spin(1800)
    save(lab.window, "lab-feed.png")
    lab.request_operator()
    lab.pin_dialog.pin_edit.setText("12")
    save(lab.pin_dialog, "lab-pin-dialog.png")
    lab.pin_dialog.pin_edit.setText("1234")
    lab.pin_dialog.try_pin()
    save(lab.operator_dialog, "lab-operator-menu.png")
    lab.operator_dialog.action_buttons["back"].click()
    for _ in range(3):
        run.view.go(1, "key")
        spin(1300)
    spin(800)
    save(lab.window, "lab-end.png")
    lab.close(force=True)
    log.close()
    from feedapp.ui.lab_dialogs import RecoveryDialog, duplicate_box

    box = duplicate_box("P07", [{"id": "3f2b9c1e-0000", "started_utc": "2026-11-27T14:02:11.000+00:00",
                                 "condition": "random", "end_reason": "finished"}])
    box.show()
    save(box, "lab-duplicate-participant.png")
    box.close()
    rec = RecoveryDialog({"participant": "P07", "condition": "random", "views": 37,
                          "last_utc": "2026-11-28T10:41:07.512+00:00"})
    rec.show()
    save(rec, "lab-recovery-dialog.png")
    rec.close()
    return saved


if __name__ == "__main__":
    import tempfile

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    with tempfile.TemporaryDirectory() as tmp:
        for p in make_lab_screenshots(target, Path(tmp)):
            print(p)
