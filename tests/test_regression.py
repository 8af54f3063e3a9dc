"""rlmeta.regress: agreement with statsmodels called directly, closed forms, coverage, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

import rlmeta as rm
from rlmeta.datasets.simulate import simulate_sweep
from rlmeta.errors import DataError, DataWarning, ModelError
from rlmeta.regression import MultiRegressionResult, RegressionResult, adjust_pvalues, regress

CLOSE = dict(rtol=1e-8, atol=1e-12)
ITER = dict(rtol=1e-5, atol=1e-8)


@pytest.fixture
def runs() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 60
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(0, 2, size=n),
            "g": rng.choice(["a", "b", "c"], size=n),
            "cl": np.repeat(np.arange(15), 4),
            "w": rng.uniform(0.5, 2.0, size=n),
        }
    )
    eff = {"a": 0.0, "b": 0.5, "c": -0.3}
    df["y"] = (
        1 + 0.8 * df.x1 - 0.4 * df.x2 + 0.6 * df.x1 * df.x2 + df.g.map(eff) + rng.normal(size=n)
    )
    df["y2"] = 2 - 0.3 * df.x1 + rng.normal(size=n)
    return df


def _dummy_design(df: pd.DataFrame) -> np.ndarray:
    """x1 * x2 + C(g) coded by hand (independent of formulaic)."""
    return np.column_stack(
        [
            np.ones(len(df)),
            df.x1,
            df.x2,
            (df.g == "b").astype(float),
            (df.g == "c").astype(float),
            df.x1 * df.x2,
        ]
    )


def test_ols_matches_statsmodels(runs):
    fit = regress(runs, "y ~ x1 * x2 + C(g)")
    assert isinstance(fit, RegressionResult) and fit.model == "OLS"
    ref = sm.OLS(runs.y.to_numpy(), _dummy_design(runs)).fit()
    tab = fit.to_frame().set_index("term")
    order = ["intercept", "x1", "x2", "C(g)[T.b]", "C(g)[T.c]", "x1:x2"]
    np.testing.assert_allclose(tab.loc[order, "estimate"], ref.params, **CLOSE)
    np.testing.assert_allclose(tab.loc[order, "se"], ref.bse, **CLOSE)
    np.testing.assert_allclose(tab.loc[order, "pval"], ref.pvalues, **CLOSE)
    np.testing.assert_allclose(tab.loc[order, ["ci_low", "ci_high"]], ref.conf_int(0.05), **CLOSE)
    assert (tab["df"] == ref.df_resid).all()
    assert fit.stats["r2"] == pytest.approx(ref.rsquared, rel=1e-10)
    assert fit.stats["r2_adj"] == pytest.approx(ref.rsquared_adj, rel=1e-10)
    assert fit.nobs == 60
    pr = fit.predict(runs.head(4))
    sf = ref.get_prediction(_dummy_design(runs.head(4))).summary_frame(alpha=0.05)
    np.testing.assert_allclose(
        pr[["pred", "se", "ci_low", "ci_high"]],
        sf[["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]],
        **CLOSE,
    )


def test_wls_and_level(runs):
    fit = regress(runs, "y ~ x1 + x2", weights="w", level=90)
    X = np.column_stack([np.ones(60), runs.x1, runs.x2])
    ref = sm.WLS(runs.y.to_numpy(), X, weights=runs.w.to_numpy()).fit()
    tab = fit.to_frame()
    assert fit.model == "WLS" and fit.level == 0.9
    np.testing.assert_allclose(tab["estimate"], ref.params, **CLOSE)
    np.testing.assert_allclose(tab[["ci_low", "ci_high"]], ref.conf_int(0.10), **CLOSE)


def test_cluster_robust_matches_statsmodels(runs):
    fit = regress(runs, "y ~ x1 * x2", cluster="cl")
    X = np.column_stack([np.ones(60), runs.x1, runs.x2, runs.x1 * runs.x2])
    ref = sm.OLS(runs.y.to_numpy(), X).fit(
        cov_type="cluster", cov_kwds={"groups": runs.cl.to_numpy()}, use_t=True
    )
    tab = fit.to_frame()
    np.testing.assert_allclose(tab["se"], ref.bse, **CLOSE)
    np.testing.assert_allclose(tab["pval"], ref.pvalues, **CLOSE)
    assert fit.df == 14 and fit.n_clusters == 15 and fit.cov_type == "cluster"
    # t(G - 1) by hand
    t = tab["estimate"] / tab["se"]
    np.testing.assert_allclose(tab["pval"], 2 * stats.t.sf(np.abs(t), 14), **CLOSE)
    assert any("15 clusters" in n for n in fit.notes)


def test_binomial_with_trials_matches_glm():
    sweep = simulate_sweep(seed=3, seed_sd=0.0)
    fit = regress(
        sweep,
        "score ~ log10_learning_rate * reward_calibration + C(benchmark)",
        family="binomial",
        n="n_items",
    )
    X = fit.design.X
    k = sweep.n_correct.to_numpy()
    ref = sm.GLM(np.column_stack([k, sweep.n_items - k]), X, family=sm.families.Binomial()).fit()
    tab = fit.to_frame()
    np.testing.assert_allclose(tab["estimate"], ref.params, **ITER)
    np.testing.assert_allclose(tab["se"], ref.bse, **ITER)
    assert np.isnan(tab["df"]).all() and fit.model == "GLM"
    assert fit.stats["dispersion"] == pytest.approx(ref.pearson_chi2 / ref.df_resid)
    # without seed variance there is no overdispersion note
    assert not any("overdispersion" in n for n in fit.notes)
    # response-scale predictions are the inverse logit of the linear predictor
    pr = fit.predict(sweep.head(5))
    np.testing.assert_allclose(pr["pred"], ref.predict(X[:5]), **ITER)
    assert ((pr["ci_low"] < pr["pred"]) & (pr["pred"] < pr["ci_high"])).all()


def test_binomial_overdispersion_note_and_cluster():
    sweep = simulate_sweep(seed=1, seed_sd=0.4, variance_effect=0.0)
    fit = regress(
        sweep, "score ~ log10_learning_rate + C(benchmark)", family="binomial", n="n_items"
    )
    assert any("overdispersion" in n for n in fit.notes)
    fitc = regress(
        sweep,
        "score ~ log10_learning_rate + C(benchmark)",
        family="binomial",
        n="n_items",
        cluster="run_id",
    )
    assert fitc.df == sweep.run_id.nunique() - 1
    assert fitc.to_frame()["se"].iloc[1] > fit.to_frame()["se"].iloc[1]
    k = sweep.n_correct.to_numpy()
    codes = pd.factorize(sweep.run_id)[0]
    ref = sm.GLM(
        np.column_stack([k, sweep.n_items - k]), fitc.design.X, family=sm.families.Binomial()
    ).fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    np.testing.assert_allclose(fitc.to_frame()["se"], ref.bse, **ITER)
    np.testing.assert_allclose(fitc.to_frame()["pval"], ref.pvalues, rtol=1e-4)


def test_binary_outcome_without_trials(runs):
    runs = runs.assign(win=(runs.y > 1).astype(int))
    fit = regress(runs, "win ~ x1", family="binomial")
    ref = sm.Logit(runs.win.to_numpy(), sm.add_constant(runs.x1.to_numpy())).fit(disp=0)
    np.testing.assert_allclose(fit.params, ref.params, **ITER)


def test_mixedlm_matches_statsmodels():
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(20), 5)
    x = rng.normal(size=100)
    y = 0.5 + 0.7 * x + rng.normal(scale=0.8, size=20)[g] + rng.normal(size=100)
    df = pd.DataFrame({"x": x, "y": y, "g": g})
    fit = regress(df, "y ~ x", groups="g")
    ref = sm.MixedLM(y, sm.add_constant(x), groups=g).fit(reml=True)
    np.testing.assert_allclose(fit.params, ref.fe_params, **ITER)
    np.testing.assert_allclose(fit.to_frame()["se"], ref.bse_fe, **ITER)
    assert fit.stats["group_var"] == pytest.approx(float(np.asarray(ref.cov_re)[0, 0]), rel=1e-5)
    assert fit.model == "MixedLM" and fit.n_clusters == 20


def test_standardised_coefficients_equal_zscore_refit(runs):
    fit = regress(runs, "y ~ x1 + x2")
    z = lambda v: (v - v.mean()) / v.std(ddof=1)  # noqa: E731
    ref = sm.OLS(z(runs.y), np.column_stack([np.ones(60), z(runs.x1), z(runs.x2)])).fit()
    np.testing.assert_allclose(fit.to_frame()["std_estimate"].iloc[1:], ref.params[1:], **CLOSE)
    assert np.isnan(fit.to_frame()["std_estimate"].iloc[0])


def test_vif_closed_form(runs):
    fit = regress(runs, "y ~ x1 + x2 + C(g)")
    X = fit.design.X
    for j, term in enumerate(fit.terms):
        if term == "intercept":
            continue
        others = np.delete(X, j, axis=1)
        r2 = sm.OLS(X[:, j], others).fit().rsquared
        assert fit.vif.set_index("term").loc[term, "vif"] == pytest.approx(1 / (1 - r2), rel=1e-8)


def test_adjust_pvalues_closed_form():
    p = np.array([0.01, 0.04, 0.03, 0.20])
    tab = pd.DataFrame({"outcome": list("abcd"), "term": "x", "pval": p})
    holm = adjust_pvalues(tab, "holm")["pval_adj"].to_numpy()
    # Holm by hand: sorted p (0.01, 0.03, 0.04, 0.2) * (4, 3, 2, 1), cumulative max
    np.testing.assert_allclose(holm, [0.04, 0.09, 0.09, 0.20])
    bh = adjust_pvalues(tab, "fdr_bh")["pval_adj"].to_numpy()
    # BH by hand: p * m / rank, cumulative min from the top
    np.testing.assert_allclose(bh, [0.04, 0.0533333333333, 0.0533333333333, 0.2])
    np.testing.assert_allclose(bh, multipletests(p, method="fdr_bh")[1])


def test_multi_outcome_equals_separate_fits(runs):
    runs = runs.copy()
    runs.loc[[3, 7], "y2"] = np.nan
    with pytest.warns(DataWarning):
        multi = regress(runs, "y + y2 ~ x1 + x2")
    assert isinstance(multi, MultiRegressionResult) and len(multi) == 2
    with pytest.warns(DataWarning):
        single = regress(runs, "y2 ~ x1 + x2")
    np.testing.assert_allclose(multi["y2"].params, single.params, **CLOSE)
    assert multi["y"].nobs == 60 and multi["y2"].nobs == 58
    adj = multi.adjust_pvalues("holm")
    assert (
        set(adj["outcome"]) == {"y", "y2"} and len(adj) == 4 and "intercept" not in set(adj["term"])
    )
    raw = multi.to_frame().query("term != 'intercept'")["pval"].to_numpy()
    np.testing.assert_allclose(adj["pval_adj"], multipletests(raw, method="holm")[1])
    same = regress(runs.dropna(), ["y ~ x1 + x2", "y2 ~ x1 + x2"])
    assert sorted(same.results) == ["y", "y2"]


def test_missing_rows_logged(runs):
    runs = runs.copy()
    runs.loc[5, "x1"] = np.nan
    runs.loc[9, "y"] = np.inf
    with pytest.warns(DataWarning, match="2 row"):
        fit = regress(runs, "y ~ x1")
    log = fit.drop_log
    assert len(log) == 2 and fit.nobs == 58
    assert sorted(log["reason"]) == ["missing value in x1", "non-finite value in y"]
    assert rm.drop_log(fit).shape[0] == 2


def test_result_rendering(runs):
    fit = regress(runs, "y ~ x1 * x2", cluster="cl")
    d = fit.to_dict()
    assert d["coefficients"][0]["term"] == "intercept" and d["df"] == 14
    assert set(fit.to_frame().columns) == {
        "term",
        "estimate",
        "se",
        "stat",
        "df",
        "pval",
        "ci_low",
        "ci_high",
        "std_estimate",
    }
    assert "Cluster-robust" in fit.summary() and "x1:x2" in fit.summary()
    assert fit._repr_html_().startswith("<div>")
    fit.to_json()


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(formula="y ~ nope"), ModelError, "'nope' is not a column"),
        (dict(formula="y ~ __import__('os').system('x')"), ModelError, "is not allowed"),
        (dict(formula="y ~ eval(x1)"), ModelError, "not a column or an allowed function"),
        (dict(formula="log(y) ~ x1"), ModelError, "left-hand side may only list outcome columns"),
        (dict(formula="y x1"), ModelError, "outcome ~ predictors"),
        (dict(formula="y ~ x1", family="poisson"), ModelError, "family must be one of"),
        (dict(formula="y ~ x1", groups="cl", cluster="cl"), ModelError, "groups="),
        (dict(formula="y ~ x1", weights="nope"), ModelError, "weights= must name a column"),
        (dict(formula="y ~ x1", n="w"), ModelError, "n= .trials. applies to family='binomial'"),
        (dict(formula="y ~ x1", family="binomial"), DataError, "must be 0/1"),
        (dict(formula="y ~ x1 + x1b"), ModelError, "not of full rank: x1b"),
    ],
)
def test_bad_input(runs, kwargs, exc, match):
    runs = runs.assign(x1b=2 * runs.x1)
    with pytest.raises(exc, match=match):
        regress(runs, **kwargs)


def test_bad_values_name_rows():
    df = pd.DataFrame(
        {
            "acc": [0.5, 55.0, 0.7, 0.6],
            "n": [100, 100, 100, 100],
            "x": [1.0, 2, 3, 4],
            "s": ["1", "two", "3", "4"],
            "w": [1.0, -1, 1, 1],
        }
    )
    with pytest.raises(DataError, match=r"row 2, column 'acc': .*percent scores\? divide by 100"):
        regress(df, "acc ~ x", family="binomial", n="n")
    with pytest.raises(DataError, match=r"row 2, column 's': expected a number, got 'two'"):
        regress(df, "s ~ x")
    with pytest.raises(DataError, match=r"row 2, column 'w': weights must be positive"):
        regress(df, "acc ~ x", weights="w")
    with pytest.raises(ModelError, match="need more rows than coefficients"):
        regress(df.head(2), "acc ~ x")


def test_ols_coverage_is_nominal():
    """95% CIs of known coefficients cover at the nominal rate over 200 seeded simulations."""
    rng = np.random.default_rng(2024)
    beta = np.array([1.0, 0.5, -0.25, 0.4])
    hits = np.zeros(4)
    nsim = 200
    for _ in range(nsim):
        x1, x2 = rng.normal(size=40), rng.normal(size=40)
        X = np.column_stack([np.ones(40), x1, x2, x1 * x2])
        df = pd.DataFrame({"x1": x1, "x2": x2, "y": X @ beta + rng.normal(size=40)})
        tab = regress(df, "y ~ x1 * x2").to_frame()
        hits += (tab["ci_low"] < beta) & (beta < tab["ci_high"])
    # binomial(200, 0.95): mean 190, sd 3.1; accept within about 3.5 sd
    assert np.all(hits >= 179) and np.all(hits <= 200), hits


def test_binomial_glm_recovers_interaction():
    """With pure binomial noise the GLM's 95% CI of the interaction covers the truth ~95% of the time."""
    hits, nsim = 0, 150
    for s in range(nsim):
        sweep = simulate_sweep(
            n_seeds=2,
            seed=s,
            seed_sd=0.0,
            benchmarks=["math500"],
            learning_rates=(1e-6, 1e-5, 1e-4),
            reward_calibration=(0.0, 0.5, 1.0),
        )
        sweep["x"] = (
            sweep.log10_learning_rate - sweep.attrs["truth"]["centers"]["log10_learning_rate"]
        )
        sweep["m"] = (
            sweep.reward_calibration - sweep.attrs["truth"]["centers"]["reward_calibration"]
        )
        tab = (
            regress(sweep, "score ~ x * m", family="binomial", n="n_items")
            .to_frame()
            .set_index("term")
        )
        truth = sweep.attrs["truth"]["coef"]["interaction"]
        hits += tab.loc["x:m", "ci_low"] < truth < tab.loc["x:m", "ci_high"]
    # binomial(150, 0.95): mean 142.5, sd 2.7
    assert 133 <= hits <= 150, hits


def test_cluster_robust_coverage_with_seed_effects():
    """Run-level seed effects shared across benchmarks: CR1 + t(G-1) keeps coverage near nominal."""
    hits, nsim = 0, 150
    for s in range(nsim):
        sweep = simulate_sweep(
            n_seeds=3,
            seed=1000 + s,
            seed_sd=0.3,
            variance_effect=0.0,
            learning_rates=(1e-6, 1e-5, 1e-4),
            reward_calibration=(0.0, 0.5, 1.0),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = regress(
                sweep,
                "true_logit ~ log10_learning_rate * reward_calibration + C(benchmark)",
                cluster="run_id",
            )
        tab = fit.to_frame().set_index("term")
        truth = sweep.attrs["truth"]["coef"]["interaction"]
        term = "log10_learning_rate:reward_calibration"
        hits += tab.loc[term, "ci_low"] < truth < tab.loc[term, "ci_high"]
    assert 133 <= hits <= 150, hits


def test_docstring_examples_run():
    """The NumPy-style examples in rlmeta.regression, rlmeta.datasets.simulate stay true (CI does not collect doctests)."""
    import doctest
    import importlib  # rlmeta.interaction etc. are functions on the package: import the modules

    _m1 = importlib.import_module("rlmeta.datasets.simulate")
    _m0 = importlib.import_module("rlmeta.regression")
    for mod in (
        _m0,
        _m1,
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert res.attempted > 0 and res.failed == 0, mod.__name__
