"""metafor parity of regtest, ranktest, trimfill and fsn; funnel data and PET-PEESE.

Golden values: tests/reference/make_golden_sens.R (metafor 3.8.1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.bias import egger_test, fail_safe_n, funnel_data, pet_peese, rank_test, trim_and_fill
from rlmeta.errors import ModelError
from tests._tol import CLOSED, ITERATIVE, close
from tests.conftest import load_golden

GOLD = load_golden("golden_sens.json")
ITER = {"ML", "REML", "EB", "PM", "PMM"}


def data(name: str) -> pd.DataFrame:
    return pd.DataFrame(GOLD["datasets"][name])


def _rid(c):
    return "-".join(
        str(c[k]) for k in ("dataset", "model", "predictor", "method", "test") if k in c
    ) + ("-mods" if c.get("mods") else "")


@pytest.mark.parametrize("case", GOLD["regtest"], ids=_rid)
def test_regtest(case):
    d = data(case["dataset"])
    res = rm.meta_analysis(
        d, method=case["method"], test=case["test"], mods=case.get("mods") or None
    )
    eg = egger_test(res, model=case["model"], predictor=case["predictor"], ni="ni")
    tol = ITERATIVE if case["method"] in ITER and case["model"] == "rma" else CLOSED
    close(eg.stat, case["zval"], tol, atol=1e-10, what="stat")
    close(eg.pval, case["pval"], tol, atol=1e-12, what="pval")
    if case["dfs"] is not None:
        assert eg.df == case["dfs"]
    else:
        assert np.isnan(eg.df)
    close(eg.coefficients["estimate"], case["beta"], tol, atol=1e-10, what="beta")
    close(eg.limit_estimate, case["est"], tol, atol=1e-10, what="limit estimate")
    close(
        [eg.limit_ci_low, eg.limit_ci_high],
        [case["ci_lb"], case["ci_ub"]],
        tol,
        atol=1e-10,
        what="limit CI",
    )


def test_regtest_published_bcg():
    # meta_anchors C7: z = -0.8033, p = 0.4218, limit b = -0.5104 (CI -1.1182, 0.0974)
    res = rm.meta_analysis(data("bcg"))
    eg = egger_test(res)
    assert (round(eg.stat, 4), round(eg.pval, 4), round(eg.limit_estimate, 4)) == (
        -0.8033,
        0.4218,
        -0.5104,
    )
    eg = egger_test(rm.meta_analysis(data("bcg"), test="knha"))
    assert (round(eg.stat, 4), eg.df, round(eg.pval, 4)) == (-0.7812, 11, 0.4512)


@pytest.mark.parametrize("name", sorted(GOLD["ranktest"]))
def test_ranktest(name):
    exp = GOLD["ranktest"][name]
    rt = rank_test(rm.meta_analysis(data(name)))
    close(rt.tau, exp["tau"], CLOSED, atol=1e-12, what="tau")
    close(rt.pval, exp["pval"], 1e-7, atol=1e-10, what="pval")


def _tid(c):
    return f"{c['dataset']}-{c['method']}-{c['estimator']}-{c['side_arg']}"


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("case", GOLD["trimfill"], ids=_tid)
def test_trimfill(case):
    res = rm.meta_analysis(data(case["dataset"]), method=case["method"])
    side = None if case["side_arg"] == "auto" else case["side_arg"]
    if "error" in case:  # metafor stops (Q0 undefined: the square root of a negative number)
        with pytest.raises(ModelError, match="Q0.*undefined"):
            trim_and_fill(res, estimator=case["estimator"], side=side)
        return
    tf = trim_and_fill(res, estimator=case["estimator"], side=side)
    assert tf.side == case["side"]
    assert tf.k0 == case["k0"]
    close(tf.se_k0, case["se_k0"], CLOSED, atol=1e-12, what="se k0")
    close(tf.p_k0, case["p_k0"], CLOSED, atol=1e-12, what="p k0")
    tol = ITERATIVE if case["method"] in ITER else CLOSED
    m = tf.model
    assert m.k == case["k"]
    close(m.beta.iloc[0], case["beta"], tol, atol=1e-10, what="beta")
    close(m.se[0], case["se"], tol, what="se")
    close(m.tau2 if m.random else 0.0, case["tau2"], tol, atol=1e-10, what="tau2")
    close(m.to_frame()["pval"], case["pval"], tol, atol=1e-12, what="pval")
    close(m.to_frame()["ci_low"], case["ci_lb"], tol, atol=1e-10, what="ci lb")
    f = tf.to_frame()
    close(f["yi"], case["yi"], CLOSED, atol=1e-12, what="yi filled")
    close(f["vi"], case["vi"], CLOSED, what="vi filled")
    assert f["filled"].tolist() == case["fill"]


def test_trimfill_published_bcg():
    # C7: REML model, 1 study imputed on the right (SE 2.4528); k = 14: -0.6571 (SE 0.1785)
    tf = trim_and_fill(rm.meta_analysis(data("bcg")))
    assert (tf.k0, tf.side, round(tf.se_k0, 4)) == (1, "right", 2.4528)
    assert (round(tf.model.beta.iloc[0], 4), round(tf.model.se[0], 4), tf.model.k) == (
        -0.6571,
        0.1785,
        14,
    )


def _fid(c):
    return f"{c['dataset']}-{c['type']}-{c['target']}-{c['weighted']}-{c.get('alpha', 0.05)}"


@pytest.mark.parametrize("case", GOLD["fsn"], ids=_fid)
def test_fsn(case):
    d = data(case["dataset"])
    r = fail_safe_n(
        d,
        case["type"],
        alpha=case.get("alpha", 0.05),
        target=case["target"],
        weighted=case["weighted"],
        test=case.get("test", "Stouffer"),
    )
    assert r.fsnum == case["fsnum"]
    close(r.pval, case["pval"], CLOSED, atol=1e-300, what="pval")
    close(r.mean_effect, case["meanes"], CLOSED, what="mean effect")
    if case["type"] == "Orwin":
        close(r.target, case["target_out"], CLOSED, what="target")


def test_fsn_fisher_edges():
    # not significant: nothing to overturn
    d = pd.DataFrame({"yi": [0.1, -0.05, 0.02], "vi": [0.04, 0.05, 0.03]})
    r = fail_safe_n(d, test="Fisher")
    assert r.fsnum == 0 and r.pval > 0.05
    # |z| = 60: p_i underflows to 0 in double precision, its logarithm does not
    d = pd.DataFrame({"yi": [6.0, 5.0, 0.1], "vi": [0.01, 0.01, 0.01]})
    r = fail_safe_n(d, test="Fisher")
    assert np.isfinite(r.fsnum) and r.fsnum > 1000 and 0 <= r.pval < 1e-300
    with pytest.raises(ValueError, match="test"):
        fail_safe_n(d, test="Edgington")


def test_fsn_from_result_equals_data():
    d = data("bcg")
    assert fail_safe_n(rm.meta_analysis(d)).fsnum == fail_safe_n(d).fsnum == 598


def test_funnel_data_contract():
    res = rm.meta_analysis(data("bcg"))
    fd = funnel_data(res)
    f = fd.to_frame()
    assert list(f.columns) == ["yi", "sei", "label"]
    lo, hi = fd.contours[0.95]
    close(hi[-1], 1.959963984540054 * fd.se_grid[-1], CLOSED)
    assert set(fd.contour_frame().columns) == {"level", "sei", "low", "high"}
    tf = trim_and_fill(res)
    ff = funnel_data(tf).to_frame()
    assert ff["filled"].sum() == tf.k0 and len(ff) == res.k + tf.k0
    reg = funnel_data(rm.meta_analysis(data("bcg"), mods="~ x1"))
    close(
        reg.to_frame()["yi"].to_numpy(),
        rm.meta_analysis(data("bcg"), mods="~ x1").residuals()["resid"],
        CLOSED,
    )
    assert fd.to_json()


def test_pet_peese_is_egger_lm_intercepts():
    res = rm.meta_analysis(data("egger_noisis"))
    pp = pet_peese(res)
    pet = egger_test(res, model="lm", predictor="sei")
    peese = egger_test(res, model="lm", predictor="vi")
    t = pp.to_frame().set_index("method")
    close(t.loc["PET", "estimate"], pet.limit_estimate, CLOSED)
    close(t.loc["PEESE", "estimate"], peese.limit_estimate, CLOSED)
    assert pp.chosen == ("PEESE" if pet.limit_pval < 0.05 else "PET")
    assert pp.estimate == (peese if pp.chosen == "PEESE" else pet).limit_estimate
    one = pet_peese(res, alternative="less")
    assert one.chosen in ("PET", "PEESE")


def test_errors():
    res = rm.meta_analysis(data("bcg"), mods="~ x1")
    with pytest.raises(ModelError):
        trim_and_fill(res)
    with pytest.raises(ModelError, match="predictor"):
        egger_test(res, predictor="foo")
    with pytest.raises(ModelError):
        fail_safe_n([1, 2])
    eg = egger_test(res)  # meta-regression: no limit estimate
    assert np.isnan(eg.limit_estimate)


def _sid(c):
    return f"{c['dataset']}-{c['method']}-{c['steps']}-{c['alternative']}" + (
        "-mods" if c.get("mods") else ""
    )


@pytest.mark.parametrize("case", GOLD["selmodel"], ids=_sid)
def test_selmodel_stepfun(case):
    from rlmeta.bias import selection_model

    res = rm.meta_analysis(
        data(case["dataset"]), method=case["method"], mods=case.get("mods") or None
    )
    sm = selection_model(res, steps=case["steps"], alternative=case["alternative"])
    assert sm.converged
    # same maximum: metafor's optimiser stops at reltol 1e-8, ours reaches an equal or higher log-likelihood
    assert sm.loglik >= case["ll"] - 1e-9
    close(sm.loglik, case["ll"], 1e-8, what="ll")
    close(sm.loglik0, case["ll0"], 1e-8, what="ll0")
    close(sm.lrt, case["LRT"], 1e-6, atol=1e-7, what="LRT")
    close(sm.lrt_pval, case["LRTp"], 1e-6, what="LRT p")
    opt = 1e-4  # parameters: limited by metafor's optimiser precision
    close(sm.coefficients["estimate"], case["beta"], opt, what="beta")
    close(sm.coefficients["se"], case["se"], opt, what="se")
    close(sm.coefficients["pval"], case["pval"], 5 * opt, atol=1e-10, what="pval")
    close(sm.tau2, case["tau2"], opt, atol=1e-10, what="tau2")
    if case["se_tau2"] is not None:
        close(sm.se_tau2, case["se_tau2"], opt, what="se tau2")
    close(sm.delta["delta"], case["delta"], opt, what="delta")
    close(sm.delta["se"].iloc[1:], case["se_delta"][1:], opt, what="se delta")
    assert sm.delta["k"].tolist() == list(np.atleast_1d(case["ptable"]))
    if case.get("mods"):
        close(sm.qm, case["QM"], opt, what="QM")


def test_selmodel_published_bcg():
    # meta_anchors C7: -0.6206 (SE 0.2613), tau2 0.2912, delta2 0.6355, LRT 0.2425, p = 0.6224
    from rlmeta.bias import selection_model

    sm = selection_model(rm.meta_analysis(data("bcg")), steps=0.025, alternative="less")
    t = sm.coefficients.iloc[0]
    assert (round(t["estimate"], 4), round(t["se"], 4), round(sm.tau2, 4)) == (
        -0.6206,
        0.2613,
        0.2912,
    )
    assert (round(sm.delta["delta"].iloc[1], 4), round(sm.lrt, 4), round(sm.lrt_pval, 4)) == (
        0.6355,
        0.2425,
        0.6224,
    )
    assert "selection model" in sm.summary() and sm.to_json()
