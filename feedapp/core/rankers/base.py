"""The ranker protocol, its parameter spec, and what rankers may read about the world.

A ranker turns the catalog's feature matrix into one score per clip (``scores``) and, if it is a
learner, learns from each view (``learn_one``: its reward, and the whole ``View`` when its signature
takes a third argument; ``learn`` calls it either way), in the spirit of river's estimators. It
does *not* decide the served order: the policy (``policy.py``) turns scores into a served clip with
exploration, diversity, fatigue and an exact propensity, and is the same for every ranker, so
rankers stay comparable. Each ranker is seeded and clonable, and can also be used as the plain
``Order`` of ``feedapp.core.feed.Feed`` (``pick``) or to sort any list of clips (``rank``).

Every tunable number is declared as a ``Param`` (name, default, min, max, description): the CLI
lists them (``feedapp rankers``) and a later UI builds sliders from them. Values outside the range
raise ``ParameterError`` with one clear sentence.
"""

from __future__ import annotations

import inspect
import math
import numbers
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from feedapp.core.features import FeatureSpace
from feedapp.core.model import Clip, View
from feedapp.core.rankers.rng import Rng


class ParameterError(ValueError):
    """A ranker parameter that does not exist or is out of its range."""


@dataclass(frozen=True)
class Param:
    name: str
    default: float
    min: float
    max: float
    description: str
    kind: str = "float"  # "float" or "int"

    def check(self, ranker: str, value: object) -> float | int:
        try:
            v = float(value)  # type: ignore[arg-type]
        except OverflowError:  # an int too large for a float: out of every range
            raise ParameterError(f"ranker {ranker!r}: parameter {self.name} must be between {self.min:g} and "
                                 f"{self.max:g}, not a number that large") from None
        except (TypeError, ValueError):
            raise ParameterError(f"ranker {ranker!r}: parameter {self.name} must be a number, not {value!r}") from None
        if not math.isfinite(v) or not (self.min <= v <= self.max):
            raise ParameterError(
                f"ranker {ranker!r}: parameter {self.name} must be between {self.min:g} and {self.max:g}, not {value!r}"
            )
        if self.kind == "int":
            if v != int(v):
                raise ParameterError(f"ranker {ranker!r}: parameter {self.name} must be a whole number, not {value!r}")
            return int(v)
        return v

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "kind": self.kind,
            "description": self.description,
        }


POLICY_PARAMS: tuple[Param, ...] = (
    Param("epsilon", 0.05, 0.0, 1.0, "share of picks drawn uniformly from the allowed clips (exploration)"),
    Param("temperature", 0.05, 0.0, 10.0, "softmax temperature over scores; 0 always takes the best score"),
    # 8, not 3: a limit of 3 capped a one-topic viewer's liked share at 3 in 4 (less exploration), below what a
    # clear taste should get; topic_fatigue is the soft cool-down, this the guard rail (docs/rankers.md)
    Param("max_same_topic", 8, 0, 100, "at most this many clips sharing a topic in a row; 0 = no limit", "int"),
    Param("topic_fatigue", 0.05, 0.0, 5.0, "score cut per recent clip of the same topic (cool-down)"),
    Param("creator_fatigue", 0.3, 0.0, 5.0, "score cut per recent clip of the same creator (cool-down)"),
    Param("fatigue_halflife", 3.0, 0.5, 100.0, "impressions after which a fatigue cut has halved"),
    Param("new_creator_floor", 0.1, 0.0, 1.0, "share of picks reserved for creators not shown yet in this feed"),
    Param("new_creator_halflife", 15.0, 1.0, 100000.0,
          "impressions after which the new-creator share has halved; 100000 = never"),
    Param("repeat_gap", 10, 1, 100000, "impressions before the same clip may be served again", "int"),
    Param("repeat_penalty", 0.3, 0.0, 10.0, "score cut per earlier serving of the same clip (when just served)"),
    Param("repeat_halflife", 30.0, 1.0, 100000.0,
          "impressions after which an earlier serving's cut has halved (favourites come back); "
          "100000 = never"),
)


class Popularity:
    """Global view counts per clip id. Share one between engines to make ``popular`` global.

    ``vector(space)`` keeps one array per feature space up to date as views are counted, so reading
    popularity costs nothing per decision.
    """

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        self.counts: dict[str, int] = dict(counts or {})
        self.version = 0
        self._vectors: dict[int, tuple[FeatureSpace, np.ndarray]] = {}

    def add(self, clip_id: str, n: int = 1) -> None:
        self.counts[clip_id] = self.counts.get(clip_id, 0) + n
        self.version += 1
        for space, vec in self._vectors.values():
            r = space.row_of.get(clip_id)
            if r is not None and r < vec.size:
                vec[r] += n

    def vector(self, space: FeatureSpace) -> np.ndarray:
        """View counts per row of ``space`` (do not modify)."""
        entry = self._vectors.get(id(space))
        if entry is None or entry[0] is not space or entry[1].size != space.n:
            vec = np.zeros(space.n)
            for cid, c in self.counts.items():
                r = space.row_of.get(cid)
                if r is not None:
                    vec[r] = c
            self._vectors[id(space)] = (space, vec)
            return vec
        return entry[1]


@dataclass
class World:
    """What a ranker may know beyond one viewer's own views: global popularity, followed creators."""

    popularity: Popularity = field(default_factory=Popularity)
    following: set[str] = field(default_factory=set)


_VIEW_ARG: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # learn_one function -> how it takes a view


def view_argument(ranker: object) -> str:
    """How ``ranker.learn_one`` takes the view: ``"positional"`` (``learn_one(clip, reward, view)``, any
    name for the third parameter), ``"keyword"`` (a keyword-only ``view`` or ``**kwargs``), or ``""``:
    it does not (``learn_one(clip, reward)``, the older protocol). Read from the signature, once per function."""
    method = ranker.learn_one  # type: ignore[attr-defined]
    func = getattr(method, "__func__", method)
    try:
        return _VIEW_ARG[func]
    except (KeyError, TypeError):
        pass
    how = ""
    try:
        sig = inspect.signature(method)
    except (TypeError, ValueError):  # no signature to read (a builtin): the older protocol
        sig = None
    if sig is not None:
        for args, kwargs, mode in (((None, None, None), {}, "positional"), ((None, None), {"view": None}, "keyword")):
            try:
                sig.bind(*args, **kwargs)
            except TypeError:
                continue
            how = mode
            break
    try:
        _VIEW_ARG[func] = how
    except TypeError:  # not weak-referenceable: just not cached
        pass
    return how


def learn(ranker: object, clip: Clip, reward: float, view: View | None) -> None:
    """``ranker.learn_one`` with the whole view when it takes one (``view_argument``), else with clip and
    reward only: how the engine, the plugin guard and the plugin worker call every ranker."""
    how = view_argument(ranker) if view is not None else ""
    if how == "positional":
        ranker.learn_one(clip, reward, view)  # type: ignore[attr-defined]
    elif how == "keyword":
        ranker.learn_one(clip, reward, view=view)  # type: ignore[attr-defined]
    else:
        ranker.learn_one(clip, reward)  # type: ignore[attr-defined]


class BaseRanker:
    name: ClassVar[str] = "base"
    description: ClassVar[str] = ""
    is_learner: ClassVar[bool] = False
    own_params: ClassVar[tuple[Param, ...]] = ()
    policy_defaults: ClassVar[dict[str, float]] = {}
    # a parameter added after sessions were logged without it: the value that ranks as the ranker did before
    params_before: ClassVar[dict[str, float]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        """A ``restrict`` of a subclass gets its own copy of the mask, as a plugin's worker does (the
        mask travels over a pipe). The policy keeps its mask to fall back on when the narrowed set is
        empty; a plugin narrowing in place (``allowed &= ...; return allowed``), natural numpy, emptied
        that one too in-process (simulate, replay, check-ranker: 'attempt to get argmax of an empty
        sequence') while the same plugin served in the app."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("restrict")
        if own is not None and not getattr(own, "_gets_a_copy", False):
            def restrict(self: BaseRanker, allowed: np.ndarray, _own=own) -> np.ndarray:  # noqa: ANN001
                return _own(self, allowed.copy())

            restrict.__doc__, restrict.__name__, restrict.__qualname__ = own.__doc__, own.__name__, own.__qualname__
            restrict.__wrapped__ = own  # type: ignore[attr-defined]
            restrict._gets_a_copy = True  # type: ignore[attr-defined]
            cls.restrict = restrict  # type: ignore[method-assign]

    def __init__(self, seed: int = 0, **params: object) -> None:
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
            raise ParameterError(f"ranker {self.name!r}: seed must be a whole number, not {seed!r}")
        self.seed = int(seed)
        spec = {p.name: p for p in self.spec()}
        unknown = sorted(set(params) - set(spec))
        if unknown:
            raise ParameterError(
                f"ranker {self.name!r} has no parameter {unknown[0]!r} (it has: {', '.join(spec)})"
            )
        self.params: dict[str, float | int] = {n: p.default for n, p in spec.items()}
        for k, v in params.items():
            self.params[k] = spec[k].check(self.name, v)
        self._rng = np.random.default_rng(seed)
        self.space: FeatureSpace | None = None
        self.world = World()

    @classmethod
    def logged_params(cls, logged: Mapping[str, object]) -> dict[str, object]:
        """A logged session's parameters for replay: those it names, and ``params_before`` for the ones it
        does not (it was recorded before they existed), so replay ranks as that session did."""
        names = {p.name for p in cls.spec()}
        return {**{k: v for k, v in cls.params_before.items() if k in names and k not in logged}, **logged}

    @classmethod
    def spec(cls) -> tuple[Param, ...]:
        """Every parameter of this ranker, its own first, then the policy's (with this ranker's defaults)."""
        pol = tuple(
            Param(p.name, cls.policy_defaults.get(p.name, p.default), p.min, p.max, p.description, p.kind)
            for p in POLICY_PARAMS
        )
        return cls.own_params + pol

    def set_param(self, name: str, value: object) -> tuple[float | int, float | int]:
        """Change one parameter live; return (old, new). Raises ``ParameterError`` if out of range."""
        spec = {p.name: p for p in self.spec()}
        if name not in spec:
            raise ParameterError(f"ranker {self.name!r} has no parameter {name!r} (it has: {', '.join(spec)})")
        old = self.params[name]
        self.params[name] = spec[name].check(self.name, value)
        return old, self.params[name]

    # -- lifecycle --------------------------------------------------------------------------------
    def bind(self, space: FeatureSpace, world: World | None = None) -> BaseRanker:
        """Score the clips of ``space``; read popularity and following from ``world``."""
        self.space = space
        if world is not None:
            self.world = world
        space.on_grow(self._space_did_grow)
        self._space_did_grow(0, space.d, 0, space.n)
        return self

    def unbind(self) -> None:
        """Stop following the feature space's growth: this ranker is being replaced (a refreshed feed, a
        reloaded plugin, a closed engine). Without it the space, which outlives the ranker, keeps calling
        and keeping alive every ranker ever bound to it. Safe to call twice or on a ranker never bound."""
        space = getattr(self, "space", None)
        if space is not None:
            space.off_grow(self._space_did_grow)

    def _space_did_grow(self, old_d: int, new_d: int, old_n: int, new_n: int) -> None:
        """Learners pad their state for new columns here."""

    def clone(self) -> BaseRanker:
        """A fresh, unfitted, unbound ranker with the same parameters and seed."""
        return type(self)(seed=self.seed, **self.params)

    # -- the protocol -----------------------------------------------------------------------------
    def scores(self, rng: Rng) -> np.ndarray:
        """One finite score per row of the bound space (higher = serve sooner)."""
        raise NotImplementedError

    def restrict(self, allowed: np.ndarray) -> np.ndarray:
        """Narrow the boolean mask of allowed rows (``following`` keeps followed creators)."""
        return allowed

    def learn_one(self, clip: Clip, reward: float, view: View | None = None) -> None:
        """Learn from one view's reward (no-op for non-learners).

        ``view`` is the whole view (play, dwell, loops, position, exit...; ``feedapp.core.model.View``).
        It is passed only to a ``learn_one`` that accepts a third argument (see ``learn``), so a
        ranker written as ``learn_one(self, clip, reward)`` keeps working unchanged.
        """

    def explain(self, row: int) -> tuple[str, ...]:
        """Short reasons for this clip's score, for the queue panel."""
        return ()

    # -- plain use, without an engine ---------------------------------------------------------------
    def _ensure_space(self, clips: Sequence[Clip]) -> FeatureSpace:
        if self.space is None:
            self.bind(FeatureSpace(clips))
        else:
            self.space.add(clips)
        assert self.space is not None
        return self.space

    def rank(self, candidates: Sequence[Clip], history: Sequence[Clip] = ()) -> list[Clip]:
        """``candidates`` sorted best first by score (a permutation of them; ties keep input order)."""
        if not candidates:
            return []
        space = self._ensure_space(candidates)
        s = self.scores(self._rng)
        rows = np.fromiter((space.row_of[c.id] for c in candidates), dtype=np.int64, count=len(candidates))
        order = np.argsort(-s[rows], kind="stable")
        return [candidates[i] for i in order]

    def pick(self, candidates: Sequence[Clip], history: Sequence[Clip] = ()) -> Clip:
        """The ``Order`` protocol of ``Feed``: the best candidate, or a uniform one with prob. epsilon."""
        if not candidates:
            raise ValueError("cannot pick from an empty list of candidates")
        if self._rng.random() < float(self.params.get("epsilon", 0.0)):
            return candidates[int(self._rng.integers(len(candidates)))]
        return self.rank(candidates, history)[0]
