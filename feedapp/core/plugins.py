"""Ranker plugins: ``--ranker path/to/file.py:ClassName``, reloaded on save, guarded so the feed never stops.

Why here and Qt-free: loading, validating and swapping a ranker is the same for the app, the CLI and
the tests. The Qt shell only calls ``PluginHost.poll()`` from a timer (``PluginWatcher`` compares the
file's mtime and size, no file-system notifications needed) and shows what the engine hooks say:

- ``ranker_did_reload(info: dict)``: a new version of the file is serving (``info``: path, class,
  version, views replayed, milliseconds taken);
- ``ranker_did_fail(info: dict)``: plugin code raised, returned NaN/inf or the wrong type/shape, or a
  reload could not load; ``info["traceback"]`` is the full text for a panel, ``info["fallback"]``
  names what serves now. The recorder logs both as events (``ranker_reloaded``, ``ranker_failed``).

Pieces: ``load_plugin_class`` (importlib from a file path, a unique module name per load, one-line
errors: missing file, syntax or import error, missing class, class not following the protocol),
``GuardedRanker`` (wraps the plugin, validates every output, falls back to the last good version, or
to a built-in ranker if no version has worked yet, rebuilt by replaying the views learned so far)
and ``PluginHost`` (attaches a guarded plugin to a ``FeedEngine`` and reloads it, rebuilding its
state by replaying the engine's views and rewards). The protocol itself is documented in
``docs/rankers.md``.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip
from feedapp.core.rankers.base import BaseRanker, Param, ParameterError, World
from feedapp.core.rankers.registry import RANKERS, UnknownRanker, make_ranker
from feedapp.core.rankers.rng import Rng


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
    except Exception as e:  # noqa: BLE001 - plugin code
        raise PluginError(f"{label}class {cls.__name__}: spec() raised {type(e).__name__}: {e}") from e
    if not all(isinstance(p, Param) for p in spec):
        raise PluginError(f"{label}class {cls.__name__}: own_params must hold feedapp.core.rankers.Param entries")
    return cls  # type: ignore[return-value]


def load_plugin_class(path: str | Path, class_name: str) -> type:
    """Import ``path`` as a fresh module (a new name per load, so edits are seen) and return the class."""
    path = Path(path)
    if not path.exists():
        raise PluginError(f"there is no plugin file {path}")
    if path.is_dir():
        raise PluginError(f"{path} is a folder; give the .py file that defines the ranker")
    module_name = f"feedapp_plugin_{''.join(c if c.isalnum() else '_' for c in path.stem)}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, str(path))
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        sys.modules.pop(module_name, None)
        raise PluginError(f"{path}, line {e.lineno}: syntax error: {e.msg}") from e
    except Exception as e:  # noqa: BLE001 - plugin code at import time
        sys.modules.pop(module_name, None)
        raise PluginError(f"{path}: importing it raised {type(e).__name__}: {e}") from e
    finally:
        # only the module object is kept (by the class); the name is not needed once loaded
        sys.modules.pop(module_name, None)
    cls = getattr(module, class_name, None)
    if cls is None:
        found = sorted(n for n, v in vars(module).items() if inspect.isclass(v) and v.__module__ == module_name)
        raise PluginError(
            f"{path} defines no class {class_name!r}" + (f" (it defines: {', '.join(found)})" if found else "")
        )
    return check_protocol(cls, str(path))


def ranker_class(name_or_spec: str) -> type:
    """The class behind a registry name or a ``file.py:Class`` spec (for parameter specs and presets)."""
    if is_plugin_spec(name_or_spec):
        return load_plugin_class(*parse_spec(name_or_spec))
    cls = RANKERS.get(name_or_spec)
    if cls is None:
        raise UnknownRanker(
            f"there is no ranker called {name_or_spec!r} (choose one of: {', '.join(RANKERS)}, or path/to/file.py:ClassName)"
        )
    return cls


def make_any_ranker(name_or_spec: str, seed: int = 0, **params: object) -> BaseRanker:
    """``make_ranker`` that also accepts ``file.py:Class`` (unguarded: for replay and tests)."""
    if not is_plugin_spec(name_or_spec):
        return make_ranker(name_or_spec, seed=seed, **params)
    cls = ranker_class(name_or_spec)
    try:
        return cls(seed=seed, **params)
    except ParameterError:
        raise
    except Exception as e:  # noqa: BLE001
        raise PluginError(f"{name_or_spec}: creating the ranker raised {type(e).__name__}: {e}") from e


# -- the guard ----------------------------------------------------------------------------------------


class RankerFailure(Exception):
    """Plugin output that breaks the protocol (NaN score, wrong type or shape)."""


@dataclass(frozen=True)
class Failure:
    """One failure of plugin code, for the log and a panel."""

    ranker: str
    method: str
    message: str
    traceback: str
    version: int
    fallback: str

    def as_dict(self) -> dict[str, object]:
        return {"ranker": self.ranker, "method": self.method, "message": self.message,
                "traceback": self.traceback, "version": self.version, "fallback": self.fallback}


def _check_scores(s: object, n: int) -> np.ndarray:
    if not isinstance(s, np.ndarray):
        raise RankerFailure(f"scores() must return a numpy array, not {type(s).__name__}")
    if s.shape != (n,):
        raise RankerFailure(f"scores() must return one score per clip, shape ({n},), not {s.shape}")
    if s.dtype.kind not in "fiu":
        raise RankerFailure(f"scores() must return numbers, not dtype {s.dtype}")
    s = s.astype(np.float64, copy=False)
    bad = ~np.isfinite(s)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RankerFailure(f"scores() returned {int(bad.sum())} non-finite score(s), e.g. {s[i]!r} at row {i}")
    return s


def replay_into(ranker: BaseRanker, learned: Sequence[tuple[Clip, float]]) -> None:
    """Rebuild a ranker's state: learn the same (clip, reward) pairs in the same order."""
    for clip, reward in learned:
        ranker.learn_one(clip, reward)


class GuardedRanker(BaseRanker):
    """A ranker that validates every output of the one it wraps and falls back instead of failing.

    Serving: ``active`` (the plugin version in use). If plugin code raises, returns a NaN/inf score,
    the wrong type or shape, the failure is recorded (``failures``, ``on_fail``) and the guard
    switches to the last version that worked (or to the built-in ``fallback`` ranker if none has),
    rebuilt from the (clip, reward) pairs learned so far; the failing call is answered by it.
    Parameter values set through the guard are carried over to every version that has them.
    """

    def __init__(self, make: Callable[[], BaseRanker], *, label: str = "plugin", fallback: str = "foryou",
                 on_fail: Callable[[Failure], None] | None = None, seed: int = 0) -> None:
        self.seed = int(seed)
        self.label = label
        self.fallback_name = fallback
        self.on_fail = on_fail
        self.failures: list[Failure] = []
        self.learned: list[tuple[Clip, float]] = []
        self.overrides: dict[str, object] = {}
        self.version = 1
        self._make = make
        self.good: list[tuple[int, Callable[[], BaseRanker]]] = []  # versions that produced valid scores
        self._rng = np.random.default_rng(seed)
        self.space: FeatureSpace | None = None
        self.world = World()
        self.active: BaseRanker = make()
        self.failed_over = False
        self.serving = f"{label} version 1"  # what serves now, for a panel

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
        self.space = space
        if world is not None:
            self.world = world
        self._call("bind", lambda r: r.bind(space, self.world))
        return self

    def clone(self) -> BaseRanker:
        return self.active.clone()

    def set_param(self, name: str, value: object):
        old, new = self.active.set_param(name, value)  # ParameterError is the caller's to handle
        self.overrides[name] = new
        return old, new

    def _fresh(self, make: Callable[[], BaseRanker]) -> BaseRanker:
        """A new instance from ``make``, with the current parameter values, bound, with the views replayed."""
        r = make()
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
        return r

    def swap(self, make: Callable[[], BaseRanker], ranker: BaseRanker, version: int) -> None:
        """Serve ``ranker`` (built by ``make``, already bound and replayed) from now on."""
        self._make = make
        self.active = ranker
        self.version = version
        self.failed_over = False

    # -- failure handling -------------------------------------------------------------------------
    def fail(self, method: str, exc: BaseException) -> None:
        """Record a failure of the active version and fall back to the last good one (or the built-in)."""
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        bad, bad_version = self.name, self.version
        builtin = (self.fallback_name, lambda: make_ranker(self.fallback_name, seed=self.seed))
        candidates = [(f"{self.label} version {v}", mk) for v, mk in reversed(self.good) if mk is not self._make]
        for fb, make in candidates:
            try:
                ranker = self._fresh(make)
                if self.space is not None:
                    _check_scores(ranker.scores(np.random.default_rng(0)), self.space.n)
            except Exception:  # noqa: BLE001 - that version breaks too now: try an older one, then the built-in
                continue
            self.active, self._make = ranker, make
            break
        else:  # the built-in ranker is tested code: it is the floor the feed stands on
            fb, make = builtin
            self.active, self._make = self._fresh(make), make
        self.failed_over = True
        self.serving = fb
        f = Failure(bad, method, f"{type(exc).__name__}: {exc}", tb, bad_version, fb)
        self.failures.append(f)
        if self.on_fail is not None:
            self.on_fail(f)

    def _call(self, method: str, fn: Callable[[BaseRanker], Any]) -> Any:
        try:
            return fn(self.active)
        except ParameterError:
            raise
        except Exception as e:  # noqa: BLE001 - plugin code
            self.fail(method, e)
            return fn(self.active)

    # -- the protocol, validated ------------------------------------------------------------------
    def scores(self, rng: Rng) -> np.ndarray:
        assert self.space is not None, "bind the ranker to a feature space first"
        n = self.space.n
        try:
            s = _check_scores(self.active.scores(rng), n)
        except Exception as e:  # noqa: BLE001
            self.fail("scores", e)
            return _check_scores(self.active.scores(rng), n)
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

    def learn_one(self, clip: Clip, reward: float) -> None:
        self.learned.append((clip, float(reward)))
        try:
            self.active.learn_one(clip, reward)
        except Exception as e:  # noqa: BLE001 - the fallback is rebuilt from ``learned``, this view included
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


class PluginHost:
    """A plugin ranker serving a ``FeedEngine``, reloaded from its file while the feed runs.

    ``PluginHost.feed(catalog, "file.py:Class", seed=...)`` returns the engine (host at
    ``engine.plugin_host``). By hand: ``host = PluginHost(spec, seed)``, ``FeedEngine(catalog,
    host.guard, seed=seed, ...)``, ``host.connect(engine)``. The Qt shell calls ``host.poll()`` from a
    timer (every 500 ms is plenty) and shows ``ranker_did_fail`` tracebacks in a panel.
    """

    def __init__(self, spec: str, seed: int = 0, params: dict[str, object] | None = None,
                 fallback: str = "foryou") -> None:
        self.spec = spec
        self.path, self.class_name = parse_spec(spec)
        self.seed = seed
        self.watcher = PluginWatcher(self.path)
        cls = load_plugin_class(self.path, self.class_name)
        make = self._maker(cls)
        try:
            first = make()
        except ParameterError:
            raise
        except Exception as e:  # noqa: BLE001
            raise PluginError(f"{spec}: creating the ranker raised {type(e).__name__}: {e}") from e
        self.guard = GuardedRanker(lambda: first, label=f"{self.class_name}", fallback=fallback, seed=seed,
                                   on_fail=self._did_fail)
        self.guard._make = make
        for k, v in (params or {}).items():
            self.guard.set_param(k, v)
        self.engine: Any = None
        self.reloads = 0

    def _maker(self, cls: type) -> Callable[[], BaseRanker]:
        return lambda: cls(seed=self.seed)

    @classmethod
    def feed(cls, catalog, spec: str, seed: int = 0, params: dict[str, object] | None = None,
             fallback: str = "foryou", **engine_kwargs: Any):
        """A ``FeedEngine`` served by the plugin at ``spec``; the host is ``engine.plugin_host``."""
        from feedapp.core.engine import FeedEngine

        host = cls(spec, seed=seed, params=params, fallback=fallback)
        eng = FeedEngine(catalog, host.guard, seed=seed, **engine_kwargs)
        host.connect(eng)
        eng.plugin_host = host  # type: ignore[attr-defined]
        return eng

    def connect(self, engine: Any) -> None:
        """Send failures and reloads to ``engine``'s hooks (``ranker_did_fail``, ``ranker_did_reload``)."""
        self.engine = engine

    def _emit(self, event: str, info: dict) -> None:
        if self.engine is not None:
            self.engine._emit(event, info)

    def _did_fail(self, f: Failure) -> None:
        info = f.as_dict()
        info["path"] = str(self.path)
        self._emit("ranker_did_fail", info)

    def _history(self) -> list[tuple[Clip, float]]:
        """The engine's views so far as (clip, reward) pairs, in order (what the ranker learned)."""
        eng = self.engine
        if eng is None:
            return list(self.guard.learned)
        space = eng.space
        return [(space.clips[space.row_of[v.clip_id]], r) for v, r in zip(eng.views, eng.rewards)]

    def poll(self) -> bool | None:
        """Reload if the file changed since the last poll: True reloaded, False failed, None unchanged."""
        if not self.watcher.changed():
            return None
        return self.reload()

    def reload(self) -> bool:
        """Load the file again, rebuild the ranker by replaying the engine's views, serve it.

        On any error (the file does not load, the class is gone, building or replaying raises, the
        first scores are invalid) the current ranker keeps serving and ``ranker_did_fail`` says why.
        """
        t0 = time.perf_counter()
        version = self.guard.version + 1
        history = self._history()
        try:
            cls = load_plugin_class(self.path, self.class_name)
            make = self._maker(cls)
            r = make()
            names = {p.name for p in r.spec()}
            for k, v in self.guard.overrides.items():
                if k in names:
                    r.set_param(k, v)
            if self.guard.space is not None:
                r.bind(self.guard.space, self.guard.world)
            replay_into(r, history)
            if self.guard.space is not None:
                from feedapp.core.rankers.rng import SplitMix

                _check_scores(r.scores(SplitMix(self.seed, 0, len(history))), self.guard.space.n)
        except Exception as e:  # noqa: BLE001 - any plugin error: keep serving what we have
            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            f = Failure(f"{self.class_name} version {version}", "reload", f"{type(e).__name__}: {e}", tb, version,
                        self.guard.name)
            self.guard.failures.append(f)
            self._did_fail(f)
            return False
        self.guard.learned = list(history)
        self.guard.swap(make, r, version)
        self.guard.good.append((version, make))
        self.guard.serving = f"{self.class_name} version {version}"
        self.reloads += 1
        ms = (time.perf_counter() - t0) * 1000.0
        if self.engine is not None:
            self.engine.redecide_next()
        self._emit("ranker_did_reload", {"path": str(self.path), "class": self.class_name, "version": version,
                                         "ranker": r.name, "views_replayed": len(history), "ms": round(ms, 2)})
        return True



def record_ranker_events(engine: Any, recorder: Any) -> None:
    """Log the engine's ranker hooks as session events (what the app's composition root wires):

    ``ranker_param_did_change`` -> ``ranker_param_changed`` {name, old, new};
    ``ranker_did_reload`` -> ``ranker_reloaded`` {path, class, version, views_replayed, ms};
    ``ranker_did_fail`` -> ``ranker_failed`` {method, message, traceback, version, fallback, path}.
    ``recorder`` is a ``SessionRecorder`` (anything with ``event(kind, **data)``).
    """
    engine.on("ranker_param_did_change",
              lambda name, old, new: recorder.event("ranker_param_changed", name=name, old=old, new=new))
    engine.on("ranker_did_reload", lambda info: recorder.event("ranker_reloaded", **info))
    engine.on("ranker_did_fail", lambda info: recorder.event("ranker_failed", **info))
