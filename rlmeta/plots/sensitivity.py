"""Sensitivity figures: leave-one-out, influence diagnostics, Baujat, cumulative, estimator sweep.

They take the tidy frames of the sensitivity tools (or any object whose
``to_frame()`` returns them), so they work with results built elsewhere:

* leave-one-out: ``left_out, k, estimate, se, ci_low, ci_high, tau2, i2``
* cumulative: ``label, order_value, k, estimate, se, ci_low, ci_high, tau2, i2``
* influence: ``label, rstudent, dffits, cooks_d, cov_r, tau2_del, qe_del, hat, weight,
  influential`` (+ ``dfbetas_<term>``)
* Baujat: ``label, x, y``
* estimator sweep: ``method, test, estimate, se, ci_low, ci_high, tau2, i2``
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from ._base import as_frame, check_columns, finish, new_axes, panel_axes, place_labels
from ._forestdraw import apply_transform, draw_forest_table, fmt_ci, transformed_refline
from ._table import Column, Row
from ._theme import COLORS, themed

__all__ = ["leave_one_out", "cumulative", "influence_panel", "baujat", "estimator_sweep"]


def _full_estimate(full, level=None):
    """(estimate, ci_low, ci_high, k, label) of a full-data model, a tuple or None."""
    if full is None:
        return None
    if isinstance(full, tuple | list):
        est, lo, hi = (float(v) for v in full[:3])
        return est, lo, hi, None, "All effects"
    tab = full.to_frame().iloc[0]
    return (
        float(tab["estimate"]),
        float(tab["ci_low"]),
        float(tab["ci_high"]),
        int(full.k),
        "All effects",
    )


def _stat_cells(r, digits: int, e, lo, hi, keys) -> dict[str, str]:
    out = {"estimate [CI]": fmt_ci(e, lo, hi, digits)}
    if "i2" in keys and pd.notna(r.get("i2")):
        out["i2"] = f"{float(r['i2']):.1f}%"
    if "tau2" in keys and pd.notna(r.get("tau2")):
        out["tau2"] = f"{float(r['tau2']):#.3g}"
    if "k" in keys and pd.notna(r.get("k")):
        out["k"] = str(int(r["k"]))
    return out


def _stat_columns(frame: pd.DataFrame, measure_hdr: str, level: float) -> list[Column]:
    cols = []
    if "k" in frame.columns:
        cols.append(Column("k", "k", "left", "right"))
    cols.append(Column("estimate [CI]", f"{measure_hdr} [{100 * level:g}% CI]", "right", "right"))
    if "i2" in frame.columns:
        cols.append(Column("i2", "I²", "right", "right"))
    if "tau2" in frame.columns:
        cols.append(Column("tau2", "τ²", "right", "right"))
    return cols


@themed
def leave_one_out(
    frame,
    *,
    full=None,
    sort_by: str | None = None,
    transform: Callable | None = None,
    refline: float | None = 0.0,
    digits: int = 2,
    level: float = 0.95,
    measure_header: str = "Estimate",
    xlabel: str = "Pooled estimate without the effect",
    title: str | None = None,
    max_label_chars: int | None = 48,
    ax=None,
):
    """Leave-one-out forest: the pooled estimate with each effect omitted in turn.

    Rows whose estimate leaves the full-data CI are highlighted; the full-data
    estimate is drawn as a band and a diamond.

    Parameters
    ----------
    frame
        Leave-one-out frame (``left_out, k, estimate, se, ci_low, ci_high, tau2, i2``)
        or an object whose ``to_frame()`` returns one.
    full
        The full-data model (or an ``(estimate, ci_low, ci_high)`` tuple).
    sort_by
        None (input order), ``"estimate"`` or ``"i2"``.
    transform
        Back-transformation (e.g. ``np.exp``, giving a log axis).
    refline
        No-effect line on the model scale.
    digits, level, measure_header, xlabel, title, max_label_chars
        Table formatting.
    ax
        Axes to draw into (the table is fitted inside it).

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, rlmeta.plots as rp
    >>> loo = pd.DataFrame({"left_out": list("abcde"), "k": 4, "estimate": [.1, .12, .08, .11, .2],
    ...                     "se": .02, "ci_low": [.06, .08, .04, .07, .16], "ci_high": [.14, .16, .12, .15, .24],
    ...                     "tau2": .01, "i2": 50.0})
    >>> fig = rp.leave_one_out(loo, full=(0.12, 0.09, 0.15))
    >>> len([p for p in fig.axes[0].patches if p.get_gid() == "forest-diamond"])
    1
    """
    f = as_frame(frame, what="leave_one_out")
    check_columns(f, ["left_out", "estimate", "ci_low", "ci_high"], what="leave_one_out")
    if sort_by is not None:
        f = f.sort_values(sort_by, kind="stable")
    full_e = _full_estimate(full)
    cols = _stat_columns(f, measure_header, level)
    keys = {c.key for c in cols}
    e, lo, hi = apply_transform(transform, f["estimate"], f["ci_low"], f["ci_high"])
    rows = []
    for i, (_, r) in enumerate(f.iterrows()):
        color = None
        if full_e is not None and not (full_e[1] <= r["estimate"] <= full_e[2]):
            color = COLORS["highlight"]
        rows.append(
            Row(
                "study",
                str(r["left_out"]),
                e[i],
                lo[i],
                hi[i],
                cells=_stat_cells(r, digits, e[i], lo[i], hi[i], keys),
                color=color,
            )
        )
    band = None
    if full_e is not None:
        fe, fl, fh = apply_transform(transform, [full_e[0]], [full_e[1]], [full_e[2]])
        band = (fe[0], fl[0], fh[0])
        rows.append(Row("blank"))
        cells = {"estimate [CI]": fmt_ci(fe[0], fl[0], fh[0], digits)}
        if full_e[3] is not None and "k" in keys:
            cells["k"] = str(full_e[3])
        rows.append(Row("overall", full_e[4], fe[0], fl[0], fh[0], cells=cells, bold=True))
        n_out = sum(1 for r in rows if r.color)
        if n_out:
            rows.append(
                Row(
                    "note",
                    f"{n_out} estimate(s) outside the full-data CI (highlighted)",
                    italic=True,
                )
            )
    ref = transformed_refline(transform, refline)
    return draw_forest_table(
        rows,
        cols,
        ax=ax,
        logx=transform is np.exp,
        refline=ref,
        xlabel=xlabel,
        title=title,
        label_header="Omitted",
        max_label_chars=max_label_chars,
        band=band,
        uniform_points=True,
    )


@themed
def cumulative(
    frame,
    *,
    label: str = "label",
    annotate="auto",
    transform: Callable | None = None,
    refline: float | None = 0.0,
    xlabel: str = "Cumulative pooled estimate",
    title: str | None = None,
    ax=None,
    **kwargs,
):
    """Cumulative forest plot: the pooled estimate as effects are added in order.

    A thin wrapper of :func:`rlmeta.plots.forest` for the cumulative frame
    (``label, order_value, k, estimate, se, ci_low, ci_high, tau2, i2``); row ``i``
    shows the pooled estimate of the first ``i`` effects.  Extra keywords go to
    :func:`~rlmeta.plots.forest`.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    Examples
    --------
    >>> import pandas as pd, rlmeta.plots as rp
    >>> cu = pd.DataFrame({"label": ["a", "b", "c"], "order_value": [2023, 2024, 2025], "k": [1, 2, 3],
    ...                    "estimate": [.2, .15, .1], "se": [.05, .04, .03], "ci_low": [.1, .07, .04],
    ...                    "ci_high": [.3, .23, .16], "tau2": [0, .001, .002], "i2": [0, 20., 35.]})
    >>> fig = rp.cumulative(cu)
    >>> [len(c.get_offsets()) for c in fig.axes[0].collections if c.get_gid() == "forest-points"]
    [3]
    """
    from .forest import forest

    f = as_frame(frame, what="cumulative")
    check_columns(f, ["order_value", "k", "estimate", "ci_low", "ci_high"], what="cumulative")
    if isinstance(annotate, str) and annotate == "auto":
        annotate = [("order_value", "Order"), "k", "estimate [CI]"] + (
            ["i2"] if "i2" in f.columns else []
        )
    return forest(
        f,
        label=label if label in f.columns else None,
        annotate=annotate,
        transform=transform,
        refline=refline,
        xlabel=xlabel,
        title=title,
        label_header="Added (cumulative)",
        ax=ax,
        **kwargs,
    )


#: Influence panels: (column, title, reference-line rule).
_INFL = {
    "rstudent": "Studentized residual",
    "dffits": "DFFITS",
    "cooks_d": "Cook's distance",
    "cov_r": "Covariance ratio",
    "tau2_del": "τ² (leave one out)",
    "qe_del": "Q (leave one out)",
    "hat": "Hat value",
    "weight": "Weight (%)",
}


def _infl_refs(col: str, k: int, p: int, full_tau2, full_q) -> list[float]:
    if col == "rstudent":
        z = stats.norm.ppf(0.975)
        return [-z, 0.0, z]
    if col == "dffits":
        t = 3 * np.sqrt(p / max(k - p, 1))
        return [-t, t]
    if col == "cooks_d":
        return [float(stats.chi2.ppf(0.5, p))]
    if col == "cov_r":
        return [1.0]
    if col == "tau2_del":
        return [] if full_tau2 is None else [float(full_tau2)]
    if col == "qe_del":
        return [] if full_q is None else [float(full_q)]
    if col == "hat":
        return [3 * p / k]
    if col == "weight":
        return [100 / k]
    if col.startswith("dfbetas_"):
        return [-1.0, 1.0]
    return []


@themed
def influence_panel(
    frame,
    *,
    panels: Sequence[str] | None = None,
    dfbetas: bool = False,
    p: int = 1,
    full_tau2: float | None = None,
    full_q: float | None = None,
    ncols: int = 2,
    label_influential: int = 3,
    title: str | None = None,
    ax=None,
):
    """Influence diagnostics, one panel per statistic (metafor's ``plot.infl``).

    Each panel shows a statistic against the effect index, with the usual
    cut-offs as dashed lines; effects flagged ``influential`` are drawn in the
    highlight colour (and the first few labelled).

    Parameters
    ----------
    frame
        Influence frame (``label, rstudent, dffits, cooks_d, cov_r, tau2_del, qe_del,
        hat, weight, influential``, optional ``dfbetas_<term>``) or an object with
        ``to_frame()``.
    panels
        Statistics to show (default: the eight above that are present).
    dfbetas
        Add one panel per ``dfbetas_<term>`` column.
    p
        Number of model coefficients (for the DFFITS, Cook's distance and hat cut-offs).
    full_tau2, full_q
        Full-data τ² and Q, drawn as reference lines in the leave-one-out panels.
    ncols
        Panels per row.
    label_influential
        Label at most this many influential effects per panel.
    title
        Figure title.
    ax
        Axes whose area is divided into the panels (inset Axes in ``ax.child_axes``).

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, rlmeta.plots as rp
    >>> rng = np.random.default_rng(0); k = 12
    >>> infl = pd.DataFrame({"label": [f"e{i}" for i in range(k)], "rstudent": rng.normal(size=k),
    ...     "dffits": rng.normal(0, .3, k), "cooks_d": rng.gamma(1, .05, k), "cov_r": rng.normal(1, .05, k),
    ...     "tau2_del": rng.normal(.01, .001, k), "qe_del": rng.normal(30, 3, k), "hat": np.full(k, 1 / k),
    ...     "weight": np.full(k, 100 / k), "influential": [True] + [False] * (k - 1)})
    >>> fig = rp.influence_panel(infl)
    >>> len([a for a in fig.axes if a.get_visible()])
    8
    """
    f = as_frame(frame, what="influence_panel").reset_index(drop=True)
    if panels is None:
        panels = [c for c in _INFL if c in f.columns]
    else:
        check_columns(f, panels, what="influence_panel")
    panels = list(panels)
    if dfbetas:
        panels += [c for c in f.columns if c.startswith("dfbetas_")]
    if not panels:
        raise DataError(f"influence_panel: none of {list(_INFL)} in the frame")
    k = len(f)
    infl = (
        f["influential"].astype(bool).to_numpy()
        if "influential" in f.columns
        else np.zeros(k, bool)
    )
    labels = (
        f["label"].astype(str).tolist() if "label" in f.columns else [str(i + 1) for i in range(k)]
    )
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes, created = panel_axes(
        ax,
        nrows=nrows,
        ncols=ncols,
        figsize=(3.6 * ncols, 2.1 * nrows + 0.5),
        sharex=True,
        hgap=0.45,
        wgap=0.85,
    )
    idx = np.arange(1, k + 1)
    to_label = []
    for n, a in enumerate(axes.flat):
        if n >= len(panels):
            a.set_visible(False)
            continue
        col = panels[n]
        v = pd.to_numeric(f[col], errors="coerce").to_numpy(float)
        a.plot(idx, v, color="#9a9a9a", lw=0.7, zorder=1)
        a.scatter(
            idx[~infl],
            v[~infl],
            s=14 if k < 60 else 7,
            color=COLORS["point"],
            zorder=2,
            gid="influence-points",
        )
        if infl.any():
            a.scatter(
                idx[infl],
                v[infl],
                s=30 if k < 60 else 16,
                color=COLORS["highlight"],
                zorder=3,
                gid="influence-flagged",
                label="influential",
            )
        for r in _infl_refs(col, k, p, full_tau2, full_q):
            a.axhline(r, color=COLORS["ref"], lw=0.8, ls="--", zorder=0, gid="influence-ref")
        a.set_title(
            _INFL.get(col, col.replace("dfbetas_", "DFBETAS ")), fontsize="small", loc="left"
        )
        a.tick_params(labelsize="x-small")
        a.margins(x=0.03)
        if label_influential and infl.any():
            sel = np.flatnonzero(infl & np.isfinite(v))
            sel = sel[np.argsort(-np.abs(v[sel] - np.nanmedian(v)))][:label_influential]
            to_label.append((a, sel, v))
    for a in axes[-1]:
        if a.get_visible():
            a.set_xlabel("Effect (index)", fontsize="small")
    if nrows > 1:  # the last row may be incomplete: show the x labels on the panel above its gap
        for j in range(ncols):
            col_axes = [axes[i, j] for i in range(nrows) if axes[i, j].get_visible()]
            if col_axes:
                col_axes[-1].tick_params(labelbottom=True)
                col_axes[-1].set_xlabel("Effect (index)", fontsize="small")
    if title:
        (
            fig.suptitle(title, fontweight="bold", x=0.02, ha="left")
            if created
            else ax.set_title(title)
        )
    if to_label:
        fig.draw_without_rendering()  # one layout pass, then label every panel
        for a, sel, v in to_label:
            place_labels(
                a,
                idx[sel],
                v[sel],
                [labels[i] for i in sel],
                fontsize="xx-small",
                color=COLORS["highlight"],
                gid="influence-label",
                max_chars=18,
                settle=False,
            )
    return finish(fig, ax, created)


@themed
def baujat(
    frame,
    *,
    label_top: int = 5,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax=None,
):
    """Baujat plot: each effect's contribution to heterogeneity (x) and influence on the result (y).

    Parameters
    ----------
    frame
        Frame with ``label, x, y`` (or an object with ``to_frame()``).
    label_top
        Label this many effects with the largest ``x + y`` (scaled); labels never
        overlap each other (a label that does not fit is left out).
    xlabel, ylabel, title
        Texts.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    References
    ----------
    Baujat B, Mahé C, Pignon J-P, Hill C (2002). A graphical method for exploring
    heterogeneity in meta-analyses. *Stat Med* 21:2641-2652. doi:10.1002/sim.1221

    Examples
    --------
    >>> import pandas as pd, rlmeta.plots as rp
    >>> b = pd.DataFrame({"label": list("abcd"), "x": [1, 5, 2, 30.], "y": [.1, .4, .2, 2.]})
    >>> fig = rp.baujat(b, label_top=1)
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['d']
    """
    f = as_frame(frame, what="baujat")
    check_columns(f, ["x", "y"], what="baujat")
    x = pd.to_numeric(f["x"], errors="coerce").to_numpy(float)
    y = pd.to_numeric(f["y"], errors="coerce").to_numpy(float)
    labels = (
        f["label"].astype(str).tolist()
        if "label" in f.columns
        else [str(i + 1) for i in range(len(f))]
    )
    fig, ax, created = new_axes(ax, (5.6, 4.4))
    ax.scatter(
        x,
        y,
        s=22,
        color=COLORS["point"],
        alpha=0.8,
        edgecolors="white",
        linewidths=0.4,
        zorder=2,
        gid="baujat-points",
    )
    xm, ym = np.nanmean(x), np.nanmean(y)
    ax.axvline(xm, color=COLORS["ref"], lw=0.7, ls=":", zorder=0)
    ax.axhline(ym, color=COLORS["ref"], lw=0.7, ls=":", zorder=0)
    ax.set_xlabel(xlabel or "Contribution to overall heterogeneity (Q)")
    ax.set_ylabel(ylabel or "Influence on the pooled result")
    if title:
        ax.set_title(title)
    if label_top:
        score = x / (np.nanmax(x) or 1) + y / (np.nanmax(y) or 1)
        top = np.argsort(-np.nan_to_num(score, nan=-np.inf))[:label_top]
        ax.scatter(x[top], y[top], s=30, color=COLORS["highlight"], zorder=3, gid="baujat-top")
        place_labels(
            ax, x[top], y[top], [labels[i] for i in top], fontsize="x-small", gid="baujat-label"
        )
    return finish(fig, ax, created)


@themed
def estimator_sweep(
    frame,
    *,
    group: str = "test",
    reference: tuple[str, str] | None = ("REML", "z"),
    transform: Callable | None = None,
    refline: float | None = 0.0,
    digits: int = 3,
    level: float = 0.95,
    xlabel: str = "Pooled estimate",
    title: str | None = None,
    ax=None,
):
    """Pooled estimate under every tau² estimator (rows) and inference method (blocks).

    Parameters
    ----------
    frame
        Estimator-sweep frame (``method, test, estimate, se, ci_low, ci_high, tau2, i2``).
    group
        Column forming the blocks (default ``test``: z, t, Knapp-Hartung...).
    reference
        ``(method, test)`` of the reference analysis: highlighted and drawn as a band.
    transform, refline, digits, level, xlabel, title
        As for :func:`~rlmeta.plots.forest`.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    Examples
    --------
    >>> import pandas as pd, rlmeta.plots as rp
    >>> sw = pd.DataFrame({"method": ["REML", "DL", "REML", "DL"], "test": ["z", "z", "knha", "knha"],
    ...                    "estimate": [.08, .081, .08, .081], "se": [.009, .009, .01, .01],
    ...                    "ci_low": [.063, .064, .06, .061], "ci_high": [.097, .098, .1, .101],
    ...                    "tau2": [.0099, .0095, .0099, .0095], "i2": [99.3, 99.2, 99.3, 99.2]})
    >>> fig = rp.estimator_sweep(sw)
    >>> [len(c.get_offsets()) for c in fig.axes[0].collections if c.get_gid() == "forest-points"]
    [4]
    """
    f = as_frame(frame, what="estimator_sweep")
    check_columns(f, ["method", "estimate", "ci_low", "ci_high"], what="estimator_sweep")
    cols = _stat_columns(f.drop(columns=[c for c in ("k",) if c in f.columns]), "Estimate", level)
    keys = {c.key for c in cols}
    rows: list[Row] = []
    band = None
    blocks = [(None, f)] if group not in f.columns else list(f.groupby(group, sort=False))
    for name, d in blocks:
        if name is not None:
            rows.append(Row("header", str(name), bold=True))
        e, lo, hi = apply_transform(transform, d["estimate"], d["ci_low"], d["ci_high"])
        for i, (_, r) in enumerate(d.iterrows()):
            is_ref = (
                reference is not None
                and str(r["method"]) == reference[0]
                and (name is None or str(name) == reference[1])
            )
            if is_ref:
                band = (e[i], lo[i], hi[i])
            rows.append(
                Row(
                    "study",
                    str(r["method"]) + (" (reference)" if is_ref else ""),
                    e[i],
                    lo[i],
                    hi[i],
                    cells=_stat_cells(r, digits, e[i], lo[i], hi[i], keys),
                    indent=1 if name is not None else 0,
                    color=COLORS["pooled"] if is_ref else None,
                    bold=is_ref,
                )
            )
        rows.append(Row("blank"))
    while rows and rows[-1].kind == "blank":
        rows.pop()
    ref = transformed_refline(transform, refline)
    return draw_forest_table(
        rows,
        cols,
        ax=ax,
        logx=transform is np.exp,
        refline=ref,
        xlabel=xlabel,
        title=title,
        label_header="τ² estimator",
        band=band,
        uniform_points=True,
    )
