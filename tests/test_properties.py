"""Property-based tests (hypothesis) of effect sizes and pooling.

Invariants: row order does not matter; scaling yi by c scales estimates by c and
variances by c²; flipping every sign flips the estimate; FE equals RE when tau² = 0;
a duplicated study behaves as theory says; extreme but valid inputs stay finite.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import rlmeta as rm
from rlmeta.meta import TAU2_METHODS

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
METHODS = [m for m in TAU2_METHODS if m != "GENQ"]


@st.composite
def meta_data(draw, min_k=2, max_k=25):
    k = draw(st.integers(min_k, max_k))
    yi = draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k))
    vi = draw(st.lists(st.floats(1e-3, 2.0, allow_nan=False), min_size=k, max_size=k))
    return np.array(yi), np.array(vi)


def fit(yi, vi, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rm.meta_analysis(yi=yi, vi=vi, **kw)


@SETTINGS
@given(meta_data(), st.sampled_from(METHODS), st.randoms(use_true_random=False))
def test_order_invariance(data, method, rnd):
    yi, vi = data
    perm = list(range(len(yi)))
    rnd.shuffle(perm)
    a = fit(yi, vi, method=method)
    b = fit(yi[perm], vi[perm], method=method)
    assert np.isclose(a.tau2, b.tau2, rtol=1e-6, atol=1e-9)
    assert np.isclose(a.beta.iloc[0], b.beta.iloc[0], rtol=1e-6, atol=1e-9)
    assert np.isclose(a.se[0], b.se[0], rtol=1e-6, atol=1e-9)


@SETTINGS
@given(meta_data(), st.sampled_from(["REML", "DL", "PM", "HE", "SJ", "EE"]), st.floats(0.1, 20))
def test_scale_equivariance(data, method, c):
    # metafor's stopping rules (tau² change < 1e-5, root tolerance 1.2e-4) are absolute, so
    # equivariance holds exactly only for the converged estimator: converge tightly here.
    yi, vi = data
    tight = {"threshold": 1e-11, "tol": 1e-13, "maxiter": 400}
    try:
        a = fit(yi, vi, method=method, control=tight)
        b = fit(c * yi, c * c * vi, method=method, control=tight)
    except rm.ModelError:
        # PM's search interval [0, max(100, 10 mad²)] is not scale-free (metafor's rule):
        # scaled data can fall outside it, which is reported as an error, as in metafor.
        assume(False)
    # Fisher scoring can cycle without converging (then flagged, as metafor would fail):
    # equivariance is a property of converged estimates only.
    assume(a.converged and b.converged)
    assert np.isclose(b.beta.iloc[0], c * a.beta.iloc[0], rtol=1e-5, atol=1e-8)
    assert np.isclose(b.se[0], c * a.se[0], rtol=1e-5, atol=1e-8)
    # near the tau² = 0 boundary Fisher scoring creeps towards 0: allow that creep
    assert np.isclose(b.tau2, c * c * a.tau2, rtol=1e-4, atol=1e-7 * max(1.0, c * c))
    assert np.isclose(b.i2, a.i2, rtol=1e-4, atol=1e-3)


@SETTINGS
@given(meta_data(), st.sampled_from(METHODS + ["EE"]))
def test_sign_flip_flips_estimate(data, method):
    yi, vi = data
    a = fit(yi, vi, method=method)
    b = fit(-yi, vi, method=method)
    assert np.isclose(b.beta.iloc[0], -a.beta.iloc[0], rtol=1e-7, atol=1e-10)
    assert np.isclose(a.tau2, b.tau2, rtol=1e-7, atol=1e-10)
    ci_a, ci_b = a.to_frame().iloc[0], b.to_frame().iloc[0]
    assert np.isclose(ci_b["ci_low"], -ci_a["ci_high"], atol=1e-9)


@st.composite
def homogeneous_data(draw):
    """Effects far less spread than their sampling error, so tau² estimates are mostly 0."""
    k = draw(st.integers(2, 20))
    yi = draw(st.lists(st.floats(-0.05, 0.05, allow_nan=False), min_size=k, max_size=k))
    vi = draw(st.lists(st.floats(0.1, 2.0, allow_nan=False), min_size=k, max_size=k))
    return np.array(yi), np.array(vi)


@SETTINGS
@given(homogeneous_data(), st.sampled_from(METHODS))
def test_fe_equals_re_when_tau2_is_zero(data, method):
    yi, vi = data
    re = fit(yi, vi, method=method)
    assume(re.tau2 == 0)
    fe = fit(yi, vi, method="EE")
    assert np.isclose(re.beta.iloc[0], fe.beta.iloc[0], rtol=1e-12, atol=1e-14)
    assert np.isclose(re.se[0], fe.se[0], rtol=1e-12)


@SETTINGS
@given(meta_data())
def test_fe_equals_re_with_tau2_fixed_at_zero(data):
    yi, vi = data
    fe = fit(yi, vi, method="EE")
    re = fit(yi, vi, method="REML", tau2=0.0)
    assert np.isclose(re.beta.iloc[0], fe.beta.iloc[0], rtol=1e-12, atol=1e-14)
    assert np.isclose(re.se[0], fe.se[0], rtol=1e-12)


@SETTINGS
@given(meta_data())
def test_duplicating_all_studies_halves_fixed_effect_variance(data):
    """Each study entered twice: same FE estimate, half the variance, Q doubles."""
    yi, vi = data
    a = fit(yi, vi, method="EE")
    b = fit(np.r_[yi, yi], np.r_[vi, vi], method="EE")
    assert np.isclose(a.beta.iloc[0], b.beta.iloc[0], rtol=1e-10, atol=1e-12)
    assert np.isclose(b.se[0] ** 2, a.se[0] ** 2 / 2, rtol=1e-10)
    assert np.isclose(b.q, 2 * a.q, rtol=1e-8, atol=1e-10)


@SETTINGS
@given(meta_data(), st.integers(0, 24))
def test_a_duplicated_study_weighs_twice(data, j):
    """Entering one study twice equals giving it double weight (halved variance) in FE."""
    yi, vi = data
    j = j % len(yi)
    a = fit(np.r_[yi, yi[j]], np.r_[vi, vi[j]], method="EE")
    v2 = vi.copy()
    v2[j] = vi[j] / 2
    b = fit(yi, v2, method="EE")
    assert np.isclose(a.beta.iloc[0], b.beta.iloc[0], rtol=1e-10, atol=1e-12)
    assert np.isclose(a.se[0], b.se[0], rtol=1e-10)


@SETTINGS
@given(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=12),
    st.sampled_from([1e-10, 1e-6, 1.0, 1e4, 1e8]),
    st.sampled_from(METHODS + ["EE"]),
)
def test_extreme_but_valid_inputs_stay_finite(yis, vscale, method):
    yi = np.array(yis)
    vi = vscale * np.linspace(1, 3, len(yi))
    res = fit(yi, vi, method=method)
    d = res.to_dict()
    for key in ("tau2", "q", "i2"):
        assert d[key] is not None and np.isfinite(d[key]), key
    c = d["coefficients"][0]
    assert (
        np.isfinite(c["estimate"])
        and np.isfinite(c["se"])
        and c["ci_low"] <= c["estimate"] <= c["ci_high"]
    )


@SETTINGS
@given(
    st.floats(0.01, 0.99),
    st.floats(0.01, 0.99),
    st.integers(10, 5000),
    st.sampled_from(["RD", "LOR", "LRR", "AS"]),
)
def test_swapping_arms_negates_proportion_effects(p1, p2, n, measure):
    def frame(a, b):
        return pd.DataFrame(
            {
                "study_id": ["s"],
                "benchmark": ["b"],
                "rl_score": [a],
                "baseline_score": [b],
                "n_items": [n],
                "score_scale": ["proportion"],
            }
        )

    e1 = rm.effect_sizes(frame(p1, p2), measure=measure)
    e2 = rm.effect_sizes(frame(p2, p1), measure=measure)
    assert np.isclose(e1["yi"].iloc[0], -e2["yi"].iloc[0], rtol=1e-12, atol=1e-15)
    assert np.isclose(e1["vi"].iloc[0], e2["vi"].iloc[0], rtol=1e-12)
    # lower-is-better flips the sign exactly once
    e3 = rm.effect_sizes(frame(p1, p2).assign(higher_is_better=False), measure=measure)
    assert np.isclose(e3["yi"].iloc[0], -e1["yi"].iloc[0], rtol=1e-12, atol=1e-15)


@SETTINGS
@given(st.floats(0.05, 0.95), st.floats(0.05, 0.95), st.integers(20, 3000), st.floats(0, 0.99))
def test_paired_rd_variance_decreases_with_rho(p1, p2, n, rho):
    base = pd.DataFrame(
        {
            "study_id": ["s"],
            "benchmark": ["b"],
            "rl_score": [p1],
            "baseline_score": [p2],
            "n_items": [n],
            "score_scale": ["proportion"],
        }
    )
    v0 = rm.effect_sizes(base, measure="RD", rho=0)["vi"].iloc[0]
    vr = rm.effect_sizes(base, measure="RD", rho=rho)["vi"].iloc[0]
    assert vr <= v0 + 1e-18 and vr >= 0
