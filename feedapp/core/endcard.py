"""What the taste panel and the end-of-session card say, derived from what the engine exposes. Qt-free.

Nothing here is invented: every figure comes from the engine's views, rewards, picks and profile
history (``FeedEngine.views``, ``.rewards``, ``.pick_at``, ``.profile_history()``), and every
sentence of "why this clip" comes from the pick's ``reasons`` plus counts over the views.

- ``session_figures``: views, skips, mean watch ratio, watch time, creators discovered.
- ``explain``: the score of a pick split into its parts, and plain sentences
  ("Because you watched 3 #cooking clips to the end").
- ``ProfileSeries``: each topic's affinity after every view (kept incrementally) and the moment a
  taste "clicked" (``click_view``).

"Since the refresh": an engine that supports "Refresh my feed" keeps its session's views but starts
a fresh profile; ``views_since_refresh`` reads where the fresh start was (``engine.refreshed_at``,
a list of view counts, when the engine has it; else 0) so the sentences count only what the fresh
profile has learned from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from feedapp.core.model import Clip, Pick, View
from feedapp.core.reward import typical_play_s

CLICK_THRESHOLD = 0.3
CLICK_MIN_VIEWS = 3
CLICK_RELEASE = 0.0
"""A topic "clicks" at the first view where its affinity reaches ``CLICK_THRESHOLD`` with at least
``CLICK_MIN_VIEWS`` views (one lucky view is not a taste), and stays clicked until its affinity falls
below ``CLICK_RELEASE`` (hysteresis). Affinities of topics not shown lately decay towards 0 but never
below it, so a marker once shown is withdrawn only when the viewer's own views turn the topic
negative, never by that decay; it can click again later, at the view where it reaches the threshold
again."""


def watched_to_end(view: View, clip: Clip) -> bool:
    """Played at least the clip's whole length (or looped at least once)."""
    return view.loops >= 1 or (clip.duration_ms > 0 and view.play_ms >= clip.duration_ms - 50)


def views_since_refresh(engine: Any) -> int:
    """Index into ``engine.views`` where the current (fresh) profile started; 0 without refreshes."""
    marks = getattr(engine, "refreshed_at", None) or ()
    return int(marks[-1]) if marks else 0


# -- session figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFigures:
    views: int
    skips: int
    mean_watch_ratio: float  # mean of play_ms / duration over the views (nan before the first view)
    watch_s: float  # sum of play_ms, in seconds
    dwell_s: float  # sum of dwell_ms, in seconds
    creators_seen: int  # distinct creators of the clips viewed
    creators_discovered: int  # distinct creators with at least one view that was not a skip
    followed: tuple[str, ...] = ()

    @property
    def skip_share(self) -> float:
        return self.skips / self.views if self.views else math.nan


def session_figures(views: Sequence[View], clips: Mapping[str, Clip], followed: Sequence[str] = ()) -> SessionFigures:
    """Figures over ``views`` (the engine's closed views); ``clips`` maps clip id -> Clip."""
    ratios = []
    seen: set[str] = set()
    discovered: set[str] = set()
    skips = 0
    play = dwell = 0.0
    for v in views:
        clip = clips.get(v.clip_id)
        skips += bool(v.skipped)
        play += v.play_ms
        dwell += v.dwell_ms
        if clip is None:
            continue
        ratios.append(v.play_ms / max(1, clip.duration_ms))
        seen.add(clip.creator)
        if not v.skipped:
            discovered.add(clip.creator)
    return SessionFigures(
        views=len(views),
        skips=skips,
        mean_watch_ratio=sum(ratios) / len(ratios) if ratios else math.nan,
        watch_s=play / 1000.0,
        dwell_s=dwell / 1000.0,
        creators_seen=len(seen),
        creators_discovered=len(discovered),
        followed=tuple(sorted(followed)),
    )


def clock_text(seconds: float) -> str:
    """'4:05' or '1:02:03'."""
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# -- why this clip ----------------------------------------------------------------------------------

PART_KINDS = ("topic", "creator", "visual", "length", "unsure", "fatigue", "repeat", "other")
PART_NAMES = {
    "topic": "topics",
    "creator": "creator",
    "visual": "visual likeness",
    "length": "length",
    "unsure": "uncertainty bonus",
    "fatigue": "cool-down",
    "repeat": "shown before",
    "other": "rest of the score",
}

_SERVED = re.compile(r"^served (\d+)x before, last (\d+) ago$")
_SIGNED = re.compile(r"^(?P<label>.+?)\s+(?P<value>[+-]\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Part:
    kind: str  # one of PART_KINDS
    label: str  # e.g. "cooking", "mila", "8-12s"
    value: float


@dataclass(frozen=True)
class Explanation:
    score: float
    propensity: float
    explore: bool
    parts: tuple[Part, ...]  # signed parts of the score, largest first; "other" is the rest
    sentences: tuple[str, ...]  # plain words, most important first
    notes: tuple[str, ...] = ()  # reasons that are not numbers (e.g. "followed")
    revisit: bool = False

    def total(self, kind: str) -> float:
        return sum(p.value for p in self.parts if p.kind == kind)


def parse_reasons(reasons: Sequence[str]) -> tuple[list[Part], list[str]]:
    """Split a pick's reasons into numeric parts of the score and the other notes.

    The rankers write ``"topic:cooking +0.42"``, ``"creator:mila +0.10"``, ``"visual:3 +0.02"``,
    ``"duration:8-12s -0.05"``, ``"uncertainty +0.12"``; the policy writes ``"topic fatigue -0.10"``,
    ``"creator fatigue -0.30"``, ``"repeat -0.42"`` (the cut for earlier servings) and notes like
    ``"explore: uniform"`` or ``"served 2x before, last 25 ago"`` (``"served 2x before"`` in older logs).
    """
    parts: list[Part] = []
    notes: list[str] = []
    for r in reasons:
        m = _SIGNED.match(r.strip())
        if m is None:
            notes.append(r)
            continue
        label, value = m["label"], float(m["value"])
        if label.startswith("topic:"):
            parts.append(Part("topic", label[6:], value))
        elif label.startswith("creator:"):
            parts.append(Part("creator", label[8:], value))
        elif label.startswith("visual:"):
            parts.append(Part("visual", label[7:], value))
        elif label.startswith("duration:"):
            parts.append(Part("length", label[9:], value))
        elif label == "uncertainty":
            parts.append(Part("unsure", "", value))
        elif label == "repeat":
            parts.append(Part("repeat", "", value))
        elif label.endswith("fatigue"):
            parts.append(Part("fatigue", label.split()[0], value))
        else:
            parts.append(Part("other", label, value))
    return parts, notes


def length_words(label: str) -> str:
    """A duration bucket's label in plain words: "0-5s" -> "short clips (under 5 s)", "8-12s" -> "clips of
    8-12 s", ">=30s" -> "long clips (30 s or more)"."""
    m = re.match(r"^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)s$", label)
    if m and float(m[1]) == 0:
        return f"short clips (under {m[2]} s)"
    if m:
        return f"clips of {m[1]}-{m[2]} s"
    m = re.match(r"^>=(\d+(?:\.\d+)?)s$", label)
    if m:
        return f"long clips ({m[1]} s or more)"
    return f"clips of {label}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def explain(
    pick: Pick | None,
    clip: Clip,
    views: Sequence[View],
    clips: Mapping[str, Clip],
    *,
    epsilon: float | None = None,
    repeat_penalty: float | None = None,
    following: Sequence[str] = (),
    revisit: bool = False,
) -> Explanation:
    """Why ``clip`` was served: its pick's score split into parts, and sentences a viewer understands.

    ``views`` are the views the current profile learned from (``engine.views[views_since_refresh:]``):
    the counts in the sentences ("3 #cooking clips to the end") are taken over them. ``epsilon`` and
    ``repeat_penalty`` are the policy's parameters (``engine.ranker.params``): with them the share of
    random picks is named and an older log's "served 2x before" becomes a part of the score
    (``-repeat_penalty * 2``, the cut the policy applied then; newer picks carry the cut as
    ``"repeat -0.42"``, which decays with the time since each serving). A repeat whose learned parts
    (topics, creator, length, look) add up to more than zero is named as a returning favourite.
    ``revisit``: the viewer came back to this clip (swiped back to it).
    """
    if pick is None:  # a revisit of history or a feed without picks
        return Explanation(math.nan, math.nan, False, (), ("You came back to this clip.",) if revisit else (), (), revisit)
    parts, notes = parse_reasons(pick.reasons)
    if repeat_penalty:
        for n in list(notes):
            m = re.match(r"^served (\d+)x before$", n)
            if m:
                notes.remove(n)
                parts.append(Part("repeat", m[1], -repeat_penalty * int(m[1])))
    grouped: dict[tuple[str, str], float] = {}
    for p in parts:  # visual dimensions are one part ("visual likeness"), topics and creators stay apart
        key = (p.kind, "" if p.kind in ("visual", "unsure") else p.label)
        grouped[key] = grouped.get(key, 0.0) + p.value
    merged = [Part(k, lab, v) for (k, lab), v in grouped.items()]
    rest = pick.score - sum(p.value for p in merged)
    if abs(rest) >= 0.005:
        merged.append(Part("other", "", rest))
    merged.sort(key=lambda p: -abs(p.value))

    by_topic_end: dict[str, int] = {}
    by_topic_skip: dict[str, int] = {}
    by_creator_end: dict[str, int] = {}
    by_creator_skip: dict[str, int] = {}
    for v in views:
        c = clips.get(v.clip_id)
        if c is None:
            continue
        end = watched_to_end(v, c)
        for t in dict.fromkeys(c.topics):
            if end:
                by_topic_end[t] = by_topic_end.get(t, 0) + 1
            if v.skipped:
                by_topic_skip[t] = by_topic_skip.get(t, 0) + 1
        if end:
            by_creator_end[c.creator] = by_creator_end.get(c.creator, 0) + 1
        if v.skipped:
            by_creator_skip[c.creator] = by_creator_skip.get(c.creator, 0) + 1

    sentences: list[str] = []
    for n in notes:
        if n.startswith("explore: uniform"):
            share = f" (about {epsilon:.0%} of picks are)" if epsilon else ""
            sentences.append(f"A random pick, to explore beyond your taste{share}.")
        elif n.startswith("explore: new creator"):
            sentences.append(f"@{clip.creator} is new to your feed: new creators get a fair first chance.")
        elif n == "followed" or (clip.creator in following and n.startswith("follow")):
            sentences.append(f"You follow @{clip.creator}.")
        elif (m := _SERVED.match(n)) is not None:
            liked = sum(p.value for p in merged if p.kind in ("topic", "creator", "length", "visual")) > 0
            times, ago = _plural(int(m[1]), "time"), _plural(int(m[2]), "clip")
            cut = next((f" ({p.value:+.2f})" for p in merged if p.kind == "repeat" and not p.label), "")
            if liked:
                sentences.append(f"A favourite back: you saw it {times}, last {ago} ago; a repeat counts "
                                 f"less the more recently it was shown{cut}.")
            else:
                sentences.append(f"Shown {times} before, last {ago} ago, so it counts less{cut}.")
        elif n.startswith("served ") and n.endswith("before"):
            sentences.append(f"Shown {n[len('served '):].replace('x before', '')} time(s) before in this feed.")
        elif n == "popular fallback":
            sentences.append("Nobody you follow has a clip here, so a popular one fills the slot.")
        elif n.startswith("created "):
            sentences.append(f"Fresh: made {n[len('created '):]}.")
        elif re.match(r"^\d+ views$", n):
            sentences.append(f"Popular: {n} by everyone on this device.")
        else:
            sentences.append(n[0].upper() + n[1:] + ("" if n.endswith(".") else "."))
    for p in merged:
        if abs(p.value) < 0.01:
            continue
        if p.kind == "topic":
            if p.value > 0:
                k = by_topic_end.get(p.label, 0)
                if k:
                    sentences.append(f"Because you watched {_plural(k, f'#{p.label} clip')} to the end ({p.value:+.2f}).")
                else:
                    sentences.append(f"You watched #{p.label} clips longer than usual ({p.value:+.2f}).")
            else:
                k = by_topic_skip.get(p.label, 0)
                what = f"You skipped {_plural(k, f'#{p.label} clip')}" if k else f"#{p.label} clips did not hold you"
                sentences.append(f"{what}, so it counts against ({p.value:+.2f}).")
        elif p.kind == "creator":
            if p.value > 0:
                k = by_creator_end.get(p.label, 0)
                if k:
                    sentences.append(f"You watched {_plural(k, 'clip')} by @{p.label} to the end ({p.value:+.2f}).")
                else:
                    sentences.append(f"You watched @{p.label} longer than usual ({p.value:+.2f}).")
            else:
                k = by_creator_skip.get(p.label, 0)
                what = f"You skipped {_plural(k, 'clip')} by @{p.label}" if k else f"@{p.label} did not hold you"
                sentences.append(f"{what} ({p.value:+.2f}).")
        elif p.kind == "visual":
            look = "clips you watched long" if p.value > 0 else "clips you skipped"
            sentences.append(f"It looks like {look} ({p.value:+.2f}).")
        elif p.kind == "length":
            what = length_words(p.label)
            if p.value > 0:
                sentences.append(f"A length preference: you tend to watch {what} longer than usual ({p.value:+.2f}).")
            else:
                sentences.append(f"A length preference: {what} tend not to hold you ({p.value:+.2f}).")
        elif p.kind == "unsure":
            sentences.append(f"The feed is still unsure about clips like this, so it tries one ({p.value:+.2f}).")
        elif p.kind == "fatigue":
            what = f"#{', #'.join(clip.topics)}" if p.label == "topic" else f"@{clip.creator}"
            sentences.append(f"Held back a little: you just saw {what} ({p.value:+.2f}).")
        elif p.kind == "repeat" and p.label:  # an older log's "served 2x before" (newer: said with its note)
            sentences.append(f"Shown {_plural(int(p.label), 'time')} before in this feed, so it counts less ({p.value:+.2f}).")
    if not sentences:
        sentences.append("Nothing stands out yet: the feed has not learned enough about you.")
    if revisit:
        sentences.insert(0, "You came back to this clip. It was served here because:")
    return Explanation(pick.score, pick.propensity, pick.explore, tuple(merged), tuple(sentences), tuple(notes), revisit)


# -- the profile over time --------------------------------------------------------------------------


def _a(number: str) -> str:
    """"a" or "an" before a number as it is read ("an 8 s clip", "an 11 s clip", "a 28 s clip")."""
    whole = number.split(".")[0]
    spoken_vowel = whole.startswith("8") or (whole[:2] in ("11", "18") and len(whole) in (2, 5, 6))
    return "an" if spoken_vowel else "a"


def last_view_sentence(view: View, clip: Clip, reward: float, before: Mapping[str, float],
                       after: Mapping[str, float]) -> str | None:
    """What the last view did to the taste profile, in plain words, with the real change.

    ``before`` / ``after``: topic -> affinity just before and after the view (two consecutive
    ``engine.profile_history()`` snapshots' ``"topics"``). The topic of the clip that moved most
    (at least 0.05) is named with its change; the reward says why (``feedapp.core.reward`` compares
    the play time with what is usual for a clip of that length): "You watched 8.0 s of a 28 s #ocean
    clip: less than usual for its length (about 13 s), so #ocean went down (0.77 -> 0.35)." An
    affinity is a decaying average of rewards, so a view can also lower a topic while being usual for
    its length ("..., but less than your earlier #ocean views"). None when nothing moved clearly.
    """
    dur, play = clip.duration_ms / 1000.0, view.play_ms / 1000.0
    moves = [(abs(after.get(t, 0.0) - before.get(t, 0.0)), t) for t in dict.fromkeys(clip.topics)]
    if not moves or view.not_interested or dur <= 0:
        return None
    change, topic = max(moves)
    if change < 0.05:
        return None
    old, new = before.get(topic, 0.0), after.get(topic, 0.0)
    down = new < old
    moved = f"so #{topic} went {'down' if down else 'up'} ({old:.2f} \u2192 {new:.2f})"

    def secs(x: float) -> str:
        return f"{x:.1f} s" if x < 10 else f"{x:.0f} s"

    length = f"{_a(secs(dur))} {secs(dur)} #{topic} clip"
    if view.skipped:
        what = f"You skipped {length} after {secs(play)}: a quick skip counts against it"
        return f"{what}, {moved}." if down else None
    if view.loops >= 1:
        what = f"You watched {length} {view.loops + 1} times"
    else:
        usual = typical_play_s(dur)
        how = "less" if reward < 0 else "more"
        what = f"You watched {secs(play)} of {length}: {how} than usual for its length (about {secs(usual)})"
    if (reward < 0) == down:
        return f"{what}, {moved}."
    return f"{what}, but {'less' if down else 'more'} than your earlier #{topic} views, {moved}."


@dataclass
class ProfileSeries:
    """Each topic's affinity after every view, built from ``engine.profile_history()`` incrementally.

    ``update(history)`` reads only the snapshots it has not seen; a shorter history (a fresh profile
    after "Refresh my feed") starts the series again.
    """

    topics: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, list[int]] = field(default_factory=dict)  # views of the topic after each view
    views: int = 0
    _first_id: int | None = None

    def update(self, history: Sequence[Mapping[str, Any]]) -> bool:
        """Bring the series up to ``history``; True when something changed."""
        first = id(history[0]) if history else None
        reset = len(history) < self.views or bool(history and self.views and first != self._first_id)
        if reset:
            self.topics.clear()
            self.counts.clear()
            self.views = 0
        if len(history) == self.views:
            return reset  # a fresh profile with no view yet: emptied, which is a change to draw
        self._first_id = first
        for snap in history[self.views :]:
            aff = snap.get("topics", {})
            seen = snap.get("topic_views", {})
            assert isinstance(aff, Mapping) and isinstance(seen, Mapping)
            for t in aff:
                if t not in self.topics:
                    self.topics[t] = [0.0] * self.views
                    self.counts[t] = [0] * self.views
            for t, series in self.topics.items():
                series.append(float(aff.get(t, series[-1] if series else 0.0)))
                c = self.counts[t]
                c.append(int(seen.get(t, c[-1] if c else 0)))
            self.views += 1
        return True

    def click_view(self, topic: str, threshold: float = CLICK_THRESHOLD, min_views: int = CLICK_MIN_VIEWS,
                   release: float = CLICK_RELEASE) -> int | None:
        """The view number (1-based) at which ``topic`` clicked and has stayed clicked since, or None
        (see ``CLICK_THRESHOLD``: on at ``threshold`` with ``min_views`` views, off below ``release``)."""
        s = self.topics.get(topic)
        c = self.counts.get(topic)
        if not s or not c:
            return None
        since = None
        for i, (a, n) in enumerate(zip(s, c)):
            if since is None:
                if a >= threshold and n >= min_views:
                    since = i + 1
            elif a < release:
                since = None
        return since

    def clicks(self, threshold: float = CLICK_THRESHOLD) -> dict[str, int]:
        """Topic -> view number at which it clicked, earliest first."""
        out = {t: v for t in self.topics if (v := self.click_view(t, threshold)) is not None}
        return dict(sorted(out.items(), key=lambda kv: (kv[1], kv[0])))


def top_topics(profile: Mapping[str, Any], k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` topics with the highest positive affinity in a profile snapshot."""
    aff = profile.get("topics", {})
    assert isinstance(aff, Mapping)
    return [(t, float(a)) for t, a in sorted(aff.items(), key=lambda kv: (-kv[1], kv[0])) if a > 0][:k]
