"""Verify the invariants of the research log with set-based SQL.

The rules run as five scans (views, impressions, events, profile snapshots, sessions): each scan
computes a 0/1 flag per rule for every row in one pass (joins by primary key, window functions for
positions) and returns only the offending rows; 100,000 views are checked in about 2-3 s on two
busy cores (benchmarks/export_check.py). A violation names the rule, the session, the position and
the figures, and says in words what is wrong. Meanings of the figures: docs/data.md.

Rules (``RULES`` lists them in this order):

- orphans: impressions/views/events/snapshots of unknown sessions, views without an impression,
  a view filed under another session than its impression, impressions of unknown clips, events
  about unknown impressions;
- positions: the impressions of a session are at positions 0..n-1, without gaps, in time order;
- no negative durations (dwell, play, paused, unfocused, stalled, first frame, loops, watch ratio,
  session length, input -> settled);
- the dwell buckets add up: play + paused + unfocused + stalled == dwell (within the tolerance;
  core/session.py splits dwell into exactly one bucket at every moment);
- the views of an ended session fit in it: the sum of its dwell <= its length, and each view lies
  between its start and end;
- watch_ratio == play_ms / clip duration (within the tolerance, in ms of play);
- skipped follows the skip rule (``feedapp.core.reward.is_skip``): play_ms below the session's skip
  threshold, unless the clip was watched to its end (loops >= 1 or play_ms >= its duration) or could
  not be played (exit = auto_skip);
- SQLite's own ``PRAGMA integrity_check`` runs first: a damaged file raises ``DamagedError`` (the
  rules are not run on it, their results would mean nothing);
- checkpoints: at most one open view (final = 0) per session, only at its last position, and none in
  an ended session; every impression of a cleanly ended session has a view.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from feedapp.store.db import SKIP_RULE_SQL, damaged

TOLERANCE_MS = 5.0
#: How many of SQLite's integrity problems are reported (the first ones are enough to know).
INTEGRITY_LIMIT = 10


def integrity_problems(conn: sqlite3.Connection, limit: int = INTEGRITY_LIMIT) -> list[str]:
    """SQLite's ``PRAGMA integrity_check``: [] when the file is sound, else its first ``limit`` findings."""
    rows = [str(r[0]) for r in conn.execute(f"PRAGMA integrity_check({int(limit)})")]
    return [] if rows == ["ok"] else rows


@dataclass(frozen=True)
class Violation:
    rule: str
    session_id: str | None
    position: int | None
    message: str
    figures: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        where = f"session {self.session_id[:8]}" if self.session_id else "no session"
        if self.position is not None:
            where += f" position {self.position}"
        return f"{where}: {self.message} [{self.rule}]"


def _ms(x: float | None) -> str:
    return "NULL" if x is None else f"{x:.1f} ms"


def _short(x: str | None) -> str:
    return "NULL" if x is None else str(x)[:8]


# The checks run as five scans (views, impressions, events, snapshots, sessions). Each scan computes
# one 0/1 column per rule (``f_<rule>``) for every row in a single pass (joins by primary key, window
# functions for positions) and returns only the rows where some flag is set.
_SCANS: dict[str, str] = {
    "views": """
        SELECT * FROM (
          SELECT v.session_id, i.position, v.impression_id, i.session_id AS impression_session_id,
                 v.dwell_ms, v.play_ms, v.paused_ms, v.unfocused_ms, v.stalled_ms, v.watch_ratio, v.loops,
                 v.skipped, v.final, c.duration_ms, s.skip_threshold_ms, s.end_reason, m.last_position,
                 v.play_ms + COALESCE(v.paused_ms, 0) + COALESCE(v.unfocused_ms, 0) + COALESCE(v.stalled_ms, 0) AS buckets_ms,
                 v.play_ms / MAX(1, c.duration_ms) AS expected_watch_ratio,
                 (v.ended_mono_ns - s.ended_mono_ns) / 1e6 AS after_session_end_ms,
                 i.id IS NULL AS f_view_without_impression,
                 s.id IS NULL AS f_view_unknown_session,
                 i.id IS NOT NULL AND v.session_id IS NOT i.session_id AS f_view_session_mismatch,
                 (v.dwell_ms < 0 OR v.play_ms < 0 OR v.paused_ms < 0 OR v.unfocused_ms < 0 OR v.stalled_ms < 0
                  OR v.watch_ratio < 0 OR v.loops < 0) AS f_negative_duration,
                 v.play_ms + COALESCE(v.paused_ms, 0) + COALESCE(v.unfocused_ms, 0) + COALESCE(v.stalled_ms, 0)
                   > v.dwell_ms + :tol AS f_buckets_exceed_dwell,
                 v.play_ms + COALESCE(v.paused_ms, 0) + COALESCE(v.unfocused_ms, 0) + COALESCE(v.stalled_ms, 0)
                   < v.dwell_ms - :tol AS f_buckets_short_of_dwell,
                 s.ended_mono_ns IS NOT NULL AND v.ended_mono_ns > s.ended_mono_ns + :tol * 1e6 AS f_outside_session,
                 c.id IS NOT NULL AND (v.watch_ratio IS NULL OR c.duration_ms IS NULL
                   OR ABS(v.watch_ratio * MAX(1, c.duration_ms) - v.play_ms) > :tol) AS f_watch_ratio,
                 s.skip_threshold_ms IS NOT NULL AND v.skipped IS NOT (""" + SKIP_RULE_SQL + """) AS f_skipped_flag,
                 v.final = 0 AND s.end_reason IS NOT NULL AS f_open_view_in_ended_session,
                 v.final = 0 AND i.position < m.last_position AS f_open_view_not_last
          FROM views v
          LEFT JOIN impressions i ON i.id = v.impression_id
          LEFT JOIN sessions s ON s.id = v.session_id
          LEFT JOIN clips c ON c.id = i.clip_id
          LEFT JOIN (SELECT session_id, MAX(position) AS last_position FROM impressions GROUP BY session_id) m
            ON m.session_id = v.session_id)
        WHERE {any}""",
    "impressions": """
        SELECT * FROM (
          SELECT i.session_id, i.position, i.id AS impression_id, i.clip_id, i.first_frame_ms, i.prev_position,
                 s.end_reason,
                 (i.settled_mono_ns - i.input_mono_ns) / 1e6 AS input_to_settled_ms,
                 (i.prev_ns - i.settled_mono_ns) / 1e6 AS before_previous_ms,
                 (s.started_mono_ns - i.settled_mono_ns) / 1e6 AS before_session_start_ms,
                 s.id IS NULL AS f_impression_unknown_session,
                 NOT EXISTS (SELECT 1 FROM clips c WHERE c.id = i.clip_id) AS f_impression_unknown_clip,
                 (i.prev_position IS NULL AND i.position <> 0)
                   OR (i.prev_position IS NOT NULL AND i.position <> i.prev_position + 1) AS f_positions,
                 i.prev_ns IS NOT NULL AND i.settled_mono_ns < i.prev_ns AS f_time_order,
                 (i.first_frame_ms < 0 OR i.settled_mono_ns < i.input_mono_ns) AS f_negative_impression_time,
                 i.settled_mono_ns < s.started_mono_ns - :tol * 1e6 AS f_outside_session,
                 s.end_reason IS NOT NULL AND s.end_reason <> 'recovered_after_crash'
                   AND NOT EXISTS (SELECT 1 FROM views v WHERE v.impression_id = i.id) AS f_impression_without_view
          FROM (SELECT id, session_id, position, clip_id, first_frame_ms, input_mono_ns, settled_mono_ns,
                       LAG(position) OVER w AS prev_position, LAG(settled_mono_ns) OVER w AS prev_ns
                FROM impressions WINDOW w AS (PARTITION BY session_id ORDER BY position)) i
          LEFT JOIN sessions s ON s.id = i.session_id)
        WHERE {any}""",
    "events": """
        SELECT * FROM (
          SELECT e.session_id, NULL AS position, e.id AS event_id, e.kind, e.impression_id,
                 NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = e.session_id) AS f_event_unknown_session,
                 e.impression_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM impressions i WHERE i.id = e.impression_id) AS f_event_unknown_impression
          FROM events e)
        WHERE {any}""",
    "profile_snapshots": """
        SELECT * FROM (
          SELECT p.session_id, p.after_position AS position,
                 NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = p.session_id) AS f_snapshot_unknown_session
          FROM profile_snapshots p)
        WHERE {any}""",
    "sessions": """
        SELECT * FROM (
          SELECT s.id AS session_id, NULL AS position, (s.ended_mono_ns - s.started_mono_ns) / 1e6 AS length_ms,
                 d.dwell_ms, d.views,
                 s.ended_mono_ns < s.started_mono_ns AS f_negative_session_length,
                 s.ended_mono_ns IS NOT NULL
                   AND d.dwell_ms > (s.ended_mono_ns - s.started_mono_ns) / 1e6 + :tol AS f_dwell_exceeds_session
          FROM sessions s
          LEFT JOIN (SELECT session_id, SUM(dwell_ms) AS dwell_ms, COUNT(*) AS views FROM views GROUP BY session_id) d
            ON d.session_id = s.id)
        WHERE {any}""",
}


def _outside(r: Any) -> str:
    if "before_session_start_ms" in r.keys():
        return f"settled {r['before_session_start_ms']:.1f} ms before the session started"
    return f"its view ends {r['after_session_end_ms']:.1f} ms after the session ended"


def _positions(r: Any) -> str:
    if r["prev_position"] is None:
        return f"the first impression is at position {r['position']}, expected 0"
    if r["position"] == r["prev_position"]:
        return f"position {r['position']} appears twice"
    return f"positions {r['prev_position'] + 1}..{r['position'] - 1} are missing (after {r['prev_position']} comes {r['position']})"


def _negatives(r: Any, keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k} = {r[k]:g}" for k in keys if r[k] is not None and r[k] < 0)


def _watch_ratio(r: Any) -> str:
    if r["watch_ratio"] is None:
        return f"watch_ratio is NULL (play {_ms(r['play_ms'])})"
    if r["duration_ms"] is None:
        return f"the clip has no duration, so watch_ratio {r['watch_ratio']:.4f} cannot be checked"
    return (f"watch_ratio {r['watch_ratio']:.4f} but play {_ms(r['play_ms'])} / duration {r['duration_ms']} ms "
            f"= {r['expected_watch_ratio']:.4f}")


_V_FIG = ("impression_id", "dwell_ms", "play_ms", "paused_ms", "unfocused_ms", "stalled_ms")

# name -> (scan, figures reported, message). In the order they are documented and sorted.
RULES: dict[str, tuple[str, tuple[str, ...], Callable[[Any], str]]] = {
    "impression_unknown_session": ("impressions", ("impression_id",), lambda r:
        f"impression {_short(r['impression_id'])} belongs to session {r['session_id']}, which is not in the sessions table"),
    "impression_unknown_clip": ("impressions", ("impression_id", "clip_id"), lambda r:
        f"shows clip {r['clip_id']!r}, which is not in the clips table"),
    "view_without_impression": ("views", ("impression_id",), lambda r:
        f"a view closes impression {r['impression_id']}, which is not in the impressions table"),
    "view_unknown_session": ("views", ("impression_id",), lambda r:
        f"the view of impression {_short(r['impression_id'])} belongs to session {r['session_id']}, "
        "which is not in the sessions table"),
    "view_session_mismatch": ("views", ("impression_id", "impression_session_id"), lambda r:
        f"the view of impression {_short(r['impression_id'])} is filed under this session but the impression "
        f"belongs to session {_short(r['impression_session_id'])}"),
    "event_unknown_session": ("events", ("event_id", "kind"), lambda r:
        f"event {_short(r['event_id'])} ({r['kind']}) belongs to session {r['session_id']}, which is not in the sessions table"),
    "event_unknown_impression": ("events", ("event_id", "kind", "impression_id"), lambda r:
        f"event {_short(r['event_id'])} ({r['kind']}) is about impression {r['impression_id']}, which is not in the impressions table"),
    "snapshot_unknown_session": ("profile_snapshots", (), lambda r:
        f"a profile snapshot belongs to session {r['session_id']}, which is not in the sessions table"),
    "positions": ("impressions", ("impression_id", "prev_position"), _positions),
    "time_order": ("impressions", ("impression_id", "before_previous_ms"), lambda r:
        f"settled {r['before_previous_ms']:.1f} ms before the previous position settled"),
    "negative_duration": ("views", _V_FIG + ("watch_ratio", "loops"), lambda r:
        "negative figure in its view: " + _negatives(r, ("dwell_ms", "play_ms", "paused_ms", "unfocused_ms",
                                                         "stalled_ms", "watch_ratio", "loops"))),
    "negative_impression_time": ("impressions", ("impression_id", "first_frame_ms", "input_to_settled_ms"), lambda r:
        "negative time in its impression: " + _negatives(r, ("first_frame_ms", "input_to_settled_ms"))),
    "negative_session_length": ("sessions", ("length_ms",), lambda r:
        f"ends before it starts (length {_ms(r['length_ms'])})"),
    "buckets_exceed_dwell": ("views", _V_FIG + ("buckets_ms",), lambda r:
        f"play + paused + unfocused + stalled = {_ms(r['buckets_ms'])} ({r['play_ms']:.1f} + {r['paused_ms'] or 0:.1f} + "
        f"{r['unfocused_ms'] or 0:.1f} + {r['stalled_ms'] or 0:.1f}) exceeds dwell {_ms(r['dwell_ms'])} "
        f"by {r['buckets_ms'] - r['dwell_ms']:.1f} ms"),
    "buckets_short_of_dwell": ("views", _V_FIG + ("buckets_ms",), lambda r:
        f"play + paused + unfocused + stalled = {_ms(r['buckets_ms'])} leaves {r['dwell_ms'] - r['buckets_ms']:.1f} ms "
        f"of dwell {_ms(r['dwell_ms'])} unaccounted (every moment of dwell belongs to one bucket)"),
    "dwell_exceeds_session": ("sessions", ("length_ms", "dwell_ms", "views"), lambda r:
        f"its {r['views']} views dwell {_ms(r['dwell_ms'])} in total, more than the session lasted "
        f"({_ms(r['length_ms'])}) by {r['dwell_ms'] - r['length_ms']:.1f} ms"),
    "outside_session": ("views+impressions", (), _outside),
    "watch_ratio": ("views", ("impression_id", "watch_ratio", "play_ms", "duration_ms", "expected_watch_ratio"), _watch_ratio),
    "skipped_flag": ("views", ("impression_id", "skipped", "play_ms", "skip_threshold_ms", "loops", "duration_ms"),
                     lambda r: f"skipped = {r['skipped']} but play {_ms(r['play_ms'])} is "
        f"{'below' if r['play_ms'] < r['skip_threshold_ms'] else 'not below'} the session's skip threshold "
        f"{r['skip_threshold_ms']} ms (a clip watched to its end, loops {r['loops']} or play >= its "
        f"{r['duration_ms']} ms, or one that could not be played, is never a skip)"),
    "open_view_in_ended_session": ("views", ("impression_id", "end_reason"), lambda r:
        f"its view is still a checkpoint (final = 0) although the session ended ({r['end_reason']})"),
    "open_view_not_last": ("views", ("impression_id", "last_position"), lambda r:
        f"its view is still a checkpoint (final = 0) but the viewer moved on (last position {r['last_position']})"),
    "impression_without_view": ("impressions", ("impression_id", "end_reason"), lambda r:
        f"has no view although the session ended cleanly ({r['end_reason']})"),
}

RULE_NAMES = list(RULES)


def _scan_sql(scan: str, versioned: bool = True) -> tuple[str, list[str]]:
    sql = _SCANS[scan]
    if versioned:  # schema 4: an impression names the clip version it showed (impressions.clip_key)
        sql = sql.replace("WHERE c.id = i.clip_id", "WHERE c.key = i.clip_key AND c.id = i.clip_id").replace(
            "ON c.id = i.clip_id", "ON c.key = i.clip_key").replace(
            "SELECT id, session_id, position, clip_id,", "SELECT id, session_id, position, clip_id, clip_key,")
    flags = [name for name in RULE_NAMES if f"AS f_{name}" in sql]
    return sql.replace("{any}", " OR ".join(f"f_{f}" for f in flags)), flags


def check(conn: sqlite3.Connection, tolerance_ms: float = TOLERANCE_MS, *, source: str = "the database") -> dict[str, Any]:
    """SQLite's integrity check, then every rule; return ``{"ok", "violations": [Violation], "counts",
    "checked", "integrity", "tolerance_ms", "seconds"}``. A damaged file raises DamagedError (naming ``source``)."""
    conn.row_factory = sqlite3.Row
    t0 = time.perf_counter()
    problems = integrity_problems(conn)
    if problems:
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise damaged(source, f"SQLite's integrity check fails: {problems[0]!r}{more}; the invariants were not checked")
    violations: list[Violation] = []
    counts: dict[str, int] = {}
    versioned = "clip_key" in {r[1] for r in conn.execute("PRAGMA table_info(impressions)")}
    for scan in _SCANS:
        sql, flags = _scan_sql(scan, versioned)
        for row in conn.execute(sql, {"tol": tolerance_ms}):
            keys = row.keys()
            for name in flags:
                if not row[f"f_{name}"]:
                    continue
                _, figure_keys, describe = RULES[name]
                if name == "outside_session":
                    figure_keys = tuple(k for k in ("impression_id", "before_session_start_ms", "after_session_end_ms")
                                        if k in keys)
                figures = {k: row[k] for k in figure_keys}
                try:
                    message = describe(row)
                except (TypeError, ValueError):  # e.g. text where a number belongs: still report it
                    message = "figures do not satisfy the rule: " + ", ".join(f"{k} = {v!r}" for k, v in figures.items())
                violations.append(Violation(name, row["session_id"], row["position"], message, figures))
                counts[name] = counts.get(name, 0) + 1
    counts = {name: counts[name] for name in RULE_NAMES if name in counts}
    checked = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
               for t in ("sessions", "impressions", "views", "events")}
    order = {name: k for k, name in enumerate(RULE_NAMES)}
    violations.sort(key=lambda v: (v.session_id or "", -1 if v.position is None else v.position, order[v.rule]))
    return {
        "ok": not violations,
        "violations": violations,
        "counts": counts,
        "checked": checked,
        "integrity": "ok",
        "tolerance_ms": tolerance_ms,
        "seconds": round(time.perf_counter() - t0, 4),
    }


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def report_text(result: dict[str, Any]) -> str:
    c = result["checked"]
    head = (f"checked {_count(c['sessions'], 'session')}, {_count(c['impressions'], 'impression')}, "
            f"{_count(c['views'], 'view')}, {_count(c['events'], 'event')} (tolerance {result['tolerance_ms']:g} ms)")
    if result["ok"]:
        return f"{head}: SQLite's integrity check passes and every invariant holds"
    lines = [v.describe() for v in result["violations"]]
    summary = ", ".join(f"{n} {rule}" for rule, n in result["counts"].items())
    lines.append(f"{head}: {len(result['violations'])} violations ({summary})")
    return "\n".join(lines)


def report_json(result: dict[str, Any]) -> dict[str, Any]:
    return {**result, "violations": [asdict(v) for v in result["violations"]]}
