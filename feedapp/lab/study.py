"""A study file (TOML): its model, parsing with line-accurate errors, counterbalancing and seeds.

A study file names the catalog, the conditions (ranker + parameters + optional warm-up clips), the
session limits, the skip threshold, the instructions, an optional practice block and how
participants are assigned to conditions. Format and meaning: docs/researchers.md; a complete
example: examples/study.toml.

``parse_study(text)`` / ``load_study(path)`` return a ``Study`` or raise ``StudyError`` whose
``problems`` each carry the LINE and the FIELD (``conditions.A.ranker``): tomllib gives line/column
for syntax errors; for semantic errors (unknown key, wrong type, unknown ranker, negative limits,
no conditions) the line is found in the file text by ``locate_fields``.

``Study.assign(participant_id, override=None, block=0)`` -> ``Assignment`` (condition, seed,
overridden, ...) is what the start dialog calls. It is pure and deterministic:

- ``latin_square`` (default). The participant number is the last run of digits in the id
  (``"P07"`` -> 7). Between-subjects design (``design = "between"``, default): condition index =
  number mod k (k conditions, in file order). Within-subjects design (``design = "within"``, one
  session per condition, called blocks): the order of conditions is row ``number mod R`` of a
  balanced Latin square (Williams design: R = k rows for even k, 2k rows for odd k, so every
  condition follows every other equally often), and block b runs ``order[b]``.
- ``random`` with a recorded ``seed``: permuted blocks. Participant number n falls in block
  ``n // k``; that block is a permutation of the k conditions drawn from
  ``random.Random(sha256(seed, block))``; the participant gets position ``n mod k`` of it. So each
  run of k consecutive numbers gets every condition once (balanced) in an unpredictable order.
  Within-subjects: the order itself is a seeded shuffle of the conditions per participant. An id
  without digits falls back to a draw seeded by (seed, participant id).

The feed seed of a session is ``[study] seed`` when given, else ``derive_seed(study name,
participant id[, block])``: the first 8 bytes of sha256, as a non-negative 63-bit integer, so the
same study and participant always see the same feed (for the same catalog and views).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedapp.ranges import LIMIT_MINUTES, LIMIT_VIEWS, PRACTICE_CLIPS, SEED, SKIP_THRESHOLD_MS, Range

METHODS = ("latin_square", "random")
DESIGNS = ("between", "within")
DEFAULT_SKIP_MS = 3000
#: The rankers a study may name when ``feedapp.core.rankers`` cannot be imported (it can: see ranker_specs).
FALLBACK_RANKERS = ("foryou", "random", "chronological", "popular", "following")


# -- problems -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth knowing) in a study file or its catalog."""

    field: str  # dotted path, e.g. "conditions.A.params.epsilon"; "" for the whole file
    message: str
    line: int | None = None
    column: int | None = None
    severity: str = "error"  # error | warning

    def describe(self, source: str = "") -> str:
        where = source or "study"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        what = f" {self.field}:" if self.field else ""
        tag = "" if self.severity == "error" else f" ({self.severity})"
        return f"{where}:{what} {self.message}{tag}"


class StudyError(ValueError):
    """The study file cannot be used; ``problems`` say where and why; ``unreadable`` when not even TOML."""

    def __init__(self, problems: Sequence[Problem], source: str = "", unreadable: bool = False) -> None:
        self.problems = list(problems)
        self.source = source
        self.unreadable = unreadable
        super().__init__("\n".join(p.describe(source) for p in self.problems))


# -- where is a field in the text -----------------------------------------------------------------
_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"(?:[^"\\]|\\.)*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*=\s*(.*)$""")
_PART = re.compile(r"""[A-Za-z0-9_\-]+|"(?:[^"\\]|\\.)*"|'[^']*'""")


def _split_key(key: str) -> tuple[str, ...]:
    parts = []
    for m in _PART.finditer(key):
        p = m.group(0)
        if p[:1] in "\"'":
            p = p[1:-1]
        parts.append(p)
    return tuple(parts)


def locate_fields(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path (``("conditions", "A", "ranker")``) and table header to its 1-based line.

    A light scanner, not a parser: it follows ``[table]`` / ``[[array]]`` headers, ``key = value``
    lines (dotted and quoted keys), keys of one-line inline tables, and skips the inside of
    multi-line strings. The first occurrence wins (a duplicate is a TOML syntax error anyway).
    """
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    array_counts: dict[tuple[str, ...], int] = {}
    in_string: str | None = None
    depth = 0  # open brackets of a multi-line array or inline table
    for n, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if in_string in line:
                in_string = None
            continue
        if depth > 0:
            depth = max(0, depth + _bracket_balance(line))
            continue
        m = _HEADER.match(line)
        if m and not _KEY.match(line):
            table = _split_key(m.group(2))
            if m.group(1) == "[[":
                i = array_counts.get(table, 0)
                array_counts[table] = i + 1
                found.setdefault(table, n)
                table = table + (str(i),)
            for k in range(1, len(table) + 1):
                found.setdefault(table[:k], n)
            continue
        m = _KEY.match(line)
        if not m:
            continue
        path = table + _split_key(m.group(1))
        found.setdefault(path, n)
        value = m.group(2)
        for quote in ('"""', "'''"):
            if value.startswith(quote) and value.count(quote) == 1:
                in_string = quote
        if in_string is None:
            depth = max(0, _bracket_balance(value))
        if value.startswith("{"):
            for inner in re.finditer(r"""([A-Za-z0-9_\-]+|"[^"]*")\s*=""", value):
                found.setdefault(path + _split_key(inner.group(1)), n)
    return found


def _bracket_balance(text: str) -> int:
    """Opening minus closing brackets/braces outside strings and comments (approximate)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', "", text).split("#", 1)[0]
    return text.count("[") + text.count("{") - text.count("]") - text.count("}")


class _Locator:
    def __init__(self, text: str) -> None:
        self.lines = locate_fields(text)

    def line(self, path: tuple[str, ...]) -> int | None:
        """The line of ``path``, else of its nearest enclosing table that is in the file."""
        for k in range(len(path), 0, -1):
            if path[:k] in self.lines:
                return self.lines[path[:k]]
        return None


# -- the model ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    name: str
    ranker: str
    params: Mapping[str, Any] = field(default_factory=dict)
    warmup: tuple[str, ...] = ()  # clip ids or file names, shown first, in this order
    description: str = ""


@dataclass(frozen=True)
class Limits:
    minutes: float | None = None
    views: int | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.minutes is None else self.minutes * 60.0


@dataclass(frozen=True)
class Practice:
    clips: int = 0
    use: tuple[str, ...] = ()  # optional: which clips (ids or file names); else the UI picks
    instructions: str = ""


@dataclass(frozen=True)
class Field:
    """An extra start-dialog field (PsychoPy's expInfo): stored per session in ``sessions.fields``."""

    name: str  # the key in sessions.fields
    label: str
    type: str  # text | choice | number
    required: bool = True
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    whole: bool = False  # number: whole numbers only
    pattern: str = ""  # text: must match entirely
    default: str = ""

    def check(self, text: str) -> tuple[Any, str | None]:
        """(the value to store, None) or (None, a sentence for the experimenter)."""
        value = text.strip()
        if not value:
            return (None, f"{self.label}: required") if self.required else (None, None)
        if self.type == "choice":
            if value not in self.choices:
                return None, f"{self.label}: choose one of {', '.join(self.choices)}"
            return value, None
        if self.type == "number":
            try:
                number = float(value)
            except ValueError:
                return None, f"{self.label}: must be a number, not {value!r}"
            if number != number or number in (float("inf"), float("-inf")):
                return None, f"{self.label}: must be a finite number"
            if self.whole:
                if number != int(number):
                    return None, f"{self.label}: must be a whole number, not {value}"
                number = int(number)
            if self.min is not None and number < self.min:
                return None, f"{self.label}: must be at least {self.min:g}, not {value}"
            if self.max is not None and number > self.max:
                return None, f"{self.label}: must be at most {self.max:g}, not {value}"
            return number, None
        if self.pattern and not re.fullmatch(self.pattern, value):
            return None, f"{self.label}: {value!r} does not match {self.pattern!r}"
        return value, None


@dataclass(frozen=True)
class Question:
    """One item of the questionnaire after the feed: stored in the ``questionnaire`` table."""

    id: str
    type: str  # likert | choice | text
    text: str
    required: bool = True
    points: int = 5  # likert: 1..points
    labels: tuple[str, str] = ("", "")  # likert: the words at both ends
    choices: tuple[str, ...] = ()


FIELD_TYPES = ("text", "choice", "number")
QUESTION_TYPES = ("likert", "choice", "text")
#: Default [study] repeat_gap: as large as the policy allows, so no clip repeats while an unseen one remains.
NO_REPEAT_GAP = 100_000


@dataclass(frozen=True)
class Assignment:
    """What one participant's session runs: the dialog shows it and the recorder stores it."""

    study: str
    participant: str
    number: int | None  # the participant number read from the id; None when it has no digits
    condition: Condition
    seed: int
    overridden: bool  # the experimenter chose the condition by hand
    method: str
    design: str
    block: int = 0
    order: tuple[str, ...] = ()  # within-subjects: the participant's order of conditions
    params: Mapping[str, Any] = field(default_factory=dict)  # the ranker's parameters (Study.ranker_params)

    @property
    def condition_name(self) -> str:
        return self.condition.name

    def session_kwargs(self, skip_threshold_ms: int) -> dict[str, Any]:
        """Keyword arguments for ``feedapp.core.session.SessionRecorder`` (add sink, app_version, ...)."""
        return {
            "mode": "lab",
            "ranker": self.condition.ranker,
            "ranker_params": dict(self.params or self.condition.params),
            "seed": self.seed,
            "participant": self.participant,
            "condition": self.condition.name,
            "skip_threshold_ms": skip_threshold_ms,
            "study": self.study,
        }

    def practice_kwargs(self, skip_threshold_ms: int, ranker: str) -> dict[str, Any]:
        """Keyword arguments for the recorder of the practice block: its own session (mode ``practice``)
        of the same participant, condition and study, so a withdrawal finds it with the study's sessions;
        ``feedapp.lab.data.session_ids`` leaves practice sessions out of reports and study exports."""
        return {
            "mode": PRACTICE_MODE,
            "ranker": ranker,
            "ranker_params": {},
            "seed": self.seed,
            "participant": self.participant,
            "condition": self.condition.name,
            "skip_threshold_ms": skip_threshold_ms,
            "study": self.study,
        }

    def study_event(self, study_sha256: str = "") -> dict[str, Any]:
        """The data of the ``study`` event written at the start of the session (see ``STUDY_EVENT``).

        ``recorder.event(STUDY_EVENT, **assignment.study_event(study.sha256))`` right after the
        SessionRecorder is created: until the schema has a ``sessions.study`` column, this event is
        where reports, exports and withdrawals read the study name from (feedapp.lab.report.session_studies).
        """
        return {
            "study": self.study,
            "study_sha256": study_sha256,
            "method": self.method,
            "design": self.design,
            "participant_number": self.number,
            "block": self.block,
            "order": list(self.order),
            "overridden": self.overridden,
        }


#: Event kind that names a session's study (interim place until sessions.study exists).
STUDY_EVENT = "study"
#: Event kind that opens a practice session (mode "practice"); its data names the study too.
PRACTICE_EVENT = "practice"
PRACTICE_MODE = "practice"


@dataclass(frozen=True)
class Study:
    name: str
    catalog: str  # "demo" or a folder, relative to the study file
    conditions: tuple[Condition, ...]
    limits: Limits = Limits()
    skip_threshold_ms: int = DEFAULT_SKIP_MS
    instructions: str = ""
    description: str = ""
    practice: Practice = Practice()
    method: str = "latin_square"
    design: str = "between"
    assignment_seed: int | None = None  # counterbalance.seed (random method)
    seed: int | None = None  # fixed feed seed for every session; None: derived per participant
    participant_pattern: str = ""
    operator_pin: str = ""  # the experimenter's PIN for kiosk mode ("" : give --pin or FEEDAPP_LAB_PIN)
    clips: str = ""  # where the clips of catalog = "demo" are (relative to the study file); "" default folder
    repeat_gap: int = NO_REPEAT_GAP  # impressions before a clip may come back, for every condition
    consent: str = ""  # the consent text; "" no consent screen
    debrief: str = ""  # shown on the end screen
    debrief_card: bool = True  # the end screen's card of what the feed learned (false: no card)
    fields: tuple[Field, ...] = ()
    questionnaire: tuple[Question, ...] = ()
    questionnaire_intro: str = ""
    path: Path | None = None  # the study file, when loaded from one
    sha256: str = ""  # of the study file's bytes: stored with each session to tie data to the file
    warnings: tuple[Problem, ...] = ()  # found while parsing; the study is usable

    @property
    def base_dir(self) -> Path:
        # absolute: the folder is recorded in each session's lab_session event, and "../clips" relative to
        # wherever the experimenter happened to start the app says nothing about the clips played
        return self.path.parent.absolute() if self.path is not None else Path.cwd()

    def condition(self, name: str) -> Condition:
        for c in self.conditions:
            if c.name == name:
                return c
        raise KeyError(f"study {self.name!r} has no condition {name!r} (it has: {', '.join(self.condition_names)})")

    @property
    def condition_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.conditions)

    def catalog_folder(self) -> Path | None:
        """The folder of clips (None for the demo catalog: see feedapp.config.default_demo_dir)."""
        if self.catalog == "demo":
            return None
        p = Path(self.catalog).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def clips_folder(self, override: str | Path | None = None) -> Path:
        """The one folder of clips that ``lab validate`` checks and ``lab run`` plays: ``--clips`` when
        given, else the catalog folder, else (``catalog = "demo"``) ``[study] clips`` relative to the study
        file, else the default demo folder (feedapp.config.default_demo_dir)."""
        if override is not None:
            return Path(override).expanduser().absolute()
        folder = self.catalog_folder()
        if folder is not None:
            return folder
        if self.clips:
            p = Path(self.clips).expanduser()
            return p if p.is_absolute() else self.base_dir / p
        from feedapp.config import default_demo_dir

        return Path(default_demo_dir())

    def ranker_params(self, condition: Condition) -> dict[str, Any]:
        """The parameters the condition's ranker runs with: the study's repeat rule, then the condition's own."""
        return {"repeat_gap": self.repeat_gap, **dict(condition.params)}

    def check_participant(self, participant_id: str) -> str | None:
        """A sentence explaining why the id is not acceptable, or None."""
        pid = participant_id.strip()
        if not pid:
            return "enter a participant id"
        if pid != participant_id:
            return "the participant id has spaces at its start or end"
        if self.participant_pattern and not re.fullmatch(self.participant_pattern, pid):
            return f"participant id {pid!r} does not match the study's pattern {self.participant_pattern!r}"
        if self.method == "latin_square" and participant_number(pid) is None:
            return f"participant id {pid!r} has no number; latin_square assignment needs one (e.g. P07)"
        return None

    def practice_clips(self, clips: Sequence[Any], folder: str | Path | None = None) -> list[Any]:
        """The practice block's clips: ``[practice] use`` when given, else ``[practice] clips`` clips drawn
        (seeded by the study name, so every participant practises on the same ones) from the catalog,
        leaving out every condition's warm-up clips. ValueError when a named clip is not in ``clips``."""
        if self.practice.use:
            found, bad = resolve_clip_names(self.practice.use, clips, folder)
            if bad:
                raise ValueError("; ".join(bad))
            return found
        warm = {c.id for cond in self.conditions for c in resolve_clip_names(cond.warmup, clips, folder)[0]}
        pool = sorted((c for c in clips if c.id not in warm), key=lambda c: c.id)
        rng = random.Random(_digest("feedapp-lab-practice", self.name))
        return rng.sample(pool, min(self.practice.clips, len(pool)))

    def order_for(self, participant_id: str) -> tuple[str, ...]:
        """Within-subjects: the participant's order of conditions (between: all conditions, file order)."""
        names = self.condition_names
        k = len(names)
        if self.design == "between":
            return names
        n = participant_number(participant_id)
        if self.method == "latin_square":
            if n is None:
                raise ValueError(f"participant id {participant_id!r} has no number; latin_square needs one")
            return tuple(names[i] for i in balanced_latin_square_row(k, n))
        rng = random.Random(_digest(self.assignment_seed or 0, "order", participant_id))
        order = list(names)
        rng.shuffle(order)
        return tuple(order)

    def assign(self, participant_id: str, override: str | None = None, *, block: int = 0) -> Assignment:
        """The condition and seed of ``participant_id``'s session (``block``: which session, within design).

        ``override`` (a condition name) replaces the counterbalanced choice; ``overridden`` records it.
        Raises ValueError with a sentence for a bad participant id, block or override.
        """
        problem = self.check_participant(participant_id)
        if problem and not (override is not None and "has no number" in problem):
            raise ValueError(problem)  # an override may skip the number, not the id pattern
        n = participant_number(participant_id)
        k = len(self.conditions)
        order: tuple[str, ...] = ()
        if self.design == "within":
            if not 0 <= block < k:
                raise ValueError(f"block must be between 0 and {k - 1} (one session per condition), not {block}")
            if override is None or n is not None or self.method == "random":
                order = self.order_for(participant_id)
        elif block != 0:
            raise ValueError("block is only used in a within-subjects study (design = \"within\")")
        if override is not None:
            try:
                chosen = self.condition(override)
            except KeyError as e:
                raise ValueError(e.args[0]) from None
        elif self.design == "within":
            chosen = self.condition(order[block])
        elif self.method == "latin_square":
            assert n is not None
            chosen = self.conditions[n % k]
        else:
            chosen = self.conditions[random_condition_index(self.assignment_seed or 0, participant_id, k)]
        if self.seed is not None:
            seed = self.seed
        elif self.design == "within":
            seed = derive_seed(self.name, participant_id, block)
        else:
            seed = derive_seed(self.name, participant_id)
        return Assignment(
            study=self.name, participant=participant_id, number=n, condition=chosen, seed=seed,
            overridden=override is not None, method=self.method, design=self.design, block=block, order=order,
            params=self.ranker_params(chosen),
        )


# -- counterbalancing and seeds -------------------------------------------------------------------
def participant_number(participant_id: str) -> int | None:
    """The last run of digits in the id: "P07" -> 7, "s2-014" -> 14, "anna" -> None."""
    runs = re.findall(r"\d+", participant_id)
    return int(runs[-1]) if runs else None


def _digest(*parts: object) -> int:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") & ((1 << 63) - 1)


def derive_seed(study: str, participant: str, block: int | None = None) -> int:
    """sha256(study name, participant id[, block]) -> a non-negative 63-bit feed seed (fits SQLite INTEGER)."""
    parts: tuple[object, ...] = ("feedapp-lab", study, participant)
    if block is not None and block > 0:
        parts += (block,)
    return _digest(*parts)


def balanced_latin_square_row(k: int, row: int) -> list[int]:
    """Row ``row`` of a balanced (Williams) Latin square of k conditions, as condition indices.

    Column j of the first row is 0, 1, k-1, 2, k-2, ...; row r adds r (mod k). For odd k the rows
    r in [k, 2k) are the reversed rows, so over 2k rows every ordered pair of conditions is adjacent
    equally often. ``row`` is taken modulo k (even k) or 2k (odd k).
    """
    if k < 1:
        raise ValueError("a Latin square needs at least one condition")
    first: list[int] = []
    lo, hi = 0, 0
    for j in range(k):
        if j < 2 or j % 2 == 1:
            first.append(lo)
            lo += 1
        else:
            first.append(k - hi - 1)
            hi += 1
    rows = k if k % 2 == 0 else 2 * k
    r = row % rows
    out = [(v + r) % k for v in first]
    if k % 2 == 1 and r >= k:
        out = [(v + r - k) % k for v in first][::-1]
    return out


def random_condition_index(seed: int, participant_id: str, k: int) -> int:
    """Permuted-block randomisation (see the module docstring)."""
    n = participant_number(participant_id)
    if n is None:
        return random.Random(_digest(seed, "id", participant_id)).randrange(k)
    perm = list(range(k))
    random.Random(_digest(seed, "block", n // k)).shuffle(perm)
    return perm[n % k]


# -- parsing --------------------------------------------------------------------------------------
def ranker_specs() -> tuple[dict[str, set[str] | None], str]:
    """{ranker name: its parameter names (None: unknown)} and where the list came from."""
    try:
        from feedapp.core.rankers.registry import RANKERS
    except ImportError:  # pragma: no cover - the registry exists in this tree
        return {n: None for n in FALLBACK_RANKERS}, "fixed list (feedapp.core.rankers.registry not importable)"
    return {n: {p.name for p in cls.spec()} for n, cls in RANKERS.items()}, "feedapp.core.rankers.registry"


def _is_plugin(ranker: str) -> bool:
    """``path/to/file.py:ClassName`` (a plugin), as ``feedapp.core.plugins.is_plugin_spec`` says."""
    path, sep, cls = ranker.rpartition(":")
    return bool(sep) and path.endswith(".py") and bool(cls)


def _resolve_plugin(ranker: str, base: Path) -> tuple[str, str | None]:
    """(the spec with its file made absolute, relative to the study file's folder ``base``; a problem or None).

    Only the shape and the file are checked here (parsing runs no plugin code); ``check_plugins``
    loads and tries it (``lab validate``)."""
    path, _, cls = ranker.rpartition(":")
    if not cls.isidentifier():
        return ranker, f"{cls!r} is not a Python class name (a plugin is given as path/to/file.py:ClassName)"
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = base / p
    p = Path(os.path.normpath(p.absolute()))
    if not p.is_file():
        where = "" if Path(path).expanduser().is_absolute() else " (a relative path is relative to the study file's folder)"
        return ranker, f"there is no plugin file {p}{where}"
    return f"{p}:{cls}", None


def check_plugins(study: Study, text: str = "", *, timeout_s: float | None = None) -> list[Problem]:
    """Load each plugin a condition names (``ranker = "file.py:Class"``) in its own process and try it
    with the condition's parameters (``feedapp.core.plugins.quick_check``): a problem per thing wrong,
    on the line of ``conditions.NAME.ranker`` or ``conditions.NAME.params.PARAM``."""
    from feedapp.core.plugins import DEFAULT_BUDGET_MS, DEFAULT_LOAD_TIMEOUT_S, quick_check

    loc = _Locator(text)
    problems: list[Problem] = []
    for cond in study.conditions:
        if not _is_plugin(cond.ranker):
            continue
        for where, message in quick_check(cond.ranker, study.ranker_params(cond),  # a session's calls have the
                                          timeout_s=DEFAULT_LOAD_TIMEOUT_S if timeout_s is None else timeout_s,
                                          budget_ms=DEFAULT_BUDGET_MS):  # app's default budget: lab run has no other
            at = ("conditions", cond.name, *("ranker" if where == "budget" else where).split(".", 1))
            problems.append(Problem(".".join(at), message, loc.line(at), None, "error"))
    return problems


def _check_param(ranker: str, name: str, value: object) -> str | None:
    try:
        from feedapp.core.rankers.registry import RANKERS
    except ImportError:  # pragma: no cover
        return None
    spec = {p.name: p for p in RANKERS[ranker].spec()}
    if isinstance(value, bool):
        return f"must be a number, not {value!r}"
    try:
        spec[name].check(ranker, value)
    except ValueError as e:
        return str(e)
    return None


_TYPES = {str: "text", int: "a whole number", float: "a number", list: "a list", dict: "a table", bool: "true/false"}


def _type_ok(value: object, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def _type_name(value: object) -> str:
    for t, name in ((bool, "true/false"), (int, "a whole number"), (float, "a number"), (str, "text"),
                    (list, "a list"), (dict, "a table")):
        if isinstance(value, t):
            return name
    return type(value).__name__


def _suggest(name: str, known: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


_SCHEMA: dict[str, dict[str, type]] = {
    "study": {"name": str, "description": str, "catalog": str, "skip_threshold_ms": int, "instructions": str,
              "seed": int, "participant_pattern": str, "operator_pin": str, "clips": str, "repeat_gap": int,
              "consent": str, "debrief": str, "debrief_card": bool, "questionnaire_intro": str},
    "limits": {"minutes": float, "views": int},
    "practice": {"clips": int, "use": list, "instructions": str},
    "counterbalance": {"method": str, "design": str, "seed": int},
}
_CONDITION_KEYS: dict[str, type] = {"ranker": str, "params": dict, "warmup": list, "description": str}
_FIELD_KEYS: dict[str, type] = {"name": str, "label": str, "type": str, "required": bool, "choices": list,
                                 "min": float, "max": float, "whole": bool, "pattern": str, "default": str}
_QUESTION_KEYS: dict[str, type] = {"id": str, "type": str, "text": str, "required": bool, "points": int,
                                   "labels": list, "choices": list}
_TOP = tuple(_SCHEMA) + ("conditions", "fields", "questionnaire")
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def parse_study(text: str, path: str | Path | None = None, *, data: bytes | None = None) -> Study:
    """Parse and check a study file's text; StudyError lists every problem found (line and field)."""
    source = str(path) if path is not None else "study"
    try:
        raw = tomllib.loads(text)
    except RecursionError:
        raise StudyError([Problem("", "not valid TOML for a study: arrays or tables are nested too deeply "
                                      "(a study file needs at most a few levels)")], source, unreadable=True) from None
    except tomllib.TOMLDecodeError as e:
        line, col = getattr(e, "lineno", None), getattr(e, "colno", None)
        if line is None:  # Python < 3.14 puts them in the message: "... (at line 3, column 7)"
            m = re.search(r"at line (\d+), column (\d+)", str(e))
            line, col = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e)) or "not valid TOML"
        raise StudyError([Problem("", f"not valid TOML: {msg}", line, col)], source, unreadable=True) from None
    except ValueError:  # tomllib lets int() refuse a number of more than 4,300 digits (sys.get_int_max_str_digits)
        raise StudyError([Problem("", "not valid TOML for a study: a number in it has thousands of digits")], source,
                         unreadable=True) from None
    loc = _Locator(text)
    problems: list[Problem] = []

    def err(path_: tuple[str, ...], message: str, severity: str = "error", at: tuple[str, ...] | None = None) -> None:
        problems.append(Problem(".".join(path_), message, loc.line(at or path_), None, severity))

    def in_range(path_: tuple[str, ...], value: object, rng: Range, hint: str = "") -> bool:
        """Report ``value`` when it is outside ``rng`` (feedapp.ranges: what the recorder and Qt can hold)."""
        bad = rng.problem(value)
        if bad:
            err(path_, bad + (f"; {hint}" if hint and "(" not in bad else ""))
        return bad is not None

    for key in raw:
        if key not in _TOP:
            err((key,), f"unknown section or key{_suggest(key, _TOP)} (known: {', '.join(_TOP)})")

    sections: dict[str, dict[str, Any]] = {}
    for sec, keys in _SCHEMA.items():
        value = raw.get(sec, {})
        if not isinstance(value, dict):
            err((sec,), f"must be a table ([{sec}]), not {_type_name(value)}")
            value = {}
        clean: dict[str, Any] = {}
        for k, v in value.items():
            if k not in keys:
                err((sec, k), f"unknown key{_suggest(k, list(keys))} (known in [{sec}]: {', '.join(keys)})")
            elif not _type_ok(v, keys[k]):
                err((sec, k), f"must be {_TYPES[keys[k]]}, not {_type_name(v)} ({v!r})")
            else:
                clean[k] = v
        sections[sec] = clean
    st, lim, pr, cb = (sections[s] for s in ("study", "limits", "practice", "counterbalance"))

    if "study" not in raw:
        err(("study",), "the [study] section is missing (it holds name and catalog)")
    given = raw.get("study") if isinstance(raw.get("study"), dict) else {}
    name = st.get("name", "")
    if "study" in raw and "name" not in given:
        err(("study", "name"), "missing: give the study a name (it is stored with every session)")
    elif "name" in st and not name.strip():
        err(("study", "name"), "must not be empty")
    catalog = st.get("catalog", "")
    if "study" in raw and "catalog" not in given:
        err(("study", "catalog"), 'missing: a folder of clips (relative to this file) or "demo"')
    elif "catalog" in st and not catalog.strip():
        err(("study", "catalog"), 'must not be empty: a folder of clips or "demo"')
    skip = st.get("skip_threshold_ms", DEFAULT_SKIP_MS)
    in_range(("study", "skip_threshold_ms"), skip, SKIP_THRESHOLD_MS)
    if "seed" in st:
        in_range(("study", "seed"), st["seed"], SEED)
    pattern = st.get("participant_pattern", "")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as e:
            err(("study", "participant_pattern"), f"is not a valid regular expression ({e})")

    repeat_gap = st.get("repeat_gap", NO_REPEAT_GAP)
    if not 1 <= repeat_gap <= NO_REPEAT_GAP:
        err(("study", "repeat_gap"), f"must be between 1 and {NO_REPEAT_GAP:,} impressions, not {repeat_gap}; "
            "leave it out so that no clip repeats while an unseen clip remains")
        repeat_gap = NO_REPEAT_GAP
    if st.get("clips") and catalog != "demo":
        err(("study", "clips"), f"is only used with catalog = \"demo\" (the catalog {catalog!r} is already a folder)",
            "warning")
    fields = _parse_fields(raw.get("fields"), err)
    questions = _parse_questions(raw.get("questionnaire"), err)

    minutes = lim.get("minutes")
    if minutes is not None and in_range(("limits", "minutes"), minutes, LIMIT_MINUTES,
                                        "leave it out for no time limit"):
        minutes = None
    views = lim.get("views")
    if views is not None and in_range(("limits", "views"), views, LIMIT_VIEWS, "leave it out for no view limit"):
        views = None
    if "minutes" not in lim and "views" not in lim and "limits" not in raw:
        err(("limits",), "no [limits]: sessions run until the participant or the experimenter quits", "warning")

    clips = pr.get("clips", 0)
    in_range(("practice", "clips"), clips, PRACTICE_CLIPS)
    use = pr.get("use", [])
    if any(not isinstance(u, str) or not u for u in use):
        err(("practice", "use"), "must be a list of clip ids or file names (text)")
        use = []
    if use and "clips" in pr and clips != len(use):
        err(("practice", "clips"), f"is {clips} but practice.use lists {len(use)} clips")
    if use and "clips" not in pr:
        clips = len(use)

    method = cb.get("method", "latin_square")
    if method not in METHODS:
        err(("counterbalance", "method"), f"must be one of {', '.join(METHODS)}, not {method!r}{_suggest(method, METHODS)}")
    design = cb.get("design", "between")
    if design not in DESIGNS:
        err(("counterbalance", "design"), f"must be one of {', '.join(DESIGNS)}, not {design!r}")
    if method == "random" and "seed" not in cb:
        err(("counterbalance", "seed"), "missing: random assignment needs a seed (it is recorded so it can be repeated)",
            at=("counterbalance", "method"))
    if method == "latin_square" and "seed" in cb:
        err(("counterbalance", "seed"), "is not used by latin_square assignment", "warning")
    if "seed" in cb:
        in_range(("counterbalance", "seed"), cb["seed"], SEED)

    specs, _where = ranker_specs()
    conditions: list[Condition] = []
    raw_conditions = raw.get("conditions")
    if raw_conditions is None:
        err(("conditions",), "no conditions: add at least one [conditions.NAME] table with a ranker")
    elif not isinstance(raw_conditions, dict):
        err(("conditions",), f"must be tables [conditions.NAME], not {_type_name(raw_conditions)}")
    elif not raw_conditions:
        err(("conditions",), "is empty: add at least one [conditions.NAME] table with a ranker")
    else:
        for cname, body in raw_conditions.items():
            cpath = ("conditions", cname)
            if not isinstance(body, dict):
                err(cpath, f"must be a table with ranker = ..., not {_type_name(body)}")
                continue
            if not cname.strip():
                err(cpath, "a condition name must not be empty")
            ok = True
            for k, v in body.items():
                if k not in _CONDITION_KEYS:
                    err(cpath + (k,), f"unknown key{_suggest(k, list(_CONDITION_KEYS))} "
                        f"(known in a condition: {', '.join(_CONDITION_KEYS)})")
                    ok = False
                elif not _type_ok(v, _CONDITION_KEYS[k]):
                    err(cpath + (k,), f"must be {_TYPES[_CONDITION_KEYS[k]]}, not {_type_name(v)} ({v!r})")
                    ok = False
            ranker = body.get("ranker")
            if "ranker" not in body:
                err(cpath + ("ranker",), f"missing: which ranker serves this condition ({', '.join(specs)}, "
                    "or a plugin path/to/file.py:ClassName)")
                ok = False
            elif isinstance(ranker, str) and _is_plugin(ranker):
                ranker, bad = _resolve_plugin(ranker, Path(path).parent if path is not None else Path.cwd())
                if bad:
                    err(cpath + ("ranker",), bad)
                    ok = False
            elif isinstance(ranker, str) and ranker not in specs:
                err(cpath + ("ranker",), f"there is no ranker called {ranker!r}{_suggest(ranker, list(specs))} "
                    f"(choose one of: {', '.join(specs)}, or a plugin path/to/file.py:ClassName)")
                ok = False
            params = body.get("params", {}) if isinstance(body.get("params", {}), dict) else {}
            for pname, pvalue in list(params.items()):
                # every ranker parameter (registry or plugin) is a number: "0.1" in quotes would pass the range
                # check (float("0.1")) and be recorded as text in sessions.ranker_params
                if isinstance(pvalue, bool) or not isinstance(pvalue, (int, float)):
                    err(cpath + ("params", pname), f"must be a number, not {_type_name(pvalue)} ({pvalue!r})")
                    ok = False
            if ok and specs.get(ranker) is not None:
                for pname, pvalue in params.items():
                    ppath = cpath + ("params", pname)
                    if pname not in specs[ranker]:  # type: ignore[operator]
                        err(ppath, f"ranker {ranker!r} has no parameter {pname!r}"
                            f"{_suggest(pname, sorted(specs[ranker]))} (it has: {', '.join(sorted(specs[ranker]))})")  # type: ignore[arg-type]
                        continue
                    bad = _check_param(ranker, pname, pvalue)
                    if bad:
                        err(ppath, bad)
            warmup = body.get("warmup", []) if isinstance(body.get("warmup", []), list) else []
            if any(not isinstance(w, str) or not w for w in warmup):
                err(cpath + ("warmup",), "must be a list of clip ids or file names (text)")
                ok = False
            if len(set(warmup)) != len(warmup):
                err(cpath + ("warmup",), "lists a clip twice", "warning")
            if ok:
                conditions.append(Condition(cname, ranker, dict(params), tuple(warmup), body.get("description", "")))

    if any(p.severity == "error" for p in problems):
        raise StudyError(sorted(problems, key=lambda p: (p.line or 0, p.field)), source)
    study = Study(
        name=name, catalog=catalog, conditions=tuple(conditions),
        limits=Limits(minutes=float(minutes) if minutes is not None else None, views=views),
        skip_threshold_ms=skip, instructions=st.get("instructions", ""), description=st.get("description", ""),
        practice=Practice(clips=clips, use=tuple(use), instructions=pr.get("instructions", "")),
        method=method, design=design, assignment_seed=cb.get("seed"), seed=st.get("seed"),
        participant_pattern=pattern, operator_pin=st.get("operator_pin", ""),
        clips=st.get("clips", ""), repeat_gap=repeat_gap, consent=st.get("consent", ""), debrief=st.get("debrief", ""),
        debrief_card=st.get("debrief_card", True),
        fields=fields, questionnaire=questions, questionnaire_intro=st.get("questionnaire_intro", ""),
        path=Path(path) if path is not None else None,
        sha256=hashlib.sha256(data if data is not None else text.encode("utf-8")).hexdigest(),
        warnings=tuple(sorted(problems, key=lambda p: (p.line or 0, p.field))),
    )
    return study


def _table_items(value: Any, section: str, err: Any) -> list[tuple[int, dict[str, Any]]]:
    if value is None:
        return []
    if not isinstance(value, list) or any(not isinstance(v, dict) for v in value):
        err((section,), f"must be a list of tables: write each one as [[{section}]]")
        return []
    return list(enumerate(value))


def _known_keys(body: dict[str, Any], path: tuple[str, ...], keys: dict[str, type], what: str, err: Any) -> bool:
    ok = True
    for k, v in body.items():
        if k not in keys:
            err(path + (k,), f"unknown key{_suggest(k, list(keys))} (known in {what}: {', '.join(keys)})")
            ok = False
        elif not _type_ok(v, keys[k]):
            err(path + (k,), f"must be {_TYPES[keys[k]]}, not {_type_name(v)} ({v!r})")
            ok = False
    return ok


def _text_list(body: dict[str, Any], key: str, path: tuple[str, ...], err: Any) -> tuple[str, ...]:
    items = body.get(key, [])
    if any(not isinstance(x, str) or not x.strip() for x in items):
        err(path + (key,), "must be a list of words (text)")
        return ()
    if len(set(items)) != len(items):
        err(path + (key,), "lists the same choice twice")
    return tuple(items)


def _parse_fields(value: Any, err: Any) -> tuple[Field, ...]:
    """``[[fields]]``: extra start-dialog fields (text, choice, number)."""
    out: list[Field] = []
    names: set[str] = set()
    for i, body in _table_items(value, "fields", err):
        path = ("fields", str(i))
        if not _known_keys(body, path, _FIELD_KEYS, "a field", err):
            continue
        name, kind = body.get("name", ""), body.get("type", "text")
        if not _ID.fullmatch(name):
            err(path + ("name",), f"must be a short name of letters, digits and _ (it names the value in "
                "sessions.fields), not {name!r}" if name else "missing: the field's name (e.g. age)")
            continue
        if name in names or name in ("participant", "condition", "seed"):
            err(path + ("name",), f"{name!r} is used twice (participant, condition and seed are taken)")
            continue
        names.add(name)
        if kind not in FIELD_TYPES:
            err(path + ("type",), f"must be one of {', '.join(FIELD_TYPES)}, not {kind!r}{_suggest(kind, FIELD_TYPES)}")
            continue
        choices = _text_list(body, "choices", path, err)
        if kind == "choice" and len(choices) < 2:
            err(path + ("choices",), "a choice field needs at least two choices")
            continue
        lo, hi = body.get("min"), body.get("max")
        if lo is not None and hi is not None and lo > hi:
            err(path + ("min",), f"is above max ({lo} > {hi})")
            continue
        pattern = body.get("pattern", "")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as e:
                err(path + ("pattern",), f"is not a valid regular expression ({e})")
                continue
        out.append(Field(name, body.get("label", name), kind, body.get("required", True), choices,
                         None if lo is None else float(lo), None if hi is None else float(hi),
                         body.get("whole", False), pattern, str(body.get("default", ""))))
    return tuple(out)


def _parse_questions(value: Any, err: Any) -> tuple[Question, ...]:
    """``[[questionnaire]]``: the items shown after the feed (likert, choice, text)."""
    out: list[Question] = []
    ids: set[str] = set()
    for i, body in _table_items(value, "questionnaire", err):
        path = ("questionnaire", str(i))
        if not _known_keys(body, path, _QUESTION_KEYS, "a questionnaire item", err):
            continue
        qid, kind, text = body.get("id", ""), body.get("type", ""), body.get("text", "")
        if not _ID.fullmatch(qid):
            err(path + ("id",), f"must be a short name of letters, digits and _ (it names the answer in the "
                "questionnaire table), not {qid!r}" if qid else "missing: the item's id (e.g. enjoyed)")
            continue
        if qid in ids:
            err(path + ("id",), f"{qid!r} is used twice")
            continue
        ids.add(qid)
        if kind not in QUESTION_TYPES:
            err(path + ("type",), f"must be one of {', '.join(QUESTION_TYPES)}, not {kind!r}"
                f"{_suggest(kind, QUESTION_TYPES) if kind else ''}")
            continue
        if not text.strip():
            err(path + ("text",), "missing: the question the participant reads")
            continue
        points = body.get("points", 5)
        if not 2 <= points <= 11:
            err(path + ("points",), f"a Likert item has 2 to 11 points, not {points}")
            continue
        labels = _text_list(body, "labels", path, err)
        if labels and len(labels) != 2:
            err(path + ("labels",), "give two labels: the words at the low and at the high end")
            continue
        choices = _text_list(body, "choices", path, err)
        if kind == "choice" and len(choices) < 2:
            err(path + ("choices",), "a choice item needs at least two choices")
            continue
        out.append(Question(qid, kind, text.strip(), body.get("required", True), points,
                            (labels[0], labels[1]) if labels else ("", ""), choices))
    return tuple(out)


def load_study(path: str | Path) -> Study:
    """Read and parse a study file; StudyError(unreadable=True) when it cannot be read or is not TOML."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise StudyError([Problem("", f"cannot read the study file ({e.strerror or e})")], str(path), unreadable=True) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise StudyError([Problem("", "the file is not UTF-8 text", line)], str(path), unreadable=True) from None
    return parse_study(text, path, data=data)


# -- the catalog the study names ------------------------------------------------------------------
@dataclass
class CatalogCheck:
    folder: Path | None
    clips: int = 0
    problems: list[Problem] = field(default_factory=list)
    resolved_warmups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # condition -> clip ids
    note: str = ""


def _resolver(clips: Sequence[tuple[str, str]]) -> Any:
    """clips: (id, path relative to the folder). Returns name -> (clip id | None, problem | None)."""
    by_id = {cid: cid for cid, _ in clips}
    by_rel = {rel: cid for cid, rel in clips}
    by_file: dict[str, list[str]] = {}
    for cid, rel in clips:
        by_file.setdefault(rel.rsplit("/", 1)[-1], []).append(cid)

    def resolve(name: str) -> tuple[str | None, str | None]:
        if name in by_id:
            return by_id[name], None
        if name in by_rel:
            return by_rel[name], None
        hits = by_file.get(name, [])
        if len(hits) == 1:
            return hits[0], None
        if len(hits) > 1:
            return None, f"{name!r} matches {len(hits)} clips in different folders; give its path or id"
        return None, f"{name!r} is not a clip of the catalog (give a clip id, a file name or a path relative to the catalog)"

    return resolve


def resolve_clip_names(names: Sequence[str], clips: Sequence[Any], folder: str | Path | None = None) -> tuple[list[Any], list[str]]:
    """The clips named by ``names`` (warm-up or practice lists), in order, and a sentence per name that
    does not resolve. ``clips`` are ``feedapp.core.model.Clip``; ``folder`` is the catalog folder
    (to match paths relative to it). A name is a clip id, a relative path, or a unique file name."""
    base = Path(folder).absolute() if folder is not None else None
    entries, by_id = [], {}
    for c in clips:
        rel = Path(c.path).name
        if base is not None:
            try:
                rel = Path(c.path).absolute().relative_to(base).as_posix()
            except ValueError:
                pass
        entries.append((c.id, rel))
        by_id[c.id] = c
    resolve = _resolver(entries)
    found, problems = [], []
    for name in names:
        cid, why = resolve(name)
        if why:
            problems.append(why)
        elif cid is not None:
            found.append(by_id[cid])
    return found, problems


def check_catalog(study: Study, text: str = "", *, demo_dir: Path | None = None, cache: Any = None) -> CatalogCheck:
    """Check the catalog the study names: the folder exists, every clip will play, warm-ups resolve.

    ``demo_dir`` is ``--clips``: the folder is ``study.clips_folder(demo_dir)``, the one ``lab run`` plays.
    ``cache``: a probe cache for the scan (``lab run`` passes its database's, read-only).

    Uses ``feedapp.media.scan.load_folder`` (accepted clips + rejections with reasons). For
    ``catalog = "demo"``: when the demo clips have not been made yet (first run or ``feedapp
    make-demo`` makes them) the warm-up names are checked against the demo plan instead.
    """
    loc = _Locator(text)

    def prob(path_: tuple[str, ...], message: str, severity: str = "error") -> Problem:
        return Problem(".".join(path_), message, loc.line(path_), None, severity)

    result = CatalogCheck(folder=None)
    entries: list[tuple[str, str]] = []
    folder = study.clips_folder(demo_dir)
    result.folder = folder
    made = True
    if study.catalog == "demo":
        from feedapp.media.demo_plan import plan_demo

        plan = plan_demo(0)
        made = folder.is_dir() and all((folder / item.file).exists() for item in plan)
        if not made:
            result.note = (f"the demo clips are not made yet in {folder}; `feedapp lab run` (or `feedapp make-demo "
                           f"--clips {folder}`) makes them there ({len(plan)} clips); checked against the demo plan")
            result.problems.append(prob(("study", "catalog"), result.note, "warning"))
            entries = [(item.id, item.file) for item in plan]
            result.clips = len(plan)
    if made:
        try:
            from feedapp.media.scan import load_folder, probe_progress
        except ImportError as e:  # pragma: no cover - media exists in this tree
            result.problems.append(prob(("study", "catalog"), f"cannot check the clips: feedapp.media.scan is not available ({e})"))
            return result
        from feedapp.config import ConfigError

        try:
            scan = load_folder(folder, cache=cache, progress=probe_progress(sys.stderr, cached=cache is not None))
        except ConfigError as e:  # FolderError: missing, not a folder, unreadable, bad sidecar
            result.problems.append(prob(("study", "catalog"), str(e)))
            return result
        for rej in scan.rejected:
            try:
                rel = Path(rej.path).relative_to(folder.absolute()).as_posix()
            except ValueError:
                rel = rej.path
            result.problems.append(prob(("study", "catalog"), f"clip {rel} will not play: {rej.reason}"))
        result.clips = len(scan.accepted)
        if not scan.accepted:
            result.problems.append(prob(("study", "catalog"), f"no clip in {folder} can be played"))
        base = folder.absolute()
        for c in scan.accepted:
            try:
                rel = Path(c.path).relative_to(base).as_posix()
            except ValueError:
                rel = Path(c.path).name
            entries.append((c.id, rel))
    resolve = _resolver(entries)
    for cond in study.conditions:
        ids = []
        for name in cond.warmup:
            cid, why = resolve(name)
            if why:
                result.problems.append(prob(("conditions", cond.name, "warmup"), why))
            elif cid is not None:
                ids.append(cid)
        result.resolved_warmups[cond.name] = tuple(ids)
    for name in study.practice.use:
        _, why = resolve(name)
        if why:
            result.problems.append(prob(("practice", "use"), why))
    if result.clips and study.practice.clips >= result.clips:
        result.problems.append(prob(("practice", "clips"),
                                    f"{study.practice.clips} practice clips but the catalog has only {result.clips}"))
    return result
