"""Probe cache: probe results keyed by (path, size, mtime), so rescanning an unchanged folder is instant."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import sqlite_utils


class ProbeCache:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._rows: dict[str, tuple[int, int, int, str, bytes]] | None = None

    def _load(self) -> dict[str, tuple[int, int, int, str, bytes]]:
        if self._rows is None:
            cur = self.db.execute("SELECT path, size, mtime_ns, ok, info, poster FROM probe_cache")
            self._rows = {r[0]: tuple(r[1:]) for r in cur}  # type: ignore[misc]
        return self._rows

    def get(self, path: str, size: int, mtime_ns: int) -> tuple[bool, dict[str, Any], bytes] | None:
        """(accepted, info, poster) for an unchanged file, else None."""
        row = self._load().get(path)
        if row is None or row[0] != size or row[1] != mtime_ns:
            return None
        return bool(row[2]), json.loads(row[3]), row[4] or b""

    def put_many(self, entries: list[tuple[str, int, int, bool, dict[str, Any], bytes]]) -> None:
        """Store (path, size, mtime_ns, accepted, info, poster) entries in one transaction."""
        if not entries:
            return
        rows = [
            {"path": p, "size": s, "mtime_ns": m, "ok": int(ok), "info": json.dumps(info), "poster": poster}
            for p, s, m, ok, info, poster in entries
        ]
        try:
            with self.db.conn:
                self.db["probe_cache"].upsert_all(rows, pk="path")
        except sqlite3.OperationalError as e:
            if "locked" not in str(e).lower() and "busy" not in str(e).lower():
                raise
            # another program holds the write lock: the results are kept for this run only (a cache
            # miss costs a probe next time, nothing else)
        self._remember(entries)

    def _remember(self, entries: list[tuple[str, int, int, bool, dict[str, Any], bytes]]) -> None:
        cache = self._load()
        for p, s, m, ok, info, poster in entries:
            cache[p] = (s, m, int(ok), json.dumps(info), poster)


class HeldProbeCache(ProbeCache):
    """The probe cache of an existing log, read through a read-only connection (``db``; None: no log
    yet, an empty cache); results it did not have are held in memory (``added``), for the caller to
    store once the log is open for writing (``lab run`` checks the study's clips before it opens
    the database, which a study with problems must not create)."""

    def __init__(self, db: sqlite_utils.Database | None) -> None:
        super().__init__(db)  # type: ignore[arg-type]
        self.added: list[tuple[str, int, int, bool, dict[str, Any], bytes]] = []

    def _load(self) -> dict[str, tuple[int, int, int, str, bytes]]:
        if self._rows is None and self.db is None:
            self._rows = {}
        return super()._load()

    def put_many(self, entries: list[tuple[str, int, int, bool, dict[str, Any], bytes]]) -> None:
        self.added.extend(entries)
        self._remember(entries)
