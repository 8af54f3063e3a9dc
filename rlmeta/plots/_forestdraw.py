"""Drawing of forest-type figures from :class:`~rlmeta.plots._table.Row` lists.

Shared by :func:`rlmeta.plots.forest`, the cumulative forest, leave-one-out and
the estimator sweep.  Every artist carries a ``gid`` so tests (and users) can find
it: ``forest-points`` (one PathCollection, one offset per effect), ``forest-ci``
(one LineCollection, one segment per effect), ``forest-diamond`` /
``forest-diamond-subgroup`` (one Polygon per pooled estimate), ``forest-pi`` (one
Rectangle per prediction interval), ``forest-refline``, ``forest-ci-arrow``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Polygon, Rectangle

from ._base import finish
from ._table import Column, ForestTable, Row, new_table_figure
from ._theme import COLORS

__all__ = ["draw_forest_table", "fmt_num", "fmt_ci", "fmt_p", "apply_transform"]


def fmt_num(v, digits: int = 2) -> str:
    """Number with a typographic minus; empty for NaN.

    >>> fmt_num(-0.1234), fmt_num(float("nan"))
    ('−0.12', '')
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    try:
        if not np.isfinite(v):
            return "∞" if v > 0 else "−∞"
    except TypeError:
        return str(v)
    s = f"{v:.{digits}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s.replace("-", "\u2212")


def fmt_ci(est, lo, hi, digits: int = 2) -> str:
    """``est [lo, hi]``.

    >>> fmt_ci(0.08, 0.06, 0.1)
    '0.08 [0.06, 0.10]'
    """
    if est is None or (isinstance(est, float) and math.isnan(est)):
        return ""
    return f"{fmt_num(est, digits)} [{fmt_num(lo, digits)}, {fmt_num(hi, digits)}]"


def fmt_p(p) -> str:
    """``= 0.012`` or ``< 0.0001`` (for running text)."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "= NA"
    return "< 0.0001" if p < 1e-4 else f"= {p:.4f}" if p < 0.001 else f"= {p:.3f}"


def apply_transform(transform: Callable | None, est, lo, hi):
    """Apply ``transform`` to estimates and bounds, keeping ``lo <= hi``."""
    est, lo, hi = (np.asarray(a, float) for a in (est, lo, hi))
    if transform is None:
        return est, lo, hi
    with np.errstate(all="ignore"):
        e, a, b = (np.asarray(transform(x), float) for x in (est, lo, hi))
    return e, np.fmin(a, b), np.fmax(a, b)


def transformed_refline(transform: Callable | None, refline: float | None) -> float | None:
    """The reference line on the display scale (None stays None)."""
    if refline is None:
        return None
    return float(apply_transform(transform, [refline], [refline], [refline])[0][0])


def draw_forest_table(
    rows: Sequence[Row],
    columns: Sequence[Column],
    *,
    ax=None,
    logx: bool = False,
    refline: float | None = 0.0,
    xlim: tuple[float, float] | None = None,
    xlabel: str = "",
    title: str | None = None,
    label_header: str = "",
    max_label_chars: int | None = 48,
    fontsize: float | None = None,
    plot_width: float = 3.2,
    band: tuple[float, float, float] | None = None,
    point_color: str | None = None,
    uniform_points: bool = False,
):
    """Draw rows as a forest plot; return the Figure (``ax`` None) or ``ax``."""
    created = ax is None
    state: dict = {}

    def build(ax_):
        table = ForestTable(
            ax_,
            rows,
            columns,
            label_header=label_header,
            title=title,
            fontsize=fontsize,
            max_label_chars=max_label_chars,
            xlabel=xlabel,
            logx=logx,
            on_layout=lambda fs, rh: _on_layout(state, fs, rh),
        )
        _draw_rows(
            ax_,
            rows,
            state,
            logx=logx,
            refline=refline,
            xlim=xlim,
            band=band,
            point_color=point_color,
            uniform_points=uniform_points,
        )
        return table

    fig, table = new_table_figure(build, plot_width=plot_width, ax=ax)
    if created:
        fig._rlmeta_table = table  # lets tests reach the layout
    return finish(fig, table.ax, created)


def _draw_rows(ax, rows, state, *, logx, refline, xlim, band, point_color, uniform_points):
    ys = np.arange(len(rows), dtype=float)
    kinds = np.array([r.kind for r in rows])
    est = np.array([r.est for r in rows], float)
    lo = np.array([r.lo for r in rows], float)
    hi = np.array([r.hi for r in rows], float)
    w = np.array([r.weight for r in rows], float)
    is_study = kinds == "study"
    ok = is_study & np.isfinite(est)
    if logx:
        ax.set_xscale("log")
    pc = point_color or COLORS["point"]
    # limits: every CI, diamond, PI and the reference line
    vals = np.concatenate([est[np.isfinite(est)], lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
    if refline is not None and np.isfinite(refline):
        vals = np.append(vals, refline)
    if band is not None:
        vals = np.append(vals, [v for v in band if v is not None and np.isfinite(v)])
    if logx:
        vals = vals[vals > 0]
    if xlim is None:
        if len(vals) == 0:
            xlim = (0.1, 10.0) if logx else (-1.0, 1.0)
        else:
            a, b = float(np.min(vals)), float(np.max(vals))
            if logx:
                la, lb = np.log10(a), np.log10(b)
                pad = 0.05 * (lb - la) if lb > la else 0.1
                xlim = (10 ** (la - pad), 10 ** (lb + pad))
            else:
                pad = 0.05 * (b - a) if b > a else max(abs(a) * 0.1, 0.1)
                xlim = (a - pad, b + pad)
    ax.set_xlim(*xlim)
    x0, x1 = xlim
    data_rows = [i for i, r in enumerate(rows) if r.kind not in ("note", "blank")]
    y_end = (max(data_rows) + 0.5) if data_rows else len(rows) - 0.5
    if band is not None:
        b_est, b_lo, b_hi = band
        if b_lo is not None and b_hi is not None and np.isfinite([b_lo, b_hi]).all():
            ax.add_patch(
                Rectangle(
                    (b_lo, -0.5),
                    b_hi - b_lo,
                    y_end + 0.5,
                    facecolor=COLORS["fill"],
                    alpha=0.35,
                    lw=0,
                    zorder=0,
                    gid="forest-band",
                )
            )
        if b_est is not None and np.isfinite(b_est):
            ax.plot(
                [b_est, b_est],
                [-0.5, y_end],
                color=COLORS["pooled"],
                lw=1,
                ls=":",
                zorder=1,
                gid="forest-band-line",
            )
    if refline is not None and np.isfinite(refline):
        ax.plot(
            [refline, refline],
            [-0.5, y_end],
            color=COLORS["ref"],
            lw=0.9,
            ls="--",
            zorder=1,
            gid="forest-refline",
        )
    # CIs, clipped at the limits with arrows where they run off
    row_colors = np.array([r.color or pc for r in rows], dtype=object)
    segs, seg_colors, arrows_l, arrows_r = [], [], [], []
    for y, a, b, c in zip(ys[ok], lo[ok], hi[ok], row_colors[ok]):
        if not (np.isfinite(a) and np.isfinite(b)):
            continue
        segs.append([(max(a, x0), y), (min(b, x1), y)])
        seg_colors.append(c)
        if a < x0:
            arrows_l.append(y)
        if b > x1:
            arrows_r.append(y)
    ci = LineCollection(segs, colors=seg_colors or pc, linewidths=1.0, zorder=2, gid="forest-ci")
    ax.add_collection(ci, autolim=False)
    for ys_, side, mk in ((arrows_l, x0, "<"), (arrows_r, x1, ">")):
        if ys_:
            ax.scatter(
                np.full(len(ys_), side),
                ys_,
                marker=mk,
                s=12,
                color=pc,
                zorder=3,
                clip_on=False,
                gid="forest-ci-arrow",
            )
    pts = ax.scatter(
        est[ok],
        ys[ok],
        marker="s",
        s=20,
        c=list(row_colors[ok]),
        edgecolors="none",
        zorder=3,
        gid="forest-points",
    )
    state["points"] = pts
    state["ci"] = ci
    ww = w[ok]
    state["weights"] = None if uniform_points or not np.isfinite(ww).any() else ww
    # pooled estimates: diamonds and prediction-interval bars
    state["diamonds"] = []
    for y, r in zip(ys, rows):
        if r.kind in ("overall", "subgroup") and np.isfinite(r.est):
            color = COLORS["pooled"] if r.kind == "overall" else COLORS["subgroup"]
            poly = Polygon(
                [(r.lo, y), (r.est, y - 0.36), (r.hi, y), (r.est, y + 0.36)],
                closed=True,
                facecolor=color,
                edgecolor=COLORS["point"],
                lw=0.7,
                zorder=3,
                gid="forest-diamond" if r.kind == "overall" else "forest-diamond-subgroup",
            )
            ax.add_patch(poly)
            state["diamonds"].append(poly)
        elif r.kind == "pi" and np.isfinite(r.lo) and np.isfinite(r.hi):
            ax.add_patch(
                Rectangle(
                    (r.lo, y - 0.13),
                    r.hi - r.lo,
                    0.26,
                    facecolor=COLORS["fill"],
                    alpha=0.9,
                    edgecolor=COLORS["pi"],
                    lw=0.9,
                    zorder=2,
                    gid="forest-pi",
                )
            )
            ax.plot(
                [r.est], [y], marker="|", ms=6, color=COLORS["pi"], zorder=3, gid="forest-pi-centre"
            )
    ax.margins(y=0)


def _on_layout(state: dict, fs: float, rh_pt: float) -> None:
    pts = state.get("points")
    if pts is None:
        return
    side = min(0.82 * rh_pt, 1.35 * fs)
    w = state.get("weights")
    n = len(pts.get_offsets())
    if w is None:
        sizes = np.full(n, (0.45 * side) ** 2)
    else:
        w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
        # area proportional to weight; the largest marker is reserved for effects that
        # carry a real share (>= 15 %) of the total, so 100 equal weights give small,
        # equal markers that do not hide their CIs
        top = max(w.max(), 0.15 * w.sum()) if w.sum() > 0 else 1.0
        sizes = np.maximum(side**2 * w / top, (0.3 * side) ** 2)
    pts.set_sizes(sizes)
    lw = float(np.clip(fs / 9.0, 0.5, 1.3))
    state["ci"].set_linewidth(lw)
