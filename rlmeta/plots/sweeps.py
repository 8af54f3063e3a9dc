"""RL vs baseline scores with CIs, and hyper-parameter sweeps as mean ± CI lines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from ._base import as_frame, check_choice, check_columns, ellipsize, finish, new_axes
from ._theme import COLORS, palette, themed

__all__ = ["errorbars", "sweep_lines", "arms_long"]


def arms_long(frame: pd.DataFrame, *, x: str = "benchmark", level: float = 0.95) -> pd.DataFrame:
    """Reshape a wide contrast table (``rl_score, baseline_score``) to one row per arm.

    Standard errors come from ``rl_se`` / ``baseline_se`` when given, otherwise,
    for ``score_scale`` ``percent`` or ``proportion`` with ``n_items`` (or
    ``rl_n``/``baseline_n``), from the binomial ``sqrt(p (1 - p) / n)``.

    Returns
    -------
    pandas.DataFrame
        ``x, arm ("rl" | "baseline"), score, se, ci_low, ci_high`` plus the other
        columns of ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.DataFrame({"benchmark": ["GSM8K"], "rl_score": [88.2], "baseline_score": [82.9],
    ...                   "score_scale": ["percent"], "n_items": [1319]})
    >>> arms_long(w)[["arm", "score", "ci_low"]].round(2).to_numpy().tolist()
    [['rl', 88.2, 86.46], ['baseline', 82.9, 80.87]]
    """
    check_columns(frame, ["rl_score", "baseline_score", x], what="arms_long")
    z = stats.norm.ppf(0.5 + level / 2)
    parts = []
    for arm in ("rl", "baseline"):
        d = frame.copy()
        score = pd.to_numeric(d[f"{arm}_score"], errors="coerce").to_numpy(float)
        se = (
            pd.to_numeric(d[f"{arm}_se"], errors="coerce").to_numpy(float)
            if f"{arm}_se" in d.columns
            else np.full(len(d), np.nan)
        )
        ncol = (
            f"{arm}_n" if f"{arm}_n" in d.columns else "n_items" if "n_items" in d.columns else None
        )
        if ncol is not None and "score_scale" in d.columns:
            n = pd.to_numeric(d[ncol], errors="coerce").to_numpy(float)
            scale = d["score_scale"].astype(str).str.lower().to_numpy()
            div = np.where(scale == "percent", 100.0, np.where(scale == "proportion", 1.0, np.nan))
            p = score / div
            with np.errstate(invalid="ignore", divide="ignore"):
                binom = np.sqrt(p * (1 - p) / n) * div
            se = np.where(np.isfinite(se), se, binom)
        d["arm"] = arm
        d["score"] = score
        d["se"] = se
        d["ci_low"] = score - z * se
        d["ci_high"] = score + z * se
        parts.append(d)
    return pd.concat(parts, ignore_index=True)


@themed
def errorbars(
    data,
    *,
    x: str = "benchmark",
    y: str = "score",
    hue: str = "arm",
    ci: tuple[str, str] | None = ("ci_low", "ci_high"),
    se: str | None = None,
    order: Sequence | None = None,
    hue_order: Sequence | None = None,
    orient: str = "auto",
    dodge: float = 0.36,
    level: float = 0.95,
    max_label_chars: int = 30,
    ylabel: str | None = None,
    title: str | None = None,
    ax=None,
):
    """RL vs baseline (or any ``hue``) per category: dodged markers with CIs.

    Parameters
    ----------
    data
        Long frame (``x, hue, y`` and the CI or SE columns) or a wide contrast table
        with ``rl_score, baseline_score`` (reshaped by :func:`arms_long`).
    x
        Category column (one group of markers per level).
    y
        Score column.
    hue
        Column separating the markers of a category (default ``arm``).
    ci
        Columns of the interval bounds; ignored when ``se`` is given.
    se
        Column of standard errors (interval ``y ± z·se``).
    order, hue_order
        Orders of categories and hue levels (``rl`` before ``baseline`` by default).
    orient
        ``"v"``, ``"h"`` or ``"auto"`` (horizontal beyond 8 categories or for long labels).
    dodge
        Total width used by the markers of one category.
    level
        Level for ``se``-based intervals.
    max_label_chars
        Clip category labels with an ellipsis.
    ylabel, title
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
    >>> d = rm.datasets.load_rl_llm_studies()
    >>> fig = rp.errorbars(d[d.comparison_id == "dsm_rl_vs_instruct_cot"])
    >>> sorted(l.get_gid() for l in fig.axes[0].lines if l.get_gid())
    ['errorbars-baseline', 'errorbars-rl']
    """
    check_choice("orient", orient, ["auto", "v", "h"])
    frame = as_frame(data, what="errorbars")
    if hue not in frame.columns and {"rl_score", "baseline_score"} <= set(frame.columns):
        frame = arms_long(frame, x=x, level=level)
    need = [x, y, hue] + ([se] if se else list(ci) if ci else [])
    check_columns(frame, need, what="errorbars")
    dup = frame.duplicated([x, hue])
    if dup.any():
        ex = frame.loc[dup, [x, hue]].iloc[0].tolist()
        raise DataError(
            f"errorbars: {int(dup.sum())} duplicated ({x}, {hue}) pairs, e.g. {ex}; filter to one comparison or "
            "pass a more specific `x` column"
        )
    cats = list(order) if order is not None else list(dict.fromkeys(frame[x].astype(str)))
    hues = list(dict.fromkeys(frame[hue].astype(str)))
    if hue_order is not None:
        hues = [str(h) for h in hue_order]
    elif set(hues) == {"rl", "baseline"}:
        hues = ["rl", "baseline"]
    z = stats.norm.ppf(0.5 + level / 2)
    longest = max((len(str(c)) for c in cats), default=0)
    horiz = orient == "h" or (orient == "auto" and (len(cats) > 8 or longest > 14))
    n = len(cats)
    size = (
        (6.4, 0.42 * n * max(1, len(hues) / 2) + 1.4)
        if horiz
        else (max(4.0, 0.75 * n * max(1, len(hues) / 2) + 1.8), 4.2)
    )
    fig, ax, created = new_axes(ax, size)
    pos = {c: i for i, c in enumerate(cats)}
    colors = {"rl": COLORS["rl"], "baseline": COLORS["baseline"]}
    extra = [h for h in hues if h not in colors]
    colors.update(dict(zip(extra, palette(len(extra) + 2)[2:])))
    width = dodge if len(hues) > 1 else 0.0
    markers = ["o", "s", "D", "^", "v", "P"]
    lo_all, hi_all = [], []
    for k, h in enumerate(hues):
        d = frame[frame[hue].astype(str) == h]
        d = d[d[x].astype(str).isin(pos)]
        p = np.array([pos[str(c)] for c in d[x].astype(str)], float)
        off = (k - (len(hues) - 1) / 2) * (width / max(len(hues) - 1, 1)) if len(hues) > 1 else 0.0
        v = pd.to_numeric(d[y], errors="coerce").to_numpy(float)
        if se:
            s = pd.to_numeric(d[se], errors="coerce").to_numpy(float)
            lo, hi = v - z * s, v + z * s
        elif ci:
            lo = pd.to_numeric(d[ci[0]], errors="coerce").to_numpy(float)
            hi = pd.to_numeric(d[ci[1]], errors="coerce").to_numpy(float)
        else:
            lo = hi = v
        err = np.vstack(
            [np.where(np.isfinite(lo), v - lo, 0), np.where(np.isfinite(hi), hi - v, 0)]
        )
        kw = {
            "fmt": markers[k % len(markers)],
            "color": colors[h],
            "ms": 5.5,
            "capsize": 2.5,
            "elinewidth": 1.2,
            "label": {"rl": "RL", "baseline": "Baseline"}.get(h, h),
            "zorder": 3,
        }
        cont = (
            ax.errorbar(v, p + off, xerr=err, **kw)
            if horiz
            else ax.errorbar(p + off, v, yerr=err, **kw)
        )
        cont.lines[0].set_gid(f"errorbars-{h}")
        lo_all.append(np.where(np.isfinite(lo), lo, v))
        hi_all.append(np.where(np.isfinite(hi), hi, v))
    labels = [ellipsize(str(c), max_label_chars) for c in cats]
    lab = ylabel if ylabel is not None else y
    allv = np.concatenate(lo_all + hi_all) if lo_all else np.array([0.0, 1.0])
    allv = allv[np.isfinite(allv)]
    if allv.size:
        a, b = float(allv.min()), float(allv.max())
        pad = 0.05 * (b - a) if b > a else 1.0
        (ax.set_xlim if horiz else ax.set_ylim)(a - pad, b + pad)
    if horiz:
        ax.set_yticks(range(n))
        ax.set_yticklabels(labels)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_xlabel(lab)
        ax.grid(axis="x", color="#e5e5e5", lw=0.6)
    else:
        ax.set_xticks(range(n))
        rot = 0 if longest <= 8 and n <= 6 else 35
        ax.set_xticklabels(
            labels, rotation=rot, ha="right" if rot else "center", rotation_mode="anchor"
        )
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylabel(lab)
        ax.grid(axis="y", color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
    ax.legend(
        title=None, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, fontsize="small"
    )
    if title:
        ax.set_title(title)
    return finish(fig, ax, created)


def _aggregate(frame: pd.DataFrame, x: str, y: str, hue: str | None, level: float) -> pd.DataFrame:
    keys = [k for k in (hue, x) if k]
    g = frame.groupby(keys, sort=True, dropna=False)[y]
    out = g.agg(["mean", "std", "count"]).reset_index()
    tcrit = stats.t.ppf(0.5 + level / 2, np.maximum(out["count"] - 1, 1))
    half = tcrit * out["std"] / np.sqrt(out["count"])
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out.rename(columns={"mean": "_y"})


@themed
def sweep_lines(
    data,
    *,
    x: str = "learning_rate",
    y: str = "mean",
    hue: str | None = None,
    ci: tuple[str, str] | None = ("ci_low", "ci_high"),
    se: str | None = None,
    logx: bool | None = None,
    level: float = 0.95,
    markers: bool = True,
    refline: float | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax=None,
):
    """Hyper-parameter sweep: mean ± CI of a metric against a setting, one line per ``hue``.

    Parameters
    ----------
    data
        Tidy frame.  Either one row per setting with ``y`` and the ``ci`` (or ``se``)
        columns, or several rows (seeds, runs) per setting: then ``y`` is averaged and
        a t interval is computed across the rows.
    x
        Setting on the x axis (numeric).
    y
        Metric column.
    hue
        Column giving one line per level (e.g. the RL method).
    ci, se
        Interval columns, or a standard-error column (``y ± z·se``).
    logx
        Log x axis; default when every x is positive and they span two decades.
    level
        Interval level when computed here.
    markers
        Mark the swept settings.
    refline
        Horizontal reference line (e.g. the baseline score).
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
    >>> runs = pd.DataFrame({"learning_rate": np.repeat([1e-6, 1e-5, 1e-4], 3),
    ...                      "accuracy": [50, 52, 51, 60, 61, 59, 40, 45, 42.0]})
    >>> fig = rp.sweep_lines(runs, y="accuracy")
    >>> fig.axes[0].get_xscale()
    'log'
    """
    frame = as_frame(data, what="sweep_lines")
    check_columns(frame, [x, y] + ([hue] if hue else []), what="sweep_lines")
    f = frame.copy()
    f[x] = pd.to_numeric(f[x], errors="coerce")
    f[y] = pd.to_numeric(f[y], errors="coerce")
    f = f[np.isfinite(f[x]) & np.isfinite(f[y])]
    if f.empty:
        raise DataError(f"sweep_lines: no rows with numeric {x!r} and {y!r}")
    keys = [k for k in (hue, x) if k]
    repeated = f.duplicated(keys).any()
    if se:
        check_columns(f, [se], what="sweep_lines")
        z = stats.norm.ppf(0.5 + level / 2)
        f = f.assign(_y=f[y], ci_low=f[y] - z * f[se], ci_high=f[y] + z * f[se])
        cl, ch = "ci_low", "ci_high"
    elif repeated or not ci or not set(ci) <= set(f.columns):
        if repeated:
            f = _aggregate(f, x, y, hue, level)
            cl, ch = "ci_low", "ci_high"
        else:
            f = f.assign(_y=f[y])
            cl = ch = None
    else:
        f = f.assign(_y=f[y])
        cl, ch = ci
    xs = f[x].to_numpy(float)
    if logx is None:
        logx = bool((xs > 0).all() and xs.max() / xs.min() >= 100)
    fig, ax, created = new_axes(ax, (6.0, 4.0))
    levels = list(dict.fromkeys(f[hue].astype(str))) if hue else [None]
    cols = palette(len(levels))
    mk = ["o", "s", "D", "^", "v", "P", "X"]
    for i, lev in enumerate(levels):
        d = f if lev is None else f[f[hue].astype(str) == lev]
        d = d.sort_values(x)
        label = lev if lev is not None else y
        ax.plot(
            d[x],
            d["_y"],
            color=cols[i],
            marker=mk[i % len(mk)] if markers else None,
            ms=5,
            lw=1.6,
            label=label,
            zorder=3,
            gid="sweep-line",
        )
        if cl is not None:
            ax.fill_between(
                d[x], d[cl], d[ch], color=cols[i], alpha=0.18, lw=0, zorder=2, gid="sweep-band"
            )
    if refline is not None:
        ax.axhline(refline, color=COLORS["ref"], lw=0.9, ls="--", gid="sweep-refline")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y + (f" (mean ± {100 * level:g}% CI)" if cl is not None else ""))
    ax.grid(color="#ececec", lw=0.6)
    ax.set_axisbelow(True)
    if hue:
        ax.legend(
            title=hue, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, fontsize="small"
        )
    if title:
        ax.set_title(title)
    return finish(fig, ax, created)
