"""Time `feedapp export` and `feedapp check` against naive baselines, in the same run.

    .venv/bin/python benchmarks/export_check.py [--keep] [--dir /tmp/feedapp-bench]

Builds (with bulk inserts, same columns as the app writes; every invariant holds):
  - a database with one 10,000-view session (plus two other sessions) -> export it to CSV and JSONL;
  - a database of 100,000 views (100 sessions x 1,000) -> check it; merge it into an empty study file.

Baselines (what one writes without thinking about it):
  - export: sqlite-utils rows as dicts -> csv.DictWriter row by row, and the view_log built with one
    query per impression (N+1);
  - check: every row fetched into Python, invariants tested row by row with dict lookups.
Targets (issue 3): a 10,000-view session to CSV in <= 2 s; 100,000 views checked in <= 5 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlite_utils  # noqa: E402

from feedapp.store.check import check  # noqa: E402
from feedapp.store.export import COLUMNS, export  # noqa: E402
from feedapp.store.merge import merge  # noqa: E402
from feedapp.store.sessions import open_for_reading  # noqa: E402
from tests.store.test_check import bulk_log  # noqa: E402


def naive_export(db_path: Path, session_id: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(db_path)
    for table in ("sessions", "impressions", "views", "events", "profile_snapshots"):
        key = "id" if table == "sessions" else "session_id"
        with open(out / f"{table}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS[table])
            w.writeheader()
            for row in db[table].rows_where(f"{key} = ?", [session_id]):
                w.writerow(row)
    with open(out / "view_log.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS["view_log"])
        w.writeheader()
        s = next(db["sessions"].rows_where("id = ?", [session_id]))
        for imp in db["impressions"].rows_where("session_id = ?", [session_id], order_by="position"):
            clip = next(db["clips"].rows_where("key = ?", [imp["clip_key"]]), {})  # the version it showed
            view = next(db["views"].rows_where("impression_id = ?", [imp["id"]]), {})
            row = {**{k: clip.get(k) for k in ("title", "creator", "topics", "duration_ms")}, **view, **imp,
                   "participant": s["participant"], "condition": s["condition"], "ranker": s["ranker"],
                   "impression_id": imp["id"]}
            w.writerow({k: row.get(k) for k in COLUMNS["view_log"]})
    db.conn.close()


def naive_check(db_path: Path, tol: float = 5.0) -> int:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    sessions = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM sessions")}
    clips = {r["key"]: dict(r) for r in conn.execute("SELECT * FROM clips")}  # clip versions (schema 4)
    imps = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM impressions")}
    bad = 0
    positions: dict[str, list[int]] = {}
    for i in imps.values():
        bad += i["session_id"] not in sessions or i["clip_key"] not in clips
        positions.setdefault(i["session_id"], []).append(i["position"])
    for sid, ps in positions.items():
        bad += sorted(ps) != list(range(len(ps)))
    dwell_sum: dict[str, float] = {}
    for v in conn.execute("SELECT * FROM views"):
        i = imps.get(v["impression_id"])
        s = sessions.get(v["session_id"])
        if i is None or s is None:
            bad += 1
            continue
        buckets = v["play_ms"] + v["paused_ms"] + v["unfocused_ms"] + v["stalled_ms"]
        bad += abs(buckets - v["dwell_ms"]) > tol
        bad += min(v["dwell_ms"], v["play_ms"], v["paused_ms"], v["unfocused_ms"], v["stalled_ms"]) < 0
        dur = max(1, clips[i["clip_key"]]["duration_ms"])
        bad += abs(v["watch_ratio"] * dur - v["play_ms"]) > tol
        bad += v["skipped"] != (v["play_ms"] < s["skip_threshold_ms"])
        dwell_sum[v["session_id"]] = dwell_sum.get(v["session_id"], 0.0) + v["dwell_ms"]
    for sid, d in dwell_sum.items():
        s = sessions[sid]
        if s["ended_mono_ns"] is not None:
            bad += d > (s["ended_mono_ns"] - s["started_mono_ns"]) / 1e6 + tol
    for e in conn.execute("SELECT session_id, impression_id FROM events"):
        bad += e["session_id"] not in sessions or (e["impression_id"] is not None and e["impression_id"] not in imps)
    conn.close()
    return bad


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    result = fn(*args, **kw)
    return time.perf_counter() - t0, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/feedapp-bench-export-check"))
    ap.add_argument("--keep", action="store_true", help="keep the databases and exports")
    args = ap.parse_args()
    work = args.dir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"feedapp export/check benchmark in {work} (cpus: {os.cpu_count()}, load: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())})")

    one = work / "session10k.db"
    t, counts = timed(bulk_log, one, n_sessions=3, views_per_session=10_000, events_per_view=3)
    print(f"\nbuilt {one.name}: {counts} in {t:.1f} s ({one.stat().st_size / 1e6:.0f} MB)")
    conn = open_for_reading(one)
    sid = conn.execute("SELECT id FROM sessions ORDER BY started_utc LIMIT 1 OFFSET 1").fetchone()[0]
    results = {}
    for fmt in ("csv", "jsonl"):
        runs = [timed(export, conn, work / f"out-{fmt}", [sid], fmt)[0] for _ in range(3)]
        results[fmt] = min(runs)
    conn.close()
    t_naive, _ = timed(naive_export, one, sid, work / "out-naive")
    print("export one 10,000-view session (7 files: 10k impressions/views/snapshots/view_log, 30k events):")
    print(f"  feedapp export --format csv    {results['csv']:6.2f} s   (best of 3)   target <= 2 s: "
          f"{'met' if results['csv'] <= 2 else 'NOT MET'}")
    print(f"  feedapp export --format jsonl  {results['jsonl']:6.2f} s   (best of 3)")
    print(f"  baseline: DictWriter + N+1     {t_naive:6.2f} s   ({t_naive / results['csv']:.1f}x slower than csv)")

    big = work / "views100k.db"
    t, counts = timed(bulk_log, big, n_sessions=100, views_per_session=1_000)
    print(f"\nbuilt {big.name}: {counts} in {t:.1f} s ({big.stat().st_size / 1e6:.0f} MB)")
    conn = open_for_reading(big)
    t_first, res = timed(check, conn)
    runs = [timed(check, conn)[0] for _ in range(2)]
    conn.close()
    assert res["ok"], res["counts"]
    t_naive, bad = timed(naive_check, big)
    assert bad == 0
    print("check 100,000 views (22 rules):")
    print(f"  feedapp check (first run)      {t_first:6.2f} s   target <= 5 s: {'met' if t_first <= 5 else 'NOT MET'}")
    print(f"  feedapp check (warm, best of 2){min(runs):6.2f} s")
    print(f"  baseline: Python row loop      {t_naive:6.2f} s   (covers 12 of the 22 rules)")

    study = work / "study.db"
    t_merge, reports = timed(merge, [big], study)
    t_again, again = timed(merge, [big], study)
    added = sum(reports[0]["added"].values())
    print(f"\nmerge {big.name} into an empty study file: {added} rows in {t_merge:.2f} s; "
          f"again: {sum(again[0]['added'].values())} rows added in {t_again:.2f} s")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"export_csv_s": round(results["csv"], 3), "export_jsonl_s": round(results["jsonl"], 3),
                      "check_first_s": round(t_first, 3), "check_warm_s": round(min(runs), 3),
                      "merge_s": round(t_merge, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
