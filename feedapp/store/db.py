"""Open the SQLite file with the right pragmas and bring its schema up to date.

Migrations are a list of functions; the number applied is kept in ``PRAGMA user_version``, so a file
from a newer feedapp is refused instead of being damaged.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import Any
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
            "end_reason": str,  # finished (also a lab limit) | quit | recovered_after_crash | error | ...; NULL while running
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

_VIEW_LOG_SQL_V3 = """
SELECT i.session_id, s.study, s.participant, s.condition, s.ranker, i.position, i.id AS impression_id,
       i.clip_id, c.title, c.creator, c.topics, c.duration_ms, i.reached_by, i.is_revisit,
       i.policy, i.score, i.propensity, i.exploration, i.settled_utc, i.first_frame_ms,
       v.dwell_ms, v.play_ms, v.paused_ms, v.unfocused_ms, v.stalled_ms, v.watch_ratio, v.loops,
       v.skipped, v.exit, v.liked, v.not_interested, v.final{extra}
FROM impressions i
JOIN sessions s ON s.id = i.session_id
LEFT JOIN clips c ON c.id = i.clip_id
LEFT JOIN views v ON v.impression_id = i.id
ORDER BY i.session_id, i.position
"""

# from schema 4: each impression joins the clip version it showed
_VIEW_LOG_SQL_V4 = _VIEW_LOG_SQL_V3.replace("c.id = i.clip_id", "c.key = i.clip_key")
_VIEW_LOG_SQL_V5 = _VIEW_LOG_SQL_V4.format(extra=", i.scripted")
# from schema 6: the session's mode, and the time since the session started
_VIEW_LOG_SQL_V6 = _VIEW_LOG_SQL_V5.replace("s.condition, s.ranker,", "s.condition, s.mode, s.ranker,").replace(
    "i.settled_utc,", "i.settled_utc, (i.settled_mono_ns - s.started_mono_ns) / 1e6 AS since_start_ms,")
# from schema 7: served_again beside is_revisit (VIEW_LOG_SQL: the view as the latest migration leaves it)
VIEW_LOG_SQL = _VIEW_LOG_SQL_V6.replace("v.final, i.scripted", "v.final, i.scripted, i.served_again")


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
    db.create_view("view_log", _VIEW_LOG_SQL_V3.format(extra=""))


#: What a clip version is made of: a row of ``clips`` is never changed, a clip whose recorded facts
#: differ gets a new row (another key).
CLIP_FIELDS = ("id", "path", "title", "topics", "creator", "duration_ms", "fps", "width", "height", "rotation",
               "created")
_CLIP_TYPES = {"duration_ms": int, "width": int, "height": int, "rotation": int, "fps": float}


def clip_key(*values: object) -> str:
    """The key of one version of a clip, from its CLIP_FIELDS values in order (``topics`` as the JSON
    text stored): ``<clip id>@<12 hex digits of a SHA-256 of the fields>``. The same facts give the same
    key on any machine, so merged files share a version and differing ones never collide."""
    norm = []
    for name, v in zip(CLIP_FIELDS, values, strict=True):
        if v is not None and name in _CLIP_TYPES:
            try:
                v = _CLIP_TYPES[name](v)
            except (TypeError, ValueError):
                v = str(v)
        norm.append(v)
    digest = hashlib.sha256(json.dumps(norm, ensure_ascii=False).encode("utf-8")).hexdigest()[:12]
    return f"{values[0]}@{digest}"


def _m004_boot_id_and_clip_versions(db: sqlite_utils.Database) -> None:
    """sessions.boot_id and sessions.proc_start (a crashed session is told from a running one exactly,
    across reboots and reused pids), and clip versions: ``clips`` is keyed by ``key`` (clip id + hash of
    its facts) and ``impressions.clip_key`` names the version a view really saw, so a second folder
    with the same sidecar ids never rewrites the clips of earlier sessions. Needs foreign keys off
    (``migrate`` does that): the two tables are rebuilt, SQLite's way of changing a primary key."""
    db.execute("ALTER TABLE sessions ADD COLUMN boot_id TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE sessions ADD COLUMN proc_start INTEGER")
    db.conn.create_function("feedapp_clip_key", len(CLIP_FIELDS), clip_key, deterministic=True)
    fields = ", ".join(CLIP_FIELDS)
    db.execute("DROP VIEW IF EXISTS view_log")
    db.execute(
        'CREATE TABLE "clips_v4" ("key" TEXT PRIMARY KEY, "id" TEXT NOT NULL, "path" TEXT, "title" TEXT, '
        '"topics" TEXT, "creator" TEXT, "duration_ms" INTEGER, "fps" REAL, "width" INTEGER, "height" INTEGER, '
        '"rotation" INTEGER, "created" TEXT)'
    )
    db.execute(f"INSERT OR IGNORE INTO clips_v4 (key, {fields}) SELECT feedapp_clip_key({fields}), {fields} FROM clips")
    imp_cols = ("id, session_id, position, clip_id, reached_by, is_revisit, policy, score, propensity, exploration, "
                "input_mono_ns, settled_mono_ns, settled_utc, first_frame_ms")
    db.execute(
        'CREATE TABLE "impressions_v4" ("id" TEXT PRIMARY KEY, "session_id" TEXT NOT NULL REFERENCES "sessions"("id"), '
        '"position" INTEGER NOT NULL, "clip_id" TEXT NOT NULL, "clip_key" TEXT REFERENCES "clips"("key"), '
        '"reached_by" TEXT, "is_revisit" INTEGER, "policy" TEXT, "score" REAL, "propensity" REAL, '
        '"exploration" INTEGER, "input_mono_ns" INTEGER, "settled_mono_ns" INTEGER NOT NULL, "settled_utc" TEXT, '
        '"first_frame_ms" REAL)'
    )
    db.execute(
        f"INSERT INTO impressions_v4 ({imp_cols}, clip_key) SELECT {', '.join('i.' + c for c in imp_cols.split(', '))}, "
        f"(SELECT feedapp_clip_key({', '.join('c.' + f for f in CLIP_FIELDS)}) FROM clips c WHERE c.id = i.clip_id) "
        "FROM impressions i"
    )
    db.execute("DROP TABLE impressions")
    db.execute("DROP TABLE clips")
    db.execute("ALTER TABLE clips_v4 RENAME TO clips")
    db.execute("ALTER TABLE impressions_v4 RENAME TO impressions")
    db.execute('CREATE INDEX "idx_clips_id" ON "clips" ("id")')
    db.execute('CREATE UNIQUE INDEX "idx_impressions_session_id_position" ON "impressions" ("session_id", "position")')
    db.execute('CREATE INDEX "idx_impressions_clip_id" ON "impressions" ("clip_id")')
    db.execute('CREATE INDEX "idx_impressions_clip_key" ON "impressions" ("clip_key")')
    db.create_view("view_log", _VIEW_LOG_SQL_V4.format(extra=""))


def _m005_decision_context(db: sqlite_utils.Database) -> None:
    """What replay needs to put the engine where each decision was (docs/data.md, issue 10):
    per impression the views learned when it was decided, the live changes applied by then, the
    parameter-set version, the ranker's version and whether the slot was scripted; per clip the
    features a ranker sees (visual ones included). Older rows keep NULL: replay says it cannot
    reproduce them exactly."""
    for col, typ in (("views_learned", "INTEGER"), ("live_seq", "INTEGER"), ("params_version", "INTEGER"),
                     ("ranker_version", "TEXT")):
        db.execute(f"ALTER TABLE impressions ADD COLUMN {col} {typ}")
    db.execute("ALTER TABLE impressions ADD COLUMN scripted INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE impressions SET scripted = 1 WHERE policy = 'warmup'")
    db.execute("ALTER TABLE clips ADD COLUMN features TEXT")
    db.execute("DROP VIEW IF EXISTS view_log")  # + scripted, so exploration figures can leave those slots out
    db.create_view("view_log", _VIEW_LOG_SQL_V5)


def _m006_lab_fields_and_questionnaire(db: sqlite_utils.Database) -> None:
    """Lab sessions as researchers run them (issue 14): ``sessions.fields`` (the start dialog's extra
    fields, a JSON object), the ``questionnaire`` table (one row per answer after the feed), and
    ``view_log`` with ``mode`` (practice views apart) and ``since_start_ms``."""
    db.execute("ALTER TABLE sessions ADD COLUMN fields TEXT NOT NULL DEFAULT '{}'")
    db.execute(
        'CREATE TABLE "questionnaire" ("session_id" TEXT NOT NULL REFERENCES "sessions"("id"), "item" TEXT NOT NULL, '
        '"position" INTEGER NOT NULL, "type" TEXT NOT NULL, "question" TEXT NOT NULL, "answer" TEXT, "value" REAL, '
        '"mono_ns" INTEGER NOT NULL, "utc" TEXT, PRIMARY KEY ("session_id", "item"))'
    )
    db.execute("DROP VIEW IF EXISTS view_log")
    db.create_view("view_log", _VIEW_LOG_SQL_V6)


#: The skip rule (``feedapp.core.reward.is_skip``) in SQL over ``views v``, ``sessions s``, ``clips c``: play below
#: the session's threshold, unless watched to the end (a completed play, or play >= the clip's length) or the
#: clip could not be played (exit auto_skip).
SKIP_RULE_SQL = ("COALESCE(v.exit, '') != 'auto_skip' AND v.play_ms < s.skip_threshold_ms "
                 "AND COALESCE(v.loops, 0) < 1 AND v.play_ms < COALESCE(c.duration_ms, 9e18)")


def _m007_signals(db: sqlite_utils.Database) -> None:
    """Signals that mean what they say (issue 10, point 7): ``impressions.served_again`` (a ranker served
    a clip already shown earlier in the session, in a new slot) beside ``is_revisit`` (the viewer came
    back to a position already shown); and ``views.skipped`` recomputed with the skip rule (a clip
    watched to its end is never a skip, nor is one that could not be played)."""
    db.execute("ALTER TABLE impressions ADD COLUMN served_again INTEGER NOT NULL DEFAULT 0")
    db.execute(
        "UPDATE impressions SET served_again = 1 WHERE is_revisit = 0 AND EXISTS (SELECT 1 FROM impressions j "
        "WHERE j.session_id = impressions.session_id AND j.clip_id = impressions.clip_id "
        "AND j.position < impressions.position)"
    )
    db.execute(
        "UPDATE views SET skipped = (SELECT CASE WHEN " + SKIP_RULE_SQL + " THEN 1 ELSE 0 END "
        "FROM views v JOIN impressions i ON i.id = v.impression_id JOIN sessions s ON s.id = v.session_id "
        "LEFT JOIN clips c ON c.key = i.clip_key WHERE v.impression_id = views.impression_id) "
        "WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.id = views.session_id AND s.skip_threshold_ms IS NOT NULL)"
    )
    db.execute("DROP VIEW IF EXISTS view_log")
    db.create_view("view_log", VIEW_LOG_SQL)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_probe_cache, _m002_event_log, _m003_study_and_pid, _m004_boot_id_and_clip_versions,
    _m005_decision_context, _m006_lab_fields_and_questionnaire, _m007_signals,
]
SCHEMA_VERSION = len(MIGRATIONS)


def open_db(path: str | Path | None = None, *, memory: bool = False, backup: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database; raise StoreError with advice on failure.

    A file that is neither empty nor a feedapp database (another program's SQLite file, or not SQLite
    at all) is refused before anything is written to it (``check_ownership``). ``backup=False``: no
    ``.schemaN.bak`` copy before a migration (the caller keeps its own, e.g. merge's temporary file).
    """
    if memory or path is None:
        db = sqlite_utils.Database(memory=True)
    else:
        path = Path(path)
        if path.parent.exists() and not path.parent.is_dir():
            raise StoreError(f"cannot create the database {path.name} in {path.parent}: that is a file, not a folder"
                             f"{_named_by_env(path.parent)}")
        if not path.parent.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder for the database {path.parent}: {e.strerror}"
                                 f"{_named_by_env(path.parent)}") from e
        check_writable(path)
        check_ownership(path)
        existed = path.exists()
        try:
            conn = sqlite3.connect(str(path), timeout=5.0, isolation_level=None, check_same_thread=False)
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as e:
            if "full" in str(e).lower():  # it said 'not a usable SQLite database ...; move it aside' of a new file
                if not existed and path.exists() and path.stat().st_size == 0:
                    path.unlink()  # the empty file this attempt made: nothing of it is left behind
                raise StoreError(f"cannot {'open' if existed else 'create'} the database {path}: the disk holding it "
                                 f"is full ({e}); free some space there, or choose another place with --db") from e
            if "locked" in str(e) or "busy" in str(e):
                raise StoreError(f"{path} is locked by another program ({e}); close it (or wait until it "
                                 "finishes writing) and start again") from e
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
    if backup and path is not None and not memory and 0 < version < SCHEMA_VERSION:
        backup = backup_copy(db, Path(path), version)
        print(f"feedapp: upgrading {path} from schema {version} to {SCHEMA_VERSION}; backup kept at {backup}", file=sys.stderr)
    try:
        migrate(db)
    except sqlite3.OperationalError as e:
        if "locked" not in str(e) and "busy" not in str(e):
            raise
        raise StoreError(f"{path} must be upgraded to schema {SCHEMA_VERSION} before use, but another program holds "
                         f"its write lock ({e}); close that program and start again (the file is unchanged)") from e
    return db


def _schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def backup_copy(db: sqlite_utils.Database, path: Path, version: int) -> Path:
    """Copy the whole database (consistently, with SQLite's backup API) beside it before a migration."""
    target = backup_path(path, version)
    dest = sqlite3.connect(str(target))
    try:
        db.conn.backup(dest)
    finally:
        dest.close()
    return target


def backup_path(path: Path, version: int) -> Path:
    """A free name beside ``path`` for its copy before a migration from ``version``."""
    target = path.with_name(f"{path.name}.schema{version}.bak")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.schema{version}.{n}.bak")
        n += 1
    return target


def _named_by_env(folder: Path) -> str:
    """The end of a message about the data folder when it comes from FEEDAPP_DATA, which a researcher may
    have set long ago (in a shell profile) and forgotten; '' otherwise."""
    env = os.environ.get("FEEDAPP_DATA")
    if env and Path(env).expanduser().absolute() == folder.absolute():
        return f" (it is the environment variable FEEDAPP_DATA={env}); point FEEDAPP_DATA at a folder or unset it"
    return "; choose another path with --db"


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
        what = (f"SQLite keeps the journal files of {path.name} (-wal, -shm) beside it" if path.exists()
                else f"SQLite must create {path.name} and its journal files (-wal, -shm) there")
        raise StoreError(
            f"the folder {path.parent} cannot be written (it is read-only, or this account may not write to it); "
            f"{what}, so make the folder writable" + _named_by_env(path.parent)
        )


SQLITE_MAGIC = b"SQLite format 3\x00"

#: The tables each migration creates (the views it creates are not needed to recognise a file).
_MIGRATION_TABLES: dict[int, tuple[str, ...]] = {
    1: ("probe_cache",),
    2: ("sessions", "clips", "impressions", "views", "events", "profile_snapshots"),
}


def sqlite_uri(path: str | Path, mode: str) -> str:
    """``file:/abs/path?mode=MODE`` with the path's bytes percent-quoted: a '#', '?' or '%' in a folder's
    name ('Study #3/feed.db') otherwise ends the path early (SQLite then opened, and made, 'Study '), and
    a name that is not UTF-8 could not be quoted at all."""
    from urllib.parse import quote

    return f"file:{quote(os.fsencode(Path(path).resolve()))}?mode={mode}"


def read_only_uri(path: Path) -> str:
    """The URI that opens ``path`` read-only (``mode=ro``). SQLite reads a file in write-ahead log
    mode (the app's) read-only only beside a ``-shm`` file it can open or make: in a folder that cannot
    be written (a read-only share, a USB stick, another user's folder) without one, the file is read
    as it is (``immutable``), which is all of it when no ``-wal`` file beside it holds changes not yet
    in the file itself (else StoreError says what to do)."""
    uri = sqlite_uri(path, "ro")
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            conn.execute("PRAGMA user_version").fetchone()  # (a file that cannot be opened fails here)
        finally:
            conn.close()
    except sqlite3.OperationalError as e:
        # no -shm can be made beside it: "unable to open" where the folder refuses new files outright (EPERM,
        # e.g. immutable), "attempt to write a readonly database" where the folder is not writable for this
        # user or the disk is mounted read-only (EACCES, EROFS: SQLite then tries a read-only -shm and gives up)
        low = str(e).lower()
        if "unable to open" not in low and "readonly" not in low:
            raise
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(
                f"cannot read {path}: its folder cannot be written and {wal.name} beside it holds changes not yet "
                "in the file, which SQLite can read only where it may write; copy both files into a folder you "
                "can write to and read the copy") from e
        return uri + "&immutable=1"
    return uri


def connect_read_only(path: Path, **kwargs: Any) -> sqlite3.Connection:
    """``path`` opened read-only (``read_only_uri``); ``kwargs`` go to ``sqlite3.connect``."""
    return sqlite3.connect(read_only_uri(path), uri=True, **kwargs)


def file_owner(path: Path) -> tuple[str, str]:
    """Whose file ``path`` is, without changing a byte of it: ``("absent" | "empty" | "feedapp" |
    "foreign" | "not_sqlite", detail)``. ``detail`` names what was found, for messages.

    Empty: no bytes, or an SQLite file with no schema and ``user_version`` 0. A feedapp file has a
    ``user_version`` of 1 or more and every table the migrations up to it create (or a
    ``user_version`` above this feedapp's: refused later as written by a newer feedapp). Read with a
    read-only connection (``mode=ro``), so the file itself is never written.
    """
    if not path.exists():
        return "absent", ""
    # Only SQLite opens the file while it may be an open log: a plain open() and close() of a database
    # file drops every POSIX lock this process holds on it (SQLite's connections included), so another
    # program closing its connection would then believe it was the last one, checkpoint and delete the
    # -wal file under a running session, whose later writes would go to a deleted file (lost on a
    # kill). The raw bytes are read only to describe a file SQLite refused, which no connection holds.
    try:
        if path.stat().st_size == 0:
            return "empty", ""
        conn = connect_read_only(path, timeout=5.0)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name")]
        finally:
            conn.close()
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e.strerror}") from e
    except sqlite3.DatabaseError as e:
        if getattr(e, "sqlite_errorname", "") != "SQLITE_NOTADB":  # locked, busy, I/O: said as such, no raw read
            raise explain_sqlite_error(path, e) from e
        head = _head(path)
        if head != SQLITE_MAGIC:
            shown = head.decode("ascii", "replace").strip()
            return "not_sqlite", f"it starts with {shown[:16]!r}" if shown.isprintable() and shown else "binary content"
        raise explain_sqlite_error(path, e) from e
    if version == 0 and not names:
        return "empty", ""
    expected = [t for n, tables in _MIGRATION_TABLES.items() if n <= version for t in tables]
    missing = [t for t in expected if t not in names]
    if (version >= 1 and not missing) or version > SCHEMA_VERSION:
        return "feedapp", f"schema {version}"  # a newer feedapp's file is refused later, with its own message
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    if version == 0:
        return "foreign", f"tables {shown}" if names else "no tables"
    return "foreign", f"user_version {version}, tables {shown or 'none'}"


def _head(path: Path) -> bytes:
    """The first bytes of a file SQLite refused (never called on a database this process has open)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e.strerror}") from e


def check_ownership(path: Path, advice: str = "choose another file with --db (a new name creates a new log)") -> None:
    """Refuse a file that is neither empty nor a feedapp database, leaving it unchanged."""
    owner, detail = file_owner(path)
    if owner == "foreign":
        raise StoreError(
            f"{path} is another program's SQLite database ({detail}), not a feedapp log; feedapp leaves it "
            f"unchanged: {advice}"
        )
    if owner == "not_sqlite":
        raise StoreError(
            f"{path} is not a usable SQLite database (not SQLite at all: {detail}); feedapp leaves it unchanged: "
            f"{advice}"
        )


def check_parent_exists(path: str | Path, option: str) -> None:
    """A path given on the command line must be in an existing folder: a mistyped path never makes folders."""
    parent = Path(path).parent
    if not parent.is_dir():
        what = "is a file, not a folder" if parent.exists() else "does not exist"
        raise StoreError(f"the folder {parent} for {option} {what}; create it first or choose another path")


class DamagedError(StoreError):
    """The file is corrupt (SQLite's integrity check fails or SQLite reports a malformed file)."""


def damaged(path: str | Path, detail: str) -> DamagedError:
    return DamagedError(
        f"{path} is damaged ({detail}); it was not changed. Use a copy made before the damage (the lab "
        f"machine's own file, a *.bak backup), or salvage what is readable with `sqlite3 {path} .recover`"
    )


def explain_sqlite_error(path: str | Path, e: BaseException, doing: str = "read") -> StoreError:
    """An SQLite error while using ``path``, in words: damaged file, full disk, locked, read-only."""
    text = str(e)
    low = text.lower()
    if any(k in low for k in ("malformed", "not a database", "corrupt", "file is encrypted")):
        return damaged(path, f"SQLite: {text}")
    if "disk is full" in low or "database or disk is full" in low:
        return StoreError(f"cannot {doing} {path}: the disk is full (SQLite: {text}); free some space and try again")
    if "disk i/o error" in low:
        return StoreError(
            f"cannot {doing} {path}: the disk reported an input/output error (SQLite: {text}); "
            "check the disk (and free space) and try again"
        )
    if "locked" in low or "busy" in low:
        return StoreError(f"{path} is locked by another program (SQLite: {text}); close it and try again")
    if "readonly" in low or "read-only" in low:
        folder = Path(path).absolute().parent
        if os.access(path, os.W_OK) and not os.access(folder, os.W_OK):  # the file may be written, its folder not
            return StoreError(f"cannot {doing} {path}: its folder {folder} cannot be written, and SQLite keeps its "
                              f"journal files (-wal, -shm) beside the file (SQLite: {text}); make the folder writable "
                              "or work on a copy in a folder you can write to")
        return StoreError(f"cannot {doing} {path}: it is read-only (SQLite: {text}); make it writable or use a copy")
    return StoreError(f"cannot {doing} {path} (SQLite: {text})")


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
    # Rebuilding a table (migration 4) drops one that others point at: foreign keys are off while
    # migrating (the pragma is ignored inside a transaction, so it is set before) and restored after.
    fk = int(db.execute("PRAGMA foreign_keys").fetchone()[0])
    db.execute("PRAGMA foreign_keys=OFF")
    try:
        db.execute("BEGIN IMMEDIATE")  # DDL and user_version are transactional in SQLite
        try:
            version = _schema_version(db)  # another process may have migrated while we waited
            for number in range(version, SCHEMA_VERSION):
                MIGRATIONS[number](db)
                db.execute(f"PRAGMA user_version={number + 1}")
        except BaseException:
            if db.conn.in_transaction:  # SQLite has already rolled back after e.g. a full disk
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.execute(f"PRAGMA foreign_keys={'ON' if fk else 'OFF'}")
    return SCHEMA_VERSION
