"""What the log stores, as plain frozen records. Meaning of every field: docs/data.md.

Times: ``*_mono_ns`` come from one monotonic clock (``time.monotonic_ns()``), stamped at the input
event; ``*_utc`` are ISO 8601 wall-clock strings for humans. Durations are milliseconds (float).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class SessionRecord:
    id: str
    app_version: str
    mode: str
    ranker: str
    ranker_params: dict[str, Any]
    seed: int
    catalog_fingerprint: str
    catalog_size: int
    participant: str
    condition: str
    skip_threshold_ms: int
    started_utc: str
    started_mono_ns: int
    host: str = ""
    study: str = ""  # the lab study's name; "" outside lab sessions
    pid: int = 0  # the recording process (crash detection on the same host)
    boot_id: str = ""  # this boot of the host (core/identity.py); "" when unknown
    proc_start: int | None = None  # the recording process's start, clock ticks after boot; None when unknown
    fields: dict[str, Any] = field(default_factory=dict)  # a lab study's start-dialog fields (sessions.fields)


@dataclass(frozen=True)
class ImpressionRecord:
    id: str
    session_id: str
    position: int
    clip_id: str
    reached_by: str
    is_revisit: bool
    policy: str
    score: float | None
    propensity: float | None
    exploration: bool
    input_mono_ns: int
    settled_mono_ns: int
    settled_utc: str
    first_frame_ms: float | None = None
    # what the decision that served this slot saw (NULL for revisits and slots without a ranker):
    views_learned: int | None = None  # views the engine had learned from when it decided
    live_seq: int | None = None  # live changes applied by then (events of kind live_change)
    params_version: int | None = None  # parameter changes among them (0 = the session's start parameters)
    ranker_version: str | None = None  # builtin:NAME or plugin:<source sha256, 16 hex>
    scripted: bool = False  # a slot fixed in advance (warm-up, practice), not a ranker pick
    served_again: bool = False  # a new slot showing a clip already shown earlier in the session (not a revisit)


@dataclass(frozen=True)
class ViewRecord:
    impression_id: str
    session_id: str
    dwell_ms: float
    play_ms: float
    paused_ms: float
    unfocused_ms: float
    stalled_ms: float
    watch_ratio: float
    loops: int
    skipped: bool
    exit: str
    liked: bool
    not_interested: bool
    ended_mono_ns: int
    ended_utc: str
    final: bool


@dataclass(frozen=True)
class EventRecord:
    id: str
    session_id: str
    kind: str
    mono_ns: int
    utc: str
    impression_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QuestionnaireAnswer:
    """One answer of a lab study's questionnaire after the feed (the ``questionnaire`` table)."""

    session_id: str
    item: str
    position: int  # the item's place in the questionnaire, from 0
    type: str  # likert | choice | text
    question: str
    answer: str | None  # as shown (the Likert point, the choice, the text); None: not answered
    value: float | None  # Likert: the point 1..n; else None
    mono_ns: int
    utc: str


@dataclass(frozen=True)
class SessionEnd:
    session_id: str
    end_reason: str
    ended_mono_ns: int
    ended_utc: str
    # The catalog as it stood at the end (the demo catalog grows while its clips are made); None keeps
    # what the session record said at the start.
    catalog_fingerprint: str | None = None
    catalog_size: int | None = None


@dataclass(frozen=True)
class ProfileSnapshot:
    session_id: str
    after_position: int
    mono_ns: int
    utc: str
    profile: dict[str, Any]


class EventSink(Protocol):
    """Where a session's records go (the SQLite log in the app; a list in tests)."""

    def clips_known(self, clips: tuple[Any, ...]) -> None: ...
    def session_started(self, rec: SessionRecord) -> None: ...
    def impression_started(self, rec: ImpressionRecord) -> None: ...
    def first_frame(self, impression_id: str, first_frame_ms: float) -> None: ...
    def view_updated(self, rec: ViewRecord) -> None: ...  # checkpoint (final=False) or closed view
    def event(self, rec: EventRecord) -> None: ...
    def profile_snapshot(self, rec: ProfileSnapshot) -> None: ...
    def session_ended(self, rec: SessionEnd) -> None: ...


class MemorySink:
    """Keeps every record in a list, in order: for tests, simulations and replays."""

    def __init__(self) -> None:
        self.records: list[tuple[str, Any]] = []

    def clips_known(self, clips: tuple[Any, ...]) -> None:
        self.records.append(("clips", clips))

    def session_started(self, rec: SessionRecord) -> None:
        self.records.append(("session", rec))

    def impression_started(self, rec: ImpressionRecord) -> None:
        self.records.append(("impression", rec))

    def first_frame(self, impression_id: str, first_frame_ms: float) -> None:
        self.records.append(("first_frame", (impression_id, first_frame_ms)))

    def view_updated(self, rec: ViewRecord) -> None:
        self.records.append(("view", rec))

    def event(self, rec: EventRecord) -> None:
        self.records.append(("event", rec))

    def profile_snapshot(self, rec: ProfileSnapshot) -> None:
        self.records.append(("profile", rec))

    def session_ended(self, rec: SessionEnd) -> None:
        self.records.append(("end", rec))

    def of(self, kind: str) -> list[Any]:
        return [r for k, r in self.records if k == kind]
