"""``foryou``: an online Bayesian linear model of reward, with optimism for what it is unsure of.

Why this learner: a linear model over (topics, creator, duration bucket, visual features) learns
from a handful of views, its weights read as a taste profile, and an update costs O(d^2)
(d ~ 30-150), independent of the catalog size.

It is Bayesian linear regression in recursive (Kalman filter) form, with weights that may drift:
the posterior is N(mean, P). Before each view the weights relax towards the prior,
``mean <- decay * mean`` and ``P <- decay^2 * P + (1 - decay^2) * prior_var * I`` (``decay`` < 1
forgets old views, so a taste that changes is followed, and features never seen keep exactly the
prior's uncertainty); then the view's reward updates them with the usual rank-one step
(``k = P x / (noise + x'P x)``, ``mean += k (reward - x'mean)``, ``P -= k x'P``). No matrix is ever
inverted, which matters at ~50 us per small ``numpy.linalg.inv`` call.

Two refinements (issue 11), both in the same Kalman step:

- *Creators have their own affinity table*, one (mean, variance) per creator however many there
  are, instead of the feature space's creator columns (one-hot for the first 32 creators, hashed
  slots shared by the rest, so two creators could alias). The creator columns are left out of the
  linear part; a view updates its creator's entry jointly with the weights (the cross-covariance
  between the two is not kept), and the entry relaxes towards the prior like the weights do.
- *Fans are not held back*: a creator whose affinity minus one standard deviation is above
  ``fan_margin`` is named by ``liked_creators``, and the policy spares it the creator fatigue.
- *Duration buckets are shrunk*: their prior precision is ``duration_shrink`` times the others', so
  a length preference needs ``duration_shrink`` times the evidence before it moves the feed as much
  as a topic does. The reward already corrects watch time for length (``reward.py``); without the
  shrink, viewers who finish every short clip got a feed of short clips whatever their topic.
- *How fast the average is learned* is ``bias_shrink``: the bias weight's prior precision is that
  many times the others'. Each view's surprise is shared between the columns in proportion to their
  variances; with an equal prior (1, the default) the bias takes a large share of every skip, so a
  topic tried once and skipped stays near "average", barely below one never tried, and a view merely
  less bad than the skips makes its topic look liked: in a big catalog the search goes back to the
  same topics. 10 fixes that (10k clips, one-topic viewers' watch time over the oracle's +0.11,
  switchers recovered sooner on the demos and 1k) but costs viewers of several topics and fans
  0.03-0.04 of watch time on 1k and 10k clips (several topics' liked share after 20 views more:
  0.82 -> 0.69 on 1k), so it is not the default (``docs/benchmarks.md``, "The average reward learned
  slowly").

- *A changed taste is forgotten faster*: the shortfall of each view's reward below its prediction,
  in the prediction's standard deviations, is averaged over recent views (weight ``SHIFT_MEMORY`` on
  the older ones); when the average falls below ``-shift_threshold`` the model relaxes once more,
  keeping only ``shift_keep`` of what it learned, so the old favourites stop dominating and the
  uncertainty bonus sends it looking for the new ones. A viewer whose taste holds rarely falls that
  far short for several views in a row (simulated viewers of stable kinds: the same feed as
  without it); one who switched topics at view 50 was recovered in about 16 (demo) and 26 (1k clips)
  views instead of 16-22 and 33-40 (``docs/benchmarks.md``).

- *A topic's bonus comes from its own views* (``topic_counts`` 1, the default since 2026-12-01): in
  the shared posterior a skip lowered its topic's variance by about a quarter (the bias, the creator
  and the noise share the view), so on 10k clips with 50 topics a topic tried once and skipped kept
  nearly the bonus of one never tried and the search went back to it. Now a topic's standard
  deviation is ``1 / sqrt(1 / prior + n / noise)``, ``n`` its views (the squared topic feature summed,
  relaxed as the weights are): one view takes an untried topic's 1 to 0.71. The clip's topics add
  theirs (``x . sd``): a clip of two untried topics tests both. On 10k clips the liked share after 20
  views rose for one-topic viewers 0.335 -> 0.515, several topics 0.637 -> 0.707, switchers 0.327 ->
  0.485; on the smaller catalogs short-clip lovers' rose (1k 0.49 -> 0.66, 288 clips 0.63 -> 0.73)
  and the rest stayed within noise (``docs/benchmarks.md``, "The uncertainty bonus per topic").
  ``topic_counts`` 0 is the bonus before it; sessions logged before it existed replay with 0.

Score = posterior mean reward *relative to a typical clip* + ``optimism`` * posterior standard
deviation (LinUCB). The bias weight (the viewer's average reward: it falls when a small catalog
serves repeats, which are watched less) is learned but left out of the score: a constant changes no
decision of the policy (argmax, softmax, shortlist and cuts are all unchanged by it), and without it a
clip the viewer likes does not show a negative score in Up next just because every recent view was
watched less. The standard
deviation uses the diagonal of ``P`` (``sqrt(x^2 . diag(P))``), exact for one-hot blocks and one
matrix-vector product for the whole catalog; with ``topic_counts`` the topic columns' part is replaced
by ``(x . sd)^2`` as above (a gather per row, a short sum for clips of several topics). Scores are deterministic given the views, so the
policy's propensities are exact (Thompson sampling would need Monte Carlo to log them).
"""

from __future__ import annotations

import numpy as np

from feedapp.core.model import Clip
from feedapp.core.rankers.base import BaseRanker, Param
from feedapp.core.rankers.rng import Rng


class ForYouRanker(BaseRanker):
    name = "foryou"
    description = "learns your taste from every view (Bayesian linear model, optimistic exploration)"
    is_learner = True
    own_params = (
        Param("decay", 0.99, 0.5, 1.0, "weight kept by past views at each new view (1 = never forget)"),
        Param("prior_precision", 1.0, 0.001, 1000.0, "strength of the prior that every weight is 0"),
        Param("noise", 1.0, 0.01, 100.0, "expected noise of one view's reward (higher = learn slower)"),
        # 0.3, not 0.1: with 50 topics and 2,000 creators a one-topic viewer's topic was found too late (10k
        # clips: liked share after 20 views 0.18 -> 0.23, watch time +40 %); small catalogs stay the same
        Param("optimism", 0.3, 0.0, 5.0, "bonus per unit of uncertainty (exploration of the unknown)"),
        Param("duration_shrink", 10.0, 1.0, 1000.0, "prior strength of clip-length weights relative to the others "
              "(higher = length moves the feed less)"),
        Param("bias_shrink", 1.0, 1.0, 1000.0, "prior strength of the average-reward weight relative to the "
              "others (higher = a skip says more about the clip's topic and creator: big catalogs)"),
        Param("fan_margin", 0.2, 0.0, 5.0, "a creator whose affinity minus one standard deviation is above this "
              "is one you like: no creator fatigue for it"),
        Param("shift_keep", 0.6, 0.0, 1.0, "when recent views keep falling short of what it predicted (a taste "
              "changed), keep this share of what it learned (1 = never forget faster)"),
        Param("shift_threshold", 0.7, 0.1, 5.0, "how far below its predictions the recent views must fall, in "
              "standard deviations, before it forgets faster"),
        Param("topic_counts", 1, 0, 1, "1 = a topic's uncertainty bonus shrinks with the views it had (an untried "
              "topic stays clearly above one tried and skipped); 0 = from the shared posterior", kind="int"),
    )
    params_before = {"shift_keep": 1.0, "topic_counts": 0}  # sessions logged before these existed
    SHIFT_MEMORY = 0.6  # the shortfall is averaged over recent views with this weight on the older ones

    def __init__(self, seed: int = 0, **params: object) -> None:
        super().__init__(seed, **params)
        self._mean = np.zeros(0)
        self._P = np.zeros((0, 0))
        self._mean32 = np.zeros(0, dtype=np.float32)
        self._var32 = np.zeros(0, dtype=np.float32)
        self._keep = np.zeros(0)  # 1 for the columns of the linear part, 0 for the creator columns
        self._prior_var = np.zeros(0)  # per column
        self._topic = np.zeros(0, dtype=bool)  # per column: a topic column
        self._n = np.zeros(0)  # per column: views it had (the squared feature summed), relaxed as the weights are
        self._rows_topic: tuple[np.ndarray, ...] | None = None  # (``_topic_rows``, until growth)
        self._cm = np.zeros(0)  # per creator (the space's dense creator ids): affinity mean
        self._cv = np.zeros(0)  # and variance
        self._prior_key: tuple | None = None
        self._relax: tuple[tuple, np.ndarray] | None = None  # ((decay, prior key), (1 - decay^2) * prior variances)
        self._x: dict[int, np.ndarray] = {}  # row -> its features as the linear part reads them (until growth)
        self._diag: np.ndarray | None = None  # P's diagonal, a view (``_diagonal``)
        self.views = 0
        self._shortfall = 0.0  # recent views' reward below prediction, in standard deviations (averaged)
        self.shifts = 0  # times it forgot faster (a taste change was detected)

    def _column_prior(self, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
        self._topic = np.array([lab.startswith("topic:") for lab in labels], dtype=bool)
        base = 1.0 / float(self.params["prior_precision"])
        keep = np.array([0.0 if lab.startswith("creator:") else 1.0 for lab in labels])
        dur, bias = float(self.params["duration_shrink"]), float(self.params["bias_shrink"])
        pv = np.array([base / dur if lab.startswith("duration:") else base / bias if lab == "bias" else base
                       for lab in labels]) * keep
        return keep, pv

    def _priors(self) -> np.ndarray:
        """The per-column prior variances under the current parameters (they may change live)."""
        key = (float(self.params["prior_precision"]), float(self.params["duration_shrink"]),
               float(self.params["bias_shrink"]), self._mean.size)
        if key != self._prior_key:
            assert self.space is not None
            self._keep, self._prior_var = self._column_prior(self.space.labels[: self._mean.size])
            self._prior_key = key
        return self._prior_var

    def _space_did_grow(self, old_d: int, new_d: int, old_n: int, new_n: int) -> None:
        space = self.space
        assert space is not None
        self._x = {}
        self._rows_topic = None
        d0 = self._mean.size
        if new_d > d0:
            self._prior_key = None
            P = np.zeros((new_d, new_d))
            mean = np.zeros(new_d)
            mean[:d0] = self._mean
            self._mean = mean
            n = np.zeros(new_d)
            n[:d0] = self._n[:d0]
            self._n = n
            P[np.arange(new_d), np.arange(new_d)] = self._priors()
            P[:d0, :d0] = self._P
            self._P = P
        k0 = self._cm.size
        if len(space.creators) > k0:
            k = len(space.creators)
            self._cm = np.concatenate([self._cm, np.zeros(k - k0)])
            self._cv = np.concatenate([self._cv, np.full(k - k0, 1.0 / float(self.params["prior_precision"]))])
        self._refresh()

    def _diagonal(self) -> np.ndarray | None:
        """``P``'s diagonal as a writable strided view (3x cheaper than ``.flat``), kept until ``P`` is
        replaced (by growth); None if ``P`` is not C-contiguous."""
        P, diag = self._P, self._diag
        if diag is None or diag.base is not P:  # (a copied ranker's copy of the view is no view of its P)
            diag = self._diag = P.reshape(-1)[:: P.shape[0] + 1] if P.flags.c_contiguous else None
        return diag

    def _refresh(self) -> None:
        self._mean32 = self._mean.astype(np.float32)
        diag = self._diagonal()
        self._var32 = np.maximum(self._P.diagonal() if diag is None else diag, 0.0).astype(np.float32)

    def learn_one(self, clip: Clip, reward: float) -> None:
        space = self.space
        row = space.row_of.get(clip.id) if space is not None else None
        if row is None:  # a clip the space does not hold yet (plain use, without an engine)
            space = self._ensure_space([clip])
            row = space.row(clip)
        x = self._x.get(row)
        if x is None:
            x = space.X[row].astype(np.float64) * self._keep
            if self._keep.size == x.size:
                self._x[row] = x
        c = int(space.creator_of[row])
        g = float(self.params["decay"])
        if g < 1.0:  # relax towards the prior: old views count less
            self._relax_by(g, self._relax_add(g))
        Px, vc, s, err = self._innovation(x, c, reward)
        keep = float(self.params["shift_keep"])
        if keep < 1.0:  # a taste that changed: the views keep falling short of the predictions
            m = self.SHIFT_MEMORY
            self._shortfall = m * self._shortfall + (1.0 - m) * err * s ** 0.5  # (reward - predicted) / its sd
            if self._shortfall < -float(self.params["shift_threshold"]):
                self._shortfall = 0.0
                self.shifts += 1
                self._relax_by(keep, (1.0 - keep * keep) * self._priors())  # forget faster, once
                Px, vc, s, err = self._innovation(x, c, reward)
        self._n += x * x
        self._mean += Px * err
        self._P -= np.multiply.outer(Px, Px / s)  # = np.outer(Px, Px / s), without its wrapper's cost
        self._cm[c] += vc * err
        self._cv[c] -= vc * vc / s
        self._refresh()
        self.views += 1

    def _innovation(self, x: np.ndarray, c: int, reward: float) -> tuple[np.ndarray, float, float, float]:
        """The Kalman step's parts for a view of features ``x`` and creator ``c``: ``P x``, the creator's
        variance, the predicted reward's variance ``s`` (noise included) and ``(reward - predicted) / s``."""
        Px = self._P.dot(x)  # (ndarray.dot: the same BLAS products as @, without matmul's dispatch)
        vc = float(self._cv[c])
        s = float(self.params["noise"]) + float(x.dot(Px)) + vc
        return Px, vc, s, (reward - float(x.dot(self._mean)) - float(self._cm[c])) / s

    def _relax_by(self, g: float, add: np.ndarray) -> None:
        """Relax towards the prior, keeping the share ``g`` of what was learned (``add``: ``_relax_add(g)``)."""
        self._mean *= g
        self._n *= g * g
        self._P *= g * g
        diag = self._diagonal()
        if diag is not None:
            diag += add
        else:
            self._P.flat[:: self._P.shape[0] + 1] += add
        self._cm *= g
        self._cv *= g * g
        self._cv += (1.0 - g * g) / float(self.params["prior_precision"])

    def _relax_add(self, g: float) -> np.ndarray:
        """``(1 - g^2) * prior variances``: what relaxing adds to P's diagonal (kept until decay or priors change)."""
        pv = self._priors()
        key = (g, self._prior_key)
        if self._relax is None or self._relax[0] != key:
            self._relax = (key, (1.0 - g * g) * pv)
        return self._relax[1]

    def _topic_parts(self) -> tuple[np.ndarray, np.ndarray] | None:
        """For the bonus with ``topic_counts`` 1: each topic column's standard deviation from the views it
        had (``1 / sqrt(1 / prior + views / noise)``, 0 in the other columns) and the other columns' posterior
        variances (0 in the topic columns); None with ``topic_counts`` 0."""
        if not int(self.params["topic_counts"]) or not self._mean32.size:
            return None
        pv = self._priors()
        t = self._topic
        var_t = np.zeros(t.size)
        var_t[t] = 1.0 / (1.0 / pv[t] + self._n[t] / float(self.params["noise"]))
        return np.sqrt(var_t).astype(np.float32), np.where(t, np.float32(0), self._var32)

    def _topic_rows(self) -> tuple[np.ndarray, ...]:
        """Per row, the column of its topic if it has exactly one (its feature is then 1), else -1; and the
        other rows' topic entries as (row, column, feature). The topics' part of the bonus is then a gather
        and a short sum (a matrix-vector product over every row cost 2 ms of the 8 at 100k clips, and
        over the rows of several topics alone 3 ms: it copies them)."""
        if self._rows_topic is None:
            space = self.space
            assert space is not None
            cols = np.flatnonzero(self._topic)
            Xt = space.X[:, cols]
            has = Xt > 0
            count = has.sum(axis=1)
            single = np.where(count == 1, cols[np.argmax(has, axis=1)] if cols.size else -1, -1)
            rows, j = np.nonzero(has & (count > 1)[:, None])
            self._rows_topic = (single, rows, cols[j], Xt[rows, j])
        return self._rows_topic

    def _topics_sd(self, sd_t: np.ndarray) -> np.ndarray:
        """Every row's ``x . sd_t`` (its topics' standard deviations, weighted by its topic features)."""
        single, rows, cols, w = self._topic_rows()
        out = np.append(sd_t, np.float32(0))[single]  # (-1: the appended 0)
        if rows.size:
            out += np.bincount(rows, weights=w * sd_t[cols], minlength=out.size).astype(np.float32)
        return out

    def scores(self, rng: Rng) -> np.ndarray:
        space = self.space
        assert space is not None, "bind the ranker to a feature space first"
        X = space.X
        cof = space.creator_of
        a = float(self.params["optimism"])
        s = X @ self._mean32 + self._cm[cof]
        if self._mean32.size:  # relative to the typical clip: the bias column is 1 in every row
            s -= self._mean32[0]
        parts = self._topic_parts() if a > 0 else None
        if parts is not None:
            s = s + a * np.sqrt(np.square(self._topics_sd(parts[0])) + space.X2 @ parts[1] + self._cv[cof])
        elif a > 0:
            s = s + a * np.sqrt(space.X2 @ self._var32 + self._cv[cof])
        return s if s.dtype == np.float64 else s.astype(np.float64)  # (a new array either way)

    def bonus(self, row: int) -> float:
        """The uncertainty bonus in ``row``'s score (``optimism`` times its standard deviation, as ``scores``)."""
        space = self.space
        assert space is not None
        a = float(self.params["optimism"])
        if a <= 0 or not self._mean32.size:
            return 0.0
        x, c = space.X[row], int(space.creator_of[row])
        parts = self._topic_parts()
        if parts is None:
            return a * float(np.sqrt((x * x) @ self._var32 + self._cv[c]))
        return a * float(np.sqrt(float(x @ parts[0]) ** 2 + (x * x) @ parts[1] + self._cv[c]))

    def liked_creators(self) -> np.ndarray:
        """One bool per creator (the space's creator ids): liked beyond doubt (affinity - 1 sd > ``fan_margin``),
        so the policy's creator fatigue spares it."""
        return (self._cm - np.sqrt(np.maximum(self._cv, 0.0))) > float(self.params["fan_margin"])

    def weights(self) -> dict[str, float]:
        """Posterior mean weight per labelled feature column, and each creator's affinity as
        ``creator:<name>`` (the learner's view of your taste)."""
        assert self.space is not None
        out = {lab: float(w) for lab, w, k in zip(self.space.labels, self._mean32, self._keep) if k}
        out.update({f"creator:{name}": float(m) for name, m in zip(self.space.creators, self._cm)})
        return out

    def explain(self, row: int) -> tuple[str, ...]:
        space = self.space
        if space is None or space.d == 0:
            return ()
        x = space.X[row]
        contrib = x * self._mean32
        c = int(space.creator_of[row])
        labels = [*space.labels, f"creator:{space.creators[c]}"]
        contrib = np.append(contrib, np.float32(self._cm[c]))
        out = []
        for j in np.argsort(-np.abs(contrib), kind="stable")[:3]:
            if abs(contrib[j]) >= 0.01 and labels[j] != "bias":
                out.append(f"{labels[j]} {contrib[j]:+.2f}")
        if float(self.params["optimism"]) > 0:
            bonus = self.bonus(row)
            if bonus >= 0.01:
                out.append(f"uncertainty +{bonus:.2f}")
        return tuple(out)
