"""Read one session of a feedapp log for replay: the SQL against the store's schema.

``read_logged_session(conn, prefix)`` turns the rows of one session (its impressions with the context
each decision saw, closed views, live changes and its own catalog) into the core's ``LoggedSession``,
which ``feedapp.core.replay.replay`` replays; it runs plain SQL on the DB-API connection it is given
(``feedapp.store.sessions.open_for_reading`` opens one without changing the file). Logs written by
older schemas read too: columns they lack count as unknown.
"""

from __future__ import annotations

import json
from typing import Any

from feedapp.core.feed_session import LIVE_CHANGE, SESSION_CATALOG
from feedapp.core.model import Clip, View
from feedapp.core.rankers.policy import NEVER
from feedapp.core.replay import LoggedSession, LoggedStep, ReplayError
from feedapp.core.reward import UNPLAYABLE_EXIT
from feedapp.store.sessions import match_session_id


def _loads(text: Any, default: Any) -> Any:
    if text is None or text == "":
        return default
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default


def resolve_session_id(conn: Any, prefix: str) -> str:
    """The one session id starting with ``prefix`` (case-insensitive); ``ReplayError`` otherwise."""
    return match_session_id(conn, prefix, ReplayError)


def _columns(conn: Any, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def _clip(r: Any, features: Any) -> Clip:
    topics = _loads(r[3], [])
    feats = _loads(features, [])
    return Clip(
        id=r[0], path=r[1] or "", title=r[2] or "", topics=tuple(str(t) for t in topics) if isinstance(topics, list) else (),
        creator=r[4] or "", duration_ms=int(r[5] or 0), fps=float(r[6] or 0.0), width=int(r[7] or 0),
        height=int(r[8] or 0), rotation=int(r[9] or 0), created=r[10] or "",
        features=tuple(float(f) for f in feats) if isinstance(feats, list) else (),
    )


def _continues(conn: Any, session_id: str) -> str | None:
    """The session that ``session_id`` continues (its ``continues_session`` event), or None."""
    row = conn.execute("SELECT data FROM events WHERE session_id = ? AND kind = 'continues_session' "
                       "ORDER BY mono_ns, rowid LIMIT 1", [session_id]).fetchone()
    data = _loads(row[0], {}) if row else {}
    earlier = data.get("session_id") if isinstance(data, dict) else None
    return earlier if isinstance(earlier, str) and earlier else None


def continued_chain(conn: Any, session_id: str) -> tuple[str, ...]:
    """``session_id`` after the sessions it continued, oldest first: a lab session continued after a
    crash that crashed in turn is continued with what every session before it saw (one id in any
    other case)."""
    chain: list[str] = []
    sid: str | None = session_id
    while sid is not None and sid not in chain:
        chain.append(sid)
        sid = _continues(conn, sid)
    return tuple(reversed(chain))


def _session_views(conn: Any, session_id: str) -> tuple[View, ...]:
    rows = conn.execute(
        "SELECT i.clip_id, i.is_revisit, v.dwell_ms, v.play_ms, v.loops, v.skipped, v.liked, v.not_interested, "
        "CASE WHEN v.final = 1 THEN v.exit ELSE 'crash' END, v.paused_ms, v.unfocused_ms, i.position "
        "FROM views v JOIN impressions i ON i.id = v.impression_id "
        "WHERE v.session_id = ? ORDER BY i.position", [session_id]).fetchall()
    return tuple(View(clip_id=r[0], revisit=bool(r[1]), dwell_ms=r[2] or 0.0, play_ms=r[3] or 0.0, loops=r[4] or 0,
                      skipped=bool(r[5]), liked=bool(r[6]), not_interested=bool(r[7]), exit=r[8] or "",
                      paused_ms=r[9] or 0.0, unfocused_ms=r[10] or 0.0, position=r[11]) for r in rows)


def continued_views(conn: Any, session_id: str) -> tuple[View, ...]:
    """The views that the session continuing ``session_id`` (a crashed lab session) learns first: those
    of ``continued_chain`` (the sessions it continued, then its own), each in impression order, as the
    lab app reads them (``feedapp.ui.lab.load_continuation``) and replay does; a view still open (its
    session not closed as recovered yet) counts with exit ``crash``."""
    return tuple(v for s in continued_chain(conn, session_id) for v in _session_views(conn, s))


def _learned(views: tuple[View, ...], catalog: set[str]) -> int:
    """How many of ``views`` an engine on ``catalog`` learns (``FeedEngine.continue_from``)."""
    return sum(1 for v in views if v.exit != UNPLAYABLE_EXIT and v.clip_id in catalog)


def _views_before(conn: Any, sid: str, start: dict, catalog: set[str]) -> tuple[tuple[View, ...], str | None]:
    """(the views a continued lab session learned before its first slot, a note when they cannot be
    read back): those the session its ``continues_session`` event names was continued with, when the
    file holds them (a continuation recorded before continuations followed the chain learned that
    session's own views only)."""
    n = int(start.get("views", 0) or 0)
    if not n:
        return (), None
    earlier = _continues(conn, sid)
    held: tuple[View, ...] = ()
    if earlier is not None:
        for views in (continued_views(conn, earlier), _session_views(conn, earlier)):
            if _learned(views, catalog) == n:
                return views, None
            held = held or views
    what = (f"session {earlier}, which this file holds with {_learned(held, catalog)} views"
            if earlier else "a session this file does not name")
    return (), (f"the session started from {n} views learned in an earlier session (a continued lab session: {what}); "
                "replay starts without them (the clips that session showed count as served)")


def read_logged_session(conn: Any, prefix: str) -> LoggedSession:
    """Read one session from a feedapp log: its impressions with the decision context, closed views,
    live changes, and its own catalog (the ``session_catalog`` event; every clip in the file in logs
    written before it existed)."""
    sid = resolve_session_id(conn, prefix)
    s = conn.execute("SELECT id, ranker, ranker_params, seed, catalog_size, catalog_fingerprint FROM sessions WHERE id = ?",
                     [sid]).fetchone()
    params = _loads(s[2], {})
    if not isinstance(params, dict):
        params = {}
    clip_cols = _columns(conn, "clips")
    feat_col = "features" if "features" in clip_cols else "NULL"
    # one Clip per id: the version this session showed (schema 4 keeps every version), else the newest
    versioned = "key" in clip_cols
    shown = {r[0] for r in conn.execute("SELECT DISTINCT clip_key FROM impressions WHERE session_id = ?", [sid])} \
        if versioned else set()
    rows: dict[str, Any] = {}
    for r in conn.execute("SELECT id, path, title, topics, creator, duration_ms, fps, width, height, rotation, created, "
                          f"{feat_col}, {'key' if versioned else 'NULL'} FROM clips ORDER BY rowid"):
        if r[0] not in rows or r[12] in shown or rows[r[0]][12] not in shown:
            rows[r[0]] = r
    by_id = {cid: _clip(r, r[11]) for cid, r in rows.items()}
    start: dict = {}
    live: list[dict] = []
    for kind, data in conn.execute("SELECT kind, data FROM events WHERE session_id = ? AND kind IN (?, ?) "
                                   "ORDER BY mono_ns, rowid", [sid, SESSION_CATALOG, LIVE_CHANGE]):
        d = _loads(data, {})
        if kind == SESSION_CATALOG and not start and isinstance(d, dict):
            start = d
        elif kind == LIVE_CHANGE and isinstance(d, dict):
            live.append(d)
    live.sort(key=lambda e: int(e.get("seq", 0)))
    notes = []
    if start:
        missing = [c for c in start.get("clips", ()) if c not in by_id]
        if missing:
            raise ReplayError(f"session {sid}'s catalog names clip {missing[0]!r}, which is not in the log's clips table")
        clips = [by_id[c] for c in start.get("clips", ())]
        if isinstance(start.get("params"), dict):
            params = start["params"]
    else:
        clips = list(by_id.values())
        if s[4] is not None and int(s[4]) != len(clips):
            notes.append(f"the session's catalog had {s[4]} clips; the log's clips table holds {len(clips)} "
                         "(clips of every session in this file); the replay uses all of them")
    if "repeat_penalty" in params:  # policy rules logged before their half-lives existed never decayed
        params = {"repeat_halflife": NEVER, "new_creator_halflife": NEVER, **params}
    if "duration_shrink" in params and "bias_shrink" not in params:  # foryou's model (and lin_ts's) logged
        params = {**params, "bias_shrink": 1.0}  # before bias_shrink existed: an equal prior, whatever the default
    imp_cols = _columns(conn, "impressions")
    ctx = ("views_learned", "live_seq", "params_version", "ranker_version", "scripted")
    ctx_sql = ", ".join(f"i.{c}" if c in imp_cols else "NULL" for c in ctx)
    steps = []
    for r in conn.execute(
        "SELECT i.position, i.clip_id, i.is_revisit, i.policy, i.propensity, v.dwell_ms, v.play_ms, v.loops, v.skipped, "
        f"v.liked, v.not_interested, v.exit, v.paused_ms, v.unfocused_ms, v.final, {ctx_sql} "
        "FROM impressions i LEFT JOIN views v ON v.impression_id = i.id WHERE i.session_id = ? ORDER BY i.position", [sid]
    ):
        view = None
        if r[14] == 1 and r[5] is not None and r[6] is not None:
            view = View(clip_id=r[1], dwell_ms=float(r[5]), play_ms=float(r[6]), loops=int(r[7] or 0),
                        skipped=bool(r[8]), liked=bool(r[9]), not_interested=bool(r[10]), revisit=bool(r[2]),
                        exit=r[11] or "", paused_ms=float(r[12] or 0.0), unfocused_ms=float(r[13] or 0.0),
                        position=int(r[0]))
        p = r[4]
        scripted = bool(r[19]) if r[19] is not None else (r[3] == "warmup")
        steps.append(LoggedStep(int(r[0]), r[1], bool(r[2]), r[3] or "", None if p is None else float(p), view,
                                None if r[15] is None else int(r[15]), None if r[16] is None else int(r[16]),
                                None if r[17] is None else int(r[17]), r[18], scripted))
    if not steps:
        raise ReplayError(f"session {sid} has no impressions to replay")
    if any(st.views_learned is None for st in steps if not st.is_revisit and not st.scripted and st.propensity is not None):
        notes.append("this log does not record what each decision saw (views learned, live changes): every slot is "
                     "replayed as decided after all earlier views, so the logged propensities are not reproduced exactly")
    before, note = _views_before(conn, sid, start, {c.id for c in clips})
    if note:
        notes.append(note)
    seen = {c.id for c in clips}
    for e in live:  # then the clips that joined while it ran, in the order the engine took them
        for cid in e.get("clips", ()) if e.get("change") == "catalog" else ():
            if cid not in by_id:
                raise ReplayError(f"session {sid}: clip {cid!r} joined its catalog, but it is not in the log's clips table")
            if cid not in seen:
                seen.add(cid)
                clips.append(by_id[cid])
    return LoggedSession(sid, s[1] or "", params, int(s[3] or 0), tuple(clips), tuple(steps), tuple(notes),
                         live=tuple(live), start=start, before=before)
