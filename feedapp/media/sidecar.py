"""The optional sidecar: ``catalog.json`` or ``catalog.csv`` in a clip folder, giving each file its metadata.

Researchers prepare stimulus sets in spreadsheets, so CSV is as welcome as JSON. Paths are relative
to the folder. Every field is optional except the file: missing ones fall back to the folder-name
rules in ``scan.py``. Errors name the sidecar, the line or entry, and what to fix.

JSON: a list of objects (or {"clips": [...]}) with keys ``file`` (required), ``id``, ``title``,
``topics`` (list, or a string separated by ``;`` or ``,``), ``creator``, ``created`` (ISO date).
CSV: a header row with the same column names; ``topics`` separated by ``;`` (or ``,`` when quoted).

Limits (``LIMITS``; docs/reliability.md, "Input validation"): every field is text (``id`` may be a
whole number), ``topics`` a list of text; lengths are capped (a title is shown on screen: a 5 MB one
froze the window for 22 s). An entry that breaks a limit gets ``problems`` naming the field, and its
clip is rejected with that reason (``feedapp scan`` and ``lab validate`` list it); the other clips play.
A sidecar that cannot be read as a whole (not JSON, nested deeper than the format, a CSV field over
the csv module's limit, an entry without a file) is one ``SidecarError``.
"""

from __future__ import annotations

import csv
import io
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
    problems: tuple[str, ...] = ()  # "catalog.json entry 3: title is ...; fix the entry": the clip is rejected with these

    @property
    def problem(self) -> str | None:
        return "; ".join(self.problems) if self.problems else None


#: Longest text per field, in characters (the title and creator are drawn on the clip; ids go in every row).
LIMITS = {"file": 4096, "id": 200, "title": 300, "creator": 100, "created": 40, "topic": 50}
MAX_TOPICS = 20


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def clean_topic(topic: str) -> str:
    """Topics are compared as lower-case words without a leading '#'."""
    return topic.strip().lstrip("#").strip().lower()


def clean_creator(creator: str) -> str:
    return creator.strip().lstrip("@").strip()


def _topics(value: Any, bad: list[str]) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        items: list[Any] = re.split(r"[;,]", value)
    elif isinstance(value, list):
        items = value
    else:
        bad.append(f"topics must be a list of words or text separated by ';', not {_kind(value)}")
        return None
    wrong = [x for x in items if not isinstance(x, str)]
    if wrong:
        bad.append(f"topics must be words (text), not {_kind(wrong[0])}")
        return None
    topics = tuple(t for t in (clean_topic(x) for x in items) if t)
    if len(topics) > MAX_TOPICS:
        bad.append(f"topics lists {len(topics):,} topics (at most {MAX_TOPICS})")
        return None
    long = [t for t in topics if len(t) > LIMITS["topic"]]
    if long:
        bad.append(f"topic {long[0][:20]!r}... is {len(long[0]):,} characters long (at most {LIMITS['topic']})")
        return None
    return topics or None


def _text(value: Any, name: str, bad: list[str], *, whole_number: bool = False) -> str | None:
    if value is None:
        return None
    if whole_number and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        bad.append(f"{name} must be text, not {_kind(value)}")
        return None
    text = value.strip()
    if len(text) > LIMITS[name]:
        bad.append(f"{name} is {len(text):,} characters long (at most {LIMITS[name]})")
        return None
    return text or None


def norm_relative(value: str) -> str:
    """One spelling per path: '/' separators, no leading './', Unicode NFC (macOS stores 'é' decomposed)."""
    text = unicodedata.normalize("NFC", value.replace("\\", "/"))
    while text.startswith("./"):
        text = text[2:]
    return str(PurePosixPath(text))


def _entry(raw: dict[str, Any], where: str, sidecar: Path) -> SidecarEntry:
    bad: list[str] = []
    file = _text(raw.get("file") or raw.get("path"), "file", bad)
    if bad:
        raise SidecarError(f"{sidecar}: {where}: {bad[0]} (the clip's path relative to the folder); fix it or remove the entry")
    if not file:
        raise SidecarError(f"{sidecar}: {where} has no 'file' (the clip's path relative to the folder); add it or remove the entry")
    creator = _text(raw.get("creator"), "creator", bad)
    entry = SidecarEntry(
        file=norm_relative(file),
        id=_text(raw.get("id"), "id", bad, whole_number=True),
        title=_text(raw.get("title"), "title", bad),
        topics=_topics(raw.get("topics", raw.get("topic")), bad),
        creator=clean_creator(creator) if creator else None,
        created=_text(raw.get("created"), "created", bad),
    )
    if bad:
        return SidecarEntry(file=entry.file, problems=(f"{sidecar.name} {where}: " + "; ".join(bad) + "; fix the entry",))
    return entry


#: The fields a sidecar entry may have ('path' and 'topic' are read as 'file' and 'topics').
FIELDS = ("file", "id", "title", "topics", "creator", "created")
_READ = set(FIELDS) | {"path", "topic"}


class Sidecar(dict):
    """Entries keyed by relative POSIX path, and ``unknown``: the field names no entry's field is read
    from ('tittle', a JSON 'Title'), sorted; those fields are ignored, so ``feedapp scan`` names them."""

    unknown: tuple[str, ...] = ()


def find_sidecar(folder: Path) -> Path | None:
    for name in SIDECAR_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def load_sidecar(folder: Path) -> Sidecar:
    """Entries keyed by relative POSIX path (and the unknown field names); empty when there is no sidecar."""
    path = find_sidecar(folder)
    if path is None:
        return Sidecar()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SidecarError(f"{path} is not UTF-8 text; save it as UTF-8 (in a spreadsheet: 'CSV UTF-8')") from None
    except OSError as e:
        raise SidecarError(f"{path} cannot be read ({e.strerror}); check its permissions") from None
    entries: list[tuple[str, SidecarEntry]] = []  # (where in the sidecar, entry)
    keys: set[str] = set()
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SidecarError(f"{path} is not valid JSON (line {e.lineno}: {e.msg}); fix it or remove the file") from None
        except RecursionError:  # a sidecar is three levels deep: a list of clip objects with a list of topics
            raise SidecarError(f"{path} is nested too deeply to be a sidecar (it is a list of clip objects); "
                               "fix it or remove the file") from None
        except ValueError:  # a number of more than 4,300 digits (sys.get_int_max_str_digits)
            raise SidecarError(f"{path} holds a number with thousands of digits; fix it or remove the file") from None
        if isinstance(data, dict):
            data = data.get("clips")
        if not isinstance(data, list):
            raise SidecarError(f"{path} must hold a list of clips (or {{\"clips\": [...]}}); see the README for the format")
        for i, raw in enumerate(data):
            if not isinstance(raw, dict):
                raise SidecarError(f"{path}: entry {i + 1} is not an object with a 'file' field; fix or remove it")
            keys.update(str(k) for k in raw)
            entries.append((f"entry {i + 1}", _entry(raw, f"entry {i + 1}", path)))
    else:
        # a stream, not text.splitlines(): a quoted cell may hold a line break (Alt+Enter in a spreadsheet),
        # which splitting into lines first dropped, gluing 'one' and 'two' into 'onetwo' (also at U+2028)
        reader = csv.DictReader(io.StringIO(text.replace("\r\n", "\n"), newline=""))
        if not reader.fieldnames or not ({"file", "path"} & {f.strip().lower() for f in reader.fieldnames}):
            raise SidecarError(f"{path} needs a header row with a 'file' column (then title, topics, creator, created)")
        try:
            for row in reader:
                raw = {(k or "").strip().lower(): v for k, v in row.items() if k is not None}  # None: extra cells
                keys.update(k for k in raw if k)
                entries.append((f"line {reader.line_num}", _entry(raw, f"line {reader.line_num}", path)))
        except csv.Error as e:  # e.g. a field over csv.field_size_limit() (131,072 characters)
            raise SidecarError(f"{path} line {reader.line_num + 1} cannot be read as CSV ({e}); fix it or remove the file") from None
    sidecar = Sidecar(_one_entry_per_file(entries, path))
    sidecar.unknown = tuple(sorted(keys - _READ))
    return sidecar


def _one_entry_per_file(entries: list[tuple[str, SidecarEntry]], sidecar: Path) -> dict[str, SidecarEntry]:
    """Entries keyed by file. A file described twice (a row pasted twice, two rows edited apart) is not
    played: which of its titles and topics is meant cannot be known, and taking either in silence would
    put a clip in the study under metadata nobody chose."""
    where: dict[str, list[str]] = {}
    out: dict[str, SidecarEntry] = {}
    for place, entry in entries:
        where.setdefault(entry.file, []).append(place)
        out.setdefault(entry.file, entry)
    for file, places in where.items():
        if len(places) > 1:
            out[file] = SidecarEntry(file=file, problems=(
                f"{sidecar.name} describes it {len(places)} times ({', '.join(places)}), so its title and topics "
                "are unclear; keep one of those entries",))
    return out


def write_sidecar_json(path: Path, records: list[dict[str, Any]]) -> None:
    """Write a JSON sidecar atomically (temp file, then rename), so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
