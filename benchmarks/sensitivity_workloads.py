"""Sensitivity workloads: leave-one-out + influence, GOSH, permutation tests, specification curve.

metafor runs these as R loops of single fits (``leave1out``, ``influence``,
``gosh``, ``permutest``); rlmeta refits the model on all variants at once through
the batched engine.  No peer has a specification curve (metafor, PyMARE and
statsmodels offer none; R users write their own loop or use ``specr``), so that
workload times rlmeta alone against the issue's absolute target.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .runner import Target, Workload

__all__ = ["workloads", "sens_data", "SPEC_CHOICES"]


def sens_data(k: int, seed: int) -> dict:
    """Effects with heterogeneity and one moderator (``tau² = 0.1``, ``vi`` in 0.01-0.3)."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.3, k)
    x = rng.normal(size=k)
    frame = pd.DataFrame({"yi": rng.normal(0.2 + 0.1 * x, np.sqrt(vi + 0.1)), "vi": vi, "x": x})
    return {"frame": frame}


def _fit(frame: pd.DataFrame, mods: str | None = None):
    import rlmeta as rm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rm.meta_analysis(frame, mods=mods)


def _loo_influence(d):
    import rlmeta as rm

    res = _fit(d["frame"])

    def run():
        return rm.leave_one_out(res).to_frame(), rm.influence(res).to_frame()

    return run


def _gosh(max_subsets: int):
    def setup(d):
        import rlmeta as rm

        res = _fit(d["frame"])
        return lambda: rm.gosh(res, max_subsets=max_subsets, seed=0, quiet=True)

    return setup


def _perm(n: int, mods: str | None = None):
    def setup(d):
        import rlmeta as rm

        res = _fit(d["frame"], mods)
        return lambda: rm.permutation_test(res, n=n, seed=1, quiet=True)

    return setup


#: Analytic choices of the 10,080-specification curve on the bundled dataset:
#: 6 effect sets (RD with 3 assumed correlations, OR, AS, SMD) x 5 estimators x
#: 2 tests x 3 outlier rules x 7 benchmark families (all or one) x 2 x 2 x 2
#: inclusion filters (peer-reviewed only, same decoding only, SFT baselines only).
SPEC_CHOICES = {
    "measure": ["RD", "OR", "AS", "SMD"],
    "rho": [0, 0.5, 0.8],
    "method": ["REML", "DL", "PM", "EE", "SJ"],
    "test": ["z", "knha"],
    "outliers": ["none", "rstudent>2.5", "influential"],
    "benchmark_family": [
        "all",
        "math",
        "chat/judge",
        "knowledge/reasoning",
        "code",
        "safety",
        "instruction following",
    ],
    "peer_reviewed_bool": ["all", True],
    "decoding_differs": ["all", False],
    "baseline_family": ["all", "SFT"],
}

_SMALL_CHOICES = {
    "measure": ["RD", "AS"],
    "method": ["REML", "DL"],
    "test": ["z", "knha"],
    "outliers": ["none", "influential"],
    "judge_based": ["all", False],
}


def spec_data(quick: bool = False) -> dict:
    import rlmeta as rm

    raw = rm.datasets.load_rl_llm_studies()
    return {"frame": raw, "choices": _SMALL_CHOICES if quick else SPEC_CHOICES}


def _speccurve(d):
    import rlmeta as rm

    raw, choices = d["frame"], d["choices"]

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = rm.specification_curve(raw, choices, effect_kwargs={"assumed_sd": 2.0}, quiet=True)
        return sc

    return run


def n_specs(choices: dict) -> int:
    """Number of specifications of ``choices`` (``rho`` only multiplies RD)."""
    n = 1
    for name, opts in choices.items():
        if name in ("measure", "rho"):
            continue
        n *= len(opts)
    measures = choices.get("measure", ["RD"])
    rhos = len(choices.get("rho", [None]))
    return n * sum(rhos if m == "RD" else 1 for m in measures)


def workloads(quick: bool = False) -> list[Workload]:
    k_small = 20 if quick else 100
    k_big = 50 if quick else 1_000
    g_exact = 8 if quick else 15
    g_big, g_n = (12, 2_000) if quick else (30, 1_000_000)
    r_sub = 500 if quick else 10_000
    perms = (100, 500) if quick else (1_000, 10_000)
    out = [
        Workload(
            name=f"loo_influence_k{k_small}",
            description=f"leave-one-out + influence diagnostics (REML), k = {k_small:,}",
            make_data=lambda: sens_data(k_small, 2),
            python={"rlmeta": _loo_influence},
            r_code="r <- rma(yi, vi, data = dat); l <- leave1out(r); i <- influence(r)",
            repeat=3 if quick else 7,
            r_repeat=3,
            target=Target.ratio("LOO+influence k=100 >=30x faster than metafor", 30)
            if not quick
            else None,
        ),
        Workload(
            name=f"loo_influence_k{k_big}",
            description=f"leave-one-out + influence diagnostics (REML), k = {k_big:,}",
            make_data=lambda: sens_data(k_big, 2),
            python={"rlmeta": _loo_influence},
            r_code="r <- rma(yi, vi, data = dat); l <- leave1out(r); i <- influence(r)",
            repeat=3 if quick else 5,
            r_repeat=1,
            r_warmup=False,
            r_timeout=None if quick else 240.0,
            notes={"metafor": "k refits in an R loop, each building k x k matrices"},
        ),
        Workload(
            name=f"gosh_k{g_exact}_all",
            description=f"GOSH, all {2**g_exact - 1:,} subsets of k = {g_exact} (REML)",
            make_data=lambda: sens_data(g_exact, 1),
            python={"rlmeta": _gosh(10**6)},
            r_code="g <- gosh(rma(yi, vi, data = dat), progbar = FALSE)",
            repeat=3 if quick else 5,
            r_repeat=1,
            r_warmup=False,
            r_timeout=None if quick else 600.0,
            target=Target.ratio("GOSH k=15 all subsets >=100x faster than metafor gosh()", 100)
            if not quick
            else None,
        ),
        Workload(
            name=f"gosh_k{g_big}_sampled",
            description=f"GOSH, {g_n:,} random subsets of k = {g_big} (REML)",
            make_data=lambda: sens_data(g_big, 1),
            python={"rlmeta": _gosh(g_n)},
            r_code=f"g <- gosh(rma(yi, vi, data = dat), subsets = {r_sub}, progbar = FALSE)",
            repeat=1 if not quick else 2,
            warmup=quick,
            r_repeat=1,
            r_warmup=False,
            r_scale=g_n / r_sub,
            r_timeout=None if quick else 600.0,
            notes={
                "metafor": "10^6 subsets would take metafor well over an hour (one rma() per subset in an "
                "R loop), too long for this run"
                if not quick
                else ""
            },
        ),
        Workload(
            name=f"perm_{perms[0]}_k{k_small}",
            description=f"permutation test, {perms[0]:,} random sign flips, intercept-only REML, k = {k_small}",
            make_data=lambda: sens_data(k_small, 2),
            python={"rlmeta": _perm(perms[0])},
            r_code=f"p <- permutest(rma(yi, vi, data = dat), iter = {perms[0]}, progbar = FALSE)",
            repeat=3 if quick else 7,
            r_repeat=1 if not quick else 1,
            r_warmup=False,
            target=Target.ratio(
                "1,000-iteration permutation test k=100 >=30x faster than permutest", 30
            )
            if not quick
            else None,
        ),
        Workload(
            name=f"perm_{perms[1]}_k{k_small}",
            description=f"permutation test, {perms[1]:,} random sign flips, intercept-only REML, k = {k_small}",
            make_data=lambda: sens_data(k_small, 2),
            python={"rlmeta": _perm(perms[1])},
            r_code=f"p <- permutest(rma(yi, vi, data = dat), iter = {perms[1]}, progbar = FALSE)",
            repeat=3 if quick else 5,
            r_repeat=1,
            r_warmup=False,
            r_timeout=None if quick else 600.0,
        ),
        Workload(
            name=f"perm_mods_{perms[0]}_k{k_small}",
            description=f"permutation test, {perms[0]:,} row permutations, REML meta-regression on x, k = {k_small}",
            make_data=lambda: sens_data(k_small, 2),
            python={"rlmeta": _perm(perms[0], "~ x")},
            r_code=f"p <- permutest(rma(yi, vi, mods = ~ x, data = dat), iter = {perms[0]}, progbar = FALSE)",
            repeat=3 if quick else 5,
            r_repeat=1,
            r_warmup=False,
        ),
    ]
    choices = _SMALL_CHOICES if quick else SPEC_CHOICES
    out.append(
        Workload(
            name=f"speccurve_{n_specs(choices)}",
            description=f"specification curve, {n_specs(choices):,} specifications on the bundled dataset",
            make_data=lambda: spec_data(quick),
            python={"rlmeta": _speccurve},
            repeat=1 if quick else 3,
            warmup=False,
            target=Target.under("spec curve >=1,000 specs on bundled data < 60 s", 60.0),
            notes={
                "rlmeta": "no peer: metafor, PyMARE and statsmodels have no specification curve"
            },
        )
    )
    return out
