"""Funnel (contour-enhanced, trim-and-fill, Egger), radial and L'Abbé plots."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
import rlmeta.plots as rp
from rlmeta.errors import DataError
from tests.plots_helpers import by_gid, n_points

warnings.filterwarnings("ignore", category=RuntimeWarning)

EFF = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
RES = rm.meta_analysis(EFF)


def test_funnel_structure():
    ax = rp.funnel(RES).axes[0]
    assert n_points(ax, "funnel-points") == RES.k
    assert ax.yaxis_inverted()
    assert ax.get_ylim()[1] == 0  # SE 0 at the top
    # three contour levels -> background + three nested regions
    assert len(by_gid(ax, "funnel-contour")) == 4
    assert len(by_gid(ax, "funnel-pseudo-ci")) == 2
    xs = np.asarray(RES.yi)
    lo, hi = ax.get_xlim()
    assert lo <= xs.min() and xs.max() <= hi
    assert np.sqrt(RES.vi).max() <= ax.get_ylim()[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "p < 0.01" in labels and "p > 0.1" in labels


def test_funnel_without_contours():
    ax = rp.funnel(RES, contours=None, pseudo_ci=False).axes[0]
    assert by_gid(ax, "funnel-contour") == [] and by_gid(ax, "funnel-pseudo-ci") == []


def test_funnel_trimfill_and_egger():
    tf = pd.DataFrame(
        {
            "yi": np.r_[RES.yi, [-0.1, -0.2]],
            "vi": np.r_[RES.vi, [0.001, 0.003]],
            "filled": np.r_[np.zeros(RES.k, bool), [True, True]],
        }
    )
    ax = rp.funnel(RES, trimfill=tf, trimfill_estimate=0.06, egger=(0.05, 1.5)).axes[0]
    assert n_points(ax, "funnel-filled") == 2
    assert by_gid(ax, "funnel-trimfill-estimate")[0].get_xdata()[0] == pytest.approx(0.06)
    line = by_gid(ax, "funnel-egger")[0]
    x, y = line.get_xdata(), line.get_ydata()
    np.testing.assert_allclose(x, 0.05 + 1.5 * y)  # x = b0 + b1 * se
    lo, hi = ax.get_xlim()
    assert lo <= -0.2
    with pytest.raises(DataError, match="filled"):
        rp.funnel(RES, trimfill=tf.drop(columns="filled"))


def test_funnel_egger_accepts_dict_and_object():
    class Egger:
        intercept, slope = 0.01, 2.0

    for e in ({"intercept": 0.01, "slope": 2.0}, Egger()):
        line = by_gid(rp.funnel(RES, egger=e).axes[0], "funnel-egger")[0]
        assert line.get_xdata()[0] == pytest.approx(0.01)


def test_funnel_meta_regression_shows_residuals():
    mr = rm.meta_analysis(EFF, mods="~ log10_params_B")
    ax = rp.funnel(mr).axes[0]
    assert ax.get_xlabel() == "Residual"
    off = by_gid(ax, "funnel-points")[0].get_offsets()
    np.testing.assert_allclose(off[:, 0], mr.yi - mr.fitted())


def test_funnel_from_effects_frame():
    ax = rp.funnel(EFF[["yi", "vi"]].head(20)).axes[0]
    assert n_points(ax, "funnel-points") == 20


def test_radial():
    ax = rp.radial(RES).axes[0]
    n = n_points(ax, "radial-points") + n_points(ax, "radial-points-outside")
    assert n == RES.k
    line = by_gid(ax, "radial-line")[0]
    x, y = line.get_xdata(), line.get_ydata()
    assert y[1] / x[1] == pytest.approx(RES.to_frame()["estimate"].iloc[0])
    assert ax.get_xlim()[0] == 0
    with pytest.raises(DataError, match="intercept-only"):
        rp.radial(rm.meta_analysis(EFF, mods="~ log10_params_B"))


def test_labbe():
    fig = rp.labbe(RES)
    ax = fig.axes[0]
    pts = by_gid(ax, "labbe-points")[0].get_offsets()
    data = RES.data
    prop = data["score_scale"].isin(["percent", "proportion"]).to_numpy()
    assert len(pts) == prop.sum()
    assert ((pts >= 0) & (pts <= 1)).all()
    # pooled RD curve is y = x + b
    est = RES.to_frame()["estimate"].iloc[0]
    line = by_gid(ax, "labbe-estimate")[0]
    np.testing.assert_allclose(line.get_ydata() - line.get_xdata(), est)
    # rows on other scales (judge scores) are left out, and that is said on the plot
    mixed = data.head(5).assign(score_scale=["percent", "percent", "1-10", "proportion", "percent"])
    mixed.loc[3, ["rl_score", "baseline_score"]] = [0.5, 0.4]
    ax = rp.labbe(mixed).axes[0]
    assert len(by_gid(ax, "labbe-points")[0].get_offsets()) == 4
    assert "1 contrast(s)" in by_gid(ax, "labbe-note")[0].get_text()


def test_labbe_from_frame_needs_columns():
    with pytest.raises(DataError, match="rl_score"):
        rp.labbe(pd.DataFrame({"a": [1]}))
