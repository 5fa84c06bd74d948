"""The research log: an EventSink that commits every record to SQLite as it happens.

Writes happen on a writer thread with its own connection, so the UI thread only puts a record on a
queue (microseconds) and never waits for the disk or for a lock held by another program. Each
record is its own transaction. When the file is locked (an analyst's tool, a second instance) the
writer keeps unwritten records in memory, retries, and reports it through ``on_status``; when
writing fails (a full disk, a read-only file system, an I/O error) it reports a fatal status, keeps
what it could not write in memory, in order, and tries again every ``RETRY_FAILED_S``: if space is
freed (or the disk comes back) everything held is written and the status is "ok" again. The Qt
shell decides what the person in front of the screen sees (feedapp.ui.app, feedapp.ui.lab), and
:func:`written_counts` reads back what really is in the file for the final summary.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlite_utils

from feedapp.core.records import (
    EventRecord,
    ImpressionRecord,
    ProfileSnapshot,
    QuestionnaireAnswer,
    SessionEnd,
    SessionRecord,
    ViewRecord,
)
from feedapp.store.db import CLIP_FIELDS, clip_key, open_db, sqlite_uri

_STOP = object()


def _b(v: bool) -> int:
    return 1 if v else 0


class EventLog:
    """Thread-backed SQLite sink. ``on_status(kind, message)`` is called from the writer thread with
    kind in {"ok", "waiting", "fatal", "recovered"}; a Qt shell forwards it to the GUI thread with a signal.

    "waiting": the file is locked, records are held and retried every ``RETRY_S``. "fatal": writing
    failed (``fatal`` holds the message; a new message is reported again), records are held and
    retried every ``RETRY_FAILED_S``. "ok": everything held so far has been written. "recovered": an
    interrupted session was closed (``recover_sessions``)."""

    RETRY_S = 0.25
    RETRY_FAILED_S = 2.0

    def __init__(
        self,
        path: str | Path,
        on_status: Callable[[str, str], None] | None = None,
        *,
        pragmas: dict[str, int] | None = None,
    ) -> None:
        """``pragmas`` are applied to the writer's connection (tests use ``max_page_count`` to
        simulate a full disk)."""
        self.path = Path(path)
        self._pragmas = dict(pragmas or {})
        self.on_status = on_status or (lambda kind, msg: None)
        self._q: queue.Queue[Any] = queue.Queue()
        self._clip_keys: dict[str, str] = {}  # clip id -> key of the version last announced (writer thread)
        self._backlog: deque[tuple[str, tuple[Any, ...]]] = deque()
        self._idle = threading.Condition()
        self._unwritten = 0
        self.fatal: str | None = None  # the message while writing fails; None once a retry succeeded
        self.status = "ok"
        self._status_message = ""
        self.written = 0  # records committed so far
        self.failed_ever = False  # a write failed at some point (even if a retry later succeeded)
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="feedapp-log-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._open_error is not None:
            raise self._open_error

    # -- EventSink --------------------------------------------------------------------------------
    def _put(self, op: str, *args: Any) -> None:
        with self._idle:
            self._unwritten += 1
        self._q.put((op, args))

    def clips_known(self, clips: tuple[Any, ...]) -> None:
        self._put("clips", tuple(clips))

    def session_started(self, rec: SessionRecord) -> None:
        self._put("session", rec)

    def impression_started(self, rec: ImpressionRecord) -> None:
        self._put("impression", rec)

    def first_frame(self, impression_id: str, first_frame_ms: float) -> None:
        self._put("first_frame", impression_id, first_frame_ms)

    def view_updated(self, rec: ViewRecord) -> None:
        self._put("view", rec)

    def event(self, rec: EventRecord) -> None:
        self._put("event", rec)

    def profile_snapshot(self, rec: ProfileSnapshot) -> None:
        self._put("profile", rec)

    def session_ended(self, rec: SessionEnd) -> None:
        self._put("end", rec)

    def questionnaire_answer(self, rec: QuestionnaireAnswer) -> None:
        """One answer of a lab questionnaire (written after the session ended; not part of EventSink)."""
        self._put("answer", rec)

    def recover_sessions(self, session_ids: list[str]) -> None:
        """Close these interrupted sessions (store/recover.py) as the next records: used when the
        database was locked at start, so it happens as soon as the lock is gone, each in its own
        transaction; reported as ``on_status("recovered", message)``."""
        if session_ids:
            self._put("recover", tuple(session_ids))

    # -- control ----------------------------------------------------------------------------------
    @property
    def unwritten(self) -> int:
        """Records accepted but not committed yet (queued, or held back by a lock or a full disk)."""
        return self._unwritten

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every record so far is committed; False if that did not happen in time."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._unwritten > 0 and self.fatal is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return self._unwritten == 0

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is left (one last attempt even while failing) and stop; True if nothing is left unwritten."""
        self.flush(timeout)
        self._q.put(_STOP)
        self._thread.join(timeout)
        return self._unwritten == 0

    # -- writer thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            db = open_db(self.path)
            db.execute("PRAGMA busy_timeout=1000")
            for name, value in self._pragmas.items():
                db.execute(f"PRAGMA {name}={int(value)}")
        except BaseException as e:  # reported to the constructor
            self._open_error = e
            self._ready.set()
            return
        self._ready.set()
        next_try = 0.0  # while failing: when to try again
        while True:
            if self._backlog:
                wait = self.RETRY_S if self.fatal is None else max(0.01, next_try - time.monotonic())
                try:
                    item = self._q.get(timeout=wait)
                except queue.Empty:
                    item = None
            else:
                item = self._q.get()
            if item is _STOP:
                # Last chance for everything still queued: one more attempt, in order.
                while True:
                    try:
                        rest = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if rest is not _STOP:
                        self._backlog.append(rest)
                self._drain(db)
                break
            if item is not None:
                self._backlog.append(item)
            if self.fatal is None or time.monotonic() >= next_try:
                self._drain(db)
                if self.fatal is not None:  # failing: held in order, tried again in RETRY_FAILED_S
                    next_try = time.monotonic() + self.RETRY_FAILED_S
        try:
            db.conn.close()
        except sqlite3.Error:  # pragma: no cover - a broken disk may fail even this
            pass

    def _drain(self, db: sqlite_utils.Database) -> None:
        """Write the backlog in order. A lock keeps it for a retry; any other failure is reported with a
        fatal status (never a silently dead writer): the records stay in memory, counted as unwritten,
        and are tried again every RETRY_FAILED_S."""
        while self._backlog:
            op, args = self._backlog[0]
            try:
                with db.conn:
                    getattr(self, f"_w_{op}")(db, *args)
            except sqlite3.OperationalError as e:
                msg = str(e).lower()
                if "locked" in msg or "busy" in msg:
                    n = len(self._backlog)
                    self._set_status("waiting", f"the database {self.path} is locked by another program; "
                                     f"{n} record{'s are' if n != 1 else ' is'} kept in memory and will be written "
                                     "when it is free; quitting while it is locked loses them")
                    return
                if "full" in msg:
                    self._stop_recording(f"the disk holding {self.path} is full")
                elif "readonly" in msg or "read-only" in msg:
                    self._stop_recording(f"{self.path} became read-only ({e})")
                elif "i/o" in msg:
                    self._stop_recording(f"writing to {self.path} failed ({e}: the drive failed or was removed, "
                                         "or the system made it read-only)")
                else:
                    self._stop_recording(f"writing to {self.path} failed ({e})")
                return
            except Exception as e:  # noqa: BLE001 - whatever it is, say so; never die silently
                self._stop_recording(f"writing to {self.path} failed ({type(e).__name__}: {e})")
                return
            self._backlog.popleft()
            with self._idle:
                self._unwritten -= 1
                self.written += 1
                self._idle.notify_all()
        if self.status != "ok":
            self.fatal = None
            self._set_status("ok", f"the database {self.path} is writable again; everything held in memory is saved")

    def _stop_recording(self, message: str) -> None:
        """Writing failed: say so (once per message); the backlog is kept and retried."""
        self.fatal = message
        self.failed_ever = True
        self._set_status("fatal", message)
        with self._idle:
            self._idle.notify_all()

    def _set_status(self, kind: str, message: str) -> None:
        if kind != self.status or (kind == "fatal" and message != self._status_message):
            self.status = kind
            self._status_message = message
            self.on_status(kind, message)

    # -- one function per record kind (each runs inside its own transaction) ----------------------
    def _w_clips(self, db: sqlite_utils.Database, clips: tuple[Any, ...]) -> None:
        """Each clip version once: a row is never changed, so earlier sessions keep the clip they saw
        (the same sidecar id in another folder, with another title or duration, is another version).
        The visual features are stored with the version (JSON of repr floats: an exact round trip);
        a version written before they were recorded gets them the first time they are known."""
        rows = []
        for c in clips:
            row = {"id": c.id, "path": c.path, "title": c.title, "topics": json.dumps(list(c.topics)),
                   "creator": c.creator, "duration_ms": c.duration_ms, "fps": c.fps, "width": c.width,
                   "height": c.height, "rotation": c.rotation, "created": c.created}
            row["key"] = clip_key(*(row[f] for f in CLIP_FIELDS))
            row["features"] = json.dumps([float(f) for f in c.features])
            rows.append(row)
        db["clips"].insert_all(rows, pk="key", ignore=True)
        db.conn.executemany("UPDATE clips SET features = ? WHERE key = ? AND features IS NULL",
                            [(r["features"], r["key"]) for r in rows])
        self._clip_keys.update({r["id"]: r["key"] for r in rows})

    def _w_recover(self, db: sqlite_utils.Database, session_ids: tuple[str, ...]) -> None:
        from feedapp.store.recover import recover_session

        for sid in session_ids:  # a lock raises: the op is retried; a session closed already is skipped
            done = recover_session(db, sid)
            if done is not None:
                self.on_status("recovered", f"session {sid[:8]} in {self.path} was interrupted at {done['last_utc']}; "
                               "closed it as recovered_after_crash now that the database is free")

    def _w_session(self, db: sqlite_utils.Database, rec: SessionRecord) -> None:
        row = asdict(rec)
        row["ranker_params"] = json.dumps(rec.ranker_params, sort_keys=True)
        row["fields"] = json.dumps(rec.fields, sort_keys=True, ensure_ascii=False)
        db["sessions"].insert(row)

    def _w_impression(self, db: sqlite_utils.Database, rec: ImpressionRecord) -> None:
        row = asdict(rec)
        row["is_revisit"] = _b(rec.is_revisit)
        row["exploration"] = _b(rec.exploration)
        row["scripted"] = _b(rec.scripted)
        row["served_again"] = _b(rec.served_again)
        row["clip_key"] = self._clip_keys.get(rec.clip_id)
        if row["clip_key"] is None:  # not announced by clips_known: the newest version of that id, if any
            found = db.execute("SELECT key FROM clips WHERE id = ? ORDER BY rowid DESC LIMIT 1", [rec.clip_id]).fetchone()
            row["clip_key"] = found[0] if found else None
        db["impressions"].insert(row)

    def _w_first_frame(self, db: sqlite_utils.Database, impression_id: str, ms: float) -> None:
        db.execute("UPDATE impressions SET first_frame_ms = ? WHERE id = ?", [ms, impression_id])

    def _w_view(self, db: sqlite_utils.Database, rec: ViewRecord) -> None:
        row = asdict(rec)
        for k in ("skipped", "liked", "not_interested", "final"):
            row[k] = _b(row[k])
        db["views"].upsert(row, pk="impression_id")

    def _w_event(self, db: sqlite_utils.Database, rec: EventRecord) -> None:
        row = asdict(rec)
        row["data"] = json.dumps(rec.data, sort_keys=True, default=str)
        db["events"].insert(row)

    def _w_profile(self, db: sqlite_utils.Database, rec: ProfileSnapshot) -> None:
        row = asdict(rec)
        row["profile"] = json.dumps(rec.profile, sort_keys=True)
        db["profile_snapshots"].upsert(row, pk=("session_id", "after_position"))

    def _w_answer(self, db: sqlite_utils.Database, rec: QuestionnaireAnswer) -> None:
        db["questionnaire"].upsert(asdict(rec), pk=("session_id", "item"))

    def _w_end(self, db: sqlite_utils.Database, rec: SessionEnd) -> None:
        db.execute(
            "UPDATE sessions SET end_reason = ?, ended_mono_ns = ?, ended_utc = ?, "
            "catalog_fingerprint = COALESCE(?, catalog_fingerprint), catalog_size = COALESCE(?, catalog_size) "
            "WHERE id = ?",
            [rec.end_reason, rec.ended_mono_ns, rec.ended_utc, rec.catalog_fingerprint, rec.catalog_size,
             rec.session_id],
        )


def written_counts(path: str | Path, session_id: str) -> dict[str, int] | None:
    """What really is in the file for one session, read back through a separate read-only connection:
    {"views": closed views, "impressions", "events", "ended": 1 if its end is recorded}; None when the
    file cannot be read (then nothing may be claimed as written)."""
    try:
        conn = sqlite3.connect(sqlite_uri(path, "ro"), uri=True, timeout=2.0)
    except sqlite3.Error:
        return None
    try:
        one = lambda sql: conn.execute(sql, [session_id]).fetchone()[0]  # noqa: E731
        return {
            "views": one("SELECT COUNT(*) FROM views WHERE session_id = ? AND final = 1"),
            "impressions": one("SELECT COUNT(*) FROM impressions WHERE session_id = ?"),
            "events": one("SELECT COUNT(*) FROM events WHERE session_id = ?"),
            "ended": one("SELECT COUNT(*) FROM sessions WHERE id = ? AND end_reason IS NOT NULL"),
        }
    except sqlite3.Error:
        return None
    finally:
        conn.close()
