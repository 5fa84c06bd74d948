"""Replay a logged session under other rankers: what each would have served, and how well it would do.

Why: the log holds, for every served slot, the clip, the logging policy's exact propensity and how
the clip was watched (Open Bandit Pipeline's (action, propensity, reward)). That is enough to ask,
without a new study, "what would ranker B have served here, and what reward would it have earned?"

How one ranker is replayed (``replay``): it starts fresh (seeded with the session's seed; the
session's own parameters if it is the ranker that served the session) on a feature space of the
logged clips, and walks the log in order. At each logged slot it decides exactly as ``FeedEngine``
would, given the same served history and the views learned so far (same randomness keys, same
policy, ``rankers/policy.py``), which gives its probability of every clip for that slot; then it
"sees" what really happened: the logged clip joins the served history and the logged view is
learned. The target's probability of the *logged* clip against the logged propensity is the
importance weight of that step.

The reward is recomputed from the logged view figures (``play_ms``, ``loops``, ``skipped``, like,
not interested, revisit) with ``feedapp.core.reward.compute_reward`` and per-session duration
quantiles, in log order, as the engine computes it live; it is not read from the log (the log does
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

Known limits: visual features are not in the log, so replayed rankers see topics, creator and
duration only; followed creators are not logged, so ``following`` replays as its popular fallback;
popularity is counted within the session; the live engine may decide a slot before the previous view
closes (preloading), the replay always decides it after, so replaying the logging ranker reproduces
logged propensities exactly only where no decision was taken early.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip, View
from feedapp.core.ope import ESTIMATORS, Estimate, cross_fit, estimate, mean_ci
from feedapp.core.rankers.base import BaseRanker, World
from feedapp.core.rankers.policy import decide
from feedapp.core.rankers.rng import decision_streams
from feedapp.core.reward import DurationQuantiles, RewardConfig, compute_reward



class ReplayError(ValueError):
    """A session that cannot be replayed (unknown, no propensities, no clips); one clear sentence."""


@dataclass(frozen=True)
class LoggedStep:
    position: int
    clip_id: str
    is_revisit: bool
    policy: str
    propensity: float | None
    view: View | None  # None when the impression has no closed view


@dataclass(frozen=True)
class LoggedSession:
    id: str
    ranker: str
    params: dict[str, object]
    seed: int
    clips: tuple[Clip, ...]
    steps: tuple[LoggedStep, ...]
    notes: tuple[str, ...] = field(default=())


def session_from_engine(engine, session_id: str = "engine") -> LoggedSession:
    """A ``LoggedSession`` from a ``FeedEngine`` driven in-process (tests, simulations, benchmarks)."""
    steps = []
    for i, p in enumerate(engine.picks[: len(engine.views)]):
        v = engine.views[i] if i < len(engine.views) else None
        steps.append(LoggedStep(i, p.clip_id, False, p.ranker, p.propensity, v))
    return LoggedSession(session_id, engine.ranker.name, dict(engine.ranker.params), engine.seed,
                         tuple(engine.space.clips), tuple(steps))


def _recompute_rewards(session: LoggedSession, space: FeatureSpace, config: RewardConfig) -> list[float | None]:
    q = DurationQuantiles()
    out: list[float | None] = []
    for st in session.steps:
        if st.view is None:
            out.append(None)
            continue
        dur = float(space.clips[space.row_of[st.clip_id]].duration_ms)
        out.append(compute_reward(st.view, dur, q, config).value)
        q.observe(min(float(st.view.play_ms), config.max_watch_ratio * max(dur, 1.0)), dur)
    return out


def replay_ranker(
    session: LoggedSession, make: Callable[[], BaseRanker], rewards: Sequence[float | None], space: FeatureSpace,
) -> dict:
    """Walk the log with one ranker; per step: target probability of the logged clip, top pick, DM input."""
    ranker = make()
    world = World()
    ranker.bind(space, world)
    restrict = ranker.restrict if type(ranker).restrict is not BaseRanker.restrict else None
    served: list[int] = []
    blocked = np.zeros(space.n, dtype=bool)
    learned = 0
    nonfinite = 0  # decisions whose scores held NaN or inf
    steps = []
    for st, r in zip(session.steps, rewards):
        row = space.row_of[st.clip_id]
        if not st.is_revisit:
            if st.propensity is not None:
                score_rng, rng = decision_streams(session.seed, len(served), learned)
                scores = np.asarray(ranker.scores(score_rng), dtype=np.float64)
                bad = ~np.isfinite(scores)
                if bad.any():  # NaN/inf: counted and reported; the policy sees them as the lowest score
                    nonfinite += 1
                    ok = scores[~bad]
                    scores = np.where(bad, float(ok.min()) if ok.size else 0.0, scores)
                dec = decide(space, scores, served, blocked, ranker.params, rng, restrict=restrict)
                top = int(np.argmax(dec.probs))
                steps.append({
                    "position": st.position, "row": row, "target_p": dec.prob_of(row),
                    "top_clip": space.clips[int(dec.allowed[top])].id, "top_p": float(dec.probs[top]),
                    "probs": dec.full_probs(),
                })
            served.append(row)
        if st.view is not None and r is not None:
            ranker.learn_one(space.clips[row], r)
            world.popularity.add(st.clip_id)
            if st.view.not_interested:
                blocked[row] = True
            learned += 1
    return {"name": ranker.name, "steps": steps, "nonfinite": nonfinite}


def _contained(name: str, what: str, fn: Callable[[], Any]) -> Any:
    """Run plugin code in this process (batch tools do): anything it raises, ``SystemExit`` and
    ``KeyboardInterrupt`` included, becomes one ``ReplayError`` line naming the plugin."""
    from feedapp.core.plugins import PluginError, is_plugin_spec

    if not is_plugin_spec(name):
        return fn()
    try:
        return fn()
    except (ReplayError, PluginError):
        raise
    except BaseException as e:  # noqa: BLE001 - plugin code: never a traceback, never an exit
        raise ReplayError(f"plugin {name} raised {type(e).__name__}: {e} while {what}; fix it and replay again") from e


def replay(
    session: LoggedSession,
    rankers: Sequence[str],
    *,
    make: Callable[[str, int, Mapping[str, object]], BaseRanker] | None = None,
    ci: str = "bootstrap",
    n_boot: int = 2000,
    ci_seed: int = 0,
    reward_config: RewardConfig = RewardConfig(),
    keep_steps: bool = True,
) -> dict:
    """Replay ``session`` under each of ``rankers`` (registry names or ``file.py:Class``); plain data."""
    from feedapp.core.plugins import make_any_ranker

    make = make or (lambda name, seed, params: make_any_ranker(name, seed=seed, **dict(params)))
    if not rankers:
        raise ReplayError("name at least one ranker to replay the session with")
    for name in rankers:  # unknown names and bad plugin files fail before any work
        _contained(name, "being created", lambda: make(name, 0, {}))
    if not session.clips:
        raise ReplayError(f"session {session.id} has no clips in the log")
    t0 = time.perf_counter()
    space = FeatureSpace(session.clips)
    missing = sorted({st.clip_id for st in session.steps} - set(space.row_of))
    if missing:
        raise ReplayError(f"session {session.id} served clip {missing[0]!r}, which is not in the log's clips table")
    rewards = _recompute_rewards(session, space, reward_config)
    counts = {"impressions": len(session.steps), "revisit": 0, "no_propensity": 0, "no_view": 0}
    used = []
    for i, st in enumerate(session.steps):
        if st.is_revisit:
            counts["revisit"] += 1
        elif st.propensity is None or not (st.propensity > 0):
            counts["no_propensity"] += 1
        elif rewards[i] is None:
            counts["no_view"] += 1
        else:
            used.append(i)
    if not any(st.propensity is not None for st in session.steps):
        raise ReplayError(
            f"session {session.id} has no logged propensities (it was not served by a ranker that logs them), "
            "so no ranker can be evaluated on it"
        )
    counts["used"] = len(used)
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
        params = session.params if name == session.ranker else {}
        res = _contained(name, "being replayed",
                         lambda: replay_ranker(session, lambda: make(name, session.seed, params), rewards, space))
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
            dm.append(float(s["probs"] @ q))  # the target's whole distribution over the catalog
        tp = np.array(target_p)
        ests = estimate(r, logged_p, tp, dm=np.array(dm), q_logged=q_logged, ci=ci, n_boot=n_boot, seed=ci_seed)
        w = tp / logged_p if len(used) else np.zeros(0)
        ess = float(w.sum() ** 2 / (w * w).sum()) if len(used) and (w * w).sum() > 0 else 0.0
        agree = [s["top_clip"] == session.steps[i].clip_id for i, s in
                 ((j, by_pos[session.steps[j].position]) for j in used)]
        out_rankers.append({
            "ranker": name,
            "policy": res["name"],
            "estimates": {k: _est(v) for k, v in ests.items()},
            "effective_samples": round(ess, 1),
            "top_pick_agrees": round(float(np.mean(agree)), 4) if agree else None,
            "mean_target_p_of_logged": round(float(tp.mean()), 4) if tp.size else None,
            "nonfinite_decisions": res["nonfinite"],
        })
        for s in res["steps"]:
            per_step.setdefault(s["position"], {})[name] = {"clip": s["top_clip"], "p": round(s["top_p"], 4),
                                                            "p_logged_clip": round(s["target_p"], 4)}
    logged = mean_ci(r, ci=ci, n_boot=n_boot, seed=ci_seed)
    steps_out = []
    if keep_steps:
        for i, st in enumerate(session.steps):
            steps_out.append({
                "position": st.position, "clip": st.clip_id, "policy": st.policy,
                "propensity": None if st.propensity is None else round(float(st.propensity), 4),
                "revisit": st.is_revisit, "reward": None if rewards[i] is None else round(float(rewards[i]), 4),
                "used": i in idx_used, "rankers": per_step.get(st.position, {}),
            })
    return {
        "session": {"id": session.id, "ranker": session.ranker, "params": dict(session.params), "seed": session.seed,
                    "clips": len(session.clips), "notes": list(session.notes)},
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
