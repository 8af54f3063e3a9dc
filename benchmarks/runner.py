"""Timing machinery: run each workload with each tool, take medians, compute ratios, check targets.

Python tools are timed in-process (optional warm-up run, then ``repeat`` runs,
median of wall-clock times).  metafor is timed inside one ``Rscript`` process per
workload (data written to CSV; optional warm-up, then ``r_repeat`` timed runs with
``proc.time``), so R's start-up and data loading are not counted against it.

Ratios and targets use wall-clock medians.  The median CPU time of the timing
process (``cpu_s``: Python's ``process_time``, R's user + system time) is recorded
as well: on a shared machine wall time far above CPU time shows that the run had to
wait for a core (CPU time includes BLAS threads and excludes child processes such
as Dask workers or the ``rlmeta report`` subprocess).

Every metafor run is bounded by a timeout.  The R script reports each finished run
as it goes, so a run cut by the timeout still yields what was measured: the runs
that finished (a partial median), or a lower bound on the time of the run that was
cut.  A lower bound on metafor's time gives a lower bound on the ratio (shown as
``>N x``); a target that the lower bound already meets counts as met.
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import signal
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

__all__ = [
    "Workload",
    "Target",
    "run_workloads",
    "machine_info",
    "have_metafor",
    "DEFAULT_R_TIMEOUT",
]

#: Default bound (seconds) of one metafor workload (start-up, warm-up and timed runs).
DEFAULT_R_TIMEOUT = 300.0


@dataclass(frozen=True)
class Target:
    """A performance target of the issue, checked on the measured medians.

    ``kind="ratio"``: ``tool``'s median / rlmeta's median must be at least ``value``.
    ``kind="time"``: rlmeta's median must be below ``value`` seconds.
    """

    text: str
    kind: str = "time"
    value: float = math.inf
    tool: str = "metafor"

    @classmethod
    def ratio(cls, text: str, value: float, tool: str = "metafor") -> Target:
        return cls(text, "ratio", float(value), tool)

    @classmethod
    def under(cls, text: str, seconds: float) -> Target:
        return cls(text, "time", float(seconds), "rlmeta")

    def check(self, results: dict[str, dict]) -> tuple[str, str]:
        """``(status, measured)`` where status is "met", "NOT met" or "n/a (...)"."""
        rl = results.get("rlmeta", {})
        base = rl.get("median_s", math.nan)
        if not _finite(base):
            return "n/a (rlmeta failed)", "—"
        if self.kind == "time":
            ok = base < self.value
            return ("met" if ok else "NOT met"), fmt_time(base)
        peer = results.get(self.tool)
        if peer is None:
            return f"n/a ({self.tool} not run)", "—"
        med = peer.get("median_s", math.nan)
        if _finite(med):
            r = med / base
            return (
                "met" if r >= self.value else "NOT met"
            ), f"{r:,.0f}x" if r >= 10 else f"{r:,.1f}x"
        lb = peer.get("lower_bound_s", math.nan)
        if _finite(lb):
            r = lb / base
            if r >= self.value:
                return "met (lower bound)", f">{r:,.0f}x"
            return f"n/a ({self.tool} cut short)", f">{r:,.0f}x"
        return f"n/a ({peer.get('note') or self.tool + ' not measured'})", "—"


@dataclass
class Workload:
    """One benchmark: a data generator and one callable (or R snippet) per tool.

    ``python`` maps a tool name to ``setup(data) -> callable`` (setup cost excluded;
    a callable with a ``close`` attribute is closed after timing, e.g. a Dask
    cluster); ``r_code`` is an R expression run on ``dat`` (a data.frame read from
    the CSV of ``data["frame"]``) with metafor loaded; ``r_setup`` runs once before
    timing.  ``data["cleanup"]``, when present, is called after the workload.

    ``r_scale`` > 1 means the R code does ``1 / r_scale`` of the work (e.g. 10,000
    of 10^6 GOSH subsets, the cost being linear in their number): its time is
    multiplied by ``r_scale`` and the note says so.  ``r_timeout`` None uses the
    runner's default (``--r-timeout``).
    """

    name: str
    description: str
    make_data: Callable[[], dict]
    python: dict[str, Callable[[dict], Callable[[], object]]]
    r_code: str | None = None
    r_setup: str = ""
    repeat: int = 5
    warmup: bool = True
    r_repeat: int | None = None
    r_warmup: bool = True
    r_timeout: float | None = None
    r_scale: float = 1.0
    target: Target | None = None
    notes: dict[str, str] = field(default_factory=dict)


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def fmt_time(s: float) -> str:
    if not _finite(s):
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _median_time(
    fn: Callable[[], object], repeat: int, warmup: bool = True
) -> tuple[float, list[float], float]:
    """Median wall time, the wall times, and the median CPU time of this process."""
    if warmup:
        fn()  # warm-up (imports, caches)
    times, cpu = [], []
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), times, statistics.median(cpu)


def have_metafor() -> bool:
    if shutil.which("Rscript") is None:
        return False
    try:
        out = subprocess.run(
            ["Rscript", "-e", "cat(requireNamespace('metafor', quietly=TRUE))"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip().endswith("TRUE")


# Each finished run is printed (and flushed) at once, so that a run cut by the
# timeout still tells how far it got.  READY carries R's elapsed time when the data
# are loaded; the lower bound of a cut run is measured from there.
_R_TEMPLATE = r"""
suppressPackageStartupMessages(library(metafor))
dat <- read.csv("{csv}")
{setup}
run <- function() {{ {code} }}
say <- function(...) {{ cat(..., "\n", sep = " "); flush(stdout()) }}
say("READY", proc.time()[["elapsed"]])
cpu <- function(p) p[["user.self"]] + p[["sys.self"]]
if ({warmup}) {{ t0 <- proc.time(); invisible(run()); t1 <- proc.time(); say("WARM", t1[["elapsed"]] - t0[["elapsed"]], cpu(t1) - cpu(t0)) }}
for (i in seq_len({repeat})) {{
  t0 <- proc.time(); invisible(run()); t1 <- proc.time(); say("RUN", t1[["elapsed"]] - t0[["elapsed"]], cpu(t1) - cpu(t0))
}}
say("DONE")
"""


def _parse_r(stdout: str) -> dict:
    out: dict = {"ready": None, "warm": [], "runs": [], "cpu": [], "warm_cpu": [], "done": False}
    for line in stdout.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "READY" and len(parts) > 1:
            out["ready"] = float(parts[1])
        elif parts[0] in ("WARM", "RUN") and len(parts) > 1:
            out["warm" if parts[0] == "WARM" else "runs"].append(float(parts[1]))
            if len(parts) > 2:
                out["warm_cpu" if parts[0] == "WARM" else "cpu"].append(float(parts[2]))
        elif parts[0] == "DONE":
            out["done"] = True
    return out


def _time_r(w: Workload, data: dict, repeat: int, timeout: float) -> dict:
    """Run the R code; a dict with ``median_s``, ``times``, ``lower_bound_s`` and ``note``."""
    scale = w.r_scale
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        data["frame"].to_csv(csv, index=False)
        for name, frame in data.get("r_files", {}).items():
            frame.to_csv(Path(tmp) / name, index=False)
        script = _R_TEMPLATE.format(
            csv=csv.as_posix(),
            setup=w.r_setup.replace("{dir}", tmp),
            code=w.r_code,
            repeat=repeat,
            warmup="TRUE" if w.r_warmup else "FALSE",
        )
        path = Path(tmp) / "bench.R"
        path.write_text(script)
        t_start = time.perf_counter()
        # own process group, so that the timeout ends R and anything it started
        proc = subprocess.Popen(
            ["Rscript", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        timed_out = False
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            stdout, stderr = proc.communicate()
        wall = time.perf_counter() - t_start
    info = _parse_r(stdout or "")
    runs = info["runs"] or info["warm"]
    cpus = info["cpu"] if info["runs"] else info["warm_cpu"]
    cpu_s = statistics.median(cpus) * scale if cpus else math.nan
    note_scale = (
        f"; measured on 1/{scale:,.0f} of the work and scaled x{scale:,.0f}" if scale != 1 else ""
    )
    if info["done"] and runs:
        times = [t * scale for t in info["runs"]]
        return {
            "median_s": statistics.median(times),
            "times": times,
            "cpu_s": cpu_s,
            "note": note_scale.lstrip("; "),
        }
    if timed_out:
        if runs:
            times = [t * scale for t in runs]
            which = "timed runs" if info["runs"] else "the warm-up run"
            return {
                "median_s": statistics.median(times),
                "times": times,
                "cpu_s": cpu_s,
                "note": f"timeout after {timeout:.0f} s; median of {which} that finished{note_scale}",
            }
        started = info["ready"] if info["ready"] is not None else 0.0
        bound = max(0.0, wall - started) * scale
        return {
            "median_s": math.nan,
            "times": [],
            "lower_bound_s": bound,
            "note": f"timeout after {timeout:.0f} s: one run takes more than {fmt_time(bound)}{note_scale}",
        }
    err = (stderr or "").strip().splitlines()
    msg = next((ln for ln in reversed(err) if ln.startswith("Error")), err[-1] if err else "")
    tail = [ln.strip() for ln in err[-3:]]
    if msg and not msg.startswith("Error"):
        msg = " ".join(tail)
    return {"median_s": math.nan, "times": [], "note": "R error: " + (msg or "unknown")[:300]}


def run_workloads(
    workloads: list[Workload],
    *,
    use_r: bool = True,
    r_timeout: float | None = None,
    log: Callable[[str], None] = print,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every workload with every tool.

    Returns ``(results, targets)``: one row per (workload, tool), and one row per
    workload with its target and whether it was met.  ``r_timeout`` overrides every
    workload's own bound on metafor.
    """
    rows, trows = [], []
    r_ok = use_r and have_metafor()
    for w in workloads:
        log(f"[{w.name}] {w.description}")
        data = w.make_data()
        results: dict[str, dict] = {}
        try:
            for tool, setup in w.python.items():
                fn = None
                try:
                    fn = setup(data)
                    med, times, cpu = _median_time(fn, w.repeat, w.warmup)
                    results[tool] = {"median_s": med, "times": times, "cpu_s": cpu, "note": ""}
                    log(f"    {tool:<30} {fmt_time(med):>12}")
                except Exception as exc:  # a peer that cannot run a workload is reported, not fatal
                    results[tool] = {
                        "median_s": math.nan,
                        "times": [],
                        "note": f"{type(exc).__name__}: {exc}",
                    }
                    log(f"    {tool:<30} failed: {exc}")
                finally:
                    close = getattr(fn, "close", None)
                    if callable(close):
                        close()
            if w.r_code and r_ok:
                timeout = r_timeout if r_timeout is not None else (w.r_timeout or DEFAULT_R_TIMEOUT)
                out = _time_r(w, data, w.r_repeat or min(w.repeat, 3), timeout)
                results["metafor"] = out
                shown = fmt_time(out["median_s"]) if _finite(out["median_s"]) else ""
                log(f"    {'metafor':<30} {shown:>12}  {out['note']}".rstrip())
            elif w.r_code and use_r:
                results["metafor"] = {
                    "median_s": math.nan,
                    "times": [],
                    "note": "Rscript with metafor not available",
                }
        finally:
            cleanup = data.get("cleanup")
            if callable(cleanup):
                cleanup()
        base = results.get("rlmeta", {}).get("median_s", math.nan)
        for tool, res in results.items():
            med = res["median_s"]
            lb = res.get("lower_bound_s", math.nan)
            note = res["note"] or w.notes.get(tool, "")
            if res["note"] and w.notes.get(tool):
                note = f"{w.notes[tool]}; {res['note']}"
            rows.append(
                {
                    "workload": w.name,
                    "description": w.description,
                    "tool": tool,
                    "median_s": med,
                    "ratio_vs_rlmeta": med / base if _finite(base) and base > 0 else math.nan,
                    "lower_bound_s": lb,
                    "ratio_lower_bound": lb / base if _finite(base) and base > 0 else math.nan,
                    "cpu_s": res.get("cpu_s", math.nan),
                    "runs": len(res["times"]),
                    "times_s": res["times"],
                    "note": note,
                }
            )
        if w.target is not None:
            status, measured = w.target.check(results)
            trows.append(
                {
                    "workload": w.name,
                    "target": w.target.text,
                    "measured": measured,
                    "status": status,
                }
            )
            log(f"    target: {w.target.text} -> {measured}: {status}")
    return pd.DataFrame(rows), pd.DataFrame(
        trows, columns=["workload", "target", "measured", "status"]
    )


def machine_info(use_r: bool = True) -> dict:
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
    load = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
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
    if vers["rlmeta"] is None:  # run from a checkout that is not installed
        try:
            import rlmeta

            vers["rlmeta"] = getattr(rlmeta, "__version__", None)
        except ImportError:
            pass
    r = None
    if use_r and shutil.which("Rscript"):
        try:
            out = subprocess.run(
                [
                    "Rscript",
                    "-e",
                    "cat(R.version.string, '/ metafor', as.character(packageVersion('metafor')))",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            r = out.stdout.strip() or None
        except (OSError, subprocess.TimeoutExpired):
            r = None
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "hostname": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "load_average_at_start": load,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": vers,
        "r": r,
    }
