"""``rlmeta pool``: pool effects (random effects, meta-regression, multilevel) and print the result."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .._result import jsonable
from ._common import Exit, app, console, err_console, handle_errors
from ._io import load_input, to_effects


@app.command("pool")
@handle_errors
def pool(
    inputs: list[Path] = typer.Argument(
        None, help="Effects table, contrasts table or harness outputs (none: bundled)."
    ),
    measure: str = typer.Option("RD", help="Effect measure when the input has no yi/vi columns."),
    rho: float = typer.Option(0.0, help="Assumed between-arm item correlation for paired RD."),
    method: str = typer.Option(
        "REML", help="tau^2 estimator: REML, ML, DL, HE, HS, HSk, SJ, EB, PM, PMM, EE."
    ),
    test: str = typer.Option("z", help="z (metafor's default), t, knha, adhoc."),
    mods: str = typer.Option(
        None, help="Moderator formula, e.g. '~ log10_params_B + C(rl_family)'."
    ),
    random: str = typer.Option(
        None, help="Nested random effects for a multilevel model, e.g. 'study_id/comparison_id'."
    ),
    robust: str = typer.Option(
        None, help="Cluster column for CR2 robust inference (e.g. study_id)."
    ),
    level: float = typer.Option(0.95, help="Confidence level."),
    as_json: bool = typer.Option(
        False, "--json", help="Print to_dict() as JSON instead of the summary."
    ),
) -> None:
    """Fit the model and print a metafor-style summary (or JSON with every number).

    Exit code 0 on success; 4 when the model cannot be fitted; 7 when the estimator
    did not converge (the output is still printed, flagged).
    """
    from .. import meta_analysis

    data = load_input(inputs)
    eff = to_effects(data, measure, rho)
    if random and "effect_id" in random and "effect_id" not in eff.columns:
        eff = eff.assign(effect_id=range(1, len(eff) + 1))
    res = meta_analysis(eff, method=method, test=test, mods=mods, random=random, level=level)
    rob = res.robust(cluster=robust) if robust else None
    if as_json:
        out = {"model": res.to_dict()}
        if rob is not None:
            out["robust"] = rob.to_dict()
        console.print_json(json.dumps(jsonable(out)))
    else:
        console.print(res.summary(), markup=False, highlight=False)
        if rob is not None:
            console.print()
            console.print(rob.summary(), markup=False, highlight=False)
    if not res.converged:
        err_console.print(
            "[bold yellow]warning:[/] the estimator did not converge; see the warnings in the output"
        )
        raise typer.Exit(Exit.NOT_CONVERGED)
