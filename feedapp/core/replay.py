"""Replay a logged session under other rankers: what each would have served, and how well it would do.

Why: the log holds, for every served slot, the clip, the logging policy's exact propensity and how
the clip was watched (Open Bandit Pipeline's (action, propensity, reward)). That is enough to ask,
without a new study, "what would ranker B have served here, and what reward would it have earned?"

How one ranker is replayed (``replay``): the same transaction as the live feed, run over the log.
A ``FeedSession`` (no recorder) over a ``FeedEngine`` (the engine code that served the session, not
a copy) starts from the session's own state, logged when it started (``session_catalog``: the
catalog's rows in order, parameters, seed), with a fresh ranker. It then walks the log: before each logged decision it learns exactly
the views the live engine had learned (``impressions.views_learned``) and applies exactly the live
changes it had seen (``impressions.live_seq``; the ``live_change`` events: parameter changes,
plugin reloads, refreshes, follows and unfollows, catalog growth, each at its logged position).
Then it decides the slot as the engine would (same randomness keys, same policy), which gives its
probability of every clip of the catalog (``Decision.full_probs``), and "sees" what really
happened: the logged clip settles in that slot (``FeedSession.serve_logged``), and views are learned
through ``FeedSession.learn``, the step the live session learns with. The target's
probability of the *logged* clip against the logged propensity is the importance weight.

Replaying the ranker that served the session with its own parameters reproduces every logged
propensity (to 1e-9) and the served sequence (the replayed draw is the logged clip), so on-policy
IPS equals the logged mean reward; the report says so (``reproduced``). Other targets (another
ranker, or ``params`` overrides: ``feedapp replay --param NAME=VALUE``) keep their parameters for
the whole session (the viewer's live parameter changes were changes of the serving ranker); they
see the same follows, refreshes and catalog growth. Scripted slots (warm-up, practice: propensity
1, not a ranker pick) are served as logged and left out of the estimates.

The reward is recomputed from the logged view figures (``play_ms``, ``loops``, ``skipped``, like,
not interested, revisit) with ``feedapp.core.reward.compute_reward`` and per-session duration
quantiles, in log order (a continued lab session's start from the views it learned first), as the
engine computes it live; it is not read from the log (the log does
not store rewards). Impressions without a propensity (revisits, where the viewer went back, and
slots served without a ranker) are excluded from the estimates and counted; their views are still
learned, as the engine learns them. Impressions without a closed view (the app crashed mid-view)
are excluded and counted too.

Estimates per ranker (``feedapp.core.ope``): IPS, self-normalised IPS and doubly robust with a
ridge reward model on clip features (cross-fitted), each with a 95 % bootstrap percentile interval
(2000 resamples, seed 0), plus the effective sample size ``(sum w)^2 / sum w^2``: a ranker that
rarely agrees with the log has few effective samples and a wide interval.

Plugins (``file.py:Class``) run in this process, without the app's time budget (batch tools do);
anything they raise (``SystemExit`` included) is one ``ReplayError`` line, and decisions whose scores
held NaN or inf are counted per ranker (``nonfinite_decisions``) and reported in ``warnings``.

A plugin's code comes from the log (each version's source text), and when the guard swapped the
code serving (a failure, a refresh restarting the plugin, a reload: ``live_change`` of change
``serving`` or ``reload``), replay swaps at the same place.

Known limits: popularity is counted within the session. A lab session continued after a crash first
learned the crashed session's views: replay learns them too (``LoggedSession.before``, read from the
same file), and says so when the file does not hold them. Logs written before the decision context was recorded
(``views_learned`` NULL) are replayed as before: every decision after all earlier views, the
catalog = every clip in the file; the report's notes say so, and exactness is not claimed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.feed_session import FeedSession
from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip, Pick, View
from feedapp.core.ope import ESTIMATORS, Estimate, cross_fit, estimate, mean_ci
from feedapp.core.rankers.base import BaseRanker
from feedapp.core.reward import UNPLAYABLE_EXIT, DurationQuantiles, RewardConfig, compute_reward



class ReplayError(ValueError):
    """A session that cannot be replayed (unknown, no propensities, no clips); one clear sentence."""


class ReplayInterrupted(ReplayError):
    """The user pressed Ctrl+C while plugin code ran (replay calls plugins without a time limit, so
    this is how a plugin that never returns is stopped); the command exits with 130."""


@dataclass(frozen=True)
class LoggedStep:
    position: int
    clip_id: str
    is_revisit: bool
    policy: str
    propensity: float | None
    view: View | None  # None when the impression has no closed view
    views_learned: int | None = None  # what the decision saw (None in logs older than that column)
    live_seq: int | None = None
    params_version: int | None = None
    ranker_version: str | None = None
    scripted: bool = False


@dataclass(frozen=True)
class LoggedSession:
    id: str
    ranker: str
    params: dict[str, object]
    seed: int
    clips: tuple[Clip, ...]  # the session's clips in the engine's row order: its catalog at the start, then growth
    steps: tuple[LoggedStep, ...]
    notes: tuple[str, ...] = field(default=())
    live: tuple[dict, ...] = field(default=())  # live changes in order (``FeedEngine.live_log`` entries)
    start: dict = field(default_factory=dict)  # ``FeedSession.start_state()`` (views, live, versions)
    before: tuple[View, ...] = field(default=())  # a continued lab session: the crashed one's views, learned first

    @property
    def initial(self) -> tuple[Clip, ...]:
        """The catalog when the session started (``start["clips"]``; all clips without that record)."""
        ids = self.start.get("clips")
        if not isinstance(ids, list):
            return self.clips
        by_id = {c.id: c for c in self.clips}
        return tuple(by_id[c] for c in ids if c in by_id)

    @property
    def exact(self) -> bool:
        """True when every ranker decision has its decision context logged."""
        return all(st.views_learned is not None for st in self.steps if not st.is_revisit and not st.scripted
                   and st.propensity is not None)


def session_from_engine(engine, session_id: str = "engine") -> LoggedSession:
    """A ``LoggedSession`` from a ``FeedEngine`` driven in-process (``next``; ``finish``): what the log
    would hold, live changes included. The engine must have been built before any live change. A
    continued feed (``FeedEngine.continue_from``): the views it learned before its first slot are the
    session's ``before``, as ``read_logged_session`` reads them from a log."""
    n0 = engine.picks[0].views if engine.picks else len(engine.views)  # learned before the first slot
    own = engine.views[n0:]
    steps = []
    for i, p in enumerate(engine.picks[: len(own)]):
        v = own[i]
        steps.append(LoggedStep(i, p.clip_id, False, p.ranker, p.propensity, v, p.views, p.live, p.params_version,
                                p.ranker_version, p.scripted))
    grown = {c for e in engine.live_log if e["change"] == "catalog" for c in e["clips"]}
    params = dict(engine.ranker.params)
    for e in reversed(engine.live_log):  # the parameters the session started with
        if e["change"] == "param":
            params[e["name"]] = e["old"]
    start = {"views": n0, "live": 0, "params_version": 0, "warmup": [c.id for c in engine.warmup],
             "clips": [c.id for c in engine.space.clips if c.id not in grown],
             "served_before": list(engine.served_before)}
    return LoggedSession(session_id, engine.ranker.name, params, engine.seed, tuple(engine.space.clips), tuple(steps),
                         live=tuple(engine.live_log), start=start, before=tuple(engine.views[:n0]))


def _recompute_rewards(session: LoggedSession, space: FeatureSpace, config: RewardConfig) -> list[float | None]:
    """Each step's reward as the live engine computed it (``FeedEngine.finish``): against clip-length
    quantiles that saw every earlier view, in a continued lab session also the views it learned before
    its first slot (``session.before``, of clips in its catalog, as ``FeedEngine.continue_from``)."""
    q = DurationQuantiles()

    def reward(view: View, clip_id: str) -> float | None:
        if view.exit == UNPLAYABLE_EXIT:  # a clip that could not play
            return None
        dur = float(space.clips[space.row_of[clip_id]].duration_ms)
        value = compute_reward(view, dur, q, config).value
        q.observe(min(float(view.play_ms), config.max_watch_ratio * max(dur, 1.0)), dur)
        return value

    initial = {c.id for c in session.initial}
    for v in session.before:
        if v.clip_id in initial:
            reward(v, v.clip_id)
    return [None if st.view is None else reward(st.view, st.clip_id) for st in session.steps]


class _Replayer:
    """One ranker walked over the log by a ``FeedEngine`` in the state each logged decision saw."""

    def __init__(self, session: LoggedSession, make: Callable[[], BaseRanker], *, serving: bool,
                 reward_config: RewardConfig) -> None:
        self.session = session
        self.make = make
        self.serving = serving  # the ranker that served the session, with its own parameters
        self.by_id = {c.id: c for c in session.clips}
        self.nonfinite = 0  # decisions whose scores held NaN or inf
        self.engine = FeedEngine(Catalog(session.initial), self._watched(make()), seed=session.seed,
                                 reward_config=reward_config, record_profile=False, explain=False)
        # a continued lab session: what the crashed one saw is learned first and its clips count as served, as live
        self.engine.continue_from(session.before, session.start.get("served_before") or ())
        self.feed = FeedSession(self.engine)  # no recorder: the log is the input here
        self.overrides = dict(session.start.get("overrides") or {})  # what a rebuilt plugin version gets
        self.plugins = {}  # ranker version -> plugin (path, class, source), as logged
        for e in (session.start, *session.live):
            if isinstance(e.get("plugin"), dict) and e.get("ranker_version"):
                self.plugins[e["ranker_version"]] = e["plugin"]
        self.views0 = int(session.start.get("views", 0) or 0)
        self.live = list(session.live)
        self.next_live = 0
        self.learned = 0  # logged views learned so far
        self.next_view = 0  # the impression whose view is learned next

    def _watched(self, ranker: BaseRanker) -> BaseRanker:
        """Count decisions whose scores hold NaN or inf; the policy sees those as the lowest score."""
        scores = ranker.scores

        def checked(rng):  # noqa: ANN001, ANN202
            from feedapp.core.plugins import check_score_form

            # what the app's guard refuses at every call (foryou serves there: a list, a wrong shape, booleans),
            # in its words, not replayed and estimated; nor said as the policy's IndexError on it
            s = check_score_form(scores(rng), ranker.space.n)
            bad = ~np.isfinite(s)
            if bad.any():
                self.nonfinite += 1
                ok = s[~bad]
                s = np.where(bad, float(ok.min()) if ok.size else 0.0, s)
            return s

        ranker.scores = checked  # type: ignore[method-assign]
        return ranker

    def _apply(self, e: dict) -> None:
        eng, change = self.engine, e.get("change")
        if change == "param":
            if self.serving:
                eng.set_param(e["name"], e["new"])
                self.overrides[e["name"]] = e["new"]
        elif change == "following":
            eng.world.following.clear()
            eng.world.following.update(c for c in e.get("creators", ()) if c in eng.space.creator_index)
            eng.redecide_next()
        elif change == "refresh":
            eng.refresh()
            self._watched(eng.ranker)
        elif change in ("reload", "serving"):
            if self.serving:  # another version serves: rebuilt from the views learned, as the guard does
                self._serve(e.get("ranker_version", ""))
        elif change == "catalog":
            missing = [c for c in e.get("clips", ()) if c not in self.by_id]
            if missing:
                raise ReplayError(f"session {self.session.id}: clip {missing[0]!r} joined the catalog, "
                                  "but it is not in the log's clips table")
            eng.catalog.add([self.by_id[c] for c in e["clips"]])
        elif change == "unplayable":
            eng.mark_unplayable(e.get("clip", ""))

    def _serve(self, version: str) -> None:
        """Serve ``version`` (``builtin:NAME`` or ``plugin:<hash>``) as ``GuardedRanker`` does: a fresh
        instance with the parameters set through the guard, bound, then the views learned since the
        last refresh replayed into it."""
        from feedapp.core.plugins import exec_plugin_source, replay_into
        from feedapp.core.rankers.base import ParameterError
        from feedapp.core.rankers.registry import make_ranker

        eng = self.engine
        plugin = self.plugins.get(version)
        if version.startswith("builtin:"):
            r = make_ranker(version.split(":", 1)[1], seed=self.session.seed)
        elif plugin is not None:
            r = exec_plugin_source(plugin["path"], plugin["source"], plugin["class"])(seed=self.session.seed)
        else:
            r = self.make()
        names = {p.name for p in r.spec()}
        for k, v in self.overrides.items():
            if k in names:
                try:
                    r.set_param(k, v)
                except ParameterError:  # same name, other range: the guard keeps the default too
                    pass
        r.bind(eng.space, eng.world)
        since = eng.refreshed_at[-1] if eng.refreshed_at else 0
        replay_into(r, [(eng.space.clips[eng.space.row_of[v.clip_id]], w, v)
                        for v, w in zip(eng.views[since:], eng.rewards[since:])])
        eng.ranker = eng.order = self._watched(r)

    def _learn_next(self) -> bool:
        """Learn the next logged view the live engine learned (views close in impression order; a
        clip that could not be played is not learned)."""
        steps = self.session.steps
        while self.next_view < len(steps) and steps[self.next_view].view is not None:
            view = steps[self.next_view].view
            self.next_view += 1
            if view.exit != UNPLAYABLE_EXIT:
                self.feed.learn(view)
                self.learned += 1
                return True
        return False

    def advance(self, views: int, live: int | None) -> None:
        """Learn and apply live changes, in their logged order, until ``views`` views and ``live`` changes."""
        k = views - self.views0
        while True:
            if self.next_live < len(self.live) and (live is None or self.live[self.next_live]["seq"] < live):
                e = self.live[self.next_live]
                if int(e.get("views", 0)) - self.views0 <= self.learned:
                    self._apply(e)
                    self.next_live += 1
                    continue
            if self.learned < k:
                if not self._learn_next():
                    raise ReplayError(f"session {self.session.id}: a decision saw {views} views, "
                                      f"but the log has only {self.learned} closed views before it")
                continue
            return

    def serve(self, st: LoggedStep, position: int) -> Pick:
        return Pick(st.clip_id, position, st.policy, 0.0, 1.0 if st.propensity is None else float(st.propensity),
                    False, (), st.views_learned or 0, st.live_seq or 0, st.params_version or 0,
                    st.ranker_version or "", st.scripted)


def replay_ranker(session: LoggedSession, make: Callable[[], BaseRanker], *, serving: bool = False,
                  reward_config: RewardConfig = RewardConfig()) -> dict:
    """Walk the log with one ranker; per decided slot: target probability of the logged clip, the
    replayed draw, the top pick and the whole distribution (for the direct method)."""
    rp = _Replayer(session, make, serving=serving, reward_config=reward_config)
    eng = rp.engine
    steps = []
    exact = session.exact
    closed_before = 0
    for st in session.steps:
        if not st.is_revisit:
            position = len(eng.history)
            if exact and st.views_learned is not None:
                rp.advance(st.views_learned, st.live_seq)
            else:  # an old log: decided after every earlier view
                rp.advance(rp.views0 + closed_before, None)
            if st.clip_id not in eng.space.row_of:
                raise ReplayError(f"session {session.id} served clip {st.clip_id!r} at position {st.position}, "
                                  "which was not in the session's catalog at that moment")
            if not st.scripted and st.propensity is not None:
                dec = eng.decision()
                row = eng.space.row_of[st.clip_id]
                top = int(np.argmax(dec.probs))
                steps.append({
                    "position": st.position, "row": row, "target_p": dec.prob_of(row),
                    "drawn_clip": eng.space.clips[dec.row].id, "drawn_p": dec.propensity,
                    "top_clip": eng.space.clips[int(dec.allowed[top])].id, "top_p": float(dec.probs[top]),
                    "probs": dec.full_probs(),
                })
            rp.feed.serve_logged(rp.serve(st, position))
        if st.view is not None and st.view.exit != UNPLAYABLE_EXIT:
            closed_before += 1
    return {"name": eng.ranker.name, "steps": steps, "clips": eng.space.clips, "nonfinite": rp.nonfinite}


def _stand_in_note(session: LoggedSession, used: Sequence[int]) -> list[str]:
    """A note when slots used for the estimates were served by another ranker than the session's (a
    plugin's fallback while it failed or restarted; ``impressions.policy``): the replay of the plugin
    that served serves them as the guard did, so its figures are in part the fallback's."""
    others: dict[str, int] = {}
    for i in used:
        p = session.steps[i].policy
        if p and p != session.ranker:
            others[p] = others.get(p, 0) + 1
    if not others:
        return []
    who = ", ".join(f"{p} ({k})" for p, k in sorted(others.items()))
    return [f"{sum(others.values())} of the {len(used)} slots used for the estimates were served by {who}, not "
            f"{session.ranker} (a plugin's fallback while it failed or restarted; the log's ranker_failed events say "
            f"why): replayed as it served, the plugin serves them so too, so its figures are partly "
            + " and ".join(f"{p}'s" for p in sorted(others))]


def _contained(name: str, what: str, fn: Callable[[], Any]) -> Any:
    """Run plugin code in this process (batch tools do): anything it raises, ``SystemExit`` and
    ``KeyboardInterrupt`` included, becomes one ``ReplayError`` line naming the plugin."""
    import traceback

    from feedapp.core.plugins import PluginError, RankerFailure, is_plugin_spec, parse_spec, plugin_line
    from feedapp.core.rankers.base import ParameterError

    if not is_plugin_spec(name):
        return fn()
    pressed: list[bool] = []  # Ctrl+C (SIGINT) came, not a KeyboardInterrupt the plugin raised itself
    previous = _mark_ctrl_c(pressed)
    try:
        return fn()
    except (ReplayError, PluginError, ParameterError):  # ParameterError: a --param the ranker refuses, as itself
        raise
    except RankerFailure as e:  # its output broke the protocol (a wrongly shaped score array)
        raise ReplayError(f"plugin {name}: {e} while {what}; fix it and replay again") from e
    except BaseException as e:  # noqa: BLE001 - plugin code: never a traceback, never an exit
        where = plugin_line("".join(traceback.format_exception(e)), parse_spec(name)[0])  # as simulate says it
        if isinstance(e, KeyboardInterrupt) and pressed:  # it said 'raised KeyboardInterrupt: ...; fix it'
            raise ReplayInterrupted(
                f"stopped by Ctrl+C while plugin {name} was running{where}, {what}: replay calls a plugin in this "
                "process without a time limit, so one that never returns runs until stopped (`feedapp check-ranker` "
                "times each call)") from e
        raise ReplayError(f"plugin {name} raised {type(e).__name__}: {e}{where} while {what}; fix it and replay again") from e
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGINT, previous)


def _mark_ctrl_c(pressed: list[bool]) -> Any:
    """While plugin code runs: a SIGINT appends to ``pressed`` and raises KeyboardInterrupt as Python's own
    handler does. Returns the handler to put back (None: not on the main thread, or not Python's to replace)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:  # someone else handles Ctrl+C here: leave it to them
        return None

    def on_ctrl_c(signum: int, frame: Any) -> None:
        pressed.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_ctrl_c)
    return previous


def _logged_params(name: str, cls: type, logged: Mapping[str, object]) -> dict[str, object]:
    """The logged session's parameters for the ranker that served it: ``BaseRanker.logged_params`` (a
    parameter added after the session was logged gets the value that ranks as before), or the logged
    ones as they are for a plugin class that does not subclass ``BaseRanker`` (the protocol does not ask it to)."""
    fill = getattr(cls, "logged_params", None)
    if not callable(fill):
        return dict(logged)
    return _contained(name, "reading its logged parameters", lambda: fill(logged))


def _names_the_served_code(name: str, plugin: object) -> bool:
    """``name`` is the ranker that served, not just one with its name: with a plugin in the log, the same
    file (resolved) and class. Another file whose class has the served one's ``name`` (an edited copy) is
    a target of its own, replayed from that file."""
    from pathlib import Path

    from feedapp.core.plugins import is_plugin_spec, parse_spec

    if not isinstance(plugin, dict) or "path" not in plugin:
        return True  # a built-in served (or an older log that did not name the file): the name decides
    if not is_plugin_spec(name):
        return False
    path, cls = parse_spec(name)
    logged = Path(str(plugin["path"]))
    if cls != plugin.get("class"):
        return False
    if path.resolve() == logged.resolve():
        return True
    if logged.is_absolute():
        return False
    # a path logged as given, relative to where the app ran: when that file is here (replay run where the
    # app ran), it alone served, and another file of the same name (an edited copy in another folder) is
    # not it; elsewhere, the file given from another folder that ends in the logged path is taken for it
    here = Path.cwd() / logged
    if here.is_file():
        return here.resolve() == path.resolve()
    return path.resolve().parts[-len(logged.parts):] == logged.parts


def replay(
    session: LoggedSession,
    rankers: Sequence[str],
    *,
    make: Callable[[str, int, Mapping[str, object]], BaseRanker] | None = None,
    params: Mapping[str, object] | None = None,
    ci: str = "bootstrap",
    n_boot: int = 2000,
    ci_seed: int = 0,
    reward_config: RewardConfig = RewardConfig(),
    keep_steps: bool = True,
) -> dict:
    """Replay ``session`` under each of ``rankers`` (registry names or ``file.py:Class``); plain data.

    ``params`` (``feedapp replay --param NAME=VALUE``) override the parameters of every target; a
    target replayed with overrides keeps them for the whole session.
    """
    from feedapp.core.plugins import exec_plugin_source, is_plugin_spec, make_any_ranker, parse_spec

    make = make or (lambda name, seed, params: make_any_ranker(name, seed=seed, **dict(params)))
    first = session.start.get("plugin")
    gone = {name for name in rankers if is_plugin_spec(name) and isinstance(first, dict) and "source" in first
            and not parse_spec(name)[0].is_file() and _names_the_served_code(name, first)}
    if gone:  # the plugin that served, its file not here (a lab's database on another machine): the log has its code
        logged_make = make

        def make(name: str, seed: int, params: Mapping[str, object]) -> BaseRanker:
            if name not in gone:
                return logged_make(name, seed, params)
            return exec_plugin_source(first["path"], first["source"], first["class"])(seed=seed, **dict(params))

    overrides = dict(params or {})
    if not rankers:
        raise ReplayError("name at least one ranker to replay the session with")
    names, classes = {}, {}
    for name in rankers:  # unknown names, bad plugin files and bad --param values fail before any work
        made = _contained(name, "being created", lambda: make(name, 0, overrides))
        names[name], classes[name] = made.name, type(made)
    if not session.clips:
        raise ReplayError(f"session {session.id} has no clips in the log")
    t0 = time.perf_counter()
    space = FeatureSpace(session.clips)
    missing = sorted({st.clip_id for st in session.steps} - set(space.row_of))
    if missing:
        raise ReplayError(f"session {session.id} served clip {missing[0]!r}, which is not in the log's clips table")
    rewards = _recompute_rewards(session, space, reward_config)
    counts = {"impressions": len(session.steps), "revisit": 0, "scripted": 0, "no_propensity": 0, "unplayable": 0,
              "no_view": 0}
    used = []
    for i, st in enumerate(session.steps):
        if st.is_revisit:
            counts["revisit"] += 1
        elif st.scripted:
            counts["scripted"] += 1
        elif st.propensity is None or not (st.propensity > 0):
            counts["no_propensity"] += 1
        elif st.view is not None and st.view.exit == UNPLAYABLE_EXIT:
            counts["unplayable"] += 1
        elif rewards[i] is None:
            counts["no_view"] += 1
        else:
            used.append(i)
    if not any(st.propensity is not None and not st.scripted for st in session.steps):
        raise ReplayError(
            f"session {session.id} has no logged propensities of ranker picks (it was not served by a ranker "
            "that logs them), so no ranker can be evaluated on it"
        )
    counts["used"] = len(used)
    notes = list(session.notes) + _stand_in_note(session, used) + [
        f"there is no file {parse_spec(name)[0]} here: {name} is the plugin that served, replayed from the source "
        "the log holds" for name in rankers if name in gone]
    idx_used = set(used)
    logged_p = np.array([float(session.steps[i].propensity) for i in used])  # type: ignore[arg-type]
    r = np.array([float(rewards[i]) for i in used])  # type: ignore[arg-type]
    rows_used = np.array([space.row_of[session.steps[i].clip_id] for i in used], dtype=np.intp)
    # the reward model for DR: ridge on clip features, cross-fitted in 2 folds
    X = space.X.astype(np.float64)
    models, fold = cross_fit(X[rows_used], r, folds=2 if len(used) >= 4 else 1, seed=ci_seed)
    q_all = np.stack([m.predict(X) for m in models])  # folds x n
    q_logged = q_all[fold, rows_used] if len(used) else np.zeros(0)

    out_rankers = []
    warnings: list[str] = []
    per_step: dict[int, dict[str, object]] = {}
    for name in rankers:
        same = names[name] == session.ranker and _names_the_served_code(name, first)
        serving = same and not overrides
        target_params = {**(_logged_params(name, classes[name], session.params) if same else {}), **overrides}
        maker = (lambda: make(name, session.seed, target_params))
        if serving and isinstance(first, dict) and "source" in first:  # the code that served, not today's file
            def maker() -> BaseRanker:
                from feedapp.core.plugins import exec_plugin_source

                cls = exec_plugin_source(first["path"], first["source"], first["class"])
                return cls(seed=session.seed, **target_params)
        res = _contained(name, "being replayed",
                         lambda: replay_ranker(session, maker, serving=serving, reward_config=reward_config))
        if res["nonfinite"]:
            warnings.append(f"{name} returned NaN or infinite scores at {res['nonfinite']} of {len(res['steps'])} "
                            "decisions (treated as its lowest score there): its estimates describe that repaired "
                            "ranker, not the plugin as written")
        by_pos = {s["position"]: s for s in res["steps"]}
        target_p, dm = [], []
        for k, i in enumerate(used):
            s = by_pos[session.steps[i].position]
            target_p.append(s["target_p"])
            q = q_all[fold[k]]
            dm.append(float(s["probs"] @ q[: s["probs"].size]))  # the target's whole distribution over the catalog
        tp = np.array(target_p)
        ests = estimate(r, logged_p, tp, dm=np.array(dm), q_logged=q_logged, ci=ci, n_boot=n_boot, seed=ci_seed)
        w = tp / logged_p if len(used) else np.zeros(0)
        ess = float(w.sum() ** 2 / (w * w).sum()) if len(used) and (w * w).sum() > 0 else 0.0
        agree = [s["top_clip"] == session.steps[i].clip_id for i, s in
                 ((j, by_pos[session.steps[j].position]) for j in used)]
        entry = {
            "ranker": name,
            "policy": res["name"],
            "estimates": {k: _est(v) for k, v in ests.items()},
            "effective_samples": round(ess, 1),
            "top_pick_agrees": round(float(np.mean(agree)), 4) if agree else None,
            "mean_target_p_of_logged": round(float(tp.mean()), 4) if tp.size else None,
            "nonfinite_decisions": res["nonfinite"],
        }
        if serving:  # the logger replayed: does the log come back?
            decided = [(session.steps[i], by_pos.get(session.steps[i].position)) for i in range(len(session.steps))]
            decided = [(st, s) for st, s in decided if s is not None]
            err = max((abs(s["target_p"] - float(st.propensity)) for st, s in decided), default=0.0)
            entry["reproduced"] = {
                "exact_log": session.exact,
                "max_propensity_error": float(err),
                "served_agrees": round(float(np.mean([s["drawn_clip"] == st.clip_id for st, s in decided])), 4)
                if decided else None,
            }
        out_rankers.append(entry)
        for s in res["steps"]:
            per_step.setdefault(s["position"], {})[name] = {"clip": s["top_clip"], "p": round(s["top_p"], 4),
                                                            "p_logged_clip": s["target_p"],
                                                            "drawn": s["drawn_clip"]}
    logged = mean_ci(r, ci=ci, n_boot=n_boot, seed=ci_seed)
    steps_out = []
    if keep_steps:
        for i, st in enumerate(session.steps):
            steps_out.append({
                "position": st.position, "clip": st.clip_id, "policy": st.policy,
                "propensity": None if st.propensity is None else float(st.propensity),
                "revisit": st.is_revisit, "scripted": st.scripted, "reward": None if rewards[i] is None else round(float(rewards[i]), 4),
                "used": i in idx_used, "rankers": per_step.get(st.position, {}),
            })
    return {
        "session": {"id": session.id, "ranker": session.ranker, "params": dict(session.params), "seed": session.seed,
                    "clips": space.n, "live_changes": len(session.live), "notes": notes},
        "target_params": overrides,
        "counts": counts,
        "reward": "recomputed from the logged view figures with feedapp.core.reward.compute_reward "
                  "(default RewardConfig, per-session duration quantiles, in log order)",
        "ci": f"{ci} 95% interval" + (f" (percentile, {n_boot} resamples, seed {ci_seed})" if ci == "bootstrap" else
                                      " (normal approximation; SNIPS by the delta method)"),
        "estimators": list(ESTIMATORS),
        "logged": _est(logged),
        "rankers": out_rankers,
        "warnings": warnings,
        "steps": steps_out,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _est(e: Estimate) -> dict[str, float | None]:
    def f(x: float) -> float | None:
        return None if x is None or math.isnan(x) else round(float(x), 4)

    return {"value": f(e.value), "low": f(e.low), "high": f(e.high), "n": e.n}
