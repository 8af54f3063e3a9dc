"""Sensitivity figures: leave-one-out, influence, Baujat, GOSH, specification curve, estimator sweep."""

from __future__ import annotations

import numpy as np
import pytest

import rlmeta.plots as rp
from rlmeta.errors import DataError
from tests.plots_helpers import (
    baujat_frame,
    by_gid,
    gosh_frame,
    influence_frame,
    loo_frame,
    n_points,
    n_segments,
    overlapping_texts,
    spec_frame,
    sweep_frame,
)


def table_ax(fig):
    return fig._rlmeta_table.ax


def test_leave_one_out():
    loo = loo_frame(8)
    loo.loc[3, ["estimate", "ci_low", "ci_high"]] = [0.2, 0.18, 0.22]  # outside the full CI
    fig = rp.leave_one_out(loo, full=(0.08, 0.06, 0.1))
    ax = table_ax(fig)
    assert n_points(ax, "forest-points") == 8 and n_segments(ax, "forest-ci") == 8
    assert len(by_gid(ax, "forest-diamond")) == 1
    assert by_gid(ax, "forest-band")
    colors = by_gid(ax, "forest-points")[0].get_facecolors()
    assert len({tuple(c) for c in colors}) == 2  # the outlier is highlighted
    lo, hi = ax.get_xlim()
    assert lo <= loo["ci_low"].min() and loo["ci_high"].max() <= hi
    assert any("outside the full-data CI" in t.get_text() for t in ax.texts)
    with pytest.raises(DataError, match="left_out"):
        rp.leave_one_out(loo.drop(columns="left_out"))


def test_leave_one_out_accepts_to_frame_objects():
    class Result:
        def to_frame(self):
            return loo_frame(5)

    assert n_points(table_ax(rp.leave_one_out(Result())), "forest-points") == 5


def test_influence_panel():
    infl = influence_frame(15)
    fig = rp.influence_panel(infl, full_tau2=0.01)
    panels = [a for a in fig.axes if a.get_visible()]
    assert len(panels) == 8
    flagged = sum(n_points(a, "influence-flagged") for a in panels)
    assert flagged == 8 * infl["influential"].sum()
    assert all(
        n_points(a, "influence-points") + n_points(a, "influence-flagged") == 15 for a in panels
    )
    fig = rp.influence_panel(infl, dfbetas=True, ncols=3)
    assert len([a for a in fig.axes if a.get_visible()]) == 9
    with pytest.raises(DataError):
        rp.influence_panel(infl[["label"]])


def test_baujat_labels_do_not_overlap():
    fig = rp.baujat(baujat_frame(30), label_top=10)
    ax = fig.axes[0]
    assert n_points(ax, "baujat-points") == 30
    assert 1 <= len(by_gid(ax, "baujat-label")) <= 10
    assert overlapping_texts(fig) == []


def test_gosh_scatter_and_clusters():
    fig = rp.gosh(gosh_frame(2000))
    main = fig.axes[2]
    assert n_points(main, "gosh-points") == 2000
    assert main.get_legend() is not None
    assert len(by_gid(fig.axes[0], "gosh-marginal")) == 2  # one histogram per cluster
    fig = rp.gosh(gosh_frame(500, cluster=False))
    assert fig.axes[2].get_legend() is None


@pytest.mark.slow
def test_gosh_handles_a_million_points():
    g = gosh_frame(1_000_000, seed=1)
    fig = rp.gosh(g)
    main = fig.axes[2]
    assert [im.get_gid() for im in main.images] == ["gosh-density"]
    assert n_points(main, "gosh-points") == 0  # no million-marker collection
    lo, hi = main.get_xlim()
    assert lo <= g["estimate"].min() and g["estimate"].max() <= hi
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    assert buf.tell() < 3_000_000  # the SVG stays small


def test_specification_curve():
    sc = spec_frame()
    fig = rp.specification_curve(sc)
    top, bottom = fig.axes[0], fig.axes[1]
    assert n_points(top, "spec-points") == len(sc)
    assert n_segments(top, "spec-ci") == len(sc)
    # sorted by estimate
    off = by_gid(top, "spec-points")[0].get_offsets()
    assert np.all(np.diff(off[:, 1]) >= 0)
    # one marker per spec and choice; rows: 3 choices + their options
    assert n_points(bottom, "spec-choices") == 3 * len(sc)
    assert len(bottom.get_yticklabels()) == 3 + 3 + 2 + 3
    # significant specs are coloured, the others grey
    cols = by_gid(top, "spec-points")[0].get_facecolors()
    kinds = set(np.where(~sc["significant"], "ns", np.where(sc["estimate"] >= 0, "pos", "neg")))
    assert len({tuple(c) for c in cols}) == len(kinds)
    fig = rp.specification_curve(sc, choices=["method"])
    assert len(fig.axes[1].get_yticklabels()) == 1 + 3


def test_specification_curve_many_specs_uses_a_band():
    sc = spec_frame()
    big = sc.loc[np.repeat(sc.index, 40)].reset_index(drop=True)
    big["estimate"] += np.random.default_rng(0).normal(0, 0.01, len(big))
    fig = rp.specification_curve(big)
    assert by_gid(fig.axes[0], "spec-ci-band")


def test_estimator_sweep():
    sw = sweep_frame()
    fig = rp.estimator_sweep(sw, reference=("REML", "z"))
    ax = table_ax(fig)
    assert n_points(ax, "forest-points") == len(sw)
    headers = [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"]
    assert "z" in headers and "knha" in headers
    assert any(t.get_text().strip().startswith("REML (reference)") for t in ax.texts)
    assert by_gid(ax, "forest-band")
