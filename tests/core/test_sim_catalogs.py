"""Generated catalogs: deterministic by seed, the asked shape, heavy-tailed creator sizes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from feedapp.core.sim_catalogs import HOME_SHARE, generated_catalog


def test_same_seed_same_catalog_other_seed_other_catalog():
    a, b, c = (generated_catalog(1000, 20, 200, seed=s) for s in (4, 4, 5))
    assert a.clips == b.clips and a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()


def test_the_catalog_has_the_asked_size_topics_and_creators():
    cat = generated_catalog(1000, 20, 200, seed=1)
    assert len(cat) == 1000 and len(cat.topics()) == 20 and len(cat.creators()) == 200
    assert all(4000 <= c.duration_ms <= 60000 and 1 <= len(c.topics) <= 2 and len(c.features) == 8 for c in cat.clips)


def test_creator_sizes_are_heavy_tailed_and_every_creator_posts():
    cat = generated_catalog(10000, 50, 2000, seed=2)
    sizes = sorted(Counter(c.creator for c in cat.clips).values(), reverse=True)
    assert len(sizes) == 2000 and min(sizes) >= 1
    assert sizes[0] >= 50 * float(np.median(sizes))  # Zipf 1.1: the largest creator dwarfs the typical one
    assert sum(sizes[:200]) / 10000 > 0.5  # the top 10 % of creators post most clips


def test_creators_mostly_post_in_their_home_topic():
    cat = generated_catalog(5000, 10, 50, seed=3)
    by = {}
    for c in cat.clips:
        by.setdefault(c.creator, Counter())[c.topics[0]] += 1
    top = sum(cnt.most_common(1)[0][1] for cnt in by.values()) / len(cat)
    assert HOME_SHARE - 0.05 < top < HOME_SHARE + 0.1


@pytest.mark.parametrize("args, msg", [((0, 5, 1), "catalog size"), ((10, 0, 1), "topics"), ((10, 5, 11), "creators")])
def test_bad_shapes_are_refused_in_words(args, msg):
    with pytest.raises(ValueError, match=msg):
        generated_catalog(*args)
