from feedapp.core.catalog import Catalog
from feedapp.core.feed import Feed, SimpleOrder
from feedapp.core.model import Clip


def clip(i: int, topic: str = "cats", creator: str = "ann") -> Clip:
    return Clip(id=f"c{i}", path=f"/x/{i}.mp4", title=f"t{i}", topics=(topic,), creator=creator,
                duration_ms=5000, fps=30.0, width=540, height=960)


def make_catalog(n: int = 6) -> Catalog:
    return Catalog(clip(i, "cats" if i % 2 else "cooking") for i in range(n))


def test_forward_serves_every_clip_once_per_cycle_then_repeats():
    feed = Feed(make_catalog(6), SimpleOrder(seed=3))
    first = [feed.move(1).id for _ in range(6)]
    assert sorted(first) == [f"c{i}" for i in range(6)]
    nxt = feed.move(1)
    assert nxt is not None and nxt.id != first[-1]


def test_peek_is_a_query_decide_next_decides_and_move_lands_on_it():
    feed = Feed(make_catalog(), SimpleOrder(seed=1))
    feed.start()
    assert feed.peek(1) is None and len(feed.history) == 1  # asking "what is next" decides nothing
    decided = feed.decide_next()
    assert decided is not None and len(feed.history) == 2
    assert feed.peek(1) is decided and feed.decide_next() is decided  # decided once
    assert feed.move(1) is decided  # what the player preloads is what it shows
    assert feed.position == 1


def test_back_revisits_history_and_forward_replays_it():
    feed = Feed(make_catalog(), SimpleOrder(seed=2))
    a = feed.start()
    b = feed.move(1)
    assert feed.is_revisit() is False
    assert feed.move(-1) is a and feed.position == 0
    assert feed.is_revisit() is True  # came back to a clip already shown
    assert feed.move(-1) is None and feed.position == 0  # nothing before the first clip
    assert feed.move(1) is b and feed.is_revisit() is True
    c = feed.move(1)
    assert c is not None and feed.is_revisit() is False


def test_same_seed_same_order():
    def run(seed):
        feed = Feed(make_catalog(8), SimpleOrder(seed=seed))
        return [feed.move(1).id for _ in range(20)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_alternates_topics_when_it_can():
    feed = Feed(make_catalog(8), SimpleOrder(seed=0))
    topics = [feed.move(1).topics[0] for _ in range(8)]
    assert all(a != b for a, b in zip(topics, topics[1:]))


def test_empty_catalog_and_growing_catalog():
    cat = Catalog()
    feed = Feed(cat)
    assert feed.start() is None and feed.current is None and feed.position == -1
    grown = []
    cat.on_grow(grown.append)
    cat.add([clip(1), clip(1)])
    assert len(cat) == 1 and len(grown) == 1
    assert feed.start().id == "c1"
    assert feed.move(1) is None  # one clip only: never the same clip twice in a row
    assert feed.move(1) is None and feed.position == 0  # asking again does not serve it either


def test_redecide_next_drops_an_unshown_pick():
    feed = Feed(make_catalog(6), SimpleOrder(seed=0))
    feed.start()
    first_pick = feed.decide_next()
    feed.redecide_next()
    assert len(feed.history) == 1 and feed.peek(1) is None
    again = feed.decide_next()
    assert again is not None and len(feed.history) == 2
    assert first_pick.id in {c.id for c in feed.catalog}


def test_catalog_fingerprint_depends_on_clips_not_order():
    a = Catalog([clip(1), clip(2)])
    b = Catalog([clip(2), clip(1)])
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != Catalog([clip(1)]).fingerprint()
