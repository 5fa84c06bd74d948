"""Withdraw a participant: delete every row of their sessions, keep the clips, leave the log consistent.

Deleted, in one transaction: the participant's sessions (their practice sessions included: with
``--study``, those of that study's practice block, see feedapp.lab.data) and, for those sessions,
their views, events, profile snapshots and impressions (children first, so foreign keys hold at
every step). Clips and the probe cache stay: they describe the catalog, not a person. ``PRAGMA
secure_delete`` overwrites the deleted content, and a WAL checkpoint (TRUNCATE) moves the
overwritten pages into the main file and empties the ``-wal`` file, so the rows are not
recoverable from this file. The checkpoint's result is checked: while another program holds a read
snapshot of the file it cannot complete; it is retried for ``wait_s`` seconds, then the withdrawal
reports that the rows are deleted but their old pages are still in the file (``Withdrawal.pending``),
and running it again once the other program is closed finishes it (``finish_pending``). Copies are another matter: backups
made before a migration (``feed.db.schemaN.bak``), merged study files and exports hold their own
copies; ``feedapp lab withdraw`` must be run on each database file (docs/researchers.md).

A session that is still running (no end reason, a record less than 5 s old) is refused: the app
would keep writing rows for it.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from feedapp.lab.data import session_ids, session_studies
from feedapp.store.db import StoreError, explain_sqlite_error, sqlite_uri
from feedapp.store.sessions import list_sessions, open_for_reading

#: Tables with rows per session, children first (the order of deletion); questionnaire from schema 6.
CHILD_TABLES = ("views", "events", "profile_snapshots", "questionnaire", "impressions")


#: How long a withdrawal retries the WAL checkpoint while another program holds a read snapshot.
CHECKPOINT_WAIT_S = 3.0


class WithdrawError(RuntimeError):
    """The withdrawal cannot be done (nothing was deleted); the message says why."""


class NothingToWithdraw(WithdrawError):
    """The file holds no row of the participant (in the study, with ``--study``): nothing to delete.

    That is also what a retried withdrawal finds once an earlier one has finished: ``done`` says so."""

    def __init__(self, participant: str, study: str | None, db_path: str | Path, hint: str = "",
                 elsewhere: dict[str, int] | None = None) -> None:
        """``elsewhere``: with ``--study``, the participant's sessions of other studies in the file (study ->
        sessions): a mistyped study name must not read as a finished withdrawal."""
        self.participant, self.study, self.elsewhere = participant, study, dict(elsewhere or {})
        scope = f" of study {study!r}" if study else ""
        self.base = f"participant {participant!r} has no rows{scope} in {db_path} (no session)"
        if self.elsewhere:
            import difflib

            have = ", ".join(f"{n} of study {name!r}" for name, n in sorted(self.elsewhere.items()))
            close = difflib.get_close_matches(study or "", sorted(self.elsewhere), n=1, cutoff=0.5)
            hint += (f"; {participant!r} still has session(s) in this file, none of them deleted: {have}"
                     + (f" (did you mean --study {close[0]!r}?)" if close else "")
                     + "; give that study's name exactly, or leave --study out to withdraw them from every study")
        self.hint = hint
        super().__init__(self.base + hint)

    def done(self) -> str:
        """The message when nothing of an earlier withdrawal waits either (no -wal content left)."""
        if self.elsewhere:  # not "complete": the participant's rows are in the file under another study
            return f"{self.base}, so nothing was deleted{self.hint}"
        scope = f" from study {self.study!r}" if self.study else ""
        return (f"{self.base}, so nothing was deleted now; any earlier withdrawal of {self.participant!r}{scope} "
                f"is complete (none of the rows is left in the file itself){self.hint}")


@dataclass
class Withdrawal:
    participant: str
    study: str | None
    sessions: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # table -> rows (to be) deleted
    done: bool = False
    pending: str = ""  # when the checkpoint could not complete: what is still where, and what to do

    def describe(self) -> str:
        scope = f" in study {self.study!r}" if self.study else ""
        verb = "deleted" if self.done else "would delete"
        parts = ", ".join(f"{n} {t}" for t, n in self.counts.items())
        return f"participant {self.participant!r}{scope}: {verb} {parts} (clips are kept)"


def _id_key(pid: str) -> tuple[str, int | None]:
    """An id as letters and number, so ``P1``, ``p01`` and ``P 001`` compare equal to ``P01``."""
    import re

    digits = re.findall(r"\d+", pid)
    letters = re.sub(r"[\d\s_\-]+", "", pid).lower()
    return letters, int(digits[-1]) if digits else None


def _similar(conn: sqlite3.Connection, participant: str) -> list[str]:
    """Recorded ids that the given one probably means: same letters and number (P1 -> P01), same id in
    another case, or close spellings (difflib) that do not name another participant number (P03, once
    withdrawn, is not "P01 or P02": those are other people)."""
    import difflib

    known = [r[0] for r in conn.execute("SELECT DISTINCT participant FROM sessions WHERE participant <> ''")]
    want = participant.strip()
    number = _id_key(want)[1]
    same = [p for p in known if p != participant and (_id_key(p) == _id_key(want) or p.lower() == want.lower())]
    close = [p for p in difflib.get_close_matches(want, known, n=5, cutoff=0.6) if p != participant and p not in same
             and (number is None or _id_key(p)[1] in (None, number))]
    return sorted(same) + close[: max(0, 5 - len(same))]


def _tables(conn: sqlite3.Connection) -> list[str]:
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [t for t in CHILD_TABLES if t in present]


def plan(conn: sqlite3.Connection, participant: str, study: str | None = None) -> Withdrawal:
    """What a withdrawal would delete (nothing is changed)."""
    w = Withdrawal(participant, study)
    w.sessions = session_ids(conn, participant=participant, study=study, practice=True)
    counts: dict[str, int] = {}
    if w.sessions:
        marks = ",".join("?" * len(w.sessions))
        for table in _tables(conn):
            counts[table] = conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE session_id IN ({marks})", w.sessions
            ).fetchone()[0]
    else:
        counts = {t: 0 for t in _tables(conn)}
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
            hint = f"; did you mean {' or '.join(near)}? (ids in this file that look alike)" if near else ""
            elsewhere: dict[str, int] = {}
            if study is not None:
                names = session_studies(conn)
                for sid in session_ids(conn, participant=participant, practice=True):
                    elsewhere[names.get(sid, "")] = elsewhere.get(names.get(sid, ""), 0) + 1
            raise NothingToWithdraw(participant, study, db_path, hint, elsewhere)
        running = [r["short_id"] for r in list_sessions(conn) if r["id"] in set(w.sessions) and r["status"] == "running"]
        if running:
            raise WithdrawError(
                f"session {', '.join(running)} of {participant!r} is still running; end it (quit the app) and try again"
            )
        return w
    except sqlite3.DatabaseError as e:  # e.g. a damaged file
        raise WithdrawError(f"{explain_sqlite_error(db_path, e)}; nothing was deleted") from e
    finally:
        conn.close()


def withdraw(db_path: str | Path, participant: str, study: str | None = None, *,
             wait_s: float | None = None) -> Withdrawal:
    """Delete every row of ``participant`` (optionally only in ``study``); returns what was deleted.

    ``pending`` is set on the result when the WAL checkpoint did not complete within ``wait_s``."""
    inspect(db_path, participant, study)
    conn = sqlite3.connect(sqlite_uri(db_path, "rw"), uri=True, timeout=5.0, isolation_level=None)
    again: Withdrawal | None = None
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            again = plan(conn, participant, study)  # under the write lock: exactly what is deleted
            marks = ",".join("?" * len(again.sessions))
            deleted: dict[str, int] = {}
            for table in _tables(conn):
                cur = conn.execute(f"DELETE FROM {table} WHERE session_id IN ({marks})", again.sessions)
                deleted[table] = cur.rowcount
            cur = conn.execute(f"DELETE FROM sessions WHERE id IN ({marks})", again.sessions)
            again.counts = {"sessions": cur.rowcount, **deleted}
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        again.done = True
        if not checkpoint(conn, Path(db_path), CHECKPOINT_WAIT_S if wait_s is None else wait_s):
            again.pending = pending_message(Path(db_path), f"the rows of {participant!r} are deleted")
    except sqlite3.DatabaseError as e:
        if again is not None and again.done:
            raise WithdrawError(f"the rows were deleted, but checkpointing {db_path} failed: {e}; run the "
                                "withdrawal again to finish") from e
        raise WithdrawError(f"{explain_sqlite_error(db_path, e, 'change')}; nothing was deleted") from e
    finally:
        conn.close()
    return again


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def checkpoint(conn: sqlite3.Connection, path: Path, wait_s: float) -> bool:
    """``PRAGMA wal_checkpoint(TRUNCATE)`` until it reports every frame copied and the -wal file is
    empty (True), or ``wait_s`` has passed (False: another connection holds an older snapshot)."""
    conn.execute("PRAGMA busy_timeout=200")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            busy, _log, _copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:
            busy = 1
        wal = _wal(path)
        if not busy and (not wal.exists() or wal.stat().st_size == 0):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def pending_message(path: Path, what: str) -> str:
    wal = _wal(path)
    size = wal.stat().st_size if wal.exists() else 0
    return (f"{what} (every program that reads {path} from now on sees them gone), but another program holds "
            f"an older read snapshot of the file, so the old pages holding the rows are still in {path} itself, "
            f"and the change waits in {wal.name} ({size} bytes). Close every program that has the file open "
            "(feedapp, a database browser, datasette, a notebook) and run the same withdrawal again: it checkpoints "
            "the file and says so")


def finish_pending(db_path: str | Path, *, wait_s: float | None = None) -> str | None:
    """After a withdrawal that left its pages in the write-ahead log: checkpoint now.

    None when the -wal file is absent or empty (nothing pending); "" when the checkpoint completed;
    else the pending message (still held open by another program)."""
    path = Path(db_path)
    wal = _wal(path)
    if not wal.exists() or wal.stat().st_size == 0:
        return None
    conn = sqlite3.connect(sqlite_uri(path, "rw"), uri=True, timeout=5.0, isolation_level=None)
    try:
        if checkpoint(conn, path, CHECKPOINT_WAIT_S if wait_s is None else wait_s):
            return ""
        return pending_message(path, "earlier changes are committed")
    except sqlite3.DatabaseError as e:
        return f"cannot checkpoint {path}: {e}"
    finally:
        conn.close()
