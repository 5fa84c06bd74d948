"""Close sessions that a crash, a power cut or ``kill -9`` left open.

A session is *interrupted* when it has no end reason and either it was recorded on this machine
and its process is gone (``sessions.host`` and ``sessions.pid``: recognised at once, and a live
session is never touched however quiet it is), or it comes from elsewhere (another host, or a file
from before schema 3 without a pid) and nothing was written to it for ``quiet_s`` seconds (a running
app checkpoints its in-flight view every 250 ms). Its in-flight view is completed from its last checkpoint (exit ``crash``) and the
session is closed with end reason ``recovered_after_crash`` at the time of its last record.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timedelta, timezone

import sqlite_utils

_LAST_ACTIVITY = """
SELECT s.id, s.host, s.pid, s.started_utc, s.started_mono_ns,
  (SELECT MAX(v.ended_mono_ns) FROM views v WHERE v.session_id = s.id) AS v_ns,
  (SELECT MAX(v.ended_utc) FROM views v WHERE v.session_id = s.id) AS v_utc,
  (SELECT MAX(e.mono_ns) FROM events e WHERE e.session_id = s.id) AS e_ns,
  (SELECT MAX(e.utc) FROM events e WHERE e.session_id = s.id) AS e_utc,
  (SELECT MAX(i.settled_mono_ns) FROM impressions i WHERE i.session_id = s.id) AS i_ns,
  (SELECT MAX(i.settled_utc) FROM impressions i WHERE i.session_id = s.id) AS i_utc
FROM sessions s WHERE s.end_reason IS NULL
"""


def _process_gone(host: str | None, pid: int | None) -> bool:
    """True when ``pid`` on this machine is certainly not running (any more)."""
    if not pid or host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


def is_interrupted(host: str | None, pid: int | None, started_ns: int, last_utc: str | None,
                   quiet_s: float = 5.0, now: datetime | None = None) -> bool:
    """The rule, in one place (recovery and `feedapp sessions` use it): see the module docstring."""
    if pid and host == socket.gethostname():
        return _process_gone(host, pid) or started_ns > time.monotonic_ns()
    if not last_utc:
        return False
    now = now or datetime.now(timezone.utc)
    return now - datetime.fromisoformat(last_utc) >= timedelta(seconds=quiet_s)


def interrupted_sessions(db: sqlite_utils.Database, quiet_s: float = 5.0) -> list[dict]:
    """Open sessions whose process is gone, or whose last record is older than ``quiet_s`` seconds (UTC)."""
    now = datetime.now(timezone.utc)
    found = []
    for sid, host, pid, started_utc, started_ns, *rest in db.execute(_LAST_ACTIVITY).fetchall():
        pairs = [(started_ns, started_utc)] + [(rest[i], rest[i + 1]) for i in (0, 2, 4)]
        last_ns, last_utc = max((p for p in pairs if p[0] is not None), key=lambda p: p[0])
        # Recorded on this machine: its process tells. (A session started after this boot cannot be
        # older than the monotonic clock; one from before a reboot is over whatever its pid says.)
        if is_interrupted(host, pid, started_ns, last_utc, quiet_s, now):
            found.append({"id": sid, "last_mono_ns": last_ns, "last_utc": last_utc})
    return sorted(found, key=lambda r: r["last_utc"], reverse=True)


def recover_interrupted(db: sqlite_utils.Database, quiet_s: float = 5.0) -> list[dict]:
    """Close every interrupted session; return what was closed (id, views completed, last time)."""
    closed = []
    for s in interrupted_sessions(db, quiet_s):
        with db.conn:
            cur = db.execute(
                "UPDATE views SET final = 1, exit = 'crash' WHERE session_id = ? AND final = 0", [s["id"]]
            )
            db.execute(
                "UPDATE sessions SET end_reason = 'recovered_after_crash', ended_mono_ns = ?, ended_utc = ? "
                "WHERE id = ? AND end_reason IS NULL",
                [s["last_mono_ns"], s["last_utc"], s["id"]],
            )
        closed.append({**s, "views_completed": cur.rowcount})
    return closed
