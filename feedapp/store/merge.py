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

A clip's ``features`` (NULL in logs from before migration 5) is no such difference: the study file's
NULL is filled from a source that has them (``FILLED_LATER``).

The probe cache (machine-specific file paths) is not merged. Sources are opened read-only and are
never changed; each must be a feedapp log that passes SQLite's ``quick_check``.

The study file is never written in place: the merge goes into a temporary file beside it
(``.NAME.merging-PID``: a copy of the study file when it exists, taken under an exclusive lock that
is held until the end, so nobody writes to it meanwhile), which is renamed over the study file only
when every source went in. Any failure (full disk, I/O error, a damaged source, Ctrl+C) removes the
temporary file and leaves the study file as it was, or absent. What a merge that was killed (``kill -9``, a
power cut) left (its ``.NAME.merging-PID`` files and ``.feedapp-merge-PID-*`` folder: copies of the
study file and of sources, hidden) is removed by the next merge beside it once that process is gone,
with a line saying so. The result is a single file in
rollback-journal mode (no ``-wal``/``-shm`` beside it), ready to be copied; feedapp switches it to
WAL when it next writes to it. A study file that another program has open is refused.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlite_utils

from feedapp.store.db import (
    SCHEMA_VERSION,
    DamagedError,
    StoreError,
    backup_path,
    check_ownership,
    check_parent_exists,
    check_writable,
    connect_read_only,
    damaged,
    explain_sqlite_error,
    file_owner,
    migrate,
    open_db,
    read_only_uri,
    sqlite_uri,
)
from feedapp.store.sessions import EVENT_LOG_TABLES

# parents before children, so the study file's foreign keys point at rows that exist
MERGE_TABLES = ("sessions", "clips", "impressions", "views", "events", "profile_snapshots", "questionnaire")
assert set(MERGE_TABLES) == set(EVENT_LOG_TABLES) | {"questionnaire"}  # questionnaire: schema 6


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
    check_ownership(path, "merge only files that feedapp wrote")
    try:
        conn = connect_read_only(path)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            problems = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise explain_sqlite_error(path, e) from e
    if problems != ["ok"]:
        raise damaged(path, f"SQLite's quick check fails: {problems[0]!r}; nothing was merged")
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
    """Merge ``inputs`` into ``out`` (created and migrated if needed), in order, all or nothing.

    Returns one report per source: ``{"source", "schema_version", "added": {table: n},
    "conflicts": {table: n}, "skipped_tables": [...]}``. Raises StoreError (nothing merged, ``out``
    as it was) when a source is the output file, is missing, is not a feedapp log, is damaged or has
    a newer schema, when ``out``'s folder does not exist, and when writing fails (e.g. a full disk).
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
    check_parent_exists(out, "-o")
    check_writable(out)
    check_ownership(out, "choose another output file with -o")
    existed = file_owner(out)[0] == "feedapp"
    if not out.exists():
        for leftover in (_side(out, "-wal"), _side(out, "-journal")):
            if leftover.exists() and leftover.stat().st_size > 0:
                raise StoreError(f"{leftover} is left over from a database that is gone; SQLite would apply it to a "
                                 f"new {out.name}: move it aside, or choose another output file with -o")
    tmp = out.with_name(f".{out.name}.merging-{os.getpid()}")
    _remove(tmp)
    _remove_killed_merges(out)
    lock, was_wal = _lock_for_merge(out) if existed else (None, False)
    held = None  # a file object on out, kept open until the lock is released
    reports: list[dict[str, Any]] = []
    replaced = False
    try:
        if lock is not None:
            # under the exclusive lock: out is one consistent file (rollback mode). Read through a descriptor
            # kept open until the lock is released: closing one would drop this process's lock on out
            held = open(out, "rb")  # noqa: SIM115 - closed only after the lock is released (see above)
            _copy_from(held, tmp)
            version = int(lock.execute("PRAGMA user_version").fetchone()[0])
            if version < SCHEMA_VERSION:
                backup = backup_path(out, version)
                _copy_from(held, backup)
                print(f"feedapp: upgrading {out} from schema {version} to {SCHEMA_VERSION}; backup kept at {backup}",
                      file=sys.stderr)
        open_db(tmp, backup=False).conn.close()  # create or migrate the copy
        conn = sqlite3.connect(sqlite_uri(tmp, "rw"), uri=True, isolation_level=None, timeout=5.0)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            # rows are copied as they are, orphans included (feedapp check reports them), so that a
            # merge never loses data; foreign keys would refuse e.g. a view whose impression was lost
            conn.execute("PRAGMA foreign_keys=OFF")
            with tempfile.TemporaryDirectory(prefix=f".feedapp-merge-{os.getpid()}-", dir=out.parent) as upgraded:
                for k, (src, version) in enumerate(zip(sources, versions)):
                    readable = _upgraded_copy(src, version, Path(upgraded) / f"source{k}.db")
                    conn.execute("ATTACH DATABASE ? AS src", [read_only_uri(readable)])
                    try:
                        reports.append(_merge_one(conn, src, version))
                    except sqlite3.DatabaseError as e:
                        if isinstance(explain_sqlite_error(src, e), DamagedError):
                            raise damaged(src, f"SQLite: {e}") from e
                        raise
                    finally:
                        conn.execute("DETACH DATABASE src")
            conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            conn.close()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
        replaced = True
        _fsync_dir(out.parent)
    except BaseException as e:
        _remove(tmp)
        state = f"{out} was left as it was" if existed else f"{out} was not created"
        cause = e.__cause__ if isinstance(e, StoreError) else None
        if isinstance(cause, sqlite3.DatabaseError) and "full" in str(cause).lower():
            e = cause  # the copy could not even be made (no space at all): said of the study file, not of the copy
        if isinstance(e, StoreError):
            raise StoreError(f"{e}; {state}") from e
        if isinstance(e, sqlite3.DatabaseError):
            raise StoreError(f"{explain_sqlite_error(out, e, 'write')}; nothing was merged and {state}") from e
        if isinstance(e, OSError):
            why = "the disk is full; free some space and try again" if e.errno == errno.ENOSPC else (e.strerror or str(e))
            raise StoreError(f"cannot write {out}: {why}; nothing was merged and {state}") from e
        raise
    finally:
        if lock is not None:
            _release(lock, back_to_wal=was_wal and not replaced)
        if held is not None:
            held.close()
    return reports


def _gone(pid: int) -> bool:
    """True when no process ``pid`` exists (a reused pid counts as running: nothing of it is removed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. another user's process: it exists
        return False
    return False


def _remove_killed_merges(out: Path) -> None:
    """Remove what merges into ``out`` that were killed left beside it: ``.NAME.merging-PID`` (with its
    -wal/-shm: a copy of the study file and the rows merged so far) and ``.feedapp-merge-PID-*`` (upgraded
    copies of sources), each only when process PID is gone. They hold every participant's rows under
    hidden names (a withdrawn participant's too) and were never removed. Says so on stderr."""
    pattern = re.compile(r"^\." + re.escape(out.name) + r"\.merging-(\d+)$")
    removed = []
    for p in sorted(out.parent.iterdir()):
        m = pattern.match(p.name) or re.match(r"^\.feedapp-merge-(\d+)-", p.name)
        if not m or int(m.group(1)) == os.getpid() or not _gone(int(m.group(1))):
            continue
        if p.is_dir() and p.name.startswith(".feedapp-merge-"):
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_file():
            _remove(p)
        else:
            continue
        removed.append(p.name)
    if removed:
        print(f"feedapp: removed {', '.join(removed)} from {out.parent}: left by a merge that was stopped "
              "(its process is gone); they were copies, the study file itself is as that merge found it",
              file=sys.stderr)


def _side(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _remove(path: Path) -> None:
    for p in (path, _side(path, "-wal"), _side(path, "-shm"), _side(path, "-journal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError:  # pragma: no cover - nothing more can be done about a leftover here
            pass


def _lock_for_merge(out: Path) -> tuple[sqlite3.Connection, bool]:
    """A connection holding an EXCLUSIVE lock on ``out`` in rollback mode: no other program has it open
    (leaving WAL mode needs that), nobody can write to it until the merged file replaces it, and the
    file alone holds the whole database (no -wal), so a plain copy of it is consistent. Also returns
    whether it was in WAL mode (to put it back if the merge fails)."""
    conn = sqlite3.connect(sqlite_uri(out, "rw"), uri=True, isolation_level=None, timeout=2.0)
    try:
        conn.execute("PRAGMA busy_timeout=2000")
        was_wal = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if str(mode).lower() != "delete":
            raise sqlite3.OperationalError("database is locked")
        conn.execute("BEGIN EXCLUSIVE")
    except sqlite3.DatabaseError as e:
        conn.close()
        if "locked" in str(e).lower() or "busy" in str(e).lower():
            raise StoreError(f"{out} is open in another program (feedapp recording into it, a database browser, ...); "
                             "close it and merge again, or merge into another file with -o") from e
        raise explain_sqlite_error(out, e, "write") from e
    return conn, was_wal


def _release(conn: sqlite3.Connection, back_to_wal: bool) -> None:
    """End the lock; when the merge failed, put the study file back into WAL mode if it was in it."""
    try:
        conn.execute("ROLLBACK")
        if back_to_wal:
            conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error:
        pass  # e.g. a full disk: the file is still whole, feedapp switches it to WAL when it next opens it
    conn.close()


def _copy_from(src, dest: Path) -> None:  # noqa: ANN001 - a binary file object
    """Copy the locked file through a descriptor that stays open: closing any descriptor of a file
    drops every POSIX lock this process holds on it, the merge's EXCLUSIVE lock included."""
    src.seek(0)
    with open(dest, "wb") as f:
        shutil.copyfileobj(src, f, 1 << 20)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every platform opens folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _upgraded_copy(src: Path, version: int, dest: Path) -> Path:
    """``src`` itself when its event log has the current schema; otherwise a copy upgraded to it
    (beside the output; the source is never changed), so that e.g. its clips get their version keys
    (schema 4) exactly as the app computes them. A file without an event log is merged as it is."""
    if version >= SCHEMA_VERSION:
        return src
    ro = connect_read_only(src)
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


#: Columns a later migration added and older logs hold as NULL (migration 5: a clip's features). A NULL
#: there does not make a row another version: merging fills it from a source that has it.
FILLED_LATER: dict[str, tuple[str, ...]] = {"clips": ("features",)}


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
            fill = [c for c in FILLED_LATER.get(table, ()) if c in cols]
            on_key = " AND ".join(f's."{k}" = main.{table}."{k}"' for k in pk)
            for c in fill:  # a log from before the column existed has NULL there: the same row, completed
                conn.execute(f'UPDATE main.{table} SET "{c}" = (SELECT s."{c}" FROM src.{table} s WHERE {on_key}) '
                             f'WHERE "{c}" IS NULL AND EXISTS (SELECT 1 FROM src.{table} s WHERE {on_key} '
                             f'AND s."{c}" IS NOT NULL)')
            # after the insert every source row should have an identical twin in the study file; the
            # ones that do not were refused: same key with other content, or another unique
            # constraint (e.g. a second impression at the same session position)
            on = " AND ".join(f's."{k}" = m."{k}"' for k in pk)
            same = " AND ".join(f'(s."{c}" IS m."{c}"' + (f' OR s."{c}" IS NULL)' if c in fill else ")")
                                for c in cols if c not in pk) or "1"
            total = conn.execute(f"SELECT COUNT(*) FROM src.{table}").fetchone()[0]
            identical = conn.execute(
                f"SELECT COUNT(*) FROM src.{table} s JOIN main.{table} m ON {on} WHERE {same}"
            ).fetchone()[0]
            conflicts[table] = total - identical
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite has already rolled back after e.g. a full disk
            conn.execute("ROLLBACK")
        raise
    return {
        "source": str(src),
        "schema_version": version,
        "added": added,
        "conflicts": {t: n for t, n in conflicts.items() if n},
        "skipped_tables": skipped,
    }
