"""Common checks on every sensitivity / bias result; GOSH clustering; approximate permutation tests."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import ModelError
from rlmeta.sensitivity import _engine
from tests.conftest import load_golden

pytestmark = pytest.mark.filterwarnings("ignore")
BCG = pd.DataFrame(load_golden("golden_sens.json")["datasets"]["bcg"])
EFF = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")


def _results():
    res = rm.meta_analysis(BCG)
    reg = rm.meta_analysis(BCG, mods="~ x1")
    sc = rm.specification_curve(
        rm.datasets.load_rl_llm_studies(),
        {"measure": ["RD"], "method": ["REML", "DL"]},
        n_boot=5,
        quiet=True,
    )
    return {
        "leave_one_out": rm.leave_one_out(res),
        "cumulative": rm.cumulative(res, order="year"),
        "influence": rm.influence(reg),
        "baujat": rm.baujat(res),
        "gosh": rm.gosh(rm.meta_analysis(BCG.iloc[:8]), cluster=True, quiet=True),
        "permutation_test": rm.permutation_test(reg, n=50, quiet=True),
        "estimator_sweep": rm.estimator_sweep(BCG),
        "pool_groups": rm.pool_groups(BCG, "g", quiet=True),
        "hyperparameter_sweep": rm.hyperparameter_sweep(BCG, "x1", windows=2, cluster=None),
        "specification_curve": sc,
        "null_test": sc.null_test,
        "funnel_data": rm.funnel_data(res),
        "egger_test": rm.egger_test(res),
        "rank_test": rm.rank_test(res),
        "trim_and_fill": rm.trim_and_fill(res),
        "pet_peese": rm.pet_peese(res),
        "fail_safe_n": rm.fail_safe_n(BCG),
    }


RESULTS = _results()


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_result_protocol(name):
    r = RESULTS[name]
    f = r.to_frame()
    assert isinstance(f, pd.DataFrame) and len(f) > 0
    d = r.to_dict()
    json.dumps(d)  # JSON-ready: no numpy scalars, NaN as None
    assert isinstance(r.summary(), str) and r.summary()
    html = r._repr_html_()
    assert html.startswith("<div>") and "<table" in html
    assert r.to_json()


def test_contract_columns():
    exp = {
        "leave_one_out": [
            "left_out",
            "k",
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
        ],
        "cumulative": [
            "label",
            "order_value",
            "k",
            "estimate",
            "se",
            "ci_low",
            "ci_high",
            "pval",
            "q",
            "tau2",
            "i2",
        ],
        "influence": [
            "label",
            "rstudent",
            "dffits",
            "cooks_d",
            "cov_r",
            "tau2_del",
            "qe_del",
            "hat",
            "weight",
            "influential",
            "dfbetas_intercept",
            "dfbetas_x1",
        ],
        "baujat": ["label", "x", "y"],
        "gosh": ["estimate", "se", "i2", "tau2", "q", "k", "cluster"],
        "estimator_sweep": [
            "method",
            "test",
            "estimate",
            "se",
            "ci_low",
            "ci_high",
            "pval",
            "tau2",
            "i2",
        ],
        "specification_curve": [
            "spec_id",
            "estimate",
            "se",
            "ci_low",
            "ci_high",
            "pval",
            "k",
            "significant",
        ],
        "funnel_data": ["yi", "sei", "label"],
    }
    for name, cols in exp.items():
        f = RESULTS[name].to_frame()
        assert set(cols) <= set(f.columns), (name, set(cols) - set(f.columns))
    assert list(RESULTS["leave_one_out"].to_frame().columns) == exp["leave_one_out"]
    assert list(RESULTS["baujat"].to_frame().columns) == exp["baujat"]
    tf = RESULTS["trim_and_fill"].to_frame()
    assert {"yi", "vi", "filled"} <= set(tf.columns) and tf["filled"].dtype == bool
    eg = RESULTS["egger_test"]
    for a in ("intercept", "slope", "stat", "pval", "limit_estimate"):
        assert np.isfinite(getattr(eg, a))
    assert "membership" not in RESULTS["gosh"].to_frame().columns


def test_gosh_clustering():
    g = RESULTS["gosh"]
    assert (g.to_frame()["cluster"] >= 0).all() and g.to_frame()["cluster"].nunique() == 3
    cs = g.cluster_summary()
    assert cs["n_subsets"].sum() == 255
    ei = g.effect_influence()
    assert len(ei) == 8 * 3 and (ei["share_overall"] == 128 / 255).all()
    gm = rm.gosh(
        rm.meta_analysis(BCG.iloc[:8]), cluster="gmm", seed=1, quiet=True
    )  # BIC picks 1-5 components
    assert (gm.to_frame()["cluster"] >= 0).all()
    gm = rm.gosh(rm.meta_analysis(BCG.iloc[:8]), cluster="gmm", n_clusters=2, seed=1, quiet=True)
    same = rm.gosh(rm.meta_analysis(BCG.iloc[:8]), cluster="gmm", n_clusters=2, seed=1, quiet=True)
    assert gm.to_frame()["cluster"].tolist() == same.to_frame()["cluster"].tolist()
    with pytest.raises(ModelError):
        rm.gosh(rm.meta_analysis(BCG.iloc[:8]), quiet=True).cluster_summary()
    with pytest.raises(ModelError):
        rm.gosh(rm.meta_analysis(BCG.iloc[:8]), cluster="dbscan", quiet=True)
    assert g.membership_frame().shape == (255, 8)


def test_gosh_sampling_sizes_and_seed():
    res = rm.meta_analysis(EFF.iloc[:30])
    a = rm.gosh(res, max_subsets=4000, seed=3, quiet=True)
    b = rm.gosh(res, max_subsets=4000, seed=3, quiet=True)
    assert not a.exact and a.n_possible == 2**30 - 1
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    k = a.to_frame()["k"]
    assert k.is_monotonic_increasing and abs(k.mean() - 15) < 0.5  # sizes ~ Binomial(30, 1/2)
    assert (a.membership.sum(1) == k.to_numpy()).all()


def test_permutation_approximate_close_to_exact():
    res = rm.meta_analysis(BCG.iloc[:8], mods="~ x1")
    ex = rm.permutation_test(res, exact=True, quiet=True)
    _, counts = np.unique(BCG["x1"].iloc[:8], return_counts=True)
    assert ex.n_perm == 40320 // np.prod([math.factorial(c) for c in counts])
    ap = rm.permutation_test(res, n=4000, seed=1, quiet=True)
    assert not ap.exact and ap.n_perm == 4000
    assert abs(ap.qm_pval - ex.qm_pval) < 0.02
    assert ap.qm_dist[0] == pytest.approx(
        res.qm
    )  # first permutation is the observed data (metafor)
    small = rm.meta_analysis(BCG.iloc[:6])
    assert rm.permutation_test(
        small, n=1000, quiet=True
    ).exact  # 2^6 <= 1000: exact (metafor's rule)
    assert not rm.permutation_test(small, n=1000, exact=False, quiet=True).exact
    with pytest.raises(ModelError):
        rm.permutation_test(rm.meta_analysis(EFF), exact=True, quiet=True)


def test_progress_bar_renders(monkeypatch, capsys):
    monkeypatch.setattr(_engine, "_want_progress", lambda quiet: not quiet)
    out = _engine.map_chunks(lambda s, t: s + t, 1, [1, 2, 3], description="test")
    assert out == [2, 3, 4]


def test_errors():
    reg = rm.meta_analysis(BCG, mods="~ x1")
    with pytest.raises(ModelError, match="without moderators"):
        rm.leave_one_out(reg)
    with pytest.raises(ModelError, match="without moderators"):
        rm.cumulative(reg)
    with pytest.raises(ModelError, match="not found"):
        rm.cumulative(rm.meta_analysis(BCG), order="nope")
    with pytest.raises(ModelError):
        rm.influence("not a model")
