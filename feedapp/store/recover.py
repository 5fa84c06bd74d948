"""Close sessions that a crash, a power cut or ``kill -9`` left open.

A session with no end reason is *running* or *interrupted*; no clock decides it when the session
says who recorded it (``sessions.host``, ``boot_id``, ``pid``, ``proc_start``, schema 4):

- another boot of this host (``boot_id`` differs): interrupted, whatever its pid is now;
- this boot: running while the process ``pid`` exists *and* started at ``proc_start`` (a reused pid
  belongs to a process that started later), interrupted otherwise; a live session is never touched
  however quiet it is.

A session that cannot say (recorded on another host, or before schema 4, or where ``/proc`` is
missing) is interrupted when its process is known to be gone, or when nothing was written to it for
``quiet_s`` seconds (a running app checkpoints its in-flight view every 250 ms).

Recovering one session is one transaction: its in-flight view is completed from its last checkpoint
(exit ``crash``) and the session is closed with end reason ``recovered_after_crash`` at the time of its
last record, both or neither; the session is looked at again inside the transaction, so two apps
starting at once never both close it. When another program holds the write lock for longer than
the busy timeout, ``recover_interrupted`` raises ``RecoveryLocked`` naming the sessions left open.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlite_utils

from feedapp.core.identity import boot_id, process_exited, process_start

_LAST_ACTIVITY = """
SELECT s.id, s.started_utc, s.started_mono_ns,
  (SELECT MAX(v.ended_mono_ns) FROM views v WHERE v.session_id = s.id) AS v_ns,
  (SELECT MAX(v.ended_utc) FROM views v WHERE v.session_id = s.id) AS v_utc,
  (SELECT MAX(e.mono_ns) FROM events e WHERE e.session_id = s.id) AS e_ns,
  (SELECT MAX(e.utc) FROM events e WHERE e.session_id = s.id) AS e_utc,
  (SELECT MAX(i.settled_mono_ns) FROM impressions i WHERE i.session_id = s.id) AS i_ns,
  (SELECT MAX(i.settled_utc) FROM impressions i WHERE i.session_id = s.id) AS i_utc
FROM sessions s WHERE s.end_reason IS NULL
"""


class RecoveryLocked(RuntimeError):
    """Interrupted sessions could not be closed: another program holds the database's write lock."""

    def __init__(self, pending: list[dict], closed: list[dict], reason: str) -> None:
        self.pending = pending  # the interrupted sessions still open (id, last_mono_ns, last_utc)
        self.closed = closed  # the ones closed before the lock got in the way
        super().__init__(reason)


def _process_gone(pid: int) -> bool:
    """True when no process ``pid`` runs on this machine (now): none exists, or it has ended and waits
    to be collected by its parent (``process_exited``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return process_exited(pid)
    return process_exited(pid)


def is_interrupted(session: Mapping[str, Any], last_utc: str | None, quiet_s: float = 5.0,
                   now: datetime | None = None) -> bool:
    """The rule, in one place (recovery and `feedapp sessions` use it): see the module docstring.
    ``session`` holds the columns host, pid, boot_id and proc_start (missing ones count as unknown)."""
    host, pid = session.get("host"), session.get("pid")
    if pid and host == socket.gethostname():
        recorded_boot, recorded_start = session.get("boot_id") or "", session.get("proc_start")
        this_boot = boot_id()
        if recorded_boot and this_boot:
            if recorded_boot != this_boot:
                return True  # recorded before a reboot: over, whatever its pid is now
            if recorded_start is not None:
                return process_start(int(pid)) != int(recorded_start)  # gone, or the pid was reused
        if _process_gone(int(pid)):
            return True
    if not last_utc:
        return False
    now = now or datetime.now(timezone.utc)
    last = datetime.fromisoformat(last_utc)
    if last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    return now - last >= timedelta(seconds=quiet_s)


def _last_record(row: tuple) -> tuple[int, str]:
    sid, started_utc, started_ns, *rest = row
    pairs = [(started_ns, started_utc)] + [(rest[i], rest[i + 1]) for i in (0, 2, 4)]
    return max((p for p in pairs if p[0] is not None), key=lambda p: p[0])


def _identity(db: sqlite_utils.Database, sid: str) -> dict[str, Any]:
    cols = {r[1] for r in db.execute("PRAGMA table_info(sessions)")}
    wanted = [c for c in ("host", "pid", "boot_id", "proc_start") if c in cols]
    row = db.execute(f"SELECT {', '.join(wanted)} FROM sessions WHERE id = ?", [sid]).fetchone()
    return dict(zip(wanted, row)) if row else {}


def interrupted_sessions(db: sqlite_utils.Database, quiet_s: float = 5.0) -> list[dict]:
    """Open sessions that are over (see the module docstring), newest last record first."""
    now = datetime.now(timezone.utc)
    found = []
    for row in db.execute(_LAST_ACTIVITY).fetchall():
        last_ns, last_utc = _last_record(row)
        if is_interrupted(_identity(db, row[0]), last_utc, quiet_s, now):
            found.append({"id": row[0], "last_mono_ns": last_ns, "last_utc": last_utc})
    return sorted(found, key=lambda r: r["last_utc"], reverse=True)


def _locked(e: sqlite3.OperationalError) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


def recover_session(db: sqlite_utils.Database, session_id: str, quiet_s: float = 5.0) -> dict | None:
    """Close one interrupted session in one transaction; None when it is not (or no longer) interrupted.
    ``sqlite3.OperationalError`` (e.g. database is locked) leaves it exactly as it was."""
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute(_LAST_ACTIVITY.replace("WHERE s.end_reason IS NULL",
                                                "WHERE s.end_reason IS NULL AND s.id = ?"), [session_id]).fetchone()
        if row is None or not is_interrupted(_identity(db, session_id), _last_record(row)[1], quiet_s):
            db.execute("ROLLBACK")
            return None
        last_ns, last_utc = _last_record(row)
        completed = db.execute(
            "UPDATE views SET final = 1, exit = 'crash' WHERE session_id = ? AND final = 0", [session_id]
        ).rowcount
        db.execute(
            "UPDATE sessions SET end_reason = 'recovered_after_crash', ended_mono_ns = ?, ended_utc = ? "
            "WHERE id = ? AND end_reason IS NULL",
            [last_ns, last_utc, session_id],
        )
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    return {"id": session_id, "last_mono_ns": last_ns, "last_utc": last_utc, "views_completed": completed}


def recover_interrupted(db: sqlite_utils.Database, quiet_s: float = 5.0,
                        only: list[str] | None = None) -> list[dict]:
    """Close every interrupted session (or those of ``only``); return what was closed (id, views
    completed, last time). Raises RecoveryLocked when the database stays locked by another program."""
    closed: list[dict] = []
    pending = interrupted_sessions(db, quiet_s)
    if only is not None:
        pending = [s for s in pending if s["id"] in only]
    for k, s in enumerate(pending):
        try:
            done = recover_session(db, s["id"], quiet_s)
        except sqlite3.OperationalError as e:
            if not _locked(e):
                raise
            raise RecoveryLocked(pending[k:], closed, str(e)) from e
        if done is not None:
            closed.append(done)
    return closed
