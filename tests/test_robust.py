"""Cluster-robust inference: metafor ``robust()`` (CR1), clubSandwich CR2 with Satterthwaite df
and HTZ Wald tests, robumeta correlated-effects weights.

Golden values: tests/reference/make_golden_mv.R (metafor 3.8-1, clubSandwich 0.5.8, robumeta).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import rlmeta as rm
from rlmeta.errors import ModelError
from rlmeta.meta.robust import RobustResult, robust
from tests._tol import ITERATIVE, close
from tests.test_multilevel import CASES, GOLD, _data, _fit

ROBUST = GOLD["robust"]


def _check(rob: RobustResult, gold: dict, tol: float = ITERATIVE):
    tab = rob.to_frame()
    scale = float(np.max(np.abs(gold["se"])))
    close(tab["estimate"], gold["beta"], tol, atol=1e-9, what="beta")
    close(tab["se"], gold["se"], tol, what="se")
    close(tab["stat"], gold["tval"], tol, atol=1e-8, what="t")
    close(tab["df"], gold["df"], tol, what="df")
    close(tab["pval"], gold["pval"], tol, atol=1e-12, what="p")
    close(tab["ci_low"], gold["ci_lb"], tol, atol=tol * scale, what="ci low")
    close(tab["ci_high"], gold["ci_ub"], tol, atol=tol * scale, what="ci high")
    assert rob.n_clusters == gold["n"]
    close(rob.wald["stat"], gold["QM"], tol, what="QM")
    close([rob.wald["df1"], rob.wald["df2"]], gold["QMdf"], tol, what="QM df")
    close(rob.wald["pval"], gold["QMp"], tol, atol=1e-12, what="QM p")


@pytest.fixture(scope="module")
def mv_fits():
    return {key: _fit(CASES[key]) for key in ROBUST}


@pytest.mark.parametrize("key", sorted(ROBUST))
@pytest.mark.parametrize("adjust", ["CR1", "CR2"])
def test_robust_rma_mv(key, adjust, mv_fits):
    gold = ROBUST[key]
    res = mv_fits[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rob = res.robust(gold["cluster"], adjust=adjust)
    _check(rob, gold[adjust])
    if adjust == "CR2" and "wald_all" in gold:
        w = gold["wald_all"]
        rob_all = robust(res, gold["cluster"], "CR2", btt=list(range(res.p)))
        close(rob_all.wald["stat"], w["Fstat"], ITERATIVE, what="HTZ F")
        close(rob_all.wald["df2"], w["df_denom"], ITERATIVE, what="HTZ df")
        close(rob_all.wald["pval"], w["p_val"], ITERATIVE, atol=1e-12, what="HTZ p")


@pytest.mark.parametrize("key", sorted(GOLD["uni_robust"]))
@pytest.mark.parametrize("adjust", ["CR1", "CR2"])
def test_robust_rma_uni(key, adjust):
    gold = GOLD["uni_robust"][key]
    d = _data(gold["dataset"])
    kw = {"weights": 1 / (d["vi"] + 0.01)} if gold["weights"] else {}
    res = rm.meta_analysis(d, mods=gold["mods"], **kw)
    close(res.tau2, gold["tau2"], ITERATIVE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rob = res.robust(gold["cluster"], adjust=adjust)
    _check(rob, gold[adjust])
    if adjust == "CR2":
        w = gold["wald_all"]
        rob_all = robust(res, gold["cluster"], "CR2", btt=[0, 1, 2, 3])
        close(rob_all.wald["stat"], w["Fstat"], ITERATIVE, what="HTZ F")
        close(rob_all.wald["df2"], w["df_denom"], ITERATIVE, what="HTZ df")


@pytest.mark.parametrize("i", range(len(GOLD["ce"])))
def test_correlated_effects_weights(i):
    gold = GOLD["ce"][i]
    d = _data(gold["dataset"])
    rhs = gold["formula"].split("~")[1].strip()
    res = rm.meta_analysis(d, mods=None if rhs == "1" else "~ " + rhs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rob = res.robust("study", weights="CE", rho=gold["rho"])
    close(rob.tau2_ce, gold["tau2"], 1e-8, what="CE tau2")
    tab = rob.to_frame()
    close(tab["estimate"], gold["beta"], 1e-8, atol=1e-12, what="beta")
    close(tab["se"], gold["se"], 1e-8, what="se")
    close(tab["df"], gold["df"], 1e-8, what="df")
    close(tab["pval"], gold["pval"], 1e-8, what="p")
    if "wald" in gold:
        close(rob.wald["stat"], gold["wald"]["Fstat"], 1e-8, what="HTZ F")
        close(rob.wald["df2"], gold["wald"]["df_denom"], 1e-8, what="HTZ df2")
        close(rob.wald["pval"], gold["wald"]["p_val"], 1e-8, what="HTZ p")


def test_published_konstantopoulos(mv_fits):
    res = mv_fits["konst_reml_z"]
    cr1 = res.robust("district", adjust="CR1").to_frame().iloc[0]
    assert round(cr1["se"], 4) == 0.0845 and round(cr1["stat"], 4) == 2.1859
    assert cr1["df"] == 10 and round(cr1["pval"], 4) == 0.0537
    cr2 = res.robust("district").to_frame().iloc[0]
    assert (
        round(cr2["stat"], 4) == 2.1870
        and round(cr2["df"], 2) == 9.86
        and round(cr2["pval"], 4) == 0.0540
    )


def test_result_api(mv_fits):
    rob = mv_fits["g3_small_REML_z_mods"].robust("study")
    d = rob.to_dict()
    assert d["n_clusters"] == 12 and d["adjust"] == "CR2" and len(d["coefficients"]) == 4
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
    assert "HTZ" in rob.summary() and "<div>" in rob._repr_html_()
    assert rob.vcov.shape == (4, 4)


def test_few_clusters_warn_and_errors(mv_fits):
    res = mv_fits["g3_small_REML_z_mods"]
    d = res.data
    few = np.where(d["study"] <= 6, 1, 2)  # two clusters
    with pytest.raises(ModelError, match="larger than the number of coefficients"):
        robust(res, few)
    with pytest.raises(ModelError, match="2 clusters"):
        robust(res, np.ones(res.k))
    r = rm.meta_analysis(d, random="study/comp")
    rob = robust(r, np.where(d["study"] <= 6, 1, np.where(d["study"] <= 9, 2, 3)))
    assert any("unreliable" in w for w in rob.warnings)
    with pytest.raises(ModelError, match="not nested"):
        robust(r, "comp_id")
    cr1 = robust(r, "comp_id", adjust="CR1")  # CR1 works with any clustering (as metafor)
    assert cr1.n_clusters == d["comp_id"].nunique()
    with pytest.raises(ModelError, match="adjust"):
        robust(r, "study", adjust="HC3")
