"""Plain, frozen data that every layer passes around. No Qt, no OpenCV, no SQLite here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")
#: Other video types (camcorders, old phones, broadcast and screen recorders): not played, but named as video
#: files that will not play (with how to convert them), not counted among the files that are not video.
OTHER_VIDEO_EXTENSIONS = (".3gp", ".3g2", ".mpg", ".mpeg", ".m2v", ".ts", ".mts", ".m2ts", ".wmv", ".asf", ".flv",
                          ".f4v", ".ogv", ".vob", ".mxf", ".dv", ".rm", ".rmvb", ".divx")


def quick_init(cls: type) -> type:
    """Give a frozen dataclass an ``__init__`` that fills the instance's ``__dict__`` at once.

    Why: a frozen dataclass's own ``__init__`` sets each field through ``object.__setattr__``, about
    0.13 us a field, and the engine makes a ``View``, ``Pick``, ``Decision`` and ``Reward`` (12-13
    fields) for every view; the simulator makes 400,000 of each. The generated ``__init__`` takes the
    same parameters with the same defaults (``default_factory`` called per instance) and stores the
    same values, so the instances are indistinguishable (equality, hash, repr, ``replace``, still
    frozen). Apply it above ``@dataclass(frozen=True)``; fields must all be ``init`` fields, not
    keyword-only, and the class must have no ``__post_init__``.
    """
    fields = dataclasses.fields(cls)
    if any(not f.init or f.kw_only for f in fields) or hasattr(cls, "__post_init__"):
        raise TypeError(f"quick_init cannot build {cls.__name__}'s __init__ (init=False, kw_only or __post_init__)")
    ns: dict[str, object] = {"_NOTHING": _NOTHING}
    params, factories = [], []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            ns[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            ns[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_NOTHING")
            factories.append(f"    if {f.name} is _NOTHING:\n        {f.name} = _factory_{f.name}()\n")
        else:
            params.append(f.name)
    store = ", ".join(f"{f.name}={f.name}" for f in fields)
    src = f"def __init__(self, {', '.join(params)}):\n{''.join(factories)}    self.__dict__.update({store})\n"
    exec(src, ns)  # noqa: S102 - source built from the dataclass's own field names
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init
    return cls


_NOTHING = object()  # "no value given" for a field with a default_factory


@dataclass(frozen=True)
class Clip:
    """One playable video with its metadata and probe results.

    ``width``/``height`` are the *display* size (after applying ``rotation``), so a phone video shot
    upright reports a portrait size even when its stored frames are landscape.
    """

    id: str
    path: str
    title: str
    topics: tuple[str, ...]
    creator: str
    duration_ms: int
    fps: float
    width: int
    height: int
    rotation: int = 0  # degrees clockwise that the stored frames must be turned to display upright
    created: str = ""  # ISO 8601 date, "" when unknown
    features: tuple[float, ...] = ()  # visual features from probing (see media.features)
    poster: bytes = field(default=b"", repr=False, compare=False)  # small JPEG poster frame

    @property
    def orientation(self) -> str:
        if self.height > self.width:
            return "portrait"
        if self.width > self.height:
            return "landscape"
        return "square"


@dataclass(frozen=True)
class Rejection:
    """A file that was looked at and will not be played, with a reason a researcher understands."""

    path: str
    reason: str


@dataclass(frozen=True)
class ScanResult:
    accepted: tuple[Clip, ...]
    rejected: tuple[Rejection, ...]
    # (size, modification time in ns) of each accepted clip's file (by path) as it was probed: the player
    # refuses a file that has changed since (replaced while the app runs) rather than log a 12 s clip as 2 s
    stamps: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False)


# -- records of the ranker issue: what was served and how it was watched --------------------------


@quick_init
@dataclass(frozen=True)
class View:
    """How one impression of a clip was watched: it closes the impression (see ARCHITECTURE.md).

    ``play_ms`` counts only time actually playing and includes loops, so ``play_ms / duration``
    above 1 means the clip looped. ``skipped`` is decided by whoever measured the view (the UI
    applies the configured skip threshold, default 3000 ms); the reward trusts it. ``position`` is the
    impression's place in the session, from 0, swipes back included (``impressions.position`` in the
    log). None: not known to whoever made the view (a simulated viewer); ``FeedSession`` then fills in
    the impression's place it counted, and ``FeedEngine.finish`` called directly fills in the feed slot
    of the current clip (the same for a driver that only swipes forward). A
    ranker whose ``learn_one`` takes a third argument receives the whole view (docs/rankers.md).
    """

    clip_id: str
    dwell_ms: float
    play_ms: float
    loops: int = 0
    skipped: bool = False
    liked: bool = False
    not_interested: bool = False
    revisit: bool = False  # the viewer came back to a clip already shown in this feed
    exit: str = ""  # how the impression ended: "swipe_next", "swipe_prev", "quit", ...
    paused_ms: float = 0.0
    unfocused_ms: float = 0.0
    position: int | None = None  # the impression's place in the session, from 0 (impressions.position)


@quick_init
@dataclass(frozen=True)
class Pick:
    """The policy's decision for one slot of the feed: log it with the impression.

    ``propensity`` is the exact probability that the policy would have put this clip in this slot
    given everything it knew; it is what makes off-policy evaluation (IPS, SNIPS, DR) possible.
    What the decision saw, so that replay can put the engine in the same state (docs/data.md):
    ``views`` is how many views the engine had learned from when it decided (with the preloading
    UI, the clip after the current one is decided before the current view ends); ``live`` how many
    live changes (parameter changes, follows, refreshes, plugin reloads, catalog growth) had been
    applied; ``params_version`` how many of those were parameter changes; ``ranker_version`` the
    ranker's code version (``builtin:NAME`` or a plugin's source hash); ``scripted`` is True for a
    slot fixed in advance (warm-up, practice): not a ranker pick, left out of OPE and exploration.
    """

    clip_id: str
    position: int
    ranker: str
    score: float
    propensity: float
    explore: bool
    reasons: tuple[str, ...] = ()
    views: int = 0
    live: int = 0
    params_version: int = 0
    ranker_version: str = ""
    scripted: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "clip_id": self.clip_id,
            "position": self.position,
            "ranker": self.ranker,
            "score": self.score,
            "propensity": self.propensity,
            "explore": self.explore,
            "reasons": list(self.reasons),
            "views": self.views,
            "live": self.live,
            "params_version": self.params_version,
            "ranker_version": self.ranker_version,
            "scripted": self.scripted,
        }


@dataclass(frozen=True)
class QueueEntry:
    """One row of the upcoming queue the developer panel shows: clip, score, propensity, reasons."""

    clip: Clip
    score: float
    propensity: float
    reasons: tuple[str, ...]
    decided: bool  # True: already chosen (the player may have preloaded it); False: likeliest next
