"""Profile-likelihood CIs of tau², tau, I², H² (confint(type="PL")): metafor parity and errors."""

from __future__ import annotations

import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import ModelError
from tests._tol import CLOSED, ITERATIVE, close
from tests.conftest import load_golden

GOLD = load_golden("golden_pl.json")


def _tid(c):
    return f"{c['dataset']}-{c['method']}-{'mods' if c['mods'] else 'int'}-{c['level']}"


@pytest.mark.parametrize("case", GOLD["cases"], ids=_tid)
def test_against_metafor(case):
    d = pd.DataFrame(GOLD["datasets"][case["dataset"]])
    res = rm.meta_analysis(
        d, method=case["method"], mods="~ x" if case["mods"] else None, level=case["level"]
    )
    close(res.tau2, case["tau2"], ITERATIVE, atol=1e-10, what="tau2")
    ci = res.confint(type="PL")
    # the bounds are roots found with R's uniroot tolerance (eps^0.25): same algorithm,
    # same iterates, so they agree far beyond it (1e-13 measured; closed-form tolerance)
    for row, lo, hi in [
        ("tau2", "tau2_lb", "tau2_ub"),
        ("tau", "tau_lb", "tau_ub"),
        ("i2", "i2_lb", "i2_ub"),
        ("h2", "h2_lb", "h2_ub"),
    ]:
        close(ci.loc[row, "ci_low"], case[lo], CLOSED, atol=1e-10, what=f"{row} low")
        close(ci.loc[row, "ci_high"], case[hi], CLOSED, atol=1e-10, what=f"{row} high")
    assert bool(ci.loc["tau2", "ci_low_bounded"]) == (case["lb_sign"] == "<")
    assert bool(ci.loc["tau2", "ci_high_bounded"]) == (case["ub_sign"] == ">")


def test_pl_refuses_what_metafor_refuses():
    d = pd.DataFrame(GOLD["datasets"]["bcg"])
    with pytest.raises(ModelError, match="ML or REML"):
        rm.meta_analysis(d, method="DL").confint(type="PL")
    with pytest.raises(ModelError, match="not estimated"):
        rm.meta_analysis(d, tau2=0.1).confint(type="PL")
    with pytest.raises(ModelError, match="type must be"):
        rm.meta_analysis(d).confint(type="Wald")


def test_pl_interval_is_narrower_than_qp_on_bcg_as_published():
    # metafor's documentation example: REML on dat.bcg, PL [0.1152, 0.9647], QP [0.1197, 1.1115]
    res = rm.meta_analysis(pd.DataFrame(GOLD["datasets"]["bcg"]))
    pl, qp = res.confint(type="PL"), res.confint()
    assert (
        round(pl.loc["tau2", "ci_low"], 4) == 0.1152
        and round(pl.loc["tau2", "ci_high"], 4) == 0.9647
    )
    assert (
        round(qp.loc["tau2", "ci_low"], 4) == 0.1197
        and round(qp.loc["tau2", "ci_high"], 4) == 1.1115
    )
