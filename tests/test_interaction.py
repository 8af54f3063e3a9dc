"""rlmeta.interaction: simple slopes and Johnson-Neyman against independent computations."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit

import rlmeta as rm
from rlmeta.errors import ModelError
from rlmeta.interaction import InteractionResult, interaction, johnson_neyman, simple_slopes
from rlmeta.regression import regress

CLOSE = dict(rtol=1e-8, atol=1e-10)


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 120
    df = pd.DataFrame(
        {"x": rng.normal(2, 1, size=n), "m": rng.uniform(-1, 3, size=n), "z": rng.normal(size=n)}
    )
    df["y"] = 0.5 + 0.2 * df.x - 0.3 * df.m + 0.35 * df.x * df.m + 0.3 * df.z + rng.normal(size=n)
    return df


def _ols(df: pd.DataFrame, m_center: float = 0.0):
    mc = df.m - m_center
    X = np.column_stack([np.ones(len(df)), df.x, mc, df.x * mc])
    return sm.OLS(df.y.to_numpy(), X).fit()


def test_simple_slopes_equal_statsmodels_t_test(data):
    res = interaction(data, "x", "m", outcome="y", center=False, at=[-0.5, 0.0, 1.0, 2.5])
    ref = _ols(data)
    for m, row in zip([-0.5, 0.0, 1.0, 2.5], res.slopes.itertuples()):
        tt = ref.t_test(np.array([[0, 1, 0, m]]))
        assert row.estimate == pytest.approx(float(tt.effect[0]), rel=1e-10)
        assert row.se == pytest.approx(float(tt.sd[0, 0]), rel=1e-10)
        assert row.pval == pytest.approx(np.asarray(tt.pvalue).item(), rel=1e-8)
        lo, hi = tt.conf_int(alpha=0.05)[0]
        assert (row.ci_low, row.ci_high) == pytest.approx((lo, hi), rel=1e-10)
    assert (res.slopes["df"] == ref.df_resid).all()


def test_simple_slope_equals_recentred_refit(data):
    """Classic identity: the slope at m0 is the x coefficient when m is centred at m0."""
    res = interaction(data, "x", "m", outcome="y", at=[0.7])
    ref = _ols(data, m_center=0.7)
    assert res.slopes["estimate"].iloc[0] == pytest.approx(ref.params[1], rel=1e-10)
    assert res.slopes["se"].iloc[0] == pytest.approx(ref.bse[1], rel=1e-10)


def test_centering_changes_no_reported_quantity(data):
    a = interaction(data, "x", "m", outcome="y", center=True)
    b = interaction(data, "x", "m", outcome="y", center=False)
    cols = ["m", "estimate", "se", "pval", "ci_low", "ci_high"]
    np.testing.assert_allclose(
        a.slopes[cols].to_numpy(float), b.slopes[cols].to_numpy(float), **CLOSE
    )
    np.testing.assert_allclose(a.marginal.to_numpy(float), b.marginal.to_numpy(float), **CLOSE)
    np.testing.assert_allclose(a.jn.bounds, b.jn.bounds, rtol=1e-8)
    # centred fit: the main-effect coefficient of x is the slope at the mean of m
    mean_row = a.slopes.set_index("label").loc["mean"]
    assert a.model.beta["x"] == pytest.approx(mean_row["estimate"], rel=1e-10)
    assert a.centers["m"] == pytest.approx(data.m.mean())


def test_default_values_are_mean_pm_sd(data):
    res = interaction(data, "x", "m", outcome="y")
    mu, sd = data.m.mean(), data.m.std(ddof=1)
    np.testing.assert_allclose(res.slopes["m"], [mu - sd, mu, mu + sd], **CLOSE)


def test_johnson_neyman_against_brute_force_grid(data):
    res = interaction(data, "x", "m", outcome="y", center=False)
    ref = _ols(data)
    b, V = ref.params, ref.cov_params()
    crit = stats.t.ppf(0.975, ref.df_resid)
    grid = np.linspace(-8, 8, 160001)
    L = np.column_stack([np.zeros_like(grid), np.ones_like(grid), np.zeros_like(grid), grid])
    t = (L @ b) / np.sqrt(np.einsum("ij,jk,ik->i", L, V, L))
    sig = np.abs(t) > crit
    crossings = grid[1:][sig[1:] != sig[:-1]]
    assert len(crossings) == len(res.jn.bounds) >= 1
    np.testing.assert_allclose(res.jn.bounds, crossings, atol=2e-4)
    # at each bound the slope's |t| equals the critical value exactly
    for m in res.jn.bounds:
        tt = ref.t_test(np.array([[0, 1, 0, m]]))
        assert abs(np.asarray(tt.tvalue).item()) == pytest.approx(crit, rel=1e-8)
    # a point inside a region is significant, a point outside is not
    for lo, hi in res.jn.regions:
        mid = (max(lo, -50) + min(hi, 50)) / 2
        assert np.asarray(ref.t_test(np.array([[0, 1, 0, mid]])).pvalue).item() < 0.05


def test_johnson_neyman_closed_form_cases():
    beta, cov = np.array([1.0, -1.0]), np.diag([0.01, 0.0])
    jn = johnson_neyman(
        np.array([1.0, 0]),
        np.array([0.0, 1]),
        beta,
        cov,
        1.96,
        moderator="m",
        observed_range=(0.0, 2.0),
    )
    np.testing.assert_allclose(jn.bounds, [1 - 0.196, 1 + 0.196])
    assert jn.regions_observed == [(0.0, pytest.approx(0.804)), (pytest.approx(1.196), 2.0)]
    # slope constant 0.1 with se 0.1: never significant; slope 1, se 0.1: always
    never = johnson_neyman(
        np.array([1.0, 0]), np.zeros(2), np.array([0.1, 0]), np.diag([0.01, 0]), 1.96
    )
    always = johnson_neyman(
        np.array([1.0, 0]), np.zeros(2), np.array([1.0, 0]), np.diag([0.01, 0]), 1.96
    )
    assert never.regions == [] and always.regions == [(-np.inf, np.inf)]
    assert "not significant" in never.summary() and "every value" in always.summary()
    # slope = m known without error: significant everywhere except at m = 0 (a double root)
    exact = johnson_neyman(
        np.array([0.0, 1]), np.array([1.0, 0]), np.array([1.0, 0.0]), np.zeros((2, 2)), 1.96
    )
    assert exact.bounds == [0.0, 0.0] and exact.regions == [(-np.inf, 0.0), (0.0, np.inf)]
    # a negative quadratic coefficient: significant only between the roots
    # slope = 1 (se 0.1 at m = 0) with the SE growing linearly in m: |1| > 1.96 * 0.1 * |1 + m| between roots
    grow = johnson_neyman(
        np.array([1.0, 0]), np.array([0.0, 1]), np.array([1.0, 0.0]), np.full((2, 2), 0.01), 1.96
    )
    q = 1 / 0.196
    np.testing.assert_allclose(grow.bounds, [-1 - q, -1 + q])
    assert grow.regions == [(pytest.approx(-1 - q), pytest.approx(-1 + q))]


def test_covariate_held_and_three_way(data):
    res = interaction(data, "x", "m", formula="y ~ x * m * z", covariates={"z": 1.0}, at=[0.5])
    X = np.column_stack(
        [
            np.ones(len(data)),
            data.x,
            data.m,
            data.x * data.m,
            data.z,
            data.x * data.z,
            data.m * data.z,
            data.x * data.m * data.z,
        ]
    )
    xc, mc = data.x.mean(), data.m.mean()
    # the fit used centred x and m; rebuild the same design by hand
    Xc = X.copy()
    xs, ms = data.x - xc, data.m - mc
    Xc = np.column_stack(
        [np.ones(len(data)), xs, ms, xs * ms, data.z, xs * data.z, ms * data.z, xs * ms * data.z]
    )
    ref = sm.OLS(data.y.to_numpy(), Xc).fit()
    m0 = 0.5 - mc
    Lrow = np.array([[0, 1, 0, m0, 0, 1.0, 0, m0 * 1.0]])
    tt = ref.t_test(Lrow)
    assert res.slopes["estimate"].iloc[0] == pytest.approx(float(tt.effect[0]), rel=1e-8)
    assert res.slopes["se"].iloc[0] == pytest.approx(float(tt.sd[0, 0]), rel=1e-8)
    assert res.held_at == {"z": 1.0}


def test_categorical_moderator(data):
    df = data.assign(grp=np.where(data.m > 1, "hi", "lo"))
    res = interaction(df, "x", "grp", outcome="y")
    assert res.jn is None and res.slopes["label"].tolist() == ["hi", "lo"]
    D = (df.grp == "lo").astype(float)
    xs = df.x - df.x.mean()
    ref = sm.OLS(df.y.to_numpy(), np.column_stack([np.ones(len(df)), xs, D, xs * D])).fit()
    np.testing.assert_allclose(
        res.slopes["estimate"], [ref.params[1], ref.params[1] + ref.params[3]], rtol=1e-10
    )


def test_binomial_marginal_is_probability():
    sweep = rm.simulate_sweep(seed=5, seed_sd=0.0)
    res = interaction(
        sweep,
        "log10_learning_rate",
        "reward_calibration",
        formula="score ~ log10_learning_rate * reward_calibration + C(benchmark)",
        family="binomial",
        n="n_items",
        n_grid=5,
    )
    mg = res.marginal
    assert ((mg.pred > 0) & (mg.pred < 1) & (mg.ci_low < mg.pred) & (mg.pred < mg.ci_high)).all()
    # pred = expit(x'b) with the held benchmark level; check one row by hand
    fit = res.model
    row = pd.DataFrame(
        {
            "log10_learning_rate": [mg.iloc[0, 0] - res.centers["log10_learning_rate"]],
            "reward_calibration": [mg.iloc[0, 1] - res.centers["reward_calibration"]],
            "benchmark": [res.held_at["benchmark"]],
        }
    )
    assert mg.pred.iloc[0] == pytest.approx(
        float(expit(fit.design.new_rows(row) @ fit.params)[0]), rel=1e-10
    )
    assert "log-odds" in res.scale
    assert res.slopes["df"].isna().all()  # z inference


def test_meta_regression_interaction_uses_meta_inference():
    eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    eff = eff.assign(y2024=(eff["year"] >= 2024).astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = rm.meta_analysis(eff, mods="~ log10_params_B * y2024", test="knha")
    res = interaction(meta, x="log10_params_B", moderator="y2024", at=[0.0, 1.0], n_grid=4)
    assert isinstance(res, InteractionResult) and res.outcome == "effect"
    for val, row in zip([0.0, 1.0], res.slopes.itertuples()):
        wt = meta.wald_test(L={"log10_params_B": 1.0, "log10_params_B:y2024": val})
        hyp = wt.hypotheses.iloc[0]
        assert row.estimate == pytest.approx(float(hyp["estimate"]), rel=1e-10)
        assert row.se == pytest.approx(float(hyp["se"]), rel=1e-10)
        assert row.df == pytest.approx(meta.ddf)
    # marginal predictions equal MetaResult.predict at the same moderator values
    nd = res.marginal[["log10_params_B", "y2024"]]
    pr = meta.predict(nd)
    np.testing.assert_allclose(
        res.marginal[["pred", "ci_low", "ci_high"]], pr[["pred", "ci_low", "ci_high"]], rtol=1e-10
    )
    assert res.jn is not None  # numeric moderator


def test_simple_slopes_helper_on_fitted_model(data):
    fit = regress(data, "y ~ x * m")
    tab = simple_slopes(fit, "x", "m", at=[1.0])
    ref = _ols(data)
    assert tab["estimate"].iloc[0] == pytest.approx(ref.params[1] + ref.params[3], rel=1e-10)


def test_rendering(data):
    res = interaction(data, "x", "m", outcome="y")
    assert "Johnson-Neyman" in res.summary() and "Simple slopes" in res.summary()
    d = res.to_dict()
    assert d["johnson_neyman"]["regions"] and len(d["slopes"]) == 3
    assert res.to_frame().shape[0] == 3 and res.jn.to_frame().shape[1] == 4
    res.to_json()
    assert "<strong>InteractionResult" in res._repr_html_()


def test_bad_input(data):
    df = data.assign(mlog=np.exp(data.m), g=np.where(data.x > 2, "a", "b"))
    with pytest.raises(ModelError, match="does not enter the model linearly"):
        interaction(df, "x", "m", formula="y ~ exp(x) * m", center=False)
    with pytest.raises(ModelError, match="give outcome="):
        interaction(df, "x", "m")
    with pytest.raises(ModelError, match="must be numeric"):
        interaction(df, "g", "m", outcome="y")
    with pytest.raises(ModelError, match="not found"):
        interaction(df, "x", "nope", outcome="y")
    fit = regress(df, "y ~ x + m")
    with pytest.raises(ModelError, match="apply when passing data"):
        interaction(fit, "x", "m", outcome="y")
    with pytest.raises(ModelError, match="not in the model"):
        interaction(fit, "x", "z")
    res = interaction(fit, "x", "m")
    assert any("no x x m interaction" in n for n in res.notes)
    np.testing.assert_allclose(res.slopes["estimate"], fit.beta["x"])
    with pytest.raises(ModelError, match="expected data"):
        interaction([1, 2, 3], "x", "m")


def test_simple_slope_coverage():
    """The 95% CI of the simple slope at a fixed moderator value covers the true slope ~95% of the time."""
    rng = np.random.default_rng(77)
    hits, nsim = 0, 120
    for _ in range(nsim):
        n = 50
        x, m = rng.normal(size=n), rng.uniform(0, 1, size=n)
        y = 0.2 + 0.5 * x + 0.1 * m - 0.8 * x * m + rng.normal(size=n)
        res = interaction(
            pd.DataFrame({"x": x, "m": m, "y": y}), "x", "m", outcome="y", at=[0.9], n_grid=2
        )
        row = res.slopes.iloc[0]
        hits += row.ci_low < 0.5 - 0.8 * 0.9 < row.ci_high
    # binomial(120, 0.95): mean 114, sd 2.4
    assert 105 <= hits <= 120, hits


def test_docstring_examples_run():
    """The NumPy-style examples in rlmeta.interaction stay true (CI does not collect doctests)."""
    import doctest
    import importlib  # rlmeta.interaction etc. are functions on the package: import the modules

    _m0 = importlib.import_module("rlmeta.interaction")
    for mod in (_m0,):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert res.attempted > 0 and res.failed == 0, mod.__name__
