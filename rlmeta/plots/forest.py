"""Forest plots of meta-analyses, subgroup analyses and cumulative meta-analyses."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from ._base import as_frame, check_choice, measure_label
from ._forestdraw import (
    apply_transform,
    draw_forest_table,
    fmt_ci,
    fmt_num,
    fmt_p,
    transformed_refline,
)
from ._table import Column, Row
from ._theme import themed

__all__ = ["forest"]

#: Special annotation keys: header, side of the plot, and what they show.
SPECIAL_COLUMNS = {
    "estimate [CI]": ("{level}% CI", "right"),
    "estimate": ("Estimate", "right"),
    "ci": ("{level}% CI", "right"),
    "weight": ("Weight", "right"),
    "se": ("SE", "right"),
    "i2": ("I²", "right"),
    "tau2": ("τ²", "right"),
    "k": ("k", "left"),
    "n": ("n", "left"),
}
_ALIASES = {"estimate_ci": "estimate [CI]", "est_ci": "estimate [CI]", "weights": "weight"}


@dataclass
class _Pooled:
    label: str
    est: float
    lo: float
    hi: float
    pi: tuple[float, float] | None
    k: int
    weight: float
    n: float
    note: str | None
    kind: str  # "overall" | "subgroup"
    i2: float = np.nan
    tau2: float = np.nan


# ---------------------------------------------------------------------- inputs
def _n_values(data: pd.DataFrame | None, length: int) -> np.ndarray:
    if data is None:
        return np.full(length, np.nan)
    for cols in (("n",), ("rl_n", "baseline_n"), ("n1", "n2"), ("n_items",)):
        if all(c in data.columns for c in cols):
            v = sum(pd.to_numeric(data[c], errors="coerce").to_numpy(float) for c in cols)
            return np.asarray(v, float)
    return np.full(length, np.nan)


def _model_weights(res) -> np.ndarray:
    """Weights in percent from the model (metafor#52: multilevel weights come from W)."""
    wp = getattr(res, "weights_percent", None)
    if callable(wp):
        return np.asarray(wp(), float)
    vi = np.asarray(res.vi, float)
    tau2 = getattr(res, "tau2", 0.0) or 0.0
    w = 1.0 / (vi + (tau2 if getattr(res, "random", False) else 0.0))
    return 100 * w / w.sum()


def _model_name(res) -> str:
    random = getattr(res, "random", False)
    method = getattr(res, "method", "")
    if isinstance(random, str) and random:
        return f"Multilevel model ({random})"
    if random is True:
        return f"Random-effects model ({method})" if method else "Random-effects model"
    return "Equal-effects model"


def _het_note(res) -> str | None:
    try:
        q, df, p = float(res.q), int(res.q_df), float(res.q_pval)
    except (AttributeError, TypeError, ValueError):
        return None
    parts = []
    if getattr(res, "random", False) is True:
        try:
            parts.append(f"τ² = {float(res.tau2):.3g}")
        except (AttributeError, TypeError):
            pass
    sigma2 = getattr(res, "sigma2", None)
    if sigma2 is not None:
        parts.append("σ² = " + ", ".join(f"{float(s):.3g}" for s in np.atleast_1d(sigma2)))
    try:
        parts.append(f"I² = {float(res.i2):.1f}%")
    except (AttributeError, TypeError):
        pass
    parts.append(f"Q({df}) = {q:.2f}, p {fmt_p(p)}")
    prefix = "Heterogeneity" if getattr(res, "intercept_only", True) else "Residual heterogeneity"
    return f"{prefix}: " + ", ".join(parts)


def _pooled_from(res, label: str, kind: str, weight: float, n: float) -> _Pooled | None:
    if not getattr(res, "intercept_only", True):
        return None
    tab = res.to_frame().iloc[0]
    pi = None
    if getattr(res, "random", False) and res.k > 1:
        p = res.pi
        if p is not None and np.isfinite(p).all():
            pi = (float(p[0]), float(p[1]))
    i2 = getattr(res, "i2", np.nan)
    tau2 = getattr(res, "tau2", np.nan)
    return _Pooled(
        label,
        float(tab["estimate"]),
        float(tab["ci_low"]),
        float(tab["ci_high"]),
        pi,
        int(res.k),
        weight,
        n,
        _het_note(res),
        kind,
        float(i2) if i2 is not None else np.nan,
        float(tau2) if tau2 is not None else np.nan,
    )


def _studies_from_result(res, level: float, label) -> pd.DataFrame:
    yi = np.asarray(res.yi, float)
    sei = np.sqrt(np.asarray(res.vi, float))
    crit = stats.norm.ppf(0.5 + level / 2)
    data = getattr(res, "data", None)
    data = (
        data.reset_index(drop=True)
        if isinstance(data, pd.DataFrame) and len(data) == len(yi)
        else None
    )
    if label is None:
        labels = list(getattr(res, "labels", None) or [f"{i + 1}" for i in range(len(yi))])
    elif isinstance(label, str):
        if data is None or label not in data.columns:
            raise DataError(f"forest: label column {label!r} is not in the result's data")
        labels = data[label].astype(str).tolist()
    else:
        labels = [str(v) for v in label]
    out = pd.DataFrame(
        {
            "_label": labels,
            "_est": yi,
            "_lo": yi - crit * sei,
            "_hi": yi + crit * sei,
            "_weight": _model_weights(res),
            "_n": _n_values(data, len(yi)),
            "_se": sei,
            "_vi": res.vi,
        }
    )
    if data is not None:
        extra = data.drop(columns=[c for c in data.columns if c in out.columns])
        out = pd.concat([out, extra], axis=1)
    return out


def _is_subgroup_result(obj) -> bool:
    return (
        hasattr(obj, "groups")
        and isinstance(getattr(obj, "groups", None), Mapping)
        and hasattr(obj, "tests")
    )


# ---------------------------------------------------------------------- annotation columns
def _columns(annotate, level: float, measure_hdr: str, available: set[str]) -> list[Column]:
    specs: list[tuple[str, str | None]] = []
    if annotate is None:
        annotate = ()
    if isinstance(annotate, str):
        annotate = (annotate,)
    if isinstance(annotate, Mapping):
        specs = [(k, v) for k, v in annotate.items()]
    else:
        for a in annotate:
            specs.append((a[0], a[1]) if isinstance(a, tuple) else (a, None))
    cols = []
    for key, header in specs:
        key = _ALIASES.get(key, key)
        if key in SPECIAL_COLUMNS:
            hdr, side = SPECIAL_COLUMNS[key]
            if header is None:
                header = hdr.format(level=f"{100 * level:g}")
                if key == "estimate [CI]":
                    header = f"{measure_hdr} [{100 * level:g}% CI]"
            cols.append(Column(key, header, side, "right"))
        elif key in available:
            cols.append(Column(key, key if header is None else header, "left", "left"))
        else:
            raise DataError(
                f"forest: annotation column {key!r} is neither a data column nor one of {sorted(SPECIAL_COLUMNS)}"
            )
    # left columns first (table order), keeping the user's order within each side
    return [c for c in cols if c.side == "left"] + [c for c in cols if c.side == "right"]


def _fmt_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float | np.floating):
        if np.isnan(v):
            return ""
        return f"{v:.0f}" if float(v).is_integer() else f"{v:.3g}"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    return str(v)


def _study_cells(
    r: pd.Series, cols: list[Column], digits: int, tf_est, tf_lo, tf_hi
) -> dict[str, str]:
    out = {}
    for c in cols:
        k = c.key
        if k == "estimate [CI]":
            out[k] = fmt_ci(tf_est, tf_lo, tf_hi, digits)
        elif k == "estimate":
            out[k] = fmt_num(tf_est, digits)
        elif k == "ci":
            out[k] = f"[{fmt_num(tf_lo, digits)}, {fmt_num(tf_hi, digits)}]"
        elif k == "weight":
            w = r.get("_weight", np.nan)
            out[k] = "" if not np.isfinite(w) else f"{w:.1f}%"
        elif k == "se":
            out[k] = fmt_num(r.get("_se", np.nan), digits + 1)
        elif k == "n":
            out[k] = _fmt_cell(r.get("_n", np.nan))
        elif k in ("k", "i2", "tau2"):
            v = r.get(k, np.nan)
            out[k] = (
                (f"{v:.1f}%" if k == "i2" else f"{v:#.3g}" if k == "tau2" else _fmt_cell(v))
                if pd.notna(v)
                else ""
            )
        else:
            out[k] = _fmt_cell(r.get(k))
    return out


def _pooled_cells(p: _Pooled, cols: list[Column], digits: int, transform) -> dict[str, str]:
    e, lo, hi = apply_transform(transform, [p.est], [p.lo], [p.hi])
    out = {}
    for c in cols:
        k = c.key
        if k == "estimate [CI]":
            out[k] = fmt_ci(e[0], lo[0], hi[0], digits)
        elif k == "estimate":
            out[k] = fmt_num(e[0], digits)
        elif k == "ci":
            out[k] = f"[{fmt_num(lo[0], digits)}, {fmt_num(hi[0], digits)}]"
        elif k == "weight":
            out[k] = "" if not np.isfinite(p.weight) else f"{p.weight:.1f}%"
        elif k == "k":
            out[k] = str(p.k)
        elif k == "i2":
            out[k] = "" if not np.isfinite(p.i2) else f"{p.i2:.1f}%"
        elif k == "tau2":
            out[k] = "" if not np.isfinite(p.tau2) else f"{p.tau2:#.3g}"
    return out


# ---------------------------------------------------------------------- rows
def _sorted(frame: pd.DataFrame, sort_by, ascending: bool) -> pd.DataFrame:
    if sort_by is None:
        return frame
    key = {
        "estimate": "_est",
        "weight": "_weight",
        "precision": "_se",
        "label": "_label",
        "n": "_n",
    }.get(sort_by, sort_by)
    if callable(sort_by):
        order = np.argsort(np.asarray(sort_by(frame)), kind="stable")
        return frame.iloc[order if ascending else order[::-1]]
    if key not in frame.columns:
        raise DataError(
            f"forest: cannot sort by {sort_by!r}; use estimate, weight, precision, label, n or a data column"
        )
    return frame.sort_values(key, ascending=ascending, kind="stable", na_position="last")


def _pooled_rows(p: _Pooled, cols, digits, transform, pi: bool, indent: int = 0) -> list[Row]:
    e, lo, hi = apply_transform(transform, [p.est], [p.lo], [p.hi])
    rows = [
        Row(
            p.kind,
            p.label,
            e[0],
            lo[0],
            hi[0],
            cells=_pooled_cells(p, cols, digits, transform),
            bold=True,
            indent=indent,
        )
    ]
    if pi and p.pi is not None:
        pe, pl, ph = apply_transform(transform, [p.est], [p.pi[0]], [p.pi[1]])
        cell = {
            "estimate [CI]": f"[{fmt_num(pl[0], digits)}, {fmt_num(ph[0], digits)}]",
            "ci": f"[{fmt_num(pl[0], digits)}, {fmt_num(ph[0], digits)}]",
        }
        rows.append(
            Row(
                "pi",
                "Prediction interval",
                pe[0],
                pl[0],
                ph[0],
                cells={c.key: cell[c.key] for c in cols if c.key in cell},
                italic=True,
                indent=indent,
            )
        )
    return rows


def _study_rows(frame: pd.DataFrame, cols, digits, transform, indent: int = 0) -> list[Row]:
    e, lo, hi = apply_transform(transform, frame["_est"], frame["_lo"], frame["_hi"])
    rows = []
    for i, (_, r) in enumerate(frame.iterrows()):
        rows.append(
            Row(
                "study",
                str(r["_label"]),
                e[i],
                lo[i],
                hi[i],
                weight=float(r.get("_weight", np.nan)),
                cells=_study_cells(r, cols, digits, e[i], lo[i], hi[i]),
                indent=indent,
                group=r.get("_group"),
            )
        )
    return rows


# ---------------------------------------------------------------------- public
@themed
def forest(
    data,
    *,
    label: str | Sequence[str] | None = None,
    annotate: Sequence | Mapping | str | None = "auto",
    sort_by: str | Callable | None = None,
    ascending: bool = True,
    pi: bool | str = True,
    subgroup: str | None = None,
    transform: Callable | None = None,
    logscale: bool | None = None,
    refline: float | None = 0.0,
    level: float | None = None,
    digits: int = 2,
    heterogeneity: bool = True,
    xlim: tuple[float, float] | None = None,
    xlabel: str | None = None,
    title: str | None = None,
    label_header: str | None = None,
    max_label_chars: int | None = 48,
    fontsize: float | None = None,
    plot_width: float = 3.2,
    ax=None,
):
    """Forest plot: one row per effect with its CI, weighted markers, pooled diamonds.

    Parameters
    ----------
    data
        What to plot:

        * a fitted model (:class:`~rlmeta.meta.results.MetaResult`, or any result
          with ``yi, vi, labels, data, to_frame(), pi, weights_percent()`` such as a
          multilevel model): effects, pooled diamond and prediction interval;
        * a :class:`~rlmeta.meta.subgroup.SubgroupResult`: one block per subgroup
          with its own diamond (weights are within-subgroup percentages);
        * an effects frame with ``yi`` and ``vi`` (or ``sei``): pooled with
          :func:`rlmeta.meta_analysis` (REML) first;
        * a cumulative frame (``label, order_value, k, estimate, se, ci_low, ci_high,
          tau2, i2``): a cumulative forest (same-size markers, no diamond);
        * any frame with ``estimate, ci_low, ci_high`` (optional ``label``, ``weight``).
    label
        Column of the result's data (or a sequence) for the row labels; default the
        result's labels.
    annotate
        Text columns.  ``"auto"`` shows n (when the data has ``n``, ``rl_n``/``baseline_n``
        or ``n_items``), weight and estimate [CI].  Otherwise a sequence of keys, each a
        data column (drawn left of the plot) or one of ``"estimate [CI]"``,
        ``"estimate"``, ``"ci"``, ``"weight"``, ``"se"``, ``"i2"``, ``"tau2"`` (right),
        ``"k"``, ``"n"`` (left); give ``(key, header)`` tuples or a ``{key: header}`` dict
        to rename headers.  None for no columns.
    sort_by
        None (data order), ``"estimate"``, ``"weight"``, ``"precision"`` (SE),
        ``"label"``, ``"n"``, a data column, or a callable returning sort keys.
        Subgroup blocks are sorted within each block.
    ascending
        Sort direction.
    pi
        Draw the prediction interval of the overall estimate (True), of every pooled
        estimate including subgroups (``"all"``), or none (False).
    subgroup
        Column of the result's data: one block per level, each with its own pooled
        diamond (a univariate model with the result's method, test and level); the
        overall diamond and weights stay those of ``data``.
    transform
        Function applied to estimates and bounds before drawing, e.g. ``np.exp`` for
        log odds ratios; ``refline`` is given on the model scale and transformed too.
    logscale
        Log x axis; default True when ``transform`` is ``np.exp``.
    refline
        Reference (no-effect) line on the model scale; None for none.
    level
        CI level of the per-effect intervals (default: the model's).
    digits
        Decimals of the numbers in the text columns.
    heterogeneity
        Add a line with tau², I² and Q under the overall estimate.
    xlim
        x limits (on the drawn scale).  By default every CI, diamond and PI fits;
        with explicit limits CIs running off are clipped and marked with arrows.
    xlabel, title, label_header
        Texts; defaults from the effect measure.
    max_label_chars
        Labels longer than this are clipped with an ellipsis (inside a given ``ax``
        they are clipped further if the table would not fit otherwise).
    fontsize
        Font size of the table (default: 0.85 × the theme's, smaller beyond 30 and
        80 rows).
    plot_width
        Width (inches) of the plotting area of a new figure; the figure's width adds
        the text columns and its height grows with the number of rows.
    ax
        Draw into this Axes: the text columns are placed inside its area and the
        Axes shrinks to the plotting region.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new Figure when ``ax`` is None, otherwise ``ax``.

    Notes
    -----
    Marker *area* is proportional to the model weight (metafor / RevMan
    convention), with a floor so that tiny weights stay visible.  Weights come from
    the model's ``weights_percent()``: for multilevel models these are the row sums
    of the inverse marginal covariance, not ``1 / (v_i + tau²)`` (metafor issue #52).
    Per-effect intervals are Wald intervals ``y_i ± z sqrt(v_i)``.

    Examples
    --------
    >>> import rlmeta as rm, rlmeta.plots as rp
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> res = rm.meta_analysis(eff.head(8), slab="benchmark")
    >>> fig = rp.forest(res, sort_by="estimate")
    >>> [len(c.get_offsets()) for c in fig.axes[0].collections if c.get_gid() == "forest-points"]
    [8]
    >>> fig = rp.forest(res, pi=False, annotate=["weight", ("estimate [CI]", "RD [95% CI]")])
    >>> any(p.get_gid() == "forest-pi" for p in fig.axes[0].patches)
    False
    """
    check_choice("pi", pi, [True, False, "all"])
    measure = None
    overall: _Pooled | None = None
    blocks: list[tuple[str, pd.DataFrame, _Pooled | None]] = []
    notes: list[str] = []
    uniform = False
    default_annot: list[str] = ["estimate [CI]"]
    hdr_label = label_header
    studies: pd.DataFrame | None = None

    if _is_subgroup_result(data):
        lvl = level or next(iter(data.groups.values())).level
        for name, g in data.groups.items():
            measure = measure or getattr(g, "measure", None)
            fr = _studies_from_result(g, lvl, label)
            fr["_group"] = name
            pooled = _pooled_from(
                g,
                f"Subtotal ({'I² = ' + format(g.i2, '.0f') + '%, ' if g.k > 1 else ''}k = {g.k})",
                "subgroup",
                100.0,
                float(np.nansum(fr["_n"])),
            )
            blocks.append((str(name), fr, pooled))
        try:
            t = data.tests().iloc[0]
            notes.append(
                f"Test for subgroup differences: Q = {t['stat']:.2f}, df = {int(t['df'])}, p {fmt_p(t['pval'])}"
            )
        except (AttributeError, IndexError, KeyError):
            pass
        studies = pd.concat([b[1] for b in blocks], ignore_index=True)
        if pi is True:
            pi = "all"  # there is no overall model: show each subgroup's interval
        default_annot = ["n", "weight", "estimate [CI]"]
    else:
        res = None
        if isinstance(data, pd.DataFrame) or (
            hasattr(data, "to_frame") and not hasattr(data, "yi")
        ):
            frame = as_frame(data, what="forest")
            if {"estimate", "ci_low", "ci_high"} <= set(frame.columns):
                studies, uniform, default_annot = _plain_frame(frame, label)
                if hdr_label is None and {"order_value", "k"} <= set(frame.columns):
                    hdr_label = "Cumulative (added)"
            elif "yi" in frame.columns and ("vi" in frame.columns or "sei" in frame.columns):
                from ..meta import meta_analysis

                res = meta_analysis(
                    frame,
                    "yi",
                    "vi" if "vi" in frame.columns else None,
                    sei="sei" if "vi" not in frame.columns else None,
                    slab=label if isinstance(label, str) else None,
                )
                label = None if isinstance(label, str) else label
            else:
                raise DataError(
                    "forest: a frame needs `estimate, ci_low, ci_high` (or `yi` and `vi`); it has "
                    f"{list(frame.columns)[:20]}"
                )
        else:
            res = data
        if res is not None:
            measure = getattr(res, "measure", None)
            lvl = level or getattr(res, "level", 0.95)
            studies = _studies_from_result(res, lvl, label)
            overall = _pooled_from(
                res, _model_name(res), "overall", 100.0, float(np.nansum(studies["_n"]))
            )
            if heterogeneity:
                note = _het_note(res)
                if note:
                    notes.insert(0, note)
            if not getattr(res, "intercept_only", True):
                notes.append("Meta-regression: no single pooled estimate is drawn.")
            default_annot = ["n", "weight", "estimate [CI]"]
        if subgroup is not None:
            if subgroup not in studies.columns:
                raise DataError(f"forest: subgroup column {subgroup!r} is not in the data")
            studies["_group"] = studies[subgroup].astype(str)
            for name, fr in studies.groupby("_group", sort=True):
                pooled = None
                if res is not None and len(fr) >= 1:
                    pooled = _subgroup_pooled(res, fr, name)
                blocks.append((str(name), fr, pooled))
    lvl = (
        level
        or (getattr(data, "level", None) if not isinstance(data, pd.DataFrame) else None)
        or 0.95
    )
    if _is_subgroup_result(data):
        lvl = level or next(iter(data.groups.values())).level
    if studies is None or len(studies) == 0:
        raise DataError("forest: nothing to plot (no effects)")

    # columns
    if isinstance(annotate, str) and annotate == "auto":
        annotate = [a for a in default_annot if a != "n" or np.isfinite(studies["_n"]).any()]
    if annotate is not None and not isinstance(annotate, (str, Mapping)):
        annotate = [a for a in annotate if not (a == "weight" and uniform)]
    measure_hdr = measure if measure else "Estimate"
    if transform is np.exp and measure and measure.upper() in ("OR", "RR", "ROM"):
        measure_hdr = {"OR": "OR", "RR": "RR", "ROM": "Ratio"}[measure.upper()]
    available = set(studies.columns)
    cols = _columns(annotate, lvl, measure_hdr, available)

    # rows
    rows: list[Row] = []
    if blocks:
        for name, fr, pooled in blocks:
            rows.append(Row("header", name, bold=True))
            rows.extend(
                _study_rows(_sorted(fr, sort_by, ascending), cols, digits, transform, indent=1)
            )
            if pooled is not None:
                rows.extend(_pooled_rows(pooled, cols, digits, transform, pi == "all", indent=1))
            rows.append(Row("blank"))
    else:
        rows.extend(_study_rows(_sorted(studies, sort_by, ascending), cols, digits, transform))
        if overall is not None or notes:
            rows.append(Row("blank"))
    if overall is not None:
        rows.extend(_pooled_rows(overall, cols, digits, transform, bool(pi)))
    for n in notes:
        rows.append(Row("note", n, italic=True))
    while rows and rows[-1].kind == "blank":
        rows.pop()

    logx = bool(logscale) if logscale is not None else transform is np.exp
    ref = transformed_refline(transform, refline)
    if xlabel is None:
        xlabel = measure_label(measure, transformed=transform is np.exp) if measure else ""
    if hdr_label is None:
        hdr_label = label if isinstance(label, str) else "Study"
    return draw_forest_table(
        rows,
        cols,
        ax=ax,
        logx=logx,
        refline=ref,
        xlim=xlim,
        xlabel=xlabel,
        title=title,
        label_header=hdr_label,
        max_label_chars=max_label_chars,
        fontsize=fontsize,
        plot_width=plot_width,
        uniform_points=uniform,
    )


def _plain_frame(frame: pd.DataFrame, label) -> tuple[pd.DataFrame, bool, list[str]]:
    cumulative = {"order_value", "k"} <= set(frame.columns)
    if label is None:
        label = next(
            (c for c in ("label", "left_out", "study", "name") if c in frame.columns), None
        )
    if isinstance(label, str):
        if label not in frame.columns:
            raise DataError(f"forest: label column {label!r} not in the frame")
        labels = frame[label].astype(str).to_numpy()
    elif label is None:
        labels = np.array([str(i + 1) for i in range(len(frame))])
    else:
        labels = np.asarray([str(v) for v in label])
    out = pd.DataFrame(
        {
            "_label": labels,
            "_est": pd.to_numeric(frame["estimate"], errors="coerce").to_numpy(float),
            "_lo": pd.to_numeric(frame["ci_low"], errors="coerce").to_numpy(float),
            "_hi": pd.to_numeric(frame["ci_high"], errors="coerce").to_numpy(float),
            "_weight": pd.to_numeric(frame["weight"], errors="coerce").to_numpy(float)
            if "weight" in frame.columns
            else np.nan,
            "_n": pd.to_numeric(frame["n"], errors="coerce").to_numpy(float)
            if "n" in frame.columns
            else np.nan,
            "_se": pd.to_numeric(frame["se"], errors="coerce").to_numpy(float)
            if "se" in frame.columns
            else np.nan,
        }
    )
    extra = frame.reset_index(drop=True)
    out = pd.concat(
        [out, extra.drop(columns=[c for c in extra.columns if c in out.columns])], axis=1
    )
    if cumulative:
        return (
            out,
            True,
            ["k", "estimate [CI]", "i2"] if "i2" in frame.columns else ["k", "estimate [CI]"],
        )
    annot = ["weight", "estimate [CI]"] if "weight" in frame.columns else ["estimate [CI]"]
    return out, "weight" not in frame.columns, annot


def _subgroup_pooled(res, fr: pd.DataFrame, name: str) -> _Pooled | None:
    """Pool one subgroup with a univariate model of the same kind as ``res``."""
    from ..errors import ModelError
    from ..meta import meta_analysis

    sub = pd.DataFrame({"yi": fr["_est"].to_numpy(float), "vi": fr["_vi"].to_numpy(float)})
    method = getattr(res, "method", "REML")
    if len(sub) < 2 or not getattr(res, "random", False):
        method = "EE"
    elif isinstance(getattr(res, "random", None), str):
        method = "REML"
    try:
        g = meta_analysis(
            sub,
            "yi",
            "vi",
            method=method,
            test=getattr(res, "test", "z"),
            level=getattr(res, "level", 0.95),
        )
    except ModelError:
        return None
    i2 = f"I² = {g.i2:.0f}%, " if g.k > 1 else ""
    return _pooled_from(
        g,
        f"Subtotal ({i2}k = {g.k})",
        "subgroup",
        float(np.nansum(fr["_weight"])),
        float(np.nansum(fr["_n"])),
    )
