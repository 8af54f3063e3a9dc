"""``rlmeta compare``: paired RL-vs-baseline effects per benchmark, then the pooled effect."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from ._common import app, console, handle_errors

__all__ = ["compare"]

_SHOW = [
    "benchmark",
    "metric",
    "filter",
    "n",
    "rl_mean",
    "baseline_mean",
    "yi",
    "sei",
    "ci_low",
    "ci_high",
    "mcnemar_p",
    "n_unmatched_rl",
    "n_unmatched_baseline",
]


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def _pool(eff: pd.DataFrame, method: str, level: float) -> list[dict]:
    """Pool across benchmarks, separately for each metric (x filter) measured on >= 2 benchmarks."""
    from ..meta import meta_analysis

    keys = [c for c in ("metric", "filter") if c in eff.columns]
    out = []
    groups = eff.groupby(keys, dropna=False, sort=True) if keys else [((), eff)]
    for key, g in groups:
        if g["benchmark"].nunique() < 2:
            continue
        res = meta_analysis(g.reset_index(drop=True), method=method, test="knha", level=level)
        key = key if isinstance(key, tuple) else (key,)
        out.append({"group": dict(zip(keys, key)), "result": res})
    return out


@app.command("compare")
@handle_errors
def compare(
    rl: Annotated[
        list[Path], typer.Option("--rl", help="RL run: file(s) or folder(s) with per-item scores.")
    ],
    baseline: Annotated[
        list[Path], typer.Option("--baseline", help="Baseline run: file(s) or folder(s).")
    ],
    measure: Annotated[
        str, typer.Option("--measure", help="MD, SMCC (d_z), DAV (d_av) or PLOR.")
    ] = "MD",
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="Keep only these metrics (repeatable).")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Field to use as cluster key.")
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="tau^2 estimator for the pooled effect.")
    ] = "REML",
    level: Annotated[float, typer.Option("--level", help="Interval level.")] = 0.95,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Pair two runs item by item, report the effect per benchmark and pool across benchmarks (Knapp-Hartung)."""
    from .. import drop_log
    from ..io import read_items
    from ..pairing import pair

    for p in [*rl, *baseline]:
        if not p.exists():
            raise FileNotFoundError(2, "No such file or directory", str(p))
    items = read_items([*rl, *baseline], cluster=cluster, metrics=metric or None)
    eff = pair(
        items,
        rl=[str(p) for p in rl],
        baseline=[str(p) for p in baseline],
        measure=measure,
        cluster="auto" if cluster else None,
        level=level,
    )
    pooled = _pool(eff, method, level)
    log = drop_log(eff)
    if as_json:
        doc = {
            "measure": eff.attrs.get("rlmeta_measure", measure),
            "effects": [_clean(r) for r in eff.to_dict(orient="records")],
            "pooled": [{**p["group"], **_clean(p["result"].to_dict())} for p in pooled],
            "drop_log": [_clean(r) for r in log.to_dict(orient="records")],
        }
        typer.echo(json.dumps(_clean(doc), indent=2, default=str))
        return
    table = Table(
        title=f"paired effects ({eff.attrs.get('rlmeta_measure', measure)}, positive = RL better)"
    )
    cols = [c for c in _SHOW if c in eff.columns]
    for c in cols:
        table.add_column(
            c, justify="right" if c not in ("benchmark", "metric", "filter") else "left"
        )
    for _, r in eff.iterrows():
        table.add_row(*[_fmt(r[c]) for c in cols])
    console.print(table)
    if not pooled:
        console.print("pooled effect: needs at least 2 benchmarks with the same metric")
    for p in pooled:
        d = p["result"].to_dict()
        c = d["coefficients"][0]
        label = escape(
            ", ".join(f"{k}={v}" for k, v in p["group"].items() if v is not None and v == v)
        )
        console.print(
            f"pooled ({label}; k={d['k']}, {d['method']}, Knapp-Hartung): {c['estimate']:.4f} "
            f"[{c['ci_low']:.4f}, {c['ci_high']:.4f}], p={c['pval']:.4g}, tau^2={d['tau2']:.4g}, I^2={d['i2']:.1f}%"
        )
    if len(log):
        from .cmd_ingest import drop_log_table

        console.print(drop_log_table(log))


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float | np.floating):
        return f"{v:.4g}"
    return escape(str(v))  # names from files: printed literally, never as Rich markup
