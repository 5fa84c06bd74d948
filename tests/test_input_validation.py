"""Issue 15, "validate numbers at the edge": each bad input found by the reliability pass, reproduced as described.

Every case goes through the real command line (``feedapp.cli.main``, in-process) and asserts what a
researcher sees and what the log holds: exit code 2 (1 for a study file with problems, as documented
for ``lab validate``), one error line naming the option or field and the fix, no traceback, and no
session row for refused input. The accepted extremes are then pushed through the real writer, so
each range is shown to fit what the code downstream holds.
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feedapp.cli import UserError, main
from feedapp.config import Settings
from feedapp.ranges import LIMIT_MINUTES, QT_TIMER_MS_MAX, SEED, SEED_MAX
from tests.clipgen import make_clip

ROOT = Path(__file__).resolve().parent.parent


def cli(*argv: str) -> tuple[int, str]:
    """Run ``feedapp ARGV`` in this process: (exit code, stderr). argparse's refusals exit with 2."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(argv))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
    return code, err.getvalue()


def error_lines(err: str) -> list[str]:
    """What stderr says besides argparse's usage (which starts with "usage:" and wraps indented)."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith(("usage:", " "))]


def session_rows(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        has = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sessions'").fetchone()
        return conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] if has else 0
    finally:
        conn.close()


def assert_refused(code: int, err: str, *words: str, rc: int = 2) -> str:
    assert code == rc, err
    assert "Traceback" not in err, err
    lines = error_lines(err)
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("edge") / "clips"
    make_clip(folder / "cats" / "a.mp4", seconds=1.0)
    make_clip(folder / "art" / "b.mp4", seconds=1.0)
    return folder


def study_file(tmp_path: Path, clips: Path, extra: str = "", limits: str = "views = 5") -> Path:
    path = tmp_path / "study.toml"
    path.write_text(f'[study]\nname = "edge"\ncatalog = "{clips.as_posix()}"\n{extra}\n'
                    f'[limits]\n{limits}\n[conditions.A]\nranker = "random"\n')
    return path


# -- item 2: seeds and thresholds the writer cannot store --------------------------------------------------------
@pytest.mark.parametrize("command", ["demo", "play"])
@pytest.mark.parametrize("seed", ["9223372036854775808", "99999999999999999999", "-1", "1.5", "abc"])
def test_a_seed_sqlite_cannot_store_is_refused_before_any_session(tmp_path, clips, command, seed):
    db = tmp_path / "feed.db"
    where = [str(clips)] if command == "play" else ["--clips", str(tmp_path / "demo")]
    code, err = cli(command, *where, "--db", str(db), "--seed", seed)
    line = assert_refused(code, err, "--seed")
    assert "9,223,372,036,854,775,807" in line or "whole number" in line
    assert not db.exists() and session_rows(db) == 0  # refused before the store is even opened


def test_lab_run_seed_minus_one_is_refused_before_the_start_dialog(tmp_path, clips):
    db = tmp_path / "feed.db"
    code, err = cli("lab", "run", str(study_file(tmp_path, clips)), "-p", "P01", "--yes", "--db", str(db),
                    "--seed", "-1")
    assert_refused(code, err, "--seed", "between 0 and")
    assert session_rows(db) == 0


FIELDS = '[[fields]]\nname = "age"\ntype = "number"\nwhole = true\nmin = 18\nmax = 99\n'


@pytest.mark.parametrize("argv,words", [
    (["-p", " P01"], "spaces at its start or end"),
    (["-p", "P01", "--field", "age=abc"], "--field age"),
])
def test_lab_run_with_a_bad_participant_or_field_makes_no_database_file(tmp_path, clips, argv, words):
    db = tmp_path / "new" / "study.db"
    db.parent.mkdir()
    code, err = cli("lab", "run", str(study_file(tmp_path, clips, FIELDS)), *argv, "--yes", "--db", str(db))
    assert_refused(code, err, words)
    assert not db.exists() and list(db.parent.iterdir()) == []  # no empty file left for the researcher


@pytest.mark.parametrize("extra,field", [
    ("seed = 99999999999999999999", "study.seed"),
    ("seed = 9223372036854775808", "study.seed"),
    ("skip_threshold_ms = 99999999999999999999", "study.skip_threshold_ms"),
])
def test_a_study_number_sqlite_cannot_store_is_a_study_problem_with_its_line(tmp_path, clips, extra, field):
    f = study_file(tmp_path, clips, extra)
    code, err = cli("lab", "validate", str(f))
    assert code == 1 and "Traceback" not in err
    assert f"{f}:4: {field}: must be between 0 and" in err  # file, line and field, like every study problem
    db = tmp_path / "feed.db"
    code, err = cli("lab", "run", str(f), "-p", "P01", "--yes", "--db", str(db))
    assert code == 1 and f"{field}: must be between" in err and "Traceback" not in err
    assert session_rows(db) == 0


def test_the_largest_seed_is_recorded_by_the_real_app(tmp_path, clips):
    """The other side of item 2: 2^63-1 is accepted, and the player's writer stores it (it failed at 2^63)."""
    db = tmp_path / "feed.db"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "feedapp", "play", str(clips), "--db", str(db), "--seed", str(SEED_MAX),
                          "--skip-threshold", "600000", "--quit-after", "1.5"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    assert "could not be written" not in out.stderr and "Traceback" not in out.stderr
    conn = sqlite3.connect(db)
    (seed, skip, reason), = conn.execute("SELECT seed, skip_threshold_ms, end_reason FROM sessions").fetchall()
    conn.close()
    assert (seed, skip, reason) == (SEED_MAX, 600_000, "quit")


def test_settings_built_in_code_get_the_same_ranges(tmp_path):
    with pytest.raises(ValueError, match="--seed must be between 0 and 9,223,372,036,854,775,807"):
        Settings(db_path=tmp_path / "x.db", seed=SEED_MAX + 1).validate()
    with pytest.raises(ValueError, match="--skip-threshold must be between 0 and 600,000 ms"):
        Settings(db_path=tmp_path / "x.db", skip_threshold_ms=-1).validate()
    assert Settings(db_path=tmp_path / "x.db", seed=SEED_MAX).validate().seed == SEED_MAX
    assert SEED.parse(" 42 ") == 42


# -- item 10: a hotkey the guard can never match locks the experimenter out ------------------------------------------
@pytest.mark.parametrize("hotkey,words", [
    ("Ctrl+Bogus+Q", "a key Qt does not know"),
    ("", "no key"),
    ("Ctrl+Shift", "no key besides the modifiers"),
    ("Ctrl+A, Ctrl+B", "2 keys in a row"),
    ("Down", "can be pressed by a participant"),
    ("Shift+Q", "can be pressed by a participant"),
])
def test_an_unusable_kiosk_hotkey_is_refused_before_anything_starts(tmp_path, clips, hotkey, words):
    db = tmp_path / "feed.db"
    code, err = cli("lab", "run", str(study_file(tmp_path, clips)), "-p", "P01", "--yes", "--kiosk", "--pin", "1234",
                    "--db", str(db), "--hotkey", hotkey)
    assert_refused(code, err, "--hotkey", words, "Ctrl+Shift+O")
    assert not db.exists()


@pytest.mark.parametrize("hotkey,what", [
    ("Alt+F4", "closes the window"),
    ("Ctrl+Alt+Delete", "log-out"),
    ("ctrl+alt+del", "log-out"),
    ("Ctrl+Alt+Backspace", "X server"),
    ("Meta+L", "locks the screen"),
    ("Alt+Tab", "switches windows"),
    ("Ctrl+Alt+F1", "virtual terminal"),
    ("Ctrl+Alt+F7", "virtual terminal"),
    ("Ctrl+Alt+F12", "virtual terminal"),
])
def test_a_hotkey_the_desktop_takes_first_is_refused_in_one_line(tmp_path, clips, hotkey, what):
    """Review of item 10: these were accepted, but the desktop acts on them before the app sees them, so
    the experimenter pressing the hotkey closed the window, locked the screen or switched terminals."""
    from feedapp.ui.kiosk import hotkey_problem

    problem = hotkey_problem(hotkey)
    assert problem is not None and what in problem and "\n" not in problem
    db = tmp_path / "feed.db"
    code, err = cli("lab", "run", str(study_file(tmp_path, clips)), "-p", "P01", "--yes", "--kiosk", "--pin", "1234",
                    "--db", str(db), "--hotkey", hotkey)
    assert_refused(code, err, "--hotkey", "taken by the desktop", "Ctrl+Shift+O")
    assert not db.exists()


@pytest.mark.parametrize("hotkey", ["Ctrl+Shift+O", "ctrl+shift+o", "Alt+F9", "Meta+X", "Ctrl+Alt+F13", "Ctrl+F4",
                                    "Ctrl+Shift+Backspace"])
def test_usable_hotkeys_pass(hotkey):
    from feedapp.ui.kiosk import hotkey_problem

    assert hotkey_problem(hotkey) is None


# -- item 11: [limits] minutes past what a Qt timer counts -------------------------------------------------------
def test_a_time_limit_past_what_a_qt_timer_holds_is_a_study_problem(tmp_path, clips):
    assert 35_792 * 60_000 > QT_TIMER_MS_MAX >= LIMIT_MINUTES.hi * 60_000  # why the range stops where it does
    f = study_file(tmp_path, clips, limits="minutes = 35792")
    code, err = cli("lab", "validate", str(f))
    assert code == 1 and "Traceback" not in err
    assert f"{f}:6: limits.minutes: must be above 0 and at most 1,440 minutes, not 35792" in err
    db = tmp_path / "feed.db"
    code, err = cli("lab", "run", str(f), "-p", "P01", "--yes", "--db", str(db))
    assert code == 1 and "limits.minutes" in err and "Traceback" not in err
    assert session_rows(db) == 0


# -- item 16: simulate --plot at an existing file ----------------------------------------------------------------
def test_simulate_plot_at_a_file_is_refused_before_the_simulation(tmp_path):
    target = tmp_path / "charts.png"
    target.write_bytes(b"not a folder")
    t0 = time.monotonic()
    code, err = cli("simulate", "--viewers", "200", "--views", "100", "--plot", str(target))
    assert_refused(code, err, str(target), "is a file, not a folder")
    assert time.monotonic() - t0 < 2.0  # said at once, not after the simulation
    assert target.read_bytes() == b"not a folder"


def test_simulate_plot_below_a_file_is_one_line(tmp_path):
    target = tmp_path / "charts.png"
    target.write_bytes(b"x")
    code, err = cli("simulate", "--viewers", "3", "--views", "10", "--plot", str(target / "sub"))
    assert_refused(code, err, f"{target} is a file, not a folder")


@pytest.mark.parametrize("argv,words", [
    (["--viewers", "1000000000"], "--viewers: must be between 1 and 10,000"),
    (["--views", "0"], "--views: must be between 1 and 10,000"),
    (["--creators", "99999999999999999999"], "--creators: must be between 1 and 100,000"),
    (["--seed", "-5"], "--seed: must be between 0 and"),
    (["--switch-at", "abc"], "--switch-at: must be a whole number"),
    (["--workers", "0"], "--workers: must be between 1 and 64"),
])
def test_simulate_numbers_are_range_checked(argv, words):
    code, err = cli("simulate", *argv)
    assert_refused(code, err, words)


@pytest.mark.parametrize("argv,words", [
    (["--switch-at", "6"], "--switch-at must be a view between 1 and --views - 1 (4), not 6"),
    (["--viewer-kind", "switcher", "--switch-at", "5"], "--switch-at must be a view between 1 and --views - 1 (4)"),
    (["--newcomer-at", "9"], "--newcomer-at must be a view between 1 and --views - 1 (4), not 9"),
])
def test_simulate_views_past_the_run_are_refused_in_the_commands_words(argv, words):
    code, err = cli("simulate", "--viewers", "2", "--views", "5", *argv)
    assert "switch_at" not in err and "newcomer_at" not in err
    assert_refused(code, err, words)


# -- item 17 (first half): bad autopilot values wrote a session row first ------------------------------------------
@pytest.mark.parametrize("argv,words", [
    (["--autopilot", "cats", "--autopilot-speed", "0"], "--autopilot-speed: must be between 0.01 and 100"),
    (["--autopilot", "cats", "--autopilot-speed", "-3"], "--autopilot-speed"),
    (["--autopilot", "cats", "--autopilot-speed", "nan"], "--autopilot-speed"),
    (["--autopilot", "cats", "--autopilot-speed", "inf"], "--autopilot-speed"),
    (["--autopilot", "cats", "--autopilot-speed", "1e300"], "--autopilot-speed"),
    (["--autopilot", " , #"], "--autopilot: give the autopilot's taste"),
    (["--quit-after", "1e12"], "--quit-after"),
])
def test_bad_autopilot_values_leave_no_session_row(tmp_path, clips, argv, words):
    db = tmp_path / "feed.db"
    code, err = cli("play", str(clips), "--db", str(db), *argv)
    assert_refused(code, err, words)
    assert session_rows(db) == 0


@pytest.mark.parametrize("autopilot,speed", [("cats", 0.0), ("cats", float("nan")), (" , ", 1.0), ("cats", 1e9)])
def test_run_player_checks_the_autopilot_before_opening_the_log(tmp_path, clips, autopilot, speed):
    """Callers that bypass argparse (scripts, tests) get the same check, before any row exists."""
    from feedapp.ui.app import run_player

    db = tmp_path / "feed.db"
    with pytest.raises(UserError, match="autopilot"):
        run_player(Settings(db_path=db).validate(), folder=clips, autopilot=autopilot, autopilot_speed=speed)
    assert not db.exists()


@pytest.mark.parametrize("autopilot,words", [
    ("cat", "no clip has the topic 'cat' (did you mean 'cats'?); the topics are: art, cats"),
    ("cats,Art", "no clip has the topic 'Art' (did you mean 'art'?)"),
    ("cooking", "no clip has the topic 'cooking'; the topics are: art, cats"),
])
def test_an_autopilot_topic_no_clip_has_is_refused(tmp_path, clips, autopilot, words):
    """Seen in a new-user trial: `--autopilot cat` (the demo's topic is `cats`) ran an autopilot that
    skipped every clip, without a word."""
    db = tmp_path / "feed.db"
    code, err = cli("play", str(clips), "--db", str(db), "--autopilot", autopilot)
    assert_refused(code, err, words)
    assert session_rows(db) == 0


def test_the_demo_autopilot_topics_are_checked_against_the_demo_plan(tmp_path):
    from feedapp.ui.app import run_player

    db = tmp_path / "feed.db"
    with pytest.raises(UserError, match=r"no clip has the topic 'cat' \(did you mean 'cats'\?\); the topics are: art, "):
        run_player(Settings(db_path=db).validate(), demo_dir=tmp_path / "demo", autopilot="cat,art")
    assert not db.exists()


def test_a_demo_folder_that_cannot_be_made_is_one_line_and_leaves_no_session_row(tmp_path):
    """`feedapp demo --clips DIR` where DIR cannot be made: refused before the window, as make-demo does
    (it used to open a window that said so and record an empty session on every try)."""
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    db = tmp_path / "feed.db"
    code, err = cli("demo", "--clips", str(blocker / "demo"), "--db", str(db))
    assert_refused(code, err, "cannot create the demo folder", "--clips")
    assert session_rows(db) == 0


@pytest.mark.parametrize("argv,words", [
    (["--ranker", "nope"], "there is no ranker called 'nope'"),
    (["--param", "epsilon=2"], "parameter epsilon must be between 0 and 1"),
    (["--param", "speed=1"], "has no parameter 'speed'"),
])
def test_a_refused_ranker_or_parameter_makes_no_database_file(tmp_path, argv, words):
    """Seen in a new-user trial: `feedapp demo --db new.db --ranker nope` (or a bad --param) was refused
    in one line, but left an empty new.db behind (a typo'd --db made a stray file)."""
    db = tmp_path / "new.db"
    code, err = cli("demo", "--db", str(db), *argv)
    assert_refused(code, err, *words)
    assert not db.exists()


def test_a_missing_folder_to_play_makes_no_database_file(tmp_path):
    """`feedapp play MISTYPED --db new.db` was refused in one line but left an empty new.db behind."""
    db = tmp_path / "new.db"
    a_file = tmp_path / "clip.mp4"
    a_file.write_bytes(b"x")
    latin1 = Path(os.fsdecode(bytes(tmp_path) + b"/vid\xe9os"))  # a name made on another system
    latin1.mkdir()
    for folder, words in ((tmp_path / "nope", "does not exist"), (a_file, "is a file, not a folder"),
                          (latin1, "vid\\xe9os has a name that is not UTF-8 text")):
        code, err = cli("play", str(folder), "--db", str(db))
        assert_refused(code, err, words)
        assert not db.exists()


# -- a window where there is no display: one line, no database file, no core dump ------------------------------------
@pytest.mark.parametrize("command", ["demo", "play", "lab"])
def test_no_display_is_refused_in_words_before_any_file_is_made(tmp_path, clips, command):
    """demo, play and lab run from an SSH login (no DISPLAY, no WAYLAND_DISPLAY): Qt aborted the process
    (exit 134, 'Reinstalling the application may fix this problem') after making the database, and the lab
    probed the study's clips first. Now one line says what to do, before anything is written."""
    db = tmp_path / "feed.db"
    study = tmp_path / "study.toml"
    study.write_text(f'[study]\nname = "s"\ncatalog = "{clips}"\n[limits]\nviews = 2\n'
                     '[conditions.a]\nranker = "random"\n', encoding="utf-8")
    args = {"demo": ["demo", "--clips", str(tmp_path / "demo")], "play": ["play", str(clips)],
            "lab": ["lab", str(study), "-p", "P01", "--yes"]}[command]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run([sys.executable, "-m", "feedapp", *args, "--db", str(db)], cwd=ROOT,
                         env=dict(env, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, (out.returncode, out.stderr[-600:])
    assert out.stderr == (f"feedapp: no display found (DISPLAY is not set): `feedapp {command}` opens a window; run it "
                          f"in a desktop session, or under a virtual display: xvfb-run -a feedapp {command} ...\n")
    assert not db.exists() and not (tmp_path / "demo").exists()
