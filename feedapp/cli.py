"""Command line: ``feedapp [COMMAND] ...``; with no command it runs the demo.

Each subcommand's work lives in its own module; this file only parses arguments and turns the
project's own errors into one clear line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

# One BLAS thread: re-ranking small matrices is faster and far steadier without a thread pool
# (measured in benchmarks/rerank.py). Set before numpy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from feedapp import __version__  # noqa: E402
from feedapp.config import (  # noqa: E402
    ConfigError,
    Settings,
    default_data_dir,
    default_demo_dir,
    parse_params,
    parse_taste,
)
from feedapp.core.sim_kinds import KINDS as VIEWER_KINDS  # noqa: E402
from feedapp.errors import UserError  # noqa: E402,F401 - raised by the UI, caught here
from feedapp.ranges import (  # noqa: E402
    AUTOPILOT_SPEED,
    PLUGIN_BUDGET_MS,
    QUIT_AFTER,
    QUIT_AFTER_CLIPS,
    SCALE,
    SEED,
    SIM_AT,
    SIM_CATALOG_SIZE,
    SIM_CREATORS,
    SIM_TOPICS,
    SIM_VIEWERS,
    SIM_WORKERS,
    SIM_VIEWS,
    SKIP_THRESHOLD_MS,
)


def _add_player_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=None, help="SQLite file for logs and caches (default: data/feed.db in a checkout, else in your user data folder; FEEDAPP_DATA overrides)")
    p.add_argument("--seed", type=SEED.arg, default=0, help="seed for the feed order, 0 .. 2^63-1 (default: 0)")
    p.add_argument("--ranker", default="foryou", help="ranker that orders the feed, see `feedapp rankers` (default: foryou)")
    p.add_argument(
        "--param", action="append", metavar="NAME=VALUE", help="set a ranker parameter (repeatable), e.g. --param epsilon=0.1"
    )
    p.add_argument(
        "--plugin-budget", type=PLUGIN_BUDGET_MS.arg, default=50.0, metavar="MS",
        help="time each call into a plugin ranker (--ranker file.py:Class) may take; past it the plugin is "
        "stopped, the built-in foryou serves at once and the plugin's last good version takes over again "
        "once it has restarted (default: 50 ms)",
    )
    p.add_argument(
        "--skip-threshold", type=SKIP_THRESHOLD_MS.arg, default=3000, metavar="MS",
        help="a view with less play time than this is a skip, 0 .. 600000 (default: 3000 ms)",
    )
    p.add_argument("--mute", action="store_true", help="start with sound off")
    p.add_argument(
        "--autopilot", metavar="TOPICS", default=None, type=_taste_arg,
        help="a simulated viewer drives the player: watches clips of these comma-separated topics to the end, "
        "skips the others after about 1 s (e.g. cats,art)",
    )
    p.add_argument(
        "--autopilot-speed", type=AUTOPILOT_SPEED.arg, default=1.0, metavar="X",
        help="divide the autopilot's skip and loop times by X, 0.01 .. 100 (default 1)",
    )
    p.add_argument("--fullscreen", action="store_true", help="start fullscreen (F toggles)")
    p.add_argument(
        "--scale", type=SCALE.arg, default=None, metavar="X",
        help="window, panels and text X times their usual size, 0.5 to 3 (Ctrl+= / Ctrl+- / Ctrl+0 in the window); "
        "remembered. The panels' text never goes below about 8 px: a window too small for them shows the player alone",
    )
    p.add_argument(
        "--quit-after", type=QUIT_AFTER.arg, default=None, metavar="SECONDS", help=argparse.SUPPRESS
    )  # for tests and benchmarks: close the window by itself
    p.add_argument("--quit-after-clips", type=QUIT_AFTER_CLIPS.arg, default=None, metavar="N", help=argparse.SUPPRESS)  # ... after N arrivals
    p.add_argument("--screenshot", type=Path, default=None, metavar="PNG", help=argparse.SUPPRESS)


def _taste_arg(text: str) -> tuple[str, ...]:
    try:
        return parse_taste(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedapp",
        description="A desktop lab for algorithmic feeds: swipe through clips, one full-height clip at a time. "
        "With no command, runs the demo.",
        epilog="Keys in the player: Down/j next, Up/k previous, Space pause, M mute, F fullscreen, ? help, Q quit.",
    )
    parser.add_argument("--version", action="version", version=f"feedapp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="play the demo catalog (made on first run, no downloads)",
        description="Play the demo catalog. On first run its clips are made with OpenCV (deterministic for a "
        "seed); playback starts as soon as the first clip is ready.",
    )
    _add_player_options(demo)
    demo.add_argument("--clips", type=Path, default=None, help="where the demo clips live (default: assets/demo in a checkout, else demo/ in your user data folder; FEEDAPP_DEMO_DIR overrides)")

    play = sub.add_parser(
        "play",
        help="play a folder of your own clips",
        description="Play every .mp4/.mov/.m4v/.webm/.mkv/.avi under DIR (recursively). Titles, topics and "
        "creators come from an optional sidecar (catalog.json or catalog.csv in DIR), else the parent folder "
        "name is the topic and the file name the title.",
    )
    play.add_argument("folder", type=Path, metavar="DIR")
    _add_player_options(play)

    scan = sub.add_parser(
        "scan",
        help="probe a folder and report which clips will play",
        description="Probe every video file under DIR and report it as accepted (duration, fps, size, "
        "orientation, rotation) or rejected with a reason. Results are cached in the database.",
    )
    scan.add_argument("folder", type=Path, metavar="DIR")
    scan.add_argument("--json", action="store_true", help="print JSON instead of a table")
    scan.add_argument("--db", type=Path, default=None, help="SQLite file holding the probe cache (default: data/feed.db in a checkout, else in your user data folder; FEEDAPP_DATA overrides)")
    scan.add_argument("--no-cache", action="store_true", help="probe every file again")

    make = sub.add_parser(
        "make-demo",
        help="make the demo clips without playing them",
        description="Make (or check) the demo catalog's clips and sidecar, with progress.",
    )
    make.add_argument("--clips", type=Path, default=None, help="where to write them (default: assets/demo in a checkout, else demo/ in your user data folder; FEEDAPP_DEMO_DIR overrides)")
    make.add_argument("--seed", type=SEED.arg, default=0, help="seed, 0 .. 2^63-1 (same seed, same clips)")

    sessions = sub.add_parser(
        "sessions",
        help="list the recorded sessions",
        description="One line per session: id, mode, participant, condition, ranker, start (UTC), length, "
        "views, skips, mean watch ratio, end reason (or running / interrupted).",
    )
    sessions.add_argument("--db", type=Path, default=None, help="SQLite log (default: data/feed.db in a checkout, else in your user data folder; FEEDAPP_DATA overrides)")
    sessions.add_argument("--json", action="store_true", help="print JSON (with full ids) instead of a table")

    check = sub.add_parser(
        "check",
        help="verify the log's invariants",
        description="Verify the invariants of every session (docs/data.md) and print each violation in words. "
        "Exit code 0 when all hold, 1 when any is violated, 2 when the file cannot be read.",
    )
    check.add_argument("--db", type=Path, default=None, help="SQLite log (default: data/feed.db in a checkout, else in your user data folder; FEEDAPP_DATA overrides)")
    check.add_argument("--json", action="store_true", help="print JSON instead of text")

    export = sub.add_parser(
        "export",
        help="export sessions to CSV, JSONL or Parquet files",
        description="Write one file per entity (sessions, clips, impressions, views, events, profile_snapshots) "
        "plus the joined view_log and a manifest.json into DIR. Conventions: docs/data.md.",
    )
    export.add_argument("--db", type=Path, default=None, help="SQLite log (default: data/feed.db in a checkout, else in your user data folder; FEEDAPP_DATA overrides)")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--session", metavar="ID", default=None, help="one session (a unique id prefix is enough)")
    which.add_argument("--all", action="store_true", help="every session and every clip (the default)")
    export.add_argument(
        "--format", choices=("csv", "jsonl", "parquet"), default="csv",
        help="file format (default: csv; parquet needs the optional extra feedapp[parquet])",
    )
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created if needed)")

    merge = sub.add_parser(
        "merge",
        help="merge the logs of several machines into one study file",
        description="Copy every row of the given databases into OUT (created or upgraded if needed), keyed by "
        "primary key: merging the same file again adds nothing. Sources are never changed.",
    )
    merge.add_argument("inputs", nargs="+", type=Path, metavar="DB")
    merge.add_argument("-o", "--out", type=Path, required=True, metavar="OUT", help="the study file to write")

    rankers = sub.add_parser(
        "rankers",
        help="list the rankers and their parameters",
        description="List every ranker (for --ranker NAME) with its parameters: name, default, min, max, description.",
    )
    rankers.add_argument("--json", action="store_true", help="print JSON instead of a table")

    sim = sub.add_parser(
        "simulate",
        help="simulate viewers with hidden tastes and report learning curves",
        description="Simulate viewers with hidden tastes over 1-3 topics on a demo-like catalog and report how fast "
        "the ranker learns them, with random and popular (and an oracle that knows the taste) beside it. Every "
        "simulated viewer of a learning ranker runs the app's own feed engine and step (one FeedEngine per viewer); "
        "random (drawing uniformly, its default), popular and the oracle, which learn nothing but view counts and not-interested "
        "marks, run the same decisions without the engine's "
        "records (the same clips, tested exactly).",
    )
    sim.add_argument("--viewers", type=SIM_VIEWERS.arg, default=200,
                     help="number of simulated viewers, 1 .. 10000 (default: 200)")
    sim.add_argument("--views", type=SIM_VIEWS.arg, default=100, help="views per viewer, 1 .. 10000 (default: 100)")
    sim.add_argument("--ranker", default="foryou", help="ranker to evaluate, see `feedapp rankers` (default: foryou)")
    sim.add_argument("--param", action="append", metavar="NAME=VALUE",
                     help="set a parameter of --ranker (repeatable), e.g. --param epsilon=0.1; the policies beside it "
                     "keep their defaults")
    sim.add_argument("--seed", type=SEED.arg, default=0, help="seed, 0 .. 2^63-1 (same seed, same report)")
    sim.add_argument(
        "--switch-at", type=SIM_AT.arg, default=None, metavar="VIEW", help="every viewer's taste moves to new topics at this view"
    )
    sim.add_argument("--workers", type=SIM_WORKERS.arg, default=None, metavar="N",
                     help="processes that run the viewers, each driven like the app's feed "
                     "(default: one per core it may use, at most 4; same report with any number)")
    sim.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sim.add_argument("--compare", nargs="+", metavar="NAME", default=None,
                     help="policies beside the ranker (default: random popular; with --viewer-kind: peers), e.g. --compare "
                     "following popular; 'peers' stands for ts_topic lin_ts vw_cb (Thompson sampling per topic and "
                     "creator, linear Thompson sampling, Vowpal Wabbit; a peer that cannot run is reported as missing)")
    sim.add_argument("--creators", type=SIM_CREATORS.arg, default=None, metavar="N",
                     help="creators in the catalog: with --catalog-size, 1 .. the catalog size (default 200); without "
                     "it a demo-like catalog with N creators, 1 .. 1000 (default: the demo's 5)")
    sim.add_argument("--catalog-size", type=SIM_CATALOG_SIZE.arg, default=None, metavar="N",
                     help="a generated catalog of N clips, 1 .. 100000, creators of heavy-tailed size "
                     "(default: the 64-clip demo-like catalog)")
    sim.add_argument("--topics", type=SIM_TOPICS.arg, default=None, metavar="N",
                     help="topics of the generated catalog, 1 .. 1000 (default 20; needs --catalog-size)")
    sim.add_argument("--viewer-kind", choices=tuple(VIEWER_KINDS), default=None, metavar="KIND",
                     help="simulate viewers of one kind and report the honest metrics (liked share per block, watch "
                     "time / oracle, flagged exploration, new creators, recovery, creators shown) with random's "
                     "figure as chance, default --compare peers; always one FeedEngine per viewer; "
                     "kinds: "
                     + "; ".join(f"{k}: {v}" for k, v in VIEWER_KINDS.items()))
    sim.add_argument("--newcomer-at", type=SIM_AT.arg, default=None, metavar="VIEW",
                     help="a brand-new creator's clips join every viewer's feed at this view")
    sim.add_argument("--plot", type=Path, default=None, metavar="DIR",
                     help="write PNG charts (Lorenz curve, exposure over time, learning curves) to DIR")

    rep = sub.add_parser(
        "replay",
        help="replay a logged session under other rankers and estimate their reward",
        description="Show what each ranker would have served at each step of a logged session, and estimate each "
        "ranker's expected reward from the logged propensities (IPS, SNIPS, DR with 95% bootstrap intervals). "
        "Rewards are recomputed from the logged view figures. See docs/rankers.md.",
    )
    rep.add_argument("--db", type=Path, default=None, help="SQLite log (default: data/feed.db in a checkout, else in your user data folder; FEEDAPP_DATA overrides)")
    rep.add_argument("--session", required=True, metavar="ID", help="the session (a unique id prefix is enough)")
    rep.add_argument("--ranker", nargs="+", required=True, metavar="NAME",
                     help="rankers to compare: names from `feedapp rankers` or path/to/file.py:ClassName")
    rep.add_argument("--param", action="append", metavar="NAME=VALUE",
                     help="replay the rankers with this parameter value instead (repeatable), e.g. --param epsilon=0.2; "
                     "without it the serving ranker replays with the session's own, live-changed parameters")
    rep.add_argument("--json", action="store_true", help="print JSON instead of tables")
    rep.add_argument("--no-steps", action="store_true", help="only the comparison table, not every step")

    chk = sub.add_parser(
        "check-ranker",
        help="run the ranker contract suite on a ranker or plugin (for plugin authors)",
        description="Check that a ranker keeps the contract its logged propensities rely on: valid scores, scores "
        "from their own random stream, pick frequencies that match the logged propensities (chi-square, with each "
        "policy rule active), determinism, and a replay that reproduces its session. See docs/rankers.md.",
    )
    chk.add_argument("ranker", metavar="NAME", help="path/to/file.py:ClassName, or a name from `feedapp rankers`")
    chk.add_argument("--draws", type=int, default=5000, metavar="N",
                     help="seeded draws per pick-frequency check, 1000 .. 200000 (default 5000)")
    chk.add_argument("--plugin-budget", type=PLUGIN_BUDGET_MS.arg, default=50.0, metavar="MS",
                     help="a plugin's learn_one and scores (and its restrict and explain, when it has them) must "
                     "take less than this a call, as in the app's --plugin-budget (default: 50 ms)")
    chk.add_argument("--json", action="store_true", help="print JSON instead of lines")

    from feedapp.lab.commands import add_lab_parser

    add_lab_parser(sub)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    db = args.db if getattr(args, "db", None) else default_data_dir() / "feed.db"
    if getattr(args, "db", None):
        # only the default data/ folder is made on demand: a mistyped --db must not create folders
        from feedapp.store.db import StoreError, check_parent_exists

        try:
            check_parent_exists(args.db, "--db")
        except StoreError as e:
            raise UserError(str(e)) from e
    return Settings(
        db_path=db,
        seed=getattr(args, "seed", 0),
        muted=getattr(args, "mute", False),
        fullscreen=getattr(args, "fullscreen", False),
        scale=getattr(args, "scale", None),
        skip_threshold_ms=getattr(args, "skip_threshold", 3000),
        ranker=getattr(args, "ranker", "foryou"),
        ranker_params=parse_params(getattr(args, "param", None)),
        plugin_budget_ms=getattr(args, "plugin_budget", 50.0),
    ).validate()


def _printable_streams() -> None:
    """A path whose name is not UTF-8 (a folder copied from another system) holds lone surrogates in
    Python; under a UTF-8 locale such as en_US.UTF-8, printing it raised UnicodeEncodeError, so a command
    that had done its work ended with "'utf-8' codec can't encode character '\\udce9'". Such bytes are
    shown as '\\udce9' instead."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    _printable_streams()
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv) or ["demo"])
    try:
        if args.command == "scan":
            from feedapp.media.scan import run_scan_command

            return run_scan_command(args.folder, db_path=_settings(args).db_path, as_json=args.json, use_cache=not args.no_cache)
        if args.command == "make-demo":
            from feedapp.media.demo import run_make_demo_command

            return run_make_demo_command(args.clips or default_demo_dir(), seed=args.seed)
        if args.command in ("sessions", "check", "export"):
            from feedapp.store import commands

            db = args.db or default_data_dir() / "feed.db"
            if args.command == "sessions":
                return commands.run_sessions_command(db, as_json=args.json)
            if args.command == "check":
                return commands.run_check_command(db, as_json=args.json)
            return commands.run_export_command(db, args.session, args.all, args.format, args.out)
        if args.command == "merge":
            from feedapp.store.commands import run_merge_command

            return run_merge_command(args.inputs, args.out)
        if args.command == "lab":
            from feedapp.lab.commands import run_lab_command
            from feedapp.ui.lab import run_lab_args  # no Qt at import: light lab commands stay light

            return run_lab_command(args, run_session=run_lab_args)
        if args.command == "check-ranker":
            from feedapp.commands.replay import run_check_ranker_command

            return run_check_ranker_command(args.ranker, draws=args.draws, as_json=args.json,
                                            plugin_budget_ms=args.plugin_budget)
        if args.command == "rankers":
            from feedapp.commands.simulate import run_rankers_command

            return run_rankers_command(as_json=args.json)
        if args.command == "simulate":
            from feedapp.commands.simulate import run_simulate_command

            return run_simulate_command(
                args.viewers, args.views, args.ranker, args.seed,
                as_json=args.json, switch_at=args.switch_at, workers=args.workers,
                compare=args.compare, creators=args.creators, newcomer_at=args.newcomer_at, plot_dir=args.plot,
                catalog_size=args.catalog_size, topics=args.topics, viewer_kind=args.viewer_kind,
                params=parse_params(args.param),
            )
        if args.command == "replay":
            from feedapp.commands.replay import run_replay_command
            from feedapp.store.sessions import open_for_reading

            return run_replay_command(open_for_reading, args.db or default_data_dir() / "feed.db", args.session,
                                      args.ranker, as_json=args.json, steps=not args.no_steps,
                                      params=parse_params(args.param))
        if args.command in ("demo", "play"):
            from feedapp.ui.app import run_player

            return run_player(
                _settings(args),
                folder=None if args.command == "demo" else args.folder,
                demo_dir=(getattr(args, "clips", None) or default_demo_dir()) if args.command == "demo" else None,
                quit_after=args.quit_after,
                quit_after_clips=args.quit_after_clips,
                screenshot=args.screenshot,
                autopilot=args.autopilot,
                autopilot_speed=args.autopilot_speed,
            )
    except (UserError, ConfigError, ValueError) as e:
        print(f"feedapp: {e}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as e:  # a damaged or unusable file met mid-command: in words, not a traceback
        from feedapp.store.db import explain_sqlite_error

        print(f"feedapp: {explain_sqlite_error(getattr(args, 'db', None) or 'the database', e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    parser.print_help()
    return 2
