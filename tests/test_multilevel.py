"""rma.mv parity: nested random intercepts (2, 3 and 4 levels), ML/REML, z/t/contain,
moderators, known V from vcalc, profile CIs, I², predictions and BLUPs.

Golden values: tests/reference/make_golden_mv.R (metafor 3.8-1, default settings).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import ModelError
from rlmeta.meta.multilevel import fit_multilevel
from rlmeta.meta.vcalc import BlockV, as_block_v, vcalc
from tests._tol import CLOSED, ITERATIVE, close
from tests.conftest import load_golden

GOLD = load_golden("golden_rma_mv.json")
CASES = GOLD["cases"]
#: sigma2 at the boundary: metafor (log-scale nlminb) stops near 1e-10, rlmeta at 0.
SIGMA2_ATOL = 1e-8


def _data(name: str) -> pd.DataFrame:
    return pd.DataFrame(GOLD["datasets"][name])


def _fit(case, **kw):
    d = _data(case["dataset"])
    V = None
    if case.get("V"):
        spec = case["V"]
        V = vcalc(d, cluster=spec["cluster"], obs=spec.get("obs"), rho=spec["rho"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_multilevel(
            d,
            random=case["random"],
            mods=case.get("mods"),
            method=case["method"],
            test=case["test"],
            dfs=case["dfs"],
            V=V,
            **kw,
        )


@pytest.fixture(scope="module")
def fits():
    return {key: _fit(case) for key, case in CASES.items() if "error" not in case}


@pytest.mark.parametrize("key", sorted(CASES))
def test_rma_mv_case(key, fits):
    case = CASES[key]
    res = fits[key]
    tol = ITERATIVE
    close(res.sigma2, np.atleast_1d(case["sigma2"]), tol, atol=SIGMA2_ATOL, what="sigma2")
    tab = res.to_frame()
    close(tab["estimate"], case["beta"], tol, atol=1e-9, what="beta")
    close(tab["se"], case["se"], tol, what="se")
    close(tab["stat"], case["zval"], tol, atol=1e-8, what="stat")
    close(tab["pval"], case["pval"], tol, atol=1e-12, what="pval")
    close(tab["ci_low"], case["ci_lb"], tol, atol=1e-9, what="ci_lb")
    close(tab["ci_high"], case["ci_ub"], tol, atol=1e-9, what="ci_ub")
    if case["test"] == "t":
        close(tab["df"], case["ddf"], CLOSED, what="ddf")
    close(res.q, case["QE"], CLOSED, what="QE")
    close(res.q_pval, case["QEp"], 1e-7, atol=1e-14, what="QEp")
    close(res.qm, case["QM"], tol, what="QM")
    close(res.qm_pval, case["QMp"], tol, atol=1e-12, what="QMp")
    assert res.qm_df == case["QMdf"][0]
    if case["test"] == "t":
        close(res._omnibus.ddf, case["QMdf"][1], CLOSED, what="QM ddf")
    assert res.parms == case["parms"]
    close(res.n_groups, np.atleast_1d(case["s_nlevels"]), 0, what="levels")
    ml, reml = res.fit_stats("ML"), res.fit_stats("REML")
    cols = ("loglik", "deviance", "aic", "bic", "aicc")
    close([ml[c] for c in cols], case["fit_ML"], tol, what="fit ML")
    close([reml[c] for c in cols], case["fit_REML"], tol, what="fit REML")
    # multilevel I² (both weightings)
    for kind in ("sampling", "marginal"):
        t = res.i2_table(kind)
        close(t.loc["total", "i2"], case[f"i2_{kind}"]["total"], tol, what=f"I2 {kind}")
        close(
            t["i2"].iloc[1:],
            np.atleast_1d(case[f"i2_{kind}"]["levels"]),
            tol,
            atol=1e-7,
            what=f"I2 levels {kind}",
        )
    # predictions
    Xn = np.array(case["newmods"], float) if case.get("newmods") else None
    if Xn is not None and Xn.ndim == 1:
        Xn = Xn[:, None]
    pr = res.predict(Xn)
    # a prediction is a sum of terms: its error scales with the terms, not with the sum
    Xr = res._rows(Xn)
    atol = 1e-7 * float(np.max(np.abs(Xr) @ np.abs(res.to_frame()["estimate"].to_numpy()) + 1e-2))
    close(pr["pred"], case["pred"], tol, atol=atol, what="pred")
    close(pr["se"], case["pred_se"], tol, what="pred se")
    close(pr["ci_low"], case["pred_ci_lb"], tol, atol=atol, what="pred ci")
    close(pr["ci_high"], case["pred_ci_ub"], tol, atol=atol, what="pred ci")
    # the PI adds crit * sqrt(sum(sigma2)): its error scales with the interval's width
    atol_pi = atol + 1e-6 * float(np.max(np.abs(case["pi_ub"]) + np.abs(case["pi_lb"])))
    close(pr["pi_low"], case["pi_lb"], tol, atol=atol_pi, what="pi low")
    close(pr["pi_high"], case["pi_ub"], tol, atol=atol_pi, what="pi high")
    # BLUPs per level (matched by label)
    re = res.ranef()
    for name, gold, s2 in zip(res.level_names, case["ranef"], np.atleast_1d(case["sigma2"])):
        got = re[name].set_index("group").loc[[str(x) for x in np.atleast_1d(gold["label"])]]
        # at the boundary the BLUP SE is about sqrt(sigma2): metafor's ~1e-10 gives ~1e-5
        atol = 1e-4 if s2 < SIGMA2_ATOL else ITERATIVE * float(np.max(np.abs(gold["se"])))
        close(got["estimate"], gold["pred"], tol, atol=atol, what=f"ranef {name}")
        close(got["se"], gold["se"], tol, atol=atol, what=f"ranef se {name}")
        close(got["pi_low"], gold["pi_lb"], tol, atol=atol, what=f"ranef pi {name}")
        close(got["pi_high"], gold["pi_ub"], tol, atol=atol, what=f"ranef pi {name}")


CI_CASES = sorted(k for k, c in CASES.items() if "ci_default" in c)


@pytest.mark.parametrize("key", CI_CASES)
def test_profile_ci(key, fits):
    case = CASES[key]
    res = fits[key]
    ci = res.confint()
    free = ci[~res.sigma2_fixed]
    for j, gold in enumerate(_ci_list(case["ci_default"])):
        # metafor stops uniroot at eps^0.25; rlmeta takes the same Brent steps
        close(
            free.iloc[j][["ci_low", "ci_high"]].astype(float),
            gold[1:],
            ITERATIVE,
            atol=1e-9,
            what=f"CI {j}",
        )
    if "ci_tight" in case:
        ci = res.confint(tol=1e-10)[~res.sigma2_fixed]
        for j, gold in enumerate(_ci_list(case["ci_tight"])):
            close(
                ci.iloc[j][["ci_low", "ci_high"]].astype(float),
                gold[1:],
                ITERATIVE,
                atol=1e-9,
                what=f"tight CI {j}",
            )


def _ci_list(gold):
    if isinstance(gold, dict):
        return [gold[k] for k in sorted(gold, key=int)]
    return gold


def test_konstantopoulos_published(fits):
    """Published values (metafor docs, meta_anchors.md C8)."""
    res = fits["konst_reml_z"]
    assert np.round(res.sigma2, 4).tolist() == [0.0651, 0.0327]
    tab = res.to_frame().iloc[0]
    assert round(tab["estimate"], 4) == 0.1847 and round(tab["se"], 4) == 0.0846
    assert round(tab["stat"], 4) == 2.1845 and round(tab["pval"], 4) == 0.0289
    assert round(res.q, 4) == 578.8640
    ci = res.confint()
    assert np.round(ci["ci_low"].to_numpy(float), 4).tolist() == [0.0222, 0.0163]
    assert np.round(ci["ci_high"].to_numpy(float), 4).tolist() == [0.2072, 0.0628]
    c = fits["konst_reml_contain"].to_frame().iloc[0]
    assert c["df"] == 10 and round(c["pval"], 4) == 0.0538
    assert round(c["ci_low"], 4) == -0.0037 and round(c["ci_high"], 4) == 0.3731
    t = res.i2_table("marginal")
    assert np.round(t["i2"].to_numpy(), 2).tolist() == [63.19, 42.04, 21.15]
    d = res.to_dict()
    for key in (
        "k",
        "method",
        "test",
        "level",
        "coefficients",
        "sigma2",
        "i2",
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
        assert key in d
    assert "tau2" not in d and len(d["sigma2_ci"]) == 2


def test_vcalc_matches_metafor():
    for spec in GOLD["vcalc"]:
        d = _data(spec["d"])
        V = vcalc(d, cluster=spec["cluster"], obs=spec["obs"], rho=spec["rho"])
        close(V.to_dense(), np.array(spec["V"]), CLOSED, what="vcalc")


def test_v_forms_agree():
    d = _data("g3_small")
    Vb = vcalc(d, cluster="comp_id", obs="es", rho=0.6)
    ref = fit_multilevel(d, random="study/comp", V=Vb)
    dense = fit_multilevel(d, random="study/comp", V=Vb.to_dense())
    sparse = fit_multilevel(d, random="study/comp", V=Vb.to_sparse())
    blocks = {lab: b for lab, b in zip(Vb.labels, Vb.blocks)}
    bydict = fit_multilevel(d, random="study/comp", V=blocks, cluster="comp_id")
    for other in (dense, sparse, bydict):
        close(other.sigma2, ref.sigma2, 1e-10)
        close(other.to_frame()["estimate"], ref.to_frame()["estimate"], 1e-10)
    assert isinstance(as_block_v(Vb.to_dense(), len(d)), BlockV)


def test_missing_values_logged_and_v_subset():
    d = _data("g3_small")
    Vb = vcalc(d, cluster="comp_id", obs="es", rho=0.6)
    d2 = d.copy()
    d2.loc[[3, 10], "yi"] = np.nan
    with pytest.warns(rm.DataWarning):
        res = fit_multilevel(d2, random="study/comp", V=Vb)
    keep = d2["yi"].notna().to_numpy()
    ref = fit_multilevel(
        d[keep].reset_index(drop=True), random="study/comp", V=Vb.subset(np.flatnonzero(keep))
    )
    assert res.k == len(d) - 2 and len(res.drop_log) == 2
    close(res.sigma2, ref.sigma2, 1e-10)


def test_meta_analysis_dispatch_and_order_invariance():
    d = _data("g3_med")
    res = rm.meta_analysis(d, random="study/comp", mods="~ x1")
    perm = d.sample(frac=1, random_state=3).reset_index(drop=True)
    res2 = rm.meta_analysis(perm, random="study/comp", mods="~ x1")
    close(res2.sigma2, res.sigma2, 1e-7)
    close(res2.to_frame()["estimate"], res.to_frame()["estimate"], 1e-7)
    assert "Multilevel Meta-Analysis Model" in res.summary()
    assert "<div>" in res._repr_html_()


def test_three_separate_levels_string_forms():
    d = _data("g4")
    a = fit_multilevel(d, random="study/comp/es")
    b = fit_multilevel(d, random="~ 1 | study/comp/es")
    c = fit_multilevel(d, random=["study", "comp", "es"])
    close(b.sigma2, a.sigma2, 1e-12)
    close(c.sigma2, a.sigma2, 1e-12)
    assert a.level_names == ["study", "study/comp", "study/comp/es"]


def test_errors():
    d = _data("g3_small")
    with pytest.raises(ModelError, match="not identifiable"):
        fit_multilevel(d, random="comp_id/es_id/study")
    with pytest.raises(ModelError, match="not found"):
        fit_multilevel(d, random="nope/comp")
    with pytest.raises(ModelError, match="REML"):
        fit_multilevel(d, random="study", method="DL")
    with pytest.raises(ModelError, match="test"):
        fit_multilevel(d, random="study", test="knha")
    tiny = pd.DataFrame(
        {"yi": [0.1, 0.3, 0.2], "vi": [0.01] * 3, "s": ["a", "b", "c"], "x": [1.0, 2, 4]}
    )
    with pytest.raises(ModelError, match="larger than the number"):
        fit_multilevel(tiny, random="s", mods="~ x + I(x**2)")
    with pytest.raises(ModelError, match="not positive definite"):
        V = vcalc(d, cluster="study", rho=1.0)
        fit_multilevel(d, random="study", V=V, sigma2=[0.0])


def test_fixed_sigma2_and_single_level_warning():
    d = _data("g_one")
    with pytest.warns(rm.DataWarning, match="single-level"):
        res = fit_multilevel(d, random="study/comp")
    assert res.sigma2_fixed.tolist() == [True, False] and res.sigma2[0] == 0
    fx = fit_multilevel(_data("g3_small"), random="study/comp", sigma2=[0.01, None])
    assert fx.sigma2[0] == 0.01 and fx.parms == 2


def test_boundary_reported(fits):
    res = fits["g2_single_3level"]
    assert res.sigma2[1] == 0
    assert any("boundary" in w for w in res.warnings)


def test_v_only_model_is_gls():
    """random=None with V: the equal-effects model with known V (generalised least squares)."""
    d = _data("g3_small")
    V = vcalc(d, cluster="comp_id", obs="es", rho=0.6)
    res = rm.meta_analysis(d, vi=None, random=None, V=V, mods="~ x1")
    Vi = np.linalg.inv(V.to_dense())
    X = np.column_stack([np.ones(len(d)), d["x1"]])
    vb = np.linalg.inv(X.T @ Vi @ X)
    b = vb @ X.T @ Vi @ d["yi"].to_numpy()
    close(res.to_frame()["estimate"], b, CLOSED)
    close(res.to_frame()["se"], np.sqrt(np.diag(vb)), CLOSED)
    r = d["yi"].to_numpy() - X @ b
    close(res.q, r @ Vi @ r, CLOSED)
    assert len(res.sigma2) == 0 and "none" in res.summary()


def test_v_per_cluster_through_meta_analysis():
    d = _data("g3_small")
    Vb = vcalc(d, cluster="comp_id", obs="es", rho=0.6)
    blocks = [b for b in Vb.blocks]  # in order of first appearance of comp_id
    res = rm.meta_analysis(d, random="study/comp", V=blocks, cluster="comp_id")
    ref = fit_multilevel(d, random="study/comp", V=Vb)
    close(res.sigma2, ref.sigma2, 1e-10)
    with pytest.raises(ModelError, match="cluster="):
        rm.meta_analysis(d, random="study/comp", V=blocks)


@pytest.mark.parametrize("c", [0.5, 3.0])
def test_scale_and_shift_equivariance(c):
    """Scaling y and V by c and c² scales beta by c and sigma2 by c²; a shift moves the intercept."""
    d = _data("g3_med")
    res = fit_multilevel(d, random="study/comp", mods="~ x1")
    d2 = d.assign(yi=c * d["yi"] + 1.0, vi=c * c * d["vi"])
    res2 = fit_multilevel(d2, random="study/comp", mods="~ x1")
    close(res2.sigma2, c * c * res.sigma2, 1e-7)
    b, b2 = res.to_frame()["estimate"].to_numpy(), res2.to_frame()["estimate"].to_numpy()
    close(b2, [c * b[0] + 1.0, c * b[1]], 1e-7)
    close(res2.to_frame()["stat"].iloc[1], res.to_frame()["stat"].iloc[1], 1e-6)


def test_sign_flip_and_duplicated_blocks_converge():
    d = _data("g4")
    res = fit_multilevel(d, random="study/comp/es")
    flip = fit_multilevel(d.assign(yi=-d["yi"]), random="study/comp/es")
    close(flip.sigma2, res.sigma2, 1e-7)
    close(flip.to_frame()["estimate"], -res.to_frame()["estimate"], 1e-7)
    assert res.converged and flip.converged


def test_anova_lrt_against_metafor_loglik(fits):
    """LRT for the comparison-level component: REML fits with sigma2 fixed to 0."""
    full = fits["konst_reml_z"]
    red = fit_multilevel(_data("konst"), random="district/school", sigma2=[None, 0.0])
    a = full.anova(red)
    assert a.df == 1 and a.lrt > 0
    close(a.table.loc["full", "loglik"], CASES["konst_reml_z"]["fit_REML"][0], ITERATIVE)
    two = fits[
        "konst_2level"
    ]  # rma.mv with ~ 1 | district only: the same likelihood as sigma2_school = 0
    close(red.sigma2[0], two.sigma2[0], 1e-7)
    with pytest.raises(ModelError, match="same method"):
        full.anova(fits["konst_ml_z"])


def test_optimizer_fallback_and_starting_values():
    d = _data("g4")
    ref = fit_multilevel(d, random="study/comp/es")
    slow = fit_multilevel(
        d, random="study/comp/es", control={"maxiter": 1}
    )  # forces the L-BFGS-B fallback
    assert slow.converged and slow.fitinfo.optimizer == "l-bfgs-b"
    close(slow.sigma2, ref.sigma2, 1e-7)
    for init in ([1.0, 1.0, 1.0], [1e-6, 1e-6, 1e-6]):
        close(
            fit_multilevel(d, random="study/comp/es", control={"sigma2_init": init}).sigma2,
            ref.sigma2,
            1e-7,
        )
    with pytest.raises(ModelError, match="control"):
        fit_multilevel(d, random="study", control={"bogus": 1})


def test_json_and_html(fits):
    import json

    res = fits["konst_year_reml"]
    d = json.loads(res.to_json())
    assert d["qm_df"] == 1 and "pi" not in d and len(d["sigma2_ci"]) == 2
    assert len(res.ranef()["district"]) == 11
    assert "Test of Moderators" in res.summary(ci=True)
