"""Timing of the sensitivity sweeps against metafor (when ``Rscript`` is present).

Run from the repository root::

    python benchmarks/bench_sensitivity.py            # all cases
    python benchmarks/bench_sensitivity.py --quick    # skip the slow metafor GOSH

Prints seconds for rlmeta and metafor and their ratio.  Targets (issue 8): GOSH
of all 32,767 subsets of k = 15 >= 100x faster than ``metafor::gosh``; leave-one-out
plus influence at k = 100 >= 30x; a 1,000-permutation test at k = 100 >= 30x; a
specification curve of >= 1,000 specifications on the bundled data < 60 s.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import rlmeta as rm

warnings.simplefilter("ignore")


def data(k: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.3, k)
    x = rng.normal(size=k)
    return pd.DataFrame({"yi": rng.normal(0.2 + 0.1 * x, np.sqrt(vi + 0.1)), "vi": vi, "x": x})


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def r_time(code: str, frame: pd.DataFrame) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        frame.to_csv(csv, index=False)
        script = (f"suppressPackageStartupMessages(library(metafor)); d <- read.csv('{csv}'); "
                  f"t <- system.time({{ {code} }})[['elapsed']]; cat(t)")
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
        return float(out.stdout.strip().split()[-1])


def main(quick: bool) -> None:
    rows = []

    d15 = data(15, 1)
    res15 = rm.meta_analysis(d15)
    t_py = best_of(lambda: rm.gosh(res15, quiet=True))
    t_r = None if quick else r_time("g <- gosh(rma(yi, vi, data = d), progbar = FALSE)", d15)
    rows.append(("GOSH k=15, all 32,767 subsets (REML)", t_py, t_r))

    d100 = data(100, 2)
    res100 = rm.meta_analysis(d100)
    t_py = best_of(lambda: (rm.leave_one_out(res100), rm.influence(res100)))
    t_r = r_time("r <- rma(yi, vi, data = d); l <- leave1out(r); i <- influence(r)", d100)
    rows.append(("leave-one-out + influence, k=100 (REML)", t_py, t_r))

    t_py = best_of(lambda: rm.permutation_test(res100, n=1000, seed=1, quiet=True))
    t_r = r_time("p <- permutest(rma(yi, vi, data = d), iter = 1000, progbar = FALSE)", d100)
    rows.append(("permutation test, 1,000 sign flips, k=100 (REML)", t_py, t_r))

    reg100 = rm.meta_analysis(d100, mods="~ x")
    t_py = best_of(lambda: rm.permutation_test(reg100, n=1000, seed=1, quiet=True))
    t_r = r_time("p <- permutest(rma(yi, vi, mods = ~ x, data = d), iter = 1000, progbar = FALSE)", d100)
    rows.append(("permutation test, 1,000 row permutations, k=100, 1 moderator", t_py, t_r))

    raw = rm.datasets.load_rl_llm_studies()
    choices = {"measure": ["RD", "OR", "AS", "SMD"], "rho": [0, 0.5, 0.8], "method": ["REML", "DL", "PM", "EE", "SJ"],
               "test": ["z", "knha"], "rl_family": {"all": None, "DPO": "DPO", "GRPO": "GRPO"},
               "judge_based": ["all", False], "outliers": ["none", "rstudent>2.5", "influential"]}
    t0 = time.perf_counter()
    sc = rm.specification_curve(raw, choices, effect_kwargs={"assumed_sd": 2.0}, quiet=True)
    t_py = time.perf_counter() - t0
    rows.append((f"specification curve, {sc.n_specs} specifications", t_py, None))
    t0 = time.perf_counter()
    sc.test_null(100, quiet=True)
    rows.append(("  + bootstrap null test, 100 curves", time.perf_counter() - t0, None))

    print(f"{'case':64s} {'rlmeta s':>9s} {'metafor s':>10s} {'ratio':>8s}")
    for name, a, b in rows:
        ratio = f"{b / a:8.0f}x" if b else "       -"
        print(f"{name:64s} {a:9.3f} {'-' if b is None else f'{b:10.2f}':>10s} {ratio}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
