"""Open the SQLite file with the right pragmas and bring its schema up to date.

Migrations are a list of functions; the number applied is kept in ``PRAGMA user_version``, so a file
from a newer feedapp is refused instead of being damaged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils


class StoreError(RuntimeError):
    """The database cannot be used; the message says why and what to do, in plain words."""


def _m001_probe_cache(db: sqlite_utils.Database) -> None:
    db["probe_cache"].create(
        {
            "path": str,  # absolute path of the file
            "size": int,  # bytes, part of the cache key
            "mtime_ns": int,  # modification time, part of the cache key
            "ok": int,  # 1 accepted, 0 rejected
            "info": str,  # JSON: probe results when accepted, {"reason": ...} when rejected
            "poster": bytes,  # small JPEG poster frame (accepted clips only)
        },
        pk="path",
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_m001_probe_cache]
SCHEMA_VERSION = len(MIGRATIONS)


def open_db(path: str | Path | None = None, *, memory: bool = False) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database; raise StoreError with advice on failure."""
    if memory or path is None:
        db = sqlite_utils.Database(memory=True)
    else:
        path = Path(path)
        if not path.parent.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder for the database {path.parent}: {e.strerror}") from e
        try:
            conn = sqlite3.connect(str(path), timeout=5.0, isolation_level=None, check_same_thread=False)
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as e:
            raise StoreError(
                f"{path} is not a usable SQLite database ({e}). It was left untouched; "
                "move it aside or choose another file with --db."
            ) from e
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    migrate(db)
    return db


def migrate(db: sqlite_utils.Database) -> int:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"this database was written by a newer feedapp (schema {version}, this one knows {SCHEMA_VERSION}); "
            "update feedapp to open it"
        )
    for number in range(version, SCHEMA_VERSION):
        with db.conn:
            MIGRATIONS[number](db)
            db.execute(f"PRAGMA user_version={number + 1}")
    return SCHEMA_VERSION
