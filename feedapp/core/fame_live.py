"""A steppable creators'-side simulation: the fame board's audience, advanced a few views at a time.

Why a second driver next to ``simulate.simulate``: ``simulate`` runs a whole population to the end
in one call (seconds of CPU), which a window cannot wait for. ``LiveFame`` keeps the same pieces
(``SimViewer`` viewers with hidden tastes, one ``FeedEngine`` per viewer and policy, one shared
``World`` per policy so ``popular`` counts the whole audience, ``follows_of`` for ``following``,
``fame.add_newcomer`` for the newcomer whose clips are held back until view ``newcomer_at``) but
advances them one view at a time, in a fixed round-robin order:

    for each round t (the t-th view of every viewer):
        for each viewer v:
            for each policy p: viewer v watches one clip served by policy p

so the state after N views is the same however the views were split into steps (a timer may
advance 3 views one tick and 40 the next). ``advance(budget_ms=...)`` stops once the time budget is
used, which is how the Qt board keeps the GUI thread free (see ``feedapp/ui/panels/fame.py``).

Figures per policy (``snapshot()``) use ``feedapp.core.fame``'s own functions (``gini``,
``top_share``) on running counts; after whole rounds they equal ``fame.fame_report`` on
``rows_matrix(policy)`` (tested). One difference from ``feedapp simulate --newcomer-at``: there the
newcomer is a creator of the catalog and may be among the two creators a viewer follows; here it
joins with **zero followers** (follows are drawn among the other creators), which is the story the
board tells.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.feed_session import FeedSession
from feedapp.core.fame import add_newcomer, creators_catalog, fame_report, gini, top_share
from feedapp.core.features import FeatureSpace
from feedapp.core.rankers.base import World
from feedapp.core.rankers.registry import make_ranker
from feedapp.core.simulate import SimViewer, follows_of

NEWCOMER = "newcomer"
POLICIES = ("foryou", "following", "popular")


@dataclass
class _Lane:
    """One policy's audience: an engine and a viewer per simulated person, and running counts."""

    policy: str
    world: World
    engines: list[FeedEngine | None]
    viewers: list[SimViewer | None]
    rows: list[list[int]]
    play_ms: list[list[int]]
    impressions: np.ndarray  # per creator
    watch_ms: np.ndarray  # per creator
    after_total: int = 0  # impressions from the newcomer's arrival on
    after_newcomer: int = 0  # of which the newcomer's
    reached: set | None = None  # viewers who saw the newcomer
    round_newcomer: int = 0  # the newcomer's impressions in the current round


class LiveFame:
    """``viewers`` simulated viewers per policy, ``views`` views each, stepped on demand (no threads, no Qt)."""

    def __init__(
        self,
        *,
        policies: Sequence[str] = POLICIES,
        viewers: int = 40,
        views: int = 100,
        creators: int = 20,
        newcomer_at: int | None = 40,
        seed: int = 0,
        params: Mapping[str, Mapping[str, object]] | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        if viewers < 1:
            raise ValueError(f"viewers must be 1 or more, not {viewers}")
        if views < 1:
            raise ValueError(f"views must be 1 or more, not {views}")
        if not policies:
            raise ValueError("give at least one policy to simulate")
        if newcomer_at is not None and not (0 < newcomer_at < views):
            raise ValueError(f"newcomer_at must be between 1 and views - 1 ({views - 1}), not {newcomer_at}")
        params = {k: dict(v) for k, v in (params or {}).items()}
        for p in policies:  # a bad name or parameter fails here, in one sentence
            make_ranker(p, **params.get(p, {}))
        base = catalog if catalog is not None else creators_catalog(seed, creators)
        self.newcomer = NEWCOMER if newcomer_at is not None else None
        self.catalog = add_newcomer(base, NEWCOMER) if self.newcomer else base
        self.space = FeatureSpace(self.catalog.clips)
        self.creators: tuple[str, ...] = tuple(self.space.creators)
        self.policies = tuple(policies)
        self.n_viewers, self.views, self.seed, self.newcomer_at = viewers, views, seed, newcomer_at
        self.params = params
        self.newcomer_id = self.space.creator_index.get(NEWCOMER) if self.newcomer else None
        self._hidden = (np.flatnonzero(self.space.creator_of == self.newcomer_id)
                        if self.newcomer_id is not None else np.zeros(0, dtype=np.intp))
        clips_per = np.bincount(self.space.creator_of, minlength=len(self.creators)).astype(np.float64)
        self.fair_share = clips_per / max(clips_per.sum(), 1.0)
        self._old_creators = [c for c in self.creators if c != NEWCOMER]  # nobody follows the newcomer: it is new
        self.lanes: list[_Lane] = []
        nc = len(self.creators)
        for p in self.policies:
            # engines are made on first use (about 1 ms each), so no single step pays for all of them
            self.lanes.append(_Lane(p, World(), [None] * viewers, [None] * viewers, [[] for _ in range(viewers)],
                                    [[] for _ in range(viewers)], np.zeros(nc), np.zeros(nc), reached=set()))
        self._sessions: dict[tuple[str, int], list] = {}  # (policy, viewer) -> [FeedSession, view left to learn]
        self._t = 0  # round: the view index every viewer is at
        self._v = 0  # next viewer within the round
        self._p = 0  # next policy for that viewer
        self.views_done = 0
        # per finished round, per policy: (Gini so far, top-10 % share so far, newcomer's share of that round)
        self.history: list[dict[str, tuple[float, float, float]]] = []

    # -- progress ---------------------------------------------------------------------------------
    @property
    def total_views(self) -> int:
        return self.views * self.n_viewers * len(self.policies)

    @property
    def done(self) -> bool:
        return self._t >= self.views

    @property
    def rounds_done(self) -> int:
        """How many views every viewer has finished under every policy."""
        return self._t

    @property
    def newcomer_arrived(self) -> bool:
        return self.newcomer_at is not None and self._t >= self.newcomer_at

    def _member(self, lane: _Lane, v: int) -> tuple[FeedEngine, SimViewer]:
        """Viewer ``v`` of ``lane`` and its engine, made on first use (same seeds as ``simulate``)."""
        eng = lane.engines[v]
        if eng is None:
            vseed = self.seed * 1_000_003 + v
            lane.viewers[v] = SimViewer.make(vseed, self.space.topics, self.creators)
            world = lane.world
            if lane.policy == "following":
                world = World(world.popularity, set(follows_of(vseed, self._old_creators)))
            eng = FeedEngine(self.catalog, lane.policy, seed=vseed, params=self.params.get(lane.policy), world=world,
                             space=self.space, record_profile=False, explain=False)
            if self._hidden.size and self._t < (self.newcomer_at or 0):
                eng._blocked[self._hidden] = True  # the newcomer's clips join at view ``newcomer_at``
            lane.engines[v] = eng
            self._sessions[(lane.policy, v)] = [FeedSession(eng), None]  # the app's feed step; the view not learned yet
        return eng, lane.viewers[v]

    def _one(self) -> None:
        lane = self.lanes[self._p]
        v, t = self._v, self._t
        eng, viewer = self._member(lane, v)
        if self._hidden.size and t == self.newcomer_at:
            eng._blocked[self._hidden] = False
            eng.redecide_next()
        step = self._sessions[(lane.policy, v)]
        session, left = step
        clip = session.open() if left is None else session.swipe(left)  # as simulate: FeedSession's step
        assert clip is not None  # the catalog is never empty here
        view = step[1] = viewer.watch(clip)
        row = self.space.row_of[clip.id]
        c = int(self.space.creator_of[row])
        lane.rows[v].append(row)
        lane.play_ms[v].append(view.play_ms)
        lane.impressions[c] += 1
        lane.watch_ms[c] += view.play_ms
        if self.newcomer_at is not None and t >= self.newcomer_at:
            lane.after_total += 1
            if c == self.newcomer_id:
                lane.after_newcomer += 1
                lane.round_newcomer += 1
                lane.reached.add(v)
        self.views_done += 1
        self._p += 1
        if self._p == len(self.lanes):
            self._p, self._v = 0, self._v + 1
            if self._v == self.n_viewers:
                self._v, self._t = 0, self._t + 1
                self.history.append({ln.policy: (gini(ln.impressions), top_share(ln.impressions, 0.1),
                                                 ln.round_newcomer / self.n_viewers) for ln in self.lanes})
                for ln in self.lanes:
                    ln.round_newcomer = 0

    def _figures(self, lane: _Lane) -> tuple[float, float, float]:
        share_new = lane.after_newcomer / lane.after_total if lane.after_total else 0.0
        return gini(lane.impressions), top_share(lane.impressions, 0.1), share_new

    def advance(self, views: int | None = None, budget_ms: float | None = None,
                clock: Callable[[], float] = time.perf_counter) -> int:
        """Simulate up to ``views`` views, stopping early once ``budget_ms`` has passed; returns how many."""
        if views is None and budget_ms is None:
            raise ValueError("give views, budget_ms or both")
        t0 = clock()
        n = 0
        while not self.done and (views is None or n < views):
            self._one()
            n += 1
            if budget_ms is not None and (clock() - t0) * 1000.0 >= budget_ms:
                break
        return n

    def advance_rounds(self, rounds: int) -> None:
        """Finish the current round and ``rounds - 1`` more (or until the end): for tests and figures."""
        target = min(self.views, self._t + rounds)
        while self._t < target:
            self._one()

    # -- figures ----------------------------------------------------------------------------------
    def rows_matrix(self, policy: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, play_ms) as viewers x finished-rounds arrays, the input of ``fame.fame_report``."""
        lane = self._lane(policy)
        t = self._t
        rows = np.array([r[:t] for r in lane.rows], dtype=np.int64).reshape(self.n_viewers, t)
        play = np.array([r[:t] for r in lane.play_ms], dtype=np.float64).reshape(self.n_viewers, t)
        return rows, play

    def report(self, policy: str) -> dict:
        """``fame.fame_report`` over the finished rounds (a few ms: call it when a run ends, not per tick)."""
        rows, play = self.rows_matrix(policy)
        arrived = self.newcomer_at if self.newcomer_arrived else None
        return fame_report(rows, play, self.space, newcomer=self.newcomer if arrived is not None else None,
                           newcomer_at=arrived)

    def _lane(self, policy: str) -> _Lane:
        for ln in self.lanes:
            if ln.policy == policy:
                return ln
        raise ValueError(f"{policy!r} is not simulated here (policies: {', '.join(self.policies)})")

    def snapshot(self) -> dict:
        """Plain data for a board: per policy, impressions per creator, Gini, top-10 % share, newcomer."""
        total_round = max(self.n_viewers, 1)
        out: dict = {
            "views_done": self.views_done,
            "total_views": self.total_views,
            "round": self._t,
            "views": self.views,
            "viewers": self.n_viewers,
            "creators": list(self.creators),
            "fair_share": [round(float(x), 4) for x in self.fair_share],
            "newcomer": self.newcomer,
            "newcomer_at": self.newcomer_at,
            "newcomer_arrived": self.newcomer_arrived,
            "policies": {},
        }
        for ln in self.lanes:
            imp = ln.impressions
            tot = float(imp.sum())
            g, top, share_new = self._figures(ln)
            new = None
            if self.newcomer_id is not None:
                fair = float(self.fair_share[self.newcomer_id])
                new = {
                    "impressions": int(imp[self.newcomer_id]),
                    "share_after_arrival": share_new,
                    "fair_share": fair,
                    "reach": len(ln.reached or ()) / total_round,
                }
            out["policies"][ln.policy] = {
                "impressions": [int(x) for x in imp],
                "share": [float(x / tot) if tot else 0.0 for x in imp],
                "gini": g,
                "top10_share": top,
                "newcomer": new,
                "history": [(h[ln.policy][0], h[ln.policy][1], h[ln.policy][2]) for h in self.history],
            }
        return out


# -- the same simulation in a separate process ------------------------------------------------------------
#
# Why: the simulation allocates a few objects per view (views, picks, rewards kept by each engine), and
# CPython's full garbage collection pauses the whole process for tens of milliseconds once enough of them
# live (measured: 31-37 ms on this 2-core machine, once every few thousand views). In the window's process
# that pause lands on the GUI thread whatever slice size is chosen. In a worker process it does not: the
# GUI only receives a small snapshot (a few kB) a few times a second.


def _serve(conn, kwargs: dict, budget_ms: float, duty: float, every_ms: float) -> None:  # pragma: no cover - child
    """The worker: advance in slices of ``budget_ms``, resting so it uses at most ``duty`` of one core;
    send a snapshot every ``every_ms`` and when done; obey "pause", "run" and "stop"."""
    live = LiveFame(**kwargs)
    running, last = True, 0.0
    try:
        while True:
            while conn.poll(0 if running and not live.done else 0.2):
                cmd = conn.recv()
                if cmd == "stop":
                    return
                running = cmd == "run"
            if running and not live.done:
                t0 = time.perf_counter()
                live.advance(budget_ms=budget_ms)
                spent = time.perf_counter() - t0
                now = time.perf_counter()
                if live.done or (now - last) * 1000.0 >= every_ms:
                    snap = live.snapshot()
                    if live.done:
                        snap["reports"] = {p: live.report(p) for p in live.policies}
                    conn.send(snap)
                    last = now
                time.sleep(spent * (1.0 - duty) / duty)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return


class FameProcess:
    """``LiveFame(**kwargs)`` running in a worker process; ``latest()`` is the newest snapshot (or None).

    Same figures as in-process (the simulation is deterministic); ``snapshot["reports"]`` holds
    ``fame_report`` per policy once the run is done. ``close()`` ends the worker (also at exit: daemon).
    """

    def __init__(self, budget_ms: float = 6.0, duty: float = 0.2, every_ms: float = 60.0, **kwargs: object) -> None:
        import multiprocessing as mp

        LiveFame(**kwargs)  # bad arguments fail here, in this process (engines are made lazily: cheap)
        ctx = mp.get_context("spawn")  # never fork a process that runs Qt threads
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, dict(kwargs), budget_ms, duty, every_ms),
                                   name="feedapp-fame-board", daemon=True)
        self.process.start()
        child.close()
        self._latest: dict | None = None

    def latest(self) -> dict | None:
        """Read every snapshot waiting in the pipe (never blocks) and return the newest one seen."""
        try:
            while self._conn.poll():
                self._latest = self._conn.recv()
        except (EOFError, OSError):
            pass
        return self._latest

    def pause(self, paused: bool = True) -> None:
        self._send("pause" if paused else "run")

    def _send(self, cmd: str) -> None:
        try:
            self._conn.send(cmd)
        except (BrokenPipeError, OSError):
            pass

    def close(self, timeout: float = 2.0) -> None:
        if self.process.is_alive():
            self._send("stop")
            self.process.join(timeout)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(1.0)
        self._conn.close()
