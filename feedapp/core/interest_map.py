"""The interest map: a 2D picture of the catalog and of where the viewer's taste sits in it. Qt-free.

Clips: a PCA projection (numpy: eigenvectors of the d x d scatter matrix, the same axes an SVD
gives, at a cost linear in the number of clips) of the rows of the engine's feature matrix (``FeatureSpace.X``),
restricted to the columns that describe *content*: topics and visual features (``topic:*`` and
``visual:*``; bias, duration buckets and creator slots are left out, or clips would spread by
creator and length rather than by what they show). When a catalog has no such columns, all columns
are used. The two blocks are weighted to the same total variance before the PCA (topics and look
count equally): unweighted, the topic one-hots outweigh the visual block about 8 to 1 and every
topic collapses onto a single spot; weighted, clips of a topic still form a group (on the demo
catalog the mean distance to their topic's centre is about 7% of the spread of the whole map) and
clips that look alike sit close within it. Components get a fixed sign (largest loading positive) so the map does not flip between
runs, and the coordinates are scaled together (aspect kept) into [-1, 1].

Fitting uses at most ``max_fit_rows`` rows (an evenly spaced, deterministic subset) so a catalog of
100k clips projects in well under a second; every row is then projected.

The profile point (what "you" are on the map) is defined as the **reward-weighted, recency-decayed
mean of the projected positions of the clips viewed**: after views ``1..N`` with rewards ``r_i``,
``point = sum w_i c_i / sum w_i`` with ``w_i = decay^(N-i) * max(r_i, 0)``. Views with a reward of
0 or less do not pull the point; before the first positive reward there is no point (``None``).
It is computed incrementally (``S <- decay S + w c``, ``W <- decay W + w``), one step per view,
which also gives the trail: the point after each view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Projection:
    coords: np.ndarray  # (n, 2) float64 in [-1, 1], one row per feature-space row
    columns: tuple[int, ...]  # the feature columns used
    weights: np.ndarray  # (len(columns),) block weight of each column
    mean: np.ndarray  # (len(columns),) centre of the fitted (weighted) rows
    components: np.ndarray  # (len(columns), 2) principal directions (unit vectors)
    scale: float  # coords = (X[:, columns] * weights - mean) @ components / scale
    explained: tuple[float, float]  # share of the variance each axis explains (0..1)

    @property
    def n(self) -> int:
        return int(self.coords.shape[0])

    def project(self, X: np.ndarray) -> np.ndarray:
        """Project more rows (full feature width) with the fitted projection."""
        Z = (np.asarray(X, dtype=np.float64)[:, list(self.columns)] * self.weights - self.mean) @ self.components
        return Z / self.scale


def content_columns(labels: Sequence[str]) -> list[int]:
    cols = [j for j, lab in enumerate(labels) if lab.startswith("topic:") or lab.startswith("visual:")]
    return cols or list(range(len(labels)))


def fit(X: np.ndarray, labels: Sequence[str], *, max_fit_rows: int = 5000) -> Projection:
    """PCA of the content columns of ``X`` (n x d) into 2D (see the module docstring)."""
    X = np.asarray(X)
    n = X.shape[0]
    cols = content_columns(labels) if X.shape[1] else []
    d = len(cols)
    if n == 0 or d == 0:
        return Projection(np.zeros((n, 2)), tuple(cols), np.ones(d), np.zeros(d), np.zeros((d, 2)), 1.0, (0.0, 0.0))
    A = X[:, cols].astype(np.float64)
    sample = np.linspace(0, n - 1, max_fit_rows).astype(np.int64) if n > max_fit_rows else None
    # each block (topic:*, visual:*, or all columns) weighted to a total variance of 1
    weights = np.ones(d)
    block_of = [str(labels[j]).split(":", 1)[0] if ":" in str(labels[j]) else "" for j in cols]
    fit_raw = A if sample is None else A[sample]
    for block in set(block_of):
        idx = [i for i, b in enumerate(block_of) if b == block]
        var = float(fit_raw[:, idx].var(axis=0).sum())
        if var > 1e-12:
            weights[idx] = 1.0 / np.sqrt(var)
    A = A * weights
    fit_rows = A if sample is None else A[sample]
    mean = fit_rows.mean(axis=0)
    C = fit_rows - mean
    # eigenvectors of the d x d scatter matrix: cheap for any n (d is small), the same axes as an SVD
    scatter = C.T @ C
    vals, vecs = np.linalg.eigh(scatter)
    order = np.argsort(-vals, kind="stable")[:2]
    comps = np.zeros((d, 2))
    comps[:, : order.size] = vecs[:, order]
    for k in range(2):  # a fixed sign: the largest loading is positive
        j = int(np.argmax(np.abs(comps[:, k])))
        if comps[j, k] < 0:
            comps[:, k] = -comps[:, k]
    total = float(np.clip(vals, 0, None).sum())
    explained = tuple(float(max(vals[i], 0.0) / total) if total > 0 and i < vals.size else 0.0 for i in order)
    explained = (explained + (0.0, 0.0))[:2]
    Z = (A - mean) @ comps
    scale = float(np.abs(Z).max()) if Z.size else 0.0
    scale = scale if scale > 1e-12 else 1.0
    return Projection(Z / scale, tuple(cols), weights, mean, comps, scale, (explained[0], explained[1]))


@dataclass
class ProfileTrail:
    """The profile point after each view (reward-weighted, recency-decayed mean of viewed positions)."""

    decay: float = 0.97
    points: list[tuple[float, float] | None] = field(default_factory=list)
    _s: np.ndarray = field(default_factory=lambda: np.zeros(2))
    _w: float = 0.0

    def add(self, xy: np.ndarray | Sequence[float], reward: float) -> tuple[float, float] | None:
        w = max(float(reward), 0.0)
        self._s = self.decay * self._s + w * np.asarray(xy, dtype=np.float64)
        self._w = self.decay * self._w + w
        p = (float(self._s[0] / self._w), float(self._s[1] / self._w)) if self._w > 1e-12 else None
        self.points.append(p)
        return p

    @property
    def point(self) -> tuple[float, float] | None:
        return self.points[-1] if self.points else None

    def reset(self) -> None:
        self.points.clear()
        self._s = np.zeros(2)
        self._w = 0.0


class InterestMap:
    """Keeps a projection of a growing feature space and the profile trail over a list of views.

    ``sync(space, view_rows, rewards)`` refits when the space grew (new rows or columns) and extends
    the trail with the views it has not seen (it restarts the trail when the views list got shorter,
    e.g. after a refresh, or when the projection was refitted). Returns True when anything changed.
    """

    def __init__(self, decay: float = 0.97, max_fit_rows: int = 5000) -> None:
        self.decay = decay
        self.max_fit_rows = max_fit_rows
        self.projection: Projection | None = None
        self.trail = ProfileTrail(decay)
        self._shape = (-1, -1)
        self._rows: list[int] = []
        self.version = 0  # bumps when the projection is refitted (the dot layer must be redrawn)

    def sync(self, space, view_rows: Sequence[int], rewards: Sequence[float]) -> bool:  # noqa: ANN001 - FeatureSpace
        changed = False
        shape = (space.n, space.d)
        if shape != self._shape:
            self.projection = fit(space.X, space.labels, max_fit_rows=self.max_fit_rows)
            self._shape = shape
            self.version += 1
            self.trail.reset()
            self._rows = []
            changed = True
        if len(view_rows) < len(self._rows) or list(view_rows[: len(self._rows)]) != self._rows:
            self.trail.reset()
            self._rows = []
            changed = True
        assert self.projection is not None
        coords = self.projection.coords
        for row, r in zip(view_rows[len(self._rows) :], rewards[len(self._rows) :]):
            self.trail.add(coords[row], r)
            self._rows.append(int(row))
            changed = True
        return changed

    @property
    def point(self) -> tuple[float, float] | None:
        return self.trail.point
