"""Named rankers: ``--ranker NAME`` and ``feedapp rankers`` read this table."""

from __future__ import annotations

import difflib

from feedapp.core.rankers.base import BaseRanker, ParameterError
from feedapp.core.rankers.chronological import ChronologicalRanker
from feedapp.core.rankers.following import FollowingRanker
from feedapp.core.rankers.foryou import ForYouRanker
from feedapp.core.rankers.popular import PopularRanker
from feedapp.core.rankers.random import RandomRanker

RANKERS: dict[str, type[BaseRanker]] = {
    cls.name: cls for cls in (ForYouRanker, RandomRanker, ChronologicalRanker, PopularRanker, FollowingRanker)
}
DEFAULT_RANKER = "foryou"


class UnknownRanker(ParameterError):
    """A ranker name that is not in the registry."""


def peer_rankers() -> dict[str, type[BaseRanker]]:
    """The peer baselines (``feedapp.core.peers``): found by name, not in the app's menu (``RANKERS``)."""
    from feedapp.core.peers import PEERS  # imported late: the peers import the rankers

    return PEERS


def find_ranker_class(name: str) -> type[BaseRanker] | None:
    """The class of a registry ranker or a peer, or None."""
    return RANKERS.get(name) or peer_rankers().get(name)


def unknown_ranker(name: str) -> UnknownRanker:
    """The error for a ranker name that is neither registered nor a peer (a plugin file without its
    class, ``mine.py``, is told to name the class)."""
    if name.endswith(".py"):
        return UnknownRanker(f"{name} is a plugin file: name the ranker class in it too, as {name}:ClassName")
    close = difflib.get_close_matches(name.lower(), [*RANKERS, *peer_rankers()], n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return UnknownRanker(f"there is no ranker called {name!r}{hint} (choose one of: {', '.join(RANKERS)}; "
                         f"peers: {', '.join(peer_rankers())}; or a plugin, path/to/file.py:ClassName)")


def make_ranker(name: str = DEFAULT_RANKER, seed: int = 0, **params: object) -> BaseRanker:
    cls = find_ranker_class(name)
    if cls is None:
        raise unknown_ranker(name)
    return cls(seed=seed, **params)


def describe() -> list[dict[str, object]]:
    """Every ranker with its parameter spec, as plain data (for ``feedapp rankers --json`` and sliders)."""
    return [
        {
            "name": cls.name,
            "description": cls.description,
            "learner": cls.is_learner,
            "default": cls.name == DEFAULT_RANKER,
            "params": [p.as_dict() for p in cls.spec()],
        }
        for cls in RANKERS.values()
    ]
