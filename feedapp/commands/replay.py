"""CLI glue for the ranking workbench: ``feedapp replay`` and ``feedapp check-ranker`` (the parser
lives in ``feedapp/cli.py``).

``run_replay_command(open_for_reading, db, ...)`` opens the log with the opener it is given (the CLI
passes ``feedapp.store.sessions.open_for_reading``), reads the session with
``feedapp.store.replay_log.read_logged_session``, replays it (``feedapp.core.replay``) and prints the
estimates. Errors a person can fix become one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from feedapp.commands import plugin_prints_to_stderr
from feedapp.core.isolation import DEFAULT_BUDGET_MS
from feedapp.core.replay import ReplayInterrupted, replay
from feedapp.store.replay_log import read_logged_session


def _ci(e: dict) -> str:
    if e["value"] is None:
        return "-"
    if e["low"] is None:
        return f"{e['value']:+.3f}"
    return f"{e['value']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}]"


def format_replay(rep: dict, steps: bool = True) -> str:
    s, c = rep["session"], rep["counts"]
    lines = [
        f"session {s['id']}: served by {s['ranker']} (seed {s['seed']}), {c['impressions']} impressions, "
        f"{s['clips']} clips",
        f"used for the estimates: {c['used']}; excluded: {c['revisit']} revisits (no propensity), "
        f"{c.get('scripted', 0)} scripted slots (warm-up, practice), "
        f"{c['no_propensity']} other slots without a propensity, {c.get('unplayable', 0)} clips that could not be "
        f"played, {c['no_view']} without a closed view",
        f"reward: {rep['reward']}",
        f"intervals: {rep['ci']}",
    ]
    lines += [f"note: {n}" for n in s["notes"]]
    lines += [f"WARNING: {w}" for w in rep.get("warnings", ())]
    if rep.get("target_params"):
        lines.append("targets replayed with " + ", ".join(f"{k}={v:g}" for k, v in rep["target_params"].items())
                     + " for the whole session")
    for r in rep["rankers"]:
        x = r.get("reproduced")
        if x is not None:
            agree = "-" if x["served_agrees"] is None else f"{x['served_agrees']:.0%}"
            lines.append(f"{r['ranker']} served this session: replay reproduces its logged propensities to "
                         f"{x['max_propensity_error']:.1e} and its served clip at {agree} of the slots"
                         + ("" if x["exact_log"] else " (an older log: decisions' context not recorded)"))
    lines.append("")
    w = max([len("ranker")] + [len(r["ranker"]) for r in rep["rankers"]] + [len("(logged)")])
    head = f"{'ranker':<{w}}  {'IPS':>26}  {'SNIPS':>26}  {'DR':>26}  {'eff. n':>7}  {'top=logged':>10}"
    lines += [head, "-" * len(head)]
    lines.append(f"{'(logged)':<{w}}  {_ci(rep['logged']):>26}  {'':>26}  {'':>26}  {c['used']:>7}  {'':>10}")
    for r in rep["rankers"]:
        e = r["estimates"]
        agree = "-" if r["top_pick_agrees"] is None else f"{r['top_pick_agrees']:.0%}"
        lines.append(f"{r['ranker']:<{w}}  {_ci(e['ips']):>26}  {_ci(e['snips']):>26}  "
                     f"{_ci(e.get('dr', {'value': None})):>26}  {r['effective_samples']:>7.1f}  {agree:>10}")
    if steps and rep["steps"]:
        names = [r["ranker"] for r in rep["rankers"]]
        short = {n: (n.rpartition(":")[2] if ":" in n else n) for n in names}
        lines += ["", "what each ranker would have served (its most likely clip and that probability):"]
        lines.append(f"{'pos':>4}  {'logged clip':<22} {'p':>6} {'reward':>7}  " + "  ".join(f"{short[n]:<28}" for n in names))
        for st in rep["steps"]:
            p = "-" if st["propensity"] is None else f"{st['propensity']:.3f}"
            rw = "-" if st["reward"] is None else f"{st['reward']:+.2f}"
            tag = " (revisit)" if st["revisit"] else ""
            cells = []
            for n in names:
                x = st["rankers"].get(n)
                cells.append(f"{'':<28}" if x is None else f"{x['clip'][:20]:<20} {x['p']:.3f}  ")
            lines.append(f"{st['position']:>4}  {st['clip'][:22]:<22} {p:>6} {rw:>7}  " + "  ".join(cells) + tag)
    lines.append(f"\n{len(rep['rankers'])} ranker(s) replayed in {rep['seconds']:.2f} s")
    return "\n".join(lines)


def run_replay_command(
    open_for_reading: Callable[[Any], Any],
    db_path: Any,
    session: str,
    rankers: Sequence[str],
    as_json: bool = False,
    ci: str = "bootstrap",
    steps: bool = True,
    params: dict[str, float] | None = None,
) -> int:
    """``feedapp replay``: what each ranker would have served at each step, and its estimated reward."""
    try:
        from feedapp.core.plugins import is_plugin_spec, make_any_ranker, parse_spec

        for name in rankers:  # an unknown ranker or parameter is an error before the log is even opened
            if is_plugin_spec(name) and not parse_spec(name)[0].exists():
                continue  # the plugin that served may be in the log (its source): replay says whether it is
            with plugin_prints_to_stderr():
                make_any_ranker(name, **dict(params or {}))
        conn = open_for_reading(db_path)
        try:
            logged = read_logged_session(conn, session)
        finally:
            conn.close()
        with plugin_prints_to_stderr():
            rep = replay(logged, list(rankers), ci=ci, params=params)
    except ReplayInterrupted as e:  # Ctrl+C while a plugin ran: where it was, and why it may not end
        print(f"feedapp: {e}", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError) as e:  # ReplayError, UnknownRanker, PluginError, the store's StoreError
        print(f"feedapp: {e}", file=sys.stderr)
        return 2
    for w in rep.get("warnings", ()):  # on stderr too, so --json output does not hide them
        print(f"feedapp: warning: {w}", file=sys.stderr)
    if as_json:
        print(json.dumps(rep, indent=2, default=_json_default))
    else:
        print(format_replay(rep, steps=steps))
    return 0


def run_check_ranker_command(spec: str, *, draws: int = 5000, as_json: bool = False,
                             plugin_budget_ms: float = DEFAULT_BUDGET_MS) -> int:
    """``feedapp check-ranker``: the contract suite on one ranker (a plugin's calls also timed against
    ``plugin_budget_ms``, the app's ``--plugin-budget``). 0 all checks pass, 1 some fail, 2 the ranker
    cannot be loaded or ``draws`` is out of range (one line on stderr)."""
    from feedapp.core.contract import check_ranker
    from feedapp.core.plugins import is_plugin_spec, load_plugin_class, make_any_ranker, parse_spec

    if isinstance(draws, bool) or not isinstance(draws, int) or not 1000 <= draws <= 200_000:
        print(f"feedapp: --draws must be a whole number from 1000 to 200000, not {draws!r}", file=sys.stderr)
        return 2
    if is_plugin_spec(spec):  # its first calls in a worker with a deadline: the suite below runs it in this
        hung = _hangs(spec)   # process without one, and a plugin that never returns hung check-ranker in silence
        if hung:
            print(f"feedapp: {hung}; check-ranker stops here (its checks call the plugin in this process, without a "
                  "time limit)", file=sys.stderr)
            return 2
    try:
        with plugin_prints_to_stderr():
            make_any_ranker(spec)  # a missing file, a syntax error, a bad class: one line, before any check
            if is_plugin_spec(spec):  # a built-in's name, under which the app would not serve it
                load_plugin_class(*parse_spec(spec), own_name=True)
    except (ValueError, RuntimeError) as e:
        print(f"feedapp: {e}", file=sys.stderr)
        return 2
    source = parse_spec(spec)[0] if is_plugin_spec(spec) else None  # failures name the plugin's line
    try:
        with plugin_prints_to_stderr():
            checks = check_ranker(lambda seed: make_any_ranker(spec, seed=seed), draws=draws, source=source,
                                  budget_ms=plugin_budget_ms if source is not None else None)  # built-ins run in-process
    except KeyboardInterrupt:  # Ctrl+C: the checks took too long (a plugin that loops later in a check)
        print(f"feedapp: check-ranker stopped by Ctrl+C before its checks of {spec} were done (they call the ranker "
              "in this process without a time limit); nothing was checked to the end", file=sys.stderr)
        return 130
    failed = [c for c in checks if not c.passed]
    if as_json:
        print(json.dumps({"ranker": spec, "passed": not failed, "checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        for c in checks:
            print(f"{'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}")
        print(f"\n{spec}: {len(checks) - len(failed)} of {len(checks)} checks pass"
              + ("" if not failed else f"; fix: {', '.join(c.name for c in failed)}"))
    return 1 if failed else 0


#: How long check-ranker's first try of a plugin in a worker may take (the app's load time-out; a test lowers it).
HANG_TIMEOUT_S = 10.0


def _hangs(spec: str) -> str | None:
    """The plugin's import, creation, bind, a few learn_one calls and one scores, run in its own worker
    process within the app's load time-out (``plugins.quick_check``): why it did not finish, or None
    (it finished, or failed otherwise: the checks then say how, with the line)."""
    from feedapp.core.plugins import quick_check

    for _, message in quick_check(spec, timeout_s=HANG_TIMEOUT_S):
        if "did not finish within" in message:
            return message
    return None


def _json_default(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    return str(x)
