"""Heat maps: effects by two categories (diverging, centred at 0) and correlation matrices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Patch, Rectangle

from ..errors import DataError
from ._base import as_frame, check_columns, ellipsize, finish, new_axes
from ._theme import COLORS, diverging_cmap, themed

__all__ = ["heatmap", "corr_heatmap"]


def _draw_heatmap(
    ax,
    mat: pd.DataFrame,
    *,
    center,
    vmax,
    annot,
    fmt,
    cbar_label,
    max_label_chars,
    counts: pd.DataFrame | None,
    mask=None,
    missing_label="no data",
    cmap=None,
    vmin=None,
):
    values = mat.to_numpy(float)
    if center is None:  # no natural centre: sequential range over the data
        finite0 = values[np.isfinite(values)]
        center = float((finite0.min() + finite0.max()) / 2) if finite0.size else 0.0
    nan = ~np.isfinite(values)
    if mask is not None:
        nan = nan & ~mask
    finite = values[np.isfinite(values)]
    if vmax is None:
        vmax = float(np.nanmax(np.abs(finite - center))) if finite.size else 1.0
        vmax = vmax if vmax > 0 else 1.0
    lo = center - vmax if vmin is None else vmin
    hi = center + vmax
    if annot is None:
        annot = values.size <= 300
    annot_data = None
    if annot:
        annot_data = np.full(values.shape, "", dtype=object)
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                s = format(v, fmt)
                if s.startswith("-") and float(s) == 0:
                    s = s[1:]
                s = s.replace("-", "\u2212")
                if counts is not None:
                    s += f"\n(n={int(counts.iat[i, j])})" if counts.iat[i, j] > 1 else ""
                annot_data[i, j] = s
    # the hatched background shows through masked (missing) cells
    ax.add_patch(
        Rectangle(
            (0, 0),
            values.shape[1],
            values.shape[0],
            facecolor=COLORS["missing"],
            hatch="///",
            edgecolor="#a0a0a0",
            lw=0,
            zorder=0,
            gid="heatmap-missing",
        )
    )
    full_mask = ~np.isfinite(values) if mask is None else (~np.isfinite(values) | mask)
    size = "x-small" if values.size > 80 else "small"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # seaborn 0.13: cmap.set_bad
        sns.heatmap(
            mat.astype(float),
            mask=full_mask,
            cmap=cmap or diverging_cmap(),
            center=center,
            vmin=lo,
            vmax=hi,
            annot=annot_data if annot else False,
            fmt="",
            annot_kws={"fontsize": size},
            linewidths=0.6,
            linecolor="white",
            ax=ax,
            cbar_kws={"label": cbar_label or "", "shrink": 0.8},
            square=False,
            # seaborn draws the figure once with its own (unclipped) tick labels; long
            # labels then collapse constrained layout. We set clipped labels below.
            xticklabels=False,
            yticklabels=False,
        )
    for coll in ax.collections:
        coll.set_gid("heatmap-mesh")
        coll.set_zorder(1)
    if mask is not None:  # masked-by-design cells (e.g. a correlation triangle) stay blank
        for (i, j), m in np.ndenumerate(mask):
            if m:
                ax.add_patch(
                    Rectangle((j, i), 1, 1, facecolor="white", edgecolor="white", lw=0, zorder=0.5)
                )
    ax.set_xticks(np.arange(values.shape[1]) + 0.5)
    ax.set_xticklabels(
        [ellipsize(str(c), max_label_chars) for c in mat.columns],
        rotation=40,
        ha="right",
        rotation_mode="anchor",
    )
    ax.set_yticks(np.arange(values.shape[0]) + 0.5)
    ax.set_yticklabels([ellipsize(str(r), max_label_chars) for r in mat.index], rotation=0)
    ax.tick_params(length=0)
    if nan.any():
        ax.legend(
            handles=[
                Patch(
                    facecolor=COLORS["missing"],
                    hatch="///",
                    edgecolor="#a0a0a0",
                    label=missing_label,
                )
            ],
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            fontsize="small",
            borderaxespad=0.2,
            handlelength=1.6,
        )
    return int(nan.sum())


@themed
def heatmap(
    data,
    *,
    rows: str | None = None,
    cols: str | None = None,
    values: str = "yi",
    aggfunc: str = "mean",
    annot: bool | None = None,
    fmt: str = ".2f",
    center: float = 0.0,
    vmax: float | None = None,
    cbar_label: str | None = None,
    max_label_chars: int = 28,
    row_order: Sequence | None = None,
    col_order: Sequence | None = None,
    title: str | None = None,
    ax=None,
):
    """Heat map of effects by two categories, diverging colours centred at ``center``.

    Cells without data are hatched grey (and listed in a legend entry), never
    painted as if they were zero.

    Parameters
    ----------
    data
        A matrix (DataFrame: index = rows, columns = columns) or, with ``rows`` and
        ``cols``, a long frame of effects aggregated with ``aggfunc``.
    rows, cols
        Columns of a long frame that give the heat map's rows and columns.
    values
        Column to aggregate (default ``yi``).
    aggfunc
        Aggregation of several effects in one cell (``"mean"``, ``"median"``...);
        annotated cells show the count when it exceeds one.
    annot
        Write the values into the cells (default: when there are at most 300).
    fmt
        Number format of the annotations.
    center, vmax
        Colour-scale centre and half-range (default: the largest absolute deviation).
    cbar_label
        Colour-bar label (default: ``values``).
    max_label_chars
        Clip row and column labels with an ellipsis.
    row_order, col_order
        Explicit orders (default: sorted).
    title
        Title.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    Examples
    --------
    >>> import rlmeta as rm, rlmeta.plots as rp
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> fig = rp.heatmap(eff, rows="benchmark_family", cols="rl_family")
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'no data'
    """
    counts = None
    if rows is not None or cols is not None:
        if rows is None or cols is None:
            raise DataError(
                "heatmap: give both `rows` and `cols` for a long frame (or pass a matrix)"
            )
        frame = (
            data.data
            if (not isinstance(data, pd.DataFrame) and hasattr(data, "yi"))
            else as_frame(data, what="heatmap")
        )
        if (
            cbar_label is None
            and values == "yi"
            and "measure" in frame.columns
            and frame["measure"].nunique() == 1
        ):
            cbar_label = (
                f"{aggfunc} {frame['measure'].iloc[0]}" if isinstance(aggfunc, str) else None
            )
        check_columns(frame, [rows, cols, values], what="heatmap")
        f = frame[[rows, cols, values]].copy()
        f[values] = pd.to_numeric(f[values], errors="coerce")
        mat = f.pivot_table(
            index=rows, columns=cols, values=values, aggfunc=aggfunc, dropna=False, observed=False
        )
        counts = (
            f.pivot_table(
                index=rows,
                columns=cols,
                values=values,
                aggfunc="count",
                dropna=False,
                observed=False,
            )
            .reindex_like(mat)
            .fillna(0)
        )
    else:
        mat = as_frame(data, what="heatmap")
        mat = mat.apply(pd.to_numeric, errors="coerce")
    if row_order is not None:
        mat = mat.reindex(index=list(row_order))
    if col_order is not None:
        mat = mat.reindex(columns=list(col_order))
    if counts is not None:
        counts = counts.reindex(index=mat.index, columns=mat.columns).fillna(0)
    if mat.size == 0:
        raise DataError("heatmap: the matrix is empty")
    nr, nc = mat.shape
    lab_w = min(max((len(str(i)) for i in mat.index), default=4), max_label_chars) * 0.075
    fig, ax, created = new_axes(ax, (min(0.62 * nc + lab_w + 2.2, 18), min(0.42 * nr + 1.9, 30)))
    _draw_heatmap(
        ax,
        mat,
        center=center,
        vmax=vmax,
        annot=annot,
        fmt=fmt,
        cbar_label=cbar_label or values,
        max_label_chars=max_label_chars,
        counts=counts,
    )
    ax.set_xlabel(cols or "")
    ax.set_ylabel(rows or "")
    if title:
        ax.set_title(title, pad=18)
    return finish(fig, ax, created)


@themed
def corr_heatmap(
    frame,
    *,
    columns: Sequence[str] | None = None,
    method: str = "pearson",
    triangle: str = "lower",
    annot: bool | None = None,
    max_label_chars: int = 24,
    title: str | None = None,
    ax=None,
):
    """Correlation matrix of numeric columns as a diverging heat map (-1 to 1).

    Parameters
    ----------
    frame
        Data frame; by default every numeric column that is not constant.
    columns
        Columns to correlate.
    method
        ``"pearson"``, ``"spearman"`` or ``"kendall"``.
    triangle
        ``"lower"`` (default), ``"upper"`` or ``"full"``.
    annot
        Write the correlations into the cells (default: up to 20 columns).
    max_label_chars
        Clip labels with an ellipsis.
    title
        Title.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    Examples
    --------
    >>> import rlmeta as rm, rlmeta.plots as rp
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> fig = rp.corr_heatmap(eff, columns=["yi", "vi", "log10_params_B", "year"])
    >>> len(fig.axes[0].get_xticklabels())
    4
    """
    frame = as_frame(frame, what="corr_heatmap")
    if columns is None:
        num = frame.select_dtypes(include=[np.number, "bool"])
        columns = [c for c in num.columns if num[c].nunique(dropna=True) > 1]
    check_columns(frame, columns, what="corr_heatmap")
    if len(columns) < 2:
        raise DataError("corr_heatmap: need at least two non-constant numeric columns")
    corr = (
        frame[list(columns)].apply(pd.to_numeric, errors="coerce").astype(float).corr(method=method)
    )
    n = len(columns)
    mask = None
    if triangle == "lower":
        mask = np.triu(np.ones((n, n), bool), k=1)
    elif triangle == "upper":
        mask = np.tril(np.ones((n, n), bool), k=-1)
    elif triangle != "full":
        raise ValueError(
            f"value for `triangle` must be one of ['lower', 'upper', 'full'], but {triangle!r} was passed"
        )
    fig, ax, created = new_axes(ax, (min(0.55 * n + 2.6, 16), min(0.5 * n + 1.6, 14)))
    _draw_heatmap(
        ax,
        corr,
        center=0.0,
        vmax=1.0,
        annot=(n <= 20) if annot is None else annot,
        fmt=".2f",
        cbar_label=f"{method.capitalize()} r",
        max_label_chars=max_label_chars,
        counts=None,
        mask=mask,
        missing_label="undefined",
    )
    if title:
        ax.set_title(title, pad=18)
    return finish(fig, ax, created)
