"""What the lab tools wrote from a database: so a withdrawal can say which files still hold a participant.

``lab report`` and ``lab export`` append one line per run to ``<database>.outputs.jsonl`` (beside the
database file): ``{"utc", "command", "files": {absolute path: [participant ids in it]}, "study"}``
(``study`` only for a run given ``--study``). ``lab
withdraw`` reads it (``holding``) to list the files that exist and still contain the participant,
and with ``--delete-outputs`` deletes them (``delete``) and drops them from the list.

Files made by hand, copied elsewhere or written from another database file are not known here;
the withdrawal note says so.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path


def registry_path(db_path: str | Path) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".outputs.jsonl")


def record(db_path: str | Path, command: str, files: dict[str | Path, list[str]], study: str | None = None) -> None:
    """Add one run of ``command`` with the participants each written file holds (best effort: a
    registry that cannot be written is said once, the files themselves are fine). ``study``: the files
    hold that study's sessions only (``--study``)."""
    entry = {"utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": command,
             "files": {str(Path(f).absolute()): sorted(set(p for p in parts if p)) for f, parts in files.items()}}
    if study is not None:
        entry["study"] = study
    try:
        with open(registry_path(db_path), "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
    except OSError as e:
        print(f"feedapp: cannot note the files written in {registry_path(db_path)} ({e.strerror or e}); "
              "a later withdrawal will not list them", flush=True)


def _entries(db_path: str | Path) -> list[dict]:
    try:
        text = registry_path(db_path).read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and isinstance(e.get("files"), dict):
            out.append(e)
    return out


def written_by(db_path: str | Path, command: str) -> list[tuple[Path, list[str]]]:
    """(path, participants) of every file ``command`` wrote from this database (existing or not)."""
    return [(Path(f), list(parts)) for e in _entries(db_path) if e.get("command") == command
            for f, parts in e["files"].items() if isinstance(parts, list)]


def holding(db_path: str | Path, participant: str, study: str | None = None) -> list[tuple[Path, str, str]]:
    """(path, command, utc) of every file written from this database that exists and holds ``participant``:
    as its latest writing left it (an export of another condition into the same folder rewrote
    ``views.csv`` without the participant, so that file no longer holds them). With ``study``, a file
    written for another study (``--study``) is not one: it holds none of this study's sessions."""
    last: dict[Path, tuple[list, str, str, object]] = {}
    for e in _entries(db_path):  # (in the order they were written)
        for f, parts in e["files"].items():
            last[Path(f)] = (parts if isinstance(parts, list) else [], str(e.get("command", "")), str(e.get("utc", "")),
                             e.get("study"))
    return [(p, c, u) for p, (parts, c, u, of) in sorted(last.items())
            if participant in parts and (study is None or of is None or of == study) and p.exists()]


def delete(db_path: str | Path, paths: list[Path]) -> list[str]:
    """Delete ``paths`` and drop them from the registry; returns a sentence per file that could not go."""
    problems = []
    gone = set()
    for p in paths:
        try:
            p.unlink(missing_ok=True)
            gone.add(str(p))
        except OSError as e:
            problems.append(f"cannot delete {p}: {e.strerror or e}")
    entries = _entries(db_path)
    for e in entries:
        e["files"] = {f: parts for f, parts in e["files"].items() if f not in gone}
    reg = registry_path(db_path)
    if reg.exists():
        tmp = reg.with_name(reg.name + ".part")
        tmp.write_text("".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries if e["files"]),
                       encoding="utf-8")
        os.replace(tmp, reg)
    return problems
