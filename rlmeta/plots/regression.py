"""Meta-regression figures: bubble plot (metafor's ``regplot``) and simple-slopes plots."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from ._base import as_frame, check_columns, finish, measure_label, new_axes, sizes_from_weights
from ._theme import COLORS, palette, themed


def _level_label(v) -> str:
    """Legend text of a moderator value: numbers to 3 significant digits, others as text."""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | float | np.integer | np.floating):
        return f"{float(v):.3g}"
    return str(v)


__all__ = ["bubble", "interaction_plot", "prediction_grid"]


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def prediction_grid(
    result, vary: Mapping[str, Sequence], at: Mapping | None = None
) -> pd.DataFrame:
    """Moderator values for predictions: the product of ``vary``, the rest held fixed.

    Columns of the model formula not in ``vary`` are held at ``at[col]`` when
    given, else at their mean (numeric) or at the reference level (the first level
    in sorted order, as ``C()`` codes it).

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> res = rm.meta_analysis(eff, mods="~ log10_params_B + C(rl_family)")
    >>> prediction_grid(res, {"log10_params_B": [0, 1]})["rl_family"].tolist()
    ['DPO', 'DPO']
    """
    design = getattr(result, "design", None)
    cols = list(getattr(design, "columns", []) or [])
    data = result.data
    at = dict(at or {})
    fixed = {}
    for c in cols:
        if c in vary:
            continue
        if c in at:
            fixed[c] = at[c]
        elif _is_numeric(data[c]):
            fixed[c] = float(pd.to_numeric(data[c], errors="coerce").mean())
        else:
            fixed[c] = sorted(data[c].dropna().unique(), key=str)[0]
    names = list(vary)
    rows = [
        dict(zip(names, combo)) | fixed
        for combo in itertools.product(*(list(vary[n]) for n in names))
    ]
    out = pd.DataFrame(rows)
    for c in cols:  # keep dtypes compatible with the fitted design
        if c in out.columns and not _is_numeric(data[c]) and data[c].dtype == bool:
            out[c] = out[c].astype(bool)
    return out


def _check_moderator(result, moderator: str, what: str) -> None:
    if getattr(result, "intercept_only", True):
        raise DataError(f"{what}: the model has no moderators; fit it with mods='~ {moderator}'")
    cols = list(getattr(result.design, "columns", []) or [])
    if moderator not in cols:
        raise DataError(
            f"{what}: {moderator!r} is not a moderator of the model (moderators: {cols})"
        )


@themed
def bubble(
    result,
    *,
    moderator: str,
    at: Mapping | None = None,
    ci: bool = True,
    pi: bool = True,
    hue: str | None = None,
    refline: float | None = 0.0,
    n_grid: int = 120,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax=None,
):
    """Bubble plot of a meta-regression: effects against a continuous moderator.

    Points have an area proportional to their model weight; the line is the
    predicted average effect with its confidence band (shaded) and prediction
    interval (dashed), other moderators held at ``at`` / their mean / the reference
    level (metafor's ``regplot``).

    Parameters
    ----------
    result
        A fitted meta-regression (:func:`rlmeta.meta_analysis` with ``mods``).
    moderator
        A continuous moderator column of the model's formula (x axis, raw units; a
        formula transform such as ``log10(x)`` is applied by the model).
    at
        Values of the other moderators for the line.
    ci, pi
        Draw the confidence band and the prediction-interval lines.
    hue
        Column of the data to colour the points by.
    refline
        Horizontal reference line (None for none).
    n_grid
        Number of points of the prediction line.
    xlabel, ylabel, title
        Texts.
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
    >>> res = rm.meta_analysis(eff, mods="~ log10_params_B")
    >>> fig = rp.bubble(res, moderator="log10_params_B")
    >>> sorted({a.get_gid() for a in fig.axes[0].get_children() if a.get_gid()})
    ['bubble-ci', 'bubble-line', 'bubble-pi', 'bubble-points', 'bubble-refline']
    """
    _check_moderator(result, moderator, "bubble")
    data = result.data.reset_index(drop=True)
    if not _is_numeric(data[moderator]):
        raise DataError(
            f"bubble: {moderator!r} is categorical; use forest(result, subgroup={moderator!r}) instead"
        )
    x = pd.to_numeric(data[moderator], errors="coerce").to_numpy(float)
    y = np.asarray(result.yi, float)
    grid = np.linspace(np.nanmin(x), np.nanmax(x), n_grid)
    nd = prediction_grid(result, {moderator: grid}, at)
    pr = result.predict(nd)
    fig, ax, created = new_axes(ax, (6.0, 4.4))
    if ci:
        ax.fill_between(
            grid,
            pr["ci_low"],
            pr["ci_high"],
            color=COLORS["fill"],
            alpha=0.45,
            lw=0,
            zorder=1,
            gid="bubble-ci",
            label=f"{100 * result.level:g}% CI",
        )
    if pi and getattr(result, "random", False):
        ax.plot(
            grid,
            pr["pi_low"],
            color=COLORS["pooled"],
            ls="--",
            lw=0.9,
            zorder=2,
            gid="bubble-pi",
            label=f"{100 * result.level:g}% PI",
        )
        ax.plot(
            grid, pr["pi_high"], color=COLORS["pooled"], ls="--", lw=0.9, zorder=2, gid="bubble-pi"
        )
    ax.plot(
        grid,
        pr["pred"],
        color=COLORS["pooled"],
        lw=1.8,
        zorder=3,
        gid="bubble-line",
        label="predicted effect",
    )
    sizes = sizes_from_weights(result.weights_percent())
    if hue is not None:
        check_columns(data, [hue], what="bubble")
        groups = data[hue].astype(str).to_numpy()
        cats = sorted(set(groups))
        from matplotlib.lines import Line2D

        handles = []
        for c, col in zip(cats, palette(len(cats))):
            m = groups == c
            ax.scatter(
                x[m],
                y[m],
                s=sizes[m],
                color=col,
                alpha=0.6,
                edgecolors="white",
                linewidths=0.5,
                zorder=4,
                gid="bubble-points",
            )
            handles.append(Line2D([], [], ls="", marker="o", ms=7, color=col, alpha=0.8, label=c))
    else:
        ax.scatter(
            x,
            y,
            s=sizes,
            color="#555555",
            alpha=0.45,
            edgecolors="white",
            linewidths=0.5,
            zorder=4,
            gid="bubble-points",
        )
        handles = []
    if refline is not None:
        ax.axhline(refline, color=COLORS["ref"], lw=0.8, ls=":", zorder=0, gid="bubble-refline")
    ax.set_xlabel(xlabel or moderator)
    ax.set_ylabel(ylabel or measure_label(getattr(result, "measure", None)))
    h, _ = ax.get_legend_handles_labels()
    held = {c: v for c, v in nd.iloc[0].items() if c != moderator}
    note = (
        "line at "
        + ", ".join(
            f"{c} = {v:.3g}" if isinstance(v, float) else f"{c} = {v}" for c, v in held.items()
        )
        if held
        else None
    )
    leg = ax.legend(
        handles=h + handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        borderaxespad=0,
        fontsize="small",
        title=note,
        title_fontsize="x-small",
    )
    leg._legend_box.align = "left"
    if title:
        ax.set_title(title)
    return finish(fig, ax, created)


def _slopes_frame(result, x: str, moderator: str, values, at, n_grid: int) -> pd.DataFrame:
    _check_moderator(result, x, "interaction_plot")
    _check_moderator(result, moderator, "interaction_plot")
    data = result.data
    xs = pd.to_numeric(data[x], errors="coerce")
    grid = np.linspace(xs.min(), xs.max(), n_grid)
    if values is None:
        if _is_numeric(data[moderator]):
            m, s = float(data[moderator].mean()), float(data[moderator].std())
            values = [m - s, m, m + s]
        else:
            values = sorted(data[moderator].dropna().unique(), key=str)
    nd = prediction_grid(result, {moderator: list(values), x: grid}, at)
    pr = result.predict(nd)
    out = pd.DataFrame(
        {
            "x": nd[x].to_numpy(),
            "moderator_value": nd[moderator].to_numpy(),
            "pred": pr["pred"],
            "ci_low": pr["ci_low"],
            "ci_high": pr["ci_high"],
        }
    )
    if _is_numeric(data[moderator]):
        labels = {v: f"{v:.3g}" for v in values}
        if len(values) == 3:
            labels = {
                values[0]: f"{values[0]:.3g} (mean − 1 SD)",
                values[1]: f"{values[1]:.3g} (mean)",
                values[2]: f"{values[2]:.3g} (mean + 1 SD)",
            }
        out["moderator_value"] = out["moderator_value"].map(labels)
    return out


@themed
def interaction_plot(
    data,
    *,
    x: str = "x",
    moderator: str = "moderator_value",
    values: Sequence | None = None,
    at: Mapping | None = None,
    ci: bool = True,
    points: pd.DataFrame | None = None,
    n_grid: int = 60,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax=None,
):
    """Simple-slopes plot: predicted outcome against ``x``, one line per moderator value.

    Parameters
    ----------
    data
        Either a tidy frame with columns ``x, moderator_value, pred, ci_low, ci_high``
        (names overridable with ``x`` and ``moderator``; e.g. from a regression
        result's ``to_frame()``), or a fitted meta-regression with an interaction:
        then ``x`` and ``moderator`` name its moderator columns and the lines are
        computed with ``predict``.
    x, moderator
        Column names (see ``data``).
    values
        Moderator values for a fitted model (default: mean and ± 1 SD for a numeric
        moderator, every level for a categorical one).
    at
        Values at which the model's other moderators are held.
    ci
        Draw confidence bands.
    points
        Optional frame with ``x``/``y`` columns (observations) to overlay as points.
    n_grid
        Points per line for a fitted model.
    xlabel, ylabel, title
        Texts.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, rlmeta.plots as rp
    >>> g = np.linspace(0, 1, 5)
    >>> fr = pd.concat([pd.DataFrame({"x": g, "moderator_value": m, "pred": m * g, "ci_low": m * g - .1,
    ...                               "ci_high": m * g + .1}) for m in (-1, 0, 1)])
    >>> fig = rp.interaction_plot(fr)
    >>> len([l for l in fig.axes[0].lines if l.get_gid() == "interaction-line"])
    3
    """
    if isinstance(data, pd.DataFrame) or (
        hasattr(data, "to_frame") and not hasattr(data, "design")
    ):
        frame = as_frame(data, what="interaction_plot")
        check_columns(
            frame,
            [x, moderator, "pred"] + (["ci_low", "ci_high"] if ci else []),
            what="interaction_plot",
        )
        xcol, mcol = x, moderator
        default_xlabel, default_mlabel = x, moderator
        ylab = "pred"
    else:
        if x == "x" or moderator == "moderator_value":
            raise DataError(
                "interaction_plot: with a fitted model, name its moderators: x=..., moderator=..."
            )
        frame = _slopes_frame(data, x, moderator, values, at, n_grid)
        xcol, mcol = "x", "moderator_value"
        default_xlabel, default_mlabel = x, moderator
        ylab = measure_label(getattr(data, "measure", None))
    fig, ax, created = new_axes(ax, (6.0, 4.2))
    levels = list(dict.fromkeys(frame[mcol]))
    cols = palette(len(levels))
    styles = ["-", "--", "-.", ":"]
    for i, lev in enumerate(levels):
        d = frame[frame[mcol] == lev].sort_values(xcol)
        ax.plot(
            d[xcol],
            d["pred"],
            color=cols[i],
            lw=1.8,
            ls=styles[i % len(styles)],
            label=_level_label(lev),
            zorder=3,
            gid="interaction-line",
        )
        if ci and {"ci_low", "ci_high"} <= set(d.columns):
            ax.fill_between(
                d[xcol],
                d["ci_low"],
                d["ci_high"],
                color=cols[i],
                alpha=0.15,
                lw=0,
                zorder=2,
                gid="interaction-band",
            )
    if points is not None:
        check_columns(points, ["x", "y"], what="interaction_plot points")
        ax.scatter(
            points["x"],
            points["y"],
            s=14,
            color="#555555",
            alpha=0.5,
            zorder=1,
            gid="interaction-points",
        )
    ax.set_xlabel(xlabel or default_xlabel)
    ax.set_ylabel(ylabel or ylab)
    ax.legend(
        title=default_mlabel,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        borderaxespad=0,
        fontsize="small",
    )
    if title:
        ax.set_title(title)
    return finish(fig, ax, created)
