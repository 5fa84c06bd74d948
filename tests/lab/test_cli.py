"""The `feedapp lab` argparse layout (add_lab_parser) driving the real commands end to end."""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
from pathlib import Path

import pytest

from feedapp.cli import main as run_main
from feedapp.core.session import SessionRecorder
from feedapp.lab.commands import add_lab_parser, run_lab_command
from feedapp.lab.report import session_figures, write_report
from feedapp.store.check import check
from feedapp.store.log import EventLog
from feedapp.store.sessions import open_for_reading
from tests.lab.conftest import STUDY_TEXT, write_study_log

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="feedapp")
    sub = parser.add_subparsers(dest="command")
    add_lab_parser(sub)
    return run_lab_command(parser.parse_args(["lab", *argv]))


def test_lab_commands_end_to_end(tmp_path, study, capsys):
    db = tmp_path / "feed.db"
    write_study_log(db, study, ["P01", "P02", "P03", "P04"])
    f = tmp_path / "study.toml"
    f.write_text(STUDY_TEXT)
    assert run("validate", str(ROOT / "examples" / "study.toml")) == 0
    assert run("assign", str(f), "P01", "P02", "--json") == 0
    out = capsys.readouterr().out
    assigned = json.loads(out[out.index("["):])
    assert [a["condition"] for a in assigned] == ["random", "learn"]
    assert run("report", "--db", str(db), "--study", "learn-vs-random", "--out", str(tmp_path / "r")) == 0
    assert (tmp_path / "r" / "study-learn-vs-random.html").exists()
    assert run("export", "--db", str(db), "--study", "learn-vs-random", "--condition", "learn",
               "--out", str(tmp_path / "e")) == 0
    assert run("withdraw", "--db", str(db), "P01", "--yes") == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM sessions WHERE participant = 'P01'").fetchone()[0] == 0
    assert check(conn)["ok"]
    with pytest.raises(SystemExit):  # report needs --session or --study
        run("report", "--db", str(db), "--out", str(tmp_path / "r"))


def test_lab_export_writes_parquet_like_feedapp_export(tmp_path, study):
    """Seen in a new-user trial: `feedapp export --format parquet` works, but `lab export` refused the
    format (argparse: invalid choice), so a study could not be exported as Parquet by condition."""
    pq = pytest.importorskip("pyarrow.parquet")
    db = tmp_path / "feed.db"
    write_study_log(db, study, ["P01", "P02"])
    out = tmp_path / "pq"
    assert run("export", "--db", str(db), "--study", "learn-vs-random", "--format", "parquet", "--out", str(out)) == 0
    rows = pq.read_table(out / "view_log.parquet").to_pylist()
    mine = [p for p in out.iterdir() if p.name.startswith("P01_")]
    assert len(mine) == 1 and mine[0].suffix == ".parquet"
    assert pq.read_table(mine[0]).to_pylist() == [r for r in rows if r["participant"] == "P01"] != []
    assert json.loads((out / "manifest.json").read_text())["format"] == "parquet"


def test_export_and_report_that_match_nothing_say_so_in_words(tmp_path, study, capsys):
    db = tmp_path / "feed.db"
    write_study_log(db, study, ["P01", "P03"])  # both in condition "random" (odd numbers)
    out = str(tmp_path / "e")
    assert run("export", "--db", str(db), "--study", "learn-vs-random", "--condition", "learn", "--out", out) == 1
    assert capsys.readouterr().err == (
        f"feedapp: no session of study 'learn-vs-random' in condition 'learn' in {db} (conditions of that study "
        "there: random (2 sessions); studies there: learn-vs-random (2 sessions))\n")
    assert run("export", "--db", str(db), "--study", "nope", "--out", out) == 1
    assert capsys.readouterr().err == (f"feedapp: no session of study 'nope' in {db} "
                                       "(studies there: learn-vs-random (2 sessions))\n")
    assert run("report", "--db", str(db), "--study", "nope", "--out", out) == 1
    assert "None" not in capsys.readouterr().err and not Path(out).exists()
    empty = tmp_path / "empty.db"
    assert EventLog(empty).close()  # a log without sessions
    assert run("export", "--db", str(empty), "--out", out) == 1
    assert capsys.readouterr().err == f"feedapp: no lab session in {empty} (studies there: none)\n"
    one = tmp_path / "one.db"
    write_study_log(one, study, ["P01"])
    assert run("export", "--db", str(one), "--study", "nope", "--out", out) == 1
    assert capsys.readouterr().err.endswith("(studies there: learn-vs-random (1 session))\n")
    assert run("export", "--db", str(one), "--study", "learn-vs-random", "--out", out) == 0  # and when one matches
    listing = capsys.readouterr().out
    assert listing.startswith(f"exported 1 session (study=learn-vs-random, condition=any) to {out}:")
    assert re.search(r"^  sessions\.csv +1 row$", listing, re.M) and " 1 rows" not in listing  # one participant
    assert run_main(["export", "--db", str(one), "--out", str(tmp_path / "all")]) == 0  # feedapp export too
    listing = capsys.readouterr().out
    assert re.search(r"^  sessions\.csv +1 row$", listing, re.M) and " 1 rows" not in listing
    from feedapp.store.commands import run_check_command

    assert run_check_command(one) == 0
    assert capsys.readouterr().out.startswith("checked 1 session, ")


def test_report_of_a_session_without_views(tmp_path):
    db = tmp_path / "feed.db"
    log = EventLog(db)
    rec = SessionRecorder(log, app_version="t", mode="lab", ranker="random", participant="P09", condition="x")
    rec.end("quit")
    assert log.close()
    conn = open_for_reading(db)
    fig = session_figures(conn, rec.id)
    assert fig["summary"]["views"] == 0 and fig["summary"]["watch_ratio"]["mean"] is None
    assert fig["exploration"]["share"] is None and fig["preferred_topics"] == []
    res = write_report(conn, tmp_path / "out", session_id=rec.id)
    assert "no data" in res["index"].read_text()


def test_missing_db_folder_is_refused_alike_by_lab_run_merge_and_demo(tmp_path, study, capsys):
    """Issue 15 item 18: a mistyped --db / -o never creates folders; lab run, merge and demo say the same."""
    from feedapp.cli import main

    f = tmp_path / "study.toml"
    f.write_text(STUDY_TEXT)
    source = tmp_path / "feed.db"
    write_study_log(source, study, ["P01"])
    missing = tmp_path / "typo" / "feed.db"
    parser = argparse.ArgumentParser(prog="feedapp")
    add_lab_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["lab", "run", str(f), "--db", str(missing), "--participant", "P09", "--yes"])
    assert run_lab_command(args, run_session=lambda a: pytest.fail("the session must not start")) == 2
    assert main(["merge", str(source), "-o", str(missing)]) == 2
    assert main(["demo", "--db", str(missing)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3
    for line, option in zip(lines, ("--db", "-o", "--db")):
        assert line == f"feedapp: the folder {missing.parent} for {option} does not exist; create it first or choose another path"
    assert not missing.parent.exists()


def test_report_and_export_name_the_sessions_that_have_not_ended(tmp_path, study, capsys):
    """Seen in a new-user trial: `lab report` and `lab export` made while a participant was still in a session
    counted that session's first views in the study's figures without a word (its end column read '–')."""
    from html import unescape

    from tests.lab.conftest import record_lab_session

    db = tmp_path / "feed.db"
    recs = write_study_log(db, study, ["P01", "P02"])
    log = EventLog(db)
    still = record_lab_session(log, study, "P03", n_views=4, end=None)  # its last record is a checkpoint
    assert log.close()
    capsys.readouterr()
    assert run("report", "--db", str(db), "--study", "learn-vs-random", "--out", str(tmp_path / "r")) == 0
    out = capsys.readouterr().out
    note = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(note) == 1 and f"1 session in this report has not ended: {still.id[:8]} (P03, " in note[0]
    assert note[0].endswith("make the report again once it has ended")
    assert all(r.id[:8] not in note[0] for r in recs)
    row = [r for r in unescape((tmp_path / "r" / "study-learn-vs-random.html").read_text()).split("<tr>")
           if still.id[:8] in r]
    assert row and "running/interrupted" in row[0]
    assert run("export", "--db", str(db), "--study", "learn-vs-random", "--out", str(tmp_path / "e")) == 0
    assert f"1 session in this export has not ended: {still.id[:8]} (P03, " in capsys.readouterr().out
    # the ended sessions alone: no note
    assert run("report", "--db", str(db), "--session", recs[0].id[:8], "--out", str(tmp_path / "r1")) == 0
    assert "note:" not in capsys.readouterr().out
