"""``feedapp lab ...``: run, validate, assign, report, withdraw, export. CLI glue only.

``feedapp lab STUDY.toml [...]`` is ``feedapp lab run STUDY.toml [...]``: the lab's subcommand
parser (``_LabSubcommands``) takes a study file where a subcommand is expected.

Each ``run_*`` prints its result on stdout and problems on stderr, and returns the exit code:

- ``validate``: 0 the study and its catalog are usable (warnings allowed), 1 problems found,
  2 the file is unreadable (missing, not UTF-8, not TOML);
- the others: 0 done, 1 nothing matched / refused (withdraw without confirmation), 2 cannot run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from feedapp.lab.study import Problem, StudyError, check_catalog, check_plugins, load_study, ranker_specs
from feedapp.ranges import LAB_BLOCK, QUIT_AFTER, SEED


def _fail(message: str, code: int = 2) -> int:
    print(f"feedapp: {message}", file=sys.stderr)
    return code


def _not_ended_note(conn: sqlite3.Connection, ids: list[str], what: str) -> str | None:
    """A line naming the sessions among ``ids`` that have not ended (still running, or interrupted and not yet
    closed): a report or export made while a participant is still at it holds only what was written so far."""
    from feedapp.store.sessions import list_sessions

    wanted = set(ids)
    open_ = [r for r in list_sessions(conn) if r["id"] in wanted and not r["end_reason"]]
    if not open_:
        return None
    names = ", ".join(f"{r['short_id']} ({r['participant'] or '-'}, {r['status']})" for r in open_)
    one = len(open_) == 1
    return (f"note: {len(open_)} {'session' if one else 'sessions'} in this {what} {'has' if one else 'have'} not "
            f"ended: {names}; {what} holds only what was written so far (an interrupted session is closed, its last "
            f"view completed, at the next start of feedapp on this database); make the {what} again once "
            f"{'it has' if one else 'they have'} ended")


def _no_sessions(conn, db_path: str | Path, study: str | None, condition: str | None = None) -> int:  # noqa: ANN001
    """Exit code 1 with one line: nothing matches, and what the file holds instead."""
    from collections import Counter

    from feedapp.lab.data import session_ids, studies

    def listed(counts: dict[str, int]) -> str:
        return ", ".join(f"{name} ({n} session{'s' * (n != 1)})" for name, n in sorted(counts.items())) or "none"

    what = " ".join(["session"] + [f"of study {study!r}"] * bool(study) + [f"in condition {condition!r}"] * bool(condition))
    have = f"studies there: {listed(studies(conn))}"
    if condition:
        keep = set(session_ids(conn, study=study))
        conditions = Counter(c or "(none)" for sid, c in conn.execute("SELECT id, condition FROM sessions") if sid in keep)
        have = f"conditions{' of that study' if study else ''} there: {listed(conditions)}; {have}"
    return _fail(f"no {what if study or condition else 'lab session'} in {db_path} ({have})", 1)


def validate(path: str | Path, *, demo_dir: Path | None = None, cache: Any = None) -> tuple[int, dict]:
    """(exit code, result) where result = {"ok", "study", "problems": [...], "catalog": {...}}. ``cache``: a
    probe cache for the catalog's scan (``lab run`` passes its database's)."""
    path = Path(path)
    try:
        study = load_study(path)
    except StudyError as e:
        code = 2 if e.unreadable else 1
        return code, {"ok": False, "file": str(path), "unreadable": e.unreadable,
                      "problems": [_pdict(p) for p in e.problems]}
    text = path.read_text(encoding="utf-8")
    cat = check_catalog(study, text, demo_dir=demo_dir, cache=cache)
    problems = list(study.warnings) + cat.problems + check_plugins(study, text)  # plugins load and score
    errors = [p for p in problems if p.severity == "error"]
    _, rankers_from = ranker_specs()
    result = {
        "ok": not errors,
        "file": str(path),
        "unreadable": False,
        "study": study.name,
        "sha256": study.sha256,
        "conditions": {c.name: {"ranker": c.ranker, "params": dict(c.params), "warmup": list(c.warmup),
                                "warmup_ids": list(cat.resolved_warmups.get(c.name, ()))} for c in study.conditions},
        "counterbalance": {"method": study.method, "design": study.design, "seed": study.assignment_seed},
        "limits": {"minutes": study.limits.minutes, "views": study.limits.views},
        "catalog": {"name": study.catalog, "folder": str(cat.folder) if cat.folder else None, "clips": cat.clips,
                    "note": cat.note},
        "rankers_from": rankers_from,
        "problems": [_pdict(p) for p in problems],
    }
    return (0 if not errors else 1), result


def _pdict(p: Problem) -> dict:
    return {"line": p.line, "column": p.column, "field": p.field, "message": p.message, "severity": p.severity}


def run_validate_command(path: str | Path, as_json: bool = False, clips: Path | None = None) -> int:
    code, result = validate(path, demo_dir=clips)
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return code
    for p in result["problems"]:
        prob = Problem(p["field"], p["message"], p["line"], p["column"], p["severity"])
        print(prob.describe(str(path)), file=sys.stderr if p["severity"] == "error" else sys.stdout)
    if result.get("rankers_from", "feedapp.core.rankers.registry") != "feedapp.core.rankers.registry":
        print(f"note: ranker names checked against a {result['rankers_from']}; parameters were not checked")
    if code == 2:
        print(f"feedapp: {path} cannot be read as a study file", file=sys.stderr)
    elif code == 1:
        n = sum(1 for p in result["problems"] if p["severity"] == "error")
        print(f"{path}: {n} problem{'s' if n != 1 else ''} found; fix them before a participant sits down", file=sys.stderr)
    else:
        conds = ", ".join(f"{n} ({c['ranker']})" for n, c in result["conditions"].items())
        lim = result["limits"]
        limits = " and ".join(x for x in (f"{lim['minutes']:g} min" if lim["minutes"] else "",
                                           f"{lim['views']} views" if lim["views"] else "") if x) or "none"
        print(f"{path}: study {result['study']!r} is valid: conditions {conds}; "
              f"{result['counterbalance']['method']} ({result['counterbalance']['design']}); limits {limits}; "
              f"catalog {result['catalog']['name']} with {result['catalog']['clips']} clips in {result['catalog']['folder']}")
    return code


def run_assign_command(path: str | Path, participants: list[str], override: str | None = None, block: int = 0,
                       as_json: bool = False) -> int:
    """Print the condition and seed each participant gets (for planning, and what the dialog will show)."""
    try:
        study = load_study(path)
    except StudyError as e:
        print(str(e), file=sys.stderr)
        return 2 if e.unreadable else 1
    out, code = [], 0
    for pid in participants:
        try:
            a = study.assign(pid, override, block=block)
        except ValueError as e:
            print(f"feedapp: {pid}: {e}", file=sys.stderr)
            code = 1
            continue
        out.append({"participant": pid, "condition": a.condition.name, "ranker": a.condition.ranker, "seed": a.seed,
                    "block": a.block, "order": list(a.order), "overridden": a.overridden})
    if as_json:
        print(json.dumps(out, indent=2))
    else:
        for r in out:
            order = f"  order {' > '.join(r['order'])}" if r["order"] else ""
            print(f"{r['participant']}: {r['condition']} ({r['ranker']}), seed {r['seed']}{order}")
    return code


def run_report_command(db_path: str | Path, session: str | None, study: str | None, out_dir: str | Path) -> int:
    from feedapp.lab.data import studies
    from feedapp.lab.report import ReportError, write_report
    from feedapp.store.db import StoreError, explain_sqlite_error
    from feedapp.store.sessions import open_for_reading, resolve_session

    if (session is None) == (study is None):
        return _fail("give either --session ID or --study NAME")
    try:
        conn = open_for_reading(db_path)
        try:
            if session is not None:
                result = write_report(conn, out_dir, session_id=resolve_session(conn, session))
                ids = [result["figures"]["session"]["id"]]
            else:
                if study not in studies(conn):
                    return _no_sessions(conn, db_path, study)
                result = write_report(conn, out_dir, study=study)
                ids = [s["id"] for s in result["figures"]["sessions"]]
            not_ended = _not_ended_note(conn, ids, "report")
            removed = _remove_withdrawn_pages(conn, db_path, Path(out_dir), {Path(f).name for f in result["files"]})
        finally:
            conn.close()
    except (StoreError, ReportError) as e:
        return _fail(str(e))
    except sqlite3.DatabaseError as e:
        return _fail(f"{explain_sqlite_error(db_path, e)}; no report was written")
    except OSError as e:
        return _fail(f"cannot write the report to {out_dir}: {e.strerror or e}")
    from feedapp.lab import outputs

    outputs.record(db_path, "lab report", result["participants"], study=study)
    print(f"report written: {result['index']} ({len(result['files'])} files in {out_dir})")
    for line in removed:
        print(line)
    if not_ended:
        print(not_ended)
    return 0


def run_withdraw_command(db_path: str | Path, participant: str, yes: bool = False, study: str | None = None,
                         ask: Callable[[str], str] = input, delete_outputs: bool = False) -> int:
    from feedapp.lab import outputs
    from feedapp.lab.withdraw import NothingToWithdraw, WithdrawError, finish_pending, inspect, withdraw

    wal = Path(f"{db_path}-wal")
    had_wal = wal.exists() and wal.stat().st_size > 0  # e.g. a withdrawal a reader kept from finishing
    try:
        planned = inspect(db_path, participant, study)
    except NothingToWithdraw as e:  # exit code 1: nothing to delete (a retry after it was all done, or a wrong id)
        pending = finish_pending(db_path) if had_wal else None
        if pending:
            return _fail(f"{e}; {pending}")
        # rows withdrawn earlier without --delete-outputs, whose note says to run it again with it (not with
        # --study: the files may hold the participant's sessions of another study, still in the database)
        held = outputs.holding(db_path, participant) if delete_outputs and study is None else []
        if held:
            print(f"{e.base}: its rows were withdrawn earlier")
            _list_held(db_path, participant, held)
            refused = _confirm(f"Delete these {len(held)} file(s)? This cannot be undone [y/N] ", yes, ask)
            if refused is not None:
                return refused
            return 1 if _delete_held(db_path, participant, held) else 0
        if had_wal:  # checkpointed now: say so
            return _fail(f"{e.base}; its write-ahead log is now checkpointed, so rows deleted earlier (by an unfinished "
                         f"withdrawal) are overwritten in the file itself, and that withdrawal is complete{e.hint}", 1)
        # no -wal content: an earlier withdrawal (finished by a reader that checkpointed as it closed) is complete
        return _fail(e.done(), 1)
    except WithdrawError as e:
        return _fail(str(e))
    print(planned.describe())
    held = outputs.holding(db_path, participant, study)
    if held and delete_outputs:
        _list_held(db_path, participant, held, "and ")
    refused = _confirm(f"Delete these rows from {db_path}? This cannot be undone [y/N] ", yes, ask)
    if refused is not None:
        return refused
    try:
        done = withdraw(db_path, participant, study)
    except WithdrawError as e:
        return _fail(str(e))
    print(done.describe())
    if done.pending:
        return _fail(f"not finished: {done.pending}")
    if held and delete_outputs:
        problems = _delete_held(db_path, participant, held)
    elif held:
        print(f"note: {len(held)} report/export file(s) written from {db_path} still contain {participant}:")
        for path, command, utc in held:
            print(f"  {path}  ({command}, {utc})")
        print("  delete them, or run the withdrawal again with --delete-outputs (it deletes the files listed)")
    else:
        print(f"note: no report or export written from {db_path} by feedapp contains {participant}")
    print("note: copies of this file (backups *.bak, merged study files, other machines' feed.db) and files copied "
          "elsewhere still hold the participant; run the withdrawal on each of them")
    return 1 if held and delete_outputs and problems else 0


def _list_held(db_path: str | Path, participant: str, held: list[tuple[Path, str, str]], lead: str = "") -> None:
    print(f"{lead}delete {len(held)} file(s) written from {db_path} that contain {participant}:")
    for path, command, utc in held:
        print(f"  {path}  ({command}, {utc})")


def _confirm(question: str, yes: bool, ask: Callable[[str], str]) -> int | None:
    """None when the deletion may go ahead (``--yes``, or the researcher said yes); else the exit code."""
    if yes:
        return None
    if not sys.stdin.isatty() and ask is input:
        return _fail("nothing deleted: confirm with --yes (no terminal to ask)", 1)
    try:
        answer = ask(question)
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        print("nothing deleted")
        return 1
    return None


def _delete_held(db_path: str | Path, participant: str, held: list[tuple[Path, str, str]]) -> list[str]:
    """Delete the report/export files ``held`` lists (``outputs.holding``); the sentences of those that could not go."""
    from feedapp.lab import outputs

    problems = outputs.delete(db_path, [p for p, _, _ in held])
    for p in problems:
        print(f"feedapp: {p}", file=sys.stderr)
    print(f"deleted {len(held) - len(problems)} report/export file(s) that contained {participant}; "
          "make the study's report and export again without them")
    return problems


#: Bytes (UTF-8) kept of the participant and of the study in a participant file's name: with the date,
#: a hash and the extension it stays well under the 255 bytes a file name may have.
NAME_PART_BYTES = 80


def participant_file_name(participant: str, study: str, date: str, *, tagged: bool = False) -> str:
    """``{participant}_{study}_{YYYY-MM-DD}`` with characters a file name cannot hold replaced by ``-``.
    ``tagged``: the participant part ends with a short hash of the id and the study (``P-04-1a2b3c``),
    for ids whose plain names would be one file (``participant_file_names``); a part longer than
    ``NAME_PART_BYTES`` is cut there, and then tagged too."""
    def safe(text: str) -> str:
        return "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text).strip("-.") or "none"

    def cut(text: str) -> str:
        return text.encode()[:NAME_PART_BYTES].decode("utf-8", "ignore")

    who, what = safe(participant), safe(study)
    tagged = tagged or cut(who) != who or cut(what) != what
    tag = "-" + hashlib.sha256(f"{participant}\x1f{study}".encode()).hexdigest()[:6] if tagged else ""
    return f"{cut(who)}{tag}_{cut(what)}_{date}"


def participant_file_names(people: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """The file name of each (participant, study) given the date of its first session. Ids that clean to
    the same name (``P 04`` and ``P/04``), also when only their case differs (``P05`` and ``p05``: one
    file on a case-insensitive disk), are all tagged, so no participant's file overwrites another's."""
    plain = {key: participant_file_name(key[0], key[1], date) for key, date in people.items()}
    count = Counter(name.casefold() for name in plain.values())
    return {key: participant_file_name(key[0], key[1], people[key], tagged=True) if count[name.casefold()] > 1 else name
            for key, name in plain.items()}


def run_export_command(db_path: str | Path, out_dir: str | Path, study: str | None = None,
                       condition: str | None = None, fmt: str = "csv") -> int:
    """``feedapp.store.export.export`` restricted to the sessions of a study and/or condition, plus one
    ``view_log`` file per participant named ``{participant}_{study}_{date of their first session}``."""
    from feedapp.lab import outputs
    from feedapp.lab.data import session_ids, session_studies
    from feedapp.store.db import StoreError, explain_sqlite_error
    from feedapp.store.export import COLUMNS, ExportError, _Rows, export, unfinished_note, write_rows
    from feedapp.store.sessions import open_for_reading

    try:
        conn = open_for_reading(db_path)
        try:
            ids = session_ids(conn, study=study, condition=condition)
            names = session_studies(conn)
            if study is None:  # the lab sessions only: the app's demo and play sessions are `feedapp export`'s
                ids = [sid for sid in ids if names.get(sid)]
            if not ids:
                return _no_sessions(conn, db_path, study, condition)
            earlier = _earlier_participant_files(db_path, Path(out_dir), fmt)  # before export() replaces the manifest
            manifest = export(conn, out_dir, ids, fmt, source=str(db_path))
            unfinished = manifest.pop("unfinished_removed")  # (said below; not part of the manifest file)
            marks = ",".join("?" * len(ids))
            people: dict[tuple[str, str], list[str]] = {}
            for sid, part, started in conn.execute(
                    f"SELECT id, participant, started_utc FROM sessions WHERE id IN ({marks}) ORDER BY started_utc, id", ids):
                people.setdefault((part or "", names.get(sid, "")), []).append(sid)
            cols = [c for c in COLUMNS["view_log"] if c in {r[1] for r in conn.execute("PRAGMA table_info(view_log)")}]
            out = Path(out_dir)
            written: list[tuple[Path, Path]] = []
            per_person: dict[str, dict] = {}
            dates = {}
            for key, sids in people.items():
                first = conn.execute("SELECT MIN(started_utc) FROM sessions WHERE id IN (%s)" % ",".join("?" * len(sids)),
                                     sids).fetchone()[0] or ""
                dates[key] = first[:10] or "undated"
            file_names = participant_file_names(dates)
            for (part, st), sids in people.items():
                name = file_names[(part, st)]
                rows = conn.execute(f"SELECT {', '.join(cols)} FROM view_log WHERE session_id IN "
                                    f"({','.join('?' * len(sids))}) ORDER BY session_id, position", sids).fetchall()
                per_person[name] = {**write_rows(out, name, fmt, cols, _Rows(rows), written, "view_log"),
                                    "participant": part}
            for tmp, final in written:
                os.replace(tmp, final)
            not_ended = _not_ended_note(conn, ids, "export")
        finally:
            conn.close()
    except (StoreError, ExportError) as e:
        return _fail(str(e))
    except sqlite3.DatabaseError as e:
        return _fail(f"{explain_sqlite_error(db_path, e)}; nothing was exported")
    everyone = sorted({p for p, _ in people})
    files: dict[str | Path, list[str]] = {Path(out_dir) / f["file"]: everyone for f in manifest["files"].values()}
    files[Path(out_dir) / "manifest.json"] = everyone
    files.update({Path(out_dir) / f["file"]: [f["participant"]] for f in per_person.values()})
    manifest["participant_files"] = {f["file"]: f["participant"] for f in per_person.values()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    removed = _remove_stale(out, earlier, {p.name for p in files})
    outputs.record(db_path, "lab export", files, study=study)
    print(f"exported {len(ids)} session{'s' if len(ids) != 1 else ''} (study={study or 'any'}, condition={condition or 'any'}) to {out_dir}:")
    for f in manifest["files"].values():
        print(f"  {f['file']:<32} {f['rows']:>9} row{'s' * (f['rows'] != 1)}")
    print(f"  one view_log file per participant ({len(per_person)}): participant_study_date.{fmt}")
    for f in per_person.values():
        print(f"  {f['file']:<32} {f['rows']:>9} row{'s' * (f['rows'] != 1)}")
    for line in removed:
        print(line)
    if unfinished_note(unfinished):
        print(unfinished_note(unfinished))
    if not_ended:
        print(not_ended)
    return 0


def _earlier_participant_files(db_path: str | Path, out: Path, fmt: str) -> dict[str, str]:
    """File name -> participant of the per-participant files an earlier ``lab export`` wrote into ``out``
    in this format: from the folder's ``manifest.json`` and from the database's list of outputs."""
    from feedapp.lab import outputs
    from feedapp.store import codebook

    found: dict[str, str] = {}
    try:
        old = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = {}
    if isinstance(old, dict) and isinstance(old.get("participant_files"), dict):
        found.update({str(k): str(v) for k, v in old["participant_files"].items() if str(k).endswith(f".{fmt}")})
    here = out.absolute()
    for path, parts in outputs.written_by(db_path, "lab export"):
        if (path.parent == here and path.suffix == f".{fmt}" and len(parts) == 1
                and path.stem not in codebook.CODEBOOK):  # a participant's file, not a table's
            found.setdefault(path.name, parts[0])
    return found


#: The names ``participant_file_names`` gives: ``{participant}_{study}_{YYYY-MM-DD or undated}.{format}``.
_PARTICIPANT_FILE = re.compile(r"[^_/\\]+_[^_/\\]+_(\d{4}-\d{2}-\d{2}|undated)\.(csv|jsonl|parquet)")


#: The session pages ``lab report`` writes: ``session-{first 8 characters of the id}.html`` and ``.json``.
_SESSION_PAGE = re.compile(r"session-([0-9a-f]{8})\.(html|json)")


def _remove_withdrawn_pages(conn: sqlite3.Connection, db_path: str | Path, out: Path, now: set[str]) -> list[str]:
    """Delete the session pages an earlier ``lab report`` from this database wrote into ``out`` whose
    session is no longer in it (withdrawn): reporting again into the folder after ``lab withdraw`` left
    the withdrawn participant's pages beside the new ones. Pages of sessions still in the database (another
    study's, say) and files feedapp did not write there stay."""
    from feedapp.lab import outputs

    here, lines, seen = out.absolute(), [], set()
    for path, parts in outputs.written_by(db_path, "lab report"):
        m = _SESSION_PAGE.fullmatch(path.name)
        if m is None or path.parent != here or path.name in now or path in seen or not path.is_file():
            continue
        seen.add(path)
        if conn.execute("SELECT 1 FROM sessions WHERE substr(id, 1, 8) = ?", [m[1]]).fetchone():
            continue
        lines.append(_remove_file(path, ", ".join(parts) or "?", f"its session is no longer in {db_path} (withdrawn)",
                                  f"is the page of a session no longer in {db_path}", "sharing the folder"))
    return lines


def _remove_file(path: Path, who: str, why: str, what: str, before: str) -> str:
    """Delete ``path`` (a file that holds ``who``) and say so; or say it could not be deleted, and why."""
    try:
        path.unlink()
    except OSError as e:
        return f"note: {path} ({who}) {what} and could not be deleted: {e.strerror or e}; delete it before {before}"
    return f"removed {path.name} ({who}): {why}"


def _remove_stale(out: Path, earlier: dict[str, str], now: set[str]) -> list[str]:
    """Delete the per-participant files of an earlier export to ``out`` that this one did not write (a
    withdrawn participant, another condition): the folder holds one export, as its manifest says. A name
    that is one of the files written now under another spelling (``P01_Pilot_...`` and ``P01_pilot_...``
    on a case-insensitive disk, a link) is kept: removing it would remove the new file."""
    lines = []
    written = set()
    for name in now:
        try:
            st = (out / name).stat()
        except OSError:
            continue
        written.add((st.st_dev, st.st_ino))
    for name, participant in sorted(earlier.items()):
        path = out / name
        if (name in now or Path(name).name != name or "\\" in name or not _PARTICIPANT_FILE.fullmatch(name)
                or not path.is_file()):
            continue  # (a name edited into the manifest that no participant file has, e.g. notes.csv, stays)
        st = path.stat()
        if (st.st_dev, st.st_ino) in written:
            continue
        lines.append(_remove_file(path, participant, "written here by an earlier export, not by this one",
                                  "is from an earlier export, not this one", "analysing the folder"))
    return lines


LAB_COMMANDS = ("run", "validate", "assign", "report", "withdraw", "export")


class _AnyName(Mapping):
    """The subcommand table as argparse checks it: says yes to any name, so that a study file can stand
    where a subcommand is (``_LabSubcommands.__call__`` then decides)."""

    def __init__(self, table: dict) -> None:
        self.table = table

    def __getitem__(self, key: str) -> object:
        return self.table[key]

    def __iter__(self):  # noqa: ANN204
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, key: object) -> bool:
        return True


class _LabSubcommands(argparse._SubParsersAction):  # noqa: SLF001 - argparse has no public hook for this
    """``feedapp lab STUDY.toml ...`` -> ``feedapp lab run STUDY.toml ...``; an unknown word that is not a
    study file is still refused with the list of subcommands."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.choices = _AnyName(self._name_parser_map)

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        name = values[0]
        if name not in self._name_parser_map:
            if name.endswith(".toml") or Path(name).is_file():
                values = ["run", *values]
            else:
                import difflib

                close = difflib.get_close_matches(name, LAB_COMMANDS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise argparse.ArgumentError(
                    self, f"{name!r} is neither a lab command ({', '.join(LAB_COMMANDS)}) nor a study file (.toml){hint}")
        super().__call__(parser, namespace, values, option_string)


def add_lab_parser(sub) -> None:  # noqa: ANN001 - argparse's subparsers action
    """Add ``feedapp lab`` and its subcommands to the CLI's subparsers (cli.py calls this)."""
    lab = sub.add_parser(
        "lab",
        help="lab studies: run a session (feedapp lab STUDY.toml), validate, assign, report, withdraw, export",
        description="Tools for UX researchers running lab sessions. Guide: docs/researchers.md.",
    )
    labsub = lab.add_subparsers(dest="lab_command", metavar="LABCOMMAND", action=_LabSubcommands)
    run = labsub.add_parser(
        "run", help="run a participant's session: `feedapp lab STUDY.toml` (start dialog, kiosk, limits)",
        description="Open the start dialog (participant id, the condition the study assigns, an optional override "
        "and seed), then the instructions, the practice block, the feed until a limit, and the end screen. "
        "`feedapp lab STUDY.toml` is the same as `feedapp lab run STUDY.toml`. Guide: docs/researchers.md.",
    )
    run.add_argument("study", type=Path, metavar="STUDY.toml")
    run.add_argument("--participant", "-p", default=None, metavar="ID", help="participant id (fills the start dialog)")
    run.add_argument("--condition", default=None, metavar="NAME",
                     help="override the counterbalanced condition (recorded as an override)")
    run.add_argument("--seed", type=SEED.arg, default=None,
                     help="feed seed, 0 .. 2^63-1 (default: derived from study and participant)")
    run.add_argument("--yes", "-y", action="store_true",
                     help="no start dialog: start with --participant at once (also confirms a participant who "
                     "already has a session, and closes an interrupted session as recovered)")
    run.add_argument("--kiosk", action="store_true",
                     help="fullscreen, no way out for the participant; the experimenter leaves with the hotkey and PIN")
    run.add_argument("--pin", default=None, help="the experimenter's PIN for kiosk mode (or env FEEDAPP_LAB_PIN)")
    run.add_argument("--hotkey", default="Ctrl+Shift+O",
                     help="the experimenter's hotkey: one key with Ctrl, Alt or Meta, e.g. Ctrl+Shift+O (the default)")
    run.add_argument("--db", type=Path, default=None, help="SQLite log (default: data/feed.db in a checkout, else in your user data folder; FEEDAPP_DATA overrides)")
    run.add_argument("--clips", type=Path, default=None, metavar="DIR",
                     help="the folder of clips to play instead of the study's catalog (for catalog = \"demo\": where "
                     "the demo clips are, made there if missing); `lab validate --clips DIR` checks the same folder")
    run.add_argument("--mute", action="store_true", help="start with sound off")
    run.add_argument("--field", action="append", default=None, metavar="NAME=VALUE",
                     help="a value for one of the study's start-dialog fields ([[fields]]); repeat for each")
    run.add_argument("--quit-after", type=QUIT_AFTER.arg, default=None, help=argparse.SUPPRESS)
    run.add_argument("--screenshot", type=Path, default=None, help=argparse.SUPPRESS)
    v = labsub.add_parser(
        "validate", help="check a study file and its catalog before a participant sits down",
        description="Check STUDY.toml (every problem with its line and field) and the catalog it names (missing "
        "folder, clips that will not play, warm-up clips that do not exist). Exit code 0 valid, 1 problems "
        "found, 2 the file cannot be read.",
    )
    v.add_argument("study", type=Path, metavar="STUDY.toml")
    v.add_argument("--clips", type=Path, default=None, metavar="DIR",
                   help="the folder of clips `lab run --clips DIR` will play (default: the study's catalog / clips)")
    v.add_argument("--json", action="store_true", help="print JSON instead of text")
    a = labsub.add_parser(
        "assign", help="show the condition and seed each participant gets",
        description="Print, for each participant id, the condition (counterbalanced as the study file says) "
        "and the feed seed of their session: what the start dialog will choose.",
    )
    a.add_argument("study", type=Path, metavar="STUDY.toml")
    a.add_argument("participants", nargs="+", metavar="PARTICIPANT")
    a.add_argument("--condition", default=None, help="override the counterbalanced condition")
    a.add_argument("--block", type=LAB_BLOCK.arg, default=0, help="within-subjects: which session (0, 1, ...)")
    a.add_argument("--json", action="store_true", help="print JSON instead of text")
    r = labsub.add_parser(
        "report", help="write an HTML report of a session or of a study",
        description="Write self-contained HTML pages (charts as inline SVG, opens offline) with the figures "
        "beside them as JSON: one page per session and, with --study, one page comparing the conditions.",
    )
    r.add_argument("--db", type=Path, default=None, help="SQLite log (default: data/feed.db in a checkout, else in your user data folder; FEEDAPP_DATA overrides)")
    which = r.add_mutually_exclusive_group(required=True)
    which.add_argument("--session", metavar="ID", default=None, help="one session (a unique id prefix is enough)")
    which.add_argument("--study", metavar="NAME", default=None, help="every session of the study named NAME")
    r.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created if needed)")
    w = labsub.add_parser(
        "withdraw", help="delete every row of a participant",
        description="Delete the participant's sessions with their impressions, views, events and profile "
        "snapshots (clips stay), print the rows deleted per table, and leave the log consistent. Asks "
        "for confirmation unless --yes is given.",
    )
    w.add_argument("participant", metavar="PARTICIPANT")
    w.add_argument("--db", type=Path, default=None, help="SQLite log (default: data/feed.db in a checkout, else in your user data folder; FEEDAPP_DATA overrides)")
    w.add_argument("--study", metavar="NAME", default=None, help="only the participant's sessions of this study")
    w.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    w.add_argument("--delete-outputs", action="store_true",
                   help="also delete the reports and exports written from this database that contain the participant")
    e = labsub.add_parser(
        "export", help="export the sessions of a study and/or condition",
        description="Like `feedapp export` (every table, affinities in long format, codebook.csv), restricted to the "
        "sessions of a study and/or a condition, plus one view_log file per participant named "
        "PARTICIPANT_STUDY_YYYY-MM-DD (the date of their first session).",
    )
    e.add_argument("--db", type=Path, default=None, help="SQLite log (default: data/feed.db in a checkout, else in your user data folder; FEEDAPP_DATA overrides)")
    e.add_argument("--study", metavar="NAME", default=None, help="only sessions of this study")
    e.add_argument("--condition", metavar="NAME", default=None, help="only sessions of this condition")
    e.add_argument("--format", choices=("csv", "jsonl", "parquet"), default="csv",
                   help="file format (default: csv; parquet needs pyarrow, the optional extra feedapp[parquet])")
    e.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created if needed)")
    lab.set_defaults(lab_parser=lab)


def run_lab_command(args, run_session: Callable[[argparse.Namespace], int] | None = None) -> int:  # noqa: ANN001
    """Dispatch ``feedapp lab SUB ...`` (the argparse layout: docs/researchers.md / the lead's cli.py).

    ``run_session`` runs ``feedapp lab [run] STUDY.toml`` (``feedapp.ui.lab.run_lab_args``): the
    CLI passes it, because this package may not import the Qt shell (import contracts in pyproject.toml).
    """
    db = getattr(args, "db", None)
    if db is None and args.lab_command in ("report", "withdraw", "export"):
        from feedapp.config import default_data_dir

        db = default_data_dir() / "feed.db"
    if args.lab_command == "run":
        if db is not None:  # like demo, play and merge -o: a mistyped --db never makes folders
            from feedapp.store.db import StoreError, check_parent_exists

            try:
                check_parent_exists(db, "--db")
            except StoreError as e:
                return _fail(str(e))
        if run_session is None:
            return _fail("`feedapp lab run` needs the player; start it with the feedapp command")
        return run_session(args)
    if args.lab_command == "validate":
        return run_validate_command(args.study, as_json=args.json, clips=args.clips)
    if args.lab_command == "assign":
        return run_assign_command(args.study, args.participants, args.condition, args.block, as_json=args.json)
    if args.lab_command == "report":
        return run_report_command(db, args.session, args.study, args.out)
    if args.lab_command == "withdraw":
        return run_withdraw_command(db, args.participant, yes=args.yes, study=args.study,
                                    delete_outputs=args.delete_outputs)
    if args.lab_command == "export":
        return run_export_command(db, args.out, args.study, args.condition, args.format)
    if getattr(args, "lab_parser", None) is not None:
        args.lab_parser.print_help(sys.stderr)
    return _fail("choose a lab command (run, validate, assign, report, withdraw, export) or give a study file: "
                 "feedapp lab STUDY.toml")
