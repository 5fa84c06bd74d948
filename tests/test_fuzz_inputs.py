"""Fuzzing the edge (issue 15): typed numbers, study files and sidecars, with hypothesis.

The property, for every input: the real command line (``feedapp.cli.main``, in-process) either runs
cleanly or refuses with a clear error (exit code 2, 1 for a study file with problems as ``lab
validate`` documents; one error line besides argparse's usage; never a traceback), and refused
input never leaves a session row. Where a value is accepted, it is pushed through the real writer
(SessionRecorder -> EventLog -> SQLite) or the real scan, to show that the range fits what the code
downstream holds.

Deterministic for CI: ``derandomize=True`` (examples derived from each test, not from a random
seed), no example database (nothing left between runs), and a bounded number of examples per test.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from feedapp.cli import build_parser
from feedapp.core.session import SessionRecorder
from feedapp.lab.study import load_study
from feedapp.media.scan import FolderError, load_folder
from feedapp.media.sidecar import LIMITS, MAX_TOPICS
from feedapp.ranges import QT_TIMER_MS_MAX, SEED_MAX
from feedapp.store.log import EventLog
from tests.test_input_validation import cli, clips, error_lines, session_rows  # noqa: F401 - clips: the fixture

FUZZ = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

#: Words a person might type where a number goes: the edges of every range, and anything at all.
EDGES = ["0", "-0", "-1", "1", str(SEED_MAX), str(SEED_MAX + 1), "99999999999999999999", "9" * 5000, "1e999", "-1e999",
         "nan", "inf", "-inf", "1.5", "0.01", "0.009", "100", "100.5", "600000", "600001", "35792", "1440", "", " ",
         "0x10", "1_000", "٣", "1e3", "10000", "10001", "2147483", "2147484", "--", "=", "\x00", "４２"]
typed_number = st.one_of(
    st.sampled_from(EDGES),
    st.integers().map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12),
)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-work")


_counter = iter(range(10**9))


def fresh_db(work: Path) -> Path:
    return work / f"feed-{next(_counter)}.db"


def parses(*argv: str) -> bool:
    """Whether argparse accepts ARGV (its refusal is SystemExit(2) with usage and one error line)."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(list(argv))
        except SystemExit:
            return False
    return True


def assert_clear(code: int, err: str, allowed: tuple[int, ...] = (2,)) -> None:
    assert code in allowed, (code, err)
    assert "Traceback" not in err, err
    if code != 0:
        lines = error_lines(err)
        assert lines, err
        assert all(len(line) < 2_000 for line in lines), "an error line must not repeat a pasted novel"


def record_session(db: Path, **kwargs) -> tuple:
    """The real writer: a session row through SessionRecorder and EventLog; returns what SQLite holds."""
    log = EventLog(db)
    rec = SessionRecorder(log, app_version="fuzz", **kwargs)
    rec.end("quit")
    assert log.close(), log.fatal
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT seed, skip_threshold_ms FROM sessions WHERE id = ?", [rec.id]).fetchone()
    finally:
        conn.close()


# -- CLI numbers ---------------------------------------------------------------------------------------------------
PLAYER_OPTIONS = ["--seed", "--skip-threshold", "--autopilot-speed", "--quit-after", "--param", "--plugin-budget"]


@FUZZ
@given(option=st.sampled_from(PLAYER_OPTIONS), value=typed_number, command=st.sampled_from(["play", "demo"]))
def test_player_numbers(clips, work, option, value, command):
    """A refused number leaves no session row; an accepted one is stored exactly by the real writer."""
    db = fresh_db(work)
    where = [str(work / "no such folder")] if command == "play" else ["--clips", str(work / "no such folder" / "x")]
    arg = f"epsilon={value}" if option == "--param" else value
    argv = [command, *where, "--db", str(db), "--autopilot", "cats", f"{option}={arg}"]
    if command == "demo":  # demo would play: only its refusals are exercised in-process
        if parses(*argv):
            return
    code, err = cli(*argv)
    assert_clear(code, err)  # accepted values end at the missing folder: also one line, exit 2
    assert session_rows(db) == 0
    if parses(*argv) and option in ("--seed", "--skip-threshold"):
        n = int(value.strip().replace("_", ""), 10) if value.strip() else 0
        kw = {"seed": n} if option == "--seed" else {"skip_threshold_ms": n}
        stored = record_session(fresh_db(work), mode="play", ranker="foryou", **kw)
        assert stored == (kw.get("seed", 0), kw.get("skip_threshold_ms", 3000))


SIM_OPTIONS = ["--viewers", "--views", "--seed", "--switch-at", "--creators", "--newcomer-at", "--workers"]


@FUZZ
@given(option=st.sampled_from(SIM_OPTIONS), value=typed_number)
def test_simulate_numbers(option, value):
    argv = ["simulate", "--viewers=3", "--views=20", "--compare", "random", f"{option}={value}"]
    if parses(*argv):
        n = int(value.strip().replace("_", ""), 10)
        if option in ("--viewers", "--views", "--creators") and n > 60:
            return  # accepted, but too much work for a unit test; the range keeps it within minutes
    code, err = cli(*argv)
    assert_clear(code, err, (0, 2))
    event(f"simulate exit code {code}")


@FUZZ
@given(option=st.sampled_from(["--seed", "--hotkey", "--block"]), value=typed_number | st.text(max_size=30))
def test_lab_numbers_and_hotkeys(clips, work, option, value):
    bad_study = work / "missing-catalog.toml"  # accepted options stop at the study's own problem (no Qt)
    bad_study.write_text('[study]\nname = "f"\ncatalog = "nowhere"\n[limits]\nviews = 2\n[conditions.A]\nranker = "random"\n')
    db = fresh_db(work)
    if option == "--block":
        code, err = cli("lab", "assign", str(bad_study), "P01", f"--block={value}")
        assert_clear(code, err, (0, 1, 2))
        return
    code, err = cli("lab", "run", str(bad_study), "-p", "P01", "--yes", "--kiosk", "--pin", "1", "--db", str(db),
                    f"{option}={value}")
    assert_clear(code, err, (1, 2))  # 1: the study's problem (the option was fine); 2: the option refused
    assert session_rows(db) == 0


# -- study files ---------------------------------------------------------------------------------------------------
def toml_value(draw_value: object) -> str:
    if isinstance(draw_value, bool):
        return "true" if draw_value else "false"
    if isinstance(draw_value, int):
        return str(draw_value) if len(str(draw_value)) < 4300 else "9" * 5000
    if isinstance(draw_value, float):
        return "nan" if math.isnan(draw_value) else ("inf" if draw_value > 0 else "-inf") if math.isinf(draw_value) \
            else repr(draw_value)
    if isinstance(draw_value, str):
        return json.dumps(draw_value)
    if isinstance(draw_value, list):
        return "[" + ", ".join(toml_value(v) for v in draw_value) + "]"
    assert isinstance(draw_value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in draw_value.items()) + "}"


any_toml = st.recursive(
    st.one_of(st.integers(), st.integers(min_value=-(2**66), max_value=2**66), st.floats(), st.booleans(),
              st.text(max_size=10), st.sampled_from([SEED_MAX, SEED_MAX + 1, 10**20, 1440, 35792, 600001, -1, 0])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("abc", min_size=1, max_size=3), inner, max_size=2),
    max_leaves=6,
)
NUMERIC_FIELDS = [("study", "seed"), ("study", "skip_threshold_ms"), ("limits", "minutes"), ("limits", "views"),
                  ("practice", "clips"), ("counterbalance", "seed"), ("conditions.A.params", "epsilon")]


@st.composite
def study_texts(draw) -> str:
    fields = draw(st.dictionaries(st.sampled_from(NUMERIC_FIELDS), any_toml, min_size=1, max_size=4))
    tables: dict[str, list[str]] = {"study": ['name = "fuzz"', 'catalog = "clips"'], "limits": [], "practice": [],
                                    "counterbalance": ['method = "random"'], "conditions.A": ['ranker = "foryou"'],
                                    "conditions.A.params": []}
    for (table, key), value in fields.items():
        tables[table].append(f"{key} = {toml_value(value)}")
    if "seed" not in " ".join(tables["counterbalance"]):
        tables["counterbalance"].append("seed = 7")
    text = "\n".join(f"[{t}]\n" + "\n".join(lines) for t, lines in tables.items()) + "\n"
    depth = draw(st.sampled_from([0, 0, 0, 5, 900, 100_000]))
    if depth:
        text += "deep = " + "[" * depth + "]" * depth + "\n"
    return text


@FUZZ
@given(text=study_texts())
def test_study_files(clips, work, text):
    f = clips.parent / "study.toml"  # catalog = "clips": the real clips beside it
    f.write_text(text)
    code, err = cli("lab", "validate", str(f))
    assert_clear(code, err, (0, 1, 2))
    event(f"lab validate exit code {code}")  # --hypothesis-show-statistics: both sides are exercised
    if code == 0:  # accepted: the writer holds its numbers, and the time limit fits a Qt timer
        study = load_study(f)
        a = study.assign("P01")
        assert study.limits.seconds is None or study.limits.seconds * 1000 <= QT_TIMER_MS_MAX
        stored = record_session(fresh_db(work), **a.session_kwargs(study.skip_threshold_ms))
        assert stored == (a.seed, study.skip_threshold_ms)
    else:
        assert all(line.startswith((str(f), "feedapp:")) for line in error_lines(err) if "problem" not in line), err
        db = fresh_db(work)
        code_run, err_run = cli("lab", "run", str(f), "-p", "P01", "--yes", "--db", str(db))
        assert code_run == code and "Traceback" not in err_run
        assert session_rows(db) == 0


# -- sidecars ------------------------------------------------------------------------------------------------------
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
    | st.sampled_from(["x" * 400, "y" * 70_000, "a;b;c", "#Cats, naps", "2024-05-01"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
entry = st.fixed_dictionaries(
    {"file": st.sampled_from(["cats/a.mp4", "art/b.mp4", "./cats/a.mp4", "missing.mp4"])},
    optional={k: any_json for k in ("id", "title", "topics", "topic", "creator", "created", "extra")},
)


@st.composite
def sidecars(draw) -> tuple[str, str]:
    kind = draw(st.sampled_from(["json", "json", "json-any", "json-deep", "csv"]))
    if kind == "json":
        entries = draw(st.lists(entry, max_size=4))
        return "catalog.json", json.dumps(draw(st.sampled_from([entries, {"clips": entries}])))
    if kind == "json-any":
        return "catalog.json", json.dumps(draw(any_json))
    if kind == "json-deep":
        d = draw(st.sampled_from([3, 900, 5_000, 100_000]))
        inner = draw(st.sampled_from(['{"file": "cats/a.mp4", "topics": %s}', "%s"]))
        return "catalog.json", "[" + inner % ("[" * d + "]" * d) + "]"
    cell = st.text(max_size=8) | st.sampled_from(["x" * 400, "z" * 140_000, '"q"', "a;b", "\x00"])
    header = draw(st.sampled_from(["file,title,topics,creator,id", "file,title", "title,topics", ""]))
    rows = draw(st.lists(st.lists(cell, max_size=6).map(lambda cells: ",".join(cells)), max_size=4))
    files = draw(st.lists(st.sampled_from(["cats/a.mp4", "art/b.mp4"]), min_size=len(rows), max_size=len(rows)))
    lines = [f"{f},{r}" for f, r in zip(files, rows)]
    return "catalog.csv", "\n".join([header, *lines]) + "\n"


@FUZZ
@given(sidecar=sidecars())
def test_sidecars(clips, work, sidecar):
    name, text = sidecar
    for old in ("catalog.json", "catalog.csv"):
        (clips / old).unlink(missing_ok=True)
    (clips / name).write_text(text, encoding="utf-8")
    try:
        code, err = cli("scan", str(clips), "--db", str(work / "probe-cache.db"))
        assert_clear(code, err, (0, 2))
        event(f"scan exit code {code}")
        try:
            result = load_folder(clips)
        except FolderError:
            assert code == 2
            return
        assert code == 0
        for c in result.accepted:  # what reaches the screen and the log is within the limits, and text
            assert isinstance(c.title, str) and len(c.title) <= LIMITS["title"]
            assert isinstance(c.creator, str) and len(c.creator) <= LIMITS["creator"]
            assert isinstance(c.id, str) and len(c.id) <= LIMITS["id"]
            assert len(c.topics) <= MAX_TOPICS and all(isinstance(t, str) and len(t) <= LIMITS["topic"] for t in c.topics)
        study = clips.parent / "sidecar-study.toml"
        study.write_text('[study]\nname = "s"\ncatalog = "clips"\n[limits]\nviews = 2\n[conditions.A]\nranker = "random"\n')
        code, err = cli("lab", "validate", str(study))
        assert_clear(code, err, (0, 1))
        assert (code == 0) == (not result.rejected)
    finally:
        (clips / name).unlink(missing_ok=True)
