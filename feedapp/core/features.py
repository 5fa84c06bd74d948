"""Clip -> feature vector, and the numpy matrix of the whole catalog.

Why one matrix: re-ranking after every view must score every clip in a few milliseconds even for
100k clips, which only a vectorised ``X @ w`` does. The catalog can grow while the feed runs, so
columns are *appended* as new topics or creators appear (a learner pads its state with the prior
for new columns) and rows are appended as clips arrive.

Columns, each labelled for humans (``labels``):

- ``bias``: 1 for every clip;
- ``topic:<name>``: multi-hot, scaled by 1/sqrt(number of topics) so a clip with two topics does
  not count double;
- ``creator:<name>``: one-hot for the first ``creator_slots`` creators; later creators share those
  columns through a stable hash (so a catalog of 10k creators keeps a small, fixed width);
- ``duration:<bucket>``: one-hot duration bucket (see ``DURATION_EDGES_S``);
- ``visual:<i>``: ``Clip.features`` from probing, standardised per dimension over the catalog,
  NaN/inf replaced by the typical value (0 after standardising), clipped to +-3 and scaled so the
  whole block weighs no more than one one-hot column. Clips whose feature vector is shorter or
  longer than the first one seen are padded with typical values or truncated.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Iterable, Sequence

import numpy as np

from feedapp.core.model import Clip

DURATION_EDGES_S: tuple[float, ...] = (5.0, 8.0, 12.0, 17.0, 23.0, 30.0)
"""Bucket edges in seconds: <5, 5-8, 8-12, 12-17, 17-23, 23-30, >=30 (7 buckets)."""


def duration_bucket(duration_ms: float) -> int:
    """Index of the duration bucket for a clip length (negative or NaN lengths fall in bucket 0)."""
    s = duration_ms / 1000.0 if math.isfinite(duration_ms) else 0.0
    return bisect.bisect_right(DURATION_EDGES_S, s)  # the first edge above s (len(edges) past the last)


def bucket_label(i: int) -> str:
    edges = (0.0, *DURATION_EDGES_S)
    if i >= len(DURATION_EDGES_S):
        return f">={DURATION_EDGES_S[-1]:g}s"
    return f"{edges[i]:g}-{edges[i + 1]:g}s"


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


class FeatureSpace:
    """Rows = clips (in arrival order), columns = labelled features. Grows, never shrinks."""

    def __init__(self, clips: Iterable[Clip] = (), *, creator_slots: int = 32) -> None:
        if creator_slots < 1:
            raise ValueError(f"creator_slots must be 1 or more, not {creator_slots}")
        self.creator_slots = creator_slots
        self.labels: list[str] = ["bias"] + [f"duration:{bucket_label(i)}" for i in range(len(DURATION_EDGES_S) + 1)]
        self.clips: list[Clip] = []
        self.n = 0  # rows: len(clips)
        self.row_of: dict[str, int] = {}
        self.topic_col: dict[str, int] = {}  # topic -> column in X
        self.topic_index: dict[str, int] = {}  # topic -> column in the topic matrix T
        self.topics: list[str] = []
        self.creator_index: dict[str, int] = {}  # creator -> dense id (every creator, for fatigue/floor)
        self.creators: list[str] = []
        self.creator_col: dict[str, int] = {}  # creator -> column in X (one-hot slot or hashed slot)
        self._slot_cols: list[int] = []  # the creator_slots columns, once created
        self.visual_cols: list[int] = []
        self._cap_n = 0
        self._cap_d = 0
        self._X = np.zeros((0, 0), dtype=np.float32)
        self._T = np.zeros((0, 0), dtype=np.float32)
        self.creator_of = _read_only(np.zeros(0, dtype=np.int64))
        self.duration_ms = _read_only(np.zeros(0, dtype=np.float64))
        self.created_rank = _read_only(np.zeros(0, dtype=np.float64))  # 0 oldest .. 1 newest, "" counts as oldest
        self._raw_visual: list[np.ndarray] = []
        self._listeners: list = []
        self._X2: np.ndarray | None = None
        self._T64: np.ndarray | None = None
        self._Xv: np.ndarray | None = None  # the read-only views X and T hand out, made once per growth
        self._Tv: np.ndarray | None = None
        self._topic_masks: dict[frozenset[int], np.ndarray] = {}
        self.row_topics: list[frozenset[int]] = []  # per row: its topics' columns in T (for the policy's rules)
        self.add(clips)

    # -- shape ------------------------------------------------------------------------------------
    # ``n``, the number of rows (``len(clips)``), is a plain attribute kept by ``add``: the policy and the
    # engine read it several times per decision, and a property call costs more than the read

    @property
    def d(self) -> int:
        return len(self.labels)

    # Every array a ranker can read is read-only: the space is shared by every ranker of an engine (and
    # by the policy), so a plugin that wrote into ``X`` or ``T`` in place would silently change what the
    # others, the policy's rules and the logged propensities see in-process (simulate, replay), while in
    # the app its worker only changed its own copy. Writing raises ``ValueError: assignment destination
    # is read-only`` at the plugin's line instead; copy an array (``space.X.copy()``) to change it.

    @property
    def X(self) -> np.ndarray:
        """The feature matrix (n x d, float32, read-only); a view, valid until the next growth."""
        if self._Xv is None:
            self._Xv = _read_only(self._X[: self.n, : self.d])
        return self._Xv

    @property
    def X2(self) -> np.ndarray:
        """``X * X`` (for uncertainty bonuses), computed once per growth and shared by all rankers."""
        if self._X2 is None or self._X2.shape != (self.n, self.d):
            X = self.X
            self._X2 = _read_only(X * X)
        return self._X2

    @property
    def T(self) -> np.ndarray:
        """Topic membership (n x number of topics, 0/1 float32, read-only) for diversity and fatigue."""
        if self._Tv is None:
            self._Tv = _read_only(self._T[: self.n, : len(self.topics)])
        return self._Tv

    @property
    def T64(self) -> np.ndarray:
        """``T`` as float64 (exact: 0 and 1), made once per growth: the policy's fatigue products take
        float64 operands, and numpy would otherwise convert the float32 rows on every decision."""
        if self._T64 is None or self._T64.shape != (self.n, len(self.topics)):
            self._T64 = _read_only(self.T.astype(np.float64))
        return self._T64

    def topic_rows(self, topics: frozenset[int]) -> np.ndarray:
        """Bool per row: the row has one of ``topics`` (columns of ``T``); cached until the next growth
        (do not modify)."""
        mask = self._topic_masks.get(topics)
        if mask is None:
            mask = _read_only(self.T[:, sorted(topics)].max(axis=1) > 0)
            if (len(self._topic_masks) + 1) * self.n <= 1 << 25:  # at most 32 MB of masks
                self._topic_masks[topics] = mask
        return mask

    def on_grow(self, listener) -> None:
        """Call ``listener(old_d, new_d, old_n, new_n)`` after rows or columns were added."""
        self._listeners.append(listener)

    def off_grow(self, listener) -> None:
        """Stop calling ``listener`` (added by ``on_grow``; nothing happens if it is not there)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def row(self, clip: Clip | str) -> int:
        return self.row_of[clip if isinstance(clip, str) else clip.id]

    # -- growing ----------------------------------------------------------------------------------
    def _ensure(self, n: int, d: int) -> None:
        if n <= self._cap_n and d <= self._cap_d and len(self.topics) <= self._T.shape[1]:
            return  # (a ninth topic arriving with the catalog's growth needs a wider T even when X has room)
        cap_n = max(n, self._cap_n * 2 if n > self._cap_n else self._cap_n, 16)
        cap_d = max(d, self._cap_d * 2 if d > self._cap_d else self._cap_d, 16)
        X = np.zeros((cap_n, cap_d), dtype=np.float32)
        X[: self._X.shape[0], : self._X.shape[1]] = self._X
        self._X = X
        nt = max(len(self.topics), 1)
        cap_t = max(self._T.shape[1], 8)
        while cap_t < nt:
            cap_t *= 2
        T = np.zeros((cap_n, cap_t), dtype=np.float32)
        T[: self._T.shape[0], : self._T.shape[1]] = self._T
        self._T = T
        self._cap_n, self._cap_d = cap_n, cap_d

    def _new_col(self, label: str) -> int:
        self.labels.append(label)
        return len(self.labels) - 1

    def _creator_column(self, creator: str) -> int:
        col = self.creator_col.get(creator)
        if col is not None:
            return col
        if len(self._slot_cols) < self.creator_slots:
            col = self._new_col(f"creator:{creator}")
            self._slot_cols.append(col)
        else:  # past the one-hot budget: share a slot through a stable hash
            col = self._slot_cols[_stable_hash(creator) % self.creator_slots]
        self.creator_col[creator] = col
        return col

    def add(self, clips: Iterable[Clip]) -> int:
        """Add clips not seen before (by id); return how many were added."""
        new = [c for c in clips if c.id not in self.row_of]
        uniq: dict[str, Clip] = {}
        for c in new:
            uniq.setdefault(c.id, c)
        new = list(uniq.values())
        if not new:
            return 0
        old_n, old_d = self.n, self.d
        for c in new:  # vocabularies first, so the matrix is sized once
            for t in c.topics:
                if t not in self.topic_col:
                    self.topic_col[t] = self._new_col(f"topic:{t}")
                    self.topic_index[t] = len(self.topics)
                    self.topics.append(t)
            if c.creator not in self.creator_index:
                self.creator_index[c.creator] = len(self.creators)
                self.creators.append(c.creator)
                self._creator_column(c.creator)
            if c.features and not self.visual_cols:
                self.visual_cols = [self._new_col(f"visual:{i}") for i in range(len(c.features))]
        n = old_n + len(new)
        self._ensure(n, self.d)
        X, T = self._X, self._T
        creator_of = np.empty(len(new), dtype=np.int64)
        durations = np.empty(len(new), dtype=np.float64)
        for k, c in enumerate(new):
            r = old_n + k
            self.row_of[c.id] = r
            self.clips.append(c)
            X[r, 0] = 1.0
            X[r, 1 + duration_bucket(float(c.duration_ms))] = 1.0
            topics = list(dict.fromkeys(c.topics))
            if topics:
                w = 1.0 / math.sqrt(len(topics))
                for t in topics:
                    X[r, self.topic_col[t]] = w
                    T[r, self.topic_index[t]] = 1.0
            self.row_topics.append(frozenset(self.topic_index[t] for t in topics))
            X[r, self.creator_col[c.creator]] = 1.0
            creator_of[k] = self.creator_index[c.creator]
            durations[k] = float(c.duration_ms) if math.isfinite(c.duration_ms) and c.duration_ms > 0 else 0.0
            self._raw_visual.append(self._raw(c.features))
        self.n = len(self.clips)
        self.creator_of = _read_only(np.concatenate([self.creator_of, creator_of]))
        self.duration_ms = _read_only(np.concatenate([self.duration_ms, durations]))
        self._Xv = self._Tv = None
        self._restandardise_visual()
        self._rank_created()
        self._X2 = self._T64 = None
        self._topic_masks = {}
        for listener in list(self._listeners):
            listener(old_d, self.d, old_n, self.n)
        return len(new)

    def _raw(self, features: Sequence[float]) -> np.ndarray:
        v = len(self.visual_cols)
        out = np.full(v, np.nan)
        vals = []
        for f in list(features)[:v]:
            try:
                vals.append(float(f))
            except (TypeError, ValueError):
                vals.append(math.nan)
        out[: len(vals)] = vals
        out[~np.isfinite(out)] = np.nan
        return out

    def _restandardise_visual(self) -> None:
        """Standardise the visual block over the whole catalog (recomputed as the catalog grows)."""
        v = len(self.visual_cols)
        if not v:
            return
        raw = np.full((len(self._raw_visual), v), np.nan)
        for i, r in enumerate(self._raw_visual):  # rows from before the visual block existed stay NaN
            raw[i, : min(v, r.shape[0])] = r[:v]
        raw = np.clip(raw, -1e9, 1e9)  # absurd magnitudes would overflow the variance (NaN stays NaN)
        with np.errstate(all="ignore"):
            finite = np.isfinite(raw)
            cnt = finite.sum(axis=0)
            mean = np.where(cnt > 0, np.nansum(raw, axis=0) / np.maximum(cnt, 1), 0.0)
            var = np.where(cnt > 0, np.nansum((raw - mean) ** 2, axis=0) / np.maximum(cnt, 1), 0.0)
            std = np.sqrt(var)
            z = np.where(finite, (raw - mean) / np.where(std > 1e-12, std, 1.0), 0.0)
        z = np.clip(np.nan_to_num(z, nan=0.0, posinf=3.0, neginf=-3.0), -3.0, 3.0) * (1.0 / (3.0 * math.sqrt(v)))
        self._X[: self.n, self.visual_cols[0] : self.visual_cols[0] + v] = z.astype(np.float32)

    def _rank_created(self) -> None:
        keys = [(c.created or "", i) for i, c in enumerate(self.clips)]
        order = sorted(range(len(keys)), key=lambda i: keys[i])
        rank = np.empty(len(keys), dtype=np.float64)
        rank[order] = np.arange(len(keys), dtype=np.float64)
        self.created_rank = _read_only(rank / max(len(keys) - 1, 1))

    # -- reading ----------------------------------------------------------------------------------
    def vector(self, clip: Clip | str) -> np.ndarray:
        return self.X[self.row(clip)].copy()

    def clip_topic_ids(self, row: int) -> list[int]:
        return [self.topic_index[t] for t in dict.fromkeys(self.clips[row].topics)]
