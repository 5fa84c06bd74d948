"""``feedapp lab STUDY.toml``: run one participant's lab session from a study file.

The flow: start dialog (participant id, the condition the study assigns, an optional override and
seed) -> instructions -> optional practice block -> the feed (warm-up clips first, then the
condition's ranker) until a limit or the experimenter ends it -> end screen (thank you and a
debrief card). Sessions are built the same way as ``feedapp play`` builds them (``feedapp.ui.app``:
open_store, make_engine, open_event_log, new_recorder, attach_session).

What is logged, beyond what every session logs (docs/researchers.md, "Running the sessions"):

- the main session: ``mode = "lab"``, participant, condition, seed, ranker and parameters
  (``Assignment.session_kwargs``); first the ``study`` event (``Assignment.study_event``: study
  name, file sha256, method, design, participant number, block, order, overridden), then a
  ``lab_session`` event (kiosk, seed_given, practice_session id, warm-up clip ids, limits);
- the practice block is its OWN session with ``mode = "practice"`` (same participant, condition
  and ``sessions.study``; ranker ``random`` over the practice clips, which are served first as
  warm-ups): it has a ``practice`` event naming the study but no ``study`` event; reports and
  study exports never count it (``feedapp.lab.data.session_ids`` leaves mode ``practice`` out),
  a withdrawal deletes it with the study's sessions; the main session's ``lab_session`` event links it;
- limits: ``limit_reached`` {limit: "views" | "minutes", value, views, elapsed_ms}, then the
  session ends with end reason ``finished``; the time limit does not run while the experimenter
  has paused the session;
- the experimenter: ``operator_pin_refused``, ``operator_pause``, ``operator_resume``,
  ``operator_abort`` (the session then ends with ``quit``);
- a write failure (full disk, read-only disk, I/O error; ``EventLog`` status "fatal"): a
  ``recording_failed`` {message, phase} event, then the session ends with end reason ``error``; the
  participant sees "Please call the experimenter" (no technical words), the experimenter gets what
  failed, what is safe in the file (read back) and what to do, in the terminal and on top of the
  experimenter menu; records held in memory are written if the disk recovers before the app closes;
- the end: SIGINT (Ctrl+C) ends the session as ``quit``, SIGHUP (the terminal closed) as
  ``terminal_closed``, SIGTERM as ``terminated``; the last line counts what is in the file;
- a session continuing one that crashed: ``continues_session`` {session_id, views, elapsed_ms};
  the ranker first learns the crashed session's closed views, warm-up clips already shown are not
  shown again, and the limits count what the crashed session used.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from feedapp.errors import UserError, counted
from feedapp.core.model import Clip
from feedapp.lab.data import Continuation, next_block, study_event
from feedapp.lab.study import Study
from feedapp.store.cache import HeldProbeCache, ProbeCache
from feedapp.store.replay_log import continued_chain, continued_views

DEFAULT_HOTKEY = "Ctrl+Shift+O"


def _say(text: str) -> None:
    print(f"feedapp: {text}", file=sys.stderr, flush=True)


# == reading the database =========================================================================
def previous_sessions(conn: sqlite3.Connection, study: Study, participant: str) -> list[dict[str, Any]]:
    """The participant's sessions of this study already in the database (practice sessions excluded)."""
    from feedapp.lab.data import session_ids

    ids = session_ids(conn, study=study.name, participant=participant)
    out = []
    for sid in ids:
        row = conn.execute("SELECT id, started_utc, condition, end_reason FROM sessions WHERE id = ?", [sid]).fetchone()
        if row:
            out.append({"id": row[0], "started_utc": row[1], "condition": row[2], "end_reason": row[3]})
    return out


def interrupted_lab_session(db, study: Study) -> dict[str, Any] | None:  # noqa: ANN001 - sqlite_utils.Database
    """The newest interrupted (crashed) lab session of this study, or None."""
    from feedapp.lab.data import study_event
    from feedapp.store.recover import interrupted_sessions

    for s in interrupted_sessions(db):
        row = db.execute("SELECT participant, condition, mode FROM sessions WHERE id = ?", [s["id"]]).fetchone()
        if row is None or row[2] != "lab" or study_event(db.conn, s["id"]).get("study") != study.name:
            continue
        views = db.execute("SELECT COUNT(*) FROM views WHERE session_id = ?", [s["id"]]).fetchone()[0]
        return {**s, "participant": row[0], "condition": row[1], "views": views}
    return None


def load_continuation(conn: sqlite3.Connection, session_id: str) -> Continuation:
    """What a new session needs to continue ``session_id``: read after it was closed as recovered, or
    before (its database was locked at start, so the event log closes it later); its checkpointed
    in-flight view counts as recovery completes it, with exit ``crash``."""
    s = conn.execute("SELECT participant, condition, fields, seed FROM sessions WHERE id = ?", [session_id]).fetchone()
    if s is None:
        raise UserError(f"there is no session {session_id} to continue")
    # what the crashed session saw, after what the sessions it continued saw (a continuation that crashed
    # in turn): its views (replay's engine learns them first too), its feed's slots, its time
    replay = continued_views(conn, session_id)
    shown: list[str] = []
    elapsed = 0.0
    for sid in continued_chain(conn, session_id):
        shown += [r[0] for r in conn.execute(  # a swipe back (is_revisit) is not served again
            "SELECT clip_id FROM impressions WHERE session_id = ? AND is_revisit = 0 ORDER BY position", [sid])]
        started, ended = conn.execute("SELECT started_mono_ns, ended_mono_ns FROM sessions WHERE id = ?",
                                      [sid]).fetchone() or (None, None)
        last = conn.execute("SELECT MAX(ended_mono_ns) FROM views WHERE session_id = ?", [sid]).fetchone()[0]
        if started is not None:
            elapsed += max(0.0, ((ended or max(started, last or 0)) - started) / 1e6)
    fields = json.loads(s[2]) if s[2] else {}
    lab = conn.execute("SELECT data FROM events WHERE session_id = ? AND kind = 'lab_session' ORDER BY mono_ns LIMIT 1",
                       [session_id]).fetchone()
    given = bool(lab and json.loads(lab[0] or "{}").get("seed_given"))
    block = study_event(conn, session_id).get("block", 0)
    return Continuation(session_id, s[0] or "", s[1] or "", len(replay), elapsed, tuple(shown), replay,
                        fields if isinstance(fields, dict) else {}, int(s[3]) if given and s[3] is not None else None,
                        block if isinstance(block, int) and not isinstance(block, bool) and block >= 0 else 0)


def session_block(conn: sqlite3.Connection, study: Study, participant: str,
                  continuation: Continuation | None = None) -> int:
    """The block (within-subjects; 0 otherwise) of ``participant``'s session about to start: the crashed
    session's own block when this session continues it (not the next one: it was recorded as an override
    of the next block's condition, with that block's seed), else the next block."""
    if study.design != "within":
        return 0
    if continuation is not None and participant == continuation.participant:
        return continuation.block
    return next_block(conn, study.name, participant)


def continuation_problem(study: Study, cont: Continuation, condition: str | None) -> str | None:
    """Why the session ``cont`` describes cannot be continued under ``study`` as it is now (None: it can):
    its condition is gone from the study file (renamed or removed since it ran), or ``--condition`` names
    another. The start dialog fell back to the file's first condition, locked, and the continuation ran
    another ranker than the session it continued."""
    who = f"the interrupted session {cont.session_id[:8]} of {cont.participant}"
    if cont.condition not in study.condition_names:
        return (f"{who} ran condition {cont.condition!r}, which the study file no longer has (it has: "
                f"{', '.join(study.condition_names)}), so it cannot be continued; it is closed as "
                f"recovered_after_crash: start a new session for {cont.participant}")
    if condition is not None and condition != cont.condition:
        return (f"{who} ran condition {cont.condition!r}; a session continuing it runs the same condition, not "
                f"--condition {condition!r} (leave --condition out, or start a new session)")
    return None


def continued_start(cont: Continuation, condition: str | None, seed: int | None,
                    fields: dict[str, str]) -> tuple[str, str | None, int | None, dict[str, str]]:
    """(participant, condition, seed, fields) the start dialog of the session continuing ``cont`` opens
    with: the crashed session's id, condition, field values and, when the experimenter gave it by hand,
    its seed (a derived seed is derived again, the same). What the command line gave wins."""
    if condition is None and cont.condition:
        condition = cont.condition
    if seed is None:
        seed = cont.seed
    return (cont.participant, condition, seed,
            {**{k: "" if v is None else str(v) for k, v in cont.fields.items()}, **fields})


# == the command ===================================================================================
def _lab_clips(study: Study, db, demo_dir: Path | None) -> tuple[list[Clip], Path]:  # noqa: ANN001
    """The study's clips, from ``study.clips_folder(--clips)``: the folder ``lab validate`` checks. For
    ``catalog = "demo"`` the missing demo clips are made there first (with progress); when every one
    exists the folder is only scanned (probe cache in the db)."""
    from feedapp.ui.app import _scan_folder

    folder = study.clips_folder(demo_dir)
    if study.catalog == "demo" and not _demo_made(folder):
        from feedapp.media.demo import DEMO_SEED, make_demo

        last = [-1]

        def progress(done: int, total: int) -> None:
            if done < total and done // 8 != last[0]:
                last[0] = done // 8
                _say(f"making the demo clips in {folder}: {done}/{total}")

        result = make_demo(folder, seed=DEMO_SEED, workers=2, on_progress=progress)
    else:
        result = _scan_folder(folder, db)
    if not result.accepted:
        raise UserError(f"the study's catalog {folder} has no playable clip (see `feedapp scan {folder}`)")
    if result.rejected:
        _say(f"{counted(len(result.rejected), 'clip')} of {folder} will not be played (see `feedapp scan {folder}`)")
    return list(result.accepted), folder


def held_probe_cache(db_path: Path) -> HeldProbeCache:
    """The probe cache of the log at ``db_path`` when it is a feedapp log, read without writing to it
    (``lab run`` checks the study before it opens the database); else an empty one. So checking the
    study's clips costs a probe only for clips no earlier session probed (a 288-clip catalog: about 10 s
    each time without it)."""
    import sqlite3

    import sqlite_utils

    from feedapp.store.db import StoreError, connect_read_only, file_owner

    try:
        if file_owner(db_path)[0] != "feedapp":
            return HeldProbeCache(None)
        conn = connect_read_only(db_path, timeout=2.0)
        try:
            cache = HeldProbeCache(sqlite_utils.Database(conn))
            cache._load()  # every row now, then the file is let go
        finally:
            conn.close()
        return cache
    except (StoreError, sqlite3.Error, OSError):  # unreadable, locked, an old file without the table: probe
        return HeldProbeCache(None)


def _demo_made(folder: Path) -> bool:
    from feedapp.media.demo import DEMO_SEED
    from feedapp.media.demo_plan import plan_demo

    return folder.is_dir() and all((folder / item.file).exists() for item in plan_demo(DEMO_SEED))


def parse_field_args(study: Study, items: Sequence[str]) -> dict[str, str]:
    """``--field NAME=VALUE`` (repeatable) -> {name: text}; UserError for a name the study has not."""
    out: dict[str, str] = {}
    names = [f.name for f in study.fields]
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--field {item!r}: write it as NAME=VALUE (the study's fields: {', '.join(names) or 'none'})")
        if name not in names:
            raise UserError(f"--field {name}: the study has no field {name!r} (it has: {', '.join(names) or 'none'})")
        out[name] = value
    return out


def check_fields(study: Study, given: dict[str, str]) -> dict[str, Any]:
    """The values to store for ``--yes`` (every field checked as the start dialog checks it)."""
    values, problems = {}, []
    for f in study.fields:
        value, problem = f.check(given.get(f.name, f.default))
        if problem:
            problems.append(problem + f" (give --field {f.name}=...)")
        elif value is not None:
            values[f.name] = value
    if problems:
        raise UserError("; ".join(problems))
    return values


def run_lab(
    study_path: str | Path,
    *,
    db_path: Path,
    participant: str | None = None,
    condition: str | None = None,
    seed: int | None = None,
    yes: bool = False,
    kiosk: bool = False,
    pin: str | None = None,
    muted: bool = False,
    demo_dir: Path | None = None,
    hotkey: str = DEFAULT_HOTKEY,
    quit_after: float | None = None,
    screenshot: Path | None = None,
    fields: Sequence[str] = (),
) -> int:
    """Run one lab session (see the module docstring). Returns the exit code.

    0: the session ran (finished, or ended by the experimenter); 1: the study file has problems, the
    start dialog was cancelled, or writing to the database failed during the session; 2 (UserError): bad arguments, unusable database or catalog.
    """
    import os

    from feedapp.lab.commands import validate
    from feedapp.lab.data import next_block
    from feedapp.lab.study import StudyError, load_study
    from feedapp.ui.app import _recover_crashed_sessions, open_event_log, open_store, require_display, start_qt
    from feedapp.ui.chatter import filter_native_stderr

    from feedapp.ui.kiosk import hotkey_problem

    from feedapp.ranges import SEED

    bad_hotkey = hotkey_problem(hotkey)  # the experimenter's only way out of kiosk mode: refuse before anything
    if bad_hotkey:
        raise UserError(bad_hotkey)
    if seed is not None and SEED.problem(seed):
        raise UserError(f"--seed {SEED.problem(seed)}")
    require_display("lab")  # before the clips are probed (half a minute for the demo's) and the database is made
    study_path = Path(study_path)
    held = held_probe_cache(Path(db_path))  # the clips' probes from earlier sessions: checked in a moment
    code, result = validate(study_path, demo_dir=demo_dir, cache=held)
    if code != 0:
        for p in result.get("problems", []):
            where = f"{study_path}:{p['line']}" if p.get("line") else str(study_path)
            field = f" {p['field']}:" if p.get("field") else ""
            print(f"{where}:{field} {p['message']}" + ("" if p["severity"] == "error" else f" ({p['severity']})"),
                  file=sys.stderr)
        _say(f"not starting: {study_path} has problems (`feedapp lab validate {study_path}` lists them)")
        return code
    try:
        study = load_study(study_path)
    except StudyError as e:  # pragma: no cover - validate passed a moment ago
        raise UserError(str(e)) from e
    pin = pin or os.environ.get("FEEDAPP_LAB_PIN") or getattr(study, "operator_pin", "") or None
    if kiosk and not pin:
        raise UserError("kiosk mode needs the experimenter's PIN: give --pin (or set FEEDAPP_LAB_PIN)")
    if condition is not None and condition not in study.condition_names:
        raise UserError(f"study {study.name!r} has no condition {condition!r} (it has: {', '.join(study.condition_names)})")
    given_fields = parse_field_args(study, fields)
    field_values: dict[str, Any] = {}
    if yes and participant:  # no start dialog to correct them: refused before the database file is made
        problem = study.check_participant(participant)
        if problem and not (condition is not None and "has no number" in problem):
            raise UserError(problem)
        field_values = check_fields(study, given_fields)  # (with --yes no continuation changes the fields)

    db = open_store(db_path)
    ProbeCache(db).put_many(held.added)  # what the check probed: the scan below does not probe it again
    _say(f"recording to {Path(db_path).resolve()}")
    crashed = interrupted_lab_session(db, study)
    clips, folder = _lab_clips(study, db, demo_dir)
    filter_native_stderr()  # FFmpeg's harmless chatter off the terminal; real errors still shown
    app = start_qt()
    app.setQuitOnLastWindowClosed(False)  # dialogs come and go; the lab window's end quits (lab.finished)
    from PySide6.QtCore import QTimer

    from feedapp.ui.lab_dialogs import RecoveryDialog, StartDialog

    continuation: Continuation | None = None
    choice = "close"
    if crashed is not None and not yes:
        dialog = RecoveryDialog(crashed)
        if dialog.exec() and dialog.chosen == "continue":
            choice = "continue"
    still_open = _recover_crashed_sessions(db, db_path)  # a locked database: closed later by the event log
    if choice == "continue" and crashed is not None:
        continuation = load_continuation(db.conn, crashed["id"])
        problem = continuation_problem(study, continuation, condition)
        if problem:
            raise UserError(problem)
        # the start dialog opens filled in as the crashed session was (--field, --seed still win)
        participant, condition, seed, given_fields = continued_start(continuation, condition, seed, given_fields)

    def block_for(pid: str) -> int:
        return session_block(db.conn, study, pid, continuation)

    def previous(pid: str) -> list[dict[str, Any]]:
        found = previous_sessions(db.conn, study, pid)
        if continuation is not None:  # continuing the crashed session is expected, not a duplicate
            if study.design == "within" and pid == continuation.participant:
                return []  # the crashed session's block, run on
            found = [s for s in found if s["id"] != continuation.session_id]
        if study.design == "within" and next_block(db.conn, study.name, pid) < len(study.conditions):
            return []  # one session per block is expected (a continued crash is one block)
        return found

    if yes and participant:  # (its id and fields were checked before the database was opened)
        try:
            a = study.assign(participant, None, block=block_for(participant))
            if condition is not None and condition != a.condition.name:
                a = study.assign(participant, condition, block=block_for(participant))
        except ValueError as e:
            if condition is None:
                raise UserError(str(e)) from e
            a = study.assign(participant, condition, block=block_for(participant))
        if seed is not None:
            import dataclasses

            a = dataclasses.replace(a, seed=seed)
        if previous(participant):
            _say(f"participant {participant} already has {counted(len(previous(participant)), 'session')} of this study; "
                 "starting another (--yes)")
        assignment, seed_given = a, seed is not None
    else:
        dialog = StartDialog(study, previous_sessions=previous, block_for=block_for, participant=participant or "",
                             condition=condition, seed=seed, fields=given_fields, continuing=continuation is not None)
        if not dialog.exec() or dialog.assignment is None:
            _say("no session started (the start dialog was cancelled)")
            return 1
        assignment, seed_given = dialog.assignment, dialog.seed_given
        field_values = dialog.fields

    status_to = [lambda kind, message: _say(message)]  # the lab session takes over once it exists
    log = open_event_log(db_path, lambda kind, message: status_to[0](kind, message))
    log.recover_sessions(still_open)
    from feedapp.ui.lab_window import LabSession

    lab = LabSession(study, assignment, clips, log, folder=folder, kiosk=kiosk, pin=pin, muted=muted,
                     seed_given=seed_given, continuation=continuation, hotkey=hotkey, fields=field_values)
    status_to[0] = lab.on_log_status
    _say(f"lab session of {study.name}: participant {assignment.participant}, condition {assignment.condition.name}"
         f"{' (chosen by hand)' if assignment.overridden else ''}, seed {assignment.seed}"
         f"{', kiosk mode (experimenter: ' + hotkey + ')' if kiosk else ''}")
    lab.finished.connect(lambda code: app.quit())

    def finish() -> None:
        if screenshot is not None:
            path = Path(screenshot)
            path.parent.mkdir(parents=True, exist_ok=True)
            lab.window.grab().save(str(path))
        lab.close(force=True)

    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), finish)
    from feedapp.ui.app import install_stop_signals

    tick = install_stop_signals(lab.stop)  # Ctrl+C: quit; a closed terminal, a polite kill: their own end reason
    lab.show()
    app.exec()
    tick.stop()
    run = lab.current_run
    if run is not None:
        run.end("quit")
    for r in (lab.practice_run, lab.main_run):
        if r is not None:
            r.view.shutdown()
            r.close_plugin()
    log.close(timeout=5.0)
    from feedapp.ui.app import written_summary

    complete = True  # the final summary: what really is in the file, counted from it
    for r in (lab.practice_run, lab.main_run):
        if r is not None:
            ok, line = written_summary(log, r.recorder, db_path, r.reason)
            complete = complete and ok
            if r is lab.main_run or not ok:  # the practice session only when something of it is missing
                _say(("practice " if r is lab.practice_run else "") + line)
    if not complete or lab.write_failed_ever:
        return max(lab.exit_code, 1)
    return lab.exit_code


def run_lab_args(args) -> int:  # noqa: ANN001 - the argparse.Namespace of `feedapp lab [run] STUDY.toml`
    """``feedapp lab [run] STUDY.toml ...`` (options: feedapp.lab.commands.add_lab_parser)."""
    import os

    from feedapp.config import default_data_dir

    return run_lab(
        args.study, db_path=args.db or default_data_dir() / "feed.db", participant=args.participant,
        condition=args.condition, seed=args.seed, yes=args.yes, kiosk=args.kiosk,
        pin=args.pin or os.environ.get("FEEDAPP_LAB_PIN") or None, muted=args.mute, demo_dir=args.clips,
        hotkey=args.hotkey, quit_after=args.quit_after, screenshot=args.screenshot, fields=args.field or (),
    )
