"""One viewer kind, one catalog, several rankers side by side: ``feedapp simulate --viewer-kind``.

Each simulated viewer (``sim_viewers.KindViewer``) watches ``views`` clips served by one
``FeedEngine`` per viewer and ranker, driven through ``FeedSession`` as ``simulate`` does (the engine
and feed step the app runs: the same policy, the same decision moments, the same logged ``Pick``
with its exploration flag), and again served by the oracle (``simulate.OracleRanker``: it
knows the viewer's expected play time and obeys the repeat gap and same-topic limit of the ranker
under test). Viewers of one ranker share its global popularity (one population). ``random`` always
runs too: its figures are the chance level printed beside every metric (``sim_metrics``).

A ranker that cannot be built here because an optional package is missing (``peers.PeerMissing``:
``vw_cb`` without ``vowpalwabbit``) is listed under ``missing`` with the reason, never dropped
silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.feed_session import FeedSession
from feedapp.core.features import FeatureSpace
from feedapp.core.peers import PeerMissing
from feedapp.core.plugins import make_any_ranker
from feedapp.core.rankers.base import BaseRanker, World
from feedapp.core.sim_metrics import Trace, summarise
from feedapp.core.sim_viewers import KindViewer, check_kind, is_short
from feedapp.core.simulate import OracleRanker

CHANCE = "random"
DEFAULT_PEERS = ("ts_topic", "lin_ts", "vw_cb")


def run_viewer(engine: FeedEngine, viewer: KindViewer, views: int, topics: Sequence[str]) -> Trace:
    """Drive ``engine`` with ``viewer`` for ``views`` views; the trace of what was served and watched."""
    t = Trace()
    session = FeedSession(engine)  # the app's feed step (as ``simulate``): slot p+2 decided after p+1 views
    view = None
    for _ in range(views):
        if viewer.before_view(topics):
            t.switched_at = len(t.liked)
            engine.redecide_next()  # the oracle's scores read the taste
        clip = session.open() if view is None else session.swipe(view)
        if clip is None:
            break
        pick = engine.pick_at(engine.position)
        view = viewer.watch(clip)
        t.liked.append(viewer.likes(clip))
        t.play_ms.append(view.play_ms)
        t.explore.append(pick.explore)
        t.scripted.append(pick.scripted)
        t.new_creator.append(clip.creator not in t.creators)
        t.short.append(is_short(clip))
        t.creators.add(clip.creator)
    session.end("finished", view=view)
    return t


def run_kind(
    kind: str,
    catalog: Catalog,
    rankers: Sequence[str] = ("foryou", *DEFAULT_PEERS),
    *,
    viewers: int = 50,
    views: int = 100,
    seed: int = 0,
    switch_at: int | None = None,
    params: dict[str, object] | None = None,
    oracle: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Simulate ``viewers`` viewers of ``kind`` under each of ``rankers`` (the first one is the ranker
    under test and gets ``params``; ``random`` is added as the chance level). Plain data."""
    check_kind(kind)
    if viewers < 1 or views < 1:
        raise ValueError(f"viewers and views must be 1 or more, not {viewers} and {views}")
    if switch_at is not None and not (0 < switch_at < views):
        raise ValueError(f"switch_at must be between 1 and views - 1 ({views - 1}), not {switch_at}")
    if len(catalog) == 0:
        raise ValueError("the catalog has no clips to simulate with")
    names = list(dict.fromkeys([*rankers, CHANCE]))
    main = names[0]

    def build(name: str, s: int) -> BaseRanker:
        return make_any_ranker(name, seed=s, **(dict(params or {}) if name == main else {}))

    missing: dict[str, str] = {}
    for name in list(names):
        try:
            build(name, seed)
        except PeerMissing as e:
            missing[name] = str(e)
            names.remove(name)
    if main in missing:
        raise ValueError(missing[main])
    space = FeatureSpace(catalog.clips)
    topics, creators = list(space.topics), list(space.creators)
    sizes = Counter(c.creator for c in catalog.clips)
    rules = {k: v for k, v in build(main, seed).params.items() if k in ("repeat_gap", "max_same_topic")}
    total = viewers * (len(names) + int(oracle))
    done = 0
    traces: dict[str, list[Trace]] = {n: [] for n in names}
    oracle_traces: list[Trace] = []
    worlds = {n: World() for n in names}
    liked_share, short_share = [], float(np.mean([is_short(c) for c in catalog.clips]))
    for v in range(viewers):
        vseed = seed * 1_000_003 + v
        for name in names:
            viewer = KindViewer.make(kind, vseed, topics, creators, switch_at, sizes)
            eng = FeedEngine(catalog, build(name, vseed), seed=vseed, world=worlds[name], space=space,
                             record_profile=False, explain=False)
            traces[name].append(run_viewer(eng, viewer, views, topics))
            eng.close()  # detached from the shared catalog and space, which would keep it (and its ranker) alive
            close = getattr(eng.ranker, "close", None)
            if callable(close):  # vw_cb: its native memory, now rather than whenever the collector runs
                close()
            done += 1
            if progress:
                progress(done, total)
        if oracle:
            viewer = KindViewer.make(kind, vseed, topics, creators, switch_at, sizes)
            eng = FeedEngine(catalog, OracleRanker(vseed, viewer, **rules), seed=vseed, space=space,
                             record_profile=False, explain=False)
            oracle_traces.append(run_viewer(eng, viewer, views, topics))
            eng.close()
            done += 1
            if progress:
                progress(done, total)
        first = KindViewer.make(kind, vseed, topics, creators, switch_at, sizes)
        liked_share.append(float(np.mean([first.likes(c) for c in catalog.clips])))
    oracle_ms = float(sum(sum(t.play_ms) for t in oracle_traces)) if oracle else None

    def summary(name: str, ts: list[Trace]) -> dict:
        return {"ranker": name, **summarise(ts, oracle_play_ms=oracle_ms, n_creators=len(creators), views=views)}

    policies = [summary(n, traces[n]) for n in names if n != CHANCE or main == CHANCE]
    return {
        "viewer_kind": kind,
        "viewers": viewers,
        "views": views,
        "seed": seed,
        "switch_at": switch_at,
        "catalog": {"clips": len(catalog), "topics": len(topics), "creators": len(creators),
                    "liked_share": round(float(np.mean(liked_share)), 4), "short_share": round(short_share, 4)},
        "policies": policies,
        "chance": summary(CHANCE, traces[CHANCE]),
        "oracle": summary("oracle", oracle_traces) if oracle else None,
        "missing": missing,
    }


def mean_reports(reports: Sequence[dict]) -> dict:
    """The mean of several ``run_kind`` reports (other seeds, same settings), metric by metric; a metric
    that some seed could not measure (``None``: e.g. more than half its viewers never recovered a switch)
    is ``None`` in the mean too, rather than the mean of the seeds that could."""
    if not reports:
        raise ValueError("no reports to average")

    def avg(vals: list) -> object:
        if isinstance(vals[0], list):
            return [avg([v[i] if i < len(v) else None for v in vals]) for i in range(max(len(v) for v in vals))]
        if any(v is None for v in vals):  # not measured in some seed (e.g. most viewers never recovered): none
            return None
        return round(float(np.mean(vals)), 4)

    def merge(rows: list[dict]) -> dict:
        return {k: (rows[0][k] if k == "ranker" else avg([r.get(k) for r in rows])) for k in rows[0]}

    first = reports[0]
    out = dict(first)
    out["seeds"] = [r["seed"] for r in reports]
    out["policies"] = [merge([r["policies"][i] for r in reports]) for i in range(len(first["policies"]))]
    out["chance"] = merge([r["chance"] for r in reports])
    out["oracle"] = merge([r["oracle"] for r in reports]) if first.get("oracle") else None
    out["catalog"] = {**first["catalog"], **{k: avg([r["catalog"][k] for r in reports]) for k in ("liked_share", "short_share")}}
    return out
