"""rma.uni parity: every estimator x test on several datasets, meta-regression, predictions.

Golden values: tests/reference/make_golden_uni.R (metafor, default control settings).
"""

from __future__ import annotations

import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import ModelError
from tests._tol import CLOSED, ITERATIVE, close
from tests.conftest import load_golden

GOLD = load_golden("golden_rma.json")
CASES = GOLD["cases"]
ITER_METHODS = {"ML", "REML", "EB", "PM", "PMM"}


def _data(name: str) -> pd.DataFrame:
    return pd.DataFrame(GOLD["datasets"][name])


def _fit(case):
    d = _data(case["dataset"])
    kw = {"method": case["method"], "test": case["test"]}
    if case["method"] == "GENQ":
        kw["weights"] = "w"
    return rm.meta_analysis(d, "yi", "vi", mods=case.get("mods") or None, **kw)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("key", sorted(CASES))
def test_rma_case(key):
    case = CASES[key]
    if "error" in case:
        with pytest.raises(ModelError):
            _fit(case)
        return
    res = _fit(case)
    tol = ITERATIVE if case["method"] in ITER_METHODS else CLOSED
    # tau2 found by iteration: every downstream number inherits its precision
    tab = res.to_frame()
    close(res.tau2, case["tau2"], tol, atol=1e-10, what="tau2")
    close(tab["estimate"], case["beta"], tol, atol=1e-10, what="beta")
    close(tab["se"], case["se"], tol, what="se")
    close(tab["stat"], case["zval"], tol, atol=1e-9, what="stat")
    close(tab["pval"], case["pval"], max(tol, 1e-7), atol=1e-12, what="pval")
    close(tab["ci_low"], case["ci_lb"], tol, atol=1e-10, what="ci_lb")
    close(tab["ci_high"], case["ci_ub"], tol, atol=1e-10, what="ci_ub")
    if case["se_tau2"] is not None:
        close(res.se_tau2, case["se_tau2"], tol, what="se_tau2")
    close(res.q, case["QE"], CLOSED, atol=1e-10, what="QE")
    close(res.q_pval, case["QEp"], 1e-7, atol=1e-14, what="QEp")
    close(res.i2, case["I2"], tol, atol=1e-8, what="I2")
    close(res.h2, case["H2"], tol, what="H2")
    close(res.qm, case["QM"], tol, what="QM")
    close(res.qm_pval, case["QMp"], max(tol, 1e-7), atol=1e-14, what="QMp")
    ml = res.fit_stats("ML")
    reml = res.fit_stats("REML")
    close(
        [ml[c] for c in ("loglik", "deviance", "aic", "bic", "aicc")],
        case["fit_ML"],
        tol,
        what="fit ML",
    )
    close(
        [reml[c] for c in ("loglik", "deviance", "aic", "bic", "aicc")],
        case["fit_REML"],
        tol,
        what="fit REML",
    )
    if case.get("R2") is not None:
        close(res.pseudo_r2, case["R2"], tol, atol=1e-6, what="R2")
    # predictions (pooled effect, fitted values, or the newdata rows)
    if not case.get("mods"):
        pr = res.predict()
    elif case.get("newdata"):
        pr = res.predict(pd.DataFrame(case["newdata"]))
    else:
        pr = res.predict()
    close(pr["pred"], case["pred"], tol, atol=1e-10, what="pred")
    close(pr["se"], case["pred_se"], tol, what="pred se")
    close(pr["ci_low"], case["ci_pred_lb"], tol, atol=1e-10, what="pred ci")
    if case.get("pi_lb") is not None and res.random:
        close(pr["pi_low"], case["pi_lb"], tol, atol=1e-10, what="pi low")
        close(pr["pi_high"], case["pi_ub"], tol, atol=1e-10, what="pi high")
    if "tau2_ci" in case:
        ci = res.confint()
        close(
            ci.loc["tau2", ["ci_low", "ci_high"]],
            case["tau2_ci"],
            ITERATIVE,
            atol=1e-9,
            what="tau2 CI",
        )
        close(
            ci.loc["i2", ["ci_low", "ci_high"]], case["I2_ci"], ITERATIVE, atol=1e-7, what="I2 CI"
        )
        close(ci.loc["h2", ["ci_low", "ci_high"]], case["H2_ci"], ITERATIVE, what="H2 CI")
