"""``rlmeta effects``: compute effect sizes and their variances for every contrast."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ..droplog import drop_log
from ._common import app, console, handle_errors
from ._io import load_input, to_effects


@app.command("effects")
@handle_errors
def effects(
    inputs: list[Path] = typer.Argument(
        None, help="Input tables or harness outputs (none: the bundled dataset)."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Output file: .csv, .tsv, .xlsx, .parquet or .json."
    ),
    measure: str = typer.Option("RD", help="RD, LOR, LRR, AS, SMD, SMDH, MD, ROM, MC, SMCC, SMCR."),
    rho: float = typer.Option(0.0, help="Assumed between-arm item correlation for paired RD."),
    assumed_sd: float = typer.Option(
        None, help="SD assumed for raw scores without one (e.g. judge scores)."
    ),
    score_scale: str = typer.Option(
        None, help="proportion, percent or a raw-score label, where the input has none."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Compute yi, vi (and CI) for every contrast; excluded rows are listed with their reasons."""
    from .. import write

    data = load_input(inputs, score_scale)
    eff = to_effects(data, measure, rho, assumed_sd)
    write(eff, output)
    log = drop_log(eff)
    if not quiet:
        console.print(
            f"{len(eff)} effect sizes ({escape(measure)}) written to {escape(str(output))}; "
            f"{len(log)} row(s) excluded"
        )
        if len(log):
            from .cmd_ingest import drop_log_table

            console.print(drop_log_table(log))
