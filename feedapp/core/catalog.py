"""The catalog: the clips a feed can serve. It may grow while the feed runs (demo clips being made)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator

from feedapp.core.model import Clip


class Catalog:
    def __init__(self, clips: Iterable[Clip] = ()) -> None:
        self._clips: list[Clip] = []
        self._by_id: dict[str, Clip] = {}
        self._listeners: list[Callable[[tuple[Clip, ...]], None]] = []
        self.add(clips)

    # -- reading --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._clips)

    def __iter__(self) -> Iterator[Clip]:
        return iter(tuple(self._clips))

    def __contains__(self, clip_id: object) -> bool:
        return clip_id in self._by_id

    def get(self, clip_id: str) -> Clip:
        return self._by_id[clip_id]

    @property
    def clips(self) -> tuple[Clip, ...]:
        return tuple(self._clips)

    def topics(self) -> list[str]:
        return sorted({t for c in self._clips for t in c.topics})

    def creators(self) -> list[str]:
        return sorted({c.creator for c in self._clips})

    def fingerprint(self) -> str:
        """A short hash of the clip ids and durations: two catalogs with the same clips match."""
        h = hashlib.sha256()
        for c in sorted(self._clips, key=lambda c: c.id):
            h.update(f"{c.id}\t{c.duration_ms}\n".encode())
        return h.hexdigest()[:16]

    # -- growing --------------------------------------------------------------------------------
    def add(self, clips: Iterable[Clip]) -> tuple[Clip, ...]:
        """Add clips whose id is new; return the ones added and tell listeners (catalog_did_grow)."""
        added = []
        for clip in clips:
            if clip.id in self._by_id:
                continue
            self._clips.append(clip)
            self._by_id[clip.id] = clip
            added.append(clip)
        if added:
            for listener in list(self._listeners):
                listener(tuple(added))
        return tuple(added)

    def on_grow(self, listener: Callable[[tuple[Clip, ...]], None]) -> None:
        self._listeners.append(listener)

    def off_grow(self, listener: Callable[[tuple[Clip, ...]], None]) -> None:
        """Stop calling ``listener`` (added by ``on_grow``; nothing happens if it is not there)."""
        if listener in self._listeners:
            self._listeners.remove(listener)
