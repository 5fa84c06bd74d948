"""`feedapp export`: tidy CSV/JSONL files that round-trip the log, on real files."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path

import pytest

from feedapp.store.commands import run_export_command
from feedapp.store.db import open_db
from feedapp.store.export import COLUMNS, ENTITIES, ExportError, export
from feedapp.store.sessions import open_for_reading
from tests.store.test_check import bulk_log
from tests.store.test_sessions import write_log

TABLES = ("sessions", "clips", "impressions", "views", "events", "profile_snapshots")


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "feed.db"
    recs = write_log(path, [
        dict(n_views=10, participant="P01", condition="A", end="quit"),
        dict(n_views=5, participant="P02", condition="B", end=None, utc_shift_s=3600),
    ])
    return path, [r.id for r in recs]


def _read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _db_rows(path, table, where="", params=()):
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute(f"SELECT * FROM {table} {where}", params)]
    conn.close()
    return rows


def _as_csv_text(v):
    return "" if v is None else str(v)


def test_columns_match_the_schema():
    db = open_db(memory=True)
    for name in ENTITIES:
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({name})")]
        assert tuple(cols) == COLUMNS[name], f"{name}: update COLUMNS and docs/data.md"


def test_csv_of_one_session_by_prefix_round_trips(log, tmp_path, capsys):
    path, ids = log
    sid = ids[0]
    out = tmp_path / "out"
    assert run_export_command(path, sid[:6], False, "csv", out) == 0
    stdout = capsys.readouterr().out
    assert f"exported session {sid}" in stdout and "views.csv" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.csv" for n in ENTITIES] + ["affinities.csv", "codebook.csv", "manifest.json"])
    for table in TABLES:
        rows = _read_csv(out / f"{table}.csv")
        key = "id" if table == "sessions" else "session_id"
        if table == "clips":
            expected = _db_rows(path, "clips", "WHERE id IN (SELECT clip_id FROM impressions WHERE session_id = ?) ORDER BY id", [sid])
        else:
            expected = _db_rows(path, table, f"WHERE {key} = ?", [sid])
        assert len(rows) == len(expected) > 0, table
        with open(out / f"{table}.csv", encoding="utf-8") as f:
            assert f.readline().rstrip("\n").split(",") == list(COLUMNS[table])
        # every value survives: text as is, numbers in Python's repr, NULL as an empty field
        by_key = {tuple(r[c] for c in COLUMNS[table][:2]): r for r in rows}
        for e in expected:
            got = by_key[tuple(_as_csv_text(e[c]) for c in COLUMNS[table][:2])]
            assert got == {k: _as_csv_text(v) for k, v in e.items()}, table
    views = _read_csv(out / "views.csv")
    assert all(v["session_id"] == sid for v in views) and {v["final"] for v in views} == {"1"}
    assert {v["skipped"] for v in views} == {"0", "1"}  # booleans as 0/1
    positions = [int(r["position"]) for r in _read_csv(out / "impressions.csv")]
    assert positions == list(range(10))
    vl = _read_csv(out / "view_log.csv")
    assert [int(r["position"]) for r in vl] == list(range(10)) and {r["participant"] for r in vl} == {"P01"}
    assert len(_read_csv(out / "clips.csv")) == 4
    # JSON columns stay JSON text in CSV; awkward text (comma, quotes, newline, accents) survives
    clips = {c["id"]: c for c in _read_csv(out / "clips.csv")}
    assert json.loads(clips["c-cook-1"]["topics"]) == ["cooking", "food"]
    assert clips["c-cook-1"]["title"] == "Crêpes\nat home" and clips["c-cats-1"]["title"] == 'Cat, "the" first'
    notes = [e for e in _read_csv(out / "events.csv") if e["kind"] == "note"]
    assert notes and json.loads(notes[0]["data"]) == {"text": 'café ✓, "quoted"'}
    s = _read_csv(out / "sessions.csv")[0]
    assert s["end_reason"] == "quit" and s["started_utc"].endswith("+00:00") and "T" in s["started_utc"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sessions"] == [sid] and manifest["files"]["views"]["rows"] == 10
    assert manifest["files"]["views"]["columns"] == list(COLUMNS["views"]) and manifest["conventions"]["booleans"] == "0/1"


def test_the_hidden_files_of_an_export_that_was_killed_are_deleted_by_the_next_one(log, tmp_path, capsys):
    # kill -9 during an export left '.views.csv.part' and the like in the folder: rows of every session exported,
    # a withdrawn participant's too, under hidden names nobody looks at and lab withdraw cannot list; a later
    # export in another format left them there for good
    path, _ = log
    out = tmp_path / "x"
    out.mkdir()
    left = [".views.csv.part", ".sessions.csv.part", ".P01_pilot_2026-11-30.csv.part", ".events.parquet.part"]
    for name in left:
        (out / name).write_text("id,session_id\nrow of a participant\n", encoding="utf-8")
    others = ["notes.csv.part", ".views.csv", ".thesis.docx.part", "draft.part"]  # not files an export leaves
    for name in others:
        (out / name).write_text("keep", encoding="utf-8")
    assert run_export_command(path, None, True, "jsonl", out) == 0
    said = capsys.readouterr().out
    assert f"removed {len(left)} unfinished file(s) an earlier export left when it was stopped: " in said
    assert all(name in said for name in left) and not any((out / name).exists() for name in left)
    assert all((out / name).read_text(encoding="utf-8") == "keep" for name in others)
    assert "unfinished_removed" not in json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert run_export_command(path, None, True, "jsonl", out) == 0
    assert "unfinished" not in capsys.readouterr().out


def test_jsonl_of_all_sessions(log, tmp_path):
    path, ids = log
    out = tmp_path / "j"
    assert run_export_command(path, None, True, "jsonl", out) == 0
    for table in TABLES:
        rows = _read_jsonl(out / f"{table}.jsonl")
        assert len(rows) == len(_db_rows(path, table)), table
        for r in rows:
            assert list(r) == list(COLUMNS[table])
    sessions = _read_jsonl(out / "sessions.jsonl")
    assert {s["id"] for s in sessions} == set(ids)
    assert sessions[0]["ranker_params"] == {"eps": 0.1}  # JSON columns are objects in JSONL
    open_one = next(s for s in sessions if s["id"] == ids[1])
    assert open_one["end_reason"] is None and open_one["ended_utc"] is None  # NULL -> null
    clips = _read_jsonl(out / "clips.jsonl")
    assert all(isinstance(c["topics"], list) for c in clips)
    events = _read_jsonl(out / "events.jsonl")
    assert all(isinstance(e["data"], dict) for e in events)
    assert any(e["data"].get("text") == 'café ✓, "quoted"' for e in events)
    assert "café" in (out / "events.jsonl").read_text(encoding="utf-8")  # UTF-8, not \\u escapes
    snaps = _read_jsonl(out / "profile_snapshots.jsonl")
    assert all(isinstance(p["profile"]["topics"], dict) for p in snaps)
    vl = _read_jsonl(out / "view_log.jsonl")
    assert len(vl) == 15 and isinstance(vl[0]["topics"], list)
    assert sum(1 for r in vl if r["final"] == 0) == 1  # the open session's checkpointed view
    assert [(r["session_id"], r["position"]) for r in vl] == sorted((r["session_id"], r["position"]) for r in vl)


def test_parquet_of_all_sessions_matches_the_database(log, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet is an optional extra (feedapp[parquet])")
    path, ids = log
    out = tmp_path / "p"
    assert run_export_command(path, None, True, "parquet", out) == 0
    for table in TABLES:
        t = pq.read_table(out / f"{table}.parquet")
        assert t.column_names == list(COLUMNS[table]), table
        assert t.num_rows == len(_db_rows(path, table)), table
    views = pq.read_table(out / "views.parquet").to_pylist()
    con = sqlite3.connect(path)
    expected = {r[0]: r[1] for r in con.execute("SELECT impression_id, dwell_ms FROM views")}
    con.close()
    assert {v["impression_id"]: v["dwell_ms"] for v in views} == expected
    assert {s["id"] for s in pq.read_table(out / "sessions.parquet").to_pylist()} == set(ids)


def test_export_of_a_session_only_takes_its_clips(tmp_path):
    from tests.store.test_sessions import CLIPS

    path = tmp_path / "feed.db"
    recs = write_log(path, [dict(n_views=3, clips=CLIPS[:2]), dict(n_views=3, clips=CLIPS[2:])])
    conn = open_for_reading(path)
    manifest = export(conn, tmp_path / "o", [recs[1].id], "csv")
    conn.close()
    assert {c["id"] for c in _read_csv(tmp_path / "o" / "clips.csv")} == {c.id for c in CLIPS[2:]}
    assert manifest["files"]["sessions"]["rows"] == 1 and manifest["files"]["impressions"]["rows"] == 3


def test_errors_are_clear(log, tmp_path, capsys):
    path, ids = log
    assert run_export_command(path, "zzzz", False, "csv", tmp_path / "o") == 2
    assert "no session id starts with 'zzzz'" in capsys.readouterr().err
    assert run_export_command(path, ids[0][:6], True, "csv", tmp_path / "o") == 2
    assert "not both" in capsys.readouterr().err
    assert run_export_command(path, None, True, "xlsx", tmp_path / "o") == 2
    assert "unknown format" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    open_db(empty).conn.close()
    assert run_export_command(empty, None, True, "csv", tmp_path / "o") == 2
    assert "no sessions" in capsys.readouterr().err
    assert run_export_command(empty, "ab", False, "csv", tmp_path / "o") == 2
    assert "no sessions" in capsys.readouterr().err
    assert run_export_command(tmp_path / "missing.db", None, True, "csv", tmp_path / "o") == 2
    assert "no database at" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert run_export_command(path, None, True, "csv", blocker) == 2
    assert "not a folder" in capsys.readouterr().err
    assert run_export_command(path, None, True, "csv", blocker / "sub") == 2
    assert "cannot create the output folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_read_only_output_folder(log, tmp_path, capsys):
    path, _ = log
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
    elif os.path.isdir("/sys/kernel"):
        ro = Path("/sys/kernel")  # root may write anywhere but to sysfs
    else:
        pytest.skip("running as root without sysfs: no folder is read-only")
    try:
        assert run_export_command(path, None, True, "csv", ro) == 2
        err = capsys.readouterr().err
        assert "cannot write files in" in err and "choose another folder with --out" in err
    finally:
        if os.geteuid() != 0:
            ro.chmod(0o700)


def test_an_unknown_format_writes_nothing(log, tmp_path):
    path, _ = log
    out = tmp_path / "o"
    conn = open_for_reading(path)
    with pytest.raises(ExportError):
        export(conn, out, None, "xlsx")
    conn.close()
    assert not out.exists() or not any(out.iterdir())


def test_export_sees_one_snapshot_while_the_app_writes(tmp_path):
    """Rows committed by another connection during the export do not tear the files apart."""
    from feedapp.store.log import EventLog
    from tests.store.test_sessions import record_session

    path = tmp_path / "feed.db"
    write_log(path, [dict(n_views=4)])
    conn = open_for_reading(path)
    conn.execute("BEGIN")
    conn.execute("SELECT COUNT(*) FROM sessions").fetchone()  # a reader holds a snapshot...
    log = EventLog(path)
    record_session(log, n_views=3)  # ...while the app writes a new session (WAL: no waiting)
    assert log.close()
    conn.execute("COMMIT")
    manifest = export(conn, tmp_path / "o", None, "csv")
    conn.close()
    assert manifest["files"]["sessions"]["rows"] == 2 and manifest["files"]["views"]["rows"] == 7


def test_a_long_session_is_exported_whole_to_csv(tmp_path):
    """The export's speed (a 10k-view session within 2 s) is measured by benchmarks/export_check.py;
    here only that one long session among others is exported whole, its rows and nothing else."""
    path = tmp_path / "big.db"
    bulk_log(path, n_sessions=3, views_per_session=2_000, events_per_view=3)
    conn = open_for_reading(path)
    sid = conn.execute("SELECT id FROM sessions ORDER BY started_utc LIMIT 1 OFFSET 1").fetchone()[0]
    manifest = export(conn, tmp_path / "o", [sid], "csv")
    conn.close()
    assert manifest["files"]["views"]["rows"] == 2_000 and manifest["files"]["events"]["rows"] == 6_000
    assert len(_read_csv(tmp_path / "o" / "view_log.csv")) == 2_000


DOCS = Path(__file__).resolve().parents[2] / "docs" / "data.md"


def _documented_columns() -> dict[str, list[str]]:
    """Column names listed in the table under each ``### `name` `` heading of docs/data.md."""
    found: dict[str, list[str]] = {}
    current = None
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.startswith("### `"):
            current = line.split("`")[1]
            found[current] = []
        elif line.startswith("## "):
            current = None
        elif current and line.startswith("| `"):
            found[current].append(line.split("`")[1])
    return found


def test_docs_describe_every_column_in_order():
    documented = _documented_columns()
    for name in ENTITIES:
        assert documented.get(name) == list(COLUMNS[name]), f"docs/data.md, table {name}"


def test_docs_example_queries_run(log):
    import re

    path, _ = log
    queries = re.findall(r"```sql\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(queries) >= 4
    conn = open_for_reading(path)
    results = [conn.execute(q).fetchall() for q in queries]
    conn.close()
    assert all(results), "every example query returns rows on a real log"
    by_condition = {r[0]: r for r in results[0]}
    assert set(by_condition) == {"A", "B"} and 0 <= by_condition["A"][2] <= 1
    assert {r[0] for r in results[1]} == {"cats", "cooking", "food", "sport"}
