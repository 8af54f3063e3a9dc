"""Exploration figures: PCA scree and biplot, dendrogram, cluster scatter.

A PCA result is anything with ``explained_variance_ratio`` (array), ``loadings``
(DataFrame, features × PCs) and ``scores`` (DataFrame, rows × PCs), as attributes
or dict keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..errors import DataError
from ._base import ellipsize, finish, new_axes, place_labels
from ._theme import COLORS, palette, themed

__all__ = ["pca_scree", "pca_biplot", "dendrogram", "cluster_scatter"]


def _get(obj, name):
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _pca_parts(pca):
    evr = _get(pca, "explained_variance_ratio")
    if evr is None:
        evr = _get(pca, "explained_variance_ratio_")
    if evr is None:
        raise DataError("PCA plots need `explained_variance_ratio` (array) on the PCA result")
    evr = np.asarray(evr, float)
    loadings = _get(pca, "loadings")
    scores = _get(pca, "scores")
    return evr, loadings, scores


def _pc_names(frame: pd.DataFrame | None, n: int) -> list[str]:
    if isinstance(frame, pd.DataFrame):
        return [str(c) for c in frame.columns]
    return [f"PC{i + 1}" for i in range(n)]


@themed
def pca_scree(
    pca, *, max_components: int = 20, cumulative: bool = True, title: str | None = None, ax=None
):
    """Scree plot: variance explained by each principal component (bars) and cumulatively (line).

    Parameters
    ----------
    pca
        PCA result (see the module docstring).
    max_components
        Show at most this many components.
    cumulative
        Add the cumulative percentage line.
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
    >>> import rlmeta.plots as rp
    >>> fig = rp.pca_scree({"explained_variance_ratio": [0.5, 0.3, 0.15, 0.05]})
    >>> len([p for p in fig.axes[0].patches if p.get_gid() == "scree-bar"])
    4
    """
    evr, loadings, scores = _pca_parts(pca)
    evr = evr[:max_components] * 100
    n = len(evr)
    names = _pc_names(scores if isinstance(scores, pd.DataFrame) else loadings, n)[:n]
    fig, ax, created = new_axes(ax, (max(4.2, 0.45 * n + 2.4), 3.8))
    bars = ax.bar(
        np.arange(n), evr, color=COLORS["pooled"], alpha=0.85, width=0.7, label="per component"
    )
    for b in bars:
        b.set_gid("scree-bar")
    if n <= 12:
        for i, v in enumerate(evr):
            ax.text(
                i, v, f"{v:.0f}%", ha="center", va="bottom", fontsize="x-small", gid="scree-value"
            )
    if cumulative:
        ax.plot(
            np.arange(n),
            np.cumsum(evr),
            color=COLORS["highlight"],
            marker="o",
            ms=4,
            lw=1.4,
            label="cumulative",
            gid="scree-cumulative",
        )
    ax.set_ylim(0, 105)
    ax.set_xticks(np.arange(n))
    ax.set_xticklabels(
        names,
        rotation=0 if n <= 10 else 45,
        ha="center" if n <= 10 else "right",
        rotation_mode="anchor",
    )
    ax.set_ylabel("Variance explained (%)")
    ax.legend(loc="center right", fontsize="small")
    if title:
        ax.set_title(title)
    return finish(fig, ax, created)


def _pc_index(names: list[str], pc) -> int:
    if isinstance(pc, str):
        if pc not in names:
            raise DataError(f"unknown component {pc!r}; have {names}")
        return names.index(pc)
    return int(pc)


@themed
def pca_biplot(
    pca,
    *,
    pcs: tuple = (0, 1),
    hue: Sequence | pd.Series | None = None,
    n_loadings: int = 8,
    labels: Sequence[str] | None = None,
    max_label_chars: int = 24,
    title: str | None = None,
    ax=None,
):
    """PCA biplot: row scores as points, the largest feature loadings as arrows.

    Arrows are scaled to 80 % of the score range (their relative lengths and
    directions are what matters); only the ``n_loadings`` features with the longest
    arrows are drawn, and their labels are placed so they do not overlap.

    Parameters
    ----------
    pca
        PCA result with ``scores`` and ``loadings`` frames.
    pcs
        The two components (0-based indices or column names).
    hue
        Values (aligned with the score rows) to colour the points by.
    n_loadings
        Number of loading arrows.
    labels
        Point labels; the 10 points furthest from the origin are labelled.
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
    >>> import numpy as np, pandas as pd, rlmeta.plots as rp
    >>> rng = np.random.default_rng(0)
    >>> pca = {"explained_variance_ratio": [.6, .3], "scores": pd.DataFrame(rng.normal(size=(20, 2)),
    ...        columns=["PC1", "PC2"]), "loadings": pd.DataFrame([[.8, .1], [.1, .9], [-.5, .5]],
    ...        index=["a", "b", "c"], columns=["PC1", "PC2"])}
    >>> fig = rp.pca_biplot(pca)
    >>> len([t for t in fig.axes[0].texts if t.get_gid() == "biplot-arrow"])
    3
    """
    evr, loadings, scores = _pca_parts(pca)
    if not isinstance(scores, pd.DataFrame):
        if scores is None:
            raise DataError("pca_biplot needs `scores` (rows × PCs)")
        scores = pd.DataFrame(
            np.asarray(scores, float), columns=[f"PC{i + 1}" for i in range(np.shape(scores)[1])]
        )
    names = [str(c) for c in scores.columns]
    i, j = (_pc_index(names, p) for p in pcs)
    sx, sy = scores.iloc[:, i].to_numpy(float), scores.iloc[:, j].to_numpy(float)
    fig, ax, created = new_axes(ax, (5.8, 5.0))
    if hue is not None:
        raw = pd.Series(np.asarray(hue))
        # natural order of the values (numbers numerically), labels as text
        order = list(dict.fromkeys(raw.sort_values(kind="stable").tolist()))
        h = raw.astype(str).to_numpy()
        cats = [str(c) for c in order]
        for c, col in zip(cats, palette(len(cats))):
            m = h == c
            ax.scatter(
                sx[m],
                sy[m],
                s=22,
                color=col,
                alpha=0.75,
                edgecolors="white",
                linewidths=0.4,
                label=c,
                gid="biplot-points",
            )
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1),
            borderaxespad=0,
            fontsize="small",
            title=getattr(hue, "name", None),
        )
    else:
        ax.scatter(
            sx,
            sy,
            s=22,
            color=COLORS["pooled"],
            alpha=0.7,
            edgecolors="white",
            linewidths=0.4,
            gid="biplot-points",
        )
    ax.axhline(0, color="#cccccc", lw=0.6, zorder=0)
    ax.axvline(0, color="#cccccc", lw=0.6, zorder=0)
    if isinstance(loadings, pd.DataFrame) and n_loadings:
        lx, ly = loadings.iloc[:, i].to_numpy(float), loadings.iloc[:, j].to_numpy(float)
        length = np.hypot(lx, ly)
        top = np.argsort(-length)[:n_loadings]
        scale = 0.8 * max(np.abs(sx).max(), np.abs(sy).max()) / (length[top].max() or 1)
        for k in top:
            ax.annotate(
                "",
                xy=(lx[k] * scale, ly[k] * scale),
                xytext=(0, 0),
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": COLORS["highlight"],
                    "lw": 1.1,
                    "shrinkA": 0,
                    "shrinkB": 0,
                },
                gid="biplot-arrow",
            )
        ax.set_xlim(*_sym_lim(np.r_[sx, lx[top] * scale]))
        ax.set_ylim(*_sym_lim(np.r_[sy, ly[top] * scale]))
        place_labels(
            ax,
            lx[top] * scale,
            ly[top] * scale,
            [str(loadings.index[k]) for k in top],
            fontsize="x-small",
            color=COLORS["highlight"],
            max_chars=max_label_chars,
            gid="biplot-loading",
        )
    if labels is not None:
        labs = [str(v) for v in labels]
        far = np.argsort(-np.hypot(sx, sy))[:10]
        place_labels(
            ax,
            sx[far],
            sy[far],
            [labs[k] for k in far],
            fontsize="xx-small",
            max_chars=max_label_chars,
            gid="biplot-label",
        )
    ax.set_xlabel(f"{names[i]} ({100 * evr[i]:.1f}%)" if i < len(evr) else names[i])
    ax.set_ylabel(f"{names[j]} ({100 * evr[j]:.1f}%)" if j < len(evr) else names[j])
    if title:
        ax.set_title(title)
    return finish(fig, ax, created)


def _sym_lim(v):
    a, b = float(np.nanmin(v)), float(np.nanmax(v))
    pad = 0.12 * (b - a) if b > a else 1.0
    return a - pad, b + pad


@themed
def dendrogram(
    linkage,
    labels: Sequence[str] | None = None,
    *,
    orientation: str = "left",
    color_threshold: float | None = None,
    max_leaves: int = 120,
    max_label_chars: int = 30,
    title: str | None = None,
    ax=None,
):
    """Dendrogram of a hierarchical clustering (scipy linkage matrix).

    Parameters
    ----------
    linkage
        Linkage matrix from :func:`scipy.cluster.hierarchy.linkage`.
    labels
        Leaf labels (clipped with an ellipsis).
    orientation
        ``"left"`` (leaves down the y axis: long labels stay readable; figure height
        grows with the leaves), ``"top"``, ``"right"`` or ``"bottom"``.
    color_threshold
        Height below which clusters are coloured with the rlmeta palette (default
        0.7 × the largest merge height, as scipy); links above it are grey.
    max_leaves
        Beyond this many leaves only the last ``max_leaves`` merged clusters are
        shown (``truncate_mode="lastp"``).
    max_label_chars
        Clip leaf labels.
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
    >>> import numpy as np, rlmeta.plots as rp
    >>> from scipy.cluster.hierarchy import linkage
    >>> Z = linkage(np.random.default_rng(0).normal(size=(8, 3)), "ward")
    >>> fig = rp.dendrogram(Z, [f"run {i}" for i in range(8)])
    >>> len(fig.axes[0].get_yticklabels())
    8
    """
    from scipy.cluster import hierarchy

    Z = np.asarray(linkage, float)
    if Z.ndim != 2 or Z.shape[1] != 4:
        raise DataError(
            f"dendrogram: expected a scipy linkage matrix (n-1, 4), got shape {Z.shape}"
        )
    n = Z.shape[0] + 1
    labs = None if labels is None else [ellipsize(str(s), max_label_chars) for s in labels]
    if labs is not None and len(labs) != n:
        raise DataError(f"dendrogram: {len(labs)} labels for {n} leaves")
    shown = min(n, max_leaves)
    vertical_leaves = orientation in ("left", "right")
    size = (
        (6.4, min(0.2 * shown + 1.2, 40)) if vertical_leaves else (min(0.22 * shown + 2.0, 40), 4.6)
    )
    fig, ax, created = new_axes(ax, size)
    kw = {"truncate_mode": "lastp", "p": max_leaves} if n > max_leaves else {}
    threshold = 0.7 * Z[:, 2].max() if color_threshold is None else color_threshold
    out = hierarchy.dendrogram(
        Z,
        labels=labs,
        orientation=orientation,
        ax=ax,
        link_color_func=_link_colors(Z, threshold),
        leaf_font_size=None,
        **kw,
    )
    fs = float(np.clip(260 / max(shown, 1), 5, 10))
    ax.tick_params(axis="y" if vertical_leaves else "x", labelsize=fs, length=0)
    for coll in ax.collections:
        coll.set_gid("dendrogram-links")
    ax.set_xlabel("Distance" if vertical_leaves else "")
    if not vertical_leaves:
        ax.set_ylabel("Distance")
        for t in ax.get_xticklabels():
            t.set_rotation(60)
            t.set_ha("right")
            t.set_rotation_mode("anchor")
    for s in ("top", "right", "left" if vertical_leaves else "bottom"):
        ax.spines[s].set_visible(False)
    if title:
        ax.set_title(title)
    ax._rlmeta_dendrogram = out
    return finish(fig, ax, created)


def _link_colors(Z: np.ndarray, threshold: float):
    """Colour of each link: its cluster's palette colour below ``threshold``, grey above.

    (scipy's own colouring reads a module-level palette; this keeps the rlmeta
    palette without touching global state.)
    """
    n = Z.shape[0] + 1
    first_leaf = np.empty(2 * n - 1, dtype=int)
    first_leaf[:n] = np.arange(n)
    for i, (a, _b, _h, _c) in enumerate(Z):
        first_leaf[n + i] = first_leaf[int(a)]
    from scipy.cluster.hierarchy import fcluster

    clusters = fcluster(Z, t=threshold, criterion="distance")
    order = {c: i for i, c in enumerate(dict.fromkeys(clusters[_leaves(Z)]))}
    cols = palette(len(order))

    def color(k: int) -> str:
        if k >= n and Z[k - n, 2] >= threshold:
            return "#888888"
        return cols[order[clusters[first_leaf[k]]]]

    return color


def _leaves(Z: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import leaves_list

    return leaves_list(Z)


@themed
def cluster_scatter(
    scores,
    labels,
    *,
    pcs: tuple = (0, 1),
    centroids: bool = True,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax=None,
):
    """Scatter of two score dimensions coloured by cluster, with cluster centroids.

    Parameters
    ----------
    scores
        DataFrame (rows × components) or an ``(n, >=2)`` array.
    labels
        Cluster label of each row (Series or array); missing labels are shown as
        ``"none"``.
    pcs
        The two columns (0-based indices or names).
    centroids
        Mark each cluster's mean with a cross.
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
    >>> import numpy as np, rlmeta.plots as rp
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> fig = rp.cluster_scatter(X, np.repeat([0, 1, 2], 10))
    >>> len(fig.axes[0].get_legend().get_texts())
    3
    """
    if isinstance(scores, pd.DataFrame):
        frame = scores
    else:
        arr = np.asarray(scores, float)
        frame = pd.DataFrame(arr, columns=[f"PC{i + 1}" for i in range(arr.shape[1])])
    names = [str(c) for c in frame.columns]
    i, j = (_pc_index(names, p) for p in pcs)
    x, y = frame.iloc[:, i].to_numpy(float), frame.iloc[:, j].to_numpy(float)
    lab = pd.Series(np.asarray(labels, dtype=object)).astype("string").fillna("none").to_numpy()
    if len(lab) != len(x):
        raise DataError(f"cluster_scatter: {len(lab)} labels for {len(x)} rows")
    cats = sorted(set(lab), key=lambda v: (len(v), v))
    fig, ax, created = new_axes(ax, (5.8, 4.6))
    handles = []
    for c, col in zip(cats, palette(len(cats))):
        m = lab == c
        ax.scatter(
            x[m],
            y[m],
            s=24,
            color=col,
            alpha=0.75,
            edgecolors="white",
            linewidths=0.4,
            gid="cluster-points",
        )
        if centroids:
            ax.scatter(
                [x[m].mean()],
                [y[m].mean()],
                s=110,
                marker="X",
                color=col,
                edgecolors="black",
                linewidths=0.8,
                zorder=4,
                gid="cluster-centroid",
            )
        handles.append(
            Line2D([], [], ls="", marker="o", color=col, label=f"{c} (n = {int(m.sum())})")
        )
    ax.legend(
        handles=handles,
        title="cluster",
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        borderaxespad=0,
        fontsize="small",
    )
    ax.set_xlabel(xlabel or names[i])
    ax.set_ylabel(ylabel or names[j])
    if title:
        ax.set_title(title)
    return finish(fig, ax, created)
