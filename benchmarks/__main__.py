"""Run the benchmarks and compare rlmeta with PyMARE, statsmodels and metafor.

    python -m benchmarks [--quick] [--only GLOB[,GLOB...]] [--no-r] [--r-timeout S]
                         [--out FILE] [--markdown FILE] [--list]
    python -m benchmarks --from-json FILE --markdown FILE   # re-render a saved run

Prints the machine and versions, a table of medians and ratios (time of each tool /
time of rlmeta; ``>N x`` is a lower bound where metafor hit its timeout), and one line
per workload with its target from the issue and whether it was met.  Writes the
results to a JSON file and, with ``--markdown``, a Markdown report.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import sys
from pathlib import Path

import pandas as pd

from .runner import DEFAULT_R_TIMEOUT, fmt_time, machine_info, run_workloads
from .workloads import all_workloads


def _ratio(row) -> str:
    r, lb = row.get("ratio_vs_rlmeta", math.nan), row.get("ratio_lower_bound", math.nan)
    if isinstance(r, float) and math.isfinite(r):
        return f"{r:,.1f}x" if r < 100 else f"{r:,.0f}x"
    if isinstance(lb, float) and math.isfinite(lb):
        return f">{lb:,.0f}x"
    return "—"


def _median(row) -> str:
    med, lb = row.get("median_s", math.nan), row.get("lower_bound_s", math.nan)
    if isinstance(med, float) and math.isfinite(med):
        return fmt_time(med)
    if isinstance(lb, float) and math.isfinite(lb):
        return f">{fmt_time(lb)}"
    return "—"


def _cpu(row) -> str:
    c = row.get("cpu_s", math.nan)
    return fmt_time(c) if isinstance(c, float) and math.isfinite(c) else "—"


def _nan_to_none(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_none(v) for v in obj]
    return obj


def _none_to_nan(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("median_s", "ratio_vs_rlmeta", "lower_bound_s", "ratio_lower_bound", "cpu_s"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def render_text(results: pd.DataFrame, targets: pd.DataFrame) -> str:
    show = results.copy()
    show["median"] = [_median(r) for r in show.to_dict("records")]
    show["x rlmeta"] = [_ratio(r) for r in show.to_dict("records")]
    show["cpu"] = [_cpu(r) for r in show.to_dict("records")]
    out = [
        "x rlmeta = the tool's median time / rlmeta's median time (higher: rlmeta faster; "
        ">N x: metafor hit its timeout); cpu = median CPU time of the timing process",
        "",
        show[["workload", "tool", "median", "x rlmeta", "cpu"]].to_string(index=False),
    ]
    if len(targets):
        out += ["", "Targets (issue 12):", targets.to_string(index=False)]
    notes = results[results["note"].astype(str) != ""]
    if len(notes):
        out += ["", "Notes:"]
        out += [f"  {r.workload} / {r.tool}: {r.note}" for r in notes.itertuples()]
    return "\n".join(out)


def render_markdown(payload: dict) -> str:
    """A Markdown report of one run (machine, versions, ratios, targets, notes)."""
    info = payload["machine"]
    results = _none_to_nan(payload["results"])
    targets = pd.DataFrame(
        payload.get("targets", []), columns=["workload", "target", "measured", "status"]
    )
    vers = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items() if v)
    lines = [
        "# rlmeta benchmark results",
        "",
        f"- Date: {info.get('date')}",
        f"- Machine: {info.get('cpu')}, {info.get('cores')} cores, {info.get('memory')}; {info.get('platform')}",
        f"- Load average at start / end: {info.get('load_average_at_start')} / {info.get('load_average_at_end')}",
        f"- Python {info.get('python')}: {vers}",
        f"- R: {info.get('r') or 'not available'}",
        f"- Command: `{payload.get('command', 'python -m benchmarks')}`",
        f"- Total wall time: {payload.get('wall_time_s', float('nan')) / 60:.1f} min",
    ]
    if payload.get("remark"):
        lines += ["", payload["remark"]]
    lines += [
        "",
        "Ratios are the median time of each tool divided by rlmeta's median on the same data "
        "(higher = rlmeta faster). `>N x` is a lower bound: metafor hit its timeout. "
        "`cpu` is the median CPU time of the timing process (R: user + system); wall time far "
        "above it means the run waited for a core on a busy machine (it excludes child processes: "
        "Dask workers, the `rlmeta report` subprocess).",
        "",
        "## Targets",
        "",
        "| workload | target (issue 12) | measured | status |",
        "|---|---|---|---|",
    ]
    for t in targets.itertuples():
        lines.append(f"| {t.workload} | {t.target} | {t.measured} | {t.status} |")
    lines += [
        "",
        "## All timings",
        "",
        "| workload | tool | median | x rlmeta | cpu | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in results.to_dict("records"):
        note = str(r.get("note") or "").replace("|", "/")
        lines.append(
            f"| {r['workload']} | {r['tool']} | {_median(r)} | {_ratio(r)} | {_cpu(r)} | {note} |"
        )
    lines += ["", "## Workloads", ""]
    seen = set()
    for r in results.to_dict("records"):
        if r["workload"] not in seen:
            seen.add(r["workload"])
            lines.append(f"- `{r['workload']}`: {r['description']}")
    return "\n".join(lines) + "\n"


def _command(argv: list[str]) -> str:
    """The command line, without the text of ``--remark`` (it is printed on its own)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--remark":
            skip = True
            continue
        if a.startswith("--remark="):
            continue
        out.append(a)
    return " ".join(["python -m benchmarks", *out])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument(
        "--only",
        default="*",
        help="glob(s) over workload names, comma-separated, e.g. 'reml_*,gosh_*'",
    )
    ap.add_argument("--no-r", action="store_true", help="skip metafor even if Rscript is available")
    ap.add_argument(
        "--r-timeout",
        type=float,
        default=None,
        help=f"bound in seconds of every metafor run (default: per workload, else {DEFAULT_R_TIMEOUT:.0f})",
    )
    ap.add_argument("--out", default="benchmarks/results/latest.json", help="JSON output file")
    ap.add_argument("--markdown", default=None, help="also write a Markdown report to this file")
    ap.add_argument(
        "--remark",
        default="",
        help="a sentence added to the Markdown report (e.g. 'shared machine')",
    )
    ap.add_argument(
        "--list", action="store_true", help="list the workloads and their targets, run nothing"
    )
    ap.add_argument(
        "--from-json", default=None, help="render --markdown from a saved JSON file, run nothing"
    )
    args = ap.parse_args(argv)

    if args.from_json:
        payload = json.loads(Path(args.from_json).read_text())
        if args.remark:
            payload["remark"] = args.remark
        md = render_markdown(payload)
        if args.markdown:
            Path(args.markdown).write_text(md)
            print(f"wrote {args.markdown}")
        else:
            print(md)
        return 0

    globs = [g.strip() for g in args.only.split(",") if g.strip()]
    chosen = [
        w for w in all_workloads(args.quick) if any(fnmatch.fnmatch(w.name, g) for g in globs)
    ]
    if not chosen:
        print(f"no workload matches {args.only!r}", file=sys.stderr)
        return 2
    if args.list:
        for w in chosen:
            tgt = w.target.text if w.target else "(no target)"
            print(f"{w.name:<34} {tgt}\n{'':<34} {w.description}")
        return 0
    import time

    t0 = time.perf_counter()
    info = machine_info(use_r=not args.no_r)
    print(f"Machine: {info['cpu']} ({info['cores']} cores, {info['memory']}), {info['platform']}")
    print(f"Load average at start: {info['load_average_at_start']}")
    vers = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    print(f"Python {info['python']}: {vers}")
    print(f"R: {info['r'] or 'not available'}\n")
    results, targets = run_workloads(
        chosen, use_r=not args.no_r, r_timeout=args.r_timeout, log=lambda s: print(s, flush=True)
    )
    try:
        info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        info["load_average_at_end"] = None
    print()
    print(render_text(results, targets))
    payload = {
        "machine": info,
        "command": _command(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "wall_time_s": time.perf_counter() - t0,
        "remark": args.remark,
        "results": results.to_dict(orient="records"),
        "targets": targets.to_dict(orient="records"),
    }
    payload = _nan_to_none(payload)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nwrote {out}")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(render_markdown(payload))
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
