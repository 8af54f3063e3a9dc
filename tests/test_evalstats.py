"""evalstats: reference values from scipy/statsmodels and hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from rlmeta import evalstats as es
from rlmeta.errors import DataError


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (57, 200), (1, 1)])
def test_intervals_match_references(k, n):
    lo, hi = es.wilson_interval(k, n)
    rlo, rhi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert (float(lo), float(hi)) == pytest.approx((rlo, rhi), rel=1e-10, abs=1e-12)
    lo, hi = es.clopper_pearson_interval(k, n)
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    assert (float(lo), float(hi)) == pytest.approx((ci.low, ci.high), rel=1e-10, abs=1e-12)
    lo, hi = es.beta_interval(k, n, level=0.9)
    assert float(lo) == pytest.approx(stats.beta.ppf(0.05, 1 + k, 1 + n - k))
    assert float(hi) == pytest.approx(stats.beta.ppf(0.95, 1 + k, 1 + n - k))


def test_mean_se_and_errors():
    assert es.mean_se([1, 0, 0, 1]) == pytest.approx((0.5, math.sqrt(1 / 3) / 2))
    with pytest.raises(DataError):
        es.mean_se([1])
    with pytest.raises(DataError):
        es.wilson_interval(5, 3)
    with pytest.raises(DataError):
        es.binomial_interval(1, 3, method="agresti")


def test_clustered_se_reduces_to_clt_with_singletons_up_to_correction():
    rng = np.random.default_rng(0)
    s = rng.random(30)
    r = es.clustered_se(s, np.arange(30))
    # one item per cluster: sqrt(C/(C-1) * sum((s - mean)^2)) / n == sd(ddof=1)/sqrt(n)
    assert r.se == pytest.approx(s.std(ddof=1) / math.sqrt(30))
    assert r.df == 29
    t = stats.t.ppf(0.975, 29)
    assert r.ci_high - r.mean == pytest.approx(t * r.se)


def test_clustered_se_hand_example():
    # clusters a=(1,1), b=(0,0), c=(1,0): residual sums 1, -1, 0; sqrt(3/2*2)/6
    r = es.clustered_se([1, 1, 0, 0, 1, 0], list("aabbcc"))
    assert r.se == pytest.approx(math.sqrt(3) / 6)
    with pytest.raises(DataError, match="2 clusters"):
        es.clustered_se([1, 0], ["a", "a"])


def test_repeat_variance_recovers_components():
    rng = np.random.default_rng(1)
    n, k = 4000, 4
    x = rng.normal(0, 1.0, n)  # Var(x) = 1
    s = x[:, None] + rng.normal(0, 2.0, (n, k))  # sigma^2 = 4
    r = es.repeat_variance(s.ravel(), np.repeat(np.arange(n), k))
    assert r.var_between == pytest.approx(1.0, rel=0.1)
    assert r.mean_within == pytest.approx(4.0, rel=0.05)
    assert r.se == pytest.approx(s.mean(axis=1).std(ddof=1) / math.sqrt(n))
    assert r.se_for(k) == pytest.approx(r.se, rel=0.05)
    assert r.se_for(100) < r.se_for(1)
    with pytest.raises(DataError, match="2 repeats"):
        es.repeat_variance([1, 0, 1], ["a", "a", "b"])


def test_mcnemar_matches_binomtest():
    for t, u in [(10, 2), (0, 0), (5, 5), (0, 7), (30, 12)]:
        ref = stats.binomtest(t, t + u, 0.5).pvalue if t + u else 1.0
        assert es.mcnemar_exact(t, u) == pytest.approx(ref, rel=1e-12)


def test_pass_at_k_exact_small_cases():
    # n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert float(es.pass_at_k(5, 2, 2)) == pytest.approx(0.7)
    assert float(es.pass_at_k(5, 4, 2)) == 1.0  # n - c < k
    assert float(es.pass_at_k(5, 0, 3)) == 0.0
    assert float(es.pass_hat_k(5, 2, 2)) == pytest.approx(1 / 10)  # C(2,2)/C(5,2)
    assert float(es.pass_hat_k(5, 1, 2)) == 0.0
    assert float(es.pass_at_k(5, 2, 1)) == pytest.approx(0.4)  # pass@1 = c/n
    big = es.pass_at_k(10_000, 10, 100)
    assert 0 < float(big) < 1  # no overflow
    with pytest.raises(DataError):
        es.pass_at_k(5, 6, 1)


def test_pass_at_k_curve_brute_force():
    rng = np.random.default_rng(3)
    n = np.full(20, 6)
    c = rng.integers(0, 7, 20)
    curve = es.pass_at_k_curve(n, c, ks=[1, 3])
    # brute force over all subsets of size 3 for problem 0
    from itertools import combinations

    outcomes = [1] * int(c[0]) + [0] * int(6 - c[0])
    subsets = list(combinations(outcomes, 3))
    assert float(es.pass_at_k(6, c[0], 3)) == pytest.approx(np.mean([max(s) for s in subsets]))
    assert float(es.pass_hat_k(6, c[0], 3)) == pytest.approx(np.mean([min(s) for s in subsets]))
    assert curve["pass_at_k"].iloc[0] == pytest.approx((c / 6).mean())


def test_power_formulas_consistent():
    om = 0.3
    n = es.required_items(om, 0.03)
    assert es.power(om, n, 0.03) >= 0.8 > es.power(om, n - 50, 0.03)
    mde = es.minimum_detectable_effect(om, n)
    assert mde == pytest.approx(0.03, rel=0.01)
    assert es.required_items(om, 0.03, design_effect=2.0) == pytest.approx(2 * n, abs=2)
    assert (1.959964 + 0.841621) ** 2 == pytest.approx(7.85, abs=0.01)


def test_omega2_from_pilot_matches_variance_of_differences_for_k1():
    rng = np.random.default_rng(4)
    a = rng.random(50)
    b = 0.5 * a + rng.random(50) * 0.5
    om = es.omega2_from_pilot(a, b)
    assert om["omega2"] == pytest.approx(np.var(a - b, ddof=1))


def test_icc_and_design_effect():
    assert es.design_effect(11, 0.05) == pytest.approx(1.5)
    rng = np.random.default_rng(5)
    cl = np.repeat(np.arange(300), 5)
    s = rng.normal(0, 1, 300)[cl] * math.sqrt(0.3) + rng.normal(0, math.sqrt(0.7), 1500)
    assert es.icc_oneway(s, cl) == pytest.approx(0.3, abs=0.06)


def test_rliable_aggregates_against_references():
    rng = np.random.default_rng(6)
    x = rng.random((5, 7))
    assert float(es.aggregate_mean(x)) == pytest.approx(x.mean(axis=0).mean())
    assert float(es.aggregate_median(x)) == pytest.approx(np.median(x.mean(axis=0)))
    assert float(es.aggregate_iqm(x)) == pytest.approx(stats.trim_mean(x, 0.25, axis=None))
    assert float(es.optimality_gap(x, 0.8)) == pytest.approx(0.8 - np.minimum(x, 0.8).mean())
    y = rng.random((4, 7))
    ref = np.mean(
        [
            stats.mannwhitneyu(x[:, m], y[:, m], alternative="greater").statistic / 20
            for m in range(7)
        ]
    )
    assert es.probability_of_improvement(x, y) == pytest.approx(ref)
    assert es.probability_of_improvement(x, x) == pytest.approx(0.5)


def test_stratified_bootstrap_is_seeded_and_covers():
    rng = np.random.default_rng(7)
    x = rng.normal(0.5, 0.1, (10, 5))
    a = es.stratified_bootstrap_ci(x, "mean", reps=500, seed=1)
    b = es.stratified_bootstrap_ci(x, "mean", reps=500, seed=1)
    assert a == b
    est, lo, hi = a
    assert lo < est < hi
    # the CI of the mean is close to the analytic one (per-task variances add)
    se = math.sqrt((x.var(axis=0, ddof=0) / 10).sum()) / 5
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.2)
    c = es.stratified_bootstrap_ci(x, lambda s: float(s.max()), reps=50, seed=0)
    assert c[0] == pytest.approx(x.max())


def test_seed_summary_frame():
    rng = np.random.default_rng(8)
    d = {"rl": rng.normal(0.7, 0.05, (6, 4)), "base": rng.normal(0.5, 0.05, (6, 4))}
    s = es.seed_summary(d, reps=300, compare=("rl", "base"))
    assert list(s.columns) == [
        "algorithm",
        "aggregate",
        "estimate",
        "ci_low",
        "ci_high",
        "level",
        "reps",
    ]
    poi = s[s["aggregate"] == "probability_of_improvement"].iloc[0]
    assert poi["estimate"] > 0.9 and poi["ci_low"] <= poi["estimate"] <= poi["ci_high"]


def test_omega2_truncation_and_guards():
    rl = np.array([[1, 1], [0, 1], [1, 1], [0, 0]])
    base = np.array([[1, 0], [0, 0], [1, 1], [0, 0]])
    om = es.omega2_from_pilot(rl, base, k_rl=10, k_baseline=10)
    assert om["item_part"] < 0 and om["omega2"] == pytest.approx(
        om["within_rl"] / 10 + om["within_baseline"] / 10
    )
    with pytest.raises(DataError, match="must be > 0"):
        es.required_items(0.0, 0.1)
    with pytest.raises(DataError, match="must be > 0"):
        es.power(-1.0, 100, 0.1)
