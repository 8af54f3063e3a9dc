"""Property tests at the extremes: multilevel models, cluster-robust variance and pair().

At any input in range (including 2 clusters, sampling variances from 1e-8 to 1e8, and
scores far from 0/1) the engine either returns finite, internally consistent numbers,
or raises rlmeta's own error (ModelError, EffectError, DataError) with a message; no
NaN or infinity leaks into an estimate without a stated reason.  Campaign size: see
``tests/fuzzing.py`` (``RLMETA_FUZZ_EXAMPLES`` applies here too).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fuzzing import fuzz_settings
from hypothesis import assume, given
from hypothesis import strategies as st

import rlmeta as rm
from rlmeta.errors import EffectError, ModelError, RlmetaError


# --------------------------------------------------------------------------- data
@st.composite
def nested(draw, min_studies=2, max_studies=6):
    """Effects nested in comparisons in studies, with sampling variances over 16 decades."""
    n_s = draw(st.integers(min_studies, max_studies))
    rows = []
    log_scale = draw(st.floats(-8, 8))
    for s in range(n_s):
        n_c = draw(st.integers(1, 3))
        for c in range(n_c):
            for e in range(draw(st.integers(1, 3))):
                rows.append(
                    {
                        "study_id": f"s{s}",
                        "comparison_id": f"s{s}c{c}",
                        "effect_id": f"s{s}c{c}e{e}",
                        "yi": draw(st.floats(-3, 3, allow_nan=False)),
                        "vi": 10 ** (log_scale + draw(st.floats(-2, 2))),
                        "x": draw(st.floats(-5, 5, allow_nan=False)),
                    }
                )
    frame = pd.DataFrame(rows)
    assume(len(frame) >= 3)
    return frame


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _fit_or_model_error(data, **kw):
    try:
        return _quiet(rm.meta_analysis, data, **kw)
    except ModelError as exc:
        assert str(exc)
        return None


def _assert_consistent(res):
    tab = res.to_frame()
    est, se = tab["estimate"].to_numpy(), tab["se"].to_numpy()
    if not res.converged:
        assert any("converge" in w for w in res.warnings), res.warnings
    assert np.all(np.isfinite(est)), (est, res.warnings)
    assert np.all(np.isfinite(se)) and np.all(se >= 0), (se, res.warnings)
    assert np.all(tab["ci_low"] <= est + 1e-12) and np.all(est <= tab["ci_high"] + 1e-12)
    sig = np.atleast_1d(res.sigma2 if hasattr(res, "sigma2") else res.tau2)
    assert np.all(np.isfinite(sig)) and np.all(sig >= 0)


# --------------------------------------------------------------------------- multilevel
@fuzz_settings(40)
@given(
    nested(),
    st.sampled_from(
        ["study_id/comparison_id", "study_id/effect_id", "study_id/comparison_id/effect_id"]
    ),
    st.sampled_from(["REML", "ML"]),
)
def test_multilevel_extremes_stay_finite_or_fail_cleanly(data, random, method):
    res = _fit_or_model_error(data, random=random, method=method)
    if res is None:
        return
    _assert_consistent(res)
    d = res.to_dict()
    assert d["k"] == len(data)


@fuzz_settings(25)
@given(nested(), st.randoms(use_true_random=False))
def test_multilevel_row_order_does_not_matter(data, rnd):
    res = _fit_or_model_error(data, random="study_id/comparison_id")
    assume(res is not None and res.converged)
    perm = list(range(len(data)))
    rnd.shuffle(perm)
    other = _fit_or_model_error(
        data.iloc[perm].reset_index(drop=True), random="study_id/comparison_id"
    )
    assert other is not None
    # the likelihood surface can be flat near a boundary: compare the fitted values, not sigma2
    scale = max(1.0, float(np.abs(res.beta).max()))
    assert np.allclose(
        res.beta, other.beta, rtol=1e-4, atol=1e-6 * scale + 1e-5 * float(res.se.max())
    )


@fuzz_settings(25)
@given(nested(), st.floats(1e-3, 1e3))
def test_multilevel_scale_equivariance(data, c):
    res = _fit_or_model_error(data, random="study_id/comparison_id", control={"tol": 1e-12})
    assume(res is not None and res.converged)
    scaled = data.assign(yi=data["yi"] * c, vi=data["vi"] * c * c)
    other = _fit_or_model_error(scaled, random="study_id/comparison_id", control={"tol": 1e-12})
    assert other is not None
    assert np.allclose(
        other.beta.to_numpy(),
        c * res.beta.to_numpy(),
        rtol=1e-4,
        atol=1e-6 * c * (1 + float(res.se.max())),
    )
    assert np.allclose(other.se, c * res.se, rtol=2e-3, atol=1e-8 * c)


# --------------------------------------------------------------------------- robust variance
@fuzz_settings(40)
@given(nested(min_studies=2, max_studies=5), st.sampled_from(["CR2", "CR1", "CR0"]), st.booleans())
def test_robust_variance_with_few_clusters(data, adjust, with_mod):
    res = _fit_or_model_error(
        data, random="study_id/comparison_id", mods="~ x" if with_mod else None
    )
    if res is None:
        return
    n_clusters = data["study_id"].nunique()
    try:
        rob = _quiet(res.robust, "study_id", adjust=adjust)
    except ModelError as exc:
        assert n_clusters <= res.p, (
            exc
        )  # refused only when clusters cannot identify the coefficients
        assert "clusters" in str(exc)
        return
    tab = rob.to_frame()
    assert rob.n_clusters == n_clusters
    assert np.all(np.isfinite(tab["estimate"]))
    assert np.all(tab["df"] > 0)
    # a standard error may be 0 only when every cluster's residual is 0; never NaN or negative
    assert np.all(np.isfinite(tab["se"])) and np.all(tab["se"] >= 0)
    if (tab["df"] < 4).any():
        assert any("small degrees of freedom" in w for w in rob.warnings)
    if adjust in ("CR1", "CR0"):
        assert np.allclose(tab["df"], n_clusters - res.p)


@fuzz_settings(25)
@given(nested(min_studies=3, max_studies=5), st.floats(1e-2, 1e2))
def test_robust_se_scales_with_the_data(data, c):
    res = _fit_or_model_error(data, random="study_id/comparison_id", control={"tol": 1e-12})
    assume(res is not None and res.converged)
    other = _fit_or_model_error(
        data.assign(yi=data["yi"] * c, vi=data["vi"] * c * c),
        random="study_id/comparison_id",
        control={"tol": 1e-12},
    )
    assert other is not None
    a = _quiet(res.robust, "study_id").to_frame()
    b = _quiet(other.robust, "study_id").to_frame()
    assert np.allclose(b["se"], c * a["se"], rtol=2e-3, atol=1e-9 * c)
    assert np.allclose(b["df"], a["df"], rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("vscale", [1e-12, 1e12])
def test_robust_two_clusters_tiny_and_huge_variances(vscale):
    data = pd.DataFrame(
        {
            "study_id": ["a"] * 3 + ["b"] * 3,
            "comparison_id": list("123456"),
            "yi": [0.1, 0.3, 0.2, 0.5, 0.4, 0.6],
            "vi": np.full(6, vscale),
        }
    )
    res = _quiet(rm.meta_analysis, data, random="study_id/comparison_id")
    _assert_consistent(res)
    for adjust in ("CR2", "CR1"):
        rob = _quiet(res.robust, "study_id", adjust=adjust)
        assert np.isfinite(rob.to_frame()["se"]).all()
        assert any("small degrees of freedom" in w for w in rob.warnings)


# --------------------------------------------------------------------------- pair()
@st.composite
def two_runs(draw, binary=None):
    n = draw(st.integers(2, 30))
    is_binary = draw(st.booleans()) if binary is None else binary
    score = st.sampled_from([0.0, 1.0]) if is_binary else st.floats(-1e6, 1e6, allow_nan=False)
    rl = [draw(score) for _ in range(n)]
    base = [draw(score) for _ in range(n)]
    ids = [f"q{i}" for i in range(n)]
    extra_rl = draw(st.integers(0, 3))  # items only one arm has
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "model": "rl",
                    "benchmark": "b",
                    "item_id": ids + [f"x{i}" for i in range(extra_rl)],
                    "score": rl + [1.0] * extra_rl,
                }
            ),
            pd.DataFrame({"model": "base", "benchmark": "b", "item_id": ids, "score": base}),
        ],
        ignore_index=True,
    )
    return frame, np.array(rl), np.array(base), extra_rl


def _pair(items, **kw):
    try:
        return _quiet(rm.pair, items, **kw)
    except (EffectError, rm.errors.DataError) as exc:
        assert str(exc)
        return None


@fuzz_settings(60)
@given(two_runs(), st.sampled_from(["MD", "SMCC", "DAV", "PLOR"]))
def test_pair_swapping_arms_negates_the_effect(runs, measure):
    items, rl, base, _ = runs
    a = _pair(items, rl="rl", baseline="base", measure=measure)
    b = _pair(items, rl="base", baseline="rl", measure=measure)
    assert (a is None) == (b is None)
    if a is None:
        return
    assert np.isclose(a["yi"].iloc[0], -b["yi"].iloc[0], rtol=1e-9, atol=1e-12)
    assert np.isclose(a["vi"].iloc[0], b["vi"].iloc[0], rtol=1e-9, atol=1e-300)
    assert np.isfinite(a[["yi", "vi", "sei", "ci_low", "ci_high"]].to_numpy(float)).all()


@fuzz_settings(60)
@given(two_runs(), st.randoms(use_true_random=False))
def test_pair_md_is_the_mean_matched_difference(runs, rnd):
    items, rl, base, extra = runs
    shuffled = items.sample(frac=1.0, random_state=rnd.randint(0, 2**31)).reset_index(drop=True)
    eff = _pair(shuffled, rl="rl", baseline="base")
    d = rl - base
    if eff is None:  # only when the variance is 0 (every difference equal) or overflows
        assert np.ptp(d) == 0 or not np.isfinite(np.var(d))
        return
    row = eff.iloc[0]
    assert int(row["n"]) == len(rl)
    assert int(row["n_unmatched_rl"]) == extra
    assert np.isclose(row["yi"], d.mean(), rtol=1e-9, atol=1e-9 * (1 + np.abs(d).max()))
    assert np.isclose(row["vi"], d.var(ddof=1) / len(d), rtol=1e-6, atol=1e-300)
    log = rm.drop_log(eff)
    assert (log["reason"].str.contains("only in the rl arm")).sum() == extra


@fuzz_settings(40)
@given(two_runs(binary=True), st.integers(2, 4))
def test_pair_averages_repeats_before_pairing(runs, k):
    items, rl, base, _ = runs
    repeated = pd.concat([items.assign(sample_idx=i) for i in range(k)], ignore_index=True)
    a, b = _pair(items, rl="rl", baseline="base"), _pair(repeated, rl="rl", baseline="base")
    assert (a is None) == (b is None)
    if a is not None:
        assert np.isclose(a["yi"].iloc[0], b["yi"].iloc[0]) and np.isclose(
            a["vi"].iloc[0], b["vi"].iloc[0]
        )
        assert float(b["k_rl"].iloc[0]) == k


def test_pair_missing_and_text_scores():
    items = pd.DataFrame(
        {
            "model": ["rl"] * 4 + ["base"] * 4,
            "benchmark": "b",
            "item_id": list("abcd") * 2,
            "score": [1.0, np.nan, 1.0, 0.0, 0.0, 1.0, np.inf, 0.0],
        }
    )
    eff = _quiet(rm.pair, items, rl="rl", baseline="base")
    assert int(eff["n"].iloc[0]) == 2  # items b and c each lost one arm's score
    reasons = rm.drop_log(eff)["reason"]
    assert reasons.str.contains("is missing or not finite").sum() == 2
    assert np.isfinite(eff[["yi", "vi"]].to_numpy(float)).all()
    bad = items.astype({"score": object})
    bad.loc[2, "score"] = "yes"
    with pytest.raises(RlmetaError, match=r"column 'score': expected a numeric score, got 'yes'"):
        rm.pair(bad, rl="rl", baseline="base")


def test_pair_overflowing_scores_are_dropped_with_a_reason():
    items = pd.DataFrame(
        {
            "model": ["rl"] * 3 + ["base"] * 3,
            "benchmark": "b",
            "item_id": list("abc") * 2,
            "score": [1e308, -1e308, 1e308, -1e308, 1e308, -1e308],
        }
    )
    with pytest.raises(EffectError, match="overflows"):
        _quiet(rm.pair, items, rl="rl", baseline="base")


def test_cr2_is_unit_free():
    # regression (property test): an absolute eigenvalue threshold in the CR2 adjustment made
    # the robust SE and df depend on the units of the effects (here: effects divided by 64)
    d = pd.DataFrame(
        {
            "study_id": ["s0", "s0", "s1", "s2"],
            "comparison_id": list("abcd"),
            "yi": [0.0, 0.0, 0.5, 0.0],
            "vi": [1.0, 1.0, 0.01, 1.0],
        }
    )
    c = 1 / 64
    a = _quiet(rm.meta_analysis, d, random="study_id/comparison_id").robust("study_id").to_frame()
    b = (
        _quiet(
            rm.meta_analysis,
            d.assign(yi=d.yi * c, vi=d.vi * c * c),
            random="study_id/comparison_id",
        )
        .robust("study_id")
        .to_frame()
    )
    assert np.isclose(b["se"].iloc[0], c * a["se"].iloc[0], rtol=1e-6)
    assert np.isclose(b["df"].iloc[0], a["df"].iloc[0], rtol=1e-6)
