"""``rlmeta sensitivity``: leave-one-out, influence, estimator sweep, GOSH, small-study tests."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .._result import jsonable
from ._common import Exit, app, console, err_console, handle_errors
from ._io import load_input, to_effects

_ANALYSES = ("loo", "influence", "estimators", "gosh", "permutation", "bias")


@app.command("sensitivity")
@handle_errors
def sensitivity(
    inputs: list[Path] = typer.Argument(
        None, help="Effects table, contrasts table or harness outputs (none: bundled)."
    ),
    analyses: str = typer.Option(
        ",".join(_ANALYSES),
        "--analyses",
        "-a",
        help=f"Comma-separated subset of {', '.join(_ANALYSES)}.",
    ),
    measure: str = typer.Option("RD", help="Effect measure when the input has no yi/vi columns."),
    rho: float = typer.Option(0.0, help="Assumed between-arm item correlation for paired RD."),
    method: str = typer.Option("REML", help="tau^2 estimator."),
    test: str = typer.Option("z", help="z, t, knha, adhoc."),
    cluster: str = typer.Option(None, help="Leave whole clusters out (e.g. study_id)."),
    gosh_subsets: int = typer.Option(
        20_000, help="Maximum number of GOSH subsets (all subsets when fewer exist)."
    ),
    permutations: int = typer.Option(1_000, help="Permutations of the permutation test."),
    seed: int = typer.Option(0, help="Seed for GOSH sampling and permutations."),
    as_json: bool = typer.Option(False, "--json", help="Print every result as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run robustness checks on the random-effects model of the input."""
    from .. import bias, meta_analysis
    from .. import sensitivity as sens

    chosen = [a.strip() for a in analyses.split(",") if a.strip()]
    bad = [a for a in chosen if a not in _ANALYSES]
    if bad:
        err_console.print(
            f"[bold red]error:[/] unknown analyses {bad}; choose from {', '.join(_ANALYSES)}"
        )
        raise typer.Exit(Exit.USAGE)
    eff = to_effects(load_input(inputs), measure, rho)
    res = meta_analysis(eff, method=method, test=test)
    out: dict = {"model": res.to_dict()}
    text: list[str] = [res.summary()]
    if "loo" in chosen:
        r = sens.leave_one_out(res, cluster=cluster)
        out["leave_one_out"] = r.to_dict()
        text.append(r.summary())
    if "influence" in chosen:
        r = sens.influence(res)
        out["influence"] = r.to_dict()
        text.append(r.summary())
    if "estimators" in chosen:
        r = sens.estimator_sweep(eff)
        out["estimator_sweep"] = r.to_dict()
        text.append(r.summary())
    if "gosh" in chosen:
        r = sens.gosh(res, max_subsets=gosh_subsets, seed=seed, quiet=quiet)
        out["gosh"] = r.to_dict()
        text.append(r.summary())
    if "permutation" in chosen:
        r = sens.permutation_test(res, n=permutations, seed=seed, quiet=quiet)
        out["permutation_test"] = r.to_dict()
        text.append(r.summary())
    if "bias" in chosen:
        for name, fn in (
            ("egger_test", bias.egger_test),
            ("rank_test", bias.rank_test),
            ("trim_and_fill", bias.trim_and_fill),
            ("pet_peese", bias.pet_peese),
        ):
            r = fn(res)
            out[name] = r.to_dict()
            text.append(r.summary())
    if as_json:
        console.print_json(json.dumps(jsonable(out)))
    else:
        console.print(("\n\n" + "-" * 70 + "\n\n").join(text), markup=False, highlight=False)
    if not res.converged:
        err_console.print(
            "[bold yellow]warning:[/] the estimator did not converge; see the warnings in the output"
        )
        raise typer.Exit(Exit.NOT_CONVERGED)
