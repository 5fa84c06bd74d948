"""FeedEngine: the feed a viewer swipes through, chosen by a named ranker and learning from views.

Why a subclass of ``Feed``: the UI already drives ``Feed`` (``start``, ``peek``, ``decide_next``,
``move``, ``current``, ``position``, ``history``, ``is_revisit``, ``redecide_next``), so an engine
*is* a feed and the UI needs no change. The engine replaces how the next clip is chosen (``_choose``):
instead of "every clip once per cycle" it asks the ranker for scores and the shared policy
(``rankers/policy.py``) for a clip, logging a ``Pick`` (score, exact propensity, exploration flag,
reasons) for each served slot. Clips may come back after ``repeat_gap`` impressions, as on a real
feed whose catalog is small.

Determinism: the randomness of the pick for slot ``p`` comes from two generators keyed by
``(seed, p, views learned so far)`` (``rankers/rng.decision_streams``: one for the ranker's scores,
an independent one for the policy's draw), never from a shared stream. So the served sequence depends only
on catalog, ranker, parameters, seed, the views reported and how many had been reported when each
slot was decided (``Pick.views``), not on how often the UI peeked or re-decided in between.

When a slot is decided: only by ``decide_next()`` (or ``move(+1)`` onto an undecided slot), never by
a query (``peek``, ``upcoming``, ``decision``, ``next_clip``). Learning a view or a live change
forgets an undisplayed decision (``redecide_next``); a live change decides that slot again as soon
as it is complete (in ``_emit``, after it is counted and its listeners ran, which log it), so the
new decision sees the change and its ``Pick.live`` says so; after a view the slot waits for the next
``decide_next`` (``FeedSession.arrive`` calls it right after learning).

From the UI: ``feedapp.core.feed_session.FeedSession`` drives the engine (learn the closed view
when the next clip settles, log the impression with its ``Pick``, decide the slot after it).

Live changes (``LIVE_EVENTS``: parameter change, follow/unfollow, refresh, plugin reload, catalog
growth, a clip the player could not play) are counted (``live``, ``params_version``) and recorded in ``live_log``; every ``Pick``
carries the counts it was decided with, so replay can rebuild the state of each decision.

Warm-up clips (``warmup=[clip, ...]``, a lab study's fixed opening): served at positions 0..n-1 in
that order, each logged as a ``Pick`` with ranker ``"warmup"``, propensity 1.0 and no exploration
(the slot was fixed, not drawn); the engine still learns from their views, and the ranker takes over
at position n.

Hooks (Anki style names; ``engine.on(name, callback)``), declared in ``EVENTS`` (any other name is
refused at once): ``pick_did_decide(pick)``, ``view_did_finish(view, reward)``,
``profile_did_update(snapshot)``, ``ranker_param_did_change(name, old, new)``,
``following_did_change(creators)``, ``feed_did_refresh(info)``, ``catalog_did_grow(clips)``, and from a
plugin host ``ranker_did_reload(info)``, ``ranker_did_fail(info)``, ``ranker_serving_did_change(info)``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from feedapp.core.catalog import Catalog
from feedapp.core.features import FeatureSpace
from feedapp.core.feed import Feed
from feedapp.core.model import Clip, Pick, QueueEntry, View
from feedapp.core.profile import TasteProfile
from feedapp.core.records import ViewRecord
from feedapp.core.rankers.base import BaseRanker, World, learn
from feedapp.core.rankers.policy import Decision, cut_reasons, decide, ranker_context
from feedapp.core.rankers.registry import DEFAULT_RANKER
from feedapp.core.rankers.rng import decision_streams
from feedapp.core.reward import (
    UNPLAYABLE_EXIT,
    DurationQuantiles,
    Reward,
    RewardConfig,
    ViewError,
    compute_reward,
)

WARMUP_POLICY = "warmup"  # Pick.ranker (impressions.policy) of a fixed warm-up slot

# Hooks that change what the next decision sees; each is a "live change", counted (``engine.live``)
# and recorded in ``engine.live_log`` so replay can apply it at the same point of the feed.
LIVE_EVENTS = {
    "ranker_param_did_change": "param",
    "following_did_change": "following",
    "feed_did_refresh": "refresh",
    "ranker_did_reload": "reload",
    "catalog_did_grow": "catalog",
    "ranker_serving_did_change": "serving",  # a guarded plugin fell back, or came back after a restart
    "clip_did_fail": "unplayable",  # the player could not play a clip: not served again while others can be
}


@functools.lru_cache(maxsize=64)
def _source_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def plugin_info(ranker: BaseRanker) -> dict[str, str] | None:
    """The plugin version serving (path, class, source text), or None for a ranker that is no plugin."""
    active = getattr(ranker, "active", ranker)  # a GuardedRanker serves ``active``
    pv = getattr(active, "plugin", None)  # a RemoteRanker's PluginVersion
    if not isinstance(getattr(pv, "source", None), str):  # a plugin class loaded in this process
        pv = getattr(type(active), "__feedapp_plugin__", None)  # set by plugins.exec_plugin_source
    source = getattr(pv, "source", None)
    if not isinstance(source, str):
        return None
    return {"path": str(pv.path), "class": str(pv.class_name), "source": source}


#: Every hook a FeedEngine emits, declared: ``engine.on`` refuses any other name at once (a misspelt
#: name would otherwise never fire), and ``_emit`` of an undeclared one is a bug.
EVENTS = frozenset({
    "pick_did_decide",  # (pick)
    "view_did_finish",  # (view, reward)
    "profile_did_update",  # (snapshot)
    "ranker_param_did_change",  # (name, old, new)
    "following_did_change",  # (creators)
    "feed_did_refresh",  # (info)
    "catalog_did_grow",  # (clips)
    "ranker_did_reload",  # (info) from a plugin host
    "ranker_did_fail",  # (info) from a plugin host
    "ranker_serving_did_change",  # (info) the guarded plugin swapped what serves
    "clip_did_fail",  # (clip_id) the player could not play it (mark_unplayable)
})


class UnknownEvent(ValueError):
    """A hook name that FeedEngine does not emit."""


def ranker_version(ranker: BaseRanker) -> str:
    """The code serving: ``builtin:NAME``, ``plugin:<sha256 of the serving version's source, 16 hex>``
    (a plugin served by ``PluginHost``), or ``class:module.Class`` for other classes."""
    active = getattr(ranker, "active", ranker)
    info = plugin_info(active)
    if info is not None:
        return "plugin:" + _source_hash(info["source"])
    module = type(active).__module__
    if module.startswith("feedapp.core.rankers"):
        return f"builtin:{active.name}"
    return f"class:{module}.{type(active).__qualname__}"


def view_from_record(record: ViewRecord, clip_id: str, revisit: bool = False, position: int | None = None) -> View:
    """The ``View`` the engine learns from, made from the session recorder's ``ViewRecord``.

    The record does not carry the clip, whether it was a revisit or its feed slot (they are on the
    impression), so the caller passes them: ``view_from_record(rec, imp.clip_id, imp.is_revisit, imp.position)``.
    """
    return View(
        clip_id=clip_id,
        dwell_ms=record.dwell_ms,
        play_ms=record.play_ms,
        loops=record.loops,
        skipped=record.skipped,
        liked=record.liked,
        not_interested=record.not_interested,
        revisit=revisit,
        exit=record.exit,
        paused_ms=record.paused_ms,
        unfocused_ms=record.unfocused_ms,
        position=position,
    )


class FeedEngine(Feed):
    def __init__(
        self,
        catalog: Catalog,
        ranker: str | BaseRanker = DEFAULT_RANKER,
        seed: int = 0,
        params: Mapping[str, object] | None = None,
        *,
        world: World | None = None,
        quantiles: DurationQuantiles | None = None,
        space: FeatureSpace | None = None,
        reward_config: RewardConfig = RewardConfig(),
        profile_decay: float = 0.97,
        record_profile: bool = True,
        explain: bool = True,
        warmup: Sequence[Clip] = (),
    ) -> None:
        """Build a feed over ``catalog`` served by ``ranker`` (a name from the registry, or an instance).

        ``world`` (popularity, followed creators), ``quantiles`` (watch-time scale) and ``space``
        (feature matrix) may be shared between engines, e.g. by a simulation of many viewers.
        ``record_profile=False`` keeps no profile snapshot per view (and the profile learns the views
        only when it is read: ``profile()``, ``taste``) and ``explain=False`` logs picks without reasons
        (neither the ranker's nor the policy's words; ``decision().why`` is empty too): a simulation of
        thousands of viewers needs neither. ``warmup`` clips (all in
        ``catalog``) are served first, in order, with policy ``"warmup"`` and propensity 1.0.
        """
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"seed must be a whole number, not {seed!r}")
        seed = int(seed)
        if isinstance(ranker, str):  # a registry name, or a plugin ``path/to/file.py:ClassName`` (in-process)
            from feedapp.core.plugins import make_any_ranker

            ranker = make_any_ranker(ranker, seed=seed, **dict(params or {}))
        else:
            for k, v in (params or {}).items():
                ranker.set_param(k, v)
        super().__init__(catalog, order=ranker)
        self.seed = seed
        self.ranker = ranker
        self.world = world if world is not None else World()
        self.space = space if space is not None else FeatureSpace()
        self.space.add(catalog.clips)
        ranker.bind(self.space, self.world)
        self.quantiles = quantiles if quantiles is not None else DurationQuantiles()
        self.reward_config = reward_config
        self._profile = TasteProfile(decay=profile_decay, record=record_profile)
        self._profile_due: list[tuple[Clip, float]] = []  # views the unrecorded profile learns when next read
        self._explain = explain
        self._blocked = np.zeros(self.space.n, dtype=bool)
        self.unplayable: set[str] = set()  # clips the player could not play (mark_unplayable)
        self._picks: list[Pick] = []  # aligned with history
        self._row_buf = np.zeros(64, dtype=np.intp)  # feature rows of history, in a buffer that doubles:
        self._n_rows = 0  # the policy reads them as an array (``_rows``), no list converted per decision
        self._n_before = 0  # rows served by a crashed session this feed continues (``continue_after``), first
        self.views: list[View] = []
        self.refreshed_at: list[int] = []  # view counts at which the viewer asked for a fresh feed
        self.rewards: list[float] = []
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._redecide_due = False  # an undisplayed decision was forgotten: decide again at the next live change
        self._choosing = False
        self.live = 0  # live changes applied so far (see LIVE_EVENTS)
        self.params_version = 0  # parameter changes among them
        self.live_log: list[dict[str, Any]] = []  # one entry per live change, in order (what replay applies)
        self.ranker_version = ranker_version(ranker)
        self.warmup: tuple[Clip, ...] = tuple(warmup)
        missing = [c.id for c in self.warmup if c.id not in self.space.row_of]
        if missing:
            raise ValueError(f"warm-up clip(s) not in the catalog: {', '.join(missing)}")
        catalog.on_grow(self._catalog_did_grow)

    def close(self) -> None:
        """Detach from the catalog and the feature space, which may be shared and outlive this engine
        (the simulator's viewers share both): their growth no longer reaches this engine or its
        ranker, and nothing there keeps them alive. The record (views, picks, rewards) stays readable."""
        self.catalog.off_grow(self._catalog_did_grow)
        self.ranker.unbind()

    # -- hooks ------------------------------------------------------------------------------------
    def on(self, event: str, callback: Callable[..., Any]) -> None:
        """Call ``callback`` on ``event`` (one of ``EVENTS``; any other name raises ``UnknownEvent``)."""
        if event not in EVENTS:
            import difflib

            close = difflib.get_close_matches(event, sorted(EVENTS), n=1)
            raise UnknownEvent(f"FeedEngine has no event {event!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                               + f" (its events: {', '.join(sorted(EVENTS))})")
        self._listeners.setdefault(event, []).append(callback)

    def _emit(self, event: str, *args: Any) -> None:
        assert event in EVENTS, f"undeclared engine event {event!r}"
        change = LIVE_EVENTS.get(event)
        if change is not None:
            self._record_live(change, *args)
        listeners = self._listeners.get(event)
        if listeners:  # (a simulated viewer's engine has none: three emits per view for nobody)
            for cb in list(listeners):
                cb(*args)
        if change is not None and self._redecide_due and not self._choosing:
            self.decide_next()  # the slot this change made undecided, decided again now that it is complete

    def _record_live(self, change: str, *args: Any) -> None:
        """Count a live change and record what replay needs to apply it again (plain data)."""
        entry: dict[str, Any] = {"seq": self.live, "change": change, "views": len(self.views),
                                 "slots": len(self._history)}
        if change == "param":
            name, old, new = args
            self.params_version += 1
            entry.update(name=name, old=old, new=new, params_version=self.params_version)
        elif change == "following":
            entry["creators"] = sorted(args[0])
        elif change in ("reload", "serving"):
            self.ranker_version = ranker_version(self.ranker)
            entry.update(ranker_version=self.ranker_version, ranker=self.ranker.name, plugin=plugin_info(self.ranker),
                         info=dict(args[0]))
        elif change == "catalog":
            entry["clips"] = [c.id for c in args[0]]
        elif change == "unplayable":
            entry["clip"] = args[0]
        self.live += 1
        self.live_log.append(entry)

    def _catalog_did_grow(self, clips: tuple[Clip, ...]) -> None:
        before = self.space.n
        self.space.add(clips)
        if self._blocked.size < self.space.n:
            self._blocked = np.concatenate([self._blocked, np.zeros(self.space.n - self._blocked.size, dtype=bool)])
        if self.space.n > before:  # rows the decisions can now reach, in the order the space holds them
            self._emit("catalog_did_grow", tuple(self.space.clips[before:]))

    # -- choosing ---------------------------------------------------------------------------------
    def _check_serving(self) -> None:
        """Record a change of the code serving (a live change) when a guarded plugin swapped it."""
        if getattr(self.ranker, "active", None) is None:
            return  # not a guard: its code changes only by a reload, which is recorded when it happens
        v = ranker_version(self.ranker)
        if v != self.ranker_version:
            self._emit("ranker_serving_did_change", {"from": self.ranker_version, "to": v})

    def _decide(self, position: int) -> Decision:
        score_rng, rng = decision_streams(self.seed, position, len(self.views))
        scores = self.ranker.scores(score_rng)
        blocked = self._blocked[: self.space.n]
        return decide(self.space, scores, self._rows, blocked, self.ranker.params, rng, **ranker_context(self.ranker),
                      reasons=self._explain)

    def _warmup_pick(self, position: int) -> Clip:
        clip = self.warmup[position]
        n = len(self.warmup)
        pick = Pick(clip_id=clip.id, position=position, ranker=WARMUP_POLICY, score=0.0, propensity=1.0,
                    explore=False, reasons=(f"warm-up clip {position + 1} of {n}",), views=len(self.views),
                    live=self.live, params_version=self.params_version, ranker_version=self.ranker_version,
                    scripted=True)
        self._add_pick(pick, self.space.row_of[clip.id])
        return clip

    def _choose(self) -> Clip | None:
        if self.space.n == 0:
            return None
        position = len(self._history)
        if position < len(self.warmup):
            return self._warmup_pick(position)
        self._choosing = True
        guarded = getattr(self.ranker, "active", None) is not None  # (what _check_serving asks first)
        try:
            if guarded:
                self._check_serving()  # a guarded plugin may have fallen back or been restored in the background
            dec = self._decide(position)
            if guarded:
                self._check_serving()  # or failed while scoring: the fallback answered this decision
        finally:
            self._choosing = False
        clip = self.space.clips[dec.row]
        pick = Pick(
            clip_id=clip.id,
            position=position,
            ranker=self.ranker.name,
            score=dec.score,
            propensity=dec.propensity,
            explore=dec.explore,
            reasons=(self.ranker.explain(dec.row) + dec.why) if self._explain else (),
            views=len(self.views),
            live=self.live,
            params_version=self.params_version,
            ranker_version=self.ranker_version,
        )
        self._add_pick(pick, dec.row)
        return clip

    def _add_pick(self, pick: Pick, row: int) -> None:
        """Record a decided slot and tell the listeners. If a listener raises, the decision is undone
        before the error goes on (its clip never joins the history, so picks stay aligned with it)."""
        self._picks.append(pick)
        self._push_row(row)
        try:
            self._emit("pick_did_decide", pick)
        except BaseException:
            del self._picks[-1]
            self._n_rows -= 1
            raise

    @property
    def _rows(self) -> np.ndarray:
        """The feature rows of the served slots, aligned with ``history`` after the rows a continued
        session's crashed predecessor served (``continue_after``; none in any other feed)."""
        return self._row_buf[: self._n_rows]

    @property
    def served_before(self) -> tuple[str, ...]:
        """The clips taken by ``continue_after`` (served before this feed's first slot), oldest first."""
        return tuple(self.space.clips[r].id for r in self._row_buf[: self._n_before].tolist())

    def continue_after(self, clip_ids: Sequence[str]) -> int:
        """This feed continues a session that stopped (a crashed lab session): the clips it showed,
        oldest first, count as served before this feed's first slot for every rule of the policy (the
        repeat gap and penalty, the same-topic limit, fatigue, the new-creator floor), so the
        continuation does not show them again while unseen clips remain. They are not slots of this
        feed (no picks, no positions). Call it before the first slot; ids not in the catalog are left
        out. Returns how many were taken."""
        if self._history or self._picks:
            raise RuntimeError("continue_after must come before this feed's first slot")
        rows = [self.space.row_of[c] for c in clip_ids if c in self.space.row_of]
        self._n_rows = self._n_before = 0
        for row in rows:
            self._push_row(row)
        self._n_before = len(rows)
        return len(rows)

    def continue_from(self, views: Sequence[View], clip_ids: Sequence[str]) -> int:
        """This feed continues a session that stopped (a crashed lab session; the lab app and replay
        both call this): it first learns that session's ``views`` (those of clips not in the catalog
        left out, and a clip that could not be played is not learned, as in ``finish``), then its
        ``clip_ids`` count as served (``continue_after``). Returns how many views were learned."""
        learned = 0
        for v in views:
            if v.clip_id in self.space.row_of and self.finish(v) is not None:
                learned += 1
        self.continue_after(clip_ids)
        return learned

    def _push_row(self, row: int) -> None:
        if self._n_rows == self._row_buf.size:
            self._row_buf = np.concatenate([self._row_buf, np.zeros(self._row_buf.size, dtype=np.intp)])
        self._row_buf[self._n_rows] = row
        self._n_rows += 1

    def decision(self) -> Decision:
        """The distribution the next undecided slot would be drawn from now (no side effect)."""
        return self._decide(len(self._history))

    def serve_logged(self, pick: Pick) -> Clip:
        """Replay: the next slot was served with ``pick`` (from the log); it becomes the current clip."""
        if len(self._history) != self._cursor + 1:
            raise RuntimeError("serve_logged needs the engine at the end of its history")
        row = self.space.row_of[pick.clip_id]
        clip = self.space.clips[row]
        self._history.append(clip)
        self._picks.append(pick)
        self._push_row(row)
        self.move(1)
        return clip

    def redecide_next(self) -> None:
        """Forget the undisplayed next decision: it is decided again at the next live change (``_emit``)
        or ``decide_next`` call, whichever comes first, with what the engine knows then."""
        if len(self._history) > self._cursor + 1 and self._drop_next():  # (nothing undisplayed: nothing to drop)
            self._redecide_due = True

    def _drop_next(self) -> bool:
        dropped = super()._drop_next()
        del self._picks[len(self._history) :]
        self._n_rows = min(self._n_rows, self._n_before + len(self._history))
        return dropped

    def decide_next(self) -> Clip | None:
        self._redecide_due = False
        return super().decide_next()

    def next(self) -> Clip | None:
        """Serve the next clip (the first one if nothing was served yet) and make it current."""
        return self.move(1)

    @property
    def picks(self) -> tuple[Pick, ...]:
        """The policy's record for every served slot, aligned with ``history``."""
        return tuple(self._picks)

    def pick_at(self, position: int) -> Pick:
        return self._picks[position]

    # -- learning ---------------------------------------------------------------------------------
    def finish(self, view: View) -> Reward | None:
        """Learn from a view (of the current clip, or any served one) and re-rank what comes next.

        If the next clip was already decided but not shown, that decision is forgotten: the driver
        decides it again (``decide_next``; ``FeedSession.arrive`` does) with what was just learned. A view of a
        clip that could not be played (``exit == UNPLAYABLE_EXIT``) says nothing about the viewer's
        taste: it is not learned, not counted in ``views``, and None is returned.
        """
        row = self.space.row_of.get(view.clip_id)
        if row is None:
            raise ViewError(f"view of clip {view.clip_id!r}: that clip is not in the catalog")
        if view.exit == UNPLAYABLE_EXIT:
            return None
        clip = self.space.clips[row]
        if view.position is None and self.current is not None and self.current.id == view.clip_id:
            view = replace(view, position=self.position)  # the view of the clip on screen: its slot
        reward = compute_reward(view, float(clip.duration_ms), self.quantiles, self.reward_config)
        cap = self.reward_config.max_watch_ratio * max(float(clip.duration_ms), 1.0)
        self.quantiles.observe(min(float(view.play_ms), cap), float(clip.duration_ms))
        learn(self.ranker, clip, reward.value, view)  # the whole view, to a learn_one that takes it
        self.world.popularity.add(clip.id)
        if view.not_interested:
            self._blocked[row] = True
        self.views.append(view)
        self.rewards.append(reward.value)
        if self._profile.record or self._listeners.get("profile_did_update"):
            snap = self._taste().update(clip, reward.value, position=self.position)
        else:  # no snapshot is kept or wanted (a simulated viewer): the profile learns it when it is read
            if not math.isfinite(reward.value):
                raise ValueError(f"reward for clip {clip.id!r} must be finite, not {reward.value}")
            self._profile_due.append((clip, reward.value))
            snap = None
        self.redecide_next()
        self._emit("view_did_finish", view, reward)
        if snap is not None:
            self._emit("profile_did_update", snap)
        return reward

    def _taste(self) -> TasteProfile:
        """The taste profile with every view learned so far (the ones deferred by ``finish`` applied now,
        in order: the same updates as when they were made)."""
        if self._profile_due:
            due, self._profile_due = self._profile_due, []
            for clip, value in due:
                self._profile.update(clip, value)
        return self._profile

    # -- reading ----------------------------------------------------------------------------------
    def upcoming(self, k: int = 10) -> list[QueueEntry]:
        """The next ``k`` clips: those already decided, then the likeliest picks for the slot after.

        Entries with ``decided=False`` are the current policy's most probable choices for the next
        undecided slot, with that slot's exact propensity; the real pick is drawn when it is needed.
        Warm-up clips still to come are listed as decided (propensity 1); while any remain, the
        ranker's picks after them are not listed (they depend on views not seen yet).
        """
        out: list[QueueEntry] = []
        for pos in range(self._cursor + 1, len(self._history)):
            p = self._picks[pos]
            out.append(QueueEntry(self._history[pos], p.score, p.propensity, p.reasons, True))
        for pos in range(len(self._history), len(self.warmup)):  # fixed slots still to come
            clip = self.warmup[pos]
            out.append(QueueEntry(clip, 0.0, 1.0, (f"warm-up clip {pos + 1} of {len(self.warmup)}",), True))
        if len(out) >= k or self.space.n == 0 or len(self._history) < len(self.warmup):
            return out[:k]
        dec = self._decide(len(self._history))
        liked = ranker_context(self.ranker).get("liked_creators")
        taken = {e.clip.id for e in out}
        for i in np.argsort(-dec.probs, kind="stable"):
            row = int(dec.allowed[i])
            clip = self.space.clips[row]
            if clip.id in taken:
                continue
            why = self.ranker.explain(row) + cut_reasons(self.space, row, self._rows, self.ranker.params, liked)
            out.append(QueueEntry(clip, float(dec.adjusted[i]), float(dec.probs[i]), why, False))
            if len(out) >= k:
                break
        return out

    def profile(self) -> dict[str, object]:
        """The taste profile now: affinity per topic and per creator (plain data)."""
        return self._taste().snapshot()

    def profile_history(self) -> list[dict[str, object]]:
        """One snapshot after each view, oldest first (plain data for the log)."""
        return list(self._profile.history)

    @property
    def taste(self) -> TasteProfile:
        return self._taste()

    def session_info(self) -> dict[str, object]:
        """What a session record needs to make this feed reproducible."""
        return {
            "ranker": self.ranker.name,
            "params": dict(self.ranker.params),
            "seed": self.seed,
            "catalog_fingerprint": self.catalog.fingerprint(),
            "clips": len(self.catalog),
        }

    # -- steering ---------------------------------------------------------------------------------
    def refresh(self) -> dict[str, object]:
        """"Refresh my feed": forget what was learned about this viewer and start a fresh profile.

        The ranker becomes a fresh clone (same name, parameters, seed) bound to the same feature space
        and world (popularity and follows stay); the taste profile starts empty. The session's record
        stays (views, rewards, history, picks); the view count of the fresh start is appended to
        ``refreshed_at``. The undisplayed next pick is decided again. Emits ``feed_did_refresh(info)``
        then ``profile_did_update(snapshot)``.
        """
        before = self._taste().snapshot()
        old, fresh = self.ranker, self.ranker.clone()
        if fresh is not old:  # (a plugin's guard refreshes itself in place and stays bound)
            old.unbind()  # the space would otherwise keep calling, and keep alive, every ranker refreshed away
            fresh.bind(self.space, self.world)
        self.ranker = fresh
        self.order = fresh
        self._profile = TasteProfile(decay=self._profile.decay, prior_views=self._profile.prior_views,
                                     record=self._profile.record)
        self.refreshed_at.append(len(self.views))
        self.redecide_next()
        info = {"views_before": len(self.views), "profile_before": before}
        self._emit("feed_did_refresh", info)
        self._emit("profile_did_update", self._profile.snapshot())
        return info

    def set_param(self, name: str, value: object) -> None:
        """Change a ranker parameter live (``ParameterError`` if out of range) and re-rank."""
        old, new = self.ranker.set_param(name, value)
        self.redecide_next()
        self._emit("ranker_param_did_change", name, old, new)

    def follow(self, creator: str) -> None:
        if creator not in self.space.creator_index:
            raise ValueError(f"there is no creator called {creator!r} in the catalog")
        self.world.following.add(creator)
        self.redecide_next()
        self._emit("following_did_change", frozenset(self.world.following))

    def mark_unplayable(self, clip_id: str) -> bool:
        """The player could not play this clip (its file is gone, damaged, unreadable): it is not
        served again in this session while another clip can be (it is left out like a clip marked "not
        interested"; the policy relaxes that only when nothing else is left). A live change: the
        undisplayed next pick is decided again and replay applies it at the same point. False (and
        nothing recorded) for a clip already marked or not in the catalog."""
        row = self.space.row_of.get(clip_id)
        if row is None or clip_id in self.unplayable:
            return False
        self.unplayable.add(clip_id)
        self._blocked[row] = True
        self.redecide_next()
        self._emit("clip_did_fail", clip_id)
        return True

    def unfollow(self, creator: str) -> None:
        self.world.following.discard(creator)
        self.redecide_next()
        self._emit("following_did_change", frozenset(self.world.following))
