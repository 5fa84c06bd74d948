"""Open the SQLite file with the right pragmas and bring its schema up to date.

Migrations are a list of functions; the number applied is kept in ``PRAGMA user_version``, so a file
from a newer feedapp is refused instead of being damaged.
"""

from __future__ import annotations

import os
import sqlite3
import sys
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


def _m002_event_log(db: sqlite_utils.Database) -> None:
    """The research log. Meaning and unit of every column: docs/data.md. Ids are UUID strings so that
    files from several lab machines merge without collisions."""
    db["sessions"].create(
        {
            "id": str,  # UUID
            "app_version": str,
            "mode": str,  # demo | play | lab | simulate
            "ranker": str,
            "ranker_params": str,  # JSON object
            "seed": int,
            "catalog_fingerprint": str,
            "catalog_size": int,
            "participant": str,  # pseudonymous id, "" in demo mode
            "condition": str,  # "" in demo mode
            "skip_threshold_ms": int,
            "started_utc": str,  # ISO 8601, UTC
            "started_mono_ns": int,  # monotonic clock of the machine that ran it
            "ended_utc": str,
            "ended_mono_ns": int,
            "end_reason": str,  # finished | quit | time_limit | recovered_after_crash | error; NULL while running
            "host": str,
        },
        pk="id",
        not_null={"app_version", "mode", "ranker", "started_utc", "started_mono_ns"},
        defaults={"participant": "", "condition": "", "ranker_params": "{}"},
    )
    db["clips"].create(
        {
            "id": str,
            "path": str,
            "title": str,
            "topics": str,  # JSON array of strings
            "creator": str,
            "duration_ms": int,
            "fps": float,
            "width": int,
            "height": int,
            "rotation": int,
            "created": str,
        },
        pk="id",
    )
    db["impressions"].create(
        {
            "id": str,  # UUID
            "session_id": str,
            "position": int,  # 0, 1, 2, ... within the session
            "clip_id": str,
            "reached_by": str,  # start | swipe_next | swipe_prev | key | wheel | touch | auto_skip
            "is_revisit": int,  # 1 when this clip was already shown earlier in the session
            "policy": str,  # ranker that chose it ("history" for a revisit)
            "score": float,
            "propensity": float,  # P(policy puts this clip in this slot); NULL when unknown
            "exploration": int,
            "input_mono_ns": int,  # the input event that asked for this clip
            "settled_mono_ns": int,  # the snap animation settled: the clip became active
            "settled_utc": str,
            "first_frame_ms": float,  # settled -> first frame painted
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id"), ("clip_id", "clips", "id")],
        not_null={"session_id", "position", "clip_id", "settled_mono_ns"},
    )
    db["impressions"].create_index(["session_id", "position"], unique=True)
    db["impressions"].create_index(["clip_id"])
    db["views"].create(
        {
            "impression_id": str,
            "session_id": str,
            "dwell_ms": float,  # time the clip was the active clip
            "play_ms": float,  # time actually playing: not paused, focused, not stalled
            "paused_ms": float,  # paused by the viewer while the window had focus
            "unfocused_ms": float,  # window unfocused or minimised
            "stalled_ms": float,  # waiting for frames (first frame, buffering)
            "watch_ratio": float,  # play_ms / clip duration; above 1 when it loops
            "loops": int,  # completed plays of the clip
            "skipped": int,  # 1 when play_ms < the session's skip threshold
            "exit": str,  # how the viewer left: swipe_next | swipe_prev | key | wheel | touch | auto_skip | quit | crash
            "liked": int,
            "not_interested": int,
            "ended_mono_ns": int,
            "ended_utc": str,
            "final": int,  # 1 closed view; 0 checkpoint of the in-flight view (at most 250 ms old)
        },
        pk="impression_id",
        foreign_keys=[("impression_id", "impressions", "id"), ("session_id", "sessions", "id")],
        not_null={"session_id", "dwell_ms", "play_ms", "final"},
    )
    db["views"].create_index(["session_id"])
    db["events"].create(
        {
            "id": str,  # UUID
            "session_id": str,
            "impression_id": str,  # NULL when not about one clip
            "kind": str,  # pause | resume | mute | unmute | seek | like | focus_lost | focus_gained | ...
            "mono_ns": int,
            "utc": str,
            "data": str,  # JSON object with kind-specific details
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id"), ("impression_id", "impressions", "id")],
        not_null={"session_id", "kind", "mono_ns"},
    )
    db["events"].create_index(["session_id", "mono_ns"])
    db["profile_snapshots"].create(
        {
            "session_id": str,
            "after_position": int,  # the snapshot was taken after the view at this position
            "mono_ns": int,
            "utc": str,
            "profile": str,  # JSON: per-topic and per-creator affinities
        },
        pk=("session_id", "after_position"),
        foreign_keys=[("session_id", "sessions", "id")],
    )
    # view_log is created by migration 3 (with sessions.study); migrations always run to the latest
    # version in one transaction, so no file ever stops at schema 2 without it

VIEW_LOG_SQL = """
SELECT i.session_id, s.study, s.participant, s.condition, s.ranker, i.position, i.id AS impression_id,
       i.clip_id, c.title, c.creator, c.topics, c.duration_ms, i.reached_by, i.is_revisit,
       i.policy, i.score, i.propensity, i.exploration, i.settled_utc, i.first_frame_ms,
       v.dwell_ms, v.play_ms, v.paused_ms, v.unfocused_ms, v.stalled_ms, v.watch_ratio, v.loops,
       v.skipped, v.exit, v.liked, v.not_interested, v.final
FROM impressions i
JOIN sessions s ON s.id = i.session_id
LEFT JOIN clips c ON c.id = i.clip_id
LEFT JOIN views v ON v.impression_id = i.id
ORDER BY i.session_id, i.position
"""


def _m003_study_and_pid(db: sqlite_utils.Database) -> None:
    """sessions.study (the lab study's name; until now only in a `study` event) and sessions.pid (the
    recording process, so a crashed session on this machine is recognised at once on the next start)."""
    db.execute("ALTER TABLE sessions ADD COLUMN study TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE sessions ADD COLUMN pid INTEGER")
    db.execute(
        "UPDATE sessions SET study = COALESCE((SELECT json_extract(e.data, '$.study') FROM events e "
        "WHERE e.session_id = sessions.id AND e.kind = 'study' ORDER BY e.mono_ns LIMIT 1), '')"
    )
    db["sessions"].create_index(["study", "condition"])
    db.execute("DROP VIEW IF EXISTS view_log")
    db.create_view("view_log", VIEW_LOG_SQL)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_m001_probe_cache, _m002_event_log, _m003_study_and_pid]
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
        check_writable(path)
        try:
            conn = sqlite3.connect(str(path), timeout=5.0, isolation_level=None, check_same_thread=False)
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as e:
            if "readonly" in str(e) or "read-only" in str(e):
                raise StoreError(f"{path} cannot be written ({e}); make it writable or choose another file with --db") from e
            raise StoreError(
                f"{path} is not a usable SQLite database ({e}). It was left untouched; "
                "move it aside or choose another file with --db."
            ) from e
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    version = _schema_version(db)
    if path is not None and not memory and 0 < version < SCHEMA_VERSION:
        backup = backup_copy(db, Path(path), version)
        print(f"feedapp: upgrading {path} from schema {version} to {SCHEMA_VERSION}; backup kept at {backup}", file=sys.stderr)
    migrate(db)
    return db


def _schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def backup_copy(db: sqlite_utils.Database, path: Path, version: int) -> Path:
    """Copy the whole database (consistently, with SQLite's backup API) beside it before a migration."""
    target = path.with_name(f"{path.name}.schema{version}.bak")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.schema{version}.{n}.bak")
        n += 1
    dest = sqlite3.connect(str(target))
    try:
        db.conn.backup(dest)
    finally:
        dest.close()
    return target


def check_writable(path: Path) -> None:
    """Refuse, before any session starts, a database file or folder feedapp could not write to."""
    if path.exists():
        if path.is_dir():
            raise StoreError(f"{path} is a folder; give the path of a database file (for example {path / 'feed.db'})")
        if not os.access(path, os.R_OK):
            raise StoreError(f"{path} cannot be read (permission denied); check its owner and permissions")
        if not os.access(path, os.W_OK):
            raise StoreError(
                f"{path} is read-only, so no session could be recorded in it; make it writable "
                "(chmod u+w) or choose another file with --db"
            )
    if not os.access(path.parent, os.W_OK):
        raise StoreError(
            f"the folder {path.parent} is read-only; SQLite must create {path.name} and its journal files "
            "(-wal, -shm) there, so choose a writable folder with --db"
        )


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the missing migrations in one transaction: all or nothing, one process at a time."""
    version = _schema_version(db)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"this database was written by a newer feedapp (schema {version}, this one knows {SCHEMA_VERSION}); "
            "update feedapp to open it"
        )
    if version == SCHEMA_VERSION:
        return version
    db.execute("BEGIN IMMEDIATE")  # DDL and user_version are transactional in SQLite
    try:
        version = _schema_version(db)  # another process may have migrated while we waited
        for number in range(version, SCHEMA_VERSION):
            MIGRATIONS[number](db)
            db.execute(f"PRAGMA user_version={number + 1}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return SCHEMA_VERSION
