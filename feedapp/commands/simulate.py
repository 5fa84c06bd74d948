"""CLI glue for ``feedapp rankers`` and ``feedapp simulate`` (the parser lives in ``feedapp/cli.py``).

The core computes (``feedapp.core.simulate``, ``feedapp.core.fame``); this module prints: the report
as text or JSON, the creators' side as a table (``format_fame``), a progress bar on stderr, and the
charts (``feedapp.commands.charts``). Both commands need no Qt, so they run on a machine without a
display. Errors a person can fix become one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from feedapp.commands import plugin_prints_to_stderr
from feedapp.core.catalog import Catalog
from feedapp.core.plugins import (DEFAULT_BUDGET_MS, ScoresRefused, is_plugin_spec, make_any_ranker, parse_spec, plugin_line,
                                  quick_check)
from feedapp.core.rankers.base import ParameterError
from feedapp.core.rankers.registry import describe
from feedapp.core.sim_metrics import METRICS
from feedapp.core.simulate import default_workers, simulate
from feedapp.ranges import SIM_DEMO_CREATORS


class ProgressBar:
    """A one-line progress bar on stderr (only redrawn when the percentage changes). Written to a file or
    a pipe (a log, CI), where a carriage return does not redraw, it is one plain line per 10 %."""

    def __init__(self, label: str = "simulating", stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self._last = -1
        self._t0 = time.monotonic()
        isatty = getattr(self.stream, "isatty", None)
        self._redraw = bool(isatty and isatty())

    def __call__(self, done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if pct == self._last or (not self._redraw and pct // 10 == self._last // 10 and done < total):
            return
        self._last = pct
        bar = "#" * (pct // 4) + "-" * (25 - pct // 4)
        el = time.monotonic() - self._t0
        if self._redraw:
            end = "\n" if done >= total else ""
            self.stream.write(f"\r{self.label} [{bar}] {pct:3d}% {done}/{total} {el:5.1f}s{end}")
        else:
            self.stream.write(f"{self.label} [{bar}] {pct:3d}% {done}/{total} {el:5.1f}s\n")
        self.stream.flush()

    def break_line(self) -> None:
        """End a bar left part-way (the run failed), so what follows starts on a line of its own."""
        if 0 <= self._last < 100:
            if self._redraw:
                self.stream.write("\n")
            self._last = 100


def format_fame(report: dict) -> str:
    """The creators' side of a ``simulate`` report, as text (one block per policy, then side by side)."""
    fame = report.get("fame") or {}
    if not fame:
        return ""
    names = list(fame)
    w = max([12, *(len(p) + 2 for p in names)])  # a plugin's path:Class is longer than a ranker name
    lines = ["", "creators' side (algorithmic fame):"]
    head = f"{'policy':<{w}}{'gini':>7}{'top 10%':>9}{'breakouts':>11}{'median 1st view':>17}"
    newcomer = any(f["newcomer"] for f in fame.values())
    if newcomer:
        head += f"{'newcomer: views to 1st':>24}{'reach':>8}{'share/fair':>12}"
    lines.append(head)
    for p in names:
        f = fame[p]
        firsts = [c["first_view"] for c in f["creators"] if c["first_view"] is not None]
        row = (f"{p:<{w}}{f['gini']:>7.3f}{f['top10_share']:>9.3f}{len(f['breakouts']):>11}"
               f"{(float(np.median(firsts)) if firsts else float('nan')):>17.1f}")
        nw = f["newcomer"]
        if newcomer and nw:
            vu = "-" if nw["views_until_first"] is None else f"{nw['views_until_first']:.1f}"
            ratio = nw["share_after_arrival"] / nw["fair_share"] if nw["fair_share"] else float("nan")
            row += f"{vu:>24}{nw['reach']:>8.3f}{ratio:>12.2f}"
        lines.append(row)
    for p in names:
        f = fame[p]
        lines.append(f"\n{p}: impressions and watch time per creator (breakout: {f['breakout_rule']})")
        lines.append(f"  {'creator':<14}{'clips':>6}{'impr.':>9}{'share':>8}{'fair':>7}{'last 1/3':>10}"
                     f"{'watch min':>11}{'reach':>7}{'1st view':>9}")
        for c in f["creators"]:
            fv = "-" if c["first_view"] is None else f"{c['first_view']:.0f}"
            lines.append(f"  {c['creator'][:14]:<14}{c['clips']:>6}{c['impressions']:>9}{c['share']:>8.3f}"
                         f"{c['fair_share']:>7.3f}{c['late_share']:>10.3f}{c['watch_ms'] / 60000:>11.1f}"
                         f"{c['reach']:>7.2f}{fv:>9}" + ("  BREAKOUT" if c["broke_out"] else ""))
    return "\n".join(lines)


def format_kind_report(report: dict) -> str:
    """A ``run_kind`` report as text: one row per ranker, random's row as the chance level, the oracle."""
    cat = report["catalog"]
    lines = [
        f"{report['viewers']} simulated viewers of kind {report['viewer_kind']} x {report['views']} views, seed "
        f"{report['seed']}, catalog of {cat['clips']} clips ({cat['topics']} topics, {cat['creators']} creators; "
        f"liked by a viewer: {cat['liked_share']:.3f}, short: {cat['short_share']:.3f}), one FeedEngine per viewer",
        "",
    ]
    rows = [*report["policies"], {**report["chance"], "ranker": "random (chance)"}]
    if report.get("oracle"):
        rows.append(report["oracle"])
    width = max(12, *(len(r["ranker"]) + 2 for r in rows))
    label_w = max(len(label) for _, label in METRICS) + 2
    lines.append(f"{'':<{label_w}}" + "".join(f"{r['ranker']:>{width}}" for r in rows))
    for k, label in METRICS:
        lines.append(f"{label:<{label_w}}" + "".join(f"{_fmt(r.get(k)):>{width}}" for r in rows))
    lines.append("\nliked share per block of 20 views")
    for r in rows:
        lines.append(f"{r['ranker']:<{width}}" + " ".join("  - " if v is None else f"{v:.2f}" for v in r["liked_blocks"]))
    for name, why in report["missing"].items():
        lines.append(f"\nmissing: {name}: {why}")
    return "\n".join(lines)


def run_rankers_command(as_json: bool = False) -> int:
    """Print every ranker with its parameter spec (name, default, min, max, description)."""
    rankers = describe()
    if as_json:
        print(json.dumps(rankers, indent=2))
        return 0
    for r in rankers:
        tag = " (default)" if r["default"] else ""
        print(f"{r['name']}{tag}: {r['description']}")
        for p in r["params"]:  # type: ignore[union-attr]
            print(f"  {p['name']:<18} {p['default']!s:>7}  [{p['min']:g} .. {p['max']:g}]  {p['description']}")
        print()
    return 0


def _fmt(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _file_in_the_way(folder: str | os.PathLike) -> Path | None:
    """The file that stops ``folder`` from being a folder (itself or its nearest existing parent), or None."""
    for p in (Path(folder), *Path(folder).parents):
        if p.exists():
            return None if p.is_dir() else p
    return None


def _plugin_failure(e: Exception, plugins: Sequence[str]) -> str | None:
    """One line for an exception raised in one of the ``plugins``' code while simulating; None when the
    traceback (a worker's, which multiprocessing attaches as the cause, included) passes through none."""
    if isinstance(e, ScoresRefused):  # its scores, not its code: what the app's guard would refuse at every call
        return f"plugin {e.spec}: {e} while simulating; fix it and simulate again"
    text = "".join(traceback.format_exception(e))
    for spec in plugins:
        where = plugin_line(text, parse_spec(spec)[0])
        if where:
            return f"plugin {spec} raised {type(e).__name__}: {e}{where} while simulating; fix it and simulate again"
    return None


def run_simulate_command(
    viewers: int,
    views: int,
    ranker: str,
    seed: int,
    as_json: bool = False,
    switch_at: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    catalog: Catalog | None = None,
    compare: Sequence[str] | None = None,
    creators: int | None = None,
    newcomer_at: int | None = None,
    plot_dir: str | os.PathLike | None = None,
    catalog_size: int | None = None,
    topics: int | None = None,
    viewer_kind: str | None = None,
    params: Mapping[str, float] | None = None,
) -> int:
    """Simulate viewers under ``ranker`` with random and popular beside it; print learning curves.

    Every viewer of a learning ranker is one FeedEngine driven through the feed transaction
    (``FeedSession``; random, popular and the oracle run ``simulate._run_lean``, the same slots), in
    ``workers`` processes (default: one per core, at most ``SHARDS`` = 4). ``catalog`` (e.g. the
    scanned demo folder) replaces the built-in demo-like catalog.

    The creators' side (``feedapp.core.fame``) is printed after the learning curves. ``compare``
    replaces the policies beside ``ranker`` (default: random, popular); ``creators`` uses a demo-like
    catalog with that many creators; ``newcomer_at`` adds a brand-new creator whose clips join the feed
    at that view; ``plot_dir`` writes PNG charts there (needs matplotlib). ``catalog_size`` (with
    ``topics`` and ``creators``) uses a generated catalog (``core.sim_catalogs``); ``viewer_kind`` runs
    viewers of that kind through one FeedEngine each (``core.sim_bench``) and prints the honest metrics
    with random's figures as chance (``compare`` defaults to the peers there; ``peers`` in ``compare``
    stands for them). ``params`` (``--param``) are ``ranker``'s parameter values; the policies beside it
    keep their defaults.
    """
    asked_workers = workers is not None  # --workers given: --viewer-kind runs its viewers in this process
    workers = workers if workers is not None else default_workers()
    in_the_way = _file_in_the_way(plot_dir) if plot_dir is not None else None
    if in_the_way is not None:  # said before the simulation runs, not after minutes of work
        print(f"feedapp: --plot {plot_dir}: {in_the_way} is a file, not a folder; give a folder for the charts "
              "(it is made if missing)", file=sys.stderr)
        return 2
    plugins: list[str] = []
    bar = ProgressBar() if progress else None
    try:
        from feedapp.commands.charts import write_plots
        from feedapp.core.fame import add_newcomer, creators_catalog
        from feedapp.core.sim_bench import DEFAULT_PEERS

        for flag, at in (("--switch-at", switch_at), ("--newcomer-at", newcomer_at)):  # in the command's words
            if at is not None and not 0 < at < views:
                raise ValueError(f"{flag} must be a view between 1 and --views - 1 ({views - 1}), not {at}")
        compare = [n for c in compare or () for n in (DEFAULT_PEERS if c == "peers" else (c,))] or None
        plugins = [n for n in dict.fromkeys((ranker, *(compare or ()))) if is_plugin_spec(n)]
        for spec in plugins:  # tried first, as `lab validate` does: a bad plugin is one line, not a traceback
            for where, problem in quick_check(spec, budget_ms=DEFAULT_BUDGET_MS, served_in="the app",
                                              option=" (--plugin-budget)"):  # NaN, wrong shapes, before any work
                if where != "budget":
                    raise ValueError(problem)
                # the simulation calls plugins without a budget: it runs, but says the app would not serve it
                print(f"feedapp: note: {problem}", file=sys.stderr)
        if params:
            if viewer_kind is not None:
                raise ValueError("--param is not available with --viewer-kind (its rankers run with their defaults)")
            try:  # a parameter the ranker lacks, or out of range: one line, before the run
                with plugin_prints_to_stderr():
                    make_any_ranker(ranker, **dict(params))
            except ParameterError as e:  # the command line's mistake, not the plugin's code (its super().__init__)
                raise ValueError(str(e)) from None
        if topics is not None and catalog_size is None:
            raise ValueError("--topics sets the topics of a generated catalog: give --catalog-size too")
        if catalog_size is not None:
            from feedapp.core.sim_catalogs import generated_catalog

            if catalog is not None:
                raise ValueError("give either a catalog or --catalog-size, not both")
            catalog = generated_catalog(catalog_size, topics or 20, creators or min(200, catalog_size), seed)
        elif creators is not None:
            if catalog is not None:
                raise ValueError("give either a catalog or a number of creators, not both")
            if creators > SIM_DEMO_CREATORS:
                raise ValueError(f"--creators: without --catalog-size at most {SIM_DEMO_CREATORS:,} (a demo-like "
                                 f"catalog of about three clips per creator), not {creators:,}")
            catalog = creators_catalog(seed, creators)
        if viewer_kind is not None:
            if newcomer_at is not None or plot_dir is not None:
                raise ValueError("--newcomer-at and --plot are not available with --viewer-kind")
            if asked_workers:  # said, not ignored: a run asked to share 4 processes took one
                raise ValueError("--workers is not available with --viewer-kind (its viewers run in one process)")
            from feedapp.core.demo_catalog import demo_like_catalog
            from feedapp.core.sim_bench import run_kind
            from feedapp.core.sim_viewers import DEFAULT_SWITCH_AT

            if viewer_kind in ("switcher", "mixed") and switch_at is None and views <= DEFAULT_SWITCH_AT:
                who = "the" if viewer_kind == "switcher" else "the mixed audience's"
                print(f"feedapp: note: {who} switchers change taste at view {DEFAULT_SWITCH_AT}, after this run's {views} "
                      f"views, so none switches here (the switch rows stay '-'); give --switch-at VIEW below {views}, "
                      f"or --views above {DEFAULT_SWITCH_AT}", file=sys.stderr)
            with plugin_prints_to_stderr():
                kind_report = run_kind(viewer_kind, catalog if catalog is not None else demo_like_catalog(seed),
                                       (ranker, *(compare or DEFAULT_PEERS)), viewers=viewers, views=views, seed=seed,
                                       switch_at=switch_at, progress=bar)
            print(json.dumps(kind_report, indent=2) if as_json else format_kind_report(kind_report))
            return 0
        newcomer = None
        if newcomer_at is not None:
            from feedapp.core.demo_catalog import demo_like_catalog

            catalog = add_newcomer(catalog if catalog is not None else demo_like_catalog(seed))
            newcomer = "newcomer"
        extra = {"baselines": tuple(compare)} if compare else {}
        with plugin_prints_to_stderr():
            report = simulate(
                viewers=viewers,
                views=views,
                ranker=ranker,
                seed=seed,
                switch_at=switch_at,
                workers=workers,
                catalog=catalog,
                progress=bar,
                newcomer=newcomer,
                newcomer_at=newcomer_at,
                params=dict(params) if params else None,
                **extra,
            )
        plots = write_plots(report, plot_dir) if plot_dir is not None else []
    except Exception as e:
        failed = _plugin_failure(e, plugins)  # plugin code that failed later in the run, whatever it raised
        if failed is not None:
            if bar is not None:
                bar.break_line()
            print(f"feedapp: {failed}", file=sys.stderr)
        elif isinstance(e, ValueError):  # ParameterError included
            print(f"feedapp: {e}", file=sys.stderr)
        elif isinstance(e, OSError):  # the charts' folder cannot be made or written (read-only, a file on the way, disk full)
            print(f"feedapp: cannot write the charts to {plot_dir}: {e.strerror or e}; choose another --plot folder",
                  file=sys.stderr)
        else:
            raise
        return 2
    if as_json:
        if plots:
            report["plots"] = [str(p) for p in plots]
        print(json.dumps(report, indent=2))
        return 0
    cat = report["catalog"]
    print(
        f"{report['viewers']} simulated viewers x {report['views']} views, seed {report['seed']}, catalog of "
        f"{cat['clips']} clips ({cat['topics']} topics, {cat['creators']} creators), one FeedEngine per viewer "
        f"(the oracle, uniform random and popular: the same slots without one) in {workers} process(es)"
        + (f", taste switch at view {switch_at}" if switch_at is not None else "")
    )
    if params:
        print(f"{ranker} runs with " + ", ".join(f"{k}={v:g}" for k, v in params.items())
              + "; the policies beside it with their defaults")
    print(f"chance level (share of clips in a viewer's preferred topics): {report['chance']:.3f}\n")
    cols = ["precision_after_20", "watch_ratio", "off_taste_after_50", "creators_shown"]
    if switch_at is not None:
        cols.append("precision_after_switch")
    w = max([10, *(len(p["ranker"]) + 2 for p in report["policies"])])  # a plugin's path:Class is long
    print(f"{'policy':<{w}}" + "".join(f"{c:>24}" for c in cols))
    for p in report["policies"]:
        print(f"{p['ranker']:<{w}}" + "".join(f"{_fmt(p.get(c)):>24}" for c in cols))
    print("\nlearning curve: share of preferred-topic clips per block of 10 views")
    for p in report["policies"]:
        print(f"{p['ranker']:<{w}}" + " ".join("  - " if v is None else f"{v:.2f}" for v in p["curve"]))
    print(f"\ntargets for {ranker}:")
    for k, t in report["targets"].items():
        print(f"  {k:<24} {t['value']:.3f}  (target >= {t['target']:.2f})  {'met' if t['met'] else 'NOT MET'}")
    print(format_fame(report))
    if plots:
        print("\ncharts: " + ", ".join(str(p) for p in plots))
    return 0
