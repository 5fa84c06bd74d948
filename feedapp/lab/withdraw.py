"""Withdraw a participant: delete every row of their sessions, keep the clips, leave the log consistent.

Deleted, in one transaction: the participant's sessions and, for those sessions, their views,
events, profile snapshots and impressions (children first, so foreign keys hold at every step).
Clips and the probe cache stay: they describe the catalog, not a person. ``PRAGMA secure_delete``
overwrites the deleted content in the file, and a WAL checkpoint moves the overwritten pages into
the main file, so the rows are not recoverable from this file. Copies are another matter: backups
made before a migration (``feed.db.schemaN.bak``), merged study files and exports hold their own
copies; ``feedapp lab withdraw`` must be run on each database file (docs/researchers.md).

A session that is still running (no end reason, a record less than 5 s old) is refused: the app
would keep writing rows for it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from feedapp.lab.data import session_ids
from feedapp.store.db import StoreError
from feedapp.store.sessions import list_sessions, open_for_reading, sqlite_uri

#: Tables with rows per session, children first (the order of deletion).
CHILD_TABLES = ("views", "events", "profile_snapshots", "impressions")


class WithdrawError(RuntimeError):
    """The withdrawal cannot be done (nothing was deleted); the message says why."""


@dataclass
class Withdrawal:
    participant: str
    study: str | None
    sessions: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # table -> rows (to be) deleted
    done: bool = False

    def describe(self) -> str:
        scope = f" in study {self.study!r}" if self.study else ""
        verb = "deleted" if self.done else "would delete"
        parts = ", ".join(f"{n} {t}" for t, n in self.counts.items())
        return f"participant {self.participant!r}{scope}: {verb} {parts} (clips are kept)"


def _similar(conn: sqlite3.Connection, participant: str) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT participant FROM sessions WHERE lower(participant) = lower(?) OR participant LIKE ? "
        "ORDER BY participant LIMIT 5",
        [participant.strip(), f"%{participant.strip()}%"],
    )
    return [r[0] for r in rows if r[0] and r[0] != participant]


def plan(conn: sqlite3.Connection, participant: str, study: str | None = None) -> Withdrawal:
    """What a withdrawal would delete (nothing is changed)."""
    w = Withdrawal(participant, study)
    w.sessions = session_ids(conn, participant=participant, study=study)
    counts: dict[str, int] = {}
    if w.sessions:
        marks = ",".join("?" * len(w.sessions))
        for table in CHILD_TABLES:
            counts[table] = conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE session_id IN ({marks})", w.sessions
            ).fetchone()[0]
    else:
        counts = {t: 0 for t in CHILD_TABLES}
    w.counts = {"sessions": len(w.sessions), **counts}
    return w


def inspect(db_path: str | Path, participant: str, study: str | None = None) -> Withdrawal:
    """``plan`` on a file, read-only; WithdrawError when the participant has nothing here or a session runs."""
    if not participant or participant != participant.strip():
        raise WithdrawError(f"give the participant id exactly as recorded (got {participant!r})")
    try:
        conn = open_for_reading(db_path)
    except StoreError as e:
        raise WithdrawError(str(e)) from e
    try:
        w = plan(conn, participant, study)
        if not w.sessions:
            near = _similar(conn, participant)
            hint = f"; similar ids in this file: {', '.join(near)}" if near else ""
            scope = f" in study {study!r}" if study else ""
            raise WithdrawError(f"no session of participant {participant!r}{scope} in {db_path}{hint}")
        running = [r["short_id"] for r in list_sessions(conn) if r["id"] in set(w.sessions) and r["status"] == "running"]
        if running:
            raise WithdrawError(
                f"session {', '.join(running)} of {participant!r} is still running; end it (quit the app) and try again"
            )
        return w
    finally:
        conn.close()


def withdraw(db_path: str | Path, participant: str, study: str | None = None) -> Withdrawal:
    """Delete every row of ``participant`` (optionally only in ``study``); returns what was deleted."""
    w = inspect(db_path, participant, study)
    conn = sqlite3.connect(sqlite_uri(db_path, "rw"), uri=True, timeout=5.0, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            again = plan(conn, participant, study)  # under the write lock: exactly what is deleted
            marks = ",".join("?" * len(again.sessions))
            deleted: dict[str, int] = {}
            for table in CHILD_TABLES:
                cur = conn.execute(f"DELETE FROM {table} WHERE session_id IN ({marks})", again.sessions)
                deleted[table] = cur.rowcount
            cur = conn.execute(f"DELETE FROM sessions WHERE id IN ({marks})", again.sessions)
            again.counts = {"sessions": cur.rowcount, **deleted}
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass  # another connection holds the file open; its next checkpoint moves the pages
    except sqlite3.OperationalError as e:
        raise WithdrawError(f"cannot change {db_path}: {e}; nothing was deleted") from e
    finally:
        conn.close()
    again.done = True
    return again
