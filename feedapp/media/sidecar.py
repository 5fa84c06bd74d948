"""The optional sidecar: ``catalog.json`` or ``catalog.csv`` in a clip folder, giving each file its metadata.

Researchers prepare stimulus sets in spreadsheets, so CSV is as welcome as JSON. Paths are relative
to the folder. Every field is optional except the file: missing ones fall back to the folder-name
rules in ``scan.py``. Errors name the sidecar, the line or entry, and what to fix.

JSON: a list of objects (or {"clips": [...]}) with keys ``file`` (required), ``id``, ``title``,
``topics`` (list, or a string separated by ``;`` or ``,``), ``creator``, ``created`` (ISO date).
CSV: a header row with the same column names; ``topics`` separated by ``;`` (or ``,`` when quoted).
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from feedapp.config import ConfigError

SIDECAR_NAMES = ("catalog.json", "catalog.csv")


class SidecarError(ConfigError):
    """The sidecar cannot be read; the message names the file, the place and the fix."""


@dataclass(frozen=True)
class SidecarEntry:
    file: str  # relative POSIX path, as written in the sidecar (normalised)
    id: str | None = None
    title: str | None = None
    topics: tuple[str, ...] | None = None
    creator: str | None = None
    created: str | None = None


def clean_topic(topic: str) -> str:
    """Topics are compared as lower-case words without a leading '#'."""
    return topic.strip().lstrip("#").strip().lower()


def clean_creator(creator: str) -> str:
    return creator.strip().lstrip("@").strip()


def _topics(value: Any) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    items = value if isinstance(value, list) else re.split(r"[;,]", str(value))
    topics = tuple(t for t in (clean_topic(str(x)) for x in items) if t)
    return topics or None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def norm_relative(value: str) -> str:
    """One spelling per path: '/' separators, no leading './', Unicode NFC (macOS stores 'é' decomposed)."""
    text = unicodedata.normalize("NFC", value.replace("\\", "/"))
    while text.startswith("./"):
        text = text[2:]
    return str(PurePosixPath(text))


def _entry(raw: dict[str, Any], where: str, sidecar: Path) -> SidecarEntry:
    file = _text(raw.get("file") or raw.get("path"))
    if not file:
        raise SidecarError(f"{sidecar}: {where} has no 'file' (the clip's path relative to the folder); add it or remove the entry")
    creator = _text(raw.get("creator"))
    return SidecarEntry(
        file=norm_relative(file),
        id=_text(raw.get("id")),
        title=_text(raw.get("title")),
        topics=_topics(raw.get("topics", raw.get("topic"))),
        creator=clean_creator(creator) if creator else None,
        created=_text(raw.get("created")),
    )


def find_sidecar(folder: Path) -> Path | None:
    for name in SIDECAR_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def load_sidecar(folder: Path) -> dict[str, SidecarEntry]:
    """Entries keyed by relative POSIX path; {} when the folder has no sidecar."""
    path = find_sidecar(folder)
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SidecarError(f"{path} is not UTF-8 text; save it as UTF-8 (in a spreadsheet: 'CSV UTF-8')") from None
    except OSError as e:
        raise SidecarError(f"{path} cannot be read ({e.strerror}); check its permissions") from None
    entries: list[SidecarEntry] = []
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SidecarError(f"{path} is not valid JSON (line {e.lineno}: {e.msg}); fix it or remove the file") from None
        if isinstance(data, dict):
            data = data.get("clips")
        if not isinstance(data, list):
            raise SidecarError(f"{path} must hold a list of clips (or {{\"clips\": [...]}}); see the README for the format")
        for i, raw in enumerate(data):
            if not isinstance(raw, dict):
                raise SidecarError(f"{path}: entry {i + 1} is not an object with a 'file' field; fix or remove it")
            entries.append(_entry(raw, f"entry {i + 1}", path))
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not ({"file", "path"} & {f.strip().lower() for f in reader.fieldnames}):
            raise SidecarError(f"{path} needs a header row with a 'file' column (then title, topics, creator, created)")
        for row in reader:
            raw = {(k or "").strip().lower(): v for k, v in row.items()}
            entries.append(_entry(raw, f"line {reader.line_num}", path))
    return {e.file: e for e in entries}


def write_sidecar_json(path: Path, records: list[dict[str, Any]]) -> None:
    """Write a JSON sidecar atomically (temp file, then rename), so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
