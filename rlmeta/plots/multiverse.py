"""Many-analyses figures: GOSH plots (up to millions of subsets) and specification curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D

from ..errors import DataError
from ._base import as_frame, check_choice, check_columns, ellipsize, finish, panel_axes
from ._theme import COLORS, palette, themed

__all__ = ["gosh", "specification_curve"]

SCATTER_MAX = 20_000  # above this GOSH draws a density image instead of markers


def _density_image(x, y, groups, colors, extent, bins):
    """RGBA image: per bin the colour of the most frequent group, opacity ~ log count."""
    x0, x1, y0, y1 = extent
    ix = np.clip(((x - x0) / (x1 - x0) * bins[0]).astype(int), 0, bins[0] - 1)
    iy = np.clip(((y - y0) / (y1 - y0) * bins[1]).astype(int), 0, bins[1] - 1)
    flat = iy * bins[0] + ix
    n_bins = bins[0] * bins[1]
    total = np.bincount(flat, minlength=n_bins)
    img = np.zeros((n_bins, 4))
    if groups is None:
        img[:, :3] = to_rgb(colors[0])
    else:
        best = np.full(n_bins, -1)
        best_n = np.zeros(n_bins)
        for g in range(len(colors)):
            cnt = np.bincount(flat[groups == g], minlength=n_bins)
            better = cnt > best_n
            best[better], best_n[better] = g, cnt[better]
        rgb = np.array([to_rgb(c) for c in colors])
        img[best >= 0, :3] = rgb[best[best >= 0]]
    alpha = np.log1p(total) / np.log1p(total.max() if total.max() > 0 else 1)
    img[:, 3] = np.where(total > 0, 0.15 + 0.85 * alpha, 0.0)
    return img.reshape(bins[1], bins[0], 4)


@themed
def gosh(
    frame,
    *,
    x: str = "estimate",
    y: str = "i2",
    hue: str | None = "cluster",
    kind: str = "auto",
    bins: int = 60,
    refline: float | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax=None,
):
    """GOSH plot: pooled estimate against I² over subsets, with marginal histograms.

    Handles millions of subsets: above 20 000 points (``kind="auto"``) the cloud is
    drawn as a density image (each bin in the colour of its most frequent cluster,
    opacity on a log scale of the count) instead of one marker per subset;
    scatter markers are rasterized in vector output.

    Parameters
    ----------
    frame
        GOSH frame (``estimate, i2, tau2, q, k`` and optionally ``cluster``) or an
        object with ``to_frame()``.
    x, y
        Columns for the axes.
    hue
        Cluster column (ignored when absent or all missing).
    kind
        ``"auto"``, ``"scatter"`` or ``"density"``.
    bins
        Bins of the marginal histograms (and ×2 of the density image).
    refline
        Vertical line (e.g. the full-data estimate).
    xlabel, ylabel, title
        Texts.
    ax
        Axes whose area holds the three panels (inset Axes in ``ax.child_axes``).

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    References
    ----------
    Olkin I, Dahabreh IJ, Trikalinos TA (2012). GOSH - a graphical display of study
    heterogeneity. *Res Synth Methods* 3:214-223. doi:10.1002/jrsm.1053

    Examples
    --------
    >>> import numpy as np, pandas as pd, rlmeta.plots as rp
    >>> rng = np.random.default_rng(1)
    >>> g = pd.DataFrame({"estimate": rng.normal(.08, .01, 30_000), "i2": rng.uniform(80, 99, 30_000)})
    >>> fig = rp.gosh(g)
    >>> [im.get_gid() for im in fig.axes[2].images]
    ['gosh-density']
    """
    check_choice("kind", kind, ["auto", "scatter", "density"])
    f = as_frame(frame, what="gosh")
    check_columns(f, [x, y], what="gosh")
    xv = pd.to_numeric(f[x], errors="coerce").to_numpy(float)
    yv = pd.to_numeric(f[y], errors="coerce").to_numpy(float)
    ok = np.isfinite(xv) & np.isfinite(yv)
    groups = None
    names: list[str] = []
    if hue is not None and hue in f.columns and f[hue].notna().any():
        lab = f[hue].astype("string").fillna("none").to_numpy()[ok]
        names = sorted(set(lab), key=str)
        codes = {n: i for i, n in enumerate(names)}
        groups = np.fromiter((codes[v] for v in lab), int, count=len(lab))
    xv, yv = xv[ok], yv[ok]
    if not len(xv):
        raise DataError("gosh: no finite points")
    n = len(xv)
    colors = palette(max(len(names), 1))
    fig, axes, created = panel_axes(
        ax,
        nrows=2,
        ncols=2,
        figsize=(6.2, 5.4),
        height_ratios=[1, 4],
        width_ratios=[4, 1],
        hgap=0.08,
        wgap=0.08,
    )
    top, corner, main, right = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]
    corner.set_axis_off()
    pad_x = 0.03 * (xv.max() - xv.min() or 1.0)
    pad_y = 0.03 * (yv.max() - yv.min() or 1.0)
    extent = (xv.min() - pad_x, xv.max() + pad_x, yv.min() - pad_y, yv.max() + pad_y)
    use_density = kind == "density" or (kind == "auto" and n > SCATTER_MAX)
    if use_density:
        img = _density_image(xv, yv, groups, colors, extent, (2 * bins, 2 * bins))
        main.imshow(
            img,
            extent=extent,
            origin="lower",
            aspect="auto",
            interpolation="nearest",
            gid="gosh-density",
        )
    else:
        size = float(np.clip(3000 / n, 1.5, 20))
        alpha = float(np.clip(200 / np.sqrt(n), 0.15, 0.9))
        c = [colors[g] for g in groups] if groups is not None else COLORS["pooled"]
        main.scatter(
            xv,
            yv,
            s=size,
            c=c,
            alpha=alpha,
            edgecolors="none",
            rasterized=n > 2000,
            gid="gosh-points",
        )
    main.set_xlim(extent[0], extent[1])
    main.set_ylim(extent[2], extent[3])
    xb = np.linspace(extent[0], extent[1], bins + 1)
    yb = np.linspace(extent[2], extent[3], bins + 1)
    sets = (
        [(slice(None), colors[0])]
        if groups is None
        else [(groups == g, colors[g]) for g in range(len(names))]
    )
    for m, col in sets:
        hx, _ = np.histogram(xv[m], bins=xb)
        hy, _ = np.histogram(yv[m], bins=yb)
        top.stairs(hx, xb, color=col, fill=True, alpha=0.45, gid="gosh-marginal")
        right.stairs(
            hy, yb, color=col, fill=True, alpha=0.45, orientation="horizontal", gid="gosh-marginal"
        )
    top.set_xlim(main.get_xlim())
    right.set_ylim(main.get_ylim())
    for a in (top, right):
        a.tick_params(labelleft=a is not top and False, labelbottom=False, left=False, bottom=False)
        for s in ("left", "bottom", "top", "right"):
            a.spines[s].set_visible(False)
        a.set_xticks([]) if a is top else a.set_yticks([])
    top.set_yticks([])
    right.set_xticks([])
    if refline is not None:
        main.axvline(refline, color=COLORS["ref"], lw=0.9, ls="--", gid="gosh-refline")
    main.set_xlabel(xlabel or ("Pooled estimate" if x == "estimate" else x))
    main.set_ylabel(ylabel or ("I² (%)" if y == "i2" else y))
    if names:
        handles = [
            Line2D([], [], ls="", marker="s", ms=6, color=colors[i], label=nm)
            for i, nm in enumerate(names)
        ]
        main.legend(
            handles=handles,
            title=hue,
            loc="best",
            fontsize="x-small",
            title_fontsize="x-small",
            frameon=True,
            framealpha=0.9,
            edgecolor="#cccccc",
        )
    if created:
        fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.01, hspace=0.01)
    note = f"{n:,} subsets" + (" (density)" if use_density else "")
    top.set_title(title or note, fontsize="small", loc="left")
    return finish(fig, ax, created)


def _choice_columns(f: pd.DataFrame, choices, reserved) -> list[str]:
    if choices is not None:
        check_columns(f, choices, what="specification_curve")
        return list(choices)
    out = []
    for c in f.columns:
        if c in reserved:
            continue
        s = f[c]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            out.append(c)
    return out


@themed
def specification_curve(
    frame,
    *,
    choices: Sequence[str] | None = None,
    estimate: str = "estimate",
    ci: tuple[str, str] | None = ("ci_low", "ci_high"),
    significant: str = "significant",
    refline: float | None = 0.0,
    max_label_chars: int = 28,
    ylabel: str = "Pooled estimate",
    title: str | None = None,
    ax=None,
):
    """Specification curve: every analysis sorted by its estimate, with the choices below.

    The top panel shows the estimates (ranked) with their CIs, coloured by
    significance and sign; the bottom panel has one row per option of each
    analytic choice, marking the specifications that used it (specr-style).

    Parameters
    ----------
    frame
        Frame with ``spec_id, estimate, ci_low, ci_high, pval, k, significant`` and
        one column per analytic choice (or an object with ``to_frame()``).
    choices
        Choice columns (default: every non-numeric column, booleans included,
        except ``spec_id`` and ``significant``).
    estimate, ci, significant
        Column names.
    refline
        Horizontal no-effect line (None for none).
    max_label_chars
        Clip option labels with an ellipsis.
    ylabel, title
        Texts.
    ax
        Axes whose area holds the two panels (inset Axes in ``ax.child_axes``).

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    References
    ----------
    Simonsohn U, Simmons JP, Nelson LD (2020). Specification curve analysis.
    *Nat Hum Behav* 4:1208-1214. doi:10.1038/s41562-020-0912-z

    Examples
    --------
    >>> import itertools, numpy as np, pandas as pd, rlmeta.plots as rp
    >>> rows = list(itertools.product(["REML", "DL", "PM"], ["z", "knha"], ["all", "no judge"]))
    >>> sc = pd.DataFrame(rows, columns=["method", "test", "subset"])
    >>> sc["spec_id"] = range(len(sc)); sc["estimate"] = np.linspace(-.01, .1, len(sc))
    >>> sc["ci_low"], sc["ci_high"] = sc.estimate - .03, sc.estimate + .03
    >>> sc["pval"] = .01; sc["k"] = 50; sc["significant"] = sc.ci_low > 0
    >>> fig = rp.specification_curve(sc)
    >>> len(fig.axes[1].get_yticklabels())
    10
    """
    f = as_frame(frame, what="specification_curve")
    need = [estimate] + (list(ci) if ci else [])
    check_columns(f, need, what="specification_curve")
    reserved = {"spec_id", significant, estimate, "pval", "k", "se", *(ci or ())}
    chs = _choice_columns(f, choices, reserved)
    f = f.sort_values(estimate, kind="stable").reset_index(drop=True)
    n = len(f)
    rank = np.arange(1, n + 1)
    est = pd.to_numeric(f[estimate], errors="coerce").to_numpy(float)
    sig = f[significant].astype(bool).to_numpy() if significant in f.columns else np.zeros(n, bool)
    col = np.where(
        ~sig,
        COLORS["nonsignificant"],
        np.where(est >= (refline or 0.0), COLORS["significant"], COLORS["negative"]),
    )
    # option rows of the choice panel: a bold header row per choice, then its options
    ylabels, ybold, rowmap = [], [], {}
    for c in chs:
        ylabels.append(ellipsize(c, max_label_chars))
        ybold.append(True)
        for opt in sorted(f[c].astype(str).unique(), key=str):
            rowmap[(c, opt)] = len(ylabels)
            ylabels.append(ellipsize(opt, max_label_chars))
            ybold.append(False)
    n_rows = max(len(ylabels), 1)
    fig, axes, created = panel_axes(
        ax,
        nrows=2,
        ncols=1,
        figsize=(7.0, 3.2 + 0.2 * n_rows),
        height_ratios=[3.0, max(0.22 * n_rows, 1.0)],
        sharex=True,
        hgap=0.12,
    )
    top, bottom = axes[0, 0], axes[1, 0]
    ms = float(np.clip(1200 / max(n, 1), 2, 30))
    if ci:
        lo = pd.to_numeric(f[ci[0]], errors="coerce").to_numpy(float)
        hi = pd.to_numeric(f[ci[1]], errors="coerce").to_numpy(float)
        if n <= 300:
            from matplotlib.collections import LineCollection

            segs = [
                [(r, a), (r, b)]
                for r, a, b in zip(rank, lo, hi)
                if np.isfinite(a) and np.isfinite(b)
            ]
            cc = [c for c, a, b in zip(col, lo, hi) if np.isfinite(a) and np.isfinite(b)]
            top.add_collection(
                LineCollection(
                    segs, colors=cc, linewidths=1.0 if n < 80 else 0.6, alpha=0.7, gid="spec-ci"
                )
            )
        else:
            top.fill_between(
                rank, lo, hi, color="#b9b9b9", alpha=0.5, lw=0, step="mid", gid="spec-ci-band"
            )
        allv = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)], est[np.isfinite(est)]])
    else:
        allv = est[np.isfinite(est)]
    top.scatter(
        rank,
        est,
        s=ms,
        c=list(col),
        zorder=3,
        edgecolors="none",
        rasterized=n > 3000,
        gid="spec-points",
    )
    if refline is not None:
        top.axhline(refline, color=COLORS["ref"], lw=0.9, ls="--", zorder=1, gid="spec-refline")
        allv = np.append(allv, refline)
    med = float(np.nanmedian(est))
    top.axhline(med, color=COLORS["pooled"], lw=0.8, ls=":", zorder=1, gid="spec-median")
    a, b = float(np.min(allv)), float(np.max(allv))
    pad = 0.05 * (b - a) if b > a else 0.1
    top.set_ylim(a - pad, b + pad)
    top.set_ylabel(ylabel)
    handles = [
        Line2D(
            [], [], ls="", marker="o", color=COLORS["significant"], label="significant, positive"
        ),
        Line2D([], [], ls="", marker="o", color=COLORS["negative"], label="significant, negative"),
        Line2D([], [], ls="", marker="o", color=COLORS["nonsignificant"], label="not significant"),
        Line2D([], [], color=COLORS["pooled"], ls=":", label=f"median = {med:.3g}"),
    ]
    top.legend(handles=handles, loc="upper left", fontsize="x-small", ncols=2)
    # choice panel
    xs, ys, cs = [], [], []
    for c in chs:
        vals = f[c].astype(str).to_numpy()
        for i, v in enumerate(vals):
            xs.append(rank[i])
            ys.append(rowmap[(c, v)])
            cs.append(col[i])
    bottom.scatter(
        xs,
        ys,
        s=max(ms * 0.8, 4),
        marker="|" if n > 60 else "o",
        c=cs,
        linewidths=1.0,
        rasterized=len(xs) > 20000,
        gid="spec-choices",
    )
    for i, bold in enumerate(ybold):
        if bold and i > 0:
            bottom.axhline(i - 0.5, color="#dddddd", lw=0.8)
    bottom.set_yticks(range(len(ylabels)))
    # option labels: as large as the theme's "small" font, but never taller than a row
    fig.draw_without_rendering()
    row_pt = bottom.get_window_extent().height / fig.dpi * 72 / n_rows
    from matplotlib.font_manager import FontProperties

    small = FontProperties(size="small").get_size_in_points()
    bottom.set_yticklabels(ylabels, fontsize=float(np.clip(0.78 * row_pt, 4.5, small)))
    for t, bold in zip(bottom.get_yticklabels(), ybold):
        if bold:
            t.set_fontweight("bold")
    bottom.tick_params(axis="y", length=0)
    bottom.set_ylim(n_rows - 0.5, -0.5)
    bottom.set_xlim(0.5 - 0.01 * n, n + 0.5 + 0.01 * n)
    bottom.set_xlabel("Specification (ranked by estimate)")
    for s in ("left",):
        bottom.spines[s].set_visible(False)
    if title:
        top.set_title(title)
    return finish(fig, ax, created)
