"""Export the research log to tidy files: one per entity plus the joined ``view_log``.

Files (in ``out_dir``): sessions, clips, impressions, views, events, profile_snapshots,
questionnaire, view_log, affinities (profile snapshots in long format), each ``.csv``, ``.jsonl`` or
``.parquet``; ``codebook.csv`` (table, column, type, unit, meaning of every column written:
feedapp/store/codebook.py, the source of docs/data.md's tables too) and ``manifest.json`` (what was
exported, from where, row counts and column order). Conventions (docs/data.md, "Exported files"):

- UTF-8 without a byte-order mark; CSV with a header row, ``,`` separator, ``"`` quoting when needed
  and ``\\n`` line ends; JSONL one object per line.
- Columns in the order of ``COLUMNS`` (the schema's order); a column added by a later migration is
  appended after them.
- Times: ``*_utc`` are ISO 8601 UTC strings (``2026-11-28T08:10:30.123+00:00``); ``*_mono_ns`` are
  integers on the recording machine's monotonic clock (only differences within a session mean
  something); durations are milliseconds.
- Booleans (is_revisit, served_again, exploration, scripted, skipped, liked, not_interested, final) are 0/1.
- NULL is an empty field in CSV and ``null`` in JSONL.
- JSON columns (``JSON_COLUMNS``) stay JSON text in CSV and are objects/arrays in JSONL.

All tables are read in one read transaction, so the files agree with each other even while the app
is writing to the same database.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from feedapp import __version__
from feedapp.store import codebook
from feedapp.store.db import SCHEMA_VERSION

FORMATS = ("csv", "jsonl", "parquet")  # parquet needs the optional extra: pip install "feedapp[parquet]"

#: Column order of each file: the codebook's (feedapp/store/codebook.py, also docs/data.md).
COLUMNS: dict[str, tuple[str, ...]] = {
    name: codebook.columns(name)
    for name in ("sessions", "clips", "impressions", "views", "events", "profile_snapshots", "questionnaire", "view_log")
}

JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "sessions": ("ranker_params", "fields"),
    "clips": ("topics", "features"),
    "events": ("data",),
    "profile_snapshots": ("profile",),
    "view_log": ("topics",),
}

# FROM/WHERE/ORDER of each file; {sel} is replaced by the session filter (or TRUE for --all).
_QUERIES: dict[str, str] = {
    "sessions": "FROM sessions t WHERE {sel:t.id} ORDER BY t.started_utc, t.id",
    "clips": "FROM clips t WHERE {clips} ORDER BY t.id, t.rowid",
    "impressions": "FROM impressions t WHERE {sel:t.session_id} ORDER BY t.session_id, t.position",
    "views": "FROM views t LEFT JOIN impressions i ON i.id = t.impression_id WHERE {sel:t.session_id} "
             "ORDER BY t.session_id, i.position, t.impression_id",
    "events": "FROM events t WHERE {sel:t.session_id} ORDER BY t.session_id, t.mono_ns, t.rowid",  # rowid: write order
    "profile_snapshots": "FROM profile_snapshots t WHERE {sel:t.session_id} ORDER BY t.session_id, t.after_position",
    "questionnaire": "FROM questionnaire t WHERE {sel:t.session_id} ORDER BY t.session_id, t.position",
    "view_log": "FROM view_log t WHERE {sel:t.session_id} ORDER BY t.session_id, t.position",
}

ENTITIES = tuple(_QUERIES)


class ExportError(RuntimeError):
    """The export cannot be done; the message says why in plain words."""


def _columns(conn: sqlite3.Connection, name: str) -> list[str]:
    present = [r[1] for r in conn.execute(f"PRAGMA table_info({name})")]
    documented = [c for c in COLUMNS[name] if c in present]
    return documented + [c for c in present if c not in COLUMNS[name]]


def _select(name: str, cols: list[str], session_ids: list[str] | None) -> tuple[str, list[Any]]:
    q = _QUERIES[name]
    params: list[Any] = []
    if session_ids is None:
        q = q.replace("{clips}", "1")
        for col in ("t.id", "t.session_id"):
            q = q.replace("{sel:" + col + "}", "1")
    else:
        if len(session_ids) == 1:
            cond = "= ?"
            value: Any = session_ids[0]
        else:
            cond = "IN (SELECT value FROM json_each(?))"
            value = json.dumps(session_ids)
        if "{clips}" in q:
            # the clip versions the sessions showed (schema 4), or the clips by id in older files
            k, ik = ("t.key", "clip_key") if "key" in cols else ("t.id", "clip_id")
            q = q.replace("{clips}", f"{k} IN (SELECT {ik} FROM impressions WHERE session_id {cond})")
            params.append(value)
        for col in ("t.id", "t.session_id"):
            if "{sel:" + col + "}" in q:
                q = q.replace("{sel:" + col + "}", f"{col} {cond}")
                params.append(value)
    return "SELECT " + ", ".join(f't."{c}"' for c in cols) + " " + q, params


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text  # not JSON after all: keep the text rather than lose it


def _write_csv(path: Path, cols: list[str], rows: Any) -> int:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        n = 0
        while True:
            chunk = rows.fetchmany(5000)
            if not chunk:
                break
            w.writerows(chunk)
            n += len(chunk)
    return n


def _write_jsonl(path: Path, cols: list[str], rows: Any, json_cols: tuple[str, ...]) -> int:
    idx = [cols.index(c) for c in json_cols if c in cols]
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        while True:
            chunk = rows.fetchmany(5000)
            if not chunk:
                break
            lines = []
            for row in chunk:
                values = list(row)
                for i in idx:
                    values[i] = _loads(values[i])
                lines.append(dumps(dict(zip(cols, values))))
            f.write("\n".join(lines))
            f.write("\n")
            n += len(chunk)
    return n


def _write_parquet(path: Path, cols: list[str], rows: Any) -> int:
    """One Parquet file (pyarrow, column types inferred from the values; JSON columns stay text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data: dict[str, list[Any]] = {c: [] for c in cols}
    n = 0
    while True:
        chunk = rows.fetchmany(5000)
        if not chunk:
            break
        for row in chunk:
            for c, v in zip(cols, row):
                data[c].append(v)
        n += len(chunk)
    table = pa.table({c: pa.array(v) for c, v in data.items()})
    pq.write_table(table, path)
    return n


def _require_parquet() -> None:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ExportError(
            'Parquet export needs pyarrow, an optional extra: .venv/bin/pip install "feedapp[parquet]" '
            "(or use --format csv or jsonl)"
        ) from None


class _Rows:
    """A cursor-like wrapper (``fetchmany``) around an iterator of rows."""

    def __init__(self, rows: Any) -> None:
        self._it = iter(rows)

    def fetchmany(self, n: int) -> list[tuple[Any, ...]]:
        out = []
        for row in self._it:
            out.append(tuple(row))
            if len(out) >= n:
                break
        return out


def affinity_rows(snapshots: Any) -> Any:
    """(session_id, after_position, topic, affinity) for each topic of each snapshot (long format),
    from rows (session_id, after_position, profile JSON). Snapshots without readable topics give none."""
    for sid, pos, profile in snapshots:
        try:
            data = json.loads(profile or "{}")
        except ValueError:
            continue
        topics = data.get("topics") if isinstance(data, dict) else None
        if not isinstance(topics, dict):
            continue
        for topic, value in sorted(topics.items()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                yield sid, pos, str(topic), float(value)


def write_rows(out: Path, name: str, fmt: str, cols: list[str], rows: Any, written: list[tuple[Path, Path]],
               table: str | None = None) -> dict:
    """Write ``rows`` (a cursor) as ``out/name.fmt`` beside its final name (renamed by the caller);
    ``table``: whose JSON columns the rows have, when the file is named otherwise (a participant's view_log)."""
    final = out / f"{name}.{fmt}"
    tmp = out / f".{name}.{fmt}.part"
    try:
        if fmt == "csv":
            n = _write_csv(tmp, cols, rows)
        elif fmt == "parquet":
            n = _write_parquet(tmp, cols, rows)
        else:
            n = _write_jsonl(tmp, cols, rows, JSON_COLUMNS.get(table or name, ()))
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {final}: {e.strerror or e}") from e
    except BaseException:  # e.g. a damaged database: no half-written .part file stays behind
        tmp.unlink(missing_ok=True)
        raise
    written.append((tmp, final))
    return {"file": final.name, "rows": n, "columns": cols}


def write_codebook(out: Path, names: list[str], written: list[tuple[Path, Path]]) -> dict:
    """``codebook.csv``: table, column, type, unit, meaning of every column of the files in ``names``
    (always CSV: it is for reading and for typing the other files)."""
    rows = codebook.rows([n for n in names if n in codebook.CODEBOOK])
    return write_rows(out, "codebook", "csv", list(codebook.HEADER), _Rows(rows), written)


#: The hidden name ``write_rows`` writes a file under before renaming it into place.
_UNFINISHED = re.compile(r"^\..+\.(" + "|".join(re.escape(f) for f in FORMATS) + r")\.part$")


def remove_unfinished(out: Path) -> list[str]:
    """Delete the hidden ``.NAME.FORMAT.part`` files that an export stopped mid-way (``kill -9``, a power
    cut) left in ``out``: they hold rows of the sessions it was exporting, a withdrawn participant's too,
    under names nobody looks at and ``lab withdraw`` cannot list. Returns the names deleted."""
    removed = []
    for p in sorted(out.iterdir()):
        if _UNFINISHED.match(p.name) and p.is_file():
            try:
                p.unlink()
            except OSError as e:
                raise ExportError(f"cannot delete {p}, left by an export that was stopped: {e.strerror or e}") from e
            removed.append(p.name)
    return removed


def unfinished_note(removed: list[str]) -> str | None:
    """The line an export command prints for ``remove_unfinished``'s names (None when there were none)."""
    if not removed:
        return None
    return (f"  removed {len(removed)} unfinished file(s) an earlier export left when it was stopped: "
            + ", ".join(removed))


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` if needed and make sure files can be written in it (ExportError otherwise)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:
        raise ExportError(f"cannot export to {out}: it exists and is not a folder") from e
    except OSError as e:
        raise ExportError(f"cannot create the output folder {out}: {e.strerror or e}") from e
    probe = out / f".feedapp-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ExportError(f"cannot write files in {out}: {e.strerror or e}; choose another folder with --out") from e
    return out


def export(
    conn: sqlite3.Connection,
    out_dir: str | Path,
    session_ids: list[str] | None = None,
    fmt: str = "csv",
    *,
    source: str = "",
) -> dict[str, Any]:
    """Write one file per entity for ``session_ids`` (None: every session and every clip).

    Returns the manifest (also written as ``manifest.json``): files with row counts and columns,
    and (not in the file) ``unfinished_removed``: what ``remove_unfinished`` deleted first. Each file
    is written beside its final name and renamed into place, so a failed export never leaves a
    half-written file under the final name.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        _require_parquet()
    out = prepare_out_dir(out_dir)
    removed = remove_unfinished(out)
    t0 = time.perf_counter()
    files: dict[str, Any] = {}
    written: list[tuple[Path, Path]] = []
    conn.execute("BEGIN")  # one read snapshot for every file
    try:
        if session_ids is None:
            exported = [r[0] for r in conn.execute("SELECT id FROM sessions ORDER BY started_utc, id")]
        else:
            exported = list(session_ids)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        for name in ENTITIES:
            if name not in tables:  # a file from before the table existed (questionnaire: schema 6)
                continue
            cols = _columns(conn, name)
            sql, params = _select(name, cols, session_ids)
            files[name] = write_rows(out, name, fmt, cols, conn.execute(sql, params), written)
        sql, params = _select("profile_snapshots", ["session_id", "after_position", "profile"], session_ids)
        files["affinities"] = write_rows(out, "affinities", fmt, list(codebook.columns("affinities")),
                                         _Rows(affinity_rows(conn.execute(sql, params))), written)
        files["codebook"] = write_codebook(out, [n for n in files], written)
    except BaseException:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        conn.execute("COMMIT")
    for tmp, final in written:
        os.replace(tmp, final)
    manifest = {
        "feedapp_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "exported_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "format": fmt,
        "sessions": exported,
        "scope": "all" if session_ids is None else "sessions",
        "conventions": {
            "encoding": "utf-8",
            "booleans": "0/1",
            "null": "empty field" if fmt == "csv" else "null",
            "json_columns_in_parquet": "text" if fmt == "parquet" else None,
            "times": "*_utc ISO 8601 UTC; *_mono_ns integer nanoseconds on the recording machine's monotonic clock",
            "durations": "milliseconds",
            "json_columns": {k: list(v) for k, v in JSON_COLUMNS.items()},
        },
        "files": files,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {**manifest, "unfinished_removed": removed}
