"""``rlmeta validate``: check an input file and list every problem (not just the first)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ..errors import RlmetaError
from ._common import Exit, app, console, err_console


@app.command("validate")
def validate(
    path: Path = typer.Argument(
        ..., help="A table (CSV, TSV, Excel, Parquet, JSON) or a harness output."
    ),
    score_scale: str = typer.Option(
        None, help="proportion, percent or a raw-score label, where the file has none."
    ),
    column: list[str] = typer.Option(
        None,
        "--column",
        "-c",
        help="Column mapping contract=yours, e.g. -c rl_score=acc_rl (repeatable).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the exit code."),
) -> None:
    """List every problem of an input file with its row and column.

    Exit codes: 0 valid, 6 problems found, 3 unreadable file, 2 bad usage.
    """
    from ..io import detect_format
    from ..io.tables import TABLE_FORMATS, load_raw_table
    from ..schema import find_problems, validate_items

    mapping = {}
    for spec in column or []:
        if "=" not in spec:
            err_console.print(
                f"[bold red]error:[/] --column expects contract=yours, got {escape(repr(spec))}"
            )
            raise typer.Exit(Exit.USAGE)
        k, v = spec.split("=", 1)
        mapping[k.strip()] = v.strip()
    problems: list[RlmetaError] = []
    try:
        fmt = detect_format(path)
        if fmt in TABLE_FORMATS:
            frame, layout = load_raw_table(path, fmt, mapping=mapping, score_scale=score_scale)
            if layout in ("wide", "long"):
                problems = list(find_problems(frame, source=str(path), layout=layout))
            elif layout == "items":
                try:
                    validate_items(frame, source=str(path))
                except RlmetaError as exc:
                    problems = [exc]
            else:
                from .. import read

                read(path, score_scale=score_scale, **mapping)
            what = f"{fmt} table, {layout} layout, {len(frame)} rows"
        else:
            from .. import read

            obs = read(path, score_scale=score_scale)
            what = f"{fmt} output, {len(obs)} observations"
    except RlmetaError as exc:
        if not quiet:
            err_console.print(f"[bold red]cannot read:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(Exit.DATA) from None
    except FileNotFoundError:
        if not quiet:
            err_console.print(f"[bold red]error:[/] file not found: {escape(str(path))}")
        raise typer.Exit(Exit.DATA) from None
    if not problems:
        if not quiet:
            console.print(f"[green]valid[/]: {escape(str(path))} ({escape(what)})")
        return
    if not quiet:
        # one line per problem (file, rows, column, what was expected): easy to read and to grep
        console.print(f"{len(problems)} problem(s) in {path} ({what}):", markup=False)
        for p in problems:
            console.print(f"  - {p}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(Exit.VALIDATION)
