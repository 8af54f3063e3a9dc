"""Mantel-Haenszel and Peto pooling of 2x2 tables: metafor parity (rma.mh, rma.peto) and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import EffectError, ModelError
from tests._tol import CLOSED, close
from tests.conftest import load_golden

GOLD = load_golden("golden_tables.json")


def _tid(c):
    return f"{c['dataset']}-{c['method']}-{c['measure']}-{c['correct']}"


@pytest.mark.parametrize("case", GOLD["cases"], ids=_tid)
def test_against_metafor(case):
    d = pd.DataFrame(GOLD["datasets"][case["dataset"]])
    if case["method"] == "Peto":
        r = rm.peto(d)
    else:
        correct = case["correct"] if case["correct"] is not None else True
        r = rm.mantel_haenszel(d, case["measure"], correct=correct)
    assert (r.k, r.k_yi) == (case["k"], case["k_yi"])
    for ours, theirs in [
        ("estimate", "beta"),
        ("se", "se"),
        ("zval", "zval"),
        ("pval", "pval"),
        ("ci_low", "ci_lb"),
        ("ci_high", "ci_ub"),
        ("q", "QE"),
        ("q_pval", "QEp"),
        ("i2", "I2"),
        ("h2", "H2"),
    ]:
        close(getattr(r, ours), case[theirs], CLOSED, atol=1e-12, what=ours)
    if case["method"] == "MH" and case["measure"] == "OR":
        assert r.k_pos == case["k_pos"]
        for ours, theirs in [
            ("cmh", "CMH"),
            ("cmh_pval", "CMHp"),
            ("tarone", "TA"),
            ("tarone_pval", "TAp"),
            ("breslow_day", "BD"),
            ("breslow_day_pval", "BDp"),
        ]:
            close(getattr(r, ours), case[theirs], CLOSED, atol=1e-12, what=ours)


def test_wide_scores_give_the_same_tables_as_counts():
    w = pd.DataFrame(
        {
            "rl_score": [60.0, 45.5],
            "baseline_score": [50.0, 40.0],
            "rl_n": [200, 400],
            "baseline_n": [200, 400],
            "score_scale": ["percent", "percent"],
        }
    )
    counts = pd.DataFrame(
        {"ai": [120, 182], "n1i": [200, 400], "ci": [100, 160], "n2i": [200, 400]}
    )
    a = rm.mantel_haenszel(w, "RD")
    b = rm.mantel_haenszel(counts, "RD")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert a.se == pytest.approx(b.se, rel=1e-12)
    # the MH risk difference of tables of equal size is the weighted mean of the differences
    assert a.estimate == pytest.approx(np.average([0.10, 0.055], weights=[100, 200]), rel=1e-12)


def test_bundled_dataset_pools():
    data = rm.datasets.load_rl_llm_studies()
    usable = data[data["score_scale"].isin(["percent", "proportion"]) & data["n_items"].notna()]
    res = rm.mantel_haenszel(usable, "OR")
    assert res.k == len(usable) and np.isfinite(res.estimate) and res.q > 0
    assert "Mantel-Haenszel" in res.summary() and "Tarone" in res.summary()
    assert set(res.to_dict()) >= {"estimate", "se", "q", "i2", "cmh", "tarone"}
    assert res.to_frame().loc[0, "term"] == "intercept"


def test_errors_name_the_problem():
    with pytest.raises(ModelError, match="measure must be OR, RR or RD"):
        rm.mantel_haenszel(pd.DataFrame({"ai": [1], "bi": [1], "ci": [1], "di": [1]}), "SMD")
    with pytest.raises(EffectError, match=r"row 2.*missing or negative count"):
        rm.mantel_haenszel(pd.DataFrame({"ai": [1, -1], "bi": [1, 2], "ci": [1, 1], "di": [1, 1]}))
    with pytest.raises(EffectError, match="need count columns"):
        rm.peto(pd.DataFrame({"x": [1]}))
    with pytest.raises(EffectError, match="score_scale"):
        rm.mantel_haenszel(
            pd.DataFrame(
                {
                    "rl_score": [3.0],
                    "baseline_score": [2.0],
                    "n_items": [10],
                    "score_scale": ["raw"],
                }
            )
        )
    none = pd.DataFrame({"ai": [0, 0], "bi": [10, 12], "ci": [0, 0], "di": [9, 11]})
    with pytest.raises(ModelError, match="OR is undefined"):
        rm.mantel_haenszel(none, "OR")
    with pytest.raises(ModelError, match="zero variance"):
        rm.peto(none)
    with pytest.raises(ModelError, match="not on a log scale"):
        _ = rm.mantel_haenszel(
            pd.DataFrame({"ai": [3], "bi": [7], "ci": [2], "di": [8]}), "RD"
        ).exp_estimate
