"""Table layout for forest-type figures: text columns beside one plotting Axes.

The figure is a table: a label column and optional annotation columns on the
left, the plot in the middle, statistics columns on the right, one row per
effect.  :class:`ForestTable` measures every cell with the renderer, then sizes
things so that nothing overlaps:

* a new figure is made exactly as large as its content needs (height grows with
  the number of rows; fonts shrink a little beyond 30 and 80 rows);
* inside a given Axes (fixed space) long labels are clipped with an ellipsis and
  fonts shrink until the table fits;
* :func:`rlmeta.plots.save` re-fits a new figure's table when it writes it at
  another size (``save(fig, path, width=...)``), so that stays tidy too.  (Not a
  Matplotlib layout engine on purpose: ``bbox_inches="tight"`` temporarily changes
  the figure size while saving, and a re-layout at that moment would shift the
  text out of the cropped area.)

Text cells are placed with transforms anchored to the Axes edges (inch offsets),
rows live in data coordinates (row ``i`` at ``y = i``, the y axis inverted).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator
from matplotlib.transforms import ScaledTranslation

from ._base import ellipsize, get_renderer, nice_log_ticks

__all__ = ["Row", "Column", "ForestTable"]

MIN_FONT = 4.5  # points; below this a table is unreadable anyway


@dataclass
class Row:
    """One row of a forest-type table."""

    kind: str  # "study" | "header" | "subgroup" | "overall" | "pi" | "note" | "blank"
    label: str = ""
    est: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    weight: float = math.nan
    cells: dict[str, str] = field(default_factory=dict)
    bold: bool = False
    italic: bool = False
    indent: int = 0
    group: str | None = None
    color: str | None = None


@dataclass
class Column:
    """A text column: ``key`` into :attr:`Row.cells`, header, side and alignment."""

    key: str
    header: str
    side: str = "right"  # "left" | "right"
    align: str = "right"  # "left" | "right" | "center"


class ForestTable:
    """Rows of text columns laid out around ``ax`` (see the module docstring)."""

    GAP = 0.9  # column gap, in units of the font size
    ROW = 1.6  # preferred row height, in units of the font size
    ROW_MIN = 1.32  # smallest row height before the font must shrink

    def __init__(
        self,
        ax,
        rows: Sequence[Row],
        columns: Sequence[Column],
        *,
        label_header: str = "",
        title: str | None = None,
        fontsize: float | None = None,
        max_label_chars: int | None = 48,
        xlabel: str = "",
        logx: bool = False,
        on_layout: Callable[[float, float], None] | None = None,
    ):
        self.ax = ax
        self.fig = ax.figure
        self.rows = list(rows)
        self.n = max(len(self.rows), 1)
        self.columns = [Column("__label__", label_header, "left", "left"), *columns]
        self.title = title
        self.xlabel = xlabel
        self.logx = logx
        self.on_layout = on_layout
        self.max_label_chars = max_label_chars
        self.hidden: set[int] = set()
        base = fontsize if fontsize is not None else 0.85 * mpl.rcParams["font.size"]
        if fontsize is None:
            base *= 1.0 if self.n <= 30 else 0.92 if self.n <= 80 else 0.85
        self.fs_pref = float(base)
        self.fs = self.fs_pref
        self.rh_pt = self.ROW * self.fs
        self._width_cache: dict[tuple[str, str, str], float] = {}
        self._renderer = get_renderer(self.fig)
        self._ppi = self._renderer.points_to_pixels(72.0)
        self.family = mpl.rcParams["font.family"]
        self._make_texts()
        ax.set_ylim(self.n - 0.5, -0.5)
        ax.set_yticks([])
        ax.tick_params(axis="y", left=False, labelleft=False)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(xlabel)

    # ------------------------------------------------------------------ texts
    def _cell_style(self, row: Row, col: Column) -> tuple[str, str]:
        weight = (
            "bold"
            if (row.bold and (col.key == "__label__" or row.kind in ("overall", "subgroup")))
            else "normal"
        )
        style = "italic" if row.italic else "normal"
        return weight, style

    def _make_texts(self) -> None:
        ax = self.ax
        self.cells: list[tuple[object, int, int, str]] = []  # (Text, row, col, full text)
        for i, row in enumerate(self.rows):
            for j, col in enumerate(self.columns):
                text = row.label if col.key == "__label__" else row.cells.get(col.key, "")
                if col.key == "__label__" and row.indent:
                    text = "  " * row.indent + text
                if not text:
                    continue
                weight, style = self._cell_style(row, col)
                t = ax.text(
                    0,
                    i,
                    text,
                    ha=col.align,
                    va="center",
                    fontweight=weight,
                    fontstyle=style,
                    clip_on=False,
                    parse_math=False,
                    gid=f"table-cell-{col.key}",
                )
                self.cells.append((t, i, j, text))
        self.headers = []
        for j, col in enumerate(self.columns):
            if col.header:
                t = ax.text(
                    0,
                    1,
                    col.header,
                    ha=col.align,
                    va="bottom",
                    fontweight="bold",
                    clip_on=False,
                    parse_math=False,
                    gid="table-header",
                )
                self.headers.append((t, j))
        self.title_text = None
        self.rule = None
        if self.title:
            self.title_text = self.fig.text(
                0,
                1,
                self.title,
                ha="left",
                va="top",
                fontweight="bold",
                parse_math=False,
                gid="table-title",
            )

    def _width(self, s: str, weight: str = "normal", style: str = "normal") -> float:
        """Width of ``s`` in inches at a 10 pt font (scale linearly to other sizes)."""
        key = (s, weight, style)
        w = self._width_cache.get(key)
        if w is None:
            prop = FontProperties(family=self.family, size=10.0, weight=weight, style=style)
            w_px, _, _ = self._renderer.get_text_width_height_descent(s, prop, ismath=False)
            w = w_px / self._ppi
            self._width_cache[key] = w
        return w

    def _label_text(self, full: str, row: Row, chars: int | None) -> str:
        pad = "  " * row.indent
        body = full[len(pad) :] if row.indent else full
        return pad + ellipsize(body, chars)

    def _column_widths(self, fs: float, chars: int | None) -> list[float]:
        scale = fs / 10.0
        widths = [0.0] * len(self.columns)
        for _t, i, j, full in self.cells:
            row = self.rows[i]
            if row.kind == "note":
                continue  # notes span the table; they are clipped to its width instead
            s = self._label_text(full, row, chars) if j == 0 else full
            weight, style = self._cell_style(row, self.columns[j])
            widths[j] = max(widths[j], self._width(s, weight, style) * scale)
        for _t, j in self.headers:
            widths[j] = max(widths[j], self._width(self.columns[j].header, "bold") * scale)
        gap = self.GAP * fs / 72
        return [
            0.0 if j in self.hidden else (w + gap if w > 0 else 0.0) for j, w in enumerate(widths)
        ]

    def _droppable(self) -> list[int]:
        """Columns that may be hidden when space is short: left annotations (right to
        left), then right-hand columns other than the last (the estimate)."""
        left = [j for j, c in enumerate(self.columns) if c.side == "left" and j > 0][::-1]
        right = [j for j, c in enumerate(self.columns) if c.side == "right"][:-1][::-1]
        return left + right

    def _top(self, fs: float) -> float:
        h = (1.45 * fs + 4) / 72 if self.headers else 4 / 72
        if self.title_text is not None:
            h += 1.6 * fs * 1.1 / 72
        return h

    def _bottom(self, fs: float) -> float:
        tick = 0.9 * fs
        lab = fs if self.xlabel else 0
        return (3.5 + 3.5 + 1.25 * tick + (4 + 1.3 * lab if lab else 0) + 6) / 72

    # ------------------------------------------------------------------ sizing
    def natural_size(self, plot_width: float) -> tuple[float, float]:
        """Width and height (inches) a new figure needs at the preferred font size."""
        fs = self.fs_pref
        widths = self._column_widths(fs, self.max_label_chars)
        lpad, rpad = 0.12, 0.2
        w = lpad + rpad + sum(widths) + plot_width
        h = self._top(fs) + self._bottom(fs) + self.n * self.ROW * fs / 72 + 0.08
        return w, h

    def relayout(self) -> None:
        """Fit the table to the figure's current size (a new figure's table fills it)."""
        w, h = self.fig.get_size_inches()
        self.layout((0.0, 0.0, float(w), float(h)))

    def layout(self, region: tuple[float, float, float, float]) -> None:
        """Fit the table into ``region`` = (x0, y0, width, height) in figure inches."""
        x0, y0, W, H = region
        fs, chars = self.fs_pref, self.max_label_chars
        self.hidden = set()
        droppable = self._droppable()
        lpad, rpad = 0.12, 0.2
        min_plot = min(1.6, 0.32 * W)
        for _ in range(60):
            rh = (H - self._top(fs) - self._bottom(fs) - 0.08) / self.n
            if rh * 72 < self.ROW_MIN * fs and fs > MIN_FONT:
                fs = max(MIN_FONT, min(fs * 0.93, rh * 72 / self.ROW_MIN))
                continue
            widths = self._column_widths(fs, chars)
            plot_w = W - lpad - rpad - sum(widths)
            if plot_w >= min_plot:
                break
            label_w = widths[0]
            longest = max(
                (len(f) for _, i, j, f in self.cells if j == 0 and self.rows[i].kind != "note"),
                default=0,
            )
            cur = min(chars or longest, longest)
            # clip long labels first, then shrink the font a little, then hide optional
            # columns, then clip harder, then shrink to the minimum
            if label_w > 0.25 * W and cur > 20:
                chars = max(20, int(cur * 0.85))
            elif fs > 0.85 * self.fs_pref and fs > MIN_FONT:
                fs = max(MIN_FONT, fs * 0.95)
            elif droppable:
                self.hidden.add(droppable.pop(0))
            elif label_w > 0.2 * W and cur > 10:
                chars = max(10, int(cur * 0.85))
            elif fs > MIN_FONT:
                fs = max(MIN_FONT, fs * 0.93)
            else:
                break
        rh = max((H - self._top(fs) - self._bottom(fs) - 0.08) / self.n, 1e-3)
        widths = self._column_widths(fs, chars)
        plot_w = max(W - lpad - rpad - sum(widths), 0.2)
        self.fs, self.rh_pt, self.chars = fs, rh * 72, chars
        self._apply(x0, y0, W, H, fs, chars, widths, plot_w, rh, lpad)

    def _apply(self, x0, y0, W, H, fs, chars, widths, plot_w, rh, lpad) -> None:
        fig, ax = self.fig, self.ax
        fw, fh = fig.get_size_inches()
        n_left = sum(1 for c in self.columns if c.side == "left")
        left_total = sum(widths[:n_left])
        ax_left = x0 + lpad + left_total
        ax_bottom = y0 + self._bottom(fs)
        ax_h = self.n * rh
        ax.set_position([ax_left / fw, ax_bottom / fh, plot_w / fw, ax_h / fh])
        gap = self.GAP * fs / 72
        # column anchors, in inches from the axes' left (left side) or right (right side) edge
        anchors: list[tuple[float, float]] = []  # (axes x, inch offset) per column
        pos = -left_total
        for j, col in enumerate(self.columns[:n_left]):
            w = widths[j]
            off = (
                pos
                if col.align == "left"
                else pos + w - gap
                if col.align == "right"
                else pos + (w - gap) / 2
            )
            anchors.append((0.0, off))
            pos += w
        pos = gap
        for j in range(n_left, len(self.columns)):
            col, w = self.columns[j], widths[j]
            off = (
                pos
                if col.align == "left"
                else pos + w - gap
                if col.align == "right"
                else pos + (w - gap) / 2
            )
            anchors.append((1.0, off))
            pos += w
        ytrans = ax.get_yaxis_transform()
        total_w = W - lpad - 0.2
        for t, i, j, full in self.cells:
            row = self.rows[i]
            t.set_visible(j not in self.hidden)
            ax_x, off = anchors[j]
            if j == 0:
                if row.kind == "note":
                    s = self._fit_chars(full, fs, total_w, self._cell_style(row, self.columns[0]))
                else:
                    s = self._label_text(full, row, chars)
                t.set_text(s)
            t.set_fontsize(fs)
            t.set_position((ax_x, i))
            t.set_transform(ytrans + ScaledTranslation(off, 0, fig.dpi_scale_trans))
        head_dy = (0.35 * fs + 2) / 72
        for t, j in self.headers:
            t.set_visible(j not in self.hidden)
            ax_x, off = anchors[j]
            t.set_fontsize(fs)
            t.set_position((ax_x, 1.0))
            t.set_transform(ax.transAxes + ScaledTranslation(off, head_dy, fig.dpi_scale_trans))
        if self.headers:
            rule_y = (ax_bottom + ax_h) / fh
            x_a = (x0 + lpad) / fw
            x_b = (ax_left + plot_w + sum(widths[n_left:]) + gap * 0) / fw
            if self.rule is None:
                from matplotlib.lines import Line2D

                self.rule = Line2D(
                    [x_a, x_b],
                    [rule_y, rule_y],
                    transform=fig.transFigure,
                    color="#444444",
                    lw=0.6,
                    gid="table-rule",
                )
                fig.add_artist(self.rule)
            self.rule.set_data([x_a, x_b], [rule_y, rule_y])
        if self.title_text is not None:
            self.title_text.set_fontsize(1.1 * fs)
            self.title_text.set_position(((x0 + lpad) / fw, (y0 + H - 0.05) / fh))
        tick_fs = 0.9 * fs
        ax.tick_params(axis="x", labelsize=tick_fs, length=3.5, pad=3.5)
        ax.xaxis.label.set_fontsize(fs)
        ax.xaxis.labelpad = 4
        self._ticks(plot_w, tick_fs)
        if self.on_layout is not None:
            self.on_layout(fs, rh * 72)

    def _fit_chars(self, full: str, fs: float, width: float, style) -> str:
        if self._width(full, *style) * fs / 10 <= width:
            return full
        lo, hi = 4, len(full)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._width(ellipsize(full, mid), *style) * fs / 10 <= width:
                lo = mid
            else:
                hi = mid - 1
        return ellipsize(full, lo)

    def _ticks(self, plot_w: float, tick_fs: float) -> None:
        ax = self.ax
        lo, hi = ax.get_xlim()
        room = max(2, int(plot_w * 72 / (tick_fs * 4.2)))
        if self.logx:
            ticks = nice_log_ticks(lo, hi, max_ticks=room)
            if len(ticks) < 2:
                ticks = list(MaxNLocator(nbins=min(room, 4)).tick_values(lo, hi))
                ticks = [t for t in ticks if lo <= t <= hi and t > 0]
            while len(ticks) > room and len(ticks) > 2:
                ticks = ticks[::2]
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_minor_locator(FixedLocator([]))
            ax.xaxis.set_major_formatter(
                FuncFormatter(lambda v, _: f"{v:g}".replace("-", "\u2212"))
            )
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=min(room, 8), steps=[1, 2, 2.5, 5, 10]))


def new_table_figure(table_factory, *, plot_width: float = 3.2, ax=None):
    """Create the figure (or fit into ``ax``) for a :class:`ForestTable` built by ``table_factory(ax)``."""
    if ax is not None:
        fig = ax.figure
        bbox = ax.get_position()
        fw, fh = fig.get_size_inches()
        region = (bbox.x0 * fw, bbox.y0 * fh, bbox.width * fw, bbox.height * fh)
        table = table_factory(ax)
        table.layout(region)
        return fig, table
    fig = plt.figure(figsize=(6, 4))
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    table = table_factory(ax)
    w, h = table.natural_size(plot_width)
    fig.set_size_inches(w, h)
    table.layout((0.0, 0.0, w, h))
    fig._rlmeta_relayout = table.relayout  # used by rlmeta.plots.save()
    return fig, table
