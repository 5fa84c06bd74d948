"""The composition root: settings -> store -> catalog -> feed -> window. The only place that wires them.

Order matters here: ``Qt.AA_ForceRasterWidgets`` must be set before the QApplication exists (without
it frame conversion goes through a software OpenGL renderer: 7-12 ms per frame and stuttering
swipes on a machine without a GPU), and the multimedia logging rules must be in the environment
before Qt Multimedia loads.

Logging hooks in here: ``window.view`` emits ``arrived`` (an Arrival) and the PlaybackEvent signals
(paused, resumed, mute_changed, loop_completed, stall_started/ended, focus_lost/gained, clip_failed),
all stamped with ``time.monotonic_ns()`` at the input. Arrival listeners run before the neighbours
are preloaded, so a ranker may call ``Feed.redecide_next()`` there.

One way of building a session, shared by ``run_player`` (demo/play) and ``feedapp.ui.lab.run_lab``:
``open_store`` (db) -> recovery -> catalog -> ``make_engine`` -> ``open_event_log`` (EventLog) ->
``new_recorder`` (SessionRecorder) -> window -> ``attach_session`` (SessionBridge, ranker events and
the panel / developer-tool hook points, see ``install_extensions``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from feedapp import __version__
from feedapp.errors import UserError, visible
from feedapp.config import Settings
from feedapp.core.catalog import Catalog
from feedapp.core.engine import FeedEngine
from feedapp.core.model import Clip, ScanResult
from feedapp.core.session import SessionRecorder
from feedapp.ui.chatter import filter_native_stderr
from feedapp.ui.memory import return_big_buffers

QUIET_LOGGING = "qt.multimedia*=false;qt.rhi*=false;qt.qpa.xcb*=false"


def _trace_enabled() -> bool:
    return os.environ.get("FEEDAPP_TRACE", "") not in ("", "0")


def _say(text: str) -> None:
    print(f"feedapp: {text}", file=sys.stderr, flush=True)


def _plain_failure(message: str) -> str:
    """A writer message in a few words for a viewer's notice."""
    m = message.lower()
    if "full" in m:
        return "the disk is full"
    if "read-only" in m or "readonly" in m:
        return "the disk is read-only"
    return "the disk cannot be written"


# Signals that end a session cleanly, with the end reason each is recorded with (docs/data.md).
STOP_SIGNALS = (("SIGINT", "quit"), ("SIGHUP", "terminal_closed"), ("SIGTERM", "terminated"))


def _detach_from_terminal() -> None:
    """The terminal is gone (SIGHUP): writing to it would fail with EIO, so the standard streams that were
    that terminal go to /dev/null (pipes and files stay as they are)."""
    try:
        ttys = [fd for fd in (1, 2) if os.isatty(fd)]
        if ttys:
            null = os.open(os.devnull, os.O_WRONLY)
            for fd in ttys:
                os.dup2(null, fd)
            os.close(null)
    except OSError:  # pragma: no cover - nothing better to do without a terminal
        pass


def install_stop_signals(stop: Callable[[str], None]):  # noqa: ANN201 - QTimer
    """Ctrl+C, a closed terminal (SIGHUP) and a polite kill (SIGTERM) call ``stop(end_reason)`` on the
    GUI thread: the session is closed cleanly with that reason instead of being left for crash recovery.
    Returns the 250 ms tick that lets Python's handlers run while Qt's loop is in C (keep it alive)."""
    from PySide6.QtCore import QTimer

    for name, reason in STOP_SIGNALS:
        sig = getattr(signal, name, None)
        if sig is None:  # pragma: no cover - SIGHUP does not exist on Windows
            continue

        def handler(signum, frame, reason=reason) -> None:  # noqa: ANN001, ARG001
            if reason == "terminal_closed":
                _detach_from_terminal()
            stop(reason)

        signal.signal(sig, handler)
    tick = QTimer(interval=250)
    tick.timeout.connect(lambda: None)
    tick.start()
    return tick


def _prepare_qt() -> None:
    """Environment and attributes that must be in place before the QApplication is created."""
    rules = os.environ.get("QT_LOGGING_RULES", "")
    os.environ["QT_LOGGING_RULES"] = f"{rules};{QUIET_LOGGING}" if rules else QUIET_LOGGING
    from PySide6.QtCore import QCoreApplication, Qt

    return_big_buffers()  # decoders' frame pools go back to the system when a slot is recycled

    if QCoreApplication.instance() is None:
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ForceRasterWidgets, True)


def _install_message_filter() -> None:
    """Drop known backend noise; say once, in plain words, that there is no sound device; pass the rest on."""
    from PySide6.QtCore import qInstallMessageHandler

    from feedapp.ui.chatter import is_qt_noise, means_no_audio

    said_no_audio = False

    def handler(mode, context, message: str) -> None:  # noqa: ANN001 - Qt types
        nonlocal said_no_audio
        if means_no_audio(message):
            if not said_no_audio:
                said_no_audio = True
                _say("no sound device found; videos play without sound")
            return
        if is_qt_noise(message):
            return
        print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def _empty_screen_text(folder: Path, result: ScanResult) -> tuple[str, str]:
    if result.rejected:
        examples = "\n".join(f"\u2022 {Path(r.path).name}: {r.reason}" for r in result.rejected[:4])
        more = f"\n\u2026and {len(result.rejected) - 4} more." if len(result.rejected) > 4 else ""
        return (
            "None of these videos can be played",
            f"Found {len(result.rejected)} video file(s) in {folder}, but none can be played:\n\n{examples}{more}\n\n"
            f"Run \u201cfeedapp scan {folder}\u201d for the full list, or add .mp4 clips and start again.",
        )
    return (
        "No videos in this folder",
        f"{folder} has no video files (.mp4, .mov, .m4v, .webm, .mkv or .avi).\n\n"
        "Put some clips there (sub-folders are fine: their names become topics) and start feedapp again, "
        "or run \u201cfeedapp demo\u201d to try the built-in demo clips.",
    )


def _check_folder(folder: Path) -> None:
    """A missing folder, a file given as one, or a path that is not UTF-8 text is a one-line UserError."""
    from feedapp.media.scan import FolderError, check_folder_name

    try:
        check_folder_name(folder)
    except FolderError as e:
        raise UserError(str(e)) from None
    if not folder.exists():
        raise UserError(f"the folder {folder} does not exist; check the path and try again")
    if not folder.is_dir():
        raise UserError(f"{folder} is a file, not a folder; give the folder that holds your clips")


def _scan_folder(folder: Path, db, stream=None, progress_after: float | None = None) -> ScanResult:  # noqa: ANN001
    """Probe the folder (cached in the database); a missing folder becomes a one-line UserError."""
    _check_folder(folder)
    from feedapp.media.scan import FolderError, load_folder, probe_progress, remember_scanned
    from feedapp.store.cache import ProbeCache

    try:
        result = load_folder(folder, cache=ProbeCache(db),
                             progress=probe_progress(sys.stderr if stream is None else stream, progress_after))
    except FolderError as e:
        raise UserError(str(e)) from e
    remember_scanned(result.stamps)  # a clip file replaced while the app runs is not played as this clip
    return result


def _recover_crashed_sessions(db, db_path: Path) -> list[str]:  # noqa: ANN001 - sqlite_utils.Database
    """Close sessions a crash or kill left open (their last view completed from its checkpoint).

    When another program holds the database's write lock (longer than the 5 s busy timeout), say so
    and return the ids left open: the caller starts anyway and hands them to the event log
    (``EventLog.recover_sessions``), which closes them as soon as the lock is gone, before the new
    session's first record. Nothing is lost either way; if the app ends first, the next start does it.
    """
    from feedapp.store.recover import RecoveryLocked, recover_interrupted

    try:
        closed, pending = recover_interrupted(db), []
    except RecoveryLocked as e:
        closed, pending = e.closed, [s["id"] for s in e.pending]
    for s in closed:
        _say(f"session {s['id'][:8]} in {db_path} was interrupted (crash or power cut) at {s['last_utc']}; "
             f"closed it as recovered_after_crash, its last view completed from the checkpoint")
    if pending:
        shown = ", ".join(sid[:8] for sid in pending)
        _say(f"{len(pending)} interrupted session(s) in {db_path} ({shown}) cannot be closed yet: another program "
             "holds the database's write lock. Starting anyway: what is recorded waits in memory, and the "
             "interrupted session(s) are closed as recovered_after_crash as soon as the lock is released "
             "(or at the next start); nothing is lost")
    return pending


# -- the shared way of building a session (run_player and the lab use these) -------------------------
def open_store(db_path: Path):  # noqa: ANN201 - sqlite_utils.Database
    """The database (created or upgraded); an unusable file becomes a one-line UserError."""
    from feedapp.store.db import StoreError, open_db

    try:
        return open_db(db_path)
    except StoreError as e:
        raise UserError(str(e)) from e


def make_engine(catalog: Catalog, ranker: str, seed: int, params: dict | None = None, *,
                warmup: Sequence[Clip] = (), plugin_budget_ms: float | None = None) -> FeedEngine:
    """The feed engine for a registered ranker name or a plugin (``path/to/file.py:ClassName``).

    Built before any window: a bad --ranker/--param is one clear line, not a traceback. A plugin
    runs in its own process; each call into it has ``plugin_budget_ms`` (default 50 ms).
    """
    from feedapp.core.plugins import PluginHost, is_plugin_spec

    if is_plugin_spec(ranker):  # path/to/file.py:ClassName, watched and reloaded on save
        budget = {} if plugin_budget_ms is None else {"budget_ms": plugin_budget_ms}
        return PluginHost.feed(catalog, ranker, seed=seed, params=params or {}, warmup=warmup, **budget)
    return FeedEngine(catalog, ranker, seed, params or {}, warmup=warmup)


def plugin_failure_notice(info: dict) -> str:
    """The one-line notice in the window when a plugin ranker fails (details: terminal, log, panel D)."""
    what = {"timeout": "took too long", "crashed": "stopped working", "invalid": "returned unusable scores"}.get(
        str(info.get("cause")), "raised an error")
    back = f" while {info['restoring']} restarts" if info.get("restoring") else ""
    return (f"The ranker plugin {what} in {info.get('method', '?')}(); the feed goes on with "
            f"{info.get('fallback', 'the fallback')}{back} (details in the terminal and the developer panel, D).")


def plugin_reload_line(info: dict) -> str:
    """The terminal's line when a plugin version starts serving (a reload on save, or the last good
    version restarted after a failure), in words."""
    what = "restarted" if info.get("restored") else "reloaded"
    where = f" from {info['path']}" if info.get("path") else ""
    n = info.get("views_replayed", 0)
    return (f"ranker plugin {what}: {info.get('class', info.get('ranker', '?'))} version {info.get('version', '?')}"
            f"{where} serves now ({n} view{'' if n == 1 else 's'} replayed in {float(info.get('ms', 0.0)):.0f} ms)")


def watch_plugin(engine: FeedEngine, view):  # noqa: ANN001, ANN201 - SwipeView -> QTimer | None
    """For a plugin ranker: poll its file (reload on save, never blocking) and announce each failure
    in the window (a notice), on the terminal (the traceback), including failures from before the
    window existed. Returns the poll timer (None without a plugin); stop it and ``plugin_host.close()``."""
    host = getattr(engine, "plugin_host", None)
    if host is None:
        return None
    from PySide6.QtCore import QTimer

    timer = QTimer(interval=250)
    timer.timeout.connect(host.poll)  # never blocks: a reload loads in its own process
    timer.start()

    def plugin_failed(info) -> None:  # noqa: ANN001 - dict from the plugin host
        _say(f"the ranker plugin failed in {info.get('method')}(): {info.get('message')}; "
             f"the feed goes on with {info.get('fallback')}:\n{info.get('traceback', '')}")
        view.show_toast(plugin_failure_notice(info), 5000)

    def plugin_reloaded(info) -> None:  # noqa: ANN001
        _say(plugin_reload_line(info))
        view.show_toast(f"Ranker plugin version {info.get('version')} serves again." if info.get("restored")
                        else "Ranker plugin reloaded.", 2500)

    engine.on("ranker_did_fail", plugin_failed)
    engine.on("ranker_did_reload", plugin_reloaded)
    for info in list(host.failures):  # failed while the engine was built (in bind), before anyone listened
        plugin_failed(info)
    return timer


def start_line(seed: int, folder: Path | None, scan: ScanResult | None, demo_dir: Path | None) -> str | None:
    """The terminal's first line: what plays, and (demo and play alike) that ? lists the keys."""
    if scan is not None and folder is not None:
        if scan.accepted:
            n, bad = len(scan.accepted), len(scan.rejected)
            note = f"; {bad} file{'s' * (bad != 1)} will not be played (see `feedapp scan`)" if bad else ""
            return f"playing {n} clip{'s' * (n != 1)} from {folder} (seed {seed}){note}; press ? for keys"
        return f"nothing to play in {folder}: {_empty_screen_text(folder, scan)[0].lower()}"
    if demo_dir is not None:
        return (f"playing the demo catalog in {demo_dir} (seed {seed}); missing clips are made in the background; "
                "press ? for keys")
    return None


def require_display(command: str) -> None:
    """Refuse, in one line and before any file is made, to open a window where there is no display.

    On Linux without ``DISPLAY`` or ``WAYLAND_DISPLAY`` (an SSH login, a server, a cron job) Qt cannot start
    and aborts the process with a core dump and advice to reinstall, after the database was made and a
    study's clips probed. ``QT_QPA_PLATFORM`` set by the user (``offscreen``, ``vnc``) is trusted.
    """
    env = os.environ
    if not sys.platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return
    raise UserError(f"no display found (DISPLAY is not set): `feedapp {command}` opens a window; run it in a "
                    f"desktop session, or under a virtual display: xvfb-run -a feedapp {command} ...")


def start_qt():  # noqa: ANN201 - QApplication
    """The QApplication, created once with the attributes and message filter it needs."""
    _prepare_qt()
    from PySide6.QtWidgets import QApplication

    _install_message_filter()
    return QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "feedapp"])


def open_event_log(db_path: Path, on_status: Callable[[str, str], None] | None = None):  # noqa: ANN201 - EventLog
    """The research log's writer; ``on_status(kind, message)`` runs on the GUI thread (Qt must be started)."""
    from PySide6.QtCore import QObject, Signal

    from feedapp.store.db import StoreError
    from feedapp.store.log import EventLog

    class _LogStatus(QObject):
        changed = Signal(str, str)  # from the writer thread to the GUI thread

    relay = _LogStatus()
    if on_status is not None:
        relay.changed.connect(on_status)
    try:
        log = EventLog(db_path, on_status=relay.changed.emit)
    except StoreError as e:
        raise UserError(str(e)) from e
    log._status_relay = relay  # keep the relay (and its connection) alive as long as the log
    return log


def written_summary(log, recorder: SessionRecorder, db_path: Path,  # noqa: ANN001 - EventLog
                    reason: str | None = None) -> tuple[bool, str]:
    """(everything written?, one line): what really is in the file for this session, counted from the
    file after the log was closed, never from what was queued. Says "written" only when it was."""
    from feedapp.store.log import written_counts

    n = recorder.views_closed
    head = f"session {recorder.id[:8]}" + (f" ended ({reason})" if reason else "") + f" after {n} view{'s' * (n != 1)}"
    counts = written_counts(db_path, recorder.id)
    unwritten = log.unwritten
    why = log.fatal or "the database stayed locked"
    if counts is None:
        return False, (f"{head}; {db_path} cannot be read back, so what it holds of this session is not known"
                       + (f"; {unwritten} record(s) were not written: {why}" if unwritten else ""))
    if unwritten == 0 and counts["views"] == n and counts["ended"]:
        return True, f"{head}; all {n} are written to {db_path}"
    lost = f"; {unwritten} record(s) could not be written: {why}" if unwritten else ""
    ended = "" if counts["ended"] else " and the session's end is not recorded"
    return False, f"{head}, but {db_path} holds only {counts['views']} of them{ended}{lost}"


def _report_rejections(scan: ScanResult, recorder: SessionRecorder, view) -> None:  # noqa: ANN001 - SwipeView
    """Each file that will not be played: a line on stderr, an event in the log, a notice in the window."""
    for r in scan.rejected:
        _say(f"skipping {visible(r.path)}: {r.reason}")
        recorder.event("clip_rejected", path=r.path, reason=r.reason)
    if scan.rejected:
        first = scan.rejected[0]
        more = f" (and {len(scan.rejected) - 1} more; see \u201cfeedapp scan\u201d)" if len(scan.rejected) > 1 else ""
        view.show_toast(f"Skipped {Path(first.path).name}: {first.reason}{more}", 6000)


def new_recorder(log, catalog: Catalog, **session_kwargs) -> SessionRecorder:  # noqa: ANN001 - EventLog
    """A SessionRecorder writing to ``log``: ``session_kwargs`` = mode, ranker, ranker_params, seed, ...
    (``Assignment.session_kwargs`` gives them for a lab session)."""
    return SessionRecorder(
        log,
        app_version=__version__,
        catalog_fingerprint=catalog.fingerprint(),
        catalog_size=len(catalog),
        **session_kwargs,
    )


def install_extensions(window, engine: FeedEngine, recorder: SessionRecorder, *,  # noqa: ANN001 - PlayerWindow
                       panels_visible: bool | None = True, panel_controls: bool = True,
                       dev_tools: bool = True) -> dict[str, object]:
    """HOOK POINTS for the panels and the developer tools (built by other work in parallel).

    Each is called only when its module exists (``importlib.util.find_spec``); an error inside an
    existing module is raised, not hidden. ``panels_visible=None`` skips the panels;
    ``panel_controls=False`` leaves out the panels' viewer actions (a lab study). Returns what the
    installers returned, by name.
    """
    import importlib
    import importlib.util

    installed: dict[str, object] = {}
    # HOOK: profile / queue panels -> feedapp.ui.panels.install_panels(window, engine, recorder, visible=...)
    if panels_visible is not None and importlib.util.find_spec("feedapp.ui.panels") is not None:
        panels = importlib.import_module("feedapp.ui.panels")
        if hasattr(panels, "install_panels"):
            kwargs = {} if panel_controls else {"controls": False}
            installed["panels"] = panels.install_panels(window, engine, recorder, visible=panels_visible, **kwargs)
    # HOOK: developer tools -> feedapp.ui.devtools.install_dev_tools(window, engine, recorder)
    if dev_tools and importlib.util.find_spec("feedapp.ui.devtools") is not None:
        devtools = importlib.import_module("feedapp.ui.devtools")
        if hasattr(devtools, "install_dev_tools"):
            installed["dev_tools"] = devtools.install_dev_tools(window, engine, recorder)
    return installed


def attach_session(window, engine: FeedEngine, recorder: SessionRecorder, *,  # noqa: ANN001 - PlayerWindow
                   on_view_closed: Callable[[object], None] | None = None,
                   panels_visible: bool | None = True, panel_controls: bool = True,
                   dev_tools: bool = True):  # noqa: ANN201 - SessionBridge
    """Connect the window's player to the recorder and the engine (SessionBridge), log ranker events,
    and call the panel / developer-tool hook points."""
    from feedapp.core.plugins import record_ranker_events
    from feedapp.ui.recording import SessionBridge

    bridge = SessionBridge(window.view, engine, recorder, on_view_closed=on_view_closed)
    record_ranker_events(engine, recorder)  # parameter changes, plugin reloads and failures become events
    bridge.extensions = install_extensions(window, engine, recorder, panels_visible=panels_visible,
                                           panel_controls=panel_controls, dev_tools=dev_tools)
    return bridge


def _check_autopilot(autopilot: str | Sequence[str] | None, speed: float) -> tuple[str, ...]:
    """The autopilot's topics (() for none); UserError for an empty taste or a speed out of range."""
    from feedapp.config import ConfigError, parse_taste
    from feedapp.ranges import AUTOPILOT_SPEED

    if not autopilot:
        return ()
    try:
        taste = parse_taste(autopilot) if isinstance(autopilot, str) else parse_taste(",".join(autopilot))
    except ConfigError as e:
        raise UserError(str(e)) from e
    bad = AUTOPILOT_SPEED.problem(speed)
    if bad:
        raise UserError(f"--autopilot-speed {bad}")
    return taste


def _check_autopilot_topics(taste: tuple[str, ...], known: set[str]) -> None:
    """UserError when a topic of ``--autopilot`` is no clip's topic: the autopilot would skip every clip of
    the feed without a word (``--autopilot cat`` for the demo's ``cats``)."""
    import difflib

    unknown = [t for t in taste if t not in known]
    if not unknown or not known:
        return
    lower = {k.lower(): k for k in known}
    said = []
    for t in unknown:
        close = [lower[t.lower()]] if t.lower() in lower else difflib.get_close_matches(t, sorted(known), n=1)
        said.append(f"{t!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise UserError(f"--autopilot: no clip has the topic {', '.join(said)}; the topics are: {', '.join(sorted(known))}")


def run_player(
    settings: Settings,
    folder: Path | None = None,
    demo_dir: Path | None = None,
    quit_after: float | None = None,
    screenshot: Path | None = None,
    autopilot: str | Sequence[str] | None = None,
    autopilot_speed: float = 1.0,
    quit_after_clips: int | None = None,
) -> int:
    """Open the store, find clips (a folder, or the demo maker in the background) and run the window.

    Returns the exit code: 0 after playing, 1 when there was nothing playable or records could not be
    written; a missing folder or an unusable database raises UserError (exit code 2, one line on stderr).
    """
    t_start = time.monotonic_ns()
    require_display("demo" if folder is None else "play")  # first: no window, so no database file or demo folder
    return_big_buffers()  # before probing: 4K frames freed by the scan go back to the system too
    taste = _check_autopilot(autopilot, autopilot_speed)  # before the store: refused input leaves no session row
    if demo_dir is not None:  # likewise a demo folder that cannot be made (the clips are made in the background)
        from feedapp.media.demo import DEMO_SEED, demo_folder
        from feedapp.media.demo_plan import plan_demo

        if folder is None:  # the demo's topics are known before its clips are made
            _check_autopilot_topics(taste, {item.topic for item in plan_demo(DEMO_SEED)})

        try:
            demo_folder(demo_dir)
        except OSError as e:
            raise UserError(str(e)) from None
    if folder is not None:  # before the store too: a mistyped folder makes no database file
        _check_folder(Path(folder))
    catalog = Catalog()  # the engine before the store: a refused --ranker or --param makes no database file
    engine = make_engine(catalog, settings.ranker, settings.seed, settings.ranker_params,
                         plugin_budget_ms=settings.plugin_budget_ms)
    try:
        db = open_store(settings.db_path)
    except BaseException:
        if getattr(engine, "plugin_host", None) is not None:
            engine.plugin_host.close()  # its worker process
        raise
    still_open = _recover_crashed_sessions(db, settings.db_path)

    scan: ScanResult | None = None
    if folder is not None:
        folder = Path(folder)
        scan = _scan_folder(folder, db)
        _check_autopilot_topics(taste, {t for c in scan.accepted for t in c.topics})  # before the session's row

    filter_native_stderr()  # FFmpeg's harmless chatter off the terminal; real errors still shown
    app = start_qt()
    from PySide6.QtCore import QObject, QTimer, Signal

    from feedapp.ui.window import PlayerWindow
    line = start_line(settings.seed, folder, scan, demo_dir)  # what plays, before Qt's audio setup speaks
    if line:
        _say(line)
    _say(f"recording to {Path(settings.db_path).resolve()}")
    # -- the research log: every view and event is committed as it happens (docs/data.md) ----------
    log = open_event_log(settings.db_path, lambda kind, message: on_log_status(kind, message))
    log.recover_sessions(still_open)  # closed by the writer when the lock is gone, before the new session
    # Clips reach the log before the view hears of them: the first impression is recorded as soon as
    # the view starts (inside catalog_grew), and it refers to its clip (foreign key).
    catalog.on_grow(log.clips_known)
    from feedapp.config import load_prefs, save_prefs

    # the zoom: --scale, else the one remembered from the last run; every change is remembered
    zoom = settings.scale if settings.scale is not None else load_prefs().get("zoom", 1.0)
    if settings.scale is not None:
        save_prefs({"zoom": settings.scale})
    window = PlayerWindow(engine, muted=settings.muted, zoom=zoom)
    window.zoom_changed.connect(lambda z: save_prefs({"zoom": z}))
    view = window.view
    catalog.on_grow(lambda added: view.catalog_grew())
    exit_code = 0
    recorder = new_recorder(
        log,
        # the folder's clips are known already (they join the live catalog once the bridge listens);
        # the demo catalog grows while it is made, and the session's end records its final state
        Catalog(scan.accepted) if scan is not None else catalog,
        mode="demo" if folder is None else "play",
        ranker=engine.ranker.name,
        ranker_params=dict(engine.ranker.params),
        seed=settings.seed,
        skip_threshold_ms=settings.skip_threshold_ms,
    )
    # SessionBridge + ranker events + HOOK POINTS (install_panels / install_dev_tools): see install_extensions
    # the taste panel is shown in demo mode (a workshop watches the profile form) and one P away otherwise
    session = attach_session(window, engine, recorder, panels_visible=folder is None, dev_tools=True)
    pilot = None
    if taste:
        from feedapp.ui.autopilot import Autopilot

        pilot = Autopilot(view, engine, taste, seed=settings.seed, speed=autopilot_speed)
    plugin_timer = watch_plugin(engine, view)  # a plugin ranker: reload on save, failures shown

    def on_log_status(kind: str, message: str) -> None:
        """The writer's health. A lock delays saving (a toast); a failed write (full disk, read-only, I/O
        error) puts a lasting notice on screen while the writer holds the records and retries; the
        final summary says what reached the file."""
        _say(message)
        if kind == "waiting":
            view.show_toast("Saving is delayed: another program is using the database. What you watch is kept and "
                            "saved when it is free; quitting while it is busy loses it.", 5000)
        elif kind == "ok":
            view.set_notice("")
            view.show_toast("Saving works again; everything is saved.", 3000)
        elif kind == "fatal":
            _say(f"{log.unwritten} record(s) are held in memory and written as soon as that works again "
                 f"(tried every {log.RETRY_FAILED_S:g} s); whatever is still held when feedapp closes is lost")
            view.set_notice(f"Not saving: {_plain_failure(message)}. What you watch is kept and saved when it "
                            "works again; quitting now loses it.")


    def on_arrival(arrival) -> None:  # noqa: ANN001 - Arrival
        if arrival.how == "start" and arrival.first_frame_ns is not None and _trace_enabled():
            _say(f"first frame painted {(arrival.first_frame_ns - t_start) / 1e6:.0f} ms after start")
        if _trace_enabled():
            ff = arrival.first_frame_ms
            _say(f"arrived at #{arrival.position} {arrival.clip.id} via {arrival.how}"
                 + (f", first frame {ff:.1f} ms after settling" if ff is not None else ", no frame within 3 s"))

    view.arrived.connect(on_arrival)
    if _trace_enabled():
        def on_event(ev) -> None:  # noqa: ANN001 - PlaybackEvent
            _say(f"{ev.kind} at #{ev.position}" + (f" ({ev.value})" if ev.value is not None else ""))

        for sig in (view.paused, view.resumed, view.mute_changed, view.loop_completed, view.stall_started,
                    view.stall_ended, view.focus_lost, view.focus_gained, view.clip_failed):
            sig.connect(on_event)

    class _Bridge(QObject):
        """Carries clips from the demo maker's thread to the GUI thread (queued signals)."""

        clip_ready = Signal(object)
        progress = Signal(int, int)
        finished = Signal(object)
        failed = Signal(str)

    bridge = _Bridge()
    worker: threading.Thread | None = None
    stop = threading.Event()  # tells the demo maker to end early when the window closes

    if scan is not None:
        assert folder is not None
        if scan.accepted:
            catalog.add(scan.accepted)
            _report_rejections(scan, recorder, view)
        else:
            exit_code = 1
            view.set_message(*_empty_screen_text(folder, scan))
    else:
        assert demo_dir is not None
        demo_dir = Path(demo_dir)

        def add_clip(clip: Clip) -> None:
            catalog.add([clip])
            n = len(catalog)
            if n & (n - 1) == 0:  # 2, 4, 8, ... clips: the next pick was made from half as many; choose again
                view.redecide_next()  # (not on every clip: "next" would flip every second before any view)

        def show_progress(done: int, total: int) -> None:
            view.set_status("" if done >= total else f"Making demo clips {done}/{total}")

        def demo_finished(result: ScanResult) -> None:
            view.set_status("")
            catalog.add(result.accepted)
            if result.rejected:
                _say(f"{len(result.rejected)} demo clip(s) could not be made, e.g. {result.rejected[0].reason}")
            if not len(catalog):
                view.set_message("The demo clips could not be made", "See the messages in the terminal for why.")

        def demo_failed(message: str) -> None:
            view.set_status("")
            _say(f"the demo clips could not be made: {message}")
            if not len(catalog):
                view.set_message("The demo clips could not be made", message)

        bridge.clip_ready.connect(add_clip)
        bridge.progress.connect(show_progress)
        bridge.finished.connect(demo_finished)
        bridge.failed.connect(demo_failed)

        def make() -> None:
            try:
                from feedapp.media.demo import DEMO_SEED, make_demo

                # the feed's --seed orders the feed; it does not remake the 288 clips (as lab runs do not)
                result = make_demo(demo_dir, seed=DEMO_SEED, workers=2,
                                   on_clip=bridge.clip_ready.emit, on_progress=bridge.progress.emit, stop=stop)
            except Exception as e:  # noqa: BLE001 - shown to the person, the player keeps running
                bridge.failed.emit(str(e) or type(e).__name__)
            else:
                bridge.finished.emit(result)

        view.set_status("Getting the demo clips ready\u2026")
        worker = threading.Thread(target=make, name="feedapp-demo-maker", daemon=True)

    def finish() -> None:
        if screenshot is not None:
            path = Path(screenshot)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(path)):
                _say(f"could not save the screenshot to {path}")
        window.close()
        app.quit()

    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), finish)
    if quit_after_clips is not None:  # tests: end once N clips have arrived (whatever the machine's speed)
        arrived = [0]

        def count_arrival(_arrival) -> None:  # noqa: ANN001 - Arrival
            arrived[0] += 1
            if arrived[0] == quit_after_clips:
                QTimer.singleShot(300, finish)

        view.arrived.connect(count_arrival)

    end_reason = ["quit"]

    def stop_on_signal(reason: str) -> None:  # Ctrl+C, the terminal closed, a polite kill
        end_reason[0] = reason
        app.quit()

    tick = install_stop_signals(stop_on_signal)

    window.show()
    if settings.fullscreen:
        window.toggle_fullscreen()
    view.start()
    if worker is not None:
        worker.start()
    app.exec()
    tick.stop()
    if plugin_timer is not None:
        plugin_timer.stop()
    session.end(end_reason[0])  # closes the in-flight view: the ranker (a plugin's worker too) learns from it
    view.shutdown()
    if plugin_timer is not None:
        engine.plugin_host.close()  # only now: stopped before, the last learn_one was logged as a plugin crash
    if not log.close(timeout=5.0) or log.failed_ever:
        complete, line = written_summary(log, recorder, settings.db_path, end_reason[0])
        _say(line)
        if not complete:
            exit_code = 1
    stop.set()
    if worker is not None:
        worker.join(timeout=5.0)  # the maker stops after the clip in progress and terminates its workers
    if worker is not None and worker.is_alive():
        _say("the demo maker did not stop in time; leaving without waiting for it")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(exit_code)
    return exit_code
