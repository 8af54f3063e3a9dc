"""The report's content model: sections made of blocks (text, tables, figures, notes).

Sections are built by :mod:`rlmeta.report.sections`; the HTML and PDF writers only
render this model, so both formats carry the same content.  Text is stored raw and
escaped by the template (Jinja2 autoescape); tables are rendered from DataFrames
with escaping; figures are SVG produced by matplotlib (which escapes text nodes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

__all__ = ["Block", "Section", "Report", "text", "table", "figure", "note", "items"]

Kind = Literal["text", "table", "figure", "note", "items", "code"]


@dataclass
class Block:
    """One piece of a section."""

    kind: Kind
    content: object
    caption: str | None = None
    figure_id: str | None = None


@dataclass
class Section:
    """A titled part of the report.

    ``status`` is ``"ok"``, ``"unavailable"`` (the analysis is not in this version,
    or does not apply to the data, with the reason in ``note``) or ``"failed"`` (it
    raised; the error is shown and reported by the CLI).
    """

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    status: str = "ok"
    note: str | None = None

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self


@dataclass
class Report:
    title: str
    subtitle: str
    sections: list[Section]
    provenance: dict

    @property
    def figures(self) -> list[Block]:
        return [b for s in self.sections for b in s.blocks if b.kind == "figure"]

    def failed(self) -> list[Section]:
        return [s for s in self.sections if s.status == "failed"]


def text(s: str) -> Block:
    return Block("text", s)


def note(s: str) -> Block:
    return Block("note", s)


def items(values: list[str]) -> Block:
    return Block("items", list(values))


def table(frame: pd.DataFrame, caption: str | None = None, digits: int = 4) -> Block:
    return Block("table", (frame.reset_index(drop=True), digits), caption)


def figure(svg: str, caption: str, figure_id: str) -> Block:
    return Block("figure", svg, caption, figure_id)
