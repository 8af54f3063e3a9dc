"""Invariants of the sensitivity and bias tools (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rlmeta as rm
from rlmeta.bias import egger_test, rank_test, trim_and_fill
from rlmeta.sensitivity import gosh, influence, leave_one_out, permutation_test

pytestmark = pytest.mark.filterwarnings("ignore")
SET = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def meta_data(draw, kmin=4, kmax=9):
    k = draw(st.integers(kmin, kmax))
    seed = draw(st.integers(0, 10**6))
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.3, k)
    yi = rng.normal(draw(st.floats(-1, 1)), np.sqrt(vi + draw(st.floats(0, 0.3))))
    return yi, vi, rng.permutation(k)


@SET
@given(meta_data(), st.sampled_from(["REML", "DL", "EE", "PM"]))
def test_loo_and_influence_follow_the_order(d, method):
    yi, vi, perm = d
    a = rm.meta_analysis(yi=yi, vi=vi, method=method)
    b = rm.meta_analysis(yi=yi[perm], vi=vi[perm], method=method)
    la, lb = leave_one_out(a).to_frame(), leave_one_out(b).to_frame()
    np.testing.assert_allclose(
        la["estimate"].to_numpy()[perm], lb["estimate"], rtol=1e-6, atol=1e-9
    )
    ia, ib = influence(a).to_frame(), influence(b).to_frame()
    np.testing.assert_allclose(ia["cooks_d"].to_numpy()[perm], ib["cooks_d"], rtol=1e-5, atol=1e-8)
    assert ia["influential"].to_numpy()[perm].tolist() == ib["influential"].tolist()


@SET
@given(meta_data(kmax=8))
def test_sign_flip_symmetries(d):
    yi, vi, _ = d
    a = rm.meta_analysis(yi=yi, vi=vi)
    b = rm.meta_analysis(yi=-yi, vi=vi)
    pa, pb = (
        permutation_test(a, exact=True, quiet=True),
        permutation_test(b, exact=True, quiet=True),
    )
    assert pa.to_frame()["perm_pval"][0] == pb.to_frame()["perm_pval"][0]
    assert 1 / 2 ** len(yi) <= pa.qm_pval <= 1
    ea, eb = egger_test(a), egger_test(b)
    np.testing.assert_allclose(
        [ea.intercept, ea.slope], [-eb.intercept, -eb.slope], rtol=1e-5, atol=1e-8
    )
    np.testing.assert_allclose(ea.pval, eb.pval, rtol=1e-5)
    ta, tb = trim_and_fill(a, side="left"), trim_and_fill(b, side="right")
    assert ta.k0 == tb.k0
    np.testing.assert_allclose(ta.to_frame()["yi"], -tb.to_frame()["yi"], rtol=1e-6, atol=1e-9)
    ra, rb = rank_test(a), rank_test(b)
    np.testing.assert_allclose([ra.tau, ra.pval], [-rb.tau, rb.pval], rtol=1e-9, atol=1e-12)


@SET
@given(meta_data(kmax=8), st.sampled_from(["REML", "DL", "EE"]))
def test_gosh_full_subset_is_the_model(d, method):
    yi, vi, _ = d
    res = rm.meta_analysis(yi=yi, vi=vi, method=method)
    g = gosh(res, quiet=True)
    f = g.to_frame()
    assert len(f) == 2 ** len(yi) - 1 and g.membership.sum(1).tolist() == f["k"].tolist()
    last = f.iloc[-1]
    np.testing.assert_allclose(
        [last["estimate"], last["tau2"], last["q"]],
        [res.beta.iloc[0], res.tau2 if res.random else 0.0, res.q],
        rtol=1e-6,
        atol=1e-10,
    )
    singles = f[f["k"] == 1]
    np.testing.assert_allclose(np.sort(singles["estimate"]), np.sort(yi), rtol=1e-12)
