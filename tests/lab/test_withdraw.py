"""`feedapp lab withdraw`: every row of the participant goes, clips stay, the checker passes afterwards."""

from __future__ import annotations

import sqlite3

import pytest

from feedapp.lab.commands import run_export_command, run_withdraw_command
from feedapp.lab.withdraw import WithdrawError, inspect, withdraw
from feedapp.store.check import check
from feedapp.store.log import EventLog
from tests.lab.conftest import CLIPS, record_lab_session, write_study_log

TABLES = ("sessions", "impressions", "views", "events", "profile_snapshots")


def counts(path, participant=None) -> dict[str, int]:
    conn = sqlite3.connect(path)
    out = {}
    for t in TABLES:
        if participant is None:
            out[t] = conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        elif t == "sessions":
            out[t] = conn.execute("SELECT COUNT(*) FROM sessions WHERE participant = ?", [participant]).fetchone()[0]
        else:
            out[t] = conn.execute(
                f"SELECT COUNT(*) FROM {t} WHERE session_id IN (SELECT id FROM sessions WHERE participant = ?)",
                [participant]).fetchone()[0]
    out["clips"] = conn.execute("SELECT COUNT(*) FROM clips").fetchone()[0]
    conn.close()
    return out


@pytest.fixture()
def db(tmp_path, study):
    path = tmp_path / "feed.db"
    log = EventLog(path)
    recs = [record_lab_session(log, study, p, t0=(1000 + 1000 * k) * 10**15) for k, p in enumerate(["P01", "P02", "P03"])]
    recs.append(record_lab_session(log, study, "P02", t0=5000 * 10**15, n_views=8, end="quit"))  # a second session
    assert log.close()
    return path, recs


def test_withdraw_deletes_every_row_of_the_participant_and_keeps_the_log_consistent(db, capsys):
    path, recs = db
    before_all = counts(path)
    mine = counts(path, "P02")
    assert mine["sessions"] == 2 and mine["views"] == 38 and mine["events"] > 2 and mine["profile_snapshots"] == 38
    assert run_withdraw_command(path, "P02", yes=True) == 0
    out = capsys.readouterr().out
    assert (f"deleted {mine['sessions']} sessions, {mine['views']} views, {mine['events']} events, "
            f"{mine['profile_snapshots']} profile_snapshots, 0 questionnaire, {mine['impressions']} impressions") in out
    after = counts(path)
    for t in TABLES:
        assert after[t] == before_all[t] - mine[t]
    assert counts(path, "P02")["sessions"] == 0
    assert after["clips"] == before_all["clips"] == len(CLIPS)  # clips stay
    conn = sqlite3.connect(path)
    result = check(conn)
    assert result["ok"], result["violations"]
    assert result["checked"]["sessions"] == 2
    conn.close()
    # secure_delete + checkpoint: the withdrawn session ids are gone from the file's bytes
    data = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                                if path.with_name(path.name + "-wal").exists() else b"")
    for r in recs:
        assert (r.id.encode() in data) == (r.record.participant != "P02")


def test_withdraw_asks_and_respects_no(db, capsys):
    path, _ = db
    before = counts(path)
    assert run_withdraw_command(path, "P01", ask=lambda prompt: "n") == 1
    assert "nothing deleted" in capsys.readouterr().out
    assert counts(path) == before
    assert run_withdraw_command(path, "P01", ask=lambda prompt: "y") == 0
    assert counts(path, "P01")["sessions"] == 0


def test_unknown_participant_and_study_scope(db, capsys):
    path, _ = db
    assert run_withdraw_command(path, "p01", yes=True) == 1
    assert "did you mean P01?" in capsys.readouterr().err
    assert run_withdraw_command(path, "P1", yes=True) == 1  # the number without its leading zero
    assert "did you mean P01?" in capsys.readouterr().err
    assert run_withdraw_command(path, "P7", yes=True) == 1
    assert "did you mean" not in capsys.readouterr().err
    with pytest.raises(WithdrawError, match="no rows of study 'other'"):
        inspect(path, "P01", study="other")
    w = withdraw(path, "P03", study="learn-vs-random")
    assert w.done and w.counts["sessions"] == 1
    # seen in a new-user trial: the same withdrawal again suggested "did you mean P02 or P01?", other people
    assert run_withdraw_command(path, "P03", yes=True) == 1
    err = capsys.readouterr().err
    assert "has no rows" in err and "did you mean" not in err
    assert run_withdraw_command(path, "PO1", yes=True) == 1  # a letter O for the zero: still suggested
    assert "did you mean P01?" in capsys.readouterr().err
    with pytest.raises(WithdrawError, match="exactly as recorded"):
        inspect(path, " P01")


def test_running_session_is_refused(tmp_path, study):
    path = tmp_path / "feed.db"
    log = EventLog(path)
    # made-up monotonic times (t0 = 1,000 s): running or not is decided by who records it, not by clocks
    rec = record_lab_session(log, study, "P05", n_views=3, end=None)
    assert log.flush()
    with pytest.raises(WithdrawError, match="still running"):
        withdraw(path, "P05")
    rec.end("quit")
    assert log.close()
    assert withdraw(path, "P05").counts["sessions"] == 1


def test_export_filtered_by_study_and_condition(tmp_path, study, capsys):
    import json

    path = tmp_path / "feed.db"
    recs = write_study_log(path, study, ["P01", "P02", "P03", "P04"])
    assert run_export_command(path, tmp_path / "out", study="learn-vs-random", condition="random") == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["sessions"] == [r.id for r in recs if r.record.condition == "random"]
    assert manifest["files"]["views"]["rows"] == 60
    assert run_export_command(path, tmp_path / "out2", study="nope") == 1


def test_export_without_a_study_takes_the_lab_sessions_only(tmp_path, study, capsys):
    """A database that also holds the app's own sessions (demo, play): `lab export` without --study
    exports the lab sessions, not those (no "none_none_DATE" participant file); `feedapp export` has them."""
    import json

    from feedapp.core.session import SessionRecorder

    path = tmp_path / "feed.db"
    recs = write_study_log(path, study, ["P01", "P02"])
    log = EventLog(path)
    demo = SessionRecorder(log, app_version="test", mode="demo", ranker="foryou", catalog_size=len(CLIPS))
    log.clips_known(CLIPS)
    demo.arrive(CLIPS[0], reached_by="start", is_revisit=False, settled_ns=1_000_000_000, policy="foryou", propensity=1.0)
    demo.end("quit", 2_000_000_000)
    assert log.close()
    assert run_export_command(path, tmp_path / "out") == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["sessions"] == [r.id for r in recs] and demo.id not in manifest["sessions"]
    assert not list((tmp_path / "out").glob("none_*")), sorted(p.name for p in (tmp_path / "out").iterdir())


# == issue 15 item 3: the practice session goes with the participant's study ==========================
def record_practice_session(log, study, participant, *, t0, with_study_column=True, n_views=3):
    """A practice block as feedapp.ui.lab records it: its own session (mode "practice") with a `practice`
    event naming the study; files written before the fix have an empty sessions.study."""
    from feedapp.core.session import SessionRecorder
    from feedapp.lab.study import PRACTICE_EVENT

    a = study.assign(participant)
    kwargs = a.practice_kwargs(study.skip_threshold_ms, "random")
    if not with_study_column:
        kwargs["study"] = ""
    now = [t0]
    rec = SessionRecorder(log, app_version="test", clock=lambda: now[0], catalog_size=n_views, **kwargs)
    log.clips_known(CLIPS)
    rec.event(PRACTICE_EVENT, t0, study=study.name, study_sha256=study.sha256, clips=[c.id for c in CLIPS[:n_views]])
    t = t0 + 10 * 10**6
    for i, clip in enumerate(CLIPS[:n_views]):
        rec.arrive(clip, reached_by="start" if i == 0 else "swipe_next", is_revisit=False, settled_ns=t, input_ns=t,
                   policy="random", score=0.5, propensity=0.1, exploration=False)
        t += 2_000 * 10**6
        rec.leave("swipe_next", t)
    rec.end("finished", t)
    now[0] = t
    return rec


@pytest.mark.parametrize("with_study_column", [True, False], ids=["recorded-now", "older-file"])
def test_withdraw_with_study_takes_the_practice_session_too(tmp_path, study, capsys, with_study_column):
    from feedapp.lab.data import session_ids, studies
    from feedapp.lab.study import parse_study

    other = parse_study(STUDY_TEXT_OTHER)
    path = tmp_path / "feed.db"
    log = EventLog(path)
    practice = record_practice_session(log, study, "P02", t0=900 * 10**15, with_study_column=with_study_column)
    main = record_lab_session(log, study, "P02", t0=1000 * 10**15)
    keep = record_lab_session(log, study, "P03", t0=2000 * 10**15)
    other_practice = record_practice_session(log, other, "P02", t0=3000 * 10**15, with_study_column=with_study_column)
    assert log.close()
    conn = sqlite3.connect(path)
    stored = conn.execute("SELECT study FROM sessions WHERE id = ?", [practice.id]).fetchone()[0]
    assert stored == (study.name if with_study_column else "")
    # practice sessions belong to the study but are never part of its analysis
    assert set(session_ids(conn, study=study.name)) == {main.id, keep.id}
    assert set(session_ids(conn, study=study.name, participant="P02", practice=True)) == {practice.id, main.id}
    assert studies(conn) == {study.name: 2}
    conn.close()

    assert run_withdraw_command(path, "P02", yes=True, study=study.name) == 0
    assert "deleted 2 sessions" in capsys.readouterr().out
    conn = sqlite3.connect(path)
    left = {r[0] for r in conn.execute("SELECT id FROM sessions")}
    assert left == {keep.id, other_practice.id}  # the other study's practice block is not this study's
    assert conn.execute("SELECT COUNT(*) FROM events WHERE session_id = ?", [practice.id]).fetchone()[0] == 0
    result = check(conn)
    assert result["ok"], result["violations"]
    conn.close()
    data = path.read_bytes()
    assert practice.id.encode() not in data and main.id.encode() not in data and keep.id.encode() in data
    # without --study every session of the participant goes, the other study's practice block included
    assert run_withdraw_command(path, "P02", yes=True) == 0
    assert other_practice.id.encode() not in path.read_bytes()


STUDY_TEXT_OTHER = """\
[study]
name = "second-study"
catalog = "demo"

[conditions.only]
ranker = "random"
"""


# == issue 15 item 6: a reader's snapshot keeps the checkpoint from completing ===========================
def test_withdraw_while_another_program_reads_reports_what_is_still_where(db, capsys, monkeypatch):
    import feedapp.lab.withdraw as wd

    monkeypatch.setattr(wd, "CHECKPOINT_WAIT_S", 0.5)
    path, recs = db
    gone = [r.id for r in recs if r.record.participant == "P02"]
    # a read-only program (a database browser, `datasette`): it cannot checkpoint the file itself
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 4  # holds a read snapshot
    assert run_withdraw_command(path, "P02", yes=True) == 2
    cap = capsys.readouterr()
    assert "deleted 2 sessions" in cap.out
    err = cap.err.strip()
    assert err.count("\n") == 0 and "not finished" in err and "still in" in err and "run the same withdrawal again" in err
    assert "written" not in err
    # the deletion is committed, but the main file still holds the rows: exactly what was reported
    fresh = sqlite3.connect(path)
    assert fresh.execute("SELECT COUNT(*) FROM sessions WHERE participant = 'P02'").fetchone()[0] == 0
    fresh.close()
    assert all(sid.encode() in path.read_bytes() for sid in gone)
    assert reader.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 4  # the reader's snapshot
    reader.execute("COMMIT")
    reader.close()
    # the other program is closed: the same command finishes the job
    assert run_withdraw_command(path, "P02", yes=True) == 1  # nothing of P02 left to delete ...
    err = capsys.readouterr().err
    assert "participant 'P02' has no rows" in err and "now checkpointed" in err  # ... and the file is clean now
    assert "that withdrawal is complete" in err
    data = path.read_bytes()
    assert not any(sid.encode() in data for sid in gone)
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    # nothing pending any more: a second run is the usual "no rows" answer
    assert run_withdraw_command(path, "P02", yes=True) == 1
    err = capsys.readouterr().err
    assert "checkpointed" not in err and "earlier withdrawal of 'P02' is complete" in err


def test_retrying_after_a_reader_that_checkpoints_on_close_says_the_earlier_withdrawal_is_complete(db, capsys,
                                                                                                    monkeypatch):
    """Review of issue 15: a program that opened the file read-write (the sqlite3 shell, a notebook)
    checkpoints it when it closes and removes the -wal file; the retry then printed only "no session of
    participant ..." without saying that the withdrawal begun earlier is now complete."""
    import feedapp.lab.withdraw as wd

    monkeypatch.setattr(wd, "CHECKPOINT_WAIT_S", 0.5)
    path, recs = db
    gone = [r.id for r in recs if r.record.participant == "P02"]
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 4  # holds a read snapshot
    assert run_withdraw_command(path, "P02", yes=True) == 2  # not finished: the old pages are still in the file
    capsys.readouterr()
    reader.execute("COMMIT")
    reader.close()  # the last connection: SQLite checkpoints the file and removes the -wal file
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists()
    assert not any(sid.encode() in path.read_bytes() for sid in gone)  # the withdrawal is complete ...
    assert run_withdraw_command(path, "P02", yes=True) == 1  # ... nothing is left to delete ...
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0  # ... and the one line says both
    assert f"participant 'P02' has no rows in {path}" in err and "earlier withdrawal of 'P02' is complete" in err
    # with --study: the same, for that study's rows
    assert run_withdraw_command(path, "P02", yes=True, study="learn-vs-random") == 1
    err = capsys.readouterr().err
    assert "has no rows of study 'learn-vs-random'" in err and "is complete" in err


def test_withdraw_checks_the_checkpoint_completed(db):
    path, recs = db
    w = withdraw(path, "P01")
    assert w.done and not w.pending
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0

def test_withdraw_lists_and_deletes_the_reports_and_exports_that_hold_the_participant(tmp_path, study, capsys):
    from feedapp.lab.commands import run_report_command

    path = tmp_path / "feed.db"
    write_study_log(path, study, ["P01", "P02", "P03", "P04"])
    assert run_report_command(path, None, "learn-vs-random", tmp_path / "report") == 0
    assert run_export_command(path, tmp_path / "export", study="learn-vs-random") == 0
    capsys.readouterr()
    mine = sorted(p.name for p in (tmp_path / "export").glob("P02_*"))
    assert len(mine) == 1 and mine[0].startswith("P02_learn-vs-random_") and mine[0].endswith(".csv")
    assert run_withdraw_command(path, "P02", yes=True) == 0
    out = capsys.readouterr().out
    assert "still contain P02" in out
    listed = [line.strip().split("  (")[0] for line in out.splitlines() if line.startswith("  /")]
    assert str((tmp_path / "export" / mine[0]).absolute()) in listed
    assert str((tmp_path / "report" / "study-learn-vs-random.html").absolute()) in listed
    assert not any("P01_" in x or "P03_" in x for x in listed)  # other participants' own files are not listed
    # the study-wide files and P01's session pages stay; a second run with --delete-outputs deletes P03's files
    assert run_withdraw_command(path, "P03", yes=True, delete_outputs=True) == 0
    out = capsys.readouterr().out
    assert "deleted" in out and not list((tmp_path / "export").glob("P03_*"))
    assert not (tmp_path / "export" / "view_log.csv").exists()  # it held P03 too
    assert list((tmp_path / "export").glob("P01_*"))  # P01's own file stays
    assert run_withdraw_command(path, "P01", yes=True) == 0
    assert "still contain P01" in capsys.readouterr().out


def test_the_second_run_with_delete_outputs_the_note_advises_deletes_the_files(tmp_path, study, capsys):
    """A withdrawal without --delete-outputs says 'delete them, or run the withdrawal again with
    --delete-outputs'; that second run found no rows and stopped with 'nothing was deleted', leaving
    every file that holds the withdrawn participant."""
    path = tmp_path / "feed.db"
    write_study_log(path, study, ["P01", "P02"])
    assert run_export_command(path, tmp_path / "export", study="learn-vs-random") == 0
    assert run_withdraw_command(path, "P02", yes=True) == 0
    assert "run the withdrawal again with --delete-outputs" in capsys.readouterr().out
    assert run_withdraw_command(path, "P02", delete_outputs=True, ask=lambda q: "n") == 1  # asked first
    assert list((tmp_path / "export").glob("P02_*")) and capsys.readouterr().out.endswith("nothing deleted\n")
    # with --study it stays a refusal: the files may hold the participant's sessions of another study
    assert run_withdraw_command(path, "P02", yes=True, study="learn-vs-random", delete_outputs=True) == 1
    assert list((tmp_path / "export").glob("P02_*"))
    assert run_withdraw_command(path, "P02", yes=True, delete_outputs=True) == 0
    out = capsys.readouterr().out
    assert "has no rows" in out and "its rows were withdrawn earlier" in out and "deleted 12 report/export file(s)" in out
    assert not list((tmp_path / "export").glob("P02_*")) and not (tmp_path / "export" / "views.csv").exists()
    assert list((tmp_path / "export").glob("P01_*"))
    assert run_withdraw_command(path, "P02", yes=True, delete_outputs=True) == 1  # nothing left: as before
    assert "nothing was deleted now" in capsys.readouterr().err


def test_withdrawing_from_one_study_with_delete_outputs_keeps_another_study_s_files(tmp_path, study):
    """P02 took part in two studies, each exported to its own folder: `lab withdraw P02 --study
    learn-vs-random --delete-outputs` deleted the other study's whole export too (its tables held P02,
    of the study not withdrawn, still in the database, and P03's rows)."""
    from feedapp.lab.study import parse_study
    from tests.lab.conftest import MS, STUDY_TEXT

    other = parse_study(STUDY_TEXT.replace('name = "learn-vs-random"', 'name = "second"'))
    path = tmp_path / "feed.db"
    log = EventLog(path)
    for k, (st, p) in enumerate([(study, "P01"), (study, "P02"), (other, "P02"), (other, "P03")]):
        record_lab_session(log, st, p, t0=(1_000 + 1_000 * k) * 1_000_000 * MS)
    assert log.close()
    assert run_export_command(path, tmp_path / "a", study=study.name) == 0
    assert run_export_command(path, tmp_path / "b", study="second") == 0
    kept = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    assert run_withdraw_command(path, "P02", yes=True, study=study.name, delete_outputs=True) == 0
    assert not list((tmp_path / "a").glob("P02_*")) and not (tmp_path / "a" / "views.csv").exists()
    assert {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()} == kept


def test_reporting_again_after_a_withdrawal_removes_the_withdrawn_session_pages(tmp_path, study, capsys):
    """Seen in a new-user trial: P03 withdrawn (without --delete-outputs), then `lab report` again into the
    same folder: the study page left P03 out, but session-XXXXXXXX.html/.json of P03 stayed beside it."""
    from feedapp.lab.commands import run_report_command

    path = tmp_path / "feed.db"
    recs = write_study_log(path, study, ["P01", "P02", "P03"])
    report = tmp_path / "report"
    assert run_report_command(path, None, "learn-vs-random", report) == 0
    (report / "notes.html").write_text("mine")  # not feedapp's: stays
    other = tmp_path / "other.db"  # a page of another database's session in the same folder: stays
    write_study_log(other, study, ["P09"])
    assert run_report_command(other, None, "learn-vs-random", report) == 0
    pages = {p.name for p in report.glob("session-*")}
    gone = {f"session-{recs[2].id[:8]}.html", f"session-{recs[2].id[:8]}.json"}
    assert gone <= pages
    assert run_withdraw_command(path, "P03", yes=True) == 0
    capsys.readouterr()
    assert run_report_command(path, None, "learn-vs-random", report) == 0
    out = capsys.readouterr().out
    assert {p.name for p in report.glob("session-*")} == pages - gone
    for name in sorted(gone):
        assert f"removed {name} (P03): its session is no longer in {path} (withdrawn)" in out
    assert (report / "notes.html").exists()


def test_a_mistyped_study_does_not_read_as_a_finished_withdrawal(db, capsys):
    """Seen in a new-user trial: `lab withdraw P04 --study "pilot een"` (the study is 'pilot één') said
    'nothing was deleted now; any earlier withdrawal of 'P04' from study 'pilot een' is complete', and P04's
    rows stayed in the file under the study's real name."""
    path, _ = db
    assert run_withdraw_command(path, "P02", yes=True, study="learn-vs-randon") == 1
    err = capsys.readouterr().err
    assert "is complete" not in err and "nothing was deleted" in err
    assert "'P02' still has session(s) in this file, none of them deleted: 2 of study 'learn-vs-random'" in err
    assert "(did you mean --study 'learn-vs-random'?)" in err
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM sessions WHERE participant = 'P02'").fetchone()[0] == 2
    conn.close()
    # withdrawn from the study, the same command again still says the withdrawal is complete
    assert run_withdraw_command(path, "P02", yes=True, study="learn-vs-random") == 0
    capsys.readouterr()
    assert run_withdraw_command(path, "P02", yes=True, study="learn-vs-random") == 1
    assert "is complete" in capsys.readouterr().err
