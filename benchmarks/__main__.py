"""Run the benchmarks: ``python -m benchmarks [--quick] [--only PATTERN] [--no-r] [--out FILE]``.

Prints a table of medians and ratios (time of each tool / time of rlmeta) and writes
a JSON file with the results and the machine they were measured on.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import sys
from pathlib import Path

from .runner import machine_info, run_workloads
from .workloads import all_workloads


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--only", default="*", help="glob over workload names, e.g. 'reml_*'")
    ap.add_argument("--no-r", action="store_true", help="skip metafor even if Rscript is available")
    ap.add_argument("--out", default="benchmarks/results/latest.json", help="JSON output file")
    args = ap.parse_args(argv)
    chosen = [w for w in all_workloads(args.quick) if fnmatch.fnmatch(w.name, args.only)]
    if not chosen:
        print(f"no workload matches {args.only!r}", file=sys.stderr)
        return 2
    info = machine_info()
    print(f"Machine: {info['cpu']} ({info['cores']} cores, {info['memory']}), {info['platform']}")
    print(f"Python {info['python']}; R: {info['r'] or 'not available'}\n")
    table = run_workloads(chosen, use_r=not args.no_r, log=lambda s: print(s, flush=True))
    print()
    show = table.copy()
    show["median"] = show["median_s"].map(
        lambda s: "—" if math.isnan(s) else (f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s")
    )
    show["x rlmeta"] = show["ratio_vs_rlmeta"].map(lambda r: "—" if math.isnan(r) else f"{r:,.1f}x")
    print(show[["workload", "tool", "median", "x rlmeta", "note"]].to_string(index=False))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": info, "results": table.to_dict(orient="records")}
    out.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
