"""List the sessions of a log file, and open a log file for reading without changing it.

``open_for_reading`` never creates, migrates or writes the file (``mode=rw`` so a missing file is an
error rather than a new empty database, plus ``PRAGMA query_only``), so ``feedapp sessions``,
``export`` and ``check`` are safe to run on a file the app is writing to at the same moment.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from feedapp.store.db import SCHEMA_VERSION, StoreError, check_ownership, connect_read_only, explain_sqlite_error, sqlite_uri

EVENT_LOG_TABLES = ("sessions", "clips", "impressions", "views", "events", "profile_snapshots")

#: An open session with no record for this long is reported as "interrupted" (the app checkpoints
#: the in-flight view every 250 ms, so a live session is never this quiet); see store/recover.py.
QUIET_S = 5.0


def open_for_reading(path: str | Path) -> sqlite3.Connection:
    """A query-only connection to an existing feedapp log; StoreError with advice otherwise."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"there is no database at {path}; pass the file the app wrote with --db (default: data/feed.db)")
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a database file")
    check_ownership(path, "pass the file feedapp wrote with --db")
    try:
        conn = sqlite3.connect(sqlite_uri(path, "rw"), uri=True, timeout=5.0, isolation_level=None)
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    except sqlite3.OperationalError as e:
        if "readonly" in str(e).lower() or "unable to open" in str(e).lower():
            # a file we may read but not write (e.g. a copy on a read-only share): read it as it is
            try:
                conn = connect_read_only(path, timeout=5.0, isolation_level=None)
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
            except sqlite3.DatabaseError as e2:
                raise explain_sqlite_error(path, e2) from e2
        else:
            raise explain_sqlite_error(path, e) from e
    except sqlite3.DatabaseError as e:
        raise explain_sqlite_error(path, e) from e
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"{path} was written by a newer feedapp (schema {version}, this one knows {SCHEMA_VERSION}); "
            "update feedapp to read it"
        )
    missing = [t for t in EVENT_LOG_TABLES + ("view_log",) if t not in tables]
    if missing:
        conn.close()
        raise StoreError(
            f"{path} holds no event log (schema {version}, missing {', '.join(missing)}); it has never recorded "
            "a session. Run the app on it once (it upgrades the file and keeps a backup) or choose another --db"
        )
    conn.execute("PRAGMA cache_size=-65536")  # up to 64 MiB of page cache: checks and exports scan whole tables
    conn.row_factory = sqlite3.Row
    return conn


_LIST = """
WITH v AS (
  SELECT session_id,
         COUNT(*) AS views,
         SUM(final) AS final_views,
         SUM(CASE WHEN final = 1 THEN skipped ELSE 0 END) AS skips,
         AVG(CASE WHEN final = 1 THEN watch_ratio END) AS mean_watch_ratio,
         SUM(dwell_ms) AS dwell_ms,
         MAX(ended_mono_ns) AS last_ns
  FROM views GROUP BY session_id
), i AS (
  SELECT session_id, COUNT(*) AS impressions, MAX(settled_mono_ns) AS last_ns, MAX(settled_utc) AS last_utc
  FROM impressions GROUP BY session_id
), e AS (
  SELECT session_id, MAX(mono_ns) AS last_ns, MAX(utc) AS last_utc FROM events GROUP BY session_id
), vu AS (
  SELECT session_id, MAX(ended_utc) AS last_utc FROM views GROUP BY session_id
)
SELECT s.*, s.id, s.mode, s.participant, s.condition, s.ranker, s.started_utc, s.ended_utc, s.end_reason,
       s.started_mono_ns, s.ended_mono_ns, s.skip_threshold_ms,
       COALESCE(i.impressions, 0) AS impressions,
       COALESCE(v.views, 0) AS views, COALESCE(v.final_views, 0) AS final_views,
       COALESCE(v.skips, 0) AS skips, v.mean_watch_ratio, COALESCE(v.dwell_ms, 0) AS dwell_ms,
       MAX(s.started_mono_ns, COALESCE(v.last_ns, 0), COALESCE(i.last_ns, 0), COALESCE(e.last_ns, 0)) AS last_ns,
       MAX(s.started_utc, COALESCE(vu.last_utc, ''), COALESCE(i.last_utc, ''), COALESCE(e.last_utc, '')) AS last_utc
FROM sessions s
LEFT JOIN v ON v.session_id = s.id
LEFT JOIN i ON i.session_id = s.id
LEFT JOIN e ON e.session_id = s.id
LEFT JOIN vu ON vu.session_id = s.id
ORDER BY s.started_utc, s.id
"""


def _parse_utc(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def list_sessions(conn: sqlite3.Connection, *, now: datetime | None = None, quiet_s: float = QUIET_S) -> list[dict]:
    """One dict per session, oldest first.

    ``status`` is the end reason, or ``running`` (no end reason, last record less than ``quiet_s`` ago)
    or ``interrupted`` (no end reason and quiet: a crash; ``feedapp`` closes it on next start).
    ``length_s`` is ended - started on the monotonic clock; for open sessions, up to the last record.
    ``views`` counts closed views (final = 1); ``in_flight`` is 1 when a checkpointed view is open.
    ``skips`` and ``mean_watch_ratio`` are over closed views.
    """
    now = now or datetime.now(timezone.utc)
    out = []
    for r in conn.execute(_LIST):
        r = dict(r)
        if r["end_reason"]:
            status = r["end_reason"]
            end_ns = r["ended_mono_ns"]
        else:
            from feedapp.store.recover import is_interrupted

            last = _parse_utc(r["last_utc"])
            gone = is_interrupted(r, last.isoformat() if last else None, quiet_s, now)
            status = "interrupted" if gone else "running"
            end_ns = r["last_ns"]
        length_s = (end_ns - r["started_mono_ns"]) / 1e9 if end_ns is not None else None
        out.append(
            {
                "id": r["id"],
                "short_id": r["id"][:8],
                "mode": r["mode"],
                "participant": r["participant"],
                "condition": r["condition"],
                "ranker": r["ranker"],
                "started_utc": r["started_utc"],
                "ended_utc": r["ended_utc"],
                "length_s": round(length_s, 3) if length_s is not None else None,
                "impressions": r["impressions"],
                "views": r["final_views"],
                "in_flight": r["views"] - r["final_views"],
                "skips": r["skips"],
                "skip_rate": round(r["skips"] / r["final_views"], 4) if r["final_views"] else None,
                "mean_watch_ratio": round(r["mean_watch_ratio"], 4) if r["mean_watch_ratio"] is not None else None,
                "skip_threshold_ms": r["skip_threshold_ms"],
                "end_reason": r["end_reason"],
                "status": status,
            }
        )
    return out


def resolve_session(conn: sqlite3.Connection, prefix: str) -> str:
    """The full id of the one session whose id starts with ``prefix``; StoreError otherwise."""
    if prefix.strip() and conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0:
        raise StoreError("this database holds no sessions yet")
    return match_session_id(conn, prefix)


def match_session_id(conn: Any, prefix: str, error: type[Exception] = StoreError) -> str:
    """The one session id starting with ``prefix`` (case-insensitive); ``error`` with advice when the
    prefix is empty, matches nothing or matches several (``feedapp replay`` raises its own ReplayError)."""
    prefix = prefix.strip().lower()
    if not prefix:
        raise error("the session id is empty; run `feedapp sessions` to list them")
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = [r[0] for r in conn.execute(
        "SELECT id FROM sessions WHERE lower(id) LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6", [escaped + "%"]
    )]
    if not rows:
        raise error(f"no session id starts with {prefix!r}; run `feedapp sessions` to list them")
    if len(rows) > 1:
        shown = ", ".join(r[: max(len(prefix) + 4, 8)] for r in rows[:5])
        raise error(f"{prefix!r} matches several sessions ({shown}{', ...' if len(rows) > 5 else ''}); give more characters")
    return rows[0]


def _fmt_length(s: float | None) -> str:
    if s is None:
        return "-"
    s = max(0.0, s)
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def _fmt_started(utc: str) -> str:
    dt = _parse_utc(utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ") if dt else (utc or "-")


def format_table(rows: list[dict]) -> str:
    """Plain-text table, one line per session, plus a header."""
    header = ["id", "mode", "participant", "condition", "ranker", "started (UTC)", "length", "views", "skips",
              "watch", "end"]
    lines = [header]
    for r in rows:
        views = str(r["views"]) + ("+1" if r["in_flight"] else "")
        lines.append([
            r["short_id"], r["mode"], r["participant"] or "-", r["condition"] or "-", r["ranker"],
            _fmt_started(r["started_utc"]), _fmt_length(r["length_s"]), views, str(r["skips"]),
            f"{r['mean_watch_ratio']:.2f}" if r["mean_watch_ratio"] is not None else "-", r["status"],
        ])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    right = {6, 7, 8, 9}
    out = []
    for line in lines:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(line, widths))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)
