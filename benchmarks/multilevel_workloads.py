"""Multilevel workloads: 3-level REML fits (rma.mv) and CR2 cluster-robust inference.

metafor's ``rma.mv`` factorises the dense ``k x k`` marginal covariance at every
likelihood evaluation (O(k^3)); ``sparse=TRUE`` uses sparse Cholesky.  rlmeta works
through the nesting in O(k).  The k = 100,000 workload has no metafor counterpart
(a dense 100,000 x 100,000 matrix needs 80 GB).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .runner import Workload

__all__ = ["workloads", "hierarchical"]


def hierarchical(studies: int, per_study: float = 5.0, seed: int = 7) -> dict:
    """Effects nested in comparisons (up to 3 per study) nested in studies."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(per_study - 1, studies) + 1
    study = np.repeat(np.arange(studies), n)
    k = len(study)
    comp = np.concatenate([rng.integers(0, 3, m) for m in n])
    vi = rng.uniform(0.005, 0.1, k)
    x1 = rng.normal(size=k)
    yi = (0.3 + 0.1 * x1 + rng.normal(0, np.sqrt(0.05), studies)[study]
          + rng.normal(0, np.sqrt(0.02), (studies, 3))[study, comp] + rng.normal(0, np.sqrt(vi)))
    return {"frame": pd.DataFrame({"study": study, "comp": comp, "yi": yi, "vi": vi, "x1": x1})}


def _rlmeta(mods: str | None = None, robust: bool = False):
    def setup(d):
        import rlmeta as rm

        frame = d["frame"]

        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = rm.meta_analysis(frame, mods=mods, random="study/comp")
                return res.robust("study") if robust else res.beta

        return run

    return setup


def workloads(quick: bool = False) -> list[Workload]:
    small = 40 if quick else 200
    big = 200 if quick else 20_000
    out = [
        Workload(
            name=f"mv3_k{5 * small}",
            description=f"3-level REML fit (random = study/comparison), about {5 * small:,} effects in {small} studies",
            make_data=lambda: hierarchical(small),
            python={"rlmeta": _rlmeta()},
            r_code="rma.mv(yi, vi, random = ~ 1 | study/comp, data = dat)",
            repeat=5,
            r_repeat=1,
            r_timeout=900.0,
        ),
        Workload(
            name=f"mv3_sparse_k{5 * small}",
            description=f"as mv3_k{5 * small}, metafor with sparse = TRUE (sparse Cholesky)",
            make_data=lambda: hierarchical(small),
            python={"rlmeta": _rlmeta()},
            r_code="rma.mv(yi, vi, random = ~ 1 | study/comp, data = dat, sparse = TRUE)",
            repeat=5,
            r_repeat=3,
        ),
        Workload(
            name=f"mv3_robust_sparse_k{5 * small}",
            description="3-level meta-regression + CR2 robust tests (clubSandwich), metafor sparse = TRUE",
            make_data=lambda: hierarchical(small),
            python={"rlmeta": _rlmeta("~ x1", robust=True)},
            r_code=("res <- rma.mv(yi, vi, mods = ~ x1, random = ~ 1 | study/comp, data = dat, sparse = TRUE); "
                    "rob <- robust(res, cluster = dat$study, clubSandwich = TRUE)"),
            r_setup="suppressMessages(library(clubSandwich))",
            repeat=5,
            r_repeat=1,
            r_timeout=900.0,
        ),
        Workload(
            name=f"mv3_k{5 * big}",
            description=f"3-level REML fit, about {5 * big:,} effects in {big:,} studies (no metafor: dense V too large)",
            make_data=lambda: hierarchical(big),
            python={"rlmeta": _rlmeta()},
            repeat=3,
        ),
    ]
    return out
