"""The data commands of the CLI: ``sessions``, ``export``, ``merge`` and ``check``.

Each ``run_*_command`` prints its result on stdout, problems as one ``feedapp: ...`` line on stderr,
and returns the exit code: 0 done, 1 ``check`` found violations, 2 the command could not run
(including a damaged file: SQLite errors are reported in words by ``explain_sqlite_error``).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

from feedapp.store.check import check, report_json, report_text
from feedapp.store.db import StoreError, explain_sqlite_error
from feedapp.store.export import FORMATS, ExportError, export, unfinished_note
from feedapp.store.merge import MERGE_TABLES, merge
from feedapp.store.sessions import format_table, list_sessions, open_for_reading, resolve_session


def _fail(message: str) -> int:
    print(f"feedapp: {message}", file=sys.stderr)
    return 2


def run_sessions_command(db_path: str | Path, as_json: bool = False) -> int:
    try:
        conn = open_for_reading(db_path)
        try:
            rows = list_sessions(conn)
        finally:
            conn.close()
    except StoreError as e:
        return _fail(str(e))
    except sqlite3.DatabaseError as e:
        return _fail(str(explain_sqlite_error(db_path, e)))
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:
        print(f"no sessions in {db_path} yet")
    else:
        print(format_table(rows))
    return 0


def run_export_command(
    db_path: str | Path, session_id: str | None, all: bool, fmt: str, out_dir: str | Path  # noqa: A002
) -> int:
    """Export one session (``session_id``: a unique prefix is enough) or, with ``all`` or neither, all."""
    if session_id and all:
        return _fail("give either --session ID or --all, not both")
    if fmt not in FORMATS:
        return _fail(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    t0 = time.perf_counter()
    try:
        conn = open_for_reading(db_path)
        try:
            if session_id:
                ids: list[str] | None = [resolve_session(conn, session_id)]
            else:
                if conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0:
                    raise StoreError(f"{db_path} holds no sessions yet; nothing to export")
                ids = None
            manifest = export(conn, out_dir, ids, fmt, source=str(db_path))
        finally:
            conn.close()
    except (StoreError, ExportError) as e:
        return _fail(str(e))
    except sqlite3.DatabaseError as e:
        return _fail(f"{explain_sqlite_error(db_path, e)}; nothing was exported")
    n = len(manifest["sessions"])
    what = f"session {manifest['sessions'][0]}" if session_id else f"{n} session{'s' if n != 1 else ''}"
    print(f"exported {what} to {out_dir} ({fmt}) in {time.perf_counter() - t0:.2f} s:")
    for name, f in manifest["files"].items():
        print(f"  {f['file']:<24} {f['rows']:>9} row{'s' * (f['rows'] != 1)}")
    print("  manifest.json            (what was exported, column order, conventions)")
    note = unfinished_note(manifest["unfinished_removed"])
    if note:
        print(note)
    return 0


def run_merge_command(inputs: list[str | Path], out: str | Path) -> int:
    try:
        reports = merge(list(inputs), out)
    except StoreError as e:
        return _fail(str(e))
    totals = {t: 0 for t in MERGE_TABLES}
    for r in reports:
        parts = ", ".join(f"{n} {t}" for t, n in r["added"].items())
        print(f"{r['source']}: added {parts}")
        for t, n in r["added"].items():
            totals[t] += n
        if r["conflicts"]:
            what = ", ".join(f"{n} {t}" for t, n in r["conflicts"].items())
            print(
                f"feedapp: warning: {r['source']}: {what} were not copied: {out} already has rows with the same key "
                "(or session position) and different content, and keeps them (merge the newest copy of a file first)",
                file=sys.stderr,
            )
        if r["skipped_tables"]:
            print(f"  ({r['source']} has no {', '.join(r['skipped_tables'])}: schema {r['schema_version']})")
    print(f"{out}: {sum(totals.values())} rows added in total (" + ", ".join(f"{n} {t}" for t, n in totals.items()) + ")")
    return 0


def run_check_command(db_path: str | Path, as_json: bool = False) -> int:
    try:
        conn = open_for_reading(db_path)
        try:
            result = check(conn, source=str(db_path))
        finally:
            conn.close()
    except StoreError as e:
        return _fail(str(e))
    except sqlite3.DatabaseError as e:
        return _fail(str(explain_sqlite_error(db_path, e)))
    if as_json:
        print(json.dumps(report_json(result), indent=2, ensure_ascii=False))
    else:
        print(report_text(result))
    return 0 if result["ok"] else 1
