"""Rankers: scores per clip (``base``), the shared serving policy (``policy``), and the named ones."""

from feedapp.core.rankers.base import BaseRanker, Param, ParameterError, Popularity, World
from feedapp.core.rankers.registry import DEFAULT_RANKER, RANKERS, UnknownRanker, describe, make_ranker

__all__ = [
    "BaseRanker", "Param", "ParameterError", "Popularity", "World",
    "DEFAULT_RANKER", "RANKERS", "UnknownRanker", "describe", "make_ranker",
]
