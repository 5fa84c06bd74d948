"""Plugin code in its own process: a time budget per call, contained exits, bounded output.

Why a process and not a thread: a thread that loops cannot be stopped (it keeps the GIL busy even
after it is abandoned, and ``PyThreadState_SetAsyncExc`` cannot stop a loop that swallows exceptions
or sits in C code). A worker process can always be killed, so a plugin that loops, sleeps, calls
``sys.exit``, raises ``KeyboardInterrupt``, ``os._exit``\\ s, crashes in C or prints megabytes can
never stop the feed. The price is one pipe round trip per call (measured in
``benchmarks/plugin_isolation.py``; figures in ``docs/benchmarks.md``).

How: ``PluginProcess`` starts one worker per plugin *version* (``forkserver`` on Linux: a clean
server process, started once with numpy and the core imported, forks each worker in a few ms; it
never forks the Qt process). ``RemoteRanker`` is a ``BaseRanker`` whose methods are calls into that
worker. The catalog's clips are sent once (``bind``); clips added later, popularity and followed
creators travel with the next call, only when they changed. Each call waits at most the budget
(``budget_ms``, default 50 ms); past it the worker is killed and ``PluginTimeout`` is raised, which
``GuardedRanker`` (``plugins.py``) turns into a fall-back, a notice and a log event.

Inside the worker every ``BaseException`` from plugin code is caught and sent back (``PluginRaised``
with the worker's traceback); SIGINT is ignored (Ctrl+C in the terminal is for the app); ``sys.stdout``
and ``sys.stderr`` write to a bounded buffer (``OUTPUT_LIMIT`` characters per call; the rest is
counted, not kept) whose text comes back with each reply (``PluginOutput`` keeps the newest
``OUTPUT_LIMIT`` characters); file descriptors 1 and 2 point at ``/dev/null``, so output from C code
cannot fill a pipe nobody reads. On Linux a worker dies with the app (``PR_SET_PDEATHSIG``).

Qt-free: only ``multiprocessing``.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler as _ForkingPickler
from typing import Any

import numpy as np

from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip, View
from feedapp.core.rankers.base import BaseRanker, Param, ParameterError, Popularity, World, learn
from feedapp.core.rankers.rng import Rng

DEFAULT_BUDGET_MS = 50.0  # the longest one call into plugin code may take while the feed serves
DEFAULT_LOAD_TIMEOUT_S = 10.0  # loading, binding and replaying a version before it serves
OUTPUT_LIMIT = 64 * 1024  # characters of plugin output kept: per call in the worker, in total by the app
START_TIMEOUT_S = 10.0  # the forkserver's answer to "a new worker, please" (seconds; it takes a few ms)
DIRECT_SEND_LIMIT = 64 * 1024  # bytes a caller writes itself (they fit the socket's buffer: it cannot block)


class PluginTimeout(Exception):
    """Plugin code did not return within its budget; its process was stopped."""


class PluginCrashed(Exception):
    """The plugin's process ended on its own (``os._exit``, a crash in C code, killed from outside)."""


class PluginRaised(Exception):
    """Plugin code raised (any ``BaseException``, ``SystemExit`` included); ``remote_traceback`` is its text."""

    def __init__(self, kind: str, message: str, remote_traceback: str) -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind
        self.message = message
        self.remote_traceback = remote_traceback


@dataclass(frozen=True)
class PluginVersion:
    """One version of a plugin file: the source text as loaded (later edits do not change it)."""

    path: str
    class_name: str
    source: str
    number: int = 1


# -- the worker ------------------------------------------------------------------------------------


class _BoundedText(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` in the worker: keeps the first ``limit`` characters per call."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:  # type: ignore[override]
        s = str(s)
        room = self.limit - self.size
        if room > 0:
            keep = s[:room]
            self.parts.append(keep)
            self.size += len(keep)
            self.dropped += len(s) - len(keep)
        else:
            self.dropped += len(s)
        return len(s)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped} more characters of plugin output dropped]\n"
        self.parts, self.size, self.dropped = [], 0, 0
        return text


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the process that forked it ends (no orphans that loop)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _Worker:
    """The plugin instance and its mirror of the feature space and world, inside the worker."""

    def __init__(self) -> None:
        self.ranker: Any = None
        self.space: FeatureSpace | None = None
        self.world = World()

    # -- keeping the mirror in step -----------------------------------------------------------
    def sync(self, sync: dict) -> None:
        if "clips" in sync and self.space is not None:
            self.space.add(sync["clips"])
        if "popularity" in sync:
            pop = self.world.popularity
            for cid, n in sync["popularity"].items():
                d = n - pop.counts.get(cid, 0)
                if d:
                    pop.add(cid, d)
        if "following" in sync:
            self.world.following.clear()
            self.world.following.update(sync["following"])

    # -- operations (``op_<name>``) ----------------------------------------------------------
    def op_prepare(self, load: tuple | None, bind: tuple | None, learned: list | None, check: Any) -> tuple:
        """Any of: load the class and make the ranker, bind it, replay views, score once (one message)."""
        meta = None
        if load is not None:
            from feedapp.core.plugins import exec_plugin_source, set_up

            path, class_name, source, seed, overrides, strict = load
            cls = exec_plugin_source(path, source, class_name, own_name=True)  # it is to serve: a name of its own
            self.ranker = set_up(cls(seed=seed), f"{path}:{class_name}")
            names = {p.name for p in self.ranker.spec()}
            for k, v in overrides.items():
                if k in names:
                    try:
                        self.ranker.set_param(k, v)
                    except ParameterError:
                        if strict:
                            raise
            meta = self.meta()
        if bind is not None:
            chunks, creator_slots, counts, following = bind
            clips = [c for chunk in chunks for c in pickle.loads(chunk)]
            self.space = FeatureSpace(clips, creator_slots=creator_slots)
            self.world = World(Popularity(counts), set(following))
            self.ranker.bind(self.space, self.world)
        if learned:
            self.op_learn_many(learned)
        scores = None
        if check is not None:
            scores = self.ranker.scores(check)
        return meta, scores

    def meta(self) -> dict:
        r = self.ranker
        return {"name": str(r.name), "description": str(getattr(r, "description", "")),
                "is_learner": bool(getattr(r, "is_learner", False)),
                "spec": tuple(r.spec()), "params": dict(r.params),
                "restricts": type(r).restrict is not BaseRanker.restrict,  # else no call is needed
                "explains": type(r).explain is not BaseRanker.explain}

    def op_scores(self, rng: Any) -> tuple:
        return self.ranker.scores(rng), rng

    def op_restrict(self, allowed: np.ndarray) -> Any:
        return self.ranker.restrict(allowed)

    def op_learn_one(self, row: int, reward: float, view: View | None = None) -> None:
        learn(self.ranker, self.space.clips[row], reward, view)

    def op_learn_many(self, learned: list) -> None:
        clips = self.space.clips
        for row, reward, view in learned:
            learn(self.ranker, clips[row], reward, view)

    def op_explain(self, row: int) -> Any:
        return self.ranker.explain(row)

    def op_set_param(self, name: str, value: object) -> tuple:
        old, new = self.ranker.set_param(name, value)
        return old, new, dict(self.ranker.params)

    def op_attr(self, name: str) -> Any:
        return getattr(self.ranker, name)


def _worker_main(conn: Any, output_limit: int = OUTPUT_LIMIT) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the terminal is for the app, not for plugins
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # C-level writes go nowhere: they cannot fill a pipe nobody drains
    os.dup2(devnull, 2)
    out = _BoundedText(output_limit)
    sys.stdout = sys.stderr = out  # type: ignore[assignment]
    worker = _Worker()
    while True:
        try:
            op, args, sync = conn.recv()
        except (EOFError, OSError):
            return  # the app closed the pipe or ended
        try:
            if sync:
                worker.sync(sync)
            reply: tuple = ("ok", getattr(worker, f"op_{op}")(*args))
        except BaseException as e:  # noqa: BLE001 - plugin code: SystemExit, KeyboardInterrupt... all contained
            reply = ("err", type(e).__name__, str(e)[:2000], "".join(traceback.format_exception(type(e), e, e.__traceback__)),
                     isinstance(e, ParameterError))
        try:
            conn.send((*reply, out.take()))
        except (EOFError, OSError):
            return
        except BaseException as e:  # noqa: BLE001 - a result that cannot be pickled: say so
            conn.send(("err", type(e).__name__, f"{op}() returned something that cannot be sent back: {e}"[:2000],
                       "", False, out.take()))


_CONTEXT: Any = None


def _forked() -> None:
    """In a child forked after this process chose the forkserver: that server is the parent's, and
    multiprocessing checks it with ``waitpid``, which a child may not do ("ChildProcessError: No child
    processes": every plugin process failed to start). Such a child starts its workers with ``spawn``.
    Seen under mutmut, which forks each mutant's test run from a process that had started the server:
    every test that starts a plugin failed, so every mutant those tests cover counted as killed."""
    global _CONTEXT
    if _CONTEXT is not None and _CONTEXT.get_start_method() == "forkserver":
        _CONTEXT = mp.get_context("spawn")


os.register_at_fork(after_in_child=_forked)


def _context() -> Any:
    """``forkserver`` where there is one (a clean server forks the workers), else ``spawn`` (and in a
    child forked from a process that chose the forkserver: ``_forked``)."""
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in mp.get_all_start_methods():
            _CONTEXT = mp.get_context("forkserver")
            # "__main__": the app's main module is imported once, by the server, not again by every worker
            _CONTEXT.set_forkserver_preload(["__main__", "numpy", "feedapp.core.isolation", "feedapp.core.plugins"])
        else:
            _CONTEXT = mp.get_context("spawn")
    return _CONTEXT


# -- the app's side ----------------------------------------------------------------------------------


class PluginOutput:
    """What plugin code printed, newest ``limit`` characters kept (shared by every version of a plugin)."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.limit = limit
        self._chunks: deque[str] = deque()
        self._size = 0
        self.total = 0  # characters received (kept or not)

    def add(self, text: str) -> None:
        if not text:
            return
        self.total += len(text)
        self._chunks.append(text)
        self._size += len(text)
        while self._size > self.limit and len(self._chunks) > 1:
            self._size -= len(self._chunks.popleft())
        if self._size > self.limit:
            only = self._chunks.pop()[-self.limit:]
            self._chunks.append(only)
            self._size = len(only)

    def text(self, last: int | None = None) -> str:
        t = "".join(self._chunks)
        return t if last is None else t[-last:]


class _Lifecycle:
    """What the starting thread, a sending thread and ``_end_worker`` share (never the ``PluginProcess``
    itself: a thread holding it would keep its finalizer from running)."""

    def __init__(self) -> None:
        self.started = threading.Event()  # ``Process.start()`` returned (or failed: ``start_error``)
        self.killed = threading.Event()
        self.wake = threading.Event()  # set with either of the two: what a waiting sender waits on
        self.start_error: str | None = None
        self.sender: threading.Thread | None = None


def _start_worker(process: Any, child: Any, life: _Lifecycle) -> None:
    """In a helper thread: ``Process.start()`` asks the forkserver for a process and waits for its answer
    without any time limit (``multiprocessing``); a stopped or stuck forkserver must not hold up the app."""
    try:
        process.start()
    except BaseException as e:  # noqa: BLE001 - reported by the call that needed the worker
        life.start_error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    finally:
        try:
            child.close()
        except OSError:
            pass
        life.started.set()
        life.wake.set()
    if life.killed.is_set():  # given up on while it started: end it (``_end_worker`` may have found nothing)
        _kill_process(process)


def _send_when_started(conn: Any, life: _Lifecycle, msg: Any, pickled: bool) -> None:
    """In a helper thread: write one message once the worker exists; the caller's deadline bounds it."""
    life.wake.wait()
    if life.start_error is not None or life.killed.is_set():
        return
    try:
        conn.send_bytes(msg) if pickled else conn.send(msg)
    except (OSError, ValueError, TypeError):
        pass  # the worker was stopped (deadline) or died: ``wait`` reports it


def _kill_process(process: Any) -> None:
    try:
        if process._popen is not None and process.is_alive():
            process.kill()
        if process._popen is not None:
            process.join(1.0)
    except (OSError, ValueError, AssertionError):
        pass


def _end_worker(process: Any, conn: Any, life: _Lifecycle) -> None:
    life.killed.set()  # before looking at the process: a start still under way ends it itself
    life.wake.set()
    _kill_process(process)
    sender = life.sender
    if sender is not None and sender.is_alive():
        sender.join(1.0)  # its peer is gone: the write fails at once
        if sender.is_alive():
            return  # never close a descriptor a thread still writes to (the number could be reused)
    try:
        conn.close()
    except OSError:
        pass


class PluginProcess:
    """One worker process; ``call`` = send one operation and wait for its reply at most ``timeout_s``."""

    def __init__(self, output: PluginOutput | None = None) -> None:
        ctx = _context()
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,), name="feedapp-plugin", daemon=True)
        self._life = _Lifecycle()
        self._start_by = time.perf_counter() + START_TIMEOUT_S
        # a worker whose ranker is dropped without close() (a test, a script) ends with it
        self._finalizer = weakref.finalize(self, _end_worker, self.process, self._conn, self._life)
        # started in a helper thread: the caller (the Qt thread) never waits on the forkserver unbounded
        threading.Thread(target=_start_worker, args=(self.process, child, self._life), name="feedapp-plugin-start",
                         daemon=True).start()
        self.output = output if output is not None else PluginOutput()
        self.pending: str | None = None
        self._sender: threading.Thread | None = None
        self._deadline = 0.0
        self._timeout_s = 0.0

    @property
    def alive(self) -> bool:
        return self._life.started.is_set() and self._life.start_error is None and self.process.is_alive()

    def send(self, op: str, args: tuple = (), sync: dict | None = None, timeout_s: float = 1.0,
             background: bool = False) -> None:
        """Start ``op`` in the worker; ``wait`` (or ``ready`` then ``wait``) for the reply.

        A message is written by the caller only when it cannot block: the worker is running and the
        message fits the socket's buffer (``DIRECT_SEND_LIMIT``). Otherwise (a whole catalog, a worker
        still starting, ``background``: pickling too) a helper thread writes it and the deadline covers
        it: a worker that does not read (stuck, stopped) cannot hold up the caller.
        """
        if self.pending is not None:
            raise RuntimeError(f"the plugin process is still busy with {self.pending}()")
        life = self._life
        self.pending = op
        self._timeout_s = timeout_s
        self._deadline = time.perf_counter() + timeout_s
        if life.start_error is not None:
            return  # ``ready`` is True at once and ``wait`` says why (never an error here: ``_begin`` runs from a timer)
        msg: Any = (op, args, sync)
        pickled = not background
        if pickled:
            msg = _ForkingPickler.dumps(msg)
            if life.started.is_set() and len(msg) <= DIRECT_SEND_LIMIT:
                try:
                    self._conn.send_bytes(msg)
                    return
                except (OSError, ValueError) as e:
                    self.pending = None
                    raise PluginCrashed(f"the plugin's process is gone ({self._exit_text()}); {e}") from e
        self._sender = life.sender = threading.Thread(target=_send_when_started, args=(self._conn, life, msg, pickled),
                                                      name="feedapp-plugin-send", daemon=True)
        self._sender.start()

    def ready(self) -> bool:
        """True once the pending operation has a reply (or the worker ended): ``wait`` will not block."""
        if self._sender is not None and self._sender.is_alive():
            return False
        if self._life.start_error is not None:
            return self.pending is not None
        try:
            return self.pending is not None and self._conn.poll(0)
        except (OSError, ValueError):
            return True

    def overdue(self) -> bool:
        if self.pending is None:
            return False
        now = time.perf_counter()
        return now > self._deadline or (not self._life.started.is_set() and now > self._start_by)

    def _not_started(self, what: str) -> None:
        """Raise if the worker never started (the forkserver failed, or did not answer in time)."""
        life = self._life
        if not life.started.is_set():
            life.started.wait(max(0.0, min(self._deadline, self._start_by) - time.perf_counter()))
        if life.start_error is not None:
            self.kill()
            raise PluginCrashed(f"the plugin's process could not be started ({life.start_error})")
        if not life.started.is_set():
            self.kill()
            if time.perf_counter() >= self._start_by:
                raise PluginCrashed(f"the plugin's process did not start within {START_TIMEOUT_S:g} s "
                                    "(the machine may be overloaded; try again)")
            raise PluginTimeout(f"{what} did not start within {self._timeout_s * 1000:.0f} ms; "
                                "the plugin's process was stopped")

    def wait(self, what: str) -> Any:
        """The pending operation's result; ``PluginTimeout`` (worker killed), ``PluginCrashed`` or ``PluginRaised``."""
        self._not_started(what)
        if self._sender is not None:
            self._sender.join(max(0.0, self._deadline - time.perf_counter()))
            if self._sender.is_alive():  # still writing at the deadline: the worker never read it
                self.kill()
                raise PluginTimeout(f"{what} did not start within {self._timeout_s * 1000:.0f} ms; "
                                    "the plugin's process was stopped")
            self._sender = None
        try:
            got = self._conn.poll(max(0.0, self._deadline - time.perf_counter()))
        except (OSError, ValueError):
            got = True
        if not got:
            self.kill()
            raise PluginTimeout(f"{what} did not return within {self._timeout_s * 1000:.0f} ms; "
                                "the plugin's process was stopped")
        try:
            reply = self._conn.recv()
        except (EOFError, OSError, ValueError) as e:
            self.kill()
            raise PluginCrashed(f"the plugin's process ended during {what} ({self._exit_text()})") from e
        finally:
            self.pending = None
        status, *rest, out = reply
        self.output.add(out)
        if status == "ok":
            return rest[0]
        kind, message, tb, is_param = rest
        if is_param:
            raise ParameterError(message)
        raise PluginRaised(kind, message, tb or f"{kind}: {message}\n")

    def call(self, op: str, args: tuple = (), sync: dict | None = None, timeout_s: float = 1.0,
             what: str | None = None) -> Any:
        self.send(op, args, sync, timeout_s)
        return self.wait(what or f"{op}()")

    def _exit_text(self) -> str:
        if self.process._popen is None:
            return "never started"
        self.process.join(0.05)
        code = self.process.exitcode
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def kill(self) -> None:
        """End the worker now (SIGKILL: nothing in it needs saving) and reap it."""
        self.pending = None
        self._finalizer()


_PICKLED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def pickled_clips(space: FeatureSpace) -> list[bytes]:
    """The space's clips as pickled chunks, made once per growth and kept: sending the catalog to a new
    worker (a reload, a restart after a failure) copies bytes instead of pickling every clip again,
    which would hold the GIL for tens of ms on a large catalog while the window wants to draw."""
    chunks, n = _PICKLED.get(space, ([], 0))
    if space.n > n:
        chunks = [*chunks, pickle.dumps(space.clips[n:], protocol=pickle.HIGHEST_PROTOCOL)]
        _PICKLED[space] = (chunks, space.n)
    return chunks


def rows_learned(space: FeatureSpace, learned: list[tuple[Clip, float, View | None]]) -> list[tuple[int, float, View | None]]:
    """(clip, reward, view) as a worker receives them: the clip's row of the feature space (the worker
    mirrors it), the reward, the whole view (a plain frozen dataclass, pickled)."""
    return [(space.row_of[c.id], float(r), v) for c, r, v in learned]


def _sync_rng(mine: Any, theirs: Any) -> None:
    """Make the app's generator continue where the plugin's copy of it stopped (exact propensities)."""
    if hasattr(mine, "_state") and hasattr(theirs, "_state"):
        mine._state = theirs._state
    elif hasattr(mine, "bit_generator") and hasattr(theirs, "bit_generator"):
        mine.bit_generator.state = theirs.bit_generator.state


class RemoteRanker(BaseRanker):
    """A plugin version served from its own worker process: the ranker protocol, each call within a budget.

    ``prepare(...)`` loads (and optionally binds, replays views and scores once) in one message;
    ``begin_prepare``/``finish_prepare`` do the same without blocking (a reload while the feed serves).
    Calls raise ``PluginTimeout``, ``PluginCrashed`` or ``PluginRaised`` (for ``GuardedRanker`` to
    handle) and ``ParameterError`` (for the caller). ``close()`` ends the worker.
    """

    def __init__(self, version: PluginVersion, seed: int = 0, *, budget_ms: float = DEFAULT_BUDGET_MS,
                 output: PluginOutput | None = None) -> None:
        self.plugin = version
        self.seed = int(seed)
        self.budget_s = float(budget_ms) / 1000.0
        self.proc = PluginProcess(output)
        self.name = "plugin"  # type: ignore[misc]
        self.description = ""  # type: ignore[misc]
        self.is_learner = False  # type: ignore[misc]
        self._spec: tuple[Param, ...] = ()
        self.params = {}
        self._rng = np.random.default_rng(seed)
        self.space = None
        self.world = World()
        self._sent_n = 0
        self._sent_pop = -1
        self._sent_following: frozenset[str] = frozenset()
        self._loaded = False
        self._restricts = self._explains = True

    # -- starting ----------------------------------------------------------------------------------
    def begin_prepare(self, *, overrides: dict | None = None, strict: bool = True, space: FeatureSpace | None = None,
                      world: World | None = None, learned: list[tuple[int, float, View | None]] | None = None,
                      check: Rng | None = None, timeout_s: float = DEFAULT_LOAD_TIMEOUT_S,
                      background: bool = False) -> None:
        v = self.plugin
        load = None if self._loaded else (v.path, v.class_name, v.source, self.seed, dict(overrides or {}), strict)
        bind = None
        if space is not None:
            self.space = space
            self.world = world if world is not None else World()
            self._sent_n = space.n
            self._sent_pop = self.world.popularity.version
            self._sent_following = frozenset(self.world.following)
            bind = (pickled_clips(space), space.creator_slots, dict(self.world.popularity.counts),
                    sorted(self.world.following))
        self.proc.send("prepare", (load, bind, learned, check), timeout_s=timeout_s, background=background)

    def finish_prepare(self, what: str = "loading the plugin") -> np.ndarray | None:
        meta, scores = self.proc.wait(what)
        self._loaded = True
        if meta is None:
            return scores
        self.name = meta["name"]  # type: ignore[misc]
        self.description = meta["description"]  # type: ignore[misc]
        self.is_learner = meta["is_learner"]  # type: ignore[misc]
        self._spec = tuple(meta["spec"])
        self.params = dict(meta["params"])
        self._restricts = bool(meta["restricts"])
        self._explains = bool(meta["explains"])
        return scores

    def prepare(self, **kwargs: Any) -> np.ndarray | None:
        self.begin_prepare(**kwargs)
        return self.finish_prepare()

    def ready(self) -> bool:
        return self.proc.ready()

    def overdue(self) -> bool:
        return self.proc.overdue()

    def close(self) -> None:
        self.proc.kill()

    # -- calls -------------------------------------------------------------------------------------
    def _sync(self) -> dict | None:
        space, world = self.space, self.world
        if space is None:
            return None
        sync: dict[str, Any] = {}
        if space.n > self._sent_n:
            sync["clips"] = space.clips[self._sent_n:]
            self._sent_n = space.n
        pop = world.popularity
        if pop.version != self._sent_pop:
            sync["popularity"] = dict(pop.counts)
            self._sent_pop = pop.version
        if world.following != self._sent_following:
            self._sent_following = frozenset(world.following)
            sync["following"] = sorted(world.following)
        return sync or None

    def _call(self, op: str, *args: Any, timeout_s: float | None = None) -> Any:
        return self.proc.call(op, args, self._sync(), self.budget_s if timeout_s is None else timeout_s,
                              what=f"{op}()")

    def spec(self) -> tuple[Param, ...]:  # type: ignore[override]
        return self._spec

    def set_param(self, name: str, value: object) -> tuple[float | int, float | int]:
        old, new, params = self._call("set_param", name, value)
        self.params = params
        return old, new

    def bind(self, space: FeatureSpace, world: World | None = None, timeout_s: float | None = None) -> RemoteRanker:
        self.space = space
        if world is not None:
            self.world = world
        self.begin_prepare(space=space, world=self.world, timeout_s=DEFAULT_LOAD_TIMEOUT_S if timeout_s is None else timeout_s)
        self.finish_prepare("bind()")
        return self

    def clone(self) -> BaseRanker:
        r = RemoteRanker(self.plugin, self.seed, budget_ms=self.budget_s * 1000.0, output=self.proc.output)
        r.prepare(overrides=dict(self.params))
        return r

    def scores(self, rng: Rng) -> np.ndarray:
        s, after = self._call("scores", rng)
        _sync_rng(rng, after)
        return s

    def restrict(self, allowed: np.ndarray) -> np.ndarray:
        if not self._restricts:
            return allowed
        return self._call("restrict", allowed)

    def learn_one(self, clip: Clip, reward: float, view: View | None = None) -> None:
        self._call("learn_one", self.space.row_of[clip.id], float(reward), view)

    def learn_many(self, learned: list[tuple[Clip, float, View | None]], timeout_s: float | None = None) -> None:
        self._call("learn_many", rows_learned(self.space, learned), timeout_s=timeout_s)

    def explain(self, row: int) -> tuple[str, ...]:
        if not self._explains:
            return ()
        return self._call("explain", row)

    def remote_attr(self, name: str) -> Any:
        """A copy of an attribute of the plugin instance in the worker (for tests and debugging)."""
        return self._call("attr", name)
