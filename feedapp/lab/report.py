"""The lab report: figures computed from the log, rendered as self-contained HTML with inline SVG.

``session_figures(conn, session_id)`` and ``study_figures(conn, study)`` return plain dicts (JSON
ready); ``render_session`` / ``render_study`` turn them into one HTML file each that opens offline
(no scripts, no external files: charts are inline SVG drawn here). The figures are also embedded in
each page as JSON (``<script type="application/json" id="figures">``) and written beside it as
``*.json``, so analysts and tests read the same numbers the page shows.

What is computed (closed views only: ``views.final = 1``; meanings: docs/data.md, docs/researchers.md):

- summary: views, impressions, mean watch ratio, skip rate, mean dwell; for a session with a
  Student-t 95 % interval over its views (views treated as independent: describes that session);
- profile forming: per-topic affinity after each view, from ``profile_snapshots.profile``. Accepted
  shapes: ``{"topics": {topic: number}, ...}`` (what ``feedapp.core.profile.TasteProfile.snapshot``
  writes), ``{"topic_affinity": {...}}``, or a flat ``{topic: number}``; anything else is counted
  in ``snapshots_unreadable`` and skipped. The 8 topics with the largest final |affinity| are drawn;
- dwell histogram (seconds, 12 equal bins from 0 to a round number) and watch-ratio histogram
  (bins of 0.1 from 0 to 2, the last bin also holds everything >= 1.9: loops);
- skip rate over time: rolling mean of ``skipped`` over the last 10 closed views, by position;
- topics served against topics preferred: per topic, impressions showing it / all impressions
  (a clip with two topics counts for both, so shares can add up to more than 1), views, mean watch
  ratio, skip rate. Preferred topics = the 3 with the highest mean watch ratio (ties: more views,
  then name). ``preferred_share`` = share of impressions showing a preferred topic, in the first
  and in the second half of the session: a feed that learns serves more of them later;
- exploration share: exploration picks / impressions chosen by the ranker (revisits and scripted slots,
  i.e. warm-up clips, excluded; ``impressions.scripted`` when the schema has it, else policy ``warmup``);
  practice sessions are their own sessions (mode ``practice``) and never in a study's figures;
- preferred topics need at least ``MIN_TOPIC_VIEWS`` closed ranker-served views (stated in the page);
- questionnaire answers (schema 6): per item, the answers of each session; per condition the mean
  Likert point with a 95 % interval over sessions;
- per condition (study): the session is the unit. Each session gives one mean watch ratio, one skip
  rate, one mean dwell; the condition's figure is the mean of its sessions with a Student-t 95 %
  confidence interval over sessions (none with fewer than two sessions), clipped to the possible
  range (a rate stays within 0..1). Views within a session are
  not independent, so intervals over pooled views would be too narrow; pooled view means are shown
  beside them for reference.
"""

from __future__ import annotations

import html
import json
import math
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from feedapp.errors import counted
from feedapp.lab.data import session_ids, session_studies, study_event
from feedapp.lab.stats import histogram, mean_ci, nice_edges, rolling_mean

ROLLING_WINDOW = 10
PREFERRED_TOPICS = 3
#: A topic needs at least this many closed ranker-served views (warm-up and revisits left out) to be "preferred".
MIN_TOPIC_VIEWS = 3
SCRIPTED_POLICIES = ("warmup",)  # impressions.policy of slots the study fixed (not drawn by the ranker)
PROFILE_TOPICS = 8
WATCH_EDGES = [round(i * 0.1, 1) for i in range(21)]  # 0.0 .. 2.0
METRICS = ("watch_ratio", "skip_rate", "dwell_ms")
BOUNDS = {"watch_ratio": (0.0, math.inf), "skip_rate": (0.0, 1.0), "dwell_ms": (0.0, math.inf)}
METRIC_LABELS = {"watch_ratio": "mean watch ratio", "skip_rate": "skip rate", "dwell_ms": "mean dwell (ms)"}


class ReportError(RuntimeError):
    """The report cannot be made (unknown session or study, nothing recorded)."""


# -- reading the log ------------------------------------------------------------------------------
def _topics(text: Any) -> list[str]:
    try:
        value = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return []
    return [str(t) for t in value] if isinstance(value, list) else []


def profile_topics(profile: Any) -> dict[str, float] | None:
    """Per-topic affinities from one snapshot (see the module docstring), or None when unreadable."""
    if isinstance(profile, str):
        try:
            profile = json.loads(profile)
        except ValueError:
            return None
    if not isinstance(profile, dict):
        return None
    for key in ("topics", "topic_affinity"):
        inner = profile.get(key)
        if isinstance(inner, dict):
            profile = inner
            break
    else:
        if any(isinstance(v, dict) for v in profile.values()):
            return None
    out = {str(k): float(v) for k, v in profile.items()
           if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}
    return out if out or not profile else None


def _loads_obj(text: Any) -> Any:
    try:
        return json.loads(text or "{}")
    except (TypeError, ValueError):
        return text


def _f(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(float(x), digits)


def _continuation(conn: sqlite3.Connection, session_id: str) -> dict[str, str | None]:
    """The crashed session this one continues (its ``continues_session`` event), and the session that
    continued this one after it crashed: ``{"continues": id or None, "continued_in": id or None}``."""
    links = [(sid, _loads_obj(data).get("session_id")) for sid, data in conn.execute(
        "SELECT session_id, data FROM events WHERE kind = 'continues_session'")]
    return {"continues": next((old for new, old in links if new == session_id), None),
            "continued_in": next((new for new, old in links if old == session_id), None)}


def session_figures(conn: sqlite3.Connection, session_id: str, *, study_names: dict[str, str] | None = None) -> dict[str, Any]:
    """Figures of one session (``study_names``: ``session_studies(conn)`` when already known)."""
    conn.row_factory = sqlite3.Row
    s = conn.execute("SELECT * FROM sessions WHERE id = ?", [session_id]).fetchone()
    if s is None:
        raise ReportError(f"there is no session {session_id!r}")
    rows = [dict(r) for r in conn.execute("SELECT * FROM view_log WHERE session_id = ? ORDER BY position", [session_id])]
    views = [r for r in rows if r["final"] == 1]
    wr = [r["watch_ratio"] for r in views]
    skips = [float(r["skipped"]) for r in views]
    dwell = [r["dwell_ms"] for r in views]

    summary = {
        "impressions": len(rows),
        "views": len(views),
        "watch_ratio": mean_ci(wr, bounds=BOUNDS["watch_ratio"]),
        "skip_rate": mean_ci(skips, bounds=BOUNDS["skip_rate"]),
        "dwell_ms": mean_ci(dwell, bounds=BOUNDS["dwell_ms"]),
        "likes": sum(1 for r in views if r["liked"]),
    }
    def scripted(r: dict[str, Any]) -> bool:
        return bool(r.get("scripted")) or r["policy"] in SCRIPTED_POLICIES

    picked = [r for r in rows if not r["is_revisit"] and not scripted(r)]  # ranker picks only
    exploration = {
        "scripted": sum(1 for r in rows if scripted(r)),
        "picks": len(picked),
        "exploration_picks": sum(1 for r in picked if r["exploration"]),
        "share": (sum(1 for r in picked if r["exploration"]) / len(picked)) if picked else None,
    }

    dwell_edges = nice_edges(max((d / 1000 for d in dwell), default=0.0))
    hist = {
        "dwell_s": {"edges": dwell_edges, "counts": histogram([d / 1000 for d in dwell], dwell_edges)},
        "watch_ratio": {"edges": WATCH_EDGES, "counts": histogram(wr, WATCH_EDGES)},
    }
    rolling = rolling_mean(skips, ROLLING_WINDOW)
    skip_over_time = {"window": ROLLING_WINDOW, "positions": [r["position"] for r in views],
                      "rate": list(rolling)}  # unrounded: the study averages them and rounds once

    # topics served against preferred
    topic_rows: dict[str, dict[str, Any]] = {}
    for r in rows:
        for t in dict.fromkeys(_topics(r["topics"])):
            e = topic_rows.setdefault(t, {"served": 0, "wr": [], "skips": [], "ranked": 0})
            e["served"] += 1
            if r["final"] == 1:
                e["wr"].append(r["watch_ratio"])
                e["skips"].append(r["skipped"])
                if not r["is_revisit"] and not scripted(r):
                    e["ranked"] += 1
    topics = {}
    for t, e in sorted(topic_rows.items()):
        topics[t] = {
            "served": e["served"],
            "served_share": _f(e["served"] / len(rows)) if rows else None,
            "views": len(e["wr"]),
            "ranker_views": e["ranked"],
            "mean_watch_ratio": _f(sum(e["wr"]) / len(e["wr"])) if e["wr"] else None,
            "skip_rate": _f(sum(e["skips"]) / len(e["skips"])) if e["skips"] else None,
        }
    ranked = sorted((t for t in topics if topics[t]["views"] and topics[t]["ranker_views"] >= MIN_TOPIC_VIEWS),
                    key=lambda t: (-topics[t]["mean_watch_ratio"], -topics[t]["views"], t))
    preferred = ranked[:PREFERRED_TOPICS]
    half = len(rows) // 2

    def pref_share(part: Sequence[dict[str, Any]]) -> float | None:
        if not part:
            return None
        return _f(sum(1 for r in part if set(_topics(r["topics"])) & set(preferred)) / len(part))

    # profile forming
    snaps = list(conn.execute(
        "SELECT after_position, profile FROM profile_snapshots WHERE session_id = ? ORDER BY after_position", [session_id]
    ))
    series: dict[str, list[list[float]]] = {}
    unreadable = 0
    last: dict[str, float] = {}
    for snap in snaps:
        aff = profile_topics(snap["profile"])
        if aff is None:
            unreadable += 1
            continue
        for t, v in aff.items():
            series.setdefault(t, []).append([snap["after_position"], v])
        last = aff
    final_value = {t: (pts[-1][1] if pts else 0.0) for t, pts in series.items()}
    shown = sorted(series, key=lambda t: (-abs(final_value[t]), t))[:PROFILE_TOPICS]
    study = (study_names if study_names is not None else session_studies(conn)).get(session_id, "")
    length = None
    if s["ended_mono_ns"] is not None:
        length = (s["ended_mono_ns"] - s["started_mono_ns"]) / 1e9
    return {
        "kind": "session",
        "session": {
            "id": s["id"], "participant": s["participant"], "condition": s["condition"], "ranker": s["ranker"],
            "ranker_params": _loads_obj(s["ranker_params"]), "seed": s["seed"], "mode": s["mode"],
            "study": study, "assignment": study_event(conn, session_id), "started_utc": s["started_utc"],
            "ended_utc": s["ended_utc"], "end_reason": s["end_reason"], "length_s": _f(length, 3),
            "skip_threshold_ms": s["skip_threshold_ms"], "app_version": s["app_version"],
            "catalog_fingerprint": s["catalog_fingerprint"], "catalog_size": s["catalog_size"],
            "fields": _loads_obj(s["fields"]) if "fields" in s.keys() else {},
            **_continuation(conn, session_id),
        },
        "summary": summary,
        "exploration": exploration,
        "histograms": hist,
        "skip_over_time": skip_over_time,
        "topics": topics,
        "preferred_topics": preferred,
        "preferred_min_views": MIN_TOPIC_VIEWS,
        "questionnaire": questionnaire(conn, session_id),
        "preferred_share": {"first_half": pref_share(rows[:half]), "second_half": pref_share(rows[half:])},
        "profile": {"snapshots": len(snaps), "snapshots_unreadable": unreadable, "topics_shown": shown,
                    "series": {t: series[t] for t in shown}, "final": {t: last.get(t) for t in shown}},
    }


def questionnaire(conn: sqlite3.Connection, session_id: str) -> list[dict[str, Any]]:
    """The session's answers, in questionnaire order ([] when there are none or the schema has no table)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'questionnaire'").fetchone():
        return []
    return [{"item": r[0], "type": r[1], "question": r[2], "answer": r[3], "value": r[4]} for r in conn.execute(
        "SELECT item, type, question, answer, value FROM questionnaire WHERE session_id = ? ORDER BY position",
        [session_id])]


def _session_means(fig: dict[str, Any]) -> dict[str, float | None]:
    s = fig["summary"]
    return {m: s[m]["mean"] for m in METRICS}


def study_figures(conn: sqlite3.Connection, study: str) -> dict[str, Any]:
    ids = session_ids(conn, study=study)
    if not ids:
        raise ReportError(f"no session belongs to study {study!r}")
    names = session_studies(conn)
    marks = ",".join("?" * len(ids))
    refused = [r[0] for r in conn.execute(
        f"SELECT id FROM sessions WHERE id IN ({marks}) AND end_reason = 'consent_refused'", ids)]
    ids = [sid for sid in ids if sid not in set(refused)]
    if not ids:
        raise ReportError(f"every session of study {study!r} ended with consent refused: nothing to report")
    practice = _practice_sessions(conn, study)
    sessions = [session_figures(conn, sid, study_names=names) for sid in ids]
    conditions: dict[str, dict[str, Any]] = {}
    for f in sessions:
        c = conditions.setdefault(f["session"]["condition"], {"sessions": [], "participants": set(), "views": 0,
                                                              "pooled": {m: [] for m in METRICS}})
        c["sessions"].append(f)
        c["participants"].add(f["session"]["participant"])
        c["views"] += f["summary"]["views"]
    # pooled view-level values, read again from the log (one query per condition)
    out_conditions = {}
    for name, c in sorted(conditions.items()):
        sids = [f["session"]["id"] for f in c["sessions"]]
        marks = ",".join("?" * len(sids))
        pooled = conn.execute(
            f"SELECT AVG(watch_ratio), AVG(skipped), AVG(dwell_ms), COUNT(*) FROM views "
            f"WHERE final = 1 AND session_id IN ({marks})", sids
        ).fetchone()
        per_session = [_session_means(f) for f in c["sessions"]]
        out_conditions[name] = {
            "sessions": len(sids),
            "participants": len(c["participants"]),
            "views": c["views"],
            "rankers": sorted({f["session"]["ranker"] for f in c["sessions"]}),
            "per_session": {m: mean_ci([p[m] for p in per_session if p[m] is not None], bounds=BOUNDS[m])
                            for m in METRICS},
            "pooled_views": {"watch_ratio": _f(pooled[0]), "skip_rate": _f(pooled[1]), "dwell_ms": _f(pooled[2]),
                             "n": pooled[3]},
            "skip_over_time": _mean_curves([f["skip_over_time"]["rate"] for f in c["sessions"]]),
            "exploration_share": _f(_safe_div(sum(f["exploration"]["exploration_picks"] for f in c["sessions"]),
                                              sum(f["exploration"]["picks"] for f in c["sessions"]))),
            "ranker_picks": sum(f["exploration"]["picks"] for f in c["sessions"]),
            "scripted_slots": sum(f["exploration"]["scripted"] for f in c["sessions"]),
            "questionnaire": _questionnaire_summary([f["questionnaire"] for f in c["sessions"]]),
        }
    return {
        "kind": "study",
        "study": study,
        "sessions": [{"id": f["session"]["id"], "participant": f["session"]["participant"],
                      "condition": f["session"]["condition"], "ranker": f["session"]["ranker"],
                      "views": f["summary"]["views"], "end_reason": f["session"]["end_reason"],
                      "continues": f["session"]["continues"], "continued_in": f["session"]["continued_in"],
                      **{m: _f(v) for m, v in _session_means(f).items()}} for f in sessions],
        "conditions": out_conditions,
        "interval": "Student-t 95% over per-session means (the session is the unit)",
        "study_files": sorted({f["session"]["assignment"].get("study_sha256") or "" for f in sessions} - {""}),
        "overridden": sum(1 for f in sessions if f["session"]["assignment"].get("overridden")),
        "consent_refused": len(refused),
        "practice_sessions": practice,
        "participants": sorted({f["session"]["participant"] for f in sessions}),
        "_session_figures": sessions,
    }


def _practice_sessions(conn: sqlite3.Connection, study: str) -> int:
    """Practice blocks of the study (mode practice; their ``practice`` event names the study): counted, never figured."""
    n = 0
    for (data,) in conn.execute("SELECT e.data FROM events e JOIN sessions s ON s.id = e.session_id "
                                "WHERE e.kind = 'practice' AND s.mode = 'practice'"):
        d = _loads_obj(data)
        n += isinstance(d, dict) and d.get("study") == study
    return n


def _questionnaire_summary(per_session: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Per item: answers given, and for Likert items the mean point with a 95 % interval over sessions;
    for choice items the count of each choice."""
    out: dict[str, Any] = {}
    for answers in per_session:
        for a in answers:
            e = out.setdefault(a["item"], {"question": a["question"], "type": a["type"], "answered": 0, "values": [],
                                           "counts": {}})
            if a["answer"] is None:
                continue
            e["answered"] += 1
            if a["type"] == "likert" and a["value"] is not None:
                e["values"].append(float(a["value"]))
            elif a["type"] == "choice":
                e["counts"][a["answer"]] = e["counts"].get(a["answer"], 0) + 1
    for e in out.values():
        e["likert"] = mean_ci(e.pop("values")) if e["type"] == "likert" else None
    return out


def _safe_div(a: float, b: float) -> float | None:
    return a / b if b else None


def _mean_curves(curves: list[list[float | None]]) -> list[float | None]:
    """Mean over sessions at each view index (sessions that are long enough)."""
    n = max((len(c) for c in curves), default=0)
    out = []
    for i in range(n):
        vals = [c[i] for c in curves if i < len(c) and c[i] is not None]
        out.append(_f(sum(vals) / len(vals)) if vals else None)
    return out


# -- SVG ------------------------------------------------------------------------------------------
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
W, H, ML, MR, MT, MB = 640, 260, 56, 130, 16, 40


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}".rstrip("0").rstrip(".")
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    out, v = [], start
    while v <= hi + step * 1e-9:
        if v >= lo - step * 1e-9:
            out.append(round(v, 10))
        v += step
    return out


def _frame(title: str, xlabel: str, ylabel: str, x0: float, x1: float, y0: float, y1: float,
           xticks: bool = True) -> tuple[list[str], Any, Any]:
    pw, ph = W - ML - MR, H - MT - MB
    if x1 <= x0:
        x1 = x0 + 1
    if y1 <= y0:
        y1 = y0 + 1

    def sx(x: float) -> float:
        return ML + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return MT + ph - (y - y0) / (y1 - y0) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="{html.escape(title)}" font-family="sans-serif" font-size="11">',
             f"<title>{html.escape(title)}</title>",
             f'<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>']
    for t in _ticks(y0, y1):
        y = sy(t)
        parts.append(f'<line x1="{ML}" y1="{y:.1f}" x2="{ML + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>'
                     f'<text x="{ML - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    for t in _ticks(x0, x1, 8) if xticks else []:
        x = sx(t)
        parts.append(f'<line x1="{x:.1f}" y1="{MT + ph}" x2="{x:.1f}" y2="{MT + ph + 4}" stroke="#666"/>'
                     f'<text x="{x:.1f}" y="{MT + ph + 15}" text-anchor="middle">{_fmt(t)}</text>')
    parts.append(f'<text x="{ML + pw / 2}" y="{H - 6}" text-anchor="middle">{html.escape(xlabel)}</text>')
    parts.append(f'<text x="12" y="{MT + ph / 2}" text-anchor="middle" transform="rotate(-90 12 {MT + ph / 2})">'
                 f"{html.escape(ylabel)}</text>")
    return parts, sx, sy


def svg_lines(title: str, series: dict[str, list[list[float]]], xlabel: str, ylabel: str,
              y_range: tuple[float, float] | None = None) -> str:
    pts = [p for s in series.values() for p in s if p[1] is not None]
    if not pts:
        return f'<p class="empty">{html.escape(title)}: no data</p>'
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = y_range or (min(0.0, min(p[1] for p in pts)), max(p[1] for p in pts))
    parts, sx, sy = _frame(title, xlabel, ylabel, x0, x1, y0, y1)
    for k, (name, s) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s if y is not None)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{path}">'
                     f"<title>{html.escape(name)}</title></polyline>")
        ly = MT + 12 + 15 * k
        parts.append(f'<rect x="{W - MR + 10}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{W - MR + 24}" y="{ly + 1}">{html.escape(name[:18])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_histogram(title: str, edges: Sequence[float], counts: Sequence[int], xlabel: str, overflow: bool = True) -> str:
    if not counts or sum(counts) == 0:
        return f'<p class="empty">{html.escape(title)}: no data</p>'
    parts, sx, sy = _frame(title, xlabel, "views", edges[0], edges[-1], 0, max(counts))
    for i, c in enumerate(counts):
        xa, xb = sx(edges[i]), sx(edges[i + 1])
        last = overflow and i == len(counts) - 1
        label = f"{_fmt(edges[i])}{'+' if last else '-' + _fmt(edges[i + 1])}: {c}"
        parts.append(f'<rect x="{xa + 0.5:.1f}" y="{sy(c):.1f}" width="{max(0.5, xb - xa - 1):.1f}" '
                     f'height="{sy(0) - sy(c):.1f}" fill="#4c78a8"><title>{label}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def svg_intervals(title: str, rows: list[tuple[str, float | None, float | None, float | None]], ylabel: str) -> str:
    """One dot per condition with its 95 % interval as a bar."""
    vals = [v for r in rows for v in r[1:] if v is not None]
    if not vals:
        return f'<p class="empty">{html.escape(title)}: no data</p>'
    lo, hi = min(0.0, min(vals)), max(vals) * 1.1 or 1.0
    parts, sx, sy = _frame(title, "condition", ylabel, -0.5, len(rows) - 0.5, lo, hi, xticks=False)
    for i, (name, mean, low, high) in enumerate(rows):
        x = sx(i)
        colour = PALETTE[i % len(PALETTE)]
        if low is not None and high is not None:
            parts.append(f'<line x1="{x:.1f}" y1="{sy(low):.1f}" x2="{x:.1f}" y2="{sy(high):.1f}" stroke="{colour}" '
                         f'stroke-width="2"/><line x1="{x - 8:.1f}" y1="{sy(low):.1f}" x2="{x + 8:.1f}" y2="{sy(low):.1f}" '
                         f'stroke="{colour}"/><line x1="{x - 8:.1f}" y1="{sy(high):.1f}" x2="{x + 8:.1f}" '
                         f'y2="{sy(high):.1f}" stroke="{colour}"/>')
        if mean is not None:
            parts.append(f'<circle cx="{x:.1f}" cy="{sy(mean):.1f}" r="4" fill="{colour}"><title>{html.escape(name)}: '
                         f"{_fmt(mean)}</title></circle>")
        parts.append(f'<text x="{x:.1f}" y="{H - MB + 15}" text-anchor="middle">{html.escape(name[:16])}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- HTML -----------------------------------------------------------------------------------------
CSS = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
.wide{max-width:100%;overflow-x:auto}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.note{color:#555;font-size:.9em}.empty{color:#999}figure{margin:0 0 1em}"""


def _num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _ci(stat: dict[str, Any], digits: int = 3) -> str:
    if stat["ci_low"] is None:
        return "– (needs 2+ values)"
    return f"{stat['ci_low']:.{digits}f} – {stat['ci_high']:.{digits}f}"


def _ms(v: Any) -> tuple[str, str]:
    """A duration in ms for reading: a whole number (right-aligned cell)."""
    return ("n", "–" if v is None else f"{round(float(v)):d}")


def _mean_ci(stat: dict[str, Any], digits: int = 3) -> tuple[str, str]:
    """One cell: the mean and, below it, its 95 % interval (no wide interval columns that wrap)."""
    if stat["mean"] is None:
        return ("n", "–")
    mean = f"{stat['mean']:.{digits}f}"
    if stat["ci_low"] is None:
        return ("n", f"{mean}<br><small>(n = {stat['n']})</small>")
    return ("n", f"{mean}<br><small>{stat['ci_low']:.{digits}f} – {stat['ci_high']:.{digits}f}</small>")


def _page(title: str, body: list[str], figures: dict[str, Any]) -> str:
    data = json.dumps(figures, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body)
            + f'\n<script type="application/json" id="figures">{data}</script></body></html>\n')


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    out = [f'<table class="{cls}"><tr>' + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for r in rows:
        cells = []
        for v in r:
            if isinstance(v, tuple) and v and v[0] == "raw":
                cells.append(f"<td>{v[1]}</td>")
            elif isinstance(v, tuple) and v and v[0] == "n":  # pre-formatted number (may hold <br><small>)
                cells.append(f'<td class="n">{v[1]}</td>')
            elif isinstance(v, (int, float)) or v is None:
                cells.append(f'<td class="n">{html.escape(_num(v))}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return '<div class="wide">' + "".join(out) + "</table></div>"


def _end(s: dict[str, Any]) -> str:
    """A session's end reason, with the crash continuation it belongs to (the Sessions table)."""
    links = [f"{words} {s[key][:8]}" for key, words in (("continues", "continues"), ("continued_in", "continued in"))
             if s.get(key)]
    return (s["end_reason"] or "running/interrupted") + (f" ({'; '.join(links)})" if links else "")


def render_session(fig: dict[str, Any]) -> str:
    s, sm = fig["session"], fig["summary"]
    title = f"Session {s['id'][:8]} — participant {s['participant'] or '–'}, condition {s['condition'] or '–'}"
    body = [f"<h1>{html.escape(title)}</h1>"]
    body.append(_table(["field", "value"], [
        ["study", s["study"] or "–"], ["participant", s["participant"]], ["condition", s["condition"]],
        ["ranker", s["ranker"]], ["ranker parameters", json.dumps(s["ranker_params"], sort_keys=True)],
        ["seed", s["seed"]], ["mode", s["mode"]], ["started (UTC)", s["started_utc"]],
        ["end reason", s["end_reason"] or "running/interrupted"],
        *[[label, f"{s[key]} (after the app stopped without ending it)"] for key, label in
          (("continues", "continues session"), ("continued_in", "continued in session")) if s.get(key)],
        ["length (s)", ("n", "–" if s["length_s"] is None else f"{s['length_s']:.1f}")],
        ["skip threshold (ms)", s["skip_threshold_ms"]], ["session id", s["id"]],
        *[[f"start dialog: {k}", v if isinstance(v, str) else json.dumps(v)] for k, v in s.get("fields", {}).items()],
    ], "meta"))
    body.append("<h2>Summary</h2>")
    body.append(_table(["figure", "n", "mean", "95% CI (t, views as independent)"], [
        [METRIC_LABELS[m], sm[m]["n"], _ms(sm[m]["mean"]) if m == "dwell_ms" else sm[m]["mean"],
         _ci(sm[m], 0 if m == "dwell_ms" else 3)] for m in METRICS
    ], "summary"))
    ex = fig["exploration"]
    body.append(f'<p>Impressions: {sm["impressions"]}; closed views: {sm["views"]}; likes: {sm["likes"]}. '
                f'Exploration share: <span id="exploration-share">{_num(ex["share"])}</span> '
                f'({ex["exploration_picks"]} of {ex["picks"]} ranker picks; the {ex["scripted"]} warm-up slots the '
                "study fixed and revisits are not ranker picks and are left out).</p>")
    p = fig["profile"]
    body.append("<h2>How the profile formed</h2>")
    body.append(svg_lines("Topic affinity after each view", p["series"], "after position", "affinity"))
    body.append(f'<p class="note">{p["snapshots"]} snapshots ({p["snapshots_unreadable"]} unreadable); '
                f"the {len(p['topics_shown'])} topics with the largest final affinity are drawn.</p>")
    h = fig["histograms"]
    body.append("<h2>Dwell and watch ratio</h2>")
    body.append(svg_histogram("Dwell per view", h["dwell_s"]["edges"], h["dwell_s"]["counts"], "dwell (s)"))
    body.append(svg_histogram("Watch ratio per view", h["watch_ratio"]["edges"], h["watch_ratio"]["counts"],
                              "watch ratio (last bin: 1.9 and above)"))
    so = fig["skip_over_time"]
    body.append("<h2>Skip rate over time</h2>")
    body.append(svg_lines(f"Skip rate, rolling over {so['window']} views",
                          {"skip rate": [[x, y] for x, y in zip(so["positions"], so["rate"])]},
                          "position", "skip rate", (0.0, 1.0)))
    body.append("<h2>Topics served against topics preferred</h2>")
    pref = fig["preferred_topics"]
    body.append(f"<p>Preferred topics (highest mean watch ratio among topics with at least "
                f"{fig['preferred_min_views']} closed views the ranker chose; warm-up clips and revisits do not count): "
                f"<b>{html.escape(', '.join(pref) or 'none yet: no topic has enough views')}</b>. "
                f"Share of impressions showing one: first half {_num(fig['preferred_share']['first_half'])}, "
                f"second half {_num(fig['preferred_share']['second_half'])}.</p>")
    body.append(_table(["topic", "served", "served share", "views", "ranker views", "mean watch ratio", "skip rate"], [
        [t, v["served"], v["served_share"], v["views"], v["ranker_views"], v["mean_watch_ratio"], v["skip_rate"]]
        for t, v in sorted(fig["topics"].items(), key=lambda kv: (-kv[1]["served"], kv[0]))
    ], "topics"))
    if fig.get("questionnaire"):
        body.append("<h2>Questionnaire</h2>")
        body.append(_table(["item", "question", "answer"], [
            [q["item"], q["question"], "– (left blank)" if q["answer"] is None else q["answer"]]
            for q in fig["questionnaire"]], "questionnaire"))
    body.append('<p class="note">Figures: closed views only. Meanings: docs/researchers.md and docs/data.md.</p>')
    return _page(title, body, fig)


def render_study(fig: dict[str, Any], session_files: dict[str, str]) -> str:
    title = f"Study {fig['study']}"
    body = [f"<h1>{html.escape(title)}</h1>"]
    conds = fig["conditions"]
    body.append("<h2>Conditions</h2>")
    rows = []
    for name, c in conds.items():
        ps = c["per_session"]
        rows.append([name, ", ".join(c["rankers"]), c["sessions"], c["participants"], c["views"],
                     _mean_ci(ps["watch_ratio"]), _mean_ci(ps["skip_rate"]), _mean_ci(ps["dwell_ms"], 0),
                     ("n", f"{_num(c['exploration_share'])}<br><small>of {c['ranker_picks']} ranker picks</small>")])
    body.append(_table(["condition", "ranker", "sessions", "participants", "views", "watch ratio (95% CI)",
                        "skip rate (95% CI)", "dwell ms (95% CI)", "exploration share"], rows, "conditions"))
    scripted = ", ".join(f"{n}: {c['scripted_slots']}" for n, c in conds.items())
    body.append(f'<p class="note">{html.escape(fig["interval"])}: each session contributes one mean; '
                "no interval with fewer than two sessions. Exploration share: exploration picks among the clips the "
                "ranker chose; the warm-up slots the study fixed "
                f"({html.escape(scripted)}) "
                "and revisits are left out. Practice blocks are separate sessions (mode practice) and are in no figure "
                f"here: {counted(fig['practice_sessions'], 'practice session')}. Consent refused: {fig['consent_refused']} "
                "(those sessions hold nothing else and are left out).</p>")
    files = fig["study_files"]
    body.append(f'<p class="note">Study file versions (sha256) in these sessions: '
                f'{html.escape(", ".join(f[:12] for f in files) or "not recorded")}'
                f'{" — the file changed during the study" if len(files) > 1 else ""}. '
                f'Conditions chosen by hand (overrides): {fig["overridden"]}.</p>')
    for m in METRICS:
        body.append(svg_intervals(METRIC_LABELS[m] + " per condition (95% CI)",
                                  [(n, c["per_session"][m]["mean"], c["per_session"][m]["ci_low"],
                                    c["per_session"][m]["ci_high"]) for n, c in conds.items()], METRIC_LABELS[m]))
    body.append(_table(["condition", "pooled views", "watch ratio", "skip rate", "dwell (ms)"], [
        [n, c["pooled_views"]["n"], c["pooled_views"]["watch_ratio"], c["pooled_views"]["skip_rate"],
         _ms(c["pooled_views"]["dwell_ms"])] for n, c in conds.items()], "pooled"))
    items = {}
    for n, c in conds.items():
        for item, q in c["questionnaire"].items():
            items.setdefault(item, {"question": q["question"], "type": q["type"]})[n] = q
    if items:
        body.append("<h2>Questionnaire</h2>")
        qrows = []
        for item, q in items.items():
            cells = []
            for n in conds:
                e = q.get(n)
                if e is None:
                    cells.append("–")
                elif e["likert"] is not None:
                    cells.append(_mean_ci(e["likert"], 2))
                elif e["counts"]:
                    cells.append(", ".join(f"{k}: {v}" for k, v in sorted(e["counts"].items())))
                else:
                    cells.append(f"{e['answered']} answer(s): see the session pages")
            qrows.append([item, q["question"], q["type"], *cells])
        body.append(_table(["item", "question", "type", *[f"{n}" for n in conds]], qrows, "questionnaire"))
        body.append('<p class="note">Likert items: mean point over sessions with its 95% interval; choice items: '
                    "how many sessions chose each answer; text answers are on the session pages.</p>")
    body.append("<h2>Skip rate over time</h2>")
    body.append(svg_lines(f"Skip rate (rolling {ROLLING_WINDOW} views), mean over sessions",
                          {n: [[i, y] for i, y in enumerate(c["skip_over_time"])] for n, c in conds.items()},
                          "view number", "skip rate", (0.0, 1.0)))
    body.append("<h2>Sessions</h2>")
    body.append(_table(["session", "participant", "condition", "ranker", "views", "watch ratio", "skip rate",
                        "dwell (ms)", "end"], [
        [("raw", f'<a href="{html.escape(session_files.get(s["id"], "#"))}">{html.escape(s["id"][:8])}</a>'),
         s["participant"], s["condition"], s["ranker"], s["views"], s["watch_ratio"], s["skip_rate"], _ms(s["dwell_ms"]),
         _end(s)] for s in fig["sessions"]], "sessions"))
    public = {k: v for k, v in fig.items() if not k.startswith("_")}
    return _page(title, body, public)


# -- files ----------------------------------------------------------------------------------------
def _safe_name(text: str) -> str:
    """A study's name as part of a file name: characters a file name cannot hold become ``-``; a name
    longer than 120 bytes (UTF-8) is cut there and gets a short hash of the whole name (file names
    may have 255 bytes)."""
    import hashlib

    keep = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text).strip("-.") or "study"
    short = keep.encode()[:120].decode("utf-8", "ignore")
    return keep if short == keep else f"{short}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def write_report(conn: sqlite3.Connection, out_dir: str | Path, *, session_id: str | None = None,
                 study: str | None = None) -> dict[str, Any]:
    """Write the pages; returns {"index": path of the main page, "files": [...], "figures": the main figures,
    "participants": {file: [participant ids it holds]}} (lab withdraw lists the files that hold someone)."""
    if (session_id is None) == (study is None):
        raise ReportError("give either a session or a study")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    holds: dict[Path, list[str]] = {}

    def session_page(fig: dict[str, Any]) -> Path:
        name = f"session-{fig['session']['id'][:8]}"
        (out / f"{name}.json").write_text(json.dumps(fig, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        path = out / f"{name}.html"
        path.write_text(render_session(fig), encoding="utf-8")
        files.extend([path, out / f"{name}.json"])
        holds[path] = holds[out / f"{name}.json"] = [fig["session"]["participant"]]
        return path

    if session_id is not None:
        fig = session_figures(conn, session_id)
        index = session_page(fig)
        return {"index": index, "files": files, "figures": fig, "participants": holds}
    assert study is not None
    fig = study_figures(conn, study)
    links = {f["session"]["id"]: session_page(f).name for f in fig["_session_figures"]}
    public = {k: v for k, v in fig.items() if not k.startswith("_")}
    name = f"study-{_safe_name(study)}"
    (out / f"{name}.json").write_text(json.dumps(public, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    index = out / f"{name}.html"
    index.write_text(render_study(fig, links), encoding="utf-8")
    files.extend([index, out / f"{name}.json"])
    holds[index] = holds[out / f"{name}.json"] = list(public["participants"])
    return {"index": index, "files": files, "figures": public, "participants": holds}
