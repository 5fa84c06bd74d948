"""Merge the logs of several machines into one study file.

Every row is copied with ``INSERT OR IGNORE`` keyed by the table's primary key: session, impression
and event ids are UUIDs, so rows from different machines never collide, and merging the same file
again adds nothing. Clips are keyed by their version key (clip id + hash of its facts, schema 4):
the same clip from two machines is one row, a clip id with other facts is another version. A source
of an older schema is upgraded in a temporary copy first.

A row whose key is already in the study file with *different* content (or that another unique
constraint refuses, e.g. a second impression at the same position of a session) is a **conflict**:
it is not copied (the study file keeps its row) and is counted per table. The usual cause is merging a copy of
a feed.db taken while a session was still running, then a later copy of the same file: merge the
newest copy first (or only the newest).

The probe cache (machine-specific file paths) is not merged. Sources are opened read-only and are
never changed; each source is merged in one transaction (all its rows or none).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import sqlite_utils

from feedapp.store.db import SCHEMA_VERSION, StoreError, migrate, open_db
from feedapp.store.sessions import EVENT_LOG_TABLES, sqlite_uri

# parents before children, so the study file's foreign keys point at rows that exist
MERGE_TABLES = ("sessions", "clips", "impressions", "views", "events", "profile_snapshots")
assert set(MERGE_TABLES) == set(EVENT_LOG_TABLES)


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _source_version(path: Path) -> int:
    if not path.exists():
        raise StoreError(f"there is no database at {path}")
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a database file")
    try:
        conn = sqlite3.connect(sqlite_uri(path, "ro"), uri=True)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path} is not a usable SQLite database ({e})") from e
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer feedapp (schema {version}, this one knows {SCHEMA_VERSION}); "
            "update feedapp before merging it"
        )
    return version


def _pk(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    info = conn.execute(f"PRAGMA {schema}.table_info({table})").fetchall()
    return [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]


def _cols(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({table})")]


def merge(inputs: list[str | Path], out: str | Path) -> list[dict[str, Any]]:
    """Merge ``inputs`` into ``out`` (created and migrated if needed), in order.

    Returns one report per source: ``{"source", "schema_version", "added": {table: n},
    "conflicts": {table: n}, "skipped_tables": [...]}``. Raises StoreError (nothing merged) when a
    source is the output file, is missing, is not a database or has a newer schema.
    """
    out = Path(out)
    sources = [Path(p) for p in inputs]
    if not sources:
        raise StoreError("give at least one database to merge")
    versions = []
    for src in sources:
        if _same_file(src, out):
            raise StoreError(f"refusing to merge {src} into itself; choose another output file with -o")
        versions.append(_source_version(src))

    open_db(out).conn.close()  # create or migrate the study file (with a backup when it is upgraded)
    conn = sqlite3.connect(sqlite_uri(out, "rw"), uri=True, isolation_level=None, timeout=5.0)
    reports = []
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        # rows are copied as they are, orphans included (feedapp check reports them), so that a
        # merge never loses data; foreign keys would refuse e.g. a view whose impression was lost
        conn.execute("PRAGMA foreign_keys=OFF")
        with tempfile.TemporaryDirectory(prefix=".feedapp-merge-", dir=out.parent) as tmp:
            for k, (src, version) in enumerate(zip(sources, versions)):
                readable = _upgraded_copy(src, version, Path(tmp) / f"source{k}.db")
                conn.execute("ATTACH DATABASE ? AS src", [sqlite_uri(readable, "ro")])
                try:
                    reports.append(_merge_one(conn, src, version))
                finally:
                    conn.execute("DETACH DATABASE src")
    finally:
        conn.close()
    return reports


def _upgraded_copy(src: Path, version: int, dest: Path) -> Path:
    """``src`` itself when its event log has the current schema; otherwise a copy upgraded to it
    (beside the output; the source is never changed), so that e.g. its clips get their version keys
    (schema 4) exactly as the app computes them. A file without an event log is merged as it is."""
    if version >= SCHEMA_VERSION:
        return src
    ro = sqlite3.connect(sqlite_uri(src, "ro"), uri=True)
    try:
        tables = {r[0] for r in ro.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"clips", "impressions"} <= tables:
            return src
        copy = sqlite3.connect(dest, isolation_level=None)
        try:
            ro.backup(copy)
            migrate(sqlite_utils.Database(copy))
        finally:
            copy.close()
    finally:
        ro.close()
    return dest


def _merge_one(conn: sqlite3.Connection, src: Path, version: int) -> dict[str, Any]:
    src_tables = {r[0] for r in conn.execute("SELECT name FROM src.sqlite_master WHERE type = 'table'")}
    added: dict[str, int] = {}
    conflicts: dict[str, int] = {}
    skipped = [t for t in MERGE_TABLES if t not in src_tables]
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in MERGE_TABLES:
            if table not in src_tables:
                continue
            main_cols = _cols(conn, "main", table)
            cols = [c for c in _cols(conn, "src", table) if c in main_cols]
            pk = _pk(conn, "main", table)
            if not all(k in cols for k in pk):
                skipped.append(table)
                continue
            col_list = ", ".join(f'"{c}"' for c in cols)
            before = conn.total_changes
            conn.execute(f"INSERT OR IGNORE INTO main.{table} ({col_list}) SELECT {col_list} FROM src.{table}")
            added[table] = conn.total_changes - before
            # after the insert every source row should have an identical twin in the study file; the
            # ones that do not were refused: same key with other content, or another unique
            # constraint (e.g. a second impression at the same session position)
            on = " AND ".join(f's."{k}" = m."{k}"' for k in pk)
            same = " AND ".join(f's."{c}" IS m."{c}"' for c in cols if c not in pk) or "1"
            total = conn.execute(f"SELECT COUNT(*) FROM src.{table}").fetchone()[0]
            identical = conn.execute(
                f"SELECT COUNT(*) FROM src.{table} s JOIN main.{table} m ON {on} WHERE {same}"
            ).fetchone()[0]
            conflicts[table] = total - identical
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return {
        "source": str(src),
        "schema_version": version,
        "added": added,
        "conflicts": {t: n for t, n in conflicts.items() if n},
        "skipped_tables": skipped,
    }
