"""Distributions of effects by category: box plots with every point shown."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns

from ..errors import DataError
from ._base import as_frame, check_choice, check_columns, ellipsize, finish, measure_label, new_axes
from ._theme import COLORS, palette, themed

__all__ = ["boxplot"]


@themed
def boxplot(
    effects,
    *,
    by: str = "rl_family",
    y: str = "yi",
    hue: str | None = None,
    order: Sequence[str] | None = None,
    points: str = "auto",
    refline: float | None = 0.0,
    counts: bool = True,
    max_label_chars: int = 30,
    xlabel: str | None = None,
    title: str | None = None,
    ax=None,
):
    """Box plots of effects per category, with the individual effects on top.

    Categories run down the y axis (long names stay readable); each box shows the
    quartiles and whiskers (1.5 IQR), outliers are not drawn separately because
    every effect is drawn as a point (swarm when it fits, jittered strip otherwise).

    Parameters
    ----------
    effects
        Effects frame (or an object with ``to_frame()`` / ``data``).
    by
        Categorical column: one box per level.
    y
        Numeric column to summarise (default ``yi``).
    hue
        Optional column to colour the points by.
    order
        Order of the categories (default: by median, descending).
    points
        ``"auto"`` (swarm up to 60 points per box, else strip), ``"swarm"``,
        ``"strip"`` or ``"none"``.
    refline
        Vertical reference line (None for none).
    counts
        Add ``(n = ...)`` to the category labels.
    max_label_chars
        Clip category labels with an ellipsis.
    xlabel, title
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
    >>> fig = rp.boxplot(eff, by="rl_family")
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()][:2]
    ['SimPO (n = 6)', 'GRPO (n = 51)']
    """
    check_choice("points", points, ["auto", "swarm", "strip", "none"])
    frame = effects if isinstance(effects, pd.DataFrame) else getattr(effects, "data", None)
    if not isinstance(frame, pd.DataFrame):
        frame = as_frame(effects, what="boxplot")
    check_columns(frame, [by, y] + ([hue] if hue else []), what="boxplot")
    df = frame[[c for c in dict.fromkeys([by, y, hue]) if c]].copy()
    df[y] = pd.to_numeric(df[y], errors="coerce")
    df = df[np.isfinite(df[y]) & df[by].notna()]
    if df.empty:
        raise DataError(f"boxplot: no finite values of {y!r} with a {by!r} category")
    df[by] = df[by].astype(str)
    if order is None:
        order = df.groupby(by)[y].median().sort_values(ascending=False).index.tolist()
    else:
        order = [str(o) for o in order]
    n = df[by].value_counts()
    names = {
        c: ellipsize(c, max_label_chars) + (f" (n = {int(n.get(c, 0))})" if counts else "")
        for c in order
    }
    df["_cat"] = df[by].map(names)
    cats = [names[c] for c in order]
    fig, ax, created = new_axes(ax, (6.2 + (1.4 if hue else 0.0), 0.45 * len(cats) + 1.4))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", DeprecationWarning
        )  # seaborn 0.13 passes `vert` to Matplotlib 3.11
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        sns.boxplot(
            data=df,
            x=y,
            y="_cat",
            order=cats,
            orient="h",
            ax=ax,
            showfliers=False,
            width=0.6,
            color="#e8eef5",
            linecolor="#4a4a4a",
            linewidth=1.0,
        )
    for patch in ax.patches:
        patch.set_gid("boxplot-box")
    kind = points
    if kind == "auto":
        kind = "swarm" if n.max() <= 25 else "strip"
    if kind != "none":
        kw = {
            "data": df,
            "x": y,
            "y": "_cat",
            "order": cats,
            "orient": "h",
            "ax": ax,
            "size": 4 if len(df) < 300 else 2.5,
            "alpha": 0.85,
            "zorder": 3,
        }
        if hue:
            hues = sorted(df[hue].astype(str).unique())
            df[hue] = df[hue].astype(str)
            kw.update(hue=hue, hue_order=hues, palette=dict(zip(hues, palette(len(hues)))))
        else:
            kw.update(color=COLORS["pooled"])
        if kind == "swarm":
            with warnings.catch_warnings():
                warnings.simplefilter(
                    "ignore", UserWarning
                )  # "points cannot be placed" on dense boxes
                sns.swarmplot(**kw)
        else:
            sns.stripplot(jitter=0.22, **kw)
        for coll in ax.collections:
            if coll.get_gid() is None and len(coll.get_offsets()):
                coll.set_gid("boxplot-points")
    if refline is not None:
        ax.axvline(refline, color=COLORS["ref"], lw=0.9, ls="--", zorder=1, gid="boxplot-refline")
    ax.set_ylabel("")
    measure = frame["measure"].iloc[0] if "measure" in frame.columns and y == "yi" else None
    ax.set_xlabel(xlabel if xlabel is not None else (measure_label(measure) if measure else y))
    if hue and ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), title=hue, frameon=False)
    if title:
        ax.set_title(title)
    return finish(fig, ax, created)
