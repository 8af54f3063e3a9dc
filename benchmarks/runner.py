"""Timing machinery: run each workload with each tool, take medians, compute ratios.

Python tools are timed in-process (warm-up run, then ``repeat`` runs, median of
wall-clock times).  metafor is timed inside one ``Rscript`` process per workload
(data written to CSV; warm-up, then ``repeat`` timed runs with ``proc.time``), so
R's start-up and data loading are not counted against it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

__all__ = ["Workload", "run_workloads", "machine_info", "have_metafor"]


@dataclass
class Workload:
    """One benchmark: a data generator and one callable (or R snippet) per tool.

    ``python`` maps a tool name to ``setup(data) -> callable`` (setup cost excluded);
    ``r_code`` is an R expression run on ``dat`` (a data.frame read from the CSV of
    ``data["frame"]``) with metafor loaded; ``r_setup`` runs once before timing.
    """

    name: str
    description: str
    make_data: Callable[[], dict]
    python: dict[str, Callable[[dict], Callable[[], object]]]
    r_code: str | None = None
    r_setup: str = ""
    repeat: int = 5
    r_repeat: int | None = None
    r_timeout: float = 600.0
    notes: dict[str, str] = field(default_factory=dict)


def _median_time(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def have_metafor() -> bool:
    if shutil.which("Rscript") is None:
        return False
    out = subprocess.run(
        ["Rscript", "-e", "cat(requireNamespace('metafor', quietly=TRUE))"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().endswith("TRUE")


_R_TEMPLATE = r"""
suppressPackageStartupMessages({{ library(metafor); library(jsonlite) }})
dat <- read.csv("{csv}")
{setup}
run <- function() {{ {code} }}
invisible(run())
times <- numeric(0)
for (i in seq_len({repeat})) {{ t0 <- proc.time()[["elapsed"]]; invisible(run()); times <- c(times, proc.time()[["elapsed"]] - t0) }}
cat(toJSON(list(times = times, version = as.character(packageVersion("metafor")))))
"""


def _time_r(w: Workload, data: dict, repeat: int) -> tuple[float, list[float]] | str:
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        data["frame"].to_csv(csv, index=False)
        extra = data.get("r_files", {})
        for name, frame in extra.items():
            frame.to_csv(Path(tmp) / name, index=False)
        script = _R_TEMPLATE.format(
            csv=csv, setup=w.r_setup.replace("{dir}", tmp), code=w.r_code, repeat=repeat
        )
        path = Path(tmp) / "bench.R"
        path.write_text(script)
        try:
            out = subprocess.run(
                ["Rscript", str(path)], capture_output=True, text=True, timeout=w.r_timeout
            )
        except subprocess.TimeoutExpired:
            return f"timeout after {w.r_timeout:.0f} s"
        if out.returncode != 0:
            return (
                "R error: " + out.stderr.strip().splitlines()[-1]
                if out.stderr.strip()
                else "R error"
            )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        times = [float(t) for t in res["times"]]
        return statistics.median(times), times


def run_workloads(
    workloads: list[Workload], *, use_r: bool = True, log: Callable[[str], None] = print
) -> pd.DataFrame:
    """Run every workload with every tool; one row per (workload, tool)."""
    rows = []
    r_ok = use_r and have_metafor()
    for w in workloads:
        log(f"[{w.name}] {w.description}")
        data = w.make_data()
        results = {}
        for tool, setup in w.python.items():
            try:
                fn = setup(data)
                med, times = _median_time(fn, w.repeat)
                results[tool] = (med, times, "")
                log(f"    {tool:<22} {med * 1e3:10.2f} ms")
            except Exception as exc:  # a peer that cannot run a workload is reported, not fatal
                results[tool] = (float("nan"), [], f"{type(exc).__name__}: {exc}")
                log(f"    {tool:<22} failed: {exc}")
        if w.r_code and r_ok:
            out = _time_r(w, data, w.r_repeat or min(w.repeat, 3))
            if isinstance(out, str):
                results["metafor"] = (float("nan"), [], out)
                log(f"    {'metafor':<22} {out}")
            else:
                results["metafor"] = (out[0], out[1], "")
                log(f"    {'metafor':<22} {out[0] * 1e3:10.2f} ms")
        elif w.r_code:
            results["metafor"] = (float("nan"), [], "Rscript with metafor not available")
        base = results.get("rlmeta", (float("nan"),))[0]
        for tool, (med, times, err) in results.items():
            rows.append(
                {
                    "workload": w.name,
                    "description": w.description,
                    "tool": tool,
                    "median_s": med,
                    "ratio_vs_rlmeta": med / base if base and base == base else float("nan"),
                    "runs": len(times),
                    "note": err or w.notes.get(tool, ""),
                }
            )
    return pd.DataFrame(rows)


def machine_info() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            mem = fh.readline().split()[1]
            mem = f"{int(mem) / 2**20:.1f} GiB"
    except OSError:
        pass
    vers = {}
    for pkg in (
        "rlmeta",
        "numpy",
        "scipy",
        "pandas",
        "statsmodels",
        "PyMARE",
        "dask",
        "distributed",
    ):
        try:
            vers[pkg] = version(pkg)
        except PackageNotFoundError:
            vers[pkg] = None
    r = None
    if shutil.which("Rscript"):
        out = subprocess.run(
            [
                "Rscript",
                "-e",
                "cat(R.version.string, '/ metafor', as.character(packageVersion('metafor')))",
            ],
            capture_output=True,
            text=True,
        )
        r = out.stdout.strip() or None
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": vers,
        "r": r,
    }
