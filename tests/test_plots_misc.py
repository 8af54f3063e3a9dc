"""Distributions, heat maps, error bars, sweeps, meta-regression and exploration figures."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import linkage

import rlmeta as rm
import rlmeta.plots as rp
from rlmeta.errors import DataError
from tests.plots_helpers import by_gid, n_points, pca_result

warnings.filterwarnings("ignore", category=RuntimeWarning)

EFF = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
RAW = rm.datasets.load_rl_llm_studies()


# ---------------------------------------------------------------------- distributions
def test_boxplot_shows_every_point():
    fig = rp.boxplot(EFF, by="rl_family")
    ax = fig.axes[0]
    assert n_points(ax, "boxplot-points") == len(EFF)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ticks) == 4 and all("(n = " in t for t in ticks)
    fig = rp.boxplot(
        EFF, by="benchmark_family", hue="rl_family", points="strip", order=["math", "code"]
    )
    assert (
        n_points(fig.axes[0], "boxplot-points")
        == EFF["benchmark_family"].isin(["math", "code"]).sum()
    )
    with pytest.raises(ValueError, match="`points`"):
        rp.boxplot(EFF, points="violin")


# ---------------------------------------------------------------------- heat maps
def test_heatmap_missing_cells_are_marked_not_zero():
    fig = rp.heatmap(EFF, rows="benchmark", cols="rl_family")
    ax = fig.axes[0]
    mesh = by_gid(ax, "heatmap-mesh")[0]
    arr = mesh.get_array()
    pivot = EFF.pivot_table(index="benchmark", columns="rl_family", values="yi", aggfunc="mean")
    assert np.ma.count_masked(arr) == pivot.isna().to_numpy().sum() > 0
    assert by_gid(ax, "heatmap-missing")[0].get_hatch() == "///"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no data"]
    # diverging scale centred at zero
    norm = mesh.norm
    assert norm.vmin == pytest.approx(-norm.vmax)


def test_heatmap_from_matrix_and_no_missing_legend():
    m = pd.DataFrame([[0.1, -0.2], [0.3, 0.0]], index=["a", "b"], columns=["x", "y"])
    ax = rp.heatmap(m).axes[0]
    assert ax.get_legend() is None
    assert sorted(t.get_text() for t in ax.texts) == ["0.00", "0.10", "0.30", "−0.20"]
    with pytest.raises(DataError, match="both"):
        rp.heatmap(EFF, rows="benchmark")


def test_heatmap_long_labels_keep_constrained_layout():
    # seaborn draws once with its own tick labels: unclipped 80-character labels used to
    # collapse the layout (a warning and an unlaid-out figure)
    long = "/tmp/pytest-of-root/pytest-143/test_report_from_two_harness_r0/rl vs base"
    m = pd.DataFrame([[0.03, 0.06, 0.01]], index=[long], columns=["arc", "gsm8k", "mmlu"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fig = rp.heatmap(m)
        fig.canvas.draw()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [long[:27] + "…"]
    # the tick labels stay inside the figure
    renderer = fig.canvas.get_renderer()
    assert ax.get_tightbbox(renderer).x0 >= 0


def test_corr_heatmap_lower_triangle():
    cols = ["yi", "vi", "year", "log10_params_B"]
    ax = rp.corr_heatmap(EFF, columns=cols).axes[0]
    arr = by_gid(ax, "heatmap-mesh")[0].get_array()
    assert np.ma.count(arr) == 4 * 5 / 2  # lower triangle with the diagonal
    assert by_gid(ax, "heatmap-mesh")[0].norm.vmax == 1.0


# ---------------------------------------------------------------------- comparisons and sweeps
def test_errorbars_two_dodged_markers_per_benchmark():
    d = RAW[RAW.comparison_id == "tulu3_8b_dpo_vs_sft"]
    ax = rp.errorbars(d).axes[0]
    rl = by_gid(ax, "errorbars-rl")[0]
    base = by_gid(ax, "errorbars-baseline")[0]
    n = d["benchmark"].nunique()
    assert len(rl.get_xdata()) == len(base.get_xdata()) == n
    assert np.all(np.asarray(base.get_xdata()) - np.asarray(rl.get_xdata()) > 0.1)  # dodged
    long = rp.arms_long(d)
    lo, hi = ax.get_ylim()
    assert lo <= long["ci_low"].min() and long["ci_high"].max() <= hi
    with pytest.raises(DataError, match="duplicated"):
        rp.errorbars(RAW)


def test_sweep_lines_aggregates_seeds():
    runs = pd.DataFrame(
        {
            "lr": np.repeat([1e-6, 1e-5, 1e-4], 4),
            "acc": [1, 2, 3, 4.0] * 3,
            "method": np.tile(["a", "a", "b", "b"], 3),
        }
    )
    ax = rp.sweep_lines(runs, x="lr", y="acc", hue="method").axes[0]
    lines = by_gid(ax, "sweep-line")
    assert len(lines) == 2 and len(by_gid(ax, "sweep-band")) == 2
    np.testing.assert_allclose(lines[0].get_ydata(), 1.5)
    assert ax.get_xscale() == "log"
    tidy = pd.DataFrame(
        {
            "learning_rate": [1, 2, 3],
            "mean": [0.1, 0.2, 0.15],
            "ci_low": [0, 0.1, 0.1],
            "ci_high": [0.2, 0.3, 0.2],
        }
    )
    ax = rp.sweep_lines(tidy).axes[0]
    assert ax.get_xscale() == "linear" and len(by_gid(ax, "sweep-band")) == 1


# ---------------------------------------------------------------------- meta-regression
def test_bubble():
    mr = rm.meta_analysis(EFF, mods="~ log10_params_B + C(rl_family)")
    ax = rp.bubble(mr, moderator="log10_params_B").axes[0]
    assert n_points(ax, "bubble-points") == mr.k
    sizes = by_gid(ax, "bubble-points")[0].get_sizes()
    w = mr.weights_percent()
    assert np.argmax(sizes) == np.argmax(w)
    line = by_gid(ax, "bubble-line")[0]
    nd = rp.prediction_grid(mr, {"log10_params_B": line.get_xdata()[:2]})
    np.testing.assert_allclose(line.get_ydata()[:2], mr.predict(nd)["pred"])
    assert by_gid(ax, "bubble-pi") and by_gid(ax, "bubble-ci")
    assert "rl_family = DPO" in ax.get_legend().get_title().get_text()
    with pytest.raises(DataError, match="categorical"):
        rp.bubble(mr, moderator="rl_family")
    with pytest.raises(DataError, match="no moderators"):
        rp.bubble(rm.meta_analysis(EFF), moderator="log10_params_B")


def test_interaction_plot_from_model_and_frame():
    mi = rm.meta_analysis(EFF, mods="~ log10_params_B * C(judge_based)")
    ax = rp.interaction_plot(mi, x="log10_params_B", moderator="judge_based").axes[0]
    assert len(by_gid(ax, "interaction-line")) == 2 and len(by_gid(ax, "interaction-band")) == 2
    mn = rm.meta_analysis(EFF, mods="~ log10_params_B * log10_learning_rate")
    ax = rp.interaction_plot(mn, x="log10_params_B", moderator="log10_learning_rate").axes[0]
    assert len(by_gid(ax, "interaction-line")) == 3  # mean - SD, mean, mean + SD
    with pytest.raises(DataError, match="name its moderators"):
        rp.interaction_plot(mi)


# ---------------------------------------------------------------------- exploration
def test_pca_and_clusters():
    pca = pca_result(30, 6)
    ax = rp.pca_scree(pca, max_components=4).axes[0]
    assert len(by_gid(ax, "scree-bar")) == 4
    np.testing.assert_allclose(
        by_gid(ax, "scree-cumulative")[0].get_ydata()[-1],
        100 * pca["explained_variance_ratio"][:4].sum(),
    )
    ax = rp.pca_biplot(pca, pcs=("PC1", "PC3"), n_loadings=3, hue=np.arange(30) % 2).axes[0]
    assert len(by_gid(ax, "biplot-arrow")) == 3
    assert ax.get_xlabel().startswith("PC1") and ax.get_ylabel().startswith("PC3")
    Z = linkage(pca["scores"].to_numpy(), "average")
    ax = rp.dendrogram(
        Z, [f"a very long leaf label number {i}" for i in range(30)], max_label_chars=12
    ).axes[0]
    assert all(len(t.get_text()) <= 12 for t in ax.get_yticklabels())
    ax = rp.dendrogram(Z, max_leaves=10).axes[0]
    assert len(ax.get_yticklabels()) == 10
    ax = rp.cluster_scatter(pca["scores"], np.arange(30) % 3).axes[0]
    assert n_points(ax, "cluster-points") == 30 and len(by_gid(ax, "cluster-centroid")) == 3
    with pytest.raises(DataError):
        rp.pca_scree({})
