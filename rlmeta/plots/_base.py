"""Helpers shared by the figure modules: input coercion, figure/axes creation, labels.

Return convention of every public plot function: the new :class:`~matplotlib.figure.Figure`
when ``ax`` is None, otherwise the ``ax`` that was passed (drawn on in place).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = [
    "as_frame",
    "check_columns",
    "check_choice",
    "new_axes",
    "finish",
    "ellipsize",
    "measure_label",
    "place_labels",
    "text_extent",
    "LOG_MEASURES",
]

#: Effect measures on a log scale (back-transform with ``np.exp``).
LOG_MEASURES = frozenset({"OR", "RR", "ROM", "LOR", "LRR", "HR", "IRR", "CVR", "VR"})

_MEASURE_LABELS = {
    "RD": "Risk difference (RL − baseline)",
    "MD": "Mean difference (RL − baseline)",
    "SMD": "Standardised mean difference (Hedges' g)",
    "SMDH": "Standardised mean difference (heteroscedastic)",
    "ROM": "Log ratio of means (RL / baseline)",
    "OR": "Log odds ratio (RL vs baseline)",
    "RR": "Log risk ratio (RL / baseline)",
    "AS": "Arcsine-root difference",
    "MC": "Mean change (paired)",
    "SMCC": "Standardised mean change",
    "GEN": "Effect size",
}
_MEASURE_LABELS_EXP = {
    "ROM": "Ratio of means (RL / baseline)",
    "OR": "Odds ratio (RL vs baseline)",
    "RR": "Risk ratio (RL / baseline)",
}


def measure_label(measure: str | None, transformed: bool = False) -> str:
    """Axis label for an effect measure (``transformed``: after ``np.exp``).

    >>> measure_label("RD")
    'Risk difference (RL − baseline)'
    >>> measure_label("OR", transformed=True)
    'Odds ratio (RL vs baseline)'
    """
    if measure is None:
        return "Effect size"
    m = str(measure).upper()
    if transformed and m in _MEASURE_LABELS_EXP:
        return _MEASURE_LABELS_EXP[m]
    return _MEASURE_LABELS.get(m, f"Effect size ({measure})")


def as_frame(obj, *, what: str = "data") -> pd.DataFrame:
    """A DataFrame from a frame or an object with ``to_frame()``."""
    if isinstance(obj, pd.DataFrame):
        return obj
    to_frame = getattr(obj, "to_frame", None)
    if callable(to_frame):
        out = to_frame()
        if isinstance(out, pd.DataFrame):
            return out
    raise DataError(
        f"{what}: expected a pandas DataFrame or an object with .to_frame(), got {type(obj).__name__}"
    )


def check_columns(frame: pd.DataFrame, columns: Iterable[str], *, what: str) -> None:
    """Raise a :class:`~rlmeta.errors.DataError` naming every missing column."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {missing}; the frame has {list(frame.columns)[:25]}"
        )


def check_choice(name: str, value, options: Sequence) -> None:
    """One error format for enumerated options (as seaborn's ``_check_argument``)."""
    if value not in options:
        raise ValueError(
            f"value for `{name}` must be one of {list(options)}, but {value!r} was passed"
        )


def new_axes(ax, figsize: tuple[float, float], *, layout: str | None = "constrained"):
    """Return ``(fig, ax, created)``; create a figure of ``figsize`` inches when ``ax`` is None."""
    if ax is not None:
        return ax.figure, ax, False
    fig = plt.figure(figsize=figsize, layout=layout)
    ax = fig.add_subplot()
    return fig, ax, True


def finish(fig, ax, created: bool):
    """The return convention: the Figure when we created it, else the given Axes."""
    return fig if created else ax


def ellipsize(text: str, max_chars: int | None) -> str:
    """Clip ``text`` to ``max_chars`` characters with a trailing ellipsis.

    >>> ellipsize("a very long benchmark name", 10)
    'a very lo…'
    """
    text = str(text)
    if max_chars is None or len(text) <= max_chars:
        return text
    if max_chars <= 1:
        return "…"
    return text[: max_chars - 1].rstrip() + "…"


def get_renderer(fig):
    """The figure's renderer (forcing an Agg canvas when needed)."""
    try:
        return fig.canvas.get_renderer()
    except AttributeError:  # pragma: no cover - non-Agg canvases
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        return FigureCanvasAgg(fig).get_renderer()


def text_extent(texts, renderer) -> np.ndarray:
    """Window extents ``(n, 4)`` = x0, y0, x1, y1 in pixels of the given Text artists."""
    out = np.zeros((len(texts), 4))
    for i, t in enumerate(texts):
        bb = t.get_window_extent(renderer)
        out[i] = (bb.x0, bb.y0, bb.x1, bb.y1)
    return out


def _overlaps(box, boxes, pad=1.0) -> bool:
    if not len(boxes):
        return False
    b = np.asarray(boxes)
    return bool(
        np.any(
            (box[0] < b[:, 2] + pad)
            & (box[2] > b[:, 0] - pad)
            & (box[1] < b[:, 3] + pad)
            & (box[3] > b[:, 1] - pad)
        )
    )


def place_labels(
    ax,
    x,
    y,
    labels,
    *,
    fontsize=None,
    color="#222222",
    max_labels: int = 30,
    avoid=None,
    gid: str | None = None,
    max_chars: int = 32,
    settle: bool = True,
) -> list:
    """Annotate points without letting the labels overlap each other.

    Tries eight offsets around each point (nearest first) and keeps the first
    position whose rendered box clears every label placed before it (and the
    boxes in ``avoid``, pixel ``x0, y0, x1, y1`` rows); a label that fits nowhere
    is left out.  Returns the Text artists placed.
    """
    fig = ax.figure
    if settle:
        fig.draw_without_rendering()  # settle the layout first so boxes are final
    renderer = get_renderer(fig)
    placed: list = []
    boxes: list = [] if avoid is None else [tuple(b) for b in np.atleast_2d(avoid)]
    for t in ax.texts:  # labels placed earlier (e.g. loading names in a biplot)
        if t.get_visible() and t.get_text():
            tb = t.get_window_extent(renderer)
            boxes.append((tb.x0, tb.y0, tb.x1, tb.y1))
    leg = ax.get_legend()
    if leg is not None:
        lb = leg.get_window_extent(renderer)
        boxes.append((lb.x0, lb.y0, lb.x1, lb.y1))
    offsets = [
        (5, 4),
        (5, -4),
        (-5, 4),
        (-5, -4),
        (0, 9),
        (0, -9),
        (9, 0),
        (-9, 0),
        (12, 10),
        (-12, -10),
        (12, -10),
        (-12, 10),
    ]
    axbox = ax.get_window_extent(renderer)
    for xi, yi, lab in list(zip(x, y, labels))[:max_labels]:
        if (
            lab is None
            or (isinstance(lab, float) and np.isnan(lab))
            or not np.isfinite([xi, yi]).all()
        ):
            continue
        for dx, dy in offsets:
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
            t = ax.annotate(
                ellipsize(str(lab), max_chars),
                (xi, yi),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=fontsize,
                color=color,
                annotation_clip=False,
            )
            bb = t.get_window_extent(renderer)
            box = (bb.x0, bb.y0, bb.x1, bb.y1)
            inside = (
                bb.x0 >= axbox.x0 - 2
                and bb.x1 <= axbox.x1 + 2
                and bb.y0 >= axbox.y0 - 2
                and bb.y1 <= axbox.y1 + 2
            )
            if inside and not _overlaps(box, boxes):
                boxes.append(box)
                if gid:
                    t.set_gid(gid)
                placed.append(t)
                break
            t.remove()
    return placed


def sizes_from_weights(w, *, max_size: float | None = None, min_frac: float = 0.12) -> np.ndarray:
    """Marker areas (pt²) proportional to weights ``w`` (largest = ``max_size``).

    ``max_size`` defaults to ``clip(4000 / n, 40, 220)`` so crowded plots get
    smaller bubbles; areas are floored at ``min_frac * max_size``.
    """
    w = np.asarray(w, float)
    w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    if max_size is None:
        max_size = float(np.clip(4000 / max(len(w), 1), 40, 220))
    top = w.max() if len(w) and w.max() > 0 else 1.0
    return np.maximum(max_size * w / top, min_frac * max_size)


def nice_log_ticks(lo: float, hi: float, *, max_ticks: int = 8) -> list[float]:
    """Readable ticks for a log axis spanning ``[lo, hi]`` (e.g. 0.5, 1, 2, 5).

    The sparsest of the mantissa sets ``1``, ``1 3``, ``1 2 5``, ``1 1.5 2 3 4 6 8``
    that still gives at least three ticks (at most ``max_ticks``).

    >>> nice_log_ticks(0.6, 3.1)
    [0.6, 0.8, 1.0, 1.5, 2.0, 3.0]
    >>> nice_log_ticks(0.01, 100)
    [0.01, 0.1, 1.0, 10.0, 100.0]
    """
    if not (lo > 0 and hi > lo):
        return []
    best: list[float] = []
    for mant in ([1.0], [1.0, 3.0], [1.0, 2.0, 5.0], [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0]):
        out = []
        for e in range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1):
            for m in mant:
                v = float(f"{m * 10.0**e:.6g}")
                if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                    out.append(v)
        if len(out) > max_ticks:
            break
        best = out
        if len(out) >= 3:
            break
    return best


def panel_axes(
    ax,
    *,
    nrows: int,
    ncols: int,
    figsize: tuple[float, float],
    height_ratios=None,
    width_ratios=None,
    sharex: bool = False,
    sharey: bool = False,
    hgap: float = 0.45,
    wgap: float = 0.75,
):
    """Axes for a multi-panel figure: ``(fig, axes (nrows, ncols), created)``.

    Without ``ax`` a constrained-layout figure of ``figsize`` is created.  With
    ``ax`` its area is divided into inset Axes (``ax.child_axes``) separated by
    ``hgap`` / ``wgap`` inches, and ``ax`` itself is hidden (and is what the
    plot function returns).
    """
    hr = np.asarray(height_ratios if height_ratios is not None else [1] * nrows, float)
    wr = np.asarray(width_ratios if width_ratios is not None else [1] * ncols, float)
    if ax is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(
            nrows,
            ncols,
            squeeze=False,
            sharex=sharex,
            sharey=sharey,
            gridspec_kw={"height_ratios": hr, "width_ratios": wr},
        )
        return fig, axes, True
    fig = ax.figure
    ax.set_axis_off()
    bbox = ax.get_position()
    fw, fh = fig.get_size_inches()
    w_in, h_in = bbox.width * fw, bbox.height * fh
    hg = min(hgap / h_in, 0.5 / max(nrows, 1)) if nrows > 1 else 0.0
    wg = min(wgap / w_in, 0.5 / max(ncols, 1)) if ncols > 1 else 0.0
    heights = (1 - hg * (nrows - 1)) * hr / hr.sum()
    widths = (1 - wg * (ncols - 1)) * wr / wr.sum()
    axes = np.empty((nrows, ncols), dtype=object)
    for i in range(nrows):
        top = 1 - heights[:i].sum() - hg * i
        for j in range(ncols):
            left = widths[:j].sum() + wg * j
            kw = {}
            if sharex and i > 0:
                kw["sharex"] = axes[0, j]
            if sharey and j > 0:
                kw["sharey"] = axes[i, 0]
            axes[i, j] = ax.inset_axes((left, top - heights[i], widths[j], heights[i]), **kw)
    if sharex:
        for i in range(nrows - 1):
            for j in range(ncols):
                axes[i, j].tick_params(labelbottom=False)
    return fig, axes, False
