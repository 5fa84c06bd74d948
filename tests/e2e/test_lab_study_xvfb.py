"""A whole two-participant study on a real X server (its own Xvfb, tests/e2e/xvfb.py), driven by real X input (xdotool).

Each participant: the start dialog (id and the study's fields typed in), consent, instructions,
practice, the feed until its view limit, the questionnaire, the debrief. A third participant refuses
consent. Then the researcher's commands: validate, report, export, withdraw (a near-miss id first),
export again, and every exported file is loaded with the codebook's types.

Screenshots of the new screens for the docs: ``xvfb-run -a -s "-screen 0 1280x1024x24" .venv/bin/python -m
tests.e2e.test_lab_study_xvfb docs/screenshots``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_lab_xvfb import FEEDAPP, PY, ROOT, make_catalog
from tests.e2e.xvfb import on_xvfb

pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)"),
    pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed"),
]

STUDY = "e2e-study"


def write_study(path: Path, catalog: Path) -> Path:
    path.write_text(f"""
[study]
name = "{STUDY}"
catalog = "{catalog.as_posix()}"
participant_pattern = "P[0-9]{{2}}"
skip_threshold_ms = 1000
consent = "We record which clips you watch, under a code. Do you agree to take part?"
instructions = "Press Down for the next clip."
debrief = "Thank you! The clips were ordered by a ranker."

[limits]
views = 2
minutes = 5

[practice]
clips = 1

[[fields]]
name = "age"
label = "Age"
type = "number"
whole = true
min = 18
max = 99

[[fields]]
name = "hand"
label = "Handedness"
type = "choice"
choices = ["left", "right"]

[[fields]]
name = "notes"
label = "Notes"
required = false

[[questionnaire]]
id = "enjoyed"
type = "likert"
text = "I enjoyed the clips."
points = 5
labels = ["not at all", "very much"]

[[questionnaire]]
id = "again"
type = "choice"
text = "Would you use this feed again?"
choices = ["yes", "no"]

[[questionnaire]]
id = "comments"
type = "text"
text = "Anything else?"
required = false

[conditions.foryou]
ranker = "foryou"
warmup = ["clip 0.mp4"]

[conditions.random]
ranker = "random"
warmup = ["clip 0.mp4"]
""")
    return path


def participant_script(study: Path, db: Path, err: Path, pid: str, age: str, hand_key: str, likert: int, choice: int,
                       comment: str, shots: Path | None = None) -> str:
    """The experimenter types the id and fields; the participant agrees, practises, swipes, answers."""
    grab = (lambda name: f"{PY} -m tests.e2e.grab_screen '{shots / name}'") if shots else (lambda name: "true")
    return f"""
{FEEDAPP} lab '{study}' --mute --db '{db}' 2>>'{err}' &
APP=$!
sleep 5
xdotool type --delay 60 {pid}; sleep 0.3
xdotool key Tab Tab Tab; xdotool type --delay 60 {age}; sleep 0.2
xdotool key Tab; xdotool type {hand_key}; sleep 0.2
xdotool key Tab; xdotool type --delay 40 'desk 2'; sleep 0.3
{grab("dialog.png")}
xdotool key Return; sleep 4
xdotool mousemove 240 300
{grab("consent.png")}
xdotool key space; sleep 1
xdotool key Return; sleep 1
xdotool key Return; sleep 2.5
xdotool key Down; sleep 2
xdotool key Return; sleep 2.5
xdotool key Down; sleep 1.8
xdotool key Down; sleep 2
{grab("questionnaire-empty.png")}
xdotool type {likert}; sleep 0.3
xdotool key Tab; xdotool type {choice}; sleep 0.3
xdotool key Tab; xdotool type --delay 40 '{comment}'; sleep 0.3
{grab("questionnaire.png")}
xdotool key Tab; xdotool key space; sleep 1.5
{grab("debrief.png")}
xdotool key Return
wait $APP
echo "{pid}-rc=$?"
"""


def refusal_script(study: Path, db: Path, err: Path) -> str:
    """A participant who does not agree: Tab to "I do not agree", Space; then Close. (No window manager: the
keyboard goes to the window under the pointer, so the pointer is moved onto the lab window.)"""
    return f"""
{FEEDAPP} lab '{study}' --mute --db '{db}' 2>>'{err}' &
APP=$!
sleep 5
xdotool type --delay 60 P05; sleep 0.3
xdotool key Tab Tab Tab; xdotool type --delay 60 40; sleep 0.2
xdotool key Tab; xdotool type l; sleep 0.2
xdotool key Tab; sleep 0.2
xdotool key Return; sleep 4
xdotool mousemove 240 300
xdotool key Tab; sleep 0.3; xdotool key space; sleep 1.5
xdotool key Return
wait $APP
echo "P05-rc=$?"
"""


def run_xvfb(script: str, tmp_path: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # a real xcb window, not offscreen
    env["FEEDAPP_DATA"] = str(tmp_path / "data")
    return subprocess.run([*on_xvfb("1280x1024x24"), "bash", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def feedapp(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*FEEDAPP.split(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          input=stdin)


def load_with_codebook(folder: Path) -> dict[str, list[dict]]:
    """Every CSV of an export, each value converted with the type codebook.csv gives its column."""
    types = {"text": str, "integer": int, "real": float}
    with open(folder / "codebook.csv", encoding="utf-8", newline="") as f:
        book: dict[str, dict[str, str]] = {}
        for row in csv.DictReader(f):
            book.setdefault(row["table"], {})[row["column"]] = row["type"]
    out = {}
    for path in sorted(folder.glob("*.csv")):
        if path.name == "codebook.csv":
            continue
        table = path.stem if path.stem in book else "view_log"  # P01_study_date.csv: a participant's view_log
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            assert reader.fieldnames == list(book[table]), path.name
            out[path.name] = [{c: None if v == "" else types[book[table][c]](v) for c, v in row.items()}
                              for row in reader]
    return out


def test_a_two_participant_study_from_start_dialog_to_typed_export(tmp_path: Path):
    catalog = make_catalog(tmp_path / "clips")
    study = write_study(tmp_path / "study.toml", catalog)
    db, err, shots = tmp_path / "study.db", tmp_path / "err.txt", tmp_path / "shots"
    shots.mkdir()
    v = feedapp("lab", "validate", str(study), "--clips", str(catalog))
    assert v.returncode == 0 and v.stdout.rstrip().endswith(f"clips in {catalog}"), v.stdout  # what lab run plays
    script = (participant_script(study, db, err, "P01", "34", "r", 4, 1, "nice cats", shots)
              + participant_script(study, db, err, "P02", "51", "l", 2, 2, "")
              + refusal_script(study, db, err))
    r = run_xvfb(script, tmp_path)
    stderr = err.read_text() if err.exists() else ""
    assert "P01-rc=0" in r.stdout and "P02-rc=0" in r.stdout and "P05-rc=0" in r.stdout, (r.stdout, r.stderr, stderr)
    assert "Traceback" not in stderr, stderr
    assert "making the demo clips" not in stderr

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = {(r["participant"], r["mode"]): dict(r) for r in conn.execute("SELECT * FROM sessions")}
    assert set(rows) == {("P01", "lab"), ("P01", "practice"), ("P02", "lab"), ("P02", "practice"), ("P05", "lab")}
    p1, p2, p5 = rows[("P01", "lab")], rows[("P02", "lab")], rows[("P05", "lab")]
    assert json.loads(p1["fields"]) == {"age": 34, "hand": "right", "notes": "desk 2"}
    assert json.loads(p2["fields"]) == {"age": 51, "hand": "left", "notes": "desk 2"}
    assert (p1["condition"], p2["condition"]) == ("random", "foryou") and p1["end_reason"] == p2["end_reason"] == "finished"
    assert p5["end_reason"] == "consent_refused" and json.loads(p5["fields"]) == {}
    assert conn.execute("SELECT COUNT(*) FROM impressions WHERE session_id = ?", [p5["id"]]).fetchone()[0] == 0
    answers = {(r["session_id"], r["item"]): (r["answer"], r["value"]) for r in conn.execute("SELECT * FROM questionnaire")}
    assert answers[(p1["id"], "enjoyed")] == ("4", 4.0) and answers[(p2["id"], "enjoyed")] == ("2", 2.0)
    assert answers[(p1["id"], "again")] == ("yes", None) and answers[(p1["id"], "comments")] == ("nice cats", None)
    assert answers[(p2["id"], "again")] == ("no", None) and answers[(p2["id"], "comments")] == (None, None)
    for pid in (p1["id"], p2["id"]):
        kinds = [k for (k,) in conn.execute("SELECT kind FROM events WHERE session_id = ? ORDER BY mono_ns", [pid])]
        assert kinds[:3] == ["study", "lab_session", "consent"] and "limit_reached" in kinds
        views = conn.execute("SELECT COUNT(*) FROM views WHERE session_id = ? AND final = 1", [pid]).fetchone()[0]
        assert views == 2
    modes = {m for (m,) in conn.execute("SELECT DISTINCT mode FROM view_log WHERE participant = 'P01'")}
    assert modes == {"lab", "practice"}
    conn.close()
    assert feedapp("check", "--db", str(db)).returncode == 0

    report = tmp_path / "report"
    rep = feedapp("lab", "report", "--db", str(db), "--study", STUDY, "--out", str(report))
    assert rep.returncode == 0, rep.stderr
    page = (report / f"study-{STUDY}.html").read_text()
    assert "Consent refused: 1" in page and "<h2>Questionnaire</h2>" in page
    export1 = tmp_path / "export1"
    assert feedapp("lab", "export", "--db", str(db), "--study", STUDY, "--out", str(export1)).returncode == 0
    # each file is named by its participant's own session date (a run crossing midnight UTC has two)
    day, day2 = p1["started_utc"][:10], p2["started_utc"][:10]
    assert (export1 / f"P01_{STUDY}_{day}.csv").exists() and (export1 / f"P02_{STUDY}_{day2}.csv").exists()

    near = feedapp("lab", "withdraw", "--db", str(db), "P1", "--yes")
    assert near.returncode == 1 and "did you mean P01?" in near.stderr
    w = feedapp("lab", "withdraw", "--db", str(db), "P01", "--yes")
    assert w.returncode == 0, w.stderr
    assert "deleted 2 sessions" in w.stdout and "still contain P01" in w.stdout
    assert str((export1 / f"P01_{STUDY}_{day}.csv").absolute()) in w.stdout
    assert str((report / f"study-{STUDY}.html").absolute()) in w.stdout
    assert str((export1 / f"P02_{STUDY}_{day2}.csv").absolute()) not in w.stdout

    export2 = tmp_path / "export2"
    assert feedapp("lab", "export", "--db", str(db), "--study", STUDY, "--out", str(export2)).returncode == 0
    files = load_with_codebook(export2)
    assert f"P02_{STUDY}_{day2}.csv" in files and not any(n.startswith("P01_") for n in files)
    assert {"sessions.csv", "view_log.csv", "questionnaire.csv", "affinities.csv", "impressions.csv"} <= set(files)
    assert all("P01" != r.get("participant") for f in files.values() for r in f)
    vl = files[f"P02_{STUDY}_{day2}.csv"]
    assert len(vl) == 2 and all(isinstance(r["since_start_ms"], float) and r["mode"] == "lab" for r in vl)
    assert all(isinstance(r["affinity"], float) for r in files["affinities.csv"]) and files["affinities.csv"]
    assert [r["value"] for r in files["questionnaire.csv"] if r["item"] == "enjoyed"] == [2.0]

    from PySide6.QtGui import QImage

    for name in ("consent.png", "questionnaire.png", "dialog.png", "debrief.png"):
        assert not QImage(str(shots / name)).isNull(), name
    if os.environ.get("FEEDAPP_KEEP_SHOTS"):
        keep = Path(os.environ["FEEDAPP_KEEP_SHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        for p in shots.iterdir():
            shutil.copy(p, keep / p.name)


if __name__ == "__main__":  # the screenshots of the new screens, cut from the window, for docs/screenshots
    import tempfile

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FEEDAPP_KEEP_SHOTS"] = str(Path(tmp) / "keep")
        test_a_two_participant_study_from_start_dialog_to_typed_export(Path(tmp))
        from PySide6.QtGui import QImage

        for name, out in (("consent.png", "lab-consent.png"), ("questionnaire.png", "lab-questionnaire.png")):
            img = QImage(str(Path(tmp) / "keep" / name))
            img.copy(0, 0, 480, 854).save(str(target / out))
            print(target / out)
