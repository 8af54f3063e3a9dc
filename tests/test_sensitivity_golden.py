"""metafor parity of leave1out, cumul, influence, baujat, permutest (exact) and gosh.

Golden values: tests/reference/make_golden_sens.R (metafor 3.8.1, default controls).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.sensitivity import baujat, cumulative, gosh, influence, leave_one_out, permutation_test
from tests._tol import CLOSED, ITERATIVE, close
from tests.conftest import load_golden

GOLD = load_golden("golden_sens.json")
ITER = {"ML", "REML", "EB", "PM", "PMM"}


def data(name: str, rows=None) -> pd.DataFrame:
    d = pd.DataFrame(GOLD["datasets"][name])
    if rows is not None:
        d = d.iloc[np.asarray(rows) - 1].reset_index(drop=True)
    return d


def fit(case, d=None, **kw):
    d = data(case["dataset"]) if d is None else d
    return rm.meta_analysis(
        d,
        method=case["method"],
        test=case.get("test", "z"),
        mods=case.get("mods") or None,
        weights=case.get("weights") or None,
        **kw,
    )


def tol(case):
    return ITERATIVE if case["method"] in ITER else CLOSED


def _id(case):
    return "-".join(
        str(case.get(k)) for k in ("dataset", "method", "test", "mods") if case.get(k) is not None
    )


@pytest.mark.parametrize("case", GOLD["leave1out"], ids=_id)
def test_leave1out(case):
    res = fit(case)
    f = leave_one_out(res).to_frame()
    t = tol(case)
    for col in (
        "estimate",
        "se",
        "stat",
        "pval",
        "ci_low",
        "ci_high",
        "q",
        "q_pval",
        "tau2",
        "i2",
        "h2",
    ):
        close(f[col], case[col], t, atol=1e-10, what=col)
    assert (f["k"] == res.k - 1).all()
    cl = leave_one_out(res, cluster="cl").to_frame()
    for col in ("estimate", "se", "pval", "tau2", "i2", "k"):
        close(cl[col], case["cluster"][col], t, atol=1e-10, what=f"cluster {col}")


@pytest.mark.parametrize("case", GOLD["cumul"], ids=_id)
def test_cumul(case):
    d = data(case["dataset"])
    res = fit(case, d, slab=[str(i + 1) for i in range(len(d))])
    f = cumulative(res, order=case["order"]).to_frame()
    assert f["label"].tolist() == case["slab"]
    t = tol(case)
    for col in (
        "estimate",
        "se",
        "stat",
        "pval",
        "ci_low",
        "ci_high",
        "q",
        "q_pval",
        "tau2",
        "i2",
        "h2",
    ):
        close(f[col], case[col], t, atol=1e-10, what=col)
    assert f["k"].tolist() == list(range(1, len(d) + 1))


@pytest.mark.parametrize("case", GOLD["influence"], ids=_id)
def test_influence(case):
    res = fit(case)
    inf = influence(res)
    f = inf.to_frame()
    t = tol(case)
    for col in ("rstudent", "dffits", "cooks_d", "cov_r", "tau2_del", "qe_del", "hat", "weight"):
        close(f[col], case[col], t, atol=1e-9, what=col)
    for j, term in enumerate(res.terms):
        close(
            f[f"dfbetas_{term}"],
            list(case["dfbetas"].values())[j],
            t,
            atol=1e-9,
            what=f"dfbetas {term}",
        )
    assert f["influential"].tolist() == case["is_infl"]
    b = baujat(res).to_frame()
    close(b["x"], case["baujat_x"], t, atol=1e-10, what="baujat x")
    close(b["y"], case["baujat_y"], t, atol=1e-10, what="baujat y")


def test_influence_published_bcg():
    # metafor docs (influence.rma.uni): study 4 flagged, Cook's D 7.3179, hat 0.8082, DFFITS -2.9415
    d = data("bcg")
    f = influence(rm.meta_analysis(d, mods="~ x1 + year")).to_frame()
    assert f["influential"].tolist() == [i == 3 for i in range(13)]
    assert round(f["cooks_d"][3], 4) == 7.3179
    assert round(f["hat"][3], 4) == 0.8082
    assert round(f["dffits"][3], 4) == -2.9415


@pytest.mark.parametrize("case", GOLD["permutest"], ids=_id)
def test_permutest_exact(case):
    res = fit(case)
    pt = permutation_test(res, exact=True, quiet=True)
    assert pt.exact
    assert pt.n_perm == case["exact_iter"]
    close(pt.to_frame()["perm_pval"], case["pval"], 1e-12, atol=1e-12, what="pval")
    close(pt.qm_pval, case["QMp"], 1e-12, atol=1e-12, what="QMp")
    close(np.sort(pt.qm_dist), case["QM_perm_sorted"], tol(case), atol=1e-9, what="QM distribution")


@pytest.mark.parametrize("case", GOLD["gosh"], ids=_id)
def test_gosh_full_table(case):
    d = data(case["dataset"], case["rows"])
    res = fit(case, d)
    g = gosh(res, quiet=True)
    f = g.to_frame()
    assert g.exact
    codes = (g.membership.astype(np.int64) * (2 ** np.arange(res.k))).sum(1)
    assert codes.tolist() == [int(c) for c in case["code"]]
    t = tol(case)
    close(f["k"], case["k"], 0, what="k")
    close(f["q"], case["QE"], t, atol=1e-9, what="QE")
    close(f["i2"], case["I2"], t, atol=1e-7, what="I2")
    close(f["h2"], case["H2"], t, atol=1e-9, what="H2")
    close(f["tau2"], case["tau2"], t, atol=1e-9, what="tau2")
    betas = list(case["beta"].values())
    close(f["estimate"], betas[0], t, atol=1e-9, what="estimate")
    for j, term in enumerate(res.terms[1:], start=1):
        close(f[f"coef_{term}"], betas[j], t, atol=1e-9, what=term)
