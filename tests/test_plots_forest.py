"""Forest plots: structure (markers, CIs, diamonds, PI), layout (no overlaps), options."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import rlmeta as rm
import rlmeta.plots as rp
from rlmeta.errors import DataError
from tests.plots_helpers import (
    MultilevelDouble,
    by_gid,
    cumulative_frame,
    n_points,
    n_segments,
    overlapping_texts,
    rc_snapshot,
)

warnings.filterwarnings("ignore", category=RuntimeWarning)


@pytest.fixture(scope="module")
def eff():
    return rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")


def synthetic(k: int, seed: int = 0, long_labels: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.0004, 0.004, k)
    yi = rng.normal(0.08, 0.06, k) + rng.normal(0, np.sqrt(vi))
    stem = "a rather long comparison identifier for an RL run" if long_labels else "e"
    return pd.DataFrame(
        {
            "yi": yi,
            "vi": vi,
            "label": [f"{stem} #{i} · benchmark-{i % 7}" for i in range(k)],
            "group": np.array(["DPO", "GRPO", "PPO"])[np.arange(k) % 3],
            "n": rng.integers(50, 5000, k),
        }
    )


def fit(frame, **kw):
    return rm.meta_analysis(frame, slab="label", **kw)


def main_ax(fig):
    return fig._rlmeta_table.ax


# ---------------------------------------------------------------------- structure
@pytest.mark.parametrize("k", [3, 5, 40, 150])
def test_counts_limits_and_no_overlap(k):
    res = fit(synthetic(k))
    fig = rp.forest(res)
    ax = main_ax(fig)
    assert n_points(ax, "forest-points") == k
    assert n_segments(ax, "forest-ci") == k
    assert len(by_gid(ax, "forest-diamond")) == 1
    assert len(by_gid(ax, "forest-pi")) == 1
    # every CI (and the diamond, the PI) lies inside the x limits
    lo, hi = ax.get_xlim()
    segs = np.concatenate(by_gid(ax, "forest-ci")[0].get_segments())
    assert lo <= segs[:, 0].min() and segs[:, 0].max() <= hi
    pi = by_gid(ax, "forest-pi")[0]
    assert lo <= pi.get_x() and pi.get_x() + pi.get_width() <= hi
    assert overlapping_texts(fig) == []


@pytest.mark.parametrize("k", [5, 40, 150])
def test_no_overlap_inside_given_axes(k):
    res = fit(synthetic(k))
    fig, axes = plt.subplots(1, 2, figsize=(12, max(4, 0.12 * k)))
    out = rp.forest(res, ax=axes[0], subgroup="group")
    assert out is axes[0]
    assert overlapping_texts(fig) == []
    # the table stays inside the Axes' original column of the figure
    r = fig.canvas.get_renderer()
    right_edge = max(t.get_window_extent(r).x1 for t in axes[0].texts if t.get_visible())
    assert right_edge <= axes[1].get_window_extent(r).x0 + 1


def test_figure_grows_with_rows():
    h = [rp.forest(fit(synthetic(k))).get_size_inches()[1] for k in (3, 40, 150)]
    assert h[0] < h[1] < h[2]
    assert h[0] >= 2.0  # a 3-row plot is not squashed


def test_returns_figure_or_given_axes(eff):
    res = rm.meta_analysis(eff.head(6))
    assert isinstance(rp.forest(res), Figure)
    fig, ax = plt.subplots(figsize=(9, 4))
    assert rp.forest(res, ax=ax) is ax


def test_rcparams_unchanged(eff):
    before = rc_snapshot()
    rp.forest(rm.meta_analysis(eff.head(6)), subgroup="rl_family", transform=np.exp)
    assert rc_snapshot() == before


# ---------------------------------------------------------------------- prediction interval toggle (meta#83)
def test_pi_toggle_is_honoured():
    res = fit(synthetic(12))
    on, off = rp.forest(res, pi=True), rp.forest(res, pi=False)
    assert len(by_gid(main_ax(on), "forest-pi")) == 1
    assert by_gid(main_ax(off), "forest-pi") == []
    assert not any(t.get_text() == "Prediction interval" for t in main_ax(off).texts)
    assert any(t.get_text() == "Prediction interval" for t in main_ax(on).texts)


def test_pi_all_and_subgroup_result(eff):
    sg = rm.meta_analysis(eff, subgroup="rl_family")
    fig = rp.forest(sg)
    ax = main_ax(fig)
    assert len(by_gid(ax, "forest-diamond-subgroup")) == len(sg.groups) == 4
    assert len(by_gid(ax, "forest-pi")) == sum(g.k > 1 for g in sg.groups.values())
    assert by_gid(main_ax(rp.forest(sg, pi=False)), "forest-pi") == []
    assert n_points(ax, "forest-points") == sum(g.k for g in sg.groups.values())
    assert any(t.get_text().startswith("Test for subgroup differences") for t in ax.texts)


# ---------------------------------------------------------------------- subgroups
def test_subgroup_column_gives_one_diamond_per_subgroup(eff):
    res = rm.meta_analysis(eff)
    fig = rp.forest(res, subgroup="benchmark_family")
    ax = main_ax(fig)
    n_groups = eff["benchmark_family"].nunique()
    assert len(by_gid(ax, "forest-diamond-subgroup")) == n_groups
    assert len(by_gid(ax, "forest-diamond")) == 1  # the overall model
    assert len(by_gid(ax, "forest-pi")) == 1  # pi=True: overall only
    assert (
        len(by_gid(main_ax(rp.forest(res, subgroup="benchmark_family", pi="all")), "forest-pi"))
        == n_groups + 1
    )
    headers = {t.get_text() for t in ax.texts if t.get_fontweight() == "bold"}
    assert set(eff["benchmark_family"].unique()) <= headers


def test_subgroup_diamond_matches_separate_fit(eff):
    res = rm.meta_analysis(eff)
    fig = rp.forest(res, subgroup="rl_family")
    d = {
        round(p.get_xy()[:4, 0].mean(), 6) for p in by_gid(main_ax(fig), "forest-diamond-subgroup")
    }
    sg = rm.meta_analysis(eff, subgroup="rl_family").to_frame()
    # diamond vertices: lo, est, hi, est -> mean = (lo + hi + 2 est) / 4
    expect = {round((r.ci_low + r.ci_high + 2 * r.estimate) / 4, 6) for r in sg.itertuples()}
    assert d == expect


# ---------------------------------------------------------------------- weights (metafor#52)
def test_weights_come_from_the_model():
    res = fit(synthetic(8))
    w = np.array([1, 1, 1, 1, 1, 1, 1, 13.0])  # model weights, unlike 1/(vi + tau2)
    ml = MultilevelDouble(res, w)
    fig = rp.forest(ml, annotate=["weight", "estimate [CI]"])
    ax = main_ax(fig)
    texts = [t.get_text() for t in ax.texts if t.get_gid() == "table-cell-weight"]
    assert texts[:8] == [f"{v:.1f}%" for v in 100 * w / w.sum()]
    sizes = by_gid(ax, "forest-points")[0].get_sizes()
    assert np.argmax(sizes) == 7 and sizes[7] > 3 * sizes[0]
    assert any("Multilevel model" in t.get_text() for t in ax.texts)


def test_marker_area_proportional_to_weight():
    res = fit(synthetic(6))
    fig = rp.forest(res)
    s = by_gid(main_ax(fig), "forest-points")[0].get_sizes()
    w = res.weights_percent()
    big = s > s.min() + 1e-9  # above the visibility floor
    ratio = s[big] / w[big]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-6)


# ---------------------------------------------------------------------- options
def test_transform_exp_gives_log_axis_and_back_transformed_text(eff):
    eff_or = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="OR").head(6)
    res = rm.meta_analysis(eff_or)
    fig = rp.forest(res, transform=np.exp)
    ax = main_ax(fig)
    assert ax.get_xscale() == "log"
    est = res.to_frame()["estimate"].iloc[0]
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith(f"{np.exp(est):.2f} [") for t in texts)
    ref = by_gid(ax, "forest-refline")[0]
    assert ref.get_xdata()[0] == pytest.approx(1.0)
    lo, hi = ax.get_xlim()
    segs = np.concatenate(by_gid(ax, "forest-ci")[0].get_segments())
    assert lo <= segs[:, 0].min() and segs[:, 0].max() <= hi


def test_sort_by_estimate():
    res = fit(synthetic(10))
    ax = main_ax(rp.forest(res, sort_by="estimate"))
    y = by_gid(ax, "forest-points")[0].get_offsets()
    order = np.argsort(y[:, 1])
    assert np.all(np.diff(y[order, 0]) >= 0)
    ax = main_ax(rp.forest(res, sort_by="estimate", ascending=False))
    y = by_gid(ax, "forest-points")[0].get_offsets()
    order = np.argsort(y[:, 1])
    assert np.all(np.diff(y[order, 0]) <= 0)


def test_long_labels_are_clipped_with_ellipsis():
    res = fit(synthetic(4))
    ax = main_ax(rp.forest(res, max_label_chars=20))
    labels = [t.get_text() for t in ax.texts if t.get_gid() == "table-cell-__label__"]
    assert any(s.endswith("…") for s in labels)
    assert all(
        len(s) <= 20 for s in labels if not s.startswith(("Random", "Heterogeneity", "Prediction"))
    )


def test_annotation_columns_and_headers(eff):
    res = rm.meta_analysis(eff.head(8))
    ax = main_ax(rp.forest(res, annotate=["benchmark", "n", ("weight", "W"), "estimate [CI]"]))
    headers = [t.get_text() for t in ax.texts if t.get_gid() == "table-header"]
    assert headers == ["Study", "benchmark", "n", "W", "RD [95% CI]"]
    assert {t.get_text() for t in ax.texts if t.get_gid() == "table-cell-benchmark"} <= set(
        eff["benchmark"]
    )
    with pytest.raises(DataError, match="not_a_column"):
        rp.forest(res, annotate=["not_a_column"])


def test_explicit_xlim_clips_with_arrows():
    res = fit(synthetic(10))
    ax = main_ax(rp.forest(res, xlim=(0.05, 0.1)))
    assert ax.get_xlim() == (0.05, 0.1)
    assert by_gid(ax, "forest-ci-arrow")


def test_cumulative_frame_forest():
    cu = cumulative_frame(7)
    fig = rp.forest(cu)
    ax = main_ax(fig)
    assert n_points(ax, "forest-points") == 7
    assert by_gid(ax, "forest-diamond") == []
    assert len(set(by_gid(ax, "forest-points")[0].get_sizes())) == 1  # no weights: equal markers
    fig2 = rp.cumulative(cu)
    assert n_points(main_ax(fig2), "forest-points") == 7
    assert overlapping_texts(fig2) == []


def test_effects_frame_is_pooled(eff):
    fig = rp.forest(eff.head(7)[["yi", "vi", "benchmark"]], label="benchmark")
    ax = main_ax(fig)
    assert n_points(ax, "forest-points") == 7
    assert len(by_gid(ax, "forest-diamond")) == 1


def test_plain_estimate_frame():
    f = pd.DataFrame(
        {
            "label": list("abc"),
            "estimate": [0.1, 0.2, 0.3],
            "ci_low": [0, 0.1, 0.2],
            "ci_high": [0.2, 0.3, 0.4],
            "weight": [20, 30, 50],
        }
    )
    ax = main_ax(rp.forest(f, refline=None))
    assert n_points(ax, "forest-points") == 3 and by_gid(ax, "forest-refline") == []


def test_bad_input():
    with pytest.raises(DataError, match="estimate, ci_low, ci_high"):
        rp.forest(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="`pi`"):
        rp.forest(pd.DataFrame({"estimate": [1], "ci_low": [0], "ci_high": [2]}), pi="maybe")


def test_resave_at_other_width_stays_tidy(tmp_path):
    fig = rp.forest(fit(synthetic(30)), subgroup="group")
    w0 = fig.get_size_inches().copy()
    rp.save(fig, tmp_path / "narrow.png", width=4.0, dpi=60)
    np.testing.assert_allclose(fig.get_size_inches(), w0)  # restored
    fig.set_size_inches(4.0, w0[1])
    fig._rlmeta_relayout()
    assert overlapping_texts(fig) == []
