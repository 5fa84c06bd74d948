"""`feedapp merge`: several machines' logs into one study file, idempotent, never into itself."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from feedapp.store.check import check
from feedapp.store.commands import run_merge_command
from feedapp.store.db import SCHEMA_VERSION, StoreError, open_db
from feedapp.store.merge import MERGE_TABLES, merge
from feedapp.store.sessions import open_for_reading
from tests.store.test_sessions import CLIPS, write_log


def _counts(path):
    conn = sqlite3.connect(path)
    out = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in MERGE_TABLES}
    conn.close()
    return out


def _dump(path, table):
    conn = sqlite3.connect(path)
    rows = sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
    conn.close()
    return rows


@pytest.fixture()
def machines(tmp_path):
    a, b = tmp_path / "lab-a.db", tmp_path / "lab-b.db"
    write_log(a, [dict(n_views=8, participant="P01"), dict(n_views=4, participant="P02", end=None, utc_shift_s=3600)])
    write_log(b, [dict(n_views=6, participant="P03", clips=CLIPS[1:])])  # three clips shared with A
    return a, b


def test_merge_copies_everything_and_twice_adds_nothing(machines, tmp_path, capsys):
    a, b = machines
    out = tmp_path / "study" / "study.db"
    ca, cb = _counts(a), _counts(b)
    a_before, b_before = a.read_bytes(), b.read_bytes()
    assert run_merge_command([a, b], out) == 2  # a mistyped -o folder is never created
    assert f"the folder {out.parent} for -o does not exist" in capsys.readouterr().err
    assert not out.parent.exists()
    out.parent.mkdir()
    assert run_merge_command([a, b], out) == 0
    text = capsys.readouterr().out
    assert f"{a}: added 2 sessions, 4 clips" in text and f"{b}: added 1 sessions, 0 clips" in text
    merged = _counts(out)
    for t in MERGE_TABLES:
        expected = 4 if t == "clips" else ca[t] + cb[t]
        assert merged[t] == expected, t
    for t in MERGE_TABLES:  # row for row, nothing altered
        assert set(_dump(out, t)) == set(_dump(a, t)) | set(_dump(b, t)), t
    assert a.read_bytes() == a_before and b.read_bytes() == b_before  # sources untouched
    conn = open_for_reading(out)
    assert check(conn)["ok"]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()

    # the same files again, in one run and in another: nothing added, nothing reported as conflict
    reports = merge([a, b, a], out)
    assert all(sum(r["added"].values()) == 0 and r["conflicts"] == {} for r in reports)
    assert _counts(out) == merged
    assert run_merge_command([b], out) == 0
    assert "0 rows added in total" in capsys.readouterr().out


def test_merging_into_itself_is_refused(machines, tmp_path, capsys):
    a, b = machines
    before = a.read_bytes()
    assert run_merge_command([b, a], a) == 2
    assert "refusing to merge" in capsys.readouterr().err
    link = tmp_path / "link.db"
    link.symlink_to(a)
    assert run_merge_command([link], a) == 2
    assert run_merge_command([a], tmp_path / "." / "lab-a.db") == 2
    assert a.read_bytes() == before


def test_newer_schema_or_junk_source_is_refused_before_anything_is_written(machines, tmp_path, capsys):
    a, _ = machines
    newer = tmp_path / "newer.db"
    shutil.copy(a, newer)
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    out = tmp_path / "study.db"
    assert run_merge_command([a, newer], out) == 2
    err = capsys.readouterr().err
    assert "newer feedapp" in err and str(newer) in err
    assert not out.exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"junk" * 1000)
    assert run_merge_command([junk], out) == 2
    assert "not a usable SQLite database" in capsys.readouterr().err
    assert run_merge_command([tmp_path / "missing.db"], out) == 2
    assert "no database at" in capsys.readouterr().err
    assert not out.exists()


def test_an_older_copy_of_a_running_session_is_reported_as_a_conflict(tmp_path, capsys):
    """A copy taken mid-session, then the finished file: the first one merged wins, and merge says so."""
    from feedapp.store.log import EventLog
    from tests.store.test_sessions import record_session

    live = tmp_path / "live.db"
    log = EventLog(live)
    rec = record_session(log, n_views=3, end=None)
    assert log.flush()
    early = tmp_path / "early-copy.db"
    src = sqlite3.connect(live)
    dst = sqlite3.connect(early)
    src.backup(dst)
    src.close()
    dst.close()
    rec.end("quit")
    assert log.close()
    out = tmp_path / "study.db"
    assert run_merge_command([early, live], out) == 0
    captured = capsys.readouterr()
    assert "1 sessions" in captured.err and "1 views" in captured.err and "merge the newest copy" in captured.err
    # newest first: no conflict reported against the newer file's rows, and the session is ended
    out2 = tmp_path / "study2.db"
    reports = merge([live, early], out2)
    assert reports[0]["conflicts"] == {}
    assert reports[1]["conflicts"] == {"sessions": 1, "views": 1}
    conn = sqlite3.connect(out2)
    assert conn.execute("SELECT end_reason FROM sessions").fetchone()[0] == "quit"
    conn.close()


def test_orphans_are_copied_verbatim_and_old_sources_are_merged(machines, tmp_path):
    a, _ = machines
    broken = tmp_path / "broken.db"
    shutil.copy(a, broken)
    conn = sqlite3.connect(broken)
    conn.execute("INSERT INTO views (impression_id, session_id, dwell_ms, play_ms, final) VALUES ('lost', 'gone', 1, 1, 1)")
    conn.commit()
    conn.close()
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE probe_cache (path TEXT PRIMARY KEY, size INTEGER)")
    conn.execute("PRAGMA user_version=1")
    conn.close()
    out = tmp_path / "study.db"
    reports = merge([broken, old], out)
    assert reports[0]["added"]["views"] == _counts(a)["views"] + 1
    assert reports[1]["added"] == {} and set(reports[1]["skipped_tables"]) == set(MERGE_TABLES)
    rc = open_for_reading(out)
    rules = {v.rule for v in check(rc)["violations"]}
    rc.close()
    assert rules == {"view_without_impression", "view_unknown_session"}


def test_merge_into_an_existing_study_file_keeps_its_rows(machines, tmp_path):
    a, b = machines
    out = tmp_path / "study.db"
    merge([a], out)
    first = _counts(out)
    reports = merge([b], out)
    assert _counts(out)["sessions"] == first["sessions"] + 1
    assert reports[0]["added"]["clips"] == 0  # b's clips were all in a


def test_no_inputs_is_an_error(tmp_path):
    with pytest.raises(StoreError, match="at least one"):
        merge([], tmp_path / "x.db")
    open_db(tmp_path / "x.db").conn.close()


def test_a_row_refused_by_another_unique_constraint_is_a_conflict(machines, tmp_path):
    a, _ = machines
    other = tmp_path / "other.db"
    shutil.copy(a, other)
    conn = sqlite3.connect(other)
    # the same session position under a new impression id (a corrupted or hand-edited copy)
    conn.execute("UPDATE impressions SET id = 'imp-copy' WHERE position = 3 AND session_id = "
                 "(SELECT id FROM sessions ORDER BY started_utc DESC LIMIT 1)")
    conn.commit()
    conn.close()
    out = tmp_path / "study.db"
    merge([a], out)
    (report,) = merge([other], out)
    assert report["added"]["impressions"] == 0 and report["conflicts"] == {"impressions": 1}


def test_merge_into_an_older_study_file_keeps_a_backup_and_leaves_one_file(machines, tmp_path, capsys):
    from tests.store.test_db import make_schema1_file

    a, _ = machines
    out = tmp_path / "study.db"
    make_schema1_file(out)
    before = out.read_bytes()
    assert run_merge_command([a], out) == 0
    assert "backup kept at" in capsys.readouterr().err
    assert (tmp_path / "study.db.schema1.bak").read_bytes() == before
    assert _counts(out) == _counts(a)
    conn = sqlite3.connect(out)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT COUNT(*) FROM probe_cache").fetchone()[0] == 1  # its own rows kept
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    conn.close()
    assert sorted(p.name for p in tmp_path.glob("study.db*")) == ["study.db", "study.db.schema1.bak"]
    assert not list(tmp_path.glob(".study.db*"))


def test_merge_into_a_file_another_program_has_open_is_refused(machines, tmp_path, capsys):
    a, b = machines
    out = tmp_path / "study.db"
    assert run_merge_command([a], out) == 0
    rows = _dump(out, "sessions")
    other = open_db(out)  # e.g. feedapp recording into it
    try:
        assert run_merge_command([b], out) == 2
        err = capsys.readouterr().err
        assert "is open in another program" in err and "Traceback" not in err
        assert [tuple(r) for r in other.execute("SELECT * FROM sessions ORDER BY id").fetchall()] == \
            sorted(rows, key=lambda r: r[0])
    finally:
        other.conn.close()
    assert _dump(out, "sessions") == rows
    assert run_merge_command([b], out) == 0  # closed: the merge goes through


def test_a_clip_without_features_from_an_older_file_is_the_same_version_and_gets_them(machines, tmp_path, capsys):
    """A log from before migration 5 keeps NULL features; a newer log of the same clips has them. Both
    orders merge without conflicts, and the study file ends with the features (they were reported as
    "same key and different content" and, older file first, lost)."""
    a, b = machines
    old = tmp_path / "old.db"
    shutil.copy(a, old)
    conn = sqlite3.connect(old)
    conn.execute("UPDATE clips SET features = NULL")  # what migration 5 leaves in an upgraded file
    conn.commit()
    conn.close()
    for order in ([old, b], [b, old]):
        out = tmp_path / f"study-{order[0].stem}.db"
        reports = merge(order, out)
        assert [r["conflicts"] for r in reports] == [{}, {}]
        assert "not copied" not in capsys.readouterr().err
        shared = dict(sqlite3.connect(b).execute("SELECT key, features FROM clips").fetchall())
        merged = dict(sqlite3.connect(out).execute("SELECT key, features FROM clips").fetchall())
        assert all(merged[k] == f for k, f in shared.items())  # the newer file's features, whichever came first
        assert all(f is not None for k, f in merged.items() if k in shared)
        assert set(merged) == {k for (k,) in sqlite3.connect(a).execute("SELECT key FROM clips")} | set(shared)


def test_nobody_can_write_to_the_study_file_while_it_is_copied_and_merged(machines, tmp_path, monkeypatch):
    """The merge copies the study file under an EXCLUSIVE lock; closing a descriptor of the file would
    drop that lock (POSIX locks are per process), letting another program write rows the merged file
    then replaces. Tried from another process right after the copy."""
    import subprocess
    import sys

    import feedapp.store.merge as merge_module

    out = tmp_path / "study.db"
    merge([machines[0]], out)
    tries = []
    original = merge_module._copy_from

    def copy_then_try_to_write(src, dest):  # noqa: ANN001
        original(src, dest)
        code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=0.2); "
                "c.execute('CREATE TABLE intruder (x)'); c.commit()")
        tries.append(subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True))

    monkeypatch.setattr(merge_module, "_copy_from", copy_then_try_to_write)
    merge([machines[1]], out)
    assert tries and all(t.returncode != 0 and "locked" in t.stderr for t in tries), [t.stderr for t in tries]
    con = sqlite3.connect(out)
    try:
        assert con.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'intruder'").fetchone()[0] == 0
    finally:
        con.close()


def test_what_a_killed_merge_left_beside_the_study_file_is_removed_by_the_next_one(machines, tmp_path, capsys):
    # kill -9 mid-merge left '.study.db.merging-PID' (+ -wal, -shm: a copy of the study file with the rows merged
    # so far, every participant's) and a '.feedapp-merge-*' folder of upgraded source copies, hidden; no later
    # merge removed them, so a withdrawn participant's rows stayed there
    import subprocess
    import sys

    out = tmp_path / "study.db"
    assert merge([machines[0]], out)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = [f".study.db.merging-{dead.pid}", f".study.db.merging-{dead.pid}-wal", f".study.db.merging-{dead.pid}-shm"]
    for name in left:
        (tmp_path / name).write_bytes(b"rows of P01")
    (tmp_path / f".feedapp-merge-{dead.pid}-x1y2").mkdir()
    (tmp_path / f".feedapp-merge-{dead.pid}-x1y2" / "source0.db").write_bytes(b"rows of P01")
    alive = [f".study.db.merging-{os.getppid()}", f".other.db.merging-{dead.pid}", f".feedapp-merge-{os.getppid()}-a"]
    for name in alive:  # a merge still running (its process exists), another study file's: left alone
        (tmp_path / name).write_bytes(b"in use")
    capsys.readouterr()
    assert merge([machines[1]], out)
    err = capsys.readouterr().err
    assert f"removed .feedapp-merge-{dead.pid}-x1y2, .study.db.merging-{dead.pid} from {tmp_path}: left by a merge " \
           "that was stopped" in err, err
    assert not any((tmp_path / name).exists() for name in left) and not (tmp_path / f".feedapp-merge-{dead.pid}-x1y2").exists()
    assert all((tmp_path / name).read_bytes() == b"in use" for name in alive)
