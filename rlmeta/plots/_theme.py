"""The shared look of every rlmeta figure: a seaborn-based theme as a context manager.

Nothing here touches the global ``matplotlib.rcParams``: :func:`theme` applies its
settings with :func:`matplotlib.rc_context`, which restores them on exit.  Every
plotting function enters the theme itself unless the caller is already inside
``rlmeta.plots.theme(...)``, so a user can restyle all figures of a block:

>>> import matplotlib as mpl
>>> before = dict(mpl.rcParams)
>>> with theme(context="paper", font_scale=0.9):
...     inside = mpl.rcParams["font.size"]
>>> dict(mpl.rcParams) == before
True
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator

import matplotlib as mpl
import seaborn as sns
from cycler import cycler

__all__ = ["theme", "PALETTE", "palette", "DIVERGING", "diverging_cmap", "SEQUENTIAL"]

#: Okabe & Ito (2008) colour-blind-safe qualitative palette (black last).
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Named roles used across figures (all from :data:`PALETTE`).
COLORS = {
    "point": "#333333",
    "ci": "#333333",
    "pooled": "#0072B2",
    "subgroup": "#56B4E9",
    "pi": "#0072B2",
    "ref": "#777777",
    "highlight": "#D55E00",
    "fill": "#9ecae1",
    "rl": "#0072B2",
    "baseline": "#E69F00",
    "significant": "#0072B2",
    "negative": "#D55E00",
    "nonsignificant": "#9a9a9a",
    "missing": "#d9d9d9",
}

#: Diverging colour map centred at zero (blue-white-red, readable with deuteranopia).
DIVERGING = "vlag"
#: Sequential colour map (perceptually uniform, colour-blind safe).
SEQUENTIAL = "viridis"

_ACTIVE: contextvars.ContextVar[int] = contextvars.ContextVar("rlmeta_theme_depth", default=0)


def palette(n: int | None = None) -> list[str]:
    """The qualitative palette as hex strings (cycled when ``n`` exceeds its length).

    >>> palette(3)
    ['#0072B2', '#D55E00', '#009E73']
    """
    base = list(PALETTE[:-1])  # keep black for text/reference lines
    if n is None:
        return base
    return [base[i % len(base)] for i in range(n)]


def diverging_cmap():
    """The diverging colour map used by heat maps (a Matplotlib ``Colormap``).

    >>> diverging_cmap().name
    'vlag'
    """
    return sns.color_palette(DIVERGING, as_cmap=True)


def _rc(style: str, context: str, font_scale: float, rc: dict | None) -> dict:
    out: dict = {}
    out.update(sns.axes_style(style))
    out.update(sns.plotting_context(context, font_scale=font_scale))
    out.update(
        {
            "axes.prop_cycle": cycler(color=palette()),
            "font.family": ["sans-serif"],
            "font.sans-serif": ["DejaVu Sans", "Arial", "Liberation Sans", "sans-serif"],
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "image.cmap": SEQUENTIAL,
            "svg.fonttype": "none",
            "pdf.fonttype": 42,
            "ps.fonttype": 42,
            "savefig.dpi": 200,
            "figure.dpi": 100,
            "axes.unicode_minus": True,
            "hatch.color": "#9a9a9a",
            # labels come from data files: "$" in a study name must print as "$", not start
            # TeX math (which fails to parse on text such as "$5 vs $\\frac")
            "text.parse_math": False,
        }
    )
    if rc:
        out.update(rc)
    return out


@contextlib.contextmanager
def theme(
    *,
    style: str = "ticks",
    context: str = "notebook",
    font_scale: float = 1.0,
    rc: dict | None = None,
) -> Iterator[dict]:
    """Apply the rlmeta look inside a ``with`` block; restore everything on exit.

    Parameters
    ----------
    style
        A seaborn style (``"ticks"``, ``"whitegrid"``, ``"white"`` ...).
    context
        A seaborn context (``"paper"``, ``"notebook"``, ``"talk"``, ``"poster"``).
    font_scale
        Multiplier of every font size of the context.
    rc
        Extra rcParams that override the theme.

    Yields
    ------
    dict
        The rcParams in force inside the block.

    Notes
    -----
    Plot functions call this themselves; when they run inside an enclosing
    ``theme(...)`` block they keep the caller's settings instead, so this is how
    to restyle a whole set of figures.

    Examples
    --------
    >>> import rlmeta.plots as rp
    >>> with rp.theme(context="talk") as rc:
    ...     rc["font.size"] > 12
    True
    """
    rcs = _rc(style, context, font_scale, rc)
    token = _ACTIVE.set(_ACTIVE.get() + 1)
    try:
        with mpl.rc_context(rcs):
            yield rcs
    finally:
        _ACTIVE.reset(token)


@contextlib.contextmanager
def _default_theme() -> Iterator[None]:
    """Enter :func:`theme` unless an rlmeta theme block is already active."""
    if _ACTIVE.get() > 0:
        yield
        return
    with theme():
        yield


def themed(func):
    """Decorator: run a plotting function inside the default theme (never leaking rcParams)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with _default_theme():
            return func(*args, **kwargs)

    return wrapper
