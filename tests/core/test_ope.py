"""Off-policy estimators against a synthetic bandit whose target value is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from feedapp.core.ope import RidgeRewardModel, cross_fit, estimate, mean_ci


def softmax(a: np.ndarray, t: float) -> np.ndarray:
    e = np.exp((a - a.max(axis=-1, keepdims=True)) / t)
    return e / e.sum(axis=-1, keepdims=True)


class Bandit:
    """C contexts (uniform), K actions, Bernoulli rewards with means mu[x, a]; two known policies."""

    def __init__(self, seed: int = 0, C: int = 6, K: int = 10) -> None:
        g = np.random.default_rng(seed)
        self.C, self.K = C, K
        self.mu = g.uniform(0.05, 0.95, size=(C, K))
        self.logging = softmax(g.normal(size=(C, K)), 1.0)  # the logger explores everything
        self.target = softmax(self.mu, 0.1)  # a sharp policy that prefers good actions
        # the exact value of the target: E_x sum_a pi(a|x) mu(x, a)
        self.true_value = float((self.target * self.mu).sum(axis=1).mean())
        # a one-hot "feature" per (context, action) for the ridge reward model
        self.features = np.eye(C * K)

    def log(self, n: int, seed: int):
        g = np.random.default_rng(seed)
        x = g.integers(0, self.C, size=n)
        u = g.random(n)[:, None]
        a = (self.logging[x].cumsum(axis=1) < u).sum(axis=1)
        a = np.minimum(a, self.K - 1)
        r = (g.random(n) < self.mu[x, a]).astype(float)
        return x, a, r, self.logging[x, a], self.target[x, a]

    def dr_inputs(self, x, a, r, model=None):
        if model is not None:
            models, fold = [model], np.zeros(x.size, dtype=int)
        else:
            models, fold = cross_fit(self.features[x * self.K + a], r, folds=2, seed=0)
        q_all = np.stack([m.predict(self.features).reshape(self.C, self.K) for m in models])[fold, x]  # n x K
        dm = (self.target[x] * q_all).sum(axis=1)
        return dm, q_all[np.arange(x.size), a]


def test_true_value_differs_from_the_logging_policys():
    b = Bandit()
    logging_value = float((b.logging * b.mu).sum(axis=1).mean())
    assert b.true_value - logging_value > 0.15  # so covering the truth is not covering the logger's mean


@pytest.mark.parametrize("ci", ["bootstrap", "normal"])
def test_intervals_cover_the_exact_target_value(ci):
    b = Bandit(seed=0)
    x, a, r, p, pi = b.log(20_000, seed=1)
    dm, q = b.dr_inputs(x, a, r)
    est = estimate(r, p, pi, dm=dm, q_logged=q, ci=ci, seed=0, n_boot=500)
    assert set(est) == {"ips", "snips", "dr"}
    for e in est.values():
        assert e.low < e.value < e.high and e.n == 20_000
        assert e.covers(b.true_value), (e, b.true_value)
        assert e.high - e.low < 0.12  # and the interval is informative
    # DR with a good model is tighter than IPS
    assert est["dr"].high - est["dr"].low < est["ips"].high - est["ips"].low


def test_normal_intervals_cover_about_95_percent_of_the_time():
    b = Bandit(seed=3)
    hits = {"ips": 0, "snips": 0, "dr": 0}
    reps = 200
    for k in range(reps):
        x, a, r, p, pi = b.log(2000, seed=100 + k)
        dm, q = b.dr_inputs(x, a, r)
        for name, e in estimate(r, p, pi, dm=dm, q_logged=q, ci="normal").items():
            hits[name] += e.covers(b.true_value)
    rates = {k: v / reps for k, v in hits.items()}
    # binomial sd of a 95 % rate over 200 runs is 1.5 points; allow some small-sample undercoverage
    for name, rate in rates.items():
        assert 0.88 <= rate <= 0.995, rates


def test_dr_stays_unbiased_with_a_wrong_reward_model():
    b = Bandit(seed=5)
    x, a, r, p, pi = b.log(20_000, seed=2)
    wrong = RidgeRewardModel().fit(np.zeros((1, b.C * b.K)), np.array([0.9]))  # predicts 0.9 everywhere
    dm, q = b.dr_inputs(x, a, r, model=wrong)
    assert np.allclose(q, 0.9)
    e = estimate(r, p, pi, dm=dm, q_logged=q, ci="bootstrap", n_boot=400, seed=0)["dr"]
    assert e.covers(b.true_value)


def test_target_equal_to_logger_gives_the_logged_mean():
    b = Bandit(seed=1)
    x, a, r, p, _ = b.log(500, seed=4)
    est = estimate(r, p, p, n_boot=300)
    assert est["ips"].value == pytest.approx(r.mean()) == est["snips"].value
    on = mean_ci(r, n_boot=300)
    assert on.value == pytest.approx(r.mean()) and on.low < on.value < on.high


def test_bootstrap_is_reproducible_and_seeded():
    b = Bandit(seed=2)
    x, a, r, p, pi = b.log(300, seed=9)
    e1 = estimate(r, p, pi, seed=0, n_boot=300)["ips"]
    e2 = estimate(r, p, pi, seed=0, n_boot=300)["ips"]
    e3 = estimate(r, p, pi, seed=1, n_boot=300)["ips"]
    assert e1 == e2 and (e1.low, e1.high) != (e3.low, e3.high)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="propensities must be in"):
        estimate([1.0], [0.0], [0.5])
    with pytest.raises(ValueError, match="same length"):
        estimate([1.0, 2.0], [0.5], [0.5])
    assert estimate([], [], [])["ips"].n == 0


# -- the documented formulas, recomputed here on a small log ----------------------------------------------

R = np.array([1.0, 0.0, 0.5, 1.0, -0.5, 0.25, 0.0, 1.0])
P = np.array([0.5, 0.25, 0.8, 0.1, 0.5, 0.4, 1.0, 0.2])
PI = np.array([0.9, 0.0, 0.4, 0.3, 0.1, 0.6, 0.5, 0.05])
DM = np.array([0.2, 0.4, 0.1, 0.7, 0.0, 0.3, 0.5, 0.6])
Q = np.array([0.8, 0.1, 0.4, 0.9, -0.2, 0.3, 0.2, 0.7])


def test_point_estimates_are_the_documented_formulas():
    w = PI / P
    est = estimate(R, P, PI, dm=DM, q_logged=Q, ci="normal")
    assert est["ips"].value == pytest.approx(np.mean(w * R), rel=1e-12)
    assert est["snips"].value == pytest.approx(np.sum(w * R) / np.sum(w), rel=1e-12)
    assert est["dr"].value == pytest.approx(np.mean(DM + w * (R - Q)), rel=1e-12)
    assert [e.estimator for e in est.values()] == ["ips", "snips", "dr"]
    assert all(e.n == 8 and e.ci == "normal" and e.level == 0.95 for e in est.values())
    # DR needs both model inputs; without them only IPS and SNIPS are given
    assert set(estimate(R, P, PI, dm=DM, ci="normal")) == {"ips", "snips"}
    assert set(estimate(R, P, PI, dm=DM, q_logged=Q, estimators=("dr",), ci="normal")) == {"dr"}


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_normal_intervals_are_the_documented_formulas(level):
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    n, w = R.size, PI / P
    est = estimate(R, P, PI, dm=DM, q_logged=Q, ci="normal", level=level)
    for name, terms in (("ips", w * R), ("dr", DM + w * (R - Q))):
        half = z * np.std(terms, ddof=1) / np.sqrt(n)
        e = est[name]
        assert (e.low, e.high) == pytest.approx((terms.mean() - half, terms.mean() + half), rel=1e-9)
        assert e.level == level
    v = np.sum(w * R) / np.sum(w)  # SNIPS: the delta method
    half = z * np.sqrt(np.mean((w * (R - v)) ** 2) * n / (n - 1)) / np.mean(w) / np.sqrt(n)
    assert (est["snips"].low, est["snips"].high) == pytest.approx((v - half, v + half), rel=1e-9)


def test_normal_intervals_need_two_steps_and_a_positive_weight():
    one = estimate([1.0], [0.5], [0.5], dm=[0.1], q_logged=[0.2], ci="normal")
    assert all(np.isnan(e.low) and np.isnan(e.high) for e in one.values())
    assert one["ips"].value == 1.0 and one["dr"].value == pytest.approx(0.1 + 0.8)
    zero = estimate([1.0, 0.0, 1.0], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0], ci="normal")
    assert np.isnan(zero["snips"].value) and np.isnan(zero["snips"].low) and np.isnan(zero["snips"].high)
    assert zero["ips"].value == 0.0 and zero["ips"].low == zero["ips"].high == 0.0


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_bootstrap_intervals_are_seeded_percentiles_of_resampled_steps(level):
    pi = np.array([0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05])  # a tenth of the resamples have no weight at all
    n, w, n_boot = R.size, pi / P, 400
    idx = np.random.default_rng(7).integers(0, n, size=(n_boot, n))
    est = estimate(R, P, pi, dm=DM, q_logged=Q, n_boot=n_boot, seed=7, level=level)
    a = (1 - level) / 2
    boot = {"ips": (w * R)[idx].mean(axis=1), "dr": (DM + w * (R - Q))[idx].mean(axis=1)}
    sw = w[idx].sum(axis=1)
    snips = (w * R)[idx].sum(axis=1)[sw > 0] / sw[sw > 0]  # resamples with no weight have no SNIPS
    boot["snips"] = snips
    assert snips.size < n_boot  # the test covers resamples without weight
    for name, bs in boot.items():
        e = est[name]
        assert (e.low, e.high) == pytest.approx((np.quantile(bs, a), np.quantile(bs, 1 - a)), rel=1e-12)
        assert e.ci == "bootstrap" and e.level == level and e.n == n


def test_mean_ci_is_the_logged_mean_with_its_interval():
    on = mean_ci(R, ci="normal", level=0.9)
    half = 1.6448536269514722 * np.std(R, ddof=1) / np.sqrt(R.size)
    assert on.estimator == "logged" and on.n == R.size and on.ci == "normal" and on.level == 0.9
    assert (on.value, on.low, on.high) == pytest.approx((R.mean(), R.mean() - half, R.mean() + half))
    boot = mean_ci(R, n_boot=300, seed=4)
    ref = estimate(R, np.ones(R.size), np.ones(R.size), estimators=("ips",), n_boot=300, seed=4)["ips"]
    assert (boot.low, boot.high, boot.ci) == (ref.low, ref.high, "bootstrap")


def test_estimate_reads_as_plain_data_and_covers_its_ends():
    e = estimate(R, P, PI, ci="normal")["ips"]
    assert e.covers(e.low) and e.covers(e.high) and not e.covers(e.high + 1e-9)
    assert e.as_dict() == {"estimator": "ips", "value": e.value, "low": e.low, "high": e.high, "n": 8,
                           "ci": "normal", "level": 0.95}
    empty = estimate([], [], [], ci="normal")
    assert set(empty) == {"ips", "snips"} and empty["ips"].ci == "normal" and np.isnan(empty["ips"].value)


def test_ridge_reward_model_is_ridge_around_the_mean():
    g = np.random.default_rng(1)
    X, r = g.random((30, 4)), g.random(30)
    m = RidgeRewardModel(lam=2.5).fit(X, r)
    w = np.linalg.solve(X.T @ X + 2.5 * np.eye(4), X.T @ (r - r.mean()))
    assert m.mean == pytest.approx(r.mean()) and m.w == pytest.approx(w, rel=1e-10)
    assert m.predict(X[:3]) == pytest.approx(r.mean() + X[:3] @ w, rel=1e-10)
    flat = RidgeRewardModel().fit(np.zeros((3, 0)), np.array([1.0, 2.0, 6.0]))  # no features: the mean
    assert flat.predict(np.zeros((2, 0))).tolist() == [3.0, 3.0]
    none = RidgeRewardModel().fit(np.zeros((0, 4)), np.zeros(0))
    assert none.w.tolist() == [0.0] * 4 and none.mean == 0.0 and none.predict(X[:2]).tolist() == [0.0, 0.0]


def test_cross_fit_leaves_each_steps_fold_out():
    g = np.random.default_rng(2)
    X, r = g.random((10, 3)), g.random(10)
    models, fold = cross_fit(X, r, folds=3, seed=5, lam=0.5)
    assert fold.tolist() == (np.random.default_rng(5).permutation(10) % 3).tolist()
    for j, m in enumerate(models):
        ref = RidgeRewardModel(0.5).fit(X[fold != j], r[fold != j])
        assert m.w == pytest.approx(ref.w) and m.mean == pytest.approx(ref.mean) and m.lam == 0.5
    one, fold1 = cross_fit(X, r, folds=1)
    assert len(one) == 1 and fold1.tolist() == [0] * 10 and one[0].mean == pytest.approx(r.mean())
    few, fold2 = cross_fit(X[:2], r[:2], folds=5)  # never more folds than steps
    assert len(few) == 2 and sorted(fold2.tolist()) == [0, 1]
    none, fold0 = cross_fit(np.zeros((0, 3)), np.zeros(0))
    assert len(none) == 1 and fold0.size == 0


def test_every_bad_input_names_what_is_wrong():
    with pytest.raises(ValueError, match="1-D arrays of the same length"):
        estimate([[1.0]], [[0.5]], [[0.5]])
    for bad in ([1.5], [float("nan")], [-0.1]):
        with pytest.raises(ValueError, match=r"logged propensities must be in \(0, 1\]"):
            estimate([1.0], bad, [0.5])
    estimate([1.0], [1.0 + 1e-12], [0.5])  # rounding above 1 is tolerated
    with pytest.raises(ValueError, match="ci must be 'bootstrap' or 'normal', not 'exact'"):
        estimate([1.0], [0.5], [0.5], ci="exact")
    with pytest.raises(ValueError, match=r"level must be one of \[0.9, 0.95, 0.99\] for normal intervals"):
        estimate([1.0], [0.5], [0.5], ci="normal", level=0.8)
    estimate([1.0, 0.0], [0.5, 0.5], [0.5, 0.5], level=0.8, n_boot=10)  # any level for the bootstrap
    with pytest.raises(ValueError, match="unknown estimator 'mips'"):
        estimate([1.0], [0.5], [0.5], estimators=("mips",))


def test_defaults_are_the_documented_ones():
    # 2,000 resamples seeded with 0; a ridge of strength 1 cross-fitted in 2 folds seeded with 0
    assert estimate(R, P, PI) == estimate(R, P, PI, n_boot=2000, seed=0)
    g = np.random.default_rng(3)
    values = g.random(30)  # continuous values, so another resample count or seed moves the interval
    assert mean_ci(values) == mean_ci(values, n_boot=2000, seed=0)
    assert mean_ci(values) not in (mean_ci(values, n_boot=2001), mean_ci(values, seed=1))
    X, r = g.random((12, 3)), g.random(12)
    models, fold = cross_fit(X, r)
    assert len(models) == 2 and fold.tolist() == (np.random.default_rng(0).permutation(12) % 2).tolist()
    assert models[0].w == pytest.approx(RidgeRewardModel(1.0).fit(X[fold != 0], r[fold != 0]).w)
    assert RidgeRewardModel().predict(X[:2]).tolist() == [0.0, 0.0]  # unfitted: no reward expected
    assert RidgeRewardModel().fit(X, r).w == pytest.approx(RidgeRewardModel(1.0).fit(X, r).w)
    assert RidgeRewardModel().fit(X, r).w != pytest.approx(RidgeRewardModel(2.0).fit(X, r).w)


def test_one_feature_is_a_feature():
    X, r = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0.0, 1.0, 2.0, 3.0])
    m = RidgeRewardModel(lam=1.0).fit(X, r)
    w = float(X[:, 0] @ (r - 1.5) / (X[:, 0] @ X[:, 0] + 1.0))
    assert m.w.tolist() == pytest.approx([w]) and m.predict(X[:1]).tolist() == pytest.approx([1.5 + 0 * w])
    assert m.predict(np.array([[3.0]])).tolist() == pytest.approx([1.5 + 3 * w])
    models, fold = cross_fit(X, r, folds=1)
    assert models[0].w.tolist() == pytest.approx([w]) and fold.dtype.kind == "i"
    assert cross_fit(np.zeros((0, 1)), np.zeros(0))[1].dtype.kind == "i"  # fold numbers index, even when empty


def test_small_and_degenerate_logs():
    two = estimate([1.0, 0.0], [0.5, 0.5], [0.5, 0.5], ci="normal")["ips"]
    assert np.isfinite(two.low) and two.low < 0.5 < two.high  # two steps are enough for an interval
    small = estimate([1.0, 0.0], [0.5, 0.5], [0.1, 0.3], ci="normal")["snips"]  # weights summing below 1
    assert small.value == pytest.approx(0.2 / 0.8)
    none = estimate([1.0, 0.0, 1.0], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0], n_boot=50)["snips"]  # never any weight
    assert np.isnan(none.value) and np.isnan(none.low) and np.isnan(none.high) and none.estimator == "snips"
    est = estimate(R, P, PI, dm=DM, q_logged=Q, n_boot=50)
    assert [e.estimator for e in est.values()] == ["ips", "snips", "dr"]
    empty = estimate([], [], [], dm=[], q_logged=[], level=0.9)
    assert [(e.estimator, e.n, e.level, e.ci) for e in empty.values()] == [
        ("ips", 0, 0.9, "bootstrap"), ("snips", 0, 0.9, "bootstrap"), ("dr", 0, 0.9, "bootstrap")]
    assert all(np.isnan(x) for e in empty.values() for x in (e.value, e.low, e.high))
    estimate([1.0], [1 + 1e-9], [0.5])  # exactly at the rounding tolerance
    with pytest.raises(ValueError, match=r"^logged propensities must be in \(0, 1\]$"):
        estimate([1.0], [1 + 1e-8], [0.5])
    with pytest.raises(ValueError, match="^rewards, logged and target probabilities must be 1-D arrays of the same length$"):
        estimate([1.0], [0.5, 0.5], [0.5])
    with pytest.raises(ValueError, match=r"\(choose one of: ips, snips, dr\)$"):
        estimate([1.0], [0.5], [0.5], estimators=("mips",))


def test_the_bootstrap_draws_exactly_n_boot_resamples_in_chunks():
    n, n_boot = 4001, 1200  # 2,000,000 // 4001 = 499 resamples per chunk: 499 + 499 + 202
    r = np.random.default_rng(0).random(n)
    p = np.full(n, 0.5)
    rng = np.random.default_rng(3)
    means = np.concatenate([r[rng.integers(0, n, size=(b, n))].mean(axis=1) for b in (499, 499, 202)])
    e = estimate(r, p, p, n_boot=n_boot, seed=3, estimators=("ips",))["ips"]
    assert (e.low, e.high) == pytest.approx((np.quantile(means, 0.025), np.quantile(means, 0.975)), rel=1e-12)
