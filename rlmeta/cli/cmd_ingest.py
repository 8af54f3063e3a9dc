"""``rlmeta ingest``: read evaluation outputs or tables into one tidy file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from ._common import app, console, handle_errors

__all__ = ["ingest", "drop_log_table", "flag_table", "summary_table"]


def summary_table(frame: pd.DataFrame, *, items: bool) -> Table:
    """Rows per tool x model x benchmark."""
    keys = [c for c in ("tool", "model", "benchmark") if c in frame.columns]
    table = Table(title="items read" if items else "observations read")
    for k in keys:
        table.add_column(k)
    table.add_column("items" if items else "metrics", justify="right")
    if not keys:
        table.add_row(str(len(frame)))
        return table
    counts = frame.groupby(keys, observed=True, dropna=False).size()
    for idx, n in counts.items():
        idx = idx if isinstance(idx, tuple) else (idx,)
        table.add_row(*[escape(str(v)) for v in idx], str(n))
    return table


def flag_table(frame: pd.DataFrame) -> Table | None:
    """Counts of the reader's SE flags (``se_flag``: "N/A" stderr, 0.0 stderr, untrusted SEs)."""
    if "se_flag" not in frame.columns or not frame["se_flag"].notna().any():
        return None
    table = Table(title="flags (standard errors not taken from the file)")
    table.add_column("flag", overflow="fold")
    table.add_column("rows", justify="right")
    for flag, n in frame["se_flag"].dropna().astype(str).value_counts().items():
        table.add_row(escape(flag), str(n))
    return table


def drop_log_table(log: pd.DataFrame, limit: int = 20) -> Table:
    """The first ``limit`` entries of a drop log."""
    table = Table(title=f"drop log ({len(log)} entries)")
    for col in ("step", "source", "source_row", "benchmark", "metric", "reason"):
        table.add_column(col, overflow="fold")
    for _, r in log.head(limit).iterrows():
        table.add_row(
            *[
                "" if pd.isna(r[c]) else escape(str(r[c]))
                for c in ("step", "source", "source_row", "benchmark", "metric", "reason")
            ]
        )
    if len(log) > limit:
        table.caption = f"... and {len(log) - limit} more"
    return table


@app.command("ingest")
@handle_errors
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders (harness outputs or tables).")
    ],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Output file (.parquet, .csv, .xlsx, .json, ...)."),
    ],
    items: Annotated[
        bool, typer.Option("--items", help="Write per-item scores instead of observations.")
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", help="Input format (default: detect per file).")
    ] = "auto",
    to: Annotated[
        str, typer.Option("--to", help="Output format: auto (from the extension) or eee.")
    ] = "auto",
    score_scale: Annotated[
        str | None, typer.Option("--score-scale", help="proportion, percent or a label.")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Cluster key field (with --items).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the output path.")
    ] = False,
) -> None:
    """Read evaluation outputs (auto-detected) and write one tidy table atomically."""
    from .. import drop_log
    from ..io import read, read_items, write

    for p in paths:
        if not p.exists():
            raise FileNotFoundError(2, "No such file or directory", str(p))
    if items:
        frame = read_items(paths, format=fmt, cluster=cluster)
    else:
        frame = read(paths, format=fmt, score_scale=score_scale)
    written = write(frame, output, format=to)
    log = drop_log(frame)
    if not quiet:
        console.print(summary_table(frame, items=items))
        flags = flag_table(frame)
        if flags is not None:
            console.print(flags)
        if len(log):
            console.print(drop_log_table(log))
        else:
            console.print("drop log: empty (no row was skipped)")
    console.print(f"wrote {len(frame)} rows to {escape(str(written))}", soft_wrap=True)
