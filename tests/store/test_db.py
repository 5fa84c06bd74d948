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
