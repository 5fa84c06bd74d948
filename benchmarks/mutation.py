"""Mutation testing (mutmut, a test extra) over the modules the feed's figures rest on.

For each module, in a temporary copy of the tracked files (the checkout is never touched), mutmut
mutates the module and runs only the tests named for it (a bounded selection: the machine is shared),
one mutant at a time (``--max-children 1``). A mutant is *killed* when a test fails on it (a timeout
counts as killed: the behaviour broke), *survived* when every test passed, *no tests* when no selected
test ran its code. The score is killed / all mutants (no-tests counted against it), per module and
in total, printed beside the target (85 %).

    .venv/bin/python benchmarks/mutation.py                 # every module below
    .venv/bin/python benchmarks/mutation.py --module reward  # one of them
    .venv/bin/python benchmarks/mutation.py --module reward --workdir /tmp/mut-reward --survivors
        # keep the copy (``mutmut show NAME`` / ``mutmut run NAME`` there) and list what survived
    .venv/bin/python benchmarks/mutation.py --module engine --only 'feedapp.core.engine.*continue_after*'
        # only the mutants whose name matches (fnmatch, repeatable): a big module's changed functions;
        # the score then counts those mutants alone

A module's entry may name several files (``rankers``: every ranker but the policy, which has its own
entry); its figures are summed over them.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.85

#: module -> the tests that check it (pytest node ids, relative to the checkout)
MODULES: dict[str, tuple[str | list[str], list[str]]] = {
    "reward": ("feedapp/core/reward.py", ["tests/core/test_reward.py", "tests/core/test_signals.py",
                                        "tests/core/test_own_viewer.py"]),
    "ope": ("feedapp/core/ope.py", ["tests/core/test_ope.py"]),
    "session": ("feedapp/core/session.py", ["tests/core/test_session.py", "tests/core/test_signals.py"]),
    "feed_session": ("feedapp/core/feed_session.py", ["tests/core/test_feed_session.py", "tests/core/test_step_parts.py"]),
    "policy": ("feedapp/core/rankers/policy.py", ["tests/core/test_policy_rules.py", "tests/core/test_exact_propensities.py",
                                                  "tests/core/test_rankers.py", "tests/core/test_step_parts.py"]),
    "simulate": ("feedapp/core/simulate.py", ["tests/core/test_simulate.py"]),
    "rankers": ([f"feedapp/core/rankers/{m}.py" for m in ("base", "foryou", "popular", "random", "chronological",
                                                           "following", "rng", "registry")],
                ["tests/core/test_policy_rules.py", "tests/core/test_rankers.py", "tests/core/test_exact_propensities.py",
                 "tests/core/test_learn_view.py", "tests/core/test_step_parts.py",
                 "tests/core/test_foryou_shift.py"]),  # (foryou's faster forgetting: 23 survivors without it)
    "replay": ("feedapp/core/replay.py", ["tests/core/test_replay.py", "tests/core/test_feed_session.py"]),
    "fame": ("feedapp/core/fame.py", ["tests/core/test_fame.py"]),
    "recover": ("feedapp/store/recover.py", ["tests/store/test_recover.py", "tests/store/test_sessions.py",
                                             "tests/store/test_check.py"]),
    "sim_search": ("feedapp/core/sim_search.py", ["tests/core/test_sim_search.py"]),
    "engine": ("feedapp/core/engine.py", ["tests/core/test_engine.py", "tests/core/test_replay.py",
                                          "tests/store/test_recover.py"]),
    # every fast test that reads a logged session back; left out for time: tests/ui/test_feed_transaction.py
    # (a real window, ~23 s) and test_clip_versions' two-folder scan (~7 s), each run per mutant
    "replay_log": ("feedapp/store/replay_log.py", ["tests/core/test_replay.py", "tests/core/test_feed_session.py",
                                                   "tests/store/test_recover.py",  # a continuation's chain
                                                   "tests/store/test_file_faults.py::"
                                                   "test_lab_commands_and_replay_report_a_damaged_file_in_one_line"]),
}


def _mutmut() -> str:
    exe = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or shutil.which("mutmut")
    if exe is None:
        raise SystemExit("mutmut is not installed: it is a test extra (pip install -e '.[test]')")
    return exe


def _copy_checkout(work: Path) -> None:
    """Copy the checkout's tracked files (as they are on disk) into ``work``, replacing older copies."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        src = ROOT / f
        if src.is_file():
            dst = work / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def run_module(name: str, timeout_s: float, workdir: Path | None = None,
               only: list[str] | None = None) -> dict[str, object]:
    path, tests = MODULES[name]
    paths = [path] if isinstance(path, str) else list(path)
    with tempfile.TemporaryDirectory(prefix=f"mutmut-{name}-") as tmp:
        work = Path(tmp) if workdir is None else workdir
        if workdir is not None and (work / "mutants").exists():
            shutil.rmtree(work / "mutants")  # a fresh run: no verdict is carried over from an older checkout
        work.mkdir(parents=True, exist_ok=True)
        _copy_checkout(work)
        with open(work / "pyproject.toml", "a", encoding="utf-8") as fh:
            fh.write(f"\n[tool.mutmut]\npaths_to_mutate = {json.dumps(paths)}\n"
                     f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
                     'also_copy = ["tests", "examples", "feedapp", "benchmarks", "docs"]\n')
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        t0 = time.perf_counter()
        proc = subprocess.run([_mutmut(), "run", "--max-children", "1", *(only or [])], cwd=work, env=env, capture_output=True,
                              text=True, timeout=timeout_s)
        seconds = time.perf_counter() - t0
        codes: dict[str, int | None] = {}
        for p in paths:
            meta = work / "mutants" / (p + ".meta")
            if not meta.exists():
                return {"module": name, "error": (proc.stdout + proc.stderr)[-800:], "seconds": round(seconds, 1)}
            codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    if only:
        codes = {k: c for k, c in codes.items() if any(fnmatch.fnmatch(k, pat) for pat in only)}
        if not codes:
            return {"module": name, "error": f"no mutant's name matches {only}", "seconds": round(seconds, 1)}
    if codes and all(c is None for c in codes.values()):  # mutmut stopped before testing any mutant
        return {"module": name, "error": (proc.stdout + proc.stderr)[-800:], "seconds": round(seconds, 1)}
    killed = sum(1 for c in codes.values() if c not in (0, 33, None))
    survived = sorted(k for k, c in codes.items() if c == 0)
    no_tests = sorted(k for k, c in codes.items() if c == 33)
    total = len(codes)
    label = paths[0] if len(paths) == 1 else f"feedapp/core/rankers/ ({len(paths)} files)"
    return {"module": label, "tests": tests, "mutants": total, "killed": killed, "survived": len(survived),
            "no_tests": len(no_tests), "score": round(killed / total, 4) if total else None,
            "seconds": round(seconds, 1), "survivors": survived, "untested": no_tests}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", action="append", choices=sorted(MODULES), help="only these modules (repeatable)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per module (default 3600)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--workdir", type=Path, help="keep the mutated copy here (one module only) to inspect it with "
                                                 "mutmut show / rerun survivors with mutmut run NAME")
    ap.add_argument("--only", action="append", metavar="GLOB",
                    help="only the mutants whose name matches (fnmatch, repeatable; one module only)")
    ap.add_argument("--survivors", action="store_true", help="also list the mutants that survived or no test ran")
    args = ap.parse_args(argv)
    modules = args.module or list(MODULES)
    if args.workdir is not None and len(modules) != 1:
        ap.error("--workdir needs exactly one --module")
    if args.only and len(modules) != 1:
        ap.error("--only needs exactly one --module")
    rows = [run_module(m, args.timeout, args.workdir, args.only) for m in modules]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'module':<34} {'mutants':>7} {'killed':>6} {'survived':>8} {'no tests':>8} {'score':>6} {'s':>6}")
    for r in rows:
        if "error" in r:
            print(f"{r['module']:<34} mutmut failed: {r['error']}")
            continue
        print(f"{r['module']:<34} {r['mutants']:>7} {r['killed']:>6} {r['survived']:>8} {r['no_tests']:>8} "
              f"{r['score']:>6.1%} {r['seconds']:>6.0f}")
    if args.survivors:
        for r in rows:
            for key in ("survivors", "untested"):
                for mutant in r.get(key, []):
                    print(f"{key[:-1] if key == 'survivors' else 'no tests'}: {mutant}")
    done = [r for r in rows if "error" not in r]
    total = sum(int(r["mutants"]) for r in done)
    killed = sum(int(r["killed"]) for r in done)
    if total:
        print(f"{'total':<34} {total:>7} {killed:>6} {'':>8} {'':>8} {killed / total:>6.1%}   "
              f"target {TARGET:.0%}: {'met' if killed / total >= TARGET else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
