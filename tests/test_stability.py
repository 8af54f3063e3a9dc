"""rlmeta.stability: closed forms, scipy agreement, numerical derivatives and coverage of the scale model."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.tools.numdiff import approx_fprime, approx_hess

import rlmeta as rm
from rlmeta.errors import DataError, DataWarning, ModelError
from rlmeta.stability import (
    LocationScaleResult,
    StabilityResult,
    location_scale,
    setting_summary,
    stability,
    variance_tests,
)


@pytest.fixture
def runs() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    lr = np.repeat([1e-6, 1e-5, 1e-4], 8)
    kl = np.tile(np.repeat([0.01, 0.1], 4), 3)
    sd = 0.02 * np.exp(0.5 * (np.log10(lr) + 5))
    return pd.DataFrame(
        {
            "lr": lr,
            "log10_lr": np.log10(lr),
            "kl": kl,
            "acc": 0.6 + 0.01 * np.log10(lr) + rng.normal(size=lr.size) * sd,
        }
    )


def test_setting_summary_closed_form(runs):
    tab = setting_summary(runs, "acc", ["lr", "kl"], level=0.9)
    assert list(tab.columns) == ["lr", "kl", "n", "mean", "sd", "se", "ci_low", "ci_high"]
    for row in tab.itertuples():
        y = runs.loc[(runs.lr == row.lr) & (runs.kl == row.kl), "acc"].to_numpy()
        t = stats.t.ppf(0.95, len(y) - 1)
        se = y.std(ddof=1) / np.sqrt(len(y))
        assert (row.n, row.mean, row.sd, row.se) == pytest.approx(
            (len(y), y.mean(), y.std(ddof=1), se), rel=1e-12
        )
        assert (row.ci_low, row.ci_high) == pytest.approx(
            (y.mean() - t * se, y.mean() + t * se), rel=1e-12
        )
    single = setting_summary(pd.DataFrame({"s": ["a", "a", "b"], "y": [1.0, 2.0, 3.0]}), "y", "s")
    assert np.isnan(single.loc[1, ["sd", "se", "ci_low", "ci_high"]].astype(float)).all()


def test_variance_tests_match_scipy(runs):
    tests = variance_tests(runs, "acc", "lr")
    groups = [runs.acc[runs.lr == v].to_numpy() for v in runs.lr.unique()]
    bf = stats.levene(*groups, center="median")
    lv = stats.levene(*groups, center="mean")
    np.testing.assert_allclose(tests["stat"], [bf.statistic, lv.statistic], rtol=1e-12)
    np.testing.assert_allclose(tests["pval"], [bf.pvalue, lv.pvalue], rtol=1e-12)
    assert tests[["df1", "df2"]].iloc[0].tolist() == [2, 21]
    # settings with one run are left out
    extra = pd.concat(
        [runs, pd.DataFrame({"lr": [1e-3], "log10_lr": [-3.0], "kl": [0.1], "acc": [0.5]})]
    )
    assert variance_tests(extra, "acc", "lr")["n_groups"].iloc[0] == 3


def test_ml_constant_scale_equals_ols(runs):
    fit = location_scale(runs, "acc ~ log10_lr + kl", "~ 1")
    X = np.column_stack([np.ones(len(runs)), runs.log10_lr, runs.kl])
    y = runs.acc.to_numpy()
    b, *_ = np.linalg.lstsq(X, y, rcond=None)
    rss = float(((y - X @ b) ** 2).sum())
    n = len(y)
    s2 = rss / n  # ML variance
    np.testing.assert_allclose(fit.mean_table["estimate"], b, rtol=1e-7)
    np.testing.assert_allclose(
        fit.mean_table["se"], np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X))), rtol=1e-6
    )
    assert fit.scale_table["estimate"].iloc[0] == pytest.approx(0.5 * np.log(s2), rel=1e-7)
    assert fit.scale_table["se"].iloc[0] == pytest.approx(np.sqrt(1 / (2 * n)), rel=1e-6)
    assert fit.loglik == pytest.approx(
        float(stats.norm.logpdf(y, X @ b, np.sqrt(s2)).sum()), rel=1e-10
    )
    assert fit.lr_test == {}


def test_ml_grouped_scale_closed_form():
    """Saturated mean and scale by group: sigma_g^2 = within-group SS / n_g, SE(log sigma) = 1/sqrt(2 n_g)."""
    rng = np.random.default_rng(9)
    g = np.repeat(["a", "b", "c"], [6, 9, 12])
    y = rng.normal(size=g.size) * np.select([g == "a", g == "b"], [1.0, 2.0], 0.5)
    df = pd.DataFrame({"g": g, "y": y})
    fit = location_scale(df, "y ~ C(g)", "~ C(g)")
    ss = df.groupby("g")["y"].apply(lambda v: ((v - v.mean()) ** 2).sum() / len(v))
    n = df.groupby("g").size()
    ls = 0.5 * np.log(ss)
    est = fit.scale_table["estimate"].to_numpy()
    np.testing.assert_allclose(est, [ls["a"], ls["b"] - ls["a"], ls["c"] - ls["a"]], rtol=1e-6)
    se = fit.scale_table["se"].to_numpy()
    np.testing.assert_allclose(
        se,
        np.sqrt(
            [
                1 / (2 * n["a"]),
                1 / (2 * n["a"]) + 1 / (2 * n["b"]),
                1 / (2 * n["a"]) + 1 / (2 * n["c"]),
            ]
        ),
        rtol=1e-6,
    )
    np.testing.assert_allclose(fit.scale_table["sd_ratio"], np.exp(est))
    # LR test of the scale predictors by hand: 2 * (ll_full - ll_constant)
    ll_full = sum(
        stats.norm.logpdf(y[g == k], y[g == k].mean(), np.sqrt(ss[k])).sum() for k in "abc"
    )
    means = df.groupby("g")["y"].transform("mean").to_numpy()
    s0 = ((y - means) ** 2).mean()
    ll0 = stats.norm.logpdf(y, means, np.sqrt(s0)).sum()
    assert fit.lr_test["stat"] == pytest.approx(2 * (ll_full - ll0), rel=1e-6)
    assert fit.lr_test["df"] == 2


def test_ml_analytic_derivatives_match_numerical(runs):
    fit = location_scale(runs, "acc ~ log10_lr", "~ log10_lr + kl")
    model = fit.model.model
    p = fit.model.params + 0.05  # away from the optimum
    np.testing.assert_allclose(
        model.score(p), approx_fprime(p, model.loglike, centered=True), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        model.hessian(p), approx_hess(p, model.loglike), rtol=1e-3, atol=1e-2
    )
    assert np.abs(model.score(fit.model.params)).max() < 1e-4  # optimum reached
    assert fit.converged


def test_log_sd_method_closed_form(runs):
    fit = location_scale(
        runs, "acc ~ 1", "~ log10_lr", method="log_sd", by=["log10_lr", "kl"], meta_method="FE"
    )
    tab = setting_summary(runs, "acc", ["log10_lr", "kl"])
    yi = np.log(tab.sd) + 1 / (2 * (tab.n - 1))
    vi = 1 / (2 * (tab.n - 1))
    # fixed-effect meta-regression = WLS with weights 1/vi and known variance
    Z = np.column_stack([np.ones(len(tab)), tab.log10_lr])
    W = np.diag(1 / vi)
    cov = np.linalg.inv(Z.T @ W @ Z)
    g = cov @ Z.T @ W @ yi
    np.testing.assert_allclose(fit.scale_table["estimate"], g, rtol=1e-8)
    np.testing.assert_allclose(fit.scale_table["se"], np.sqrt(np.diag(cov)), rtol=1e-8)
    assert isinstance(fit, LocationScaleResult) and fit.method == "log_sd" and fit.nobs == len(runs)


def test_stability_on_simulated_sweep_recovers_variance_effect():
    sweep = rm.simulate_sweep(n_seeds=10, seed=8, variance_effect=0.6, benchmarks=["gsm8k"])
    st = stability(sweep, "true_logit", by=["log10_learning_rate", "reward_calibration"])
    assert isinstance(st, StabilityResult)
    row = st.model.scale_table.set_index("term").loc["log10_learning_rate"]
    assert row["ci_low"] < 0.6 < row["ci_high"] and row["pval"] < 0.001
    assert st.tests.set_index("test").loc["Levene", "pval"] < 0.05
    assert st.table.shape == (25, 8)
    assert "one mean per setting" in st.summary()
    d = st.to_dict()
    assert d["location_scale"]["method"] == "ml" and len(d["settings"]) == 25
    st2 = stability(
        sweep, "true_logit", by=["log10_learning_rate", "reward_calibration"], method="log_sd"
    )
    row2 = st2.model.scale_table.set_index("term").loc["log10_learning_rate"]
    assert row2["ci_low"] < 0.6 < row2["ci_high"]


@pytest.mark.parametrize("method", ["ml", "log_sd"])
def test_scale_slope_coverage(method):
    """The 95% CI of the log-SD slope covers the truth at about the nominal rate (seeded simulations)."""
    rng = np.random.default_rng(123 if method == "ml" else 321)
    x = np.repeat(np.linspace(-1, 1, 10), 6)
    gamma = 0.5
    hits = 0
    nsim = 200 if method == "ml" else 120
    for _ in range(nsim):
        y = 0.3 * x + rng.normal(size=x.size) * np.exp(-1 + gamma * x)
        df = pd.DataFrame({"x": x, "y": y})
        if method == "ml":
            fit = location_scale(df, "y ~ C(x)", "~ x")
        else:
            fit = location_scale(df, "y ~ 1", "~ x", method="log_sd", by="x")
        r = fit.scale_table.iloc[1]
        hits += r.ci_low < gamma < r.ci_high
    # binomial(nsim, 0.95) within about 3.5 sd: 200 -> [179, 200], 120 -> [105, 120]
    low = {200: 179, 120: 105}[nsim]
    assert low <= hits <= nsim, hits


def test_missing_rows_and_bad_input(runs):
    df = runs.copy()
    df.loc[2, "acc"] = np.nan
    with pytest.warns(DataWarning):
        fit = location_scale(df, "acc ~ log10_lr", "~ log10_lr")
    assert len(fit.drop_log) == 1 and fit.nobs == len(runs) - 1
    with pytest.raises(ModelError, match="needs by="):
        location_scale(runs, "acc ~ 1", "~ log10_lr", method="log_sd")
    with pytest.raises(ModelError, match="must be setting columns"):
        location_scale(runs, "acc ~ 1", "~ log10_lr", method="log_sd", by="kl")
    with pytest.raises(ModelError, match="method must be"):
        location_scale(runs, "acc ~ 1", method="reml")
    with pytest.raises(ModelError, match="predictors only"):
        location_scale(runs, "acc ~ 1", "acc ~ kl")
    const = runs.assign(acc=np.repeat([0.5, 0.6, 0.7], 8))
    with pytest.raises(DataError, match=r"SD = 0\), e.g. log10_lr=-6.0"):
        location_scale(const, "acc ~ 1", "~ log10_lr", method="log_sd", by="log10_lr")
    bad = runs.assign(acc=runs.acc.astype(str))
    bad.loc[4, "acc"] = "n/a?"
    with pytest.raises(DataError, match=r"row 5, column 'acc': expected a number"):
        setting_summary(bad, "acc", "lr")
    with pytest.raises(ModelError, match="at least 2 settings"):
        variance_tests(runs.assign(one=1), "acc", "one")
    with pytest.raises(ModelError, match="not found"):
        stability(runs, "nope", by="lr")
    with pytest.warns(DataWarning):
        st = stability(df, "acc", by=["log10_lr", "kl"])
    assert st.drop_log["reason"].tolist() == ["missing value in acc"]


def test_rendering(runs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean fit issues no warning
        st = stability(runs, "acc", by=["log10_lr", "kl"])
    text = st.summary()
    assert "Brown-Forsythe" in text and "Log standard deviation" in text
    fr = st.model.to_frame()
    assert set(fr["part"]) == {"mean", "log_sd"}
    st.to_json()
    st.model.to_json()
    assert "<strong>StabilityResult" in st._repr_html_()


def test_docstring_examples_run():
    """The NumPy-style examples in rlmeta.stability stay true (CI does not collect doctests)."""
    import doctest
    import importlib  # rlmeta.interaction etc. are functions on the package: import the modules

    _m0 = importlib.import_module("rlmeta.stability")
    for mod in (_m0,):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert res.attempted > 0 and res.failed == 0, mod.__name__
