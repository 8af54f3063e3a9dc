"""Funnel (contour-enhanced), radial (Galbraith) and L'Abbé plots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.patches import Patch, Polygon, Rectangle
from scipy import stats
from scipy.special import expit, logit

from ..errors import DataError
from ._base import as_frame, check_columns, finish, measure_label, new_axes, sizes_from_weights
from ._theme import COLORS, palette, themed

__all__ = ["funnel", "radial", "labbe"]


@dataclass
class _Effects:
    yi: np.ndarray
    vi: np.ndarray
    est: float | None
    tau2: float
    measure: str | None
    random: bool
    level: float
    weights: np.ndarray | None
    data: pd.DataFrame | None
    residual: bool = False


def _effects(obj, *, what: str) -> _Effects:
    """yi, vi and the pooled estimate from a result or an effects frame."""
    if isinstance(obj, pd.DataFrame):
        check_columns(obj, ["yi"], what=what)
        if "vi" not in obj.columns and "sei" not in obj.columns:
            raise DataError(f"{what}: the frame needs `vi` or `sei` next to `yi`")
        from ..meta import meta_analysis

        obj = meta_analysis(
            obj,
            "yi",
            "vi" if "vi" in obj.columns else None,
            sei=None if "vi" in obj.columns else "sei",
        )
    if not hasattr(obj, "yi") or not hasattr(obj, "vi"):
        raise DataError(
            f"{what}: expected a meta-analysis result or an effects frame, got {type(obj).__name__}"
        )
    yi = np.asarray(obj.yi, float)
    vi = np.asarray(obj.vi, float)
    est, residual = None, False
    if getattr(obj, "intercept_only", True):
        est = float(obj.to_frame()["estimate"].iloc[0])
    else:  # meta-regression: residuals around the fitted values (as metafor)
        yi = yi - np.asarray(obj.fitted(), float)
        est, residual = 0.0, True
    random = getattr(obj, "random", False)
    tau2 = float(getattr(obj, "tau2", 0.0) or 0.0) if random is True else 0.0
    wp = getattr(obj, "weights_percent", None)
    weights = np.asarray(wp(), float) if callable(wp) else None
    data = getattr(obj, "data", None)
    return _Effects(
        yi,
        vi,
        est,
        tau2,
        getattr(obj, "measure", None),
        bool(random),
        float(getattr(obj, "level", 0.95)),
        weights,
        data if isinstance(data, pd.DataFrame) else None,
        residual,
    )


def _egger_line(egger) -> tuple[float, float]:
    if isinstance(egger, dict):
        return float(egger["intercept"]), float(egger["slope"])
    if hasattr(egger, "intercept") and hasattr(egger, "slope"):
        return float(egger.intercept), float(egger.slope)
    b0, b1 = egger
    return float(b0), float(b1)


@themed
def funnel(
    result,
    *,
    contours: Sequence[float] | None = (0.90, 0.95, 0.99),
    contour_center: float = 0.0,
    pseudo_ci: bool = True,
    trimfill=None,
    trimfill_estimate: float | None = None,
    egger=None,
    hue: str | None = None,
    xlabel: str | None = None,
    title: str | None = None,
    legend: bool = True,
    ax=None,
):
    """Contour-enhanced funnel plot: effects against their standard errors.

    Parameters
    ----------
    result
        A fitted model (meta-regressions show residuals, as metafor) or an effects
        frame with ``yi`` and ``vi``/``sei`` (pooled with REML first).
    contours
        Significance levels whose two-sided regions around ``contour_center`` are
        shaded (Peters et al. 2008): white where p > 1 - max level ... darkest where
        p < 1 - max level.  None or ``()`` for a plain funnel.
    contour_center
        Null value around which significance is shaded (0 on the model scale).
    pseudo_ci
        Dashed pseudo-confidence funnel ``estimate ± z·SE`` and a line at the estimate.
    trimfill
        Trim-and-fill output: a frame (or ``to_frame()`` object) with ``yi, vi, filled``;
        the filled (imputed) effects are drawn as open circles.
    trimfill_estimate
        Pooled estimate after filling (dotted vertical line).
    egger
        Egger regression line ``x = b0 + b1·SE``: a ``(intercept, slope)`` pair, a dict
        or an object with ``intercept`` and ``slope``.
    hue
        Column of the result's data to colour the effects by.
    xlabel, title
        Texts (``xlabel`` defaults from the measure).
    legend
        Show the legend of contours and lines.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    References
    ----------
    Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L (2008). Contour-enhanced
    meta-analysis funnel plots help distinguish publication bias from other causes
    of asymmetry. *J Clin Epidemiol* 61:991-996. doi:10.1016/j.jclinepi.2007.11.010

    Examples
    --------
    >>> import rlmeta as rm, rlmeta.plots as rp
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> fig = rp.funnel(rm.meta_analysis(eff), egger=(0.05, 1.2))
    >>> ax = fig.axes[0]
    >>> bool(ax.yaxis_inverted()), len([c for c in ax.collections if c.get_gid() == "funnel-points"][0].get_offsets())
    (True, 139)
    """
    e = _effects(result, what="funnel")
    fig, ax, created = new_axes(ax, (5.6, 4.6))
    sei = np.sqrt(e.vi)
    ok = np.isfinite(e.yi) & np.isfinite(sei)
    yi, sei = e.yi[ok], sei[ok]
    filled = None
    if trimfill is not None:
        tf = as_frame(trimfill, what="funnel trimfill")
        check_columns(tf, ["yi", "vi", "filled"], what="funnel trimfill")
        filled = tf[tf["filled"].astype(bool)]
    se_max = float(
        np.nanmax(
            np.concatenate(
                [sei, np.sqrt(filled["vi"].to_numpy(float)) if filled is not None else []]
            )
        )
    )
    se_max = se_max * 1.06 if se_max > 0 else 1.0
    level = e.level
    zc = stats.norm.ppf(0.5 + level / 2)
    xs = [yi]
    if e.est is not None and pseudo_ci:
        xs.append(np.array([e.est - zc * se_max, e.est + zc * se_max]))
    if filled is not None:
        xs.append(filled["yi"].to_numpy(float))
    handles = []
    levels = sorted(contours or [])
    if levels:
        zmax = stats.norm.ppf(0.5 + levels[-1] / 2)
        xs.append(
            np.array([contour_center - zmax * se_max * 0.6, contour_center + zmax * se_max * 0.6])
        )
    allx = np.concatenate(xs)
    lo, hi = float(np.nanmin(allx)), float(np.nanmax(allx))
    pad = 0.06 * (hi - lo) if hi > lo else 0.1
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(se_max, 0)
    if levels:
        shades = ["#ffffff", "#ededed", "#dadada", "#c4c4c4", "#b0b0b0"][: len(levels) + 1][::-1]
        ax.add_patch(
            Rectangle(
                (0, 0),
                1,
                1,
                transform=ax.transAxes,
                facecolor=shades[0],
                edgecolor="none",
                zorder=0,
                gid="funnel-contour",
            )
        )
        prev = f"p < {1 - levels[-1]:.2g}"
        handles.append(Patch(facecolor=shades[0], edgecolor="#777777", lw=0.4, label=prev))
        for i, lev in enumerate(reversed(levels)):
            z = stats.norm.ppf(0.5 + lev / 2)
            x_edge = z * se_max * 50  # far beyond the axes; clipped
            tri = Polygon(
                [
                    (contour_center - x_edge, se_max * 50),
                    (contour_center, 0),
                    (contour_center + x_edge, se_max * 50),
                ],
                closed=True,
                facecolor=shades[i + 1],
                edgecolor="none",
                zorder=0.1 + 0.01 * i,
                gid="funnel-contour",
            )
            ax.add_patch(tri)
            nxt = levels[::-1][i + 1] if i + 1 < len(levels) else None
            lab = f"{1 - lev:.2g} < p < {1 - nxt:.2g}" if nxt is not None else f"p > {1 - lev:.2g}"
            handles.append(Patch(facecolor=shades[i + 1], edgecolor="#777777", lw=0.4, label=lab))
        handles = handles[::-1]
    if e.est is not None:
        ax.axvline(e.est, color=COLORS["pooled"], lw=1.0, zorder=2, gid="funnel-estimate")
        if pseudo_ci:
            s = np.array([0, se_max])
            ax.plot(
                e.est - zc * s,
                s,
                color=COLORS["pooled"],
                lw=0.9,
                ls="--",
                zorder=2,
                gid="funnel-pseudo-ci",
                label=f"{100 * level:g}% pseudo-CI",
            )
            ax.plot(
                e.est + zc * s,
                s,
                color=COLORS["pooled"],
                lw=0.9,
                ls="--",
                zorder=2,
                gid="funnel-pseudo-ci",
            )
    size = float(np.clip(1500 / max(len(yi), 1), 16, 40))
    if hue is not None and e.data is not None and hue in e.data.columns:
        groups = e.data.loc[ok, hue].astype(str).to_numpy()
        cats = sorted(set(groups))
        cmap = dict(zip(cats, palette(len(cats))))
        colors = [cmap[g] for g in groups]
        for c in cats:
            handles.append(ax.scatter([], [], s=size, color=cmap[c], edgecolors="white", label=c))
    else:
        colors = COLORS["point"]
    ax.scatter(
        yi,
        sei,
        s=size,
        c=colors,
        edgecolors="white",
        linewidths=0.4,
        alpha=0.85,
        zorder=3,
        gid="funnel-points",
    )
    if filled is not None and len(filled):
        ax.scatter(
            filled["yi"],
            np.sqrt(filled["vi"].to_numpy(float)),
            s=size,
            facecolors="white",
            edgecolors="#111111",
            linewidths=1.1,
            zorder=3,
            gid="funnel-filled",
            label=f"filled ({len(filled)})",
        )
    if trimfill_estimate is not None:
        ax.axvline(
            trimfill_estimate,
            color="#111111",
            lw=1.1,
            ls=":",
            zorder=2,
            gid="funnel-trimfill-estimate",
            label="estimate after filling",
        )
    if egger is not None:
        b0, b1 = _egger_line(egger)
        s = np.linspace(0, se_max, 50)
        ax.plot(
            b0 + b1 * s,
            s,
            color="#111111",
            lw=1.2,
            ls="-.",
            zorder=2,
            gid="funnel-egger",
            label="Egger regression",
        )
    ax.set_ylabel("Standard error")
    if xlabel is None:
        xlabel = "Residual" if e.residual else measure_label(e.measure)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    if legend:
        from matplotlib.lines import Line2D

        line_handles, _ = ax.get_legend_handles_labels()
        proxies = []
        for h in handles + [h for h in line_handles if h not in handles]:
            if hasattr(h, "get_offsets"):  # scatter: a fixed-size legend marker
                fc = h.get_facecolor()
                proxies.append(
                    Line2D(
                        [],
                        [],
                        ls="",
                        marker="o",
                        ms=6,
                        label=h.get_label(),
                        markerfacecolor=fc[0] if len(fc) else "white",
                        markeredgecolor=h.get_edgecolor()[0] if len(h.get_edgecolor()) else "none",
                    )
                )
            else:
                proxies.append(h)
        ax.legend(
            handles=proxies,
            loc="best",
            fontsize="x-small",
            frameon=True,
            framealpha=0.9,
            edgecolor="#cccccc",
            ncols=2 if len(proxies) > 6 else 1,
        )
    return finish(fig, ax, created)


@themed
def radial(
    result,
    *,
    level: float | None = None,
    labels: bool | int = False,
    xlabel: str | None = None,
    title: str | None = None,
    ax=None,
):
    """Radial (Galbraith) plot: standardised effects against precision.

    Each effect is a point at ``x = 1/sqrt(v_i + tau²)``, ``y = y_i/sqrt(v_i + tau²)``;
    the pooled estimate is the slope of the line through the origin, and effects
    consistent with it fall within ``±z`` of that line (dashed).

    Parameters
    ----------
    result
        A fitted intercept-only model or an effects frame (``yi``, ``vi``).
    level
        Level of the band (default: the model's).
    labels
        Label the ``n`` effects furthest from the line (True: 5).
    xlabel, title
        Texts.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    References
    ----------
    Galbraith RF (1988). A note on graphical presentation of estimated odds ratios
    from several clinical trials. *Stat Med* 7:889-894. doi:10.1002/sim.4780070807

    Examples
    --------
    >>> import rlmeta as rm, rlmeta.plots as rp
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> rp.radial(rm.meta_analysis(eff.head(20)), ax=ax) is ax
    True
    """
    e = _effects(result, what="radial")
    if e.residual:
        raise DataError("radial: needs an intercept-only model (no moderators)")
    fig, ax, created = new_axes(ax, (5.0, 4.2))
    w = 1 / np.sqrt(e.vi + e.tau2)
    x, y = w, e.yi * w
    z = stats.norm.ppf(0.5 + (level or e.level) / 2)
    xmax = float(np.nanmax(x)) * 1.06
    xx = np.array([0, xmax])
    ax.fill_between(
        xx,
        e.est * xx - z,
        e.est * xx + z,
        color=COLORS["fill"],
        alpha=0.35,
        lw=0,
        zorder=0,
        gid="radial-band",
    )
    ax.plot(
        xx,
        e.est * xx,
        color=COLORS["pooled"],
        lw=1.2,
        gid="radial-line",
        label=f"slope = pooled estimate ({e.est:.3g})",
    )
    for s in (-z, z):
        ax.plot(xx, e.est * xx + s, color=COLORS["pooled"], lw=0.8, ls="--", gid="radial-bounds")
    ax.axhline(0, color=COLORS["ref"], lw=0.6, zorder=0)
    resid = np.abs(y - e.est * x)
    out = resid > z
    ax.scatter(
        x[~out],
        y[~out],
        s=22,
        color=COLORS["point"],
        edgecolors="white",
        linewidths=0.4,
        zorder=3,
        gid="radial-points",
    )
    ax.scatter(
        x[out],
        y[out],
        s=26,
        color=COLORS["highlight"],
        edgecolors="white",
        linewidths=0.4,
        zorder=3,
        gid="radial-points-outside",
        label=f"outside the {100 * (level or e.level):g}% band ({int(out.sum())})",
    )
    ax.set_xlim(0, xmax)
    ax.set_xlabel(xlabel or ("1 / √(vᵢ + τ²)" if e.tau2 > 0 else "1 / √vᵢ"))
    ax.set_ylabel("yᵢ / √(vᵢ + τ²)" if e.tau2 > 0 else "yᵢ / √vᵢ")
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    if labels:
        from ._base import place_labels

        n = 5 if labels is True else int(labels)
        order = np.argsort(-resid)[:n]
        labs = getattr(result, "labels", None) or [str(i + 1) for i in range(len(x))]
        place_labels(
            ax, x[order], y[order], [labs[i] for i in order], fontsize="x-small", gid="radial-label"
        )
    return finish(fig, ax, created)


def _proportions(frame: pd.DataFrame, col: str) -> np.ndarray:
    v = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
    if "score_scale" in frame.columns:
        scale = frame["score_scale"].astype(str).str.lower().to_numpy()
        v = np.where(scale == "percent", v / 100, np.where(scale == "proportion", v, np.nan))
    return v


@themed
def labbe(
    data,
    *,
    rl: str = "rl_score",
    baseline: str = "baseline_score",
    hue: str | None = None,
    measure: str | None = None,
    estimate: float | None = None,
    proportions: bool = True,
    title: str | None = None,
    ax=None,
):
    """L'Abbé plot: RL-arm against baseline-arm score, one point per contrast.

    Points above the diagonal favour RL.  With a fitted model, point area is
    proportional to its weight and the pooled effect is drawn as a curve:
    ``y = x + b`` (RD), ``logit y = logit x + b`` (OR), ``y = x e^b`` (RR, ROM).

    Parameters
    ----------
    data
        A fitted model whose data has the arm columns, or such a frame.
    rl, baseline
        Columns of the arm scores.
    hue
        Column to colour points by.
    measure, estimate
        Effect measure and pooled estimate for the curve (taken from a model).
    proportions
        Convert scores with ``score_scale`` ``percent`` to proportions and drop rows
        on other scales (judge scores); the number dropped is noted on the plot.
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
    >>> fig = rp.labbe(rm.meta_analysis(eff), hue="rl_family")
    >>> fig.axes[0].get_xlim() == fig.axes[0].get_ylim()
    True
    """
    weights = None
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index(drop=True)
    else:
        frame = getattr(data, "data", None)
        if not isinstance(frame, pd.DataFrame):
            raise DataError(
                "labbe: expected a frame with arm scores or a result whose .data has them"
            )
        frame = frame.reset_index(drop=True)
        wp = getattr(data, "weights_percent", None)
        weights = np.asarray(wp(), float) if callable(wp) else None
        measure = measure or getattr(data, "measure", None)
        if estimate is None and getattr(data, "intercept_only", False):
            estimate = float(data.to_frame()["estimate"].iloc[0])
    check_columns(frame, [rl, baseline], what="labbe")
    if proportions:
        x, y = _proportions(frame, baseline), _proportions(frame, rl)
    else:
        x = pd.to_numeric(frame[baseline], errors="coerce").to_numpy(float)
        y = pd.to_numeric(frame[rl], errors="coerce").to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    fig, ax, created = new_axes(ax, (4.9, 4.6))
    lo = min(float(np.nanmin(x[ok])), float(np.nanmin(y[ok]))) if ok.any() else 0.0
    hi = max(float(np.nanmax(x[ok])), float(np.nanmax(y[ok]))) if ok.any() else 1.0
    if proportions:
        lo, hi = max(0.0, lo - 0.04), min(1.0, hi + 0.04)
    else:
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        lo, hi = lo - pad, hi + pad
    ax.plot(
        [lo, hi],
        [lo, hi],
        color=COLORS["ref"],
        lw=0.9,
        ls="--",
        gid="labbe-diagonal",
        label="no difference",
    )
    sizes = sizes_from_weights(weights[ok]) if weights is not None else np.full(ok.sum(), 28.0)
    if hue is not None:
        check_columns(frame, [hue], what="labbe")
        groups = frame.loc[ok, hue].astype(str).to_numpy()
        cats = sorted(set(groups))
        for c, col in zip(cats, palette(len(cats))):
            m = groups == c
            ax.scatter(
                x[ok][m],
                y[ok][m],
                s=sizes[m],
                color=col,
                alpha=0.75,
                edgecolors="white",
                linewidths=0.5,
                zorder=3,
                label=c,
                gid="labbe-points",
            )
    else:
        ax.scatter(
            x[ok],
            y[ok],
            s=sizes,
            color=COLORS["rl"],
            alpha=0.7,
            edgecolors="white",
            linewidths=0.5,
            zorder=3,
            gid="labbe-points",
        )
    if estimate is not None and measure is not None and proportions:
        xx = np.linspace(max(lo, 1e-4), min(hi, 1 - 1e-4), 200)
        m = measure.upper()
        yy = {
            "RD": lambda: xx + estimate,
            "OR": lambda: expit(logit(xx) + estimate),
            "RR": lambda: xx * np.exp(estimate),
            "ROM": lambda: xx * np.exp(estimate),
            "AS": lambda: np.sin(np.clip(np.arcsin(np.sqrt(xx)) + estimate, 0, np.pi / 2)) ** 2,
        }.get(m)
        if yy is not None:
            yv = yy()
            keep = (yv >= lo) & (yv <= hi)
            ax.plot(
                xx[keep],
                yv[keep],
                color=COLORS["highlight"],
                lw=1.4,
                gid="labbe-estimate",
                label=f"pooled {m} = {estimate:.3g}",
            )
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    unit = " (proportion)" if proportions else ""
    ax.set_xlabel(f"Baseline score{unit}")
    ax.set_ylabel(f"RL score{unit}")
    dropped = int((~ok).sum())
    if dropped:
        ax.text(
            0.99,
            0.01,
            f"{dropped} contrast(s) not on a proportion scale omitted",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize="x-small",
            color="#555555",
            gid="labbe-note",
        )
    if title:
        ax.set_title(title)
    from matplotlib.lines import Line2D

    handles, labels_ = ax.get_legend_handles_labels()
    proxies = [
        Line2D([], [], ls="", marker="o", ms=7, color=h.get_facecolor()[0], alpha=0.8)
        if hasattr(h, "get_offsets")
        else h
        for h in handles
    ]
    ax.legend(proxies, labels_, loc="upper left", fontsize="small")
    return finish(fig, ax, created)
