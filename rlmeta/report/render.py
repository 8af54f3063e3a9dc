"""Render a :class:`~rlmeta.report.document.Report` to self-contained HTML and to PDF.

HTML: one file, inline CSS and inline SVG figures, no scripts, no network.  PDF:
WeasyPrint renders the same HTML with print CSS.  Both are written atomically.
"""

from __future__ import annotations

import html
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from .._atomic import atomic_path, atomic_write_text
from .document import Block, Report

__all__ = ["render_html", "write_html", "write_pdf", "table_html"]


def _fmt_cell(v: object, digits: int) -> str:
    if v is None:
        return ""
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        f = float(v)
        if math.isnan(f):
            return ""
        if f != 0 and (abs(f) < 10 ** (-digits) or abs(f) >= 1e6):
            return f"{f:.{max(digits - 1, 1)}e}"
        return f"{f:.{digits}f}"
    return str(v)


def _is_p_column(name: str) -> bool:
    n = name.lower()
    return (
        n in ("p", "pval", "p-value", "q_pval", "qm_pval")
        or n.startswith(("p (", "pval"))
        or n.endswith("_pval")
    )


def table_html(frame: pd.DataFrame, digits: int = 4) -> Markup:
    """An HTML table with every cell escaped (cells from input data are untrusted).

    Numeric columns whose values are all whole numbers are shown without decimals;
    p-value columns use ``<.0001`` below 1e-4.
    """
    from .._result import fmt_p

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    kinds = []
    for c in frame.columns:
        col = frame[c]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            kinds.append("txt")
        elif _is_p_column(str(c)):
            kinds.append("p")
        else:
            vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            finite = vals[np.isfinite(vals)]
            kinds.append(
                "int"
                if finite.size
                and np.all(finite == np.round(finite))
                and np.all(np.abs(finite) < 1e15)
                else "num"
            )
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for v, kind in zip(rec, kinds):
            if kind == "p":
                txt = (
                    "" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt_p(float(v))
                )
            elif kind == "int" and v is not None and not (isinstance(v, float) and math.isnan(v)):
                txt = f"{int(round(float(v)))}"
            else:
                txt = _fmt_cell(v, digits)
            cls = "txt" if kind == "txt" else "num"
            cells.append(f'<td class="{cls}">{html.escape(txt)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _block_html(block: Block) -> Markup:
    if block.kind == "table":
        frame, digits = block.content
        cap = f"<caption>{html.escape(block.caption)}</caption>" if block.caption else ""
        inner = str(table_html(frame, digits)).replace("<table>", "<table>" + cap, 1)
        return Markup(f'<div class="table-wrap">{inner}</div>')
    if block.kind == "figure":
        # SVG from matplotlib: text nodes are XML-escaped by matplotlib itself.
        svg = str(block.content)
        fid = html.escape(block.figure_id or "")
        cap = html.escape(block.caption or "")
        return Markup(
            f'<figure id="fig-{fid}" data-figure="{fid}">{svg}<figcaption>{cap}</figcaption></figure>'
        )
    if block.kind == "items":
        lis = "".join(f"<li>{html.escape(str(x))}</li>" for x in block.content)
        return Markup(f"<ul>{lis}</ul>")
    if block.kind == "note":
        return Markup(f'<p class="note">{html.escape(str(block.content))}</p>')
    if block.kind == "code":
        return Markup(f"<pre>{html.escape(str(block.content))}</pre>")
    return Markup(f"<p>{html.escape(str(block.content))}</p>")


def _env() -> Environment:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["block"] = _block_html
    return env


def render_html(report: Report) -> str:
    """The complete HTML document as a string."""
    tpl_dir = resources.files("rlmeta.report") / "templates"
    template = (tpl_dir / "report.html.j2").read_text(encoding="utf-8")
    css = (tpl_dir / "report.css").read_text(encoding="utf-8")
    return _env().from_string(template).render(report=report, css=Markup(css))


def write_html(report: Report, path: str | Path) -> Path:
    """Write the HTML report atomically."""
    return atomic_write_text(path, render_html(report))


def write_pdf(report: Report, path: str | Path, html_text: str | None = None) -> Path:
    """Write the PDF (WeasyPrint, print stylesheet) atomically."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    text = html_text if html_text is not None else render_html(report)
    with atomic_path(path) as tmp:
        HTML(string=text, base_url=None).write_pdf(str(tmp))
    return Path(path)
