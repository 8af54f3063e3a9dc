"""Engine parity beyond the main grid: tests of coefficients, LRT, BLUPs, residuals,
subgroups and edge cases (golden values from tests/reference/make_golden_uni.R)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import DataWarning, ModelError, SchemaError
from tests._tol import CLOSED, ITERATIVE, close
from tests.conftest import load_golden

GOLD = load_golden("golden_rma.json")
EX = GOLD["extra"]
BCG = pd.DataFrame(GOLD["datasets"]["bcg"])


def test_btt_subset():
    res = rm.meta_analysis(BCG, mods="~ x1 + year")
    wt = res.wald_test(btt=[1])
    close(wt.stat, EX["btt"]["QM"], ITERATIVE)
    close(wt.pval, EX["btt"]["QMp"], ITERATIVE)
    # by name and by pattern select the same coefficient
    assert res.wald_test(btt="x1").stat == pytest.approx(wt.stat)
    assert res.wald_test(btt=["x1"]).stat == pytest.approx(wt.stat)


def test_linear_combinations_z_and_knha():
    res = rm.meta_analysis(BCG, mods="~ x1 + year")
    g = EX["lincomb"]
    wt = res.wald_test(L=np.array(g["L"], float))
    close(wt.hypotheses["estimate"], g["est"], ITERATIVE)
    close(wt.hypotheses["se"], g["se"], ITERATIVE)
    close(wt.hypotheses["stat"], g["zval"], ITERATIVE)
    close(wt.hypotheses["pval"], g["pval"], ITERATIVE)
    close(wt.stat, g["QM"], ITERATIVE)
    close(wt.pval, g["QMp"], ITERATIVE)
    # the dict form names terms instead of positions
    wt2 = res.wald_test(L=[{"x1": 1}, {"x1": 1, "year": -1}])
    close(wt2.hypotheses["estimate"], g["est"][:2], ITERATIVE)
    gk = EX["lincomb_knha"]
    rk = rm.meta_analysis(BCG, mods="~ x1 + year", test="knha")
    wk = rk.wald_test(L=np.array(gk["L"], float))
    assert wk.test == "F"
    close(wk.hypotheses["stat"], gk["tval"], ITERATIVE)
    close(wk.hypotheses["pval"], gk["pval"], ITERATIVE)
    close(wk.stat, gk["QM"], ITERATIVE)
    close(wk.pval, gk["QMp"], ITERATIVE)


def test_likelihood_ratio_test():
    full = rm.meta_analysis(BCG, mods="~ x1", method="ML")
    reduced = rm.meta_analysis(BCG, method="ML")
    a = full.anova(reduced)
    g = EX["lrt"]
    close(a.lrt, g["LRT"], ITERATIVE)
    close(a.pval, g["pval"], ITERATIVE)
    close(a.table.loc["full", "aic"], g["AIC_full"], ITERATIVE)
    close(a.table.loc["reduced", "aic"], g["AIC_reduced"], ITERATIVE)
    close(a.r2, g["R2"], ITERATIVE)
    # published (meta_anchors C6): LRT = 9.9588, AIC 21.3713 vs 29.3302
    assert a.lrt == pytest.approx(9.9588, abs=1e-4)
    with pytest.raises(ModelError):
        rm.meta_analysis(BCG, mods="~ x1").anova(rm.meta_analysis(BCG))


def test_blup_and_residuals():
    res = rm.meta_analysis(BCG)
    bl = res.blup()
    g = EX["blup"]
    close(bl["pred"], g["pred"], ITERATIVE)
    close(bl["se"], g["se"], ITERATIVE)
    close(bl["pi_low"], g["pi_lb"], ITERATIVE)
    close(bl["pi_high"], g["pi_ub"], ITERATIVE)
    rs = res.residuals("standardized")
    close(rs["resid"], EX["rstandard"]["resid"], ITERATIVE)
    close(rs["se"], EX["rstandard"]["se"], ITERATIVE)
    close(rs["z"], EX["rstandard"]["z"], ITERATIVE)
    rt = res.residuals("studentized")
    close(rt["resid"], EX["rstudent"]["resid"], ITERATIVE)
    close(rt["se"], EX["rstudent"]["se"], ITERATIVE)
    close(rt["z"], EX["rstudent"]["z"], ITERATIVE)
    r1 = rm.meta_analysis(BCG, mods="~ x1", test="knha")
    rt1 = r1.residuals("studentized")
    close(rt1["z"], EX["rstudent_reg"]["z"], ITERATIVE)
    close(res.weights_percent(), EX["weights"], ITERATIVE)
    close(r1.hat(), EX["hat"], ITERATIVE)
    raw = res.residuals()
    close(raw["resid"], res.yi - res.fitted(), CLOSED)
    with pytest.raises(ModelError):
        res.residuals("pearson")


def test_subgroups_separate_and_common_tau2():
    sg = rm.meta_analysis(BCG, subgroup="g")
    g = EX["subgroup"]
    tab = sg.to_frame().set_index("subgroup")
    for lev, exp in g["separate"].items():
        close(tab.loc[lev, "estimate"], exp["beta"], ITERATIVE)
        close(tab.loc[lev, "se"], exp["se"], ITERATIVE)
        close(tab.loc[lev, "tau2"], exp["tau2"], ITERATIVE, atol=1e-10)
        assert tab.loc[lev, "k"] == exp["k"]
    tests = sg.tests()
    close(tests["stat"].iloc[1], g["common_QM"], ITERATIVE)
    close(tests["pval"].iloc[1], g["common_QMp"], ITERATIVE)
    close(sg.mixed.tau2, g["common_tau2"], ITERATIVE)
    # the separate-tau2 test is the fixed-effect Q of the subgroup estimates
    w = 1 / tab["se"] ** 2
    bbar = (w * tab["estimate"]).sum() / w.sum()
    assert sg.q_between == pytest.approx(
        float((w * (tab["estimate"] - bbar) ** 2).sum()), rel=1e-12
    )
    assert "Tests of subgroup differences" in sg.summary()


def test_edge_k1_and_k2():
    e = EX["edge"]["k1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rm.meta_analysis(yi=[e["yi"]], vi=[e["vi"]], test="knha")
    assert res.test == "z"
    assert any("k = 1" in w for w in res.warnings)
    close(res.beta.iloc[0], e["beta"], CLOSED)
    close(res.se[0], e["se"], CLOSED)
    assert res.tau2 == 0
    # k = 2 with moderators leaves nothing to estimate tau2 with
    with pytest.raises(ModelError, match="larger than the number of effects"):
        rm.meta_analysis(
            pd.DataFrame({"yi": [0.1, 0.3], "vi": [0.01, 0.02], "x": [1.0, 2.0]}), mods="~ x"
        )


def test_k1_rows_of_a_batch_are_converged_equal_effects_fits():
    # metafor fits k = 1 as an equal-effects model; the (RE)ML iteration on one effect used
    # to run into its limit for some values and blank the subset in GOSH (found by hypothesis)
    from rlmeta.meta import fit_batch

    y, v = -0.10675882777800029, 0.2579145438886356
    for method in ("REML", "ML", "EB", "PM", "DL"):
        fb = fit_batch(
            np.array([[y, 0.5]]),
            np.array([[v, 0.1]]),
            np.ones((2, 1)),
            mask=np.array([[True, False]]),
            method=method,
        )
        assert fb.converged.all() and fb.tau2[0] == 0 and fb.messages == [[]], method
        assert fb.beta[0, 0] == pytest.approx(y, rel=1e-14)
        with warnings.catch_warnings():
            warnings.simplefilter("error", rm.errors.ConvergenceWarning)
            res = rm.meta_analysis(yi=[y], vi=[v], method=method)
        assert res.converged and res.se[0] == pytest.approx(np.sqrt(v), rel=1e-14)


def test_edge_all_equal_vi_zero_nan_collinear():
    e = EX["edge"]
    eq = rm.meta_analysis(yi=e["all_equal"]["yi"], vi=e["all_equal"]["vi"])
    close(eq.beta.iloc[0], e["all_equal"]["beta"], CLOSED)
    assert eq.tau2 == 0 and eq.q == pytest.approx(0, abs=1e-12) and eq.i2 == 0
    z0 = rm.meta_analysis(yi=e["vi_zero"]["yi"], vi=e["vi_zero"]["vi"])
    close(z0.beta.iloc[0], e["vi_zero"]["beta"], ITERATIVE)
    close(z0.tau2, e["vi_zero"]["tau2"], ITERATIVE)
    assert np.isnan(z0.q) and any("variance of 0" in w for w in z0.warnings)
    with pytest.raises(ModelError, match="non-positive sampling variances"):
        rm.meta_analysis(yi=e["vi_zero"]["yi"], vi=e["vi_zero"]["vi"], method="DL")
    with pytest.warns(DataWarning, match="missing values omitted"):
        na = rm.meta_analysis(yi=e["nan"]["yi"], vi=e["nan"]["vi"])
    assert na.k == e["nan"]["k"]
    close(na.beta.iloc[0], e["nan"]["beta"], ITERATIVE)
    assert len(na.drop_log) == 2 and set(na.drop_log["reason"]) == {
        "missing value in yi",
        "missing value in vi",
    }
    d = BCG.assign(x2=BCG["x1"] * 2)
    with pytest.warns(DataWarning, match="redundant"):
        co = rm.meta_analysis(d, mods="~ x1 + x2")
    close(co.beta.to_numpy(), e["collinear"]["beta"], ITERATIVE)
    assert co.terms == ["intercept", "x1"]
    # predictions on new data drop the redundant column too
    assert len(co.predict(pd.DataFrame({"x1": [10.0], "x2": [20.0]}))) == 1


def test_bad_inputs_fail_clearly():
    with pytest.raises(SchemaError, match="column 'vi'.*>= 0"):
        rm.meta_analysis(pd.DataFrame({"yi": [0.1, 0.2], "vi": [0.01, -0.02]}))
    with pytest.raises(SchemaError, match="expected a number, got 'abc'"):
        rm.meta_analysis(pd.DataFrame({"yi": ["0.1", "abc"], "vi": [0.01, 0.02]}))
    with pytest.raises(ModelError, match="unknown method"):
        rm.meta_analysis(BCG, method="XYZ")
    with pytest.raises(ModelError, match="unknown test"):
        rm.meta_analysis(BCG, test="hksj2")
    with pytest.raises(ModelError, match="not a column or an allowed function"):
        rm.meta_analysis(BCG, mods="~ __import__('os')")
    with pytest.raises(ModelError, match="not allowed"):
        rm.meta_analysis(BCG, mods="~ x1.real")
    with pytest.raises(ModelError, match="no effects left"):
        rm.meta_analysis(yi=[np.nan], vi=[0.1])
    with pytest.raises(ModelError, match="GENQ"):
        rm.meta_analysis(BCG, method="GENQ")


def test_predict_newdata_matches_matrix_form_and_transform():
    res = rm.meta_analysis(BCG, mods="~ x1")
    a = res.predict(pd.DataFrame({"x1": [10.0, 30.0]}))
    b = res.predict(np.array([[10.0], [30.0]]))
    pd.testing.assert_frame_equal(a, b)
    e = res.predict(pd.DataFrame({"x1": [10.0]}), transform=np.exp)
    assert e["pred"].iloc[0] == pytest.approx(np.exp(a["pred"].iloc[0]))
    with pytest.raises(ModelError, match="lacks the moderator"):
        res.predict(pd.DataFrame({"x9": [1.0]}))


def test_published_bcg_values():
    """meta_anchors.md C2-C4, C6 (published metafor output)."""
    res = rm.meta_analysis(BCG)
    assert res.beta.iloc[0] == pytest.approx(-0.7145, abs=5e-5)
    assert res.tau2 == pytest.approx(0.3132, abs=5e-5)
    assert res.i2 == pytest.approx(92.22, abs=5e-3)
    assert res.q == pytest.approx(152.2330, abs=5e-5)
    ci = res.confint()
    assert ci.loc["tau2", "ci_low"] == pytest.approx(0.1197, abs=5e-5)
    assert ci.loc["tau2", "ci_high"] == pytest.approx(1.1115, abs=5e-5)
    assert res.pi == pytest.approx([-1.8667, 0.4376], abs=5e-5)
    kn = rm.meta_analysis(BCG, test="knha").to_frame().iloc[0]
    assert kn["ci_low"] == pytest.approx(-1.1084, abs=5e-5)
    reg = rm.meta_analysis(BCG, mods="~ x1", test="knha")
    assert reg.pseudo_r2 == pytest.approx(75.62, abs=5e-3)
    assert reg.qm == pytest.approx(12.5905, abs=5e-4)


def test_to_dict_contract_keys():
    res = rm.meta_analysis(BCG, test="knha")
    d = res.to_dict()
    for key in (
        "k",
        "method",
        "test",
        "level",
        "coefficients",
        "tau2",
        "tau2_se",
        "tau2_ci",
        "i2",
        "h2",
        "q",
        "q_df",
        "q_pval",
        "qm",
        "qm_df",
        "qm_pval",
        "pi",
        "loglik",
        "aic",
        "bic",
        "converged",
        "warnings",
    ):
        assert key in d, key
    assert d["coefficients"][0]["term"] == "intercept"
    assert set(d["coefficients"][0]) == {
        "term",
        "estimate",
        "se",
        "stat",
        "df",
        "pval",
        "ci_low",
        "ci_high",
    }
    reg = rm.meta_analysis(BCG, mods="~ x1").to_dict()
    assert "pi" not in reg
    import json

    json.dumps(d)  # JSON-ready
    assert "<pre>" in res._repr_html_()
