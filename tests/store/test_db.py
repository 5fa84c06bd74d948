import sqlite3

import pytest

from feedapp.store.cache import ProbeCache
from feedapp.store.db import SCHEMA_VERSION, StoreError, open_db


def test_new_file_is_migrated_and_in_wal_mode(tmp_path):
    db = open_db(tmp_path / "sub" / "feed.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert "probe_cache" in db.table_names()


def test_reopening_keeps_data(tmp_path):
    path = tmp_path / "feed.db"
    ProbeCache(open_db(path)).put_many([("/v/a.mp4", 10, 20, True, {"fps": 30.0}, b"\xff\xd8")])
    again = ProbeCache(open_db(path))
    assert again.get("/v/a.mp4", 10, 20) == (True, {"fps": 30.0}, b"\xff\xd8")
    assert again.get("/v/a.mp4", 11, 20) is None  # size changed: probe again


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "feed.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer feedapp"):
        open_db(path)


def test_corrupt_file_gets_advice_and_is_not_overwritten(tmp_path):
    path = tmp_path / "feed.db"
    junk = b"this is not a database" * 100
    path.write_bytes(junk)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        open_db(path)
    assert path.read_bytes() == junk


def make_schema1_file(path) -> None:
    """A database as feedapp left it at schema 1 (only the probe cache), with one cached probe."""
    import sqlite_utils

    from feedapp.store.db import MIGRATIONS

    old = sqlite_utils.Database(path)
    MIGRATIONS[0](old)
    old.execute("PRAGMA user_version=1")
    old["probe_cache"].insert({"path": "/a", "size": 1, "mtime_ns": 2, "ok": 1, "info": "{}", "poster": b""})
    old.conn.close()


def test_older_schema_is_backed_up_then_migrated(tmp_path):
    import sqlite_utils

    from feedapp.store.db import _schema_version

    path = tmp_path / "feed.db"
    make_schema1_file(path)
    db = open_db(path)
    assert _schema_version(db) == SCHEMA_VERSION and "sessions" in db.table_names()
    backup = tmp_path / "feed.db.schema1.bak"
    assert backup.exists()
    b = sqlite_utils.Database(backup)
    assert b.execute("PRAGMA user_version").fetchone()[0] == 1
    assert b["probe_cache"].count == 1 and "sessions" not in b.table_names()


def _immutable(path) -> bool:
    """chattr +i: even root cannot write (the tests run as root, where permission bits do not bind)."""
    import subprocess

    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def _mutable(path) -> None:
    import subprocess

    subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_read_only_file_and_folder_are_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "feed.db"
    open_db(path).conn.close()
    for extra in ("-wal", "-shm"):
        (tmp_path / f"feed.db{extra}").unlink(missing_ok=True)
    if not _immutable(path):
        pytest.skip("chattr +i is not supported on this filesystem")
    try:
        with pytest.raises(StoreError, match="is read-only, so no session could be recorded"):
            open_db(path)
    finally:
        _mutable(path)
    folder = tmp_path / "locked"
    folder.mkdir()
    assert _immutable(folder)
    try:
        with pytest.raises(StoreError, match="folder .* is read-only") as refused:
            open_db(folder / "feed.db")
        assert "must create feed.db and its journal files" in str(refused.value)
    finally:
        _mutable(folder)
    # a log that exists in such a folder: its journal files are what SQLite cannot make (it said 'must create
    # feed.db' of a file that was there)
    (folder / "feed.db").write_bytes(path.read_bytes())
    assert _immutable(folder)
    try:
        with pytest.raises(StoreError) as refused:
            open_db(folder / "feed.db")
        said = str(refused.value)
        assert "cannot be written" in said and "keeps the journal files of feed.db (-wal, -shm) beside it" in said, said
        assert "must create" not in said
    finally:
        _mutable(folder)


def test_a_folder_given_as_the_database_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a folder"):
        open_db(tmp_path)


def test_a_failed_migration_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    import feedapp.store.db as dbmod

    path = tmp_path / "feed.db"

    def half_done(db):
        db.execute("CREATE TABLE half (x)")
        raise RuntimeError("power cut in the middle of a migration")

    monkeypatch.setattr(dbmod, "MIGRATIONS", [*dbmod.MIGRATIONS, half_done])
    monkeypatch.setattr(dbmod, "SCHEMA_VERSION", len(dbmod.MIGRATIONS))
    with pytest.raises(RuntimeError):
        dbmod.open_db(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
    assert raw.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0  # all or nothing
    raw.close()
    monkeypatch.undo()
    assert _schema_version_of(path) == SCHEMA_VERSION


def _schema_version_of(path):
    return open_db(path).execute("PRAGMA user_version").fetchone()[0]


def test_a_file_locked_by_another_program_is_one_clear_error_and_the_cache_is_kept_in_memory(tmp_path):
    """A write lock that outlasts the 5 s busy timeout: a new file cannot be set up (one clear line);
    an existing, current one opens, and probe results that cannot be cached are kept for this run."""
    import subprocess
    import sys

    hold = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN IMMEDIATE');"
            "print('locked', flush=True); sys.stdin.readline()")
    fresh = tmp_path / "fresh.db"
    sqlite3.connect(fresh).close()
    current = tmp_path / "feed.db"
    open_db(current).conn.close()
    holders = [subprocess.Popen([sys.executable, "-c", hold, str(p)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for p in (fresh, current)]
    try:
        assert [h.stdout.readline().strip() for h in holders] == ["locked", "locked"]
        with pytest.raises(StoreError, match="is locked by another program .*start again"):
            open_db(fresh)
        cache = ProbeCache(open_db(current))
        cache.put_many([("/v/a.mp4", 10, 20, True, {"fps": 30.0}, b"")])
        assert cache.get("/v/a.mp4", 10, 20) == (True, {"fps": 30.0}, b"")
    finally:
        for h in holders:
            h.communicate("release\n", timeout=10)
    assert ProbeCache(open_db(current)).get("/v/a.mp4", 10, 20) is None  # not written: a probe next time



_READ_AND_CLOSE = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                   "print(c.execute(sys.argv[2]).fetchone()[0]); c.close()")


def _another_program(path, sql: str) -> str:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _READ_AND_CLOSE, str(path), sql], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_another_program_reading_the_log_never_deletes_the_wal_under_a_running_session(tmp_path):
    """Found with a plugin ranker: a second connection opened in the app's process (the log writer's)
    read the file's first bytes with a plain open() and close(), which drops every POSIX lock the process
    holds on it. An analyst's reader that then closed believed it was the last connection, checkpointed
    and deleted the -wal file, and the running session wrote on into a deleted file (all lost on a kill)."""
    path = tmp_path / "feed.db"
    app = open_db(path)  # the app's first connection, as the catalog opens it
    writer = open_db(path)  # the log writer's connection, opened while the first is open
    assert _another_program(path, "SELECT COUNT(*) FROM sessions") == "0"
    assert (tmp_path / "feed.db-wal").exists(), "the reader deleted the running session's -wal file"
    writer.execute("CREATE TABLE scratch (x)")
    writer.execute("INSERT INTO scratch VALUES (1)")
    assert _another_program(path, "SELECT COUNT(*) FROM scratch") == "1"  # what the session writes, others read
    writer.conn.close()
    app.conn.close()
