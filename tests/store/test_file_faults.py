"""Issue 15, items 5, 12 and 14: files that are not feedapp's, damaged files, and merge into a full disk.

Damaged files are made by overwriting bytes of real feedapp logs (header, schema page, a table's
root page, the probe cache's page, a cut-off end); a full disk is a small tmpfs (root only, skipped
otherwise) and, without root, a file-size limit (RLIMIT_FSIZE) on the merging process.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from feedapp.store.commands import run_check_command, run_export_command, run_merge_command, run_sessions_command
from feedapp.store.db import StoreError, open_db
from feedapp.store.merge import MERGE_TABLES
from tests.store.test_sessions import write_log

ROOT = Path(__file__).resolve().parents[2]


def real_log(path: Path, sessions: int = 2, n_views: int = 12) -> Path:
    """A feedapp log as the app leaves it, then made one self-contained file (no -wal) to damage."""
    write_log(path, [dict(n_views=n_views, participant=f"P{k:02d}", t0=(1 + k) * 10**15) for k in range(sessions)])
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return path


def _page_size(path: Path) -> int:
    size = int.from_bytes(path.read_bytes()[16:18], "big")
    return 65536 if size == 1 else size


def _rootpage(path: Path, name: str) -> int:
    conn = sqlite3.connect(path)
    page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [name]).fetchone()[0]
    conn.close()
    return page


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def damage(path: Path, how: str) -> None:
    ps = _page_size(path)
    if how == "header":  # the first bytes: no longer recognisable as SQLite
        _overwrite(path, 0, b"\x00garbage-header\xff")
    elif how == "schema_page":  # page 1 after the file header: the schema (sqlite_master) is garbage
        _overwrite(path, 100, bytes(range(256)) * ((ps - 100) // 256))
    elif how == "views_root":  # the views table's root page
        _overwrite(path, (_rootpage(path, "views") - 1) * ps, b"\x0d\xff\xff\xff" + b"\xa5" * (ps - 4))
    elif how == "probe_cache_page":  # a table `check` never reads: only SQLite's integrity check sees it
        _overwrite(path, (_rootpage(path, "probe_cache") - 1) * ps, b"\x0d\x00\x01\x00\x08" + b"\xee" * 64)
    elif how == "truncated":  # the end of the file cut off (a copy that stopped half-way)
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size // 2)
    else:  # pragma: no cover
        raise ValueError(how)


DAMAGES = ("header", "schema_page", "views_root", "probe_cache_page", "truncated")


@pytest.mark.parametrize("how", DAMAGES)
def test_check_reports_a_damaged_file_in_words_with_exit_code_2(tmp_path, capsys, how):
    path = real_log(tmp_path / "feed.db")
    damage(path, how)
    before = path.read_bytes()
    if how == "probe_cache_page":  # the case: SQLite's own check fails, the invariants alone pass
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok"
        conn.close()
    for as_json in (False, True):
        assert run_check_command(path, as_json=as_json) == 2
        cap = capsys.readouterr()
        err = cap.err.strip()
        assert "every invariant holds" not in cap.out and "Traceback" not in err
        assert err.count("\n") == 0 and err.startswith("feedapp: ")
        if how == "header":
            assert "not a usable SQLite database" in err
        else:
            assert "is damaged" in err and ".recover" in err
    if how == "probe_cache_page":
        assert "integrity check fails" in err
    assert path.read_bytes() == before


@pytest.mark.parametrize("how", ("header", "schema_page", "views_root", "truncated"))
def test_sessions_export_and_merge_report_a_damaged_file_with_exit_code_2(tmp_path, capsys, how):
    path = real_log(tmp_path / "feed.db")
    damage(path, how)
    before = path.read_bytes()
    out_dir = tmp_path / "export"
    study = tmp_path / "study.db"
    results = {
        "sessions": run_sessions_command(path),
        "export": run_export_command(path, None, True, "csv", out_dir),
        "merge": run_merge_command([path], study),
    }
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    for (name, code), line in zip(results.items(), lines):
        assert code == 2, name
        assert line.startswith("feedapp: ") and ("is damaged" in line or "not a usable SQLite database" in line), line
    assert len(lines) == 3
    assert path.read_bytes() == before
    assert not study.exists() and not any(tmp_path.glob(".study.db*"))
    assert not out_dir.exists() or not any(p.suffix in (".csv", ".part") for p in out_dir.iterdir())


def test_merge_refuses_a_source_that_fails_the_quick_check(tmp_path, capsys):
    good = real_log(tmp_path / "good.db")
    bad = real_log(tmp_path / "bad.db")
    damage(bad, "probe_cache_page")
    study = tmp_path / "study.db"
    assert run_merge_command([good], study) == 0
    merged = study.read_bytes()
    capsys.readouterr()
    assert run_merge_command([bad], study) == 2
    err = capsys.readouterr().err
    assert f"{bad} is damaged" in err and "quick check" in err and "nothing was merged" in err
    assert study.read_bytes() == merged


# == item 5: a foreign SQLite file, or no SQLite file at all ===========================================
def _foreign(path: Path, with_sessions: bool) -> bytes:
    conn = sqlite3.connect(path)
    if with_sessions:  # its own `sessions` table: used to give a traceback
        conn.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, who TEXT, started TEXT)")
        conn.execute("INSERT INTO sessions (who, started) VALUES ('alice', '2024-01-01')")
    else:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('my data')")
    conn.commit()
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("kind", ["foreign_sessions", "foreign_notes", "text", "image"])
def test_a_file_that_is_not_feedapps_is_refused_and_left_byte_for_byte(tmp_path, capsys, kind):
    from feedapp.cli import main

    path = tmp_path / "other.db"
    if kind.startswith("foreign"):
        before = _foreign(path, kind == "foreign_sessions")
        words = "another program's SQLite database"
    else:
        before = b"name,score\nalice,3\n" * 20 if kind == "text" else b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
        path.write_bytes(before)
        words = "not a usable SQLite database"
    with pytest.raises(StoreError, match=words):
        open_db(path)
    folder = tmp_path / "clips"
    folder.mkdir()
    assert main(["scan", str(folder), "--db", str(path)]) == 2  # the app's own way in (open_db)
    assert run_sessions_command(path) == 2
    assert run_merge_command([path], tmp_path / "study.db") == 2  # as a source
    assert run_merge_command([real_log(tmp_path / "feed.db")], path) == 2  # as the study file
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(words in line and "unchanged" in line for line in err), err
    assert "Traceback" not in "".join(err)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("other")) == ["other.db"]  # no -wal/-shm


def test_an_empty_file_or_empty_sqlite_database_is_taken(tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.db"
    sqlite3.connect(blank).execute("PRAGMA user_version=0").connection.close()
    for path in (empty, blank):
        db = open_db(path)
        assert "sessions" in db.table_names()
        db.conn.close()


# == item 14: merge into a full disk =================================================================
@pytest.fixture()
def full_disk(tmp_path):
    """tests/disk_faults.FullDisk: a 4 MB tmpfs (root only; skipped otherwise)."""
    from tests.disk_faults import FullDisk

    disk = FullDisk(tmp_path)
    try:
        yield disk
    finally:
        disk.cleanup()


def _rows(path: Path) -> dict[str, list]:
    conn = sqlite3.connect(path)
    out = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in MERGE_TABLES}
    conn.close()
    return out


def _leave_free(disk, free: int) -> None:
    """Fill the disk, then give back ``free`` bytes: a write of more than that fails half-way."""
    disk.inject()
    size = disk.filler.stat().st_size
    with open(disk.filler, "r+b") as f:
        f.truncate(max(0, size - free))


@pytest.mark.parametrize("free_kib", [0, 320], ids=["no-space-at-all", "space-runs-out-mid-merge"])
def test_merge_into_a_full_disk_leaves_the_study_file_as_it_was(tmp_path, full_disk, capsys, free_kib):
    small = real_log(tmp_path / "small.db", sessions=1, n_views=4)
    big = real_log(tmp_path / "big.db", sessions=6, n_views=120)
    assert big.stat().st_size > 3 * free_kib * 1024
    target = full_disk.dir / "study.db"
    assert run_merge_command([small], target) == 0
    capsys.readouterr()
    rows = _rows(target)
    before = target.read_bytes()
    _leave_free(full_disk, free_kib * 1024)
    # an existing study file: the failed merge leaves every row as it was, and the file readable
    assert run_merge_command([big], target) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert "disk is full" in err and f"{target} was left as it was" in err
    assert _rows(target) == rows and target.read_bytes() == before  # byte for byte
    assert run_check_command(target) == 0
    # a new study file: not created, nothing left behind
    fresh = full_disk.dir / "new.db"
    assert run_merge_command([big], fresh) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "disk is full" in err and f"{fresh} was not created" in err
    # said of the study file, not of merge's hidden copy with open_db's advice ('.new.db.merging-123 is not a
    # usable SQLite database (database or disk is full). It was left untouched; move it aside ... --db')
    assert err.startswith(f"feedapp: cannot write {fresh}: the disk is full") and ".merging" not in err, err
    assert sorted(p.name for p in full_disk.dir.iterdir()) == ["filler", "study.db"]


def test_a_new_log_on_a_full_disk_is_refused_in_words_and_leaves_no_empty_file(tmp_path, full_disk):
    # 'feedapp play --db /full/feed.db' said '/full/feed.db is not a usable SQLite database (database or disk is
    # full). It was left untouched; move it aside or choose another file with --db', of the empty file it had
    # just made (and left behind)
    full_disk.inject()
    path = full_disk.dir / "feed.db"
    with pytest.raises(StoreError) as refused:
        open_db(path)
    said = str(refused.value)
    assert said.startswith(f"cannot create the database {path}: the disk holding it is full") and "free some space" in said
    assert "not a usable" not in said and not path.exists()


def test_merge_hitting_a_file_size_limit_reports_it_and_leaves_nothing(tmp_path):
    """No root needed: RLIMIT_FSIZE makes every write past the limit fail (EFBIG), as a full disk does."""
    big = real_log(tmp_path / "big.db", sessions=4, n_views=80)
    target = tmp_path / "out" / "study.db"
    target.parent.mkdir()
    limit = big.stat().st_size // 3

    def limit_size() -> None:  # Python ignores SIGXFSZ, so the write fails instead of killing the process
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "feedapp", "merge", str(big), "-o", str(target)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120, preexec_fn=limit_size)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and f"{target} was not created" in err, err
    assert "input/output error" in err
    assert list(target.parent.iterdir()) == []


def test_lab_commands_and_replay_report_a_damaged_file_in_one_line(tmp_path, capsys):
    from feedapp.cli import main

    path = real_log(tmp_path / "feed.db")
    conn = sqlite3.connect(path)
    sid = conn.execute("SELECT id FROM sessions ORDER BY id LIMIT 1").fetchone()[0]
    with conn:  # lab sessions of a study: `lab export` leaves other sessions to `feedapp export`
        conn.execute("UPDATE sessions SET study = 'faults'")
    conn.close()
    damage(path, "views_root")
    before = path.read_bytes()
    runs = [
        ["lab", "export", "--db", str(path), "--out", str(tmp_path / "x")],
        ["lab", "withdraw", "P00", "--db", str(path), "--yes"],
        ["lab", "report", "--db", str(path), "--session", sid[:8], "--out", str(tmp_path / "r")],
        ["replay", "--db", str(path), "--session", sid[:8], "--ranker", "random"],
    ]
    for argv in runs:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "is damaged" in err and "Traceback" not in err, (argv, err)
    assert path.read_bytes() == before
