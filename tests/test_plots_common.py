"""Checks every plot function passes: return convention, no rcParams leak, no text overlap."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy.cluster.hierarchy import linkage

import rlmeta as rm
import rlmeta.plots as rp
from tests.plots_helpers import (
    baujat_frame,
    cumulative_frame,
    gosh_frame,
    influence_frame,
    loo_frame,
    overlapping_texts,
    pca_result,
    rc_snapshot,
    spec_frame,
    sweep_frame,
)

warnings.filterwarnings("ignore", category=RuntimeWarning)

EFF = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
RAW = rm.datasets.load_rl_llm_studies()
RES = rm.meta_analysis(EFF)
SMALL = rm.meta_analysis(EFF.head(10), slab="benchmark")
MREG = rm.meta_analysis(EFF, mods="~ log10_params_B + C(rl_family)")
MINT = rm.meta_analysis(EFF, mods="~ log10_params_B * C(judge_based)")
PCA = pca_result()
Z = linkage(PCA["scores"].to_numpy(), "ward")
RUNS = pd.DataFrame(
    {
        "learning_rate": np.repeat(10.0 ** np.arange(-7, -3), 3),
        "acc": np.arange(12.0) % 5,
        "method": "DPO",
    }
)
TF = pd.DataFrame({"yi": [-0.1, -0.05], "vi": [0.001, 0.002], "filled": [True, True]})

#: name -> callable(ax) drawing one figure
CASES = {
    "forest": lambda ax: rp.forest(SMALL, ax=ax),
    "forest_subgroups": lambda ax: rp.forest(SMALL, subgroup="benchmark", ax=ax),
    "funnel": lambda ax: rp.funnel(
        RES, egger=(0.05, 1.0), trimfill=TF, trimfill_estimate=0.07, ax=ax
    ),
    "radial": lambda ax: rp.radial(RES, labels=3, ax=ax),
    "labbe": lambda ax: rp.labbe(RES, hue="rl_family", ax=ax),
    "boxplot": lambda ax: rp.boxplot(EFF, by="rl_family", ax=ax),
    "heatmap": lambda ax: rp.heatmap(EFF, rows="benchmark_family", cols="rl_family", ax=ax),
    "corr_heatmap": lambda ax: rp.corr_heatmap(
        EFF, columns=["yi", "vi", "year", "log10_params_B"], ax=ax
    ),
    "errorbars": lambda ax: rp.errorbars(RAW[RAW.comparison_id == "dsm_rl_vs_instruct_cot"], ax=ax),
    "sweep_lines": lambda ax: rp.sweep_lines(RUNS, y="acc", hue="method", ax=ax),
    "bubble": lambda ax: rp.bubble(MREG, moderator="log10_params_B", ax=ax),
    "interaction_plot": lambda ax: rp.interaction_plot(
        MINT, x="log10_params_B", moderator="judge_based", ax=ax
    ),
    "leave_one_out": lambda ax: rp.leave_one_out(loo_frame(), full=(0.08, 0.06, 0.1), ax=ax),
    "cumulative": lambda ax: rp.cumulative(cumulative_frame(), ax=ax),
    "influence_panel": lambda ax: rp.influence_panel(influence_frame(), ax=ax),
    "baujat": lambda ax: rp.baujat(baujat_frame(), ax=ax),
    "gosh": lambda ax: rp.gosh(gosh_frame(), ax=ax),
    "specification_curve": lambda ax: rp.specification_curve(spec_frame(), ax=ax),
    "estimator_sweep": lambda ax: rp.estimator_sweep(sweep_frame(), ax=ax),
    "pca_scree": lambda ax: rp.pca_scree(PCA, ax=ax),
    "pca_biplot": lambda ax: rp.pca_biplot(PCA, ax=ax),
    "dendrogram": lambda ax: rp.dendrogram(Z, list(PCA["scores"].index), ax=ax),
    "cluster_scatter": lambda ax: rp.cluster_scatter(PCA["scores"], np.arange(25) % 3, ax=ax),
}


def test_every_public_figure_function_is_covered():
    helpers = {
        "theme",
        "palette",
        "PALETTE",
        "diverging_cmap",
        "save",
        "to_svg",
        "prediction_grid",
        "arms_long",
    }
    figures = set(rp.__all__) - helpers
    covered = {name.split("_subgroups")[0] for name in CASES}
    assert figures <= covered, figures - covered


@pytest.mark.parametrize("name", sorted(CASES))
def test_returns_figure_without_ax(name):
    before = rc_snapshot()
    out = CASES[name](None)
    assert isinstance(out, Figure)
    assert rc_snapshot() == before, "rcParams leaked"


@pytest.mark.parametrize("name", sorted(CASES))
def test_returns_the_given_ax(name):
    fig, axes = plt.subplots(1, 2, figsize=(14, 6))
    before = rc_snapshot()
    out = CASES[name](axes[0])
    assert out is axes[0]
    assert isinstance(out, Axes)
    assert rc_snapshot() == before, "rcParams leaked"
    # nothing was drawn on the neighbouring Axes
    assert not axes[1].has_data() and not axes[1].texts


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_overlapping_text(name):
    fig = CASES[name](None)
    assert overlapping_texts(fig) == []


def test_user_theme_block_is_respected():
    with rp.theme(context="paper", font_scale=0.8) as rc:
        fig = rp.pca_scree(PCA)
        size = fig.axes[0].xaxis.label.get_fontsize()
    assert size == pytest.approx(rc["axes.labelsize"])


def test_theme_restores_rcparams():
    before = rc_snapshot()
    with rp.theme(style="whitegrid", context="talk", rc={"lines.linewidth": 4}):
        pass
    assert rc_snapshot() == before
