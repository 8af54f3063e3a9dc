"""``rlmeta report``: the complete analysis as a self-contained HTML and PDF report."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.markup import escape

from ._common import Exit, app, console, err_console, handle_errors


@app.command("report")
@handle_errors
def report(
    inputs: list[Path] = typer.Argument(
        None,
        help="Input files or folders (tables or evaluation-harness outputs). None: the bundled dataset.",
    ),
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        help="Output file: reports/NAME.html or NAME.pdf (default reports/<input>.html and .pdf).",
    ),
    config: Path = typer.Option(
        None, "--config", "-c", help="TOML configuration file (see examples/rlmeta.toml)."
    ),
    rl: str = typer.Option(
        None, "--rl", help="RL run to compare (folder/file, or a model name within INPUT)."
    ),
    baseline: str = typer.Option(
        None, "--baseline", help="Baseline run (folder/file, or a model name within INPUT)."
    ),
    measure: str = typer.Option(
        None,
        help="Effect measure: RD, LOR, LRR, AS, SMD, MD, ... [config: effects.measure; default RD]",
    ),
    rho: float = typer.Option(
        None, help="Assumed between-arm item correlation for paired RD [effects.rho; default 0]"
    ),
    method: str = typer.Option(
        None, help="tau^2 estimator: REML, ML, DL, PM, ... [model.method; default REML]"
    ),
    test: str = typer.Option(None, help="Inference: z, t, knha, adhoc [model.test; default knha]"),
    seed: int = typer.Option(
        None, help="Random seed for GOSH sampling, bootstrap and clustering [report.seed]"
    ),
    title: str = typer.Option(None, help="Report title [report.title]"),
    html_only: bool = typer.Option(False, "--html-only", help="Write only the HTML file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Run the whole analysis and write the report (HTML with inline figures, and PDF).

    Options override the configuration file, which overrides the defaults. Exit codes:
    0 success, 3 bad input data, 4 model error, 5 bad configuration, 1 a report section failed.
    """
    from ..report import build_report, load_config, write_report

    cfg = load_config(config).override(
        measure=measure, rho=rho, method=method, test=test, seed=seed, title=title
    )
    paths = [str(p) for p in (inputs or [])]
    if output is None:
        stem = (
            Path(paths[0]).stem
            if paths
            else (
                f"{Path(rl).name}_vs_{Path(baseline).name}" if rl and baseline else "rl_llm_studies"
            )
        )
        output = Path("reports") / f"{stem}.html"
        formats = ("html",) if html_only else cfg.formats
    else:
        suffix = output.suffix.lower()
        if suffix not in (".html", ".pdf"):
            err_console.print(
                f"[bold red]error:[/] --output must end in .html or .pdf, got {escape(repr(output.name))}"
            )
            raise typer.Exit(Exit.USAGE)
        formats = (suffix[1:],)
    command = (
        "rlmeta " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else "rlmeta report"
    )

    def progress(title: str) -> None:
        if not quiet:
            err_console.print(f"[dim]• {escape(title)}[/]")

    rep = build_report(
        paths, rl=rl, baseline=baseline, config=cfg, command=command, progress=progress
    )
    written = write_report(rep, output, formats)
    if not quiet:
        for p in written:
            console.print(f"wrote {escape(str(p))}")
    failed = rep.failed()
    for s in failed:
        err_console.print(f"[bold red]section failed:[/] {escape(f'{s.title}: {s.note}')}")
    if failed:
        raise typer.Exit(Exit.FAILURE)
