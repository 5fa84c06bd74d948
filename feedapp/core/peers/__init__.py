"""Peer rankers: strong bandit baselines that ``feedapp simulate --compare`` runs beside foryou.

Why peers: a ranker is only as good as what it beats. Each peer is a ranker in the registry's style
(``BaseRanker``: scores per clip from the score stream, ``learn_one`` from each view's reward), so
the same engine and policy drive it and its propensities are logged exactly like foryou's. They are
not in the app's ranker menu (``RANKERS``); ``make_ranker`` and ``check-ranker`` find them by name.

- ``ts_topic``: Thompson sampling per topic and per creator (``thompson.py``);
- ``lin_ts``: linear Thompson sampling over foryou's features (``lin_ts.py``);
- ``vw_cb``: Vowpal Wabbit's contextual bandit ``cb_explore_adf`` (``vw.py``; needs the optional
  extra ``feedapp[peers]``; without it the peer is reported as missing, see ``missing_peers``).
"""

from __future__ import annotations

from feedapp.core.peers.lin_ts import LinearThompsonRanker
from feedapp.core.peers.thompson import TopicCreatorThompson
from feedapp.core.peers.vw import PeerMissing, VowpalWabbitRanker, vw_missing_reason
from feedapp.core.rankers.base import BaseRanker

PEERS: dict[str, type[BaseRanker]] = {
    cls.name: cls for cls in (TopicCreatorThompson, LinearThompsonRanker, VowpalWabbitRanker)
}


def missing_peers() -> dict[str, str]:
    """Peers that cannot run here, with the reason (an optional package that is not installed)."""
    reason = vw_missing_reason()
    return {VowpalWabbitRanker.name: reason} if reason else {}


__all__ = ["PEERS", "PeerMissing", "missing_peers", "TopicCreatorThompson", "LinearThompsonRanker",
           "VowpalWabbitRanker"]
