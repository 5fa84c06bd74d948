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
            f"{mine['profile_snapshots']} profile_snapshots, {mine['impressions']} impressions") in out
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
    assert "similar ids in this file: P01" in capsys.readouterr().err
    with pytest.raises(WithdrawError, match="in study 'other'"):
        inspect(path, "P01", study="other")
    w = withdraw(path, "P03", study="learn-vs-random")
    assert w.done and w.counts["sessions"] == 1
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
