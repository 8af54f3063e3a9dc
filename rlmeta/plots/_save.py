"""Writing figures: files at a given size (atomically) and inline SVG text for HTML reports."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from pathlib import Path

import matplotlib as mpl
import numpy as np

from .._atomic import atomic_path

__all__ = ["save", "to_svg"]

_FORMATS = {"svg", "png", "pdf"}
_UNITS = {"in": 1.0, "cm": 1 / 2.54, "mm": 1 / 25.4, "px": None}

#: rcParams used while writing: SVG text stays text, PDF fonts are embedded
#: (TrueType), no timestamps, stable ids.
# text.parse_math off: tick labels are made while saving, and data labels must never be TeX
_WRITE_RC = {
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.hashsalt": "rlmeta",
    "text.parse_math": False,
}
_NO_META = {
    "svg": {"Date": None, "Creator": None, "Format": None, "Type": None},
    "pdf": {"CreationDate": None, "Creator": "rlmeta", "Producer": None},
    "png": {"Software": None},
}


@contextlib.contextmanager
def _resized(fig, width, height, units: str, dpi: float):
    """Temporarily set the figure size (restored afterwards)."""
    old = fig.get_size_inches().copy()
    if width is None and height is None:
        yield
        return
    f = _UNITS[units]
    to_in = (lambda v: v / dpi) if f is None else (lambda v: v * f)
    w = to_in(width) if width is not None else None
    h = to_in(height) if height is not None else None
    if w is None:
        w = old[0] * h / old[1]
    if h is None:
        # tables (forest plots) keep their height: rows stay readable, the text
        # columns and the plot share the new width
        h = old[1] if getattr(fig, "_rlmeta_relayout", None) is not None else old[1] * w / old[0]
    relayout = getattr(fig, "_rlmeta_relayout", None)
    # other figures: when shrunk, scale the text with the figure (down to half size)
    # so labels keep their room; tables re-fit their text themselves
    scale = 1.0 if relayout is not None else float(np.clip(min(w / old[0], h / old[1]), 0.5, 1.0))
    restore = _scale_text(fig, scale) if scale < 0.999 else None
    fig.set_size_inches(w, h)
    if relayout is not None:
        relayout()
    try:
        yield
    finally:
        fig.set_size_inches(old)
        if restore is not None:
            restore()
        if relayout is not None:
            relayout()


def _scale_text(fig, scale: float):
    """Multiply every font size in ``fig`` by ``scale``; return a function undoing it."""
    from matplotlib.text import Text

    texts = [(t, t.get_fontsize()) for t in fig.findobj(Text)]
    ticks = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for which in ("major", "minor"):
                labs = axis.get_ticklabels(which=which)
                if labs:
                    size = labs[0].get_fontsize()
                    ticks.append((axis, which, size))
                    axis.set_tick_params(which=which, labelsize=size * scale)
    for t, s in texts:
        t.set_fontsize(s * scale)

    def restore():
        for axis, which, size in ticks:
            axis.set_tick_params(which=which, labelsize=size)
        for t, s in texts:
            t.set_fontsize(s)

    return restore


def save(
    fig,
    path,
    *,
    width: float | None = None,
    height: float | None = None,
    units: str = "in",
    dpi: float = 300,
    format: str | None = None,
    transparent: bool = False,
    tight: bool = True,
) -> Path:
    """Write a figure to SVG, PNG or PDF at a given size, atomically.

    Parameters
    ----------
    fig
        A Figure (or an Axes: its figure is saved).
    path
        Output file; the format comes from the suffix (``.svg``, ``.png``, ``.pdf``)
        unless ``format`` is given.
    width, height
        Output size in ``units``; give one to keep the aspect ratio (forest-type
        tables keep their height instead, so rows stay readable).  The figure is
        laid out again at that size and restored after: tables re-fit their text
        (clipping labels, hiding optional columns), other figures scale their text
        with the figure when it shrinks (to half size at most).
    units
        ``"in"``, ``"cm"``, ``"mm"`` or ``"px"`` (pixels at ``dpi``).
    dpi
        Resolution of PNG output (and of rasterized parts of vector output).
    format
        Force a format.
    transparent
        Transparent background.
    tight
        Crop to the drawn content (``bbox_inches="tight"``); with an explicit
        ``width``/``height`` the default is False so the file has exactly that size.

    Returns
    -------
    pathlib.Path
        The written path.

    Notes
    -----
    The file is written to a temporary name in the same folder and renamed, so a
    reader never sees half a file.  SVG text stays text (``svg.fonttype = "none"``),
    PDF fonts are embedded as TrueType, and no creation dates are written, so the
    same figure gives the same bytes.

    Examples
    --------
    >>> import tempfile, pathlib, rlmeta.plots as rp
    >>> fig = rp.pca_scree({"explained_variance_ratio": [0.6, 0.4]})
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> [rp.save(fig, d / f"scree.{ext}", width=4).stat().st_size > 0 for ext in ("svg", "png", "pdf")]
    [True, True, True]
    """
    fig = getattr(fig, "figure", fig) if not hasattr(fig, "savefig") else fig
    path = Path(os.fspath(path))
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in _FORMATS:
        raise ValueError(
            f"value for `format` must be one of {sorted(_FORMATS)}, but {fmt!r} was passed"
        )
    if units not in _UNITS:
        raise ValueError(
            f"value for `units` must be one of {list(_UNITS)}, but {units!r} was passed"
        )
    sized = width is not None or height is not None
    with (
        mpl.rc_context(_WRITE_RC),
        _resized(fig, width, height, units, dpi),
        atomic_path(path) as tmp,
    ):
        fig.savefig(
            tmp,
            format=fmt,
            dpi=dpi,
            transparent=transparent,
            metadata=_NO_META[fmt],
            bbox_inches="tight" if (tight and not sized) else None,
            pad_inches=0.08,
        )
    return path


def to_svg(
    fig,
    *,
    width: float | None = None,
    height: float | None = None,
    units: str = "in",
    id_prefix: str | None = None,
    tight: bool = True,
) -> str:
    """The figure as inline SVG text (an ``<svg>`` element) for an HTML report.

    No XML declaration, DOCTYPE or metadata; text stays text (``svg.fonttype =
    "none"``) with a generic font fallback; nothing refers to the network (images
    are embedded as data URIs); every ``id`` is prefixed so several figures can
    share one HTML page.

    Parameters
    ----------
    fig
        Figure (or Axes).
    width, height, units
        Optional size, as for :func:`save`.
    id_prefix
        Prefix of element ids (default: derived from the SVG content).
    tight
        Crop to the drawn content.

    Returns
    -------
    str
        The ``<svg ...>...</svg>`` markup.

    Examples
    --------
    >>> import rlmeta.plots as rp
    >>> svg = rp.to_svg(rp.pca_scree({"explained_variance_ratio": [0.6, 0.4]}))
    >>> svg.startswith("<svg"), "<text" in svg, "http://www.w3.org/1999/xlink" in svg
    (True, True, True)
    """
    fig = getattr(fig, "figure", fig) if not hasattr(fig, "savefig") else fig
    buf = io.StringIO()
    sized = width is not None or height is not None
    with mpl.rc_context(_WRITE_RC), _resized(fig, width, height, units, 96):
        fig.savefig(
            buf,
            format="svg",
            metadata=_NO_META["svg"],
            bbox_inches="tight" if (tight and not sized) else None,
            pad_inches=0.08,
        )
    text = buf.getvalue()
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    # text stays text: make sure every font list ends in a generic family
    text = re.sub(
        r"font-family:([^;\"]+)",
        lambda m: m.group(0) if "sans-serif" in m.group(1) else m.group(0) + ", sans-serif",
        text,
    )
    prefix = id_prefix or "f" + hashlib.sha1(text.encode()).hexdigest()[:8] + "-"
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    if ids:
        pattern = re.compile(
            r'(\bid="|url\(#|href="#)('
            + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
            + r')(?=["\)])'
        )
        text = pattern.sub(lambda m: m.group(1) + prefix + m.group(2), text)
    return text.strip()
