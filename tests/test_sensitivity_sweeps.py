"""Estimator sweep, pooled groups, hyper-parameter sweep: every row equals meta_analysis."""

from __future__ import annotations

import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import ModelError
from rlmeta.sensitivity import estimator_sweep, hyperparameter_sweep, pool_groups
from tests._tol import ITERATIVE, close
from tests.conftest import load_golden

pytestmark = pytest.mark.filterwarnings("ignore")
GOLD = load_golden("golden_rma.json")
BCG = pd.DataFrame(GOLD["datasets"]["bcg"])
EFF = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")


def test_estimator_sweep_matches_golden_rma():
    sw = estimator_sweep(BCG).to_frame()
    assert list(sw.columns[:9]) == [
        "method",
        "test",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "pval",
        "tau2",
        "i2",
    ]
    assert len(sw) == 11 * 4
    for r in sw.itertuples():
        case = GOLD["cases"][f"bcg|{r.method}|{r.test}"]
        close(
            [r.estimate, r.se, r.ci_low, r.ci_high],
            [case["beta"], case["se"], case["ci_lb"], case["ci_ub"]],
            ITERATIVE,
            atol=1e-10,
            what=r.method,
        )
        close(r.pval, case["pval"], ITERATIVE, atol=1e-12)
        close(r.tau2, case["tau2"], ITERATIVE, atol=1e-10)
        close(r.i2, case["I2"], ITERATIVE, atol=1e-8)
        close(
            [r.pi_low, r.pi_high],
            [case["pi_lb"], case["pi_ub"]] if case["pi_lb"] is not None else [r.pi_low, r.pi_high],
            ITERATIVE,
            atol=1e-10,
        )


def test_estimator_sweep_meta_regression_and_weights():
    res = rm.meta_analysis(BCG, mods="~ x1", weights="w", method="REML")
    sw = estimator_sweep(res, tests=["z"]).to_frame()
    assert set(sw["term"]) == {"intercept", "x1"}
    assert "GENQ" in set(sw["method"])
    genq = rm.meta_analysis(BCG, mods="~ x1", weights="w", method="GENQ")
    row = sw[(sw["method"] == "GENQ") & (sw["term"] == "x1")].iloc[0]
    close(row["estimate"], genq.beta["x1"], 1e-8)
    with pytest.raises(ModelError):
        estimator_sweep(BCG, methods=["XYZ"])


@pytest.mark.parametrize("test", ["z", "knha"])
def test_pool_groups_equals_separate_fits(test):
    pg = pool_groups(EFF, "benchmark_family", test=test, quiet=True).to_frame()
    for r in pg.itertuples():
        sub = EFF[EFF["benchmark_family"] == r.benchmark_family].reset_index(drop=True)
        res = rm.meta_analysis(sub, test=test)
        tab = res.to_frame().iloc[0]
        assert r.k == res.k
        close(
            [r.estimate, r.se, r.ci_low, r.ci_high, r.pval],
            [tab["estimate"], tab["se"], tab["ci_low"], tab["ci_high"], tab["pval"]],
            ITERATIVE,
            atol=1e-12,
        )
        if res.k > 1:
            close([r.pi_low, r.pi_high], res.pi, ITERATIVE, atol=1e-10)
    two = pool_groups(EFF, ["rl_family", "judge_based"], quiet=True).to_frame()
    assert {"rl_family", "judge_based"} <= set(two.columns)
    assert two["k"].sum() == len(EFF)


def test_hyperparameter_sweep():
    hs = hyperparameter_sweep(EFF, "log10_learning_rate", windows=[-7.5, -6.5, -6, -5])
    b = hs.to_frame()
    assert list(b["window"]) == ["[-7.5, -6.5)", "[-6.5, -6)", "[-6, -5]"]
    x = EFF["log10_learning_rate"]
    for r, (lo, hi, closed) in zip(
        b.itertuples(), [(-7.5, -6.5, False), (-6.5, -6, False), (-6, -5, True)]
    ):
        sel = (x >= lo) & ((x <= hi) if closed else (x < hi))
        res = rm.meta_analysis(EFF[sel].reset_index(drop=True), test="knha")
        assert r.k == res.k
        close(
            [r.estimate, r.se, r.tau2],
            [res.beta.iloc[0], res.se[0], res.tau2],
            ITERATIVE,
            atol=1e-12,
        )
        assert r.n_studies == EFF.loc[sel, "study_id"].nunique()
    assert hs.n_dropped == int(x.isna().sum())
    pr = hs.model.predict(pd.DataFrame({"log10_learning_rate": hs.curve["x"]}))
    close(hs.curve["pi_high"], pr["pi_high"], 1e-12)
    sl = hyperparameter_sweep(EFF, windows={"width": 1.0, "step": 0.5}, degree=2)
    assert sl.model.p == 3 and (sl.bins["high"] - sl.bins["low"] == 1.0).all()
    assert sl.to_json() and "Hyper-parameter sweep" in sl.summary()
    with pytest.raises(ModelError):
        hyperparameter_sweep(EFF, "nope")
