"""Ranker plugins: ``--ranker path/to/file.py:ClassName``, reloaded on save, guarded so the feed never stops.

Why here and Qt-free: loading, validating and swapping a ranker is the same for the app, the CLI and
the tests. The Qt shell only calls ``PluginHost.poll()`` from a timer (``PluginWatcher`` compares the
file's mtime and size, no file-system notifications needed; ``poll`` never blocks) and shows what the
engine hooks say:

- ``ranker_did_reload(info: dict)``: a new version of the file is serving (``info``: path, class,
  version, views replayed, milliseconds taken);
- ``ranker_did_fail(info: dict)``: plugin code raised (any ``BaseException``), ran past its time
  budget, its process died, it returned NaN/inf or the wrong type/shape, or a reload could not load;
  ``info["traceback"]`` is the full text for a panel, ``info["fallback"]`` names what serves now,
  ``info["cause"]`` says which of these it was. The recorder logs both as events (``ranker_reloaded``,
  ``ranker_failed``).

Pieces: ``exec_plugin_source`` / ``load_plugin_class`` (a file's text run as a fresh module, one-line
errors: missing file, syntax or import error, missing class, class not following the protocol),
``GuardedRanker`` (wraps the plugin, validates every output, falls back to the last good version, or
to a built-in ranker if no version has worked yet, rebuilt by replaying the views learned so far)
and ``PluginHost`` (runs each version in its own worker process, ``feedapp.core.isolation``, with a
time budget per call, attaches the guard to a ``FeedEngine`` and reloads it in the background). The
protocol and the isolation are documented in ``docs/rankers.md``.
"""

from __future__ import annotations

import inspect
import itertools
import os
import sys
import time
import traceback
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from feedapp.core.features import FeatureSpace
from feedapp.core.isolation import (
    DEFAULT_BUDGET_MS,
    DEFAULT_LOAD_TIMEOUT_S,
    PluginCrashed,
    PluginOutput,
    PluginRaised,
    PluginTimeout,
    PluginVersion,
    RemoteRanker,
    rows_learned,
)
from feedapp.core.model import Clip, View
from feedapp.core.rankers.base import BaseRanker, Param, ParameterError, World, learn
from feedapp.core.rankers.registry import find_ranker_class, make_ranker, unknown_ranker
from feedapp.core.rankers.rng import Rng, SplitMix


class PluginError(ValueError):
    """A plugin that cannot be loaded: the message is one sentence a researcher can act on."""


REQUIRED_METHODS = ("scores", "learn_one", "bind", "clone", "set_param", "spec", "explain", "restrict")
REQUIRED_ATTRS = ("name", "params")
_counter = itertools.count(1)


def is_plugin_spec(text: str) -> bool:
    """True for ``file.py:Class`` (a ranker in a file), False for a registry name like ``foryou``."""
    path, sep, cls = text.rpartition(":")
    return bool(sep) and path.endswith(".py") and bool(cls)


def parse_spec(text: str) -> tuple[Path, str]:
    """``"path/to/file.py:ClassName"`` -> (path, class name); ``PluginError`` if it is not that shape."""
    path, sep, cls = text.rpartition(":")
    if not sep or not path or not cls:
        raise PluginError(f"a plugin ranker is given as path/to/file.py:ClassName, not {text!r}")
    if not path.endswith(".py"):
        raise PluginError(f"a plugin ranker must be a .py file (path/to/file.py:ClassName), not {path!r}")
    if not cls.isidentifier():
        raise PluginError(f"{cls!r} is not a Python class name (in {text!r})")
    return Path(path), cls


def check_protocol(cls: object, where: str = "") -> type:
    """Raise ``PluginError`` unless ``cls`` is a class with what the engine calls (see docs/rankers.md)."""
    label = f"{where}: " if where else ""
    if not inspect.isclass(cls):
        raise PluginError(f"{label}{getattr(cls, '__name__', cls)!r} is not a class")
    missing = [m for m in REQUIRED_METHODS if not callable(getattr(cls, m, None))]
    if missing:
        raise PluginError(
            f"{label}class {cls.__name__} does not follow the ranker protocol: it has no {', '.join(missing)} "
            "(subclass feedapp.core.rankers.BaseRanker, see docs/rankers.md)"
        )
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or name == "base":
        raise PluginError(f"{label}class {cls.__name__} needs a class attribute name = \"...\" (a short ranker name)")
    try:
        spec = cls.spec()  # type: ignore[attr-defined]
    except BaseException as e:  # noqa: BLE001 - plugin code
        raise PluginError(f"{label}class {cls.__name__}: spec() raised {type(e).__name__}: {e}") from e
    if not all(isinstance(p, Param) for p in spec):
        raise PluginError(f"{label}class {cls.__name__}: own_params must hold feedapp.core.rankers.Param entries")
    return cls  # type: ignore[return-value]


def _beside(path: Path, e: BaseException) -> str:
    """For a module the plugin imports that is a file beside it (``from helpers import f``): why it is not
    found and what to do; "" otherwise."""
    name = getattr(e, "name", None) if isinstance(e, ModuleNotFoundError) else None
    top = (name or "").split(".")[0]
    if not top or not ((path.parent / f"{top}.py").is_file() or (path.parent / top / "__init__.py").is_file()):
        return ""
    return (f" ({top} is beside the plugin, but a plugin is run as one file, not from its folder: put "
            f"{path.parent} on PYTHONPATH to import it (it is then imported once per process, so saving it "
            "does not reload the plugin), or copy what you need into the plugin)")


def borrowed_name(cls: type) -> str | None:
    """Why ``cls`` may not serve a feed under its ``name``, or None: the name is a built-in ranker's (or
    ``warmup``, a lab's scripted slots). Impressions log the serving ranker's name as their ``policy`` and
    the session's ``ranker``, and the guard's fallback is the built-in ``foryou``: a plugin subclassing
    ``ForYouRanker`` without a name of its own was logged as ``foryou``, its slots not to be told from
    the built-in's or the fallback's."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or (find_ranker_class(name) is None and name != "warmup"):  # engine.WARMUP_POLICY
        return None
    whose = next((b.__name__ for b in cls.__mro__[1:] if b.__dict__.get("name") == name), None)
    return (f"class {cls.__name__} is named {name!r}" + (f" (inherited from {whose})" if whose else "")
            + f", as feedapp's own {name!r}: the log names the ranker of each slot by it, so its slots could not be "
            "told from the built-in's (nor from the fallback's); give it a name of its own, name = \"...\"")


def exec_plugin_source(path: str | Path, source: str, class_name: str, *, own_name: bool = False) -> type:
    """Run ``source`` (the text of plugin file ``path``) as a fresh module and return its class ``class_name``.

    A new module name per load, so edits are seen. Anything the module's code raises, ``SystemExit``
    and ``KeyboardInterrupt`` included, becomes a one-line ``PluginError``. ``own_name`` (a plugin about
    to serve a feed, or be checked for it; not a logged version replayed) refuses a ``borrowed_name``.
    """
    path = Path(path)
    module_name = f"feedapp_plugin_{''.join(c if c.isalnum() else '_' for c in path.stem)}_{next(_counter)}"
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
    try:
        code = compile(source, str(path), "exec")
        exec(code, module.__dict__)  # noqa: S102 - running the plugin is the point
    except SyntaxError as e:
        raise PluginError(f"{path}, line {e.lineno}: syntax error: {e.msg}") from e
    except BaseException as e:  # noqa: BLE001 - plugin code at import time, sys.exit included
        raise PluginError(f"{path}: importing it raised {type(e).__name__}: {e}{_beside(path, e)}") from e
    finally:
        # only the module object is kept (by the class); the name is not needed once loaded
        sys.modules.pop(module_name, None)
    cls = getattr(module, class_name, None)
    if cls is None:
        found = sorted(n for n, v in vars(module).items() if inspect.isclass(v) and v.__module__ == module_name)
        raise PluginError(
            f"{path} defines no class {class_name!r}" + (f" (it defines: {', '.join(found)})" if found else "")
        )
    check_protocol(cls, str(path))
    borrowed = borrowed_name(cls) if own_name else None
    if borrowed:
        raise PluginError(f"{path}: {borrowed}")
    try:  # where it came from: its ranker_version is then the source's hash, as when served by a PluginHost
        cls.__feedapp_plugin__ = PluginVersion(str(path), class_name, source)
    except (AttributeError, TypeError):  # a class that refuses new attributes: versioned by its name
        pass
    return cls


def read_plugin_source(path: str | Path) -> str:
    """The text of a plugin file; ``PluginError`` if it is missing, a folder or unreadable."""
    path = Path(path)
    if not path.exists():
        raise PluginError(f"there is no plugin file {path}")
    if path.is_dir():
        raise PluginError(f"{path} is a folder; give the .py file that defines the ranker")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PluginError(f"cannot read the plugin file {path}: {e}") from e


def load_plugin_class(path: str | Path, class_name: str, *, own_name: bool = False) -> type:
    """Import ``path`` as a fresh module in this process and return the class (see ``exec_plugin_source``).

    The feed never calls this: it loads plugins in a worker process (``PluginHost``). Batch tools
    (replay) and tests do.
    """
    return exec_plugin_source(path, read_plugin_source(path), class_name, own_name=own_name)


def ranker_class(name_or_spec: str) -> type:
    """The class behind a registry name or a ``file.py:Class`` spec (for parameter specs and presets)."""
    if is_plugin_spec(name_or_spec):
        return load_plugin_class(*parse_spec(name_or_spec))
    cls = find_ranker_class(name_or_spec)
    if cls is None:
        raise unknown_ranker(name_or_spec)
    return cls


def set_up(r: object, where: str) -> BaseRanker:
    """``r``, a plugin ranker just made, unless its ``__init__`` skipped ``BaseRanker.__init__`` (no
    ``params``, ``seed``): then a ``PluginError`` that says so, not the engine's AttributeError later."""
    if not isinstance(getattr(r, "params", None), dict) or not hasattr(r, "seed"):
        raise PluginError(f"{where}: {type(r).__name__}.__init__ does not call super().__init__(seed, **params), so the "
                          "ranker has no seed or parameters; call it first (docs/rankers.md, writing a plugin, step 3)")
    return r  # type: ignore[return-value]


def _scores_checked(cls: type, spec: str) -> None:
    """Make the ``scores`` of ``cls`` (a plugin class just loaded for this process alone) refuse what the app's
    guard refuses at every call (``check_score_form``: a list, a wrong shape, booleans), as ``ScoresRefused``
    naming ``spec``. In-process runs (simulate, replay, check-ranker) have no guard: a boolean mask or a list
    was simulated as if the plugin served, and a wrong shape surfaced as the policy's IndexError. NaN and inf
    pass (each command counts or names them)."""
    own = cls.scores

    def scores(self: BaseRanker, rng: Rng) -> np.ndarray:
        out = own(self, rng)
        n = self.space.n if self.space is not None else None
        if not (isinstance(out, np.ndarray) and out.shape == (n,) and out.dtype.kind in "fiu"):
            try:
                check_score_form(out, n)
            except RankerFailure as e:
                raise ScoresRefused(spec, str(e)) from None
        return out

    scores.__name__, scores.__qualname__, scores.__doc__ = "scores", getattr(own, "__qualname__", "scores"), own.__doc__
    scores.__wrapped__ = own  # type: ignore[attr-defined]
    try:
        cls.scores = scores  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # a class that refuses new attributes: unchecked, as before
        pass


def make_any_ranker(name_or_spec: str, seed: int = 0, **params: object) -> BaseRanker:
    """``make_ranker`` that also accepts ``file.py:Class`` (unguarded: for simulate, replay, check-ranker and
    tests; its scores are checked as the guard checks them, ``_scores_checked``)."""
    if not is_plugin_spec(name_or_spec):
        return make_ranker(name_or_spec, seed=seed, **params)
    cls = ranker_class(name_or_spec)
    _scores_checked(cls, name_or_spec)
    try:
        r = cls(seed=seed, **params)
    except ParameterError:
        raise
    except BaseException as e:  # noqa: BLE001 - plugin code, sys.exit included
        raise PluginError(f"{name_or_spec}: creating the ranker raised {type(e).__name__}: {e}") from e
    return set_up(r, name_or_spec)


def load_error(spec: str, e: BaseException, timeout_s: float) -> str:
    """One line for a plugin version that did not load in its worker (``e`` from ``RemoteRanker.prepare``)."""
    path, class_name = parse_spec(spec)
    if isinstance(e, PluginRaised):
        if e.kind == "PluginError":
            return e.message
        return f"{spec}: creating the ranker raised {e}"
    if isinstance(e, PluginTimeout):
        return (f"{path}: loading {class_name} did not finish within {timeout_s:g} s "
                "(does it loop when imported or created?)")
    return f"{path}: {e}"


QUICK_CHECK_VIEWS = 6  # views a plugin learns in ``quick_check`` before it scores


def quick_check(spec: str, params: dict[str, object] | None = None, *,
                timeout_s: float = DEFAULT_LOAD_TIMEOUT_S, budget_ms: float | None = None,
                served_in: str = "a lab session", option: str = "") -> list[tuple[str, str]]:
    """Load the plugin at ``spec`` in its own worker process (as the feed would) and try it: its
    parameters against its spec, then bound to a small demo-like catalog, learning a few whole views,
    one ``scores`` (one finite number per clip) and ``restrict`` (a boolean mask) if it has one.
    Given ``budget_ms`` (the app's time per call), the catalog has the demo's size and the median
    ``learn_one``, ``scores`` (``restrict``, ``explain``) call must be within it (``contract.median_call_ms``),
    said as where it would be stopped (``served_in``) and how to change the budget there (``option``).

    Returns what is wrong as (where, one-line message): ``where`` is ``"ranker"``, ``"params.NAME"`` or
    ``"budget"`` (the calls are too slow; a study file's ``lab validate`` puts them all on the condition's
    line). Empty: it works. Every call into plugin code has ``timeout_s`` together, so a plugin that
    loops cannot hang the check.
    """
    from feedapp.core.contract import BUDGET_CLIPS, _catalog, median_call_ms, over_budget

    try:
        path, class_name = parse_spec(spec)
        source = read_plugin_source(path)
    except PluginError as e:
        return [("ranker", str(e))]
    r = RemoteRanker(PluginVersion(str(path), class_name, source), seed=0)
    deadline = time.perf_counter() + timeout_s
    try:
        try:
            r.prepare(timeout_s=timeout_s)
        except KeyboardInterrupt:  # Ctrl+C here is the user's: the worker that runs plugin code ignores SIGINT
            raise
        except BaseException as e:  # noqa: BLE001 - plugin code: one clear line
            return [("ranker", load_error(spec, e, timeout_s))]
        own = {p.name: p for p in r.spec()}
        problems = []
        for name, value in (params or {}).items():
            if name not in own:
                problems.append((f"params.{name}", f"plugin {r.name!r} ({spec}) has no parameter {name!r} "
                                 f"(it has: {', '.join(own)})"))
                continue
            try:
                r.set_param(name, own[name].check(r.name, value))
            except ParameterError as e:
                problems.append((f"params.{name}", str(e)))
        if problems:
            return problems
        clips = _catalog(40 if budget_ms is None else BUDGET_CLIPS)
        space = FeatureSpace(clips)
        learned = [(space.row_of[c.id], 0.5 if k % 2 else -0.5,
                    View(c.id, 2000.0 + 100 * k, 1500.0 + 90 * k, loops=k % 2, exit="swipe_next", position=k))
                   for k, c in enumerate(clips[:QUICK_CHECK_VIEWS])]
        what = f"{spec}: "
        try:
            scores = r.prepare(space=space, world=World(), learned=learned, check=SplitMix(0),
                               timeout_s=max(0.0, deadline - time.perf_counter()))
            _check_scores(scores, space.n)
            if r._restricts:
                allowed = np.ones(space.n, dtype=bool)
                out = r._call("restrict", allowed, timeout_s=max(0.0, deadline - time.perf_counter()))
                if not isinstance(out, np.ndarray) or out.dtype != bool or out.shape != allowed.shape:
                    raise RankerFailure(f"restrict() must return a boolean array of shape {allowed.shape}")
            if budget_ms is not None:  # a plugin the app would stop at every call serves nothing of its own
                def call(op: str, *args: object) -> object:
                    return r._call(op, *args, timeout_s=max(0.0, deadline - time.perf_counter()))

                k0 = QUICK_CHECK_VIEWS
                try:
                    median = {
                        "learn_one": median_call_ms(lambda k: call("learn_one", k0 + k, 0.5, View(
                            clips[k0 + k].id, 2500.0, 2000.0, exit="swipe_next", position=k0 + k)), budget_ms),
                        "scores": median_call_ms(lambda k: call("scores", SplitMix(1, k)), budget_ms),
                    }
                    if r._restricts:
                        median["restrict"] = median_call_ms(lambda k: call("restrict", np.ones(space.n, dtype=bool)),
                                                            budget_ms)
                    if r._explains:
                        median["explain"] = median_call_ms(lambda k: call("explain", k), budget_ms)
                except PluginTimeout:  # it loaded and scored once: its calls are seconds long, far over the budget
                    return [("budget", f"{what}its calls did not finish within the {timeout_s:g} s of this check, far "
                                       f"over the {budget_ms:g} ms the app gives one call into a plugin{option}, so in "
                                       f"{served_in} each would be stopped and foryou would serve instead; make it faster")]
                detail, slow = over_budget(median, budget_ms, space.n, option=option, where=served_in)
                if slow:
                    return [("budget", f"{what}{detail}")]
        except PluginTimeout:
            return [("ranker", f"{what}binding, learning {QUICK_CHECK_VIEWS} views and scoring {space.n} clips did "
                               f"not finish within {timeout_s:g} s")]
        except RankerFailure as e:
            return [("ranker", f"{what}{e}")]
        except PluginRaised as e:
            return [("ranker", f"{what}trying it (bind, learn_one, scores) raised {e}{plugin_line(e.remote_traceback, path)}")]
        except KeyboardInterrupt:  # the user's Ctrl+C (a plugin's own comes back as PluginRaised): stop
            raise
        except BaseException as e:  # noqa: BLE001 - plugin code (its process ended): one clear line
            return [("ranker", f"{what}{describe(e)[1]}")]
        return []
    finally:
        r.close()


_FEEDAPP = Path(__file__).resolve().parent.parent  # the feedapp package: no plugin's frames are in it


def plugin_line(traceback_text: str, path: Path) -> str:
    """`` (at line N of file.py, in method)``: the last frame of ``traceback_text`` in the plugin file
    ``path``, or "" when the traceback does not pass through it. Frames of feedapp's own files are not
    the plugin's, whatever its file is called (a plugin ``simulate.py`` beside feedapp's)."""
    import re

    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', traceback_text)
    mine = [f for f in frames if Path(f[0]).name == path.name and not Path(f[0]).resolve().is_relative_to(_FEEDAPP)]
    if not mine:
        return ""
    _, line, func = mine[-1]
    return f" (at line {line} of {path.name}, in {func})"


# -- the guard ----------------------------------------------------------------------------------------


class RankerFailure(Exception):
    """Plugin output that breaks the protocol (NaN score, wrong type or shape)."""


class ScoresRefused(RankerFailure):
    """Scores of a plugin run in this process (``make_any_ranker``) that the app's guard would refuse:
    ``str()`` is the guard's words, ``spec`` the plugin (kept when pickled from a simulate worker)."""

    def __init__(self, spec: str, words: str) -> None:
        super().__init__(spec, words)
        self.spec, self.words = spec, words

    def __str__(self) -> str:
        return self.words


@dataclass(frozen=True)
class Failure:
    """One failure of plugin code, for the log and a panel.

    ``cause``: ``timeout`` (over its time budget; its process was stopped), ``raised`` (any exception,
    ``SystemExit`` and ``KeyboardInterrupt`` included), ``crashed`` (its process ended), ``invalid``
    (NaN/inf, wrong type or shape), ``load`` (a reload that did not load). ``output``: the last
    characters the plugin printed, if any. ``restoring``: the last good version, restarting in the
    background while ``fallback`` serves (empty when there is none).
    """

    ranker: str
    method: str
    message: str
    traceback: str
    version: int
    fallback: str
    cause: str = "raised"
    output: str = ""
    restoring: str = ""  # the good version being restarted in the background, if any

    def as_dict(self) -> dict[str, object]:
        return {"ranker": self.ranker, "method": self.method, "message": self.message,
                "traceback": self.traceback, "version": self.version, "fallback": self.fallback,
                "cause": self.cause, "output": self.output, "restoring": self.restoring}


OUTPUT_IN_FAILURE = 2000  # characters of the plugin's latest output kept with a failure


def describe(exc: BaseException) -> tuple[str, str, str]:
    """(kind, one-line message, traceback text) for a failure of plugin code."""
    if isinstance(exc, PluginTimeout):
        return "timeout", str(exc), f"{exc}\n(the call was cut off at its time budget, so there is no traceback)\n"
    if isinstance(exc, PluginCrashed):
        return "crashed", str(exc), f"{exc}\n"
    if isinstance(exc, PluginRaised):
        return ("load" if exc.kind == "PluginError" else "raised"), str(exc), exc.remote_traceback
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ("invalid" if isinstance(exc, RankerFailure) else "raised"), f"{type(exc).__name__}: {exc}", tb


def check_score_form(s: object, n: int | None) -> np.ndarray:
    """``s`` as float64 if it is what the app's guard takes from ``scores()``: a numpy array of numbers, one
    per clip of ``n``; else ``RankerFailure`` in the guard's words (the app falls back to foryou at every such
    call). NaN and inf are left to the caller (``_check_scores`` refuses them; replay and the contract suite
    count or name them). The one check for the app, replay and check-ranker, so none accepts what another
    refuses."""
    if not isinstance(s, np.ndarray):
        raise RankerFailure(f"scores() must return a numpy array, not {type(s).__name__}")
    if s.shape != (n,):
        raise RankerFailure(f"scores() must return one score per clip, shape ({n},), not {s.shape}")
    if s.dtype.kind not in "fiu":
        raise RankerFailure(f"scores() must return numbers, not dtype {s.dtype}")
    return s.astype(np.float64, copy=False)


def _check_scores(s: object, n: int) -> np.ndarray:
    s = check_score_form(s, n)
    bad = ~np.isfinite(s)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RankerFailure(f"scores() returned {int(bad.sum())} non-finite score(s), e.g. {float(s[i])} at row {i}")
    return s


def replay_into(ranker: BaseRanker, learned: Sequence[tuple[Clip, float, View | None]],
                timeout_s: float | None = None) -> None:
    """Rebuild a ranker's state: learn the same (clip, reward, view) in the same order (one message to a
    worker); the view goes to a ``learn_one`` that takes it (``feedapp.core.rankers.base.learn``)."""
    if isinstance(ranker, RemoteRanker):
        if learned:
            ranker.learn_many(list(learned), timeout_s=timeout_s)
        return
    for clip, reward, view in learned:
        learn(ranker, clip, reward, view)


def _close(ranker: object) -> None:
    """A version that is no longer served: detach it from the feature space and end its process (if any)."""
    unbind = getattr(ranker, "unbind", None)
    if callable(unbind):
        unbind()
    close = getattr(ranker, "close", None)
    if callable(close):
        close()


class GuardedRanker(BaseRanker):
    """A ranker that validates every output of the one it wraps and falls back instead of failing.

    Serving: ``active`` (the plugin version in use; a ``RemoteRanker`` when a ``PluginHost`` made it,
    so each call has a time budget). If plugin code raises (any ``BaseException``), runs over its
    budget, its process dies, or it returns a NaN/inf score, the wrong type or shape, the failure is
    recorded (``failures``, ``on_fail``) and the guard switches to the last version that worked and
    has not failed since (or to the built-in ``fallback`` ranker if there is none), rebuilt from the
    (clip, reward) pairs learned so far; the failing call is answered by it. Rebuilding a version
    while the feed serves must finish within ``rebuild_timeout_s`` (default: the call budget), else
    the built-in serves. Parameter values set through the guard are carried over to every version
    that has them. ``learned`` holds (clip, reward, view) per view learned since the last refresh.
    """

    def __init__(self, make: Callable[[], BaseRanker], *, label: str = "plugin", fallback: str = "foryou",
                 on_fail: Callable[[Failure], None] | None = None, seed: int = 0,
                 rebuild_timeout_s: float = DEFAULT_BUDGET_MS / 1000.0,
                 setup_timeout_s: float = DEFAULT_LOAD_TIMEOUT_S) -> None:
        self.seed = int(seed)
        self.label = label
        self.fallback_name = fallback
        self.on_fail = on_fail
        self.rebuild_timeout_s = rebuild_timeout_s
        self.setup_timeout_s = setup_timeout_s
        self.failures: list[Failure] = []
        self.learned: list[tuple[Clip, float, View | None]] = []
        self.overrides: dict[str, object] = {}
        self.version = 1
        self._make = make
        self.good: list[tuple[int, Callable[[], BaseRanker]]] = []  # versions that produced valid scores
        self._broken: set[int] = set()  # id() of makers whose version failed while serving
        self._rng = np.random.default_rng(seed)
        self.space: FeatureSpace | None = None
        self.world = World()
        self.active: BaseRanker = make()
        self.failed_over = False
        self.on_builtin = False
        self.serving = f"{label} version 1"  # what serves now, for a panel
        self.restore: Callable[[int, Callable[[], BaseRanker]], None] | None = None
        self._after_refresh: bool | None = None  # failed_over to restore once a refreshed version is back

    # -- what the engine reads --------------------------------------------------------------------
    @property  # type: ignore[override]
    def name(self) -> str:  # the policy that chose a slot is the one that actually served it
        return getattr(self.active, "name", self.label)

    @property  # type: ignore[override]
    def params(self) -> dict[str, float | int]:
        return self.active.params

    @params.setter
    def params(self, value) -> None:  # BaseRanker API compatibility
        self.active.params = value

    def spec(self) -> tuple[Param, ...]:  # type: ignore[override]
        return tuple(self.active.spec())

    @property
    def description(self) -> str:  # type: ignore[override]
        return getattr(self.active, "description", "")

    @property
    def is_learner(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.active, "is_learner", False))

    # -- lifecycle --------------------------------------------------------------------------------
    def bind(self, space: FeatureSpace, world: World | None = None) -> GuardedRanker:
        if space is self.space and (world is None or world is self.world):
            return self  # already bound (a refresh rebinds the same space)
        live = self.space is not None  # the first bind happens before anything is served
        self.space = space
        if world is not None:
            self.world = world
        timeout = self.rebuild_timeout_s if live else self.setup_timeout_s

        def run(r: BaseRanker) -> BaseRanker:
            return r.bind(space, self.world, timeout_s=timeout) if isinstance(r, RemoteRanker) else r.bind(space, self.world)

        self._call("bind", run)
        return self

    def clone(self) -> GuardedRanker:
        """"Refresh my feed": this same guard, serving a fresh instance of the version now serving.

        The guard stays the engine's ranker (and the ``PluginHost``'s), so a fresh feed stays guarded:
        the views learned are forgotten, failures and the good versions are kept. With a ``restore``
        hook the fresh instance starts in the background (the built-in, fresh too, serves meanwhile),
        so a refresh never waits for a process to start.
        """
        self.learned = []
        if self.restore is not None and not self.on_builtin:
            old, version, make, was = self.active, self.version, self._make, self.failed_over
            label = self.serving
            self._serve_builtin()
            self.failed_over, self._after_refresh = was, was
            self.serving = f"{self.fallback_name} while {label} restarts"
            _close(old)
            self.restore(version, make)
            return self
        old = self.active
        try:
            fresh = self._fresh(self._make, timeout_s=self.rebuild_timeout_s)
        except ParameterError:
            raise
        except BaseException as e:  # noqa: BLE001 - plugin code
            self.fail("refresh", e)
            return self
        self.active = fresh
        _close(old)
        return self

    def close(self) -> None:
        """End the serving version's worker process (if it has one)."""
        _close(self.active)

    def unbind(self) -> None:
        """The guard itself never follows the space (``bind`` binds the version serving): detach that one."""
        self.active.unbind()

    def set_param(self, name: str, value: object):
        try:
            old, new = self.active.set_param(name, value)  # ParameterError is the caller's to handle
        except ParameterError:
            raise
        except BaseException as e:  # noqa: BLE001 - plugin code
            self.fail("set_param", e)
            old, new = self.active.set_param(name, value)
        self.overrides[name] = new
        return old, new

    def _fresh(self, make: Callable[[], BaseRanker], timeout_s: float | None = None, check: bool = False) -> BaseRanker:
        """A new instance from ``make``, with the current parameter values, bound, with the views replayed.

        ``check``: also score once and validate. A worker-backed version does all of it in one message
        within ``timeout_s``.
        """
        r = make()
        try:
            if isinstance(r, RemoteRanker):
                space = self.space
                learned = rows_learned(space, self.learned) if space is not None else None
                scores = r.prepare(overrides=self.overrides, strict=False, space=space, world=self.world,
                                   learned=learned, check=np.random.default_rng(0) if check and space else None,
                                   timeout_s=self.setup_timeout_s if timeout_s is None else timeout_s)
                if check and space is not None:
                    _check_scores(scores, space.n)
                return r
            names = {p.name for p in r.spec()}
            for k, v in self.overrides.items():
                if k in names:
                    try:
                        r.set_param(k, v)
                    except ParameterError:  # same name, other range (e.g. the built-in fallback): keep its default
                        pass
            if self.space is not None:
                r.bind(self.space, self.world)
            replay_into(r, self.learned)
            if check and self.space is not None:
                _check_scores(r.scores(np.random.default_rng(0)), self.space.n)
            return r
        except BaseException:
            _close(r)
            raise

    def swap(self, make: Callable[[], BaseRanker], ranker: BaseRanker, version: int) -> None:
        """Serve ``ranker`` (built by ``make``, already bound and replayed) from now on."""
        old = self.active
        self._make = make
        self.active = ranker
        self.version = version
        self.failed_over = False
        self.on_builtin = False
        if old is not ranker:
            _close(old)

    # -- failure handling -------------------------------------------------------------------------
    def fail(self, method: str, exc: BaseException) -> None:
        """Record a failure of the active version and fall back to the last good one (or the built-in).

        With a ``restore`` hook (a ``PluginHost`` sets one: its versions run in worker processes) the
        built-in serves at once and the last good version is handed to the hook, which restarts it in
        the background (the window never waits for a process to start). Without one, the last good
        version is rebuilt here, in this call.
        """
        kind, message, tb = describe(exc)
        bad, bad_version = self.name, self.version
        self._broken.add(id(self._make))
        _close(self.active)
        candidates = self.restorable()
        restoring = ""
        if self.restore is not None:
            fb = self._serve_builtin()
            if candidates:
                v, make = candidates[0]
                restoring = f"{self.label} version {v}"
                self.restore(v, make)
        else:
            for v, make in candidates:
                try:
                    ranker = self._fresh(make, timeout_s=self.rebuild_timeout_s, check=True)
                except BaseException:  # noqa: BLE001 - that version breaks too now: try an older one, then the built-in
                    self._broken.add(id(make))
                    continue
                self.active, self._make = ranker, make
                self.on_builtin = False
                fb = f"{self.label} version {v}"
                break
            else:  # the built-in ranker is tested code: it is the floor the feed stands on
                fb = self._serve_builtin()
        self.failed_over = True
        self.serving = fb
        output = ""
        out = getattr(self, "output", None)
        if isinstance(out, PluginOutput):
            output = out.text(OUTPUT_IN_FAILURE)
        f = Failure(bad, method, message, tb, bad_version, fb, kind, output, restoring)
        self.failures.append(f)
        if self.on_fail is not None:
            self.on_fail(f)

    def restorable(self) -> list[tuple[int, Callable[[], BaseRanker]]]:
        """Versions that worked and have not failed since, newest first."""
        return [(v, mk) for v, mk in reversed(self.good) if id(mk) not in self._broken]

    def _serve_builtin(self) -> str:
        make = lambda: make_ranker(self.fallback_name, seed=self.seed)  # noqa: E731
        self.active, self._make = self._fresh(make), make
        self.on_builtin = True
        self.failed_over = True
        self.serving = self.fallback_name
        return self.fallback_name

    def restored(self, make: Callable[[], BaseRanker], ranker: BaseRanker, version: int) -> None:
        """A good version, rebuilt in the background after a failure (still "falling back") or a refresh, serves again."""
        old = self.active
        self.active, self._make = ranker, make
        self.version = version
        self.on_builtin = False
        self.failed_over = True if self._after_refresh is None else self._after_refresh
        self._after_refresh = None
        self.serving = f"{self.label} version {version}"
        if old is not ranker:
            _close(old)

    def _call(self, method: str, fn: Callable[[BaseRanker], Any]) -> Any:
        while True:
            try:
                return fn(self.active)
            except ParameterError:
                raise
            except BaseException as e:  # noqa: BLE001 - plugin code; the built-in's own errors are real bugs
                if self.on_builtin:
                    raise
                self.fail(method, e)

    # -- the protocol, validated ------------------------------------------------------------------
    def scores(self, rng: Rng) -> np.ndarray:
        assert self.space is not None, "bind the ranker to a feature space first"
        s = self._call("scores", lambda r: _check_scores(r.scores(rng), self.space.n))  # type: ignore[union-attr]
        if not self.failed_over and (not self.good or self.good[-1][1] is not self._make):
            self.good.append((self.version, self._make))
        return s

    def restrict(self, allowed: np.ndarray) -> np.ndarray:
        def run(r: BaseRanker) -> np.ndarray:
            out = r.restrict(allowed)
            if not isinstance(out, np.ndarray) or out.dtype != bool or out.shape != allowed.shape:
                raise RankerFailure(f"restrict() must return a boolean array of shape {allowed.shape}, not {type(out).__name__}"
                                    + (f" {out.dtype} {out.shape}" if isinstance(out, np.ndarray) else ""))
            return out

        return self._call("restrict", run)

    def learn_one(self, clip: Clip, reward: float, view: View | None = None) -> None:
        self.learned.append((clip, float(reward), view))
        try:
            learn(self.active, clip, reward, view)
        except BaseException as e:  # noqa: BLE001 - the fallback is rebuilt from ``learned``, this view included
            if self.on_builtin:
                raise
            self.fail("learn_one", e)

    def explain(self, row: int) -> tuple[str, ...]:
        def run(r: BaseRanker) -> tuple[str, ...]:
            out = r.explain(row)
            if not isinstance(out, (tuple, list)) or not all(isinstance(x, str) for x in out):
                raise RankerFailure(f"explain() must return a tuple of strings, not {out!r:.60}")
            return tuple(out)

        return self._call("explain", run)

    def _space_did_grow(self, old_d: int, new_d: int, old_n: int, new_n: int) -> None:
        pass  # the wrapped ranker is bound to the space itself


# -- watching and reloading -----------------------------------------------------------------------------


class PluginWatcher:
    """``changed()`` is True once after the file's modification time or size changed (call it from a timer)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def changed(self) -> bool:
        now = self._read()
        if now != self._stamp:
            self._stamp = now
            return now is not None  # a file that vanished mid-save is not a change yet
        return False


def check_budget(budget_ms: object) -> float:
    """The per-call time budget in ms (``feedapp.ranges.PLUGIN_BUDGET_MS``); else one-line ``PluginError``."""
    from feedapp.ranges import PLUGIN_BUDGET_MS

    bad = PLUGIN_BUDGET_MS.problem(budget_ms)
    if bad:
        raise PluginError(f"the plugin time budget {bad}")
    return float(budget_ms)  # type: ignore[arg-type]


class PluginHost:
    """A plugin ranker serving a ``FeedEngine`` from a worker process, reloaded from its file while the feed runs.

    ``PluginHost.feed(catalog, "file.py:Class", seed=...)`` returns the engine (host at
    ``engine.plugin_host``). By hand: ``host = PluginHost(spec, seed)``, ``FeedEngine(catalog,
    host.guard, seed=seed, ...)``, ``host.connect(engine)``. The Qt shell calls ``host.poll()`` from a
    timer (every 500 ms is plenty; it never blocks: a reload loads in its own process and is swapped
    in by a later ``poll``) and shows ``ranker_did_fail`` tracebacks in a panel.

    Every call into plugin code has ``budget_ms`` (default 50 ms); loading a version (import,
    construction, binding, replaying the views, a first ``scores``) has ``load_timeout_s``. Every
    failure is kept in ``failures`` (dicts as sent to ``ranker_did_fail``), also those before anything
    listened (``record_ranker_events`` logs them). ``output`` holds what the plugin printed (bounded).
    """

    def __init__(self, spec: str, seed: int = 0, params: dict[str, object] | None = None,
                 fallback: str = "foryou", *, budget_ms: float = DEFAULT_BUDGET_MS,
                 load_timeout_s: float = DEFAULT_LOAD_TIMEOUT_S) -> None:
        self.spec = spec
        self.path, self.class_name = parse_spec(spec)
        self.seed = seed
        self.budget_ms = check_budget(budget_ms)
        self.load_timeout_s = float(load_timeout_s)
        self.output = PluginOutput()
        self.failures: list[dict[str, object]] = []
        self.engine: Any = None
        self.reloads = 0
        self._pending: _Pending | None = None
        self._wanted: tuple[int, Callable[[], BaseRanker]] | None = None  # a good version to restart
        self._latest = 1  # the newest version number that served
        self.watcher = PluginWatcher(self.path)
        self.watch_file = True  # False: edits to the file are not loaded (a lab session keeps the version it started with)
        v1 = PluginVersion(str(self.path), self.class_name, read_plugin_source(self.path), 1)
        first = self._maker(v1)()
        try:
            first.prepare(timeout_s=self.load_timeout_s)
        except ParameterError:
            first.close()
            raise
        except BaseException as e:  # noqa: BLE001 - plugin code: one clear line
            first.close()
            raise PluginError(self._load_error(e)) from e
        self.guard = GuardedRanker(lambda: first, label=f"{self.class_name}", fallback=fallback, seed=seed,
                                   on_fail=self._did_fail, rebuild_timeout_s=self.budget_ms / 1000.0,
                                   setup_timeout_s=self.load_timeout_s)
        self.guard.output = self.output  # type: ignore[attr-defined]
        self.guard._make = self._maker(v1)
        self.guard.restore = self._restore  # after a failure the built-in serves while a good version restarts
        for k, v in (params or {}).items():
            self.guard.set_param(k, v)

    def _load_error(self, e: BaseException) -> str:
        return load_error(self.spec, e, self.load_timeout_s)

    def _maker(self, version: PluginVersion) -> Callable[[], BaseRanker]:
        return lambda: RemoteRanker(version, self.seed, budget_ms=self.budget_ms, output=self.output)

    @classmethod
    def feed(cls, catalog, spec: str, seed: int = 0, params: dict[str, object] | None = None,
             fallback: str = "foryou", *, budget_ms: float = DEFAULT_BUDGET_MS, **engine_kwargs: Any):
        """A ``FeedEngine`` served by the plugin at ``spec``; the host is ``engine.plugin_host``."""
        from feedapp.core.engine import FeedEngine

        host = cls(spec, seed=seed, params=params, fallback=fallback, budget_ms=budget_ms)
        eng = FeedEngine(catalog, host.guard, seed=seed, **engine_kwargs)
        host.connect(eng)
        eng.plugin_host = host  # type: ignore[attr-defined]
        return eng

    def connect(self, engine: Any) -> None:
        """Send failures and reloads to ``engine``'s hooks (``ranker_did_fail``, ``ranker_did_reload``)."""
        self.engine = engine

    def close(self) -> None:
        """End the plugin's worker processes (also done at exit)."""
        self._cancel()
        self.guard.close()

    def _emit(self, event: str, info: dict) -> None:
        if self.engine is not None:
            self.engine._emit(event, info)

    def _did_fail(self, f: Failure) -> None:
        info = f.as_dict()
        info["path"] = str(self.path)
        self.failures.append(info)
        self._emit("ranker_did_fail", info)

    @property
    def reloading(self) -> bool:
        """True while a version loads in the background (a reload, or a good version restarting) or waits to."""
        return self._pending is not None or self._wanted is not None

    def poll(self, wait: bool = False) -> bool | None:
        """From a timer: finish a reload (or restart) whose worker is done, or start a reload if the file changed.

        True: a new (or restarted) version serves; False: it failed (what served keeps serving);
        None: nothing finished. ``wait=True`` waits for a load it starts or finds running.
        """
        if self._pending is None:
            if self.watch_file and self.watcher.changed():  # a saved file wins over a restart
                self._wanted = None
                if not self._begin_reload():
                    return False
            elif self._wanted is not None:
                version, make = self._wanted
                self._wanted = None
                if id(make) in self.guard._broken or not self.guard.on_builtin:  # something else serves by now
                    return None
                self._begin(make, version, True)
            else:
                return None
        p = self._pending
        assert p is not None
        if wait or p.ranker.ready() or p.ranker.overdue():
            done = self._finish()
            while done is None and wait and self._pending is not None:  # started again with newer parameters
                done = self._finish()
            return done
        return None

    def reload(self, wait: bool = True) -> bool | None:
        """Load the file again, rebuild the ranker by replaying its views, serve it.

        On any error (the file does not load, the class is gone, building or replaying raises or runs
        past ``load_timeout_s``, the first scores are invalid) the current ranker keeps serving and
        ``ranker_did_fail`` says why. ``wait=False`` returns at once (None); ``poll()`` finishes it.
        """
        self._cancel()
        if not self._begin_reload():
            return False
        return self.poll(wait=True) if wait else None

    def _cancel(self) -> None:
        self._wanted = None
        if self._pending is not None:
            self._pending.ranker.close()
            self._pending = None

    def _load_failed(self, p: _Pending | None, version: int, e: BaseException) -> bool:
        kind, message, tb = describe(e)
        what = "restarting" if p is not None and p.restore else "loading"
        if isinstance(e, PluginTimeout):
            message = (f"{what} version {version} did not finish within {self.load_timeout_s:g} s "
                       "(does it loop when imported, created, bound or replayed?)")
        g = self.guard
        f = Failure(f"{self.class_name} version {version}", "restore" if p is not None and p.restore else "reload",
                    message, tb, version, g.serving if g.failed_over else g.name, "load" if kind == "raised" else kind,
                    self.output.text(OUTPUT_IN_FAILURE))
        g.failures.append(f)
        self._did_fail(f)
        if p is None or not p.restore:  # a save that did not load keeps its number: the next one is another version
            self._latest = max(self._latest, version)
        if p is not None and p.restore:
            g._broken.add(id(p.make))
        if g.on_builtin and self._pending is None:  # the built-in serves: restart the next good version, if any
            nxt = g.restorable()
            if nxt:
                self._restore(*nxt[0])  # at the next poll
        return False

    def _begin(self, make: Callable[[], BaseRanker], version: int, restore: bool) -> None:
        g = self.guard
        r = make()
        assert isinstance(r, RemoteRanker)
        space = g.space
        learned = rows_learned(space, g.learned) if space is not None else None
        r.begin_prepare(overrides=g.overrides, strict=not restore, space=space, world=g.world, learned=learned,
                        check=SplitMix(self.seed, 0, len(g.learned)) if space is not None else None,
                        timeout_s=self.load_timeout_s, background=True)
        self._pending = _Pending(r, version, len(g.learned), time.perf_counter(), make, restore, dict(g.overrides))

    def _begin_reload(self) -> bool:
        version = self._latest + 1
        try:
            source = read_plugin_source(self.path)
        except PluginError as e:
            return self._load_failed(None, version, e)
        self._begin(self._maker(PluginVersion(str(self.path), self.class_name, source, version)), version, False)
        return True

    def _restore(self, version: int, make: Callable[[], BaseRanker]) -> None:
        """``GuardedRanker.restore``: restart a good version in the background, starting at the next
        ``poll`` (not inside the failing call: even starting a process takes milliseconds)."""
        self._wanted = (version, make)

    def _finish(self) -> bool | None:
        p = self._pending
        assert p is not None
        self._pending = None
        r, g = p.ranker, self.guard
        if p.overrides != g.overrides:
            # a parameter was set while it loaded (with the values of its start): it would serve with the old
            # value, where a version swapped in now is a fresh instance with the values set through the guard
            # (what replay rebuilds). Start it again with them; a later poll finishes it. While parameters keep
            # changing (a slider dragged through several timer ticks) the swap waits until they settle.
            r.close()
            self._begin(p.make, p.version, p.restore)
            return None
        try:
            scores = r.finish_prepare(f"{'restarting' if p.restore else 'loading'} version {p.version}")
            if r.space is not None:
                _check_scores(scores, r._sent_n)
            extra = g.learned[p.learned:]  # views learned while it loaded
            if extra:
                r.learn_many(extra)
        except BaseException as e:  # noqa: BLE001 - any plugin error: keep serving what we have
            r.close()
            return self._load_failed(p, p.version, e)
        if p.restore:
            g.restored(p.make, r, p.version)
        else:
            g.swap(p.make, r, p.version)
            g.good.append((p.version, p.make))
            g.serving = f"{self.class_name} version {p.version}"
            self._latest = max(self._latest, p.version)
            self.reloads += 1
        ms = (time.perf_counter() - p.t0) * 1000.0
        if self.engine is not None:
            self.engine.redecide_next()
        self._emit("ranker_did_reload", {"path": str(self.path), "class": self.class_name, "version": p.version,
                                         "ranker": r.name, "views_replayed": len(g.learned), "ms": round(ms, 2),
                                         "restored": p.restore})
        return True


@dataclass
class _Pending:
    """A version loading in its worker while the feed serves: a reload, or a good version restarting."""

    ranker: RemoteRanker
    version: int
    learned: int  # views it was sent; later ones follow when it is swapped in
    t0: float
    make: Callable[[], BaseRanker]
    restore: bool
    overrides: dict[str, object]  # the parameter values set through the guard when it started loading


def record_ranker_events(engine: Any, recorder: Any) -> None:
    """Log the engine's ranker hooks as session events (what the app's composition root wires):

    ``ranker_param_did_change`` -> ``ranker_param_changed`` {name, old, new};
    ``ranker_did_reload`` -> ``ranker_reloaded`` {path, class, version, views_replayed, ms, restored};
    ``ranker_did_fail`` -> ``ranker_failed`` {method, message, traceback, version, fallback, cause, output, path}.
    Plugin failures from before this call (a plugin that failed in ``bind`` while the engine was
    built) are logged at once. ``recorder`` is a ``SessionRecorder`` (anything with ``event(kind, **data)``).
    """
    engine.on("ranker_param_did_change",
              lambda name, old, new: recorder.event("ranker_param_changed", name=name, old=old, new=new))
    engine.on("ranker_did_reload", lambda info: recorder.event("ranker_reloaded", **info))
    engine.on("ranker_did_fail", lambda info: recorder.event("ranker_failed", **info))
    host = getattr(engine, "plugin_host", None)
    for info in list(getattr(host, "failures", ())):
        recorder.event("ranker_failed", **info)
