"""Which study a session belongs to, and the session ids of a study / condition / participant.

Where the study name is read from, first found wins:

1. ``sessions.study`` -- the column the proposed schema migration adds (docs/researchers.md,
   "Storing the study name"); used as soon as it exists and is not empty;
2. the session's ``study`` event (``events.kind = 'study'``, ``data.study``), which the lab start
   writes right after the session starts (``Assignment.study_event``): the interim place;
3. the ``practice`` event of a practice session (``data.study``): practice sessions recorded before
   they carried ``sessions.study`` are tied to their study by it;
4. ``sessions.ranker_params`` JSON key ``"study"`` (tolerated for hand-made files; not written by feedapp,
   because ranker parameters are handed to the ranker).

Practice sessions (mode ``practice``) belong to their study (a withdrawal deletes them with it) but
are not part of it for analysis: ``session_ids`` and ``studies`` leave them out unless
``practice=True``.

``session_ids(conn, study=..., condition=..., participant=...)`` is the filter the exports use:
``feedapp.store.export.export(conn, out, session_ids(conn, study="x", condition="A"))``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from feedapp.core.model import View
from feedapp.lab.study import PRACTICE_EVENT, PRACTICE_MODE, STUDY_EVENT


def _has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    return any(r[1] == column for r in conn.execute(f"PRAGMA table_info({table})"))


def session_studies(conn: sqlite3.Connection) -> dict[str, str]:
    """{session id: study name} for every session ("" when it belongs to no study)."""
    column = _has_column(conn, "sessions", "study")
    from_column: dict[str, str] = {}
    from_params: dict[str, str] = {}
    cols = "id, ranker_params" + (", study" if column else "")
    for row in conn.execute(f"SELECT {cols} FROM sessions"):
        from_column[row[0]] = str(row[2]) if column and row[2] else ""
        try:
            params = json.loads(row[1] or "{}")
        except ValueError:
            params = {}
        name = params.get("study") if isinstance(params, dict) else None
        from_params[row[0]] = name if isinstance(name, str) else ""
    from_event = _names_from_events(conn, STUDY_EVENT)
    from_practice = _names_from_events(conn, PRACTICE_EVENT)
    return {sid: from_column[sid] or from_event.get(sid, "") or from_practice.get(sid, "") or from_params[sid]
            for sid in from_column}


def _names_from_events(conn: sqlite3.Connection, kind: str) -> dict[str, str]:
    """{session id: data.study of its earliest event of this kind}."""
    out: dict[str, str] = {}
    for sid, data in conn.execute(
        "SELECT session_id, data FROM events WHERE kind = ? ORDER BY mono_ns DESC", [kind]
    ):  # newest first, so the earliest event of a session wins
        try:
            d = json.loads(data or "{}")
        except ValueError:
            continue
        if isinstance(d, dict) and isinstance(d.get("study"), str) and d["study"]:
            out[sid] = d["study"]
    return out


def study_event(conn: sqlite3.Connection, session_id: str) -> dict[str, Any]:
    """The data of the session's study event ({} when there is none)."""
    row = conn.execute(
        "SELECT data FROM events WHERE session_id = ? AND kind = ? ORDER BY mono_ns LIMIT 1", [session_id, STUDY_EVENT]
    ).fetchone()
    if not row:
        return {}
    try:
        d = json.loads(row[0] or "{}")
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def studies(conn: sqlite3.Connection) -> dict[str, int]:
    """{study name: number of sessions}, studies only (practice sessions are not counted)."""
    practice = {r[0] for r in conn.execute("SELECT id FROM sessions WHERE mode = ?", [PRACTICE_MODE])}
    out: dict[str, int] = {}
    for sid, name in session_studies(conn).items():
        if name and sid not in practice:
            out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items()))


def session_ids(
    conn: sqlite3.Connection,
    *,
    study: str | None = None,
    condition: str | None = None,
    participant: str | None = None,
    practice: bool = False,
) -> list[str]:
    """Ids of the sessions matching every filter given (None: any), oldest first. Practice sessions
    (mode ``practice``) only with ``practice=True`` (a withdrawal): they are never part of an analysis."""
    names = session_studies(conn) if study is not None else {}
    sql = "SELECT id, condition, participant, mode FROM sessions ORDER BY started_utc, id"
    out = []
    for sid, cond, part, mode in conn.execute(sql):
        if mode == PRACTICE_MODE and not practice:
            continue
        if study is not None and names.get(sid, "") != study:
            continue
        if condition is not None and (cond or "") != condition:
            continue
        if participant is not None and (part or "") != participant:
            continue
        out.append(sid)
    return out


def next_block(conn: sqlite3.Connection, study: str, participant: str) -> int:
    """Within-subjects: the block of the participant's next session = their sessions in the study so far
    (an interrupted session counts: run it again with ``override`` if it must be repeated). A session that
    continues a crashed one (its ``continues_session`` event) is that session's block, not one more."""
    ids = session_ids(conn, study=study, participant=participant)
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    continuing = {r[0] for r in conn.execute(
        f"SELECT DISTINCT session_id FROM events WHERE kind = 'continues_session' AND session_id IN ({marks})", ids)}
    return sum(1 for sid in ids if sid not in continuing)


@dataclass(frozen=True)
class Continuation:
    """A crashed lab session that the new one continues (same participant and condition; read by
    ``feedapp.ui.lab.load_continuation``, used by ``feedapp.ui.lab_window.LabSession``)."""

    session_id: str
    participant: str
    condition: str
    # each of these counts the sessions it continued too, first (a continued session that crashed in turn)
    views: int  # closed views it has
    elapsed_ms: float  # its length up to its last record
    shown: tuple[str, ...]  # clip ids its feed served, in order (swipes back to a clip not again)
    replay: tuple[View, ...]  # its closed views, for the ranker to learn first
    fields: dict[str, Any] = field(default_factory=dict)  # its start dialog's values (sessions.fields)
    seed: int | None = None  # its feed seed when the experimenter gave it by hand (else it is derived again)
    block: int = 0  # its block (within-subjects), from its study event: the continuation runs the same block
