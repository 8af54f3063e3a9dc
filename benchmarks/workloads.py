"""Benchmark workloads: the same generated data for rlmeta, PyMARE, statsmodels and metafor."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .runner import Target, Workload

__all__ = ["all_workloads"]


def _uni(k: int, seed: int = 1, tau2: float = 0.05) -> dict:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.2, k)
    yi = rng.normal(0.2, np.sqrt(vi + tau2))
    x1 = rng.normal(size=k)
    x2 = rng.uniform(0, 1, k)
    g = rng.choice(["a", "b", "c"], k)
    return {"frame": pd.DataFrame({"yi": yi, "vi": vi, "x1": x1, "x2": x2, "g": g})}


# ------------------------------------------------------------------ tool adapters
def _rlmeta_fit(full: bool, mods: str | None = None):
    def setup(d):
        import rlmeta as rm

        frame = d["frame"]

        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = rm.meta_analysis(frame, mods=mods)
                return res.to_dict() if full else res.beta

        return run

    return setup


def _pymare_fit(mods: bool = False):
    def setup(d):
        from pymare.estimators import VarianceBasedLikelihoodEstimator

        frame = d["frame"]
        y = frame[["yi"]].to_numpy()
        v = frame[["vi"]].to_numpy()
        if mods:
            import formulaic

            X = formulaic.model_matrix("x1 * C(g) + x2", frame).to_numpy(float)
        else:
            X = np.ones((len(frame), 1))

        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return VarianceBasedLikelihoodEstimator(method="REML").fit(y=y, v=v, X=X).params_

        return run

    return setup


def _statsmodels_fit(d):
    from statsmodels.stats.meta_analysis import combine_effects

    frame = d["frame"]
    y, v = frame["yi"].to_numpy(), frame["vi"].to_numpy()

    def run():
        return combine_effects(y, v, method_re="iterated")

    return run


def _batch_data(B: int = 1000, k: int = 20) -> dict:
    rng = np.random.default_rng(2)
    v = rng.uniform(0.02, 0.2, (B, k))
    y = rng.normal(0.1, np.sqrt(v + 0.05))
    frame = pd.DataFrame({"id": np.repeat(np.arange(B), k), "yi": y.ravel(), "vi": v.ravel()})
    return {"frame": frame, "y": y, "v": v}


def _rlmeta_batch(d):
    from rlmeta.meta import fit_batch

    y, v = d["y"], d["v"]
    X = np.ones((y.shape[1], 1))
    return lambda: fit_batch(y, v, X, method="REML")


def _pymare_batch(d):
    from pymare.estimators import VarianceBasedLikelihoodEstimator

    y, v = d["y"].T, d["v"].T
    X = np.ones((y.shape[0], 1))

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return VarianceBasedLikelihoodEstimator(method="REML").fit(y=y, v=v, X=X).params_

    return run


def _statsmodels_batch(d):
    from statsmodels.stats.meta_analysis import combine_effects

    y, v = d["y"], d["v"]
    return lambda: [combine_effects(y[i], v[i], method_re="iterated") for i in range(y.shape[0])]


# ------------------------------------------------------------------ workloads
def engine_workloads(quick: bool = False) -> list[Workload]:
    sizes = (10, 100) if quick else (10, 100, 1_000, 10_000, 100_000)
    out = []
    for k in sizes:
        out.append(
            Workload(
                name=f"reml_k{k}",
                description=f"random-effects REML fit, k = {k:,}",
                make_data=lambda k=k: _uni(k),
                python={
                    "rlmeta": _rlmeta_fit(False),
                    "PyMARE": _pymare_fit(),
                    "statsmodels": _statsmodels_fit,
                },
                r_code="rma(yi, vi, data = dat, method = 'REML')",
                repeat=3 if quick else (7 if k <= 10_000 else 5),
                # rma() builds k x k matrices: about 3 s at k = 1,000, minutes at 10,000,
                # and 75 GB (an allocation error) at 100,000
                r_repeat=1 if k >= 10_000 else None,
                r_warmup=k < 1_000,
                r_timeout=240.0 if k >= 10_000 else None,
                target=Target.under("REML k=100,000 well under 100 ms", 0.1)
                if k == 100_000
                else None,
                notes={"statsmodels": "no REML: its closest estimator, Paule-Mandel ('iterated')"},
            )
        )
    k_full = 100 if quick else 1_000
    out.append(
        Workload(
            name=f"reml_full_k{k_full}",
            description=f"REML fit with full output (Q-profile CI of tau², I², H², prediction interval), k = {k_full:,}",
            make_data=lambda: _uni(k_full),
            python={"rlmeta": _rlmeta_fit(True), "PyMARE": _pymare_fit()},
            r_code="res <- rma(yi, vi, data = dat); ci <- confint(res); pr <- predict(res)",
            repeat=3 if quick else 7,
            r_warmup=quick,
            target=Target.ratio(
                ">=100x faster than rma() at k=1,000 with full output (Q-profile CI, PI, I²)", 100
            )
            if not quick
            else None,
            notes={
                "PyMARE": "estimates only: PyMARE has no prediction interval; its Q-profile CI is not timed"
            },
        )
    )
    B = 50 if quick else 1_000
    out.append(
        Workload(
            name=f"batch_{B}x20",
            description=f"{B:,} separate REML meta-analyses of k = 20 in one call",
            make_data=lambda: _batch_data(B, 20),
            python={
                "rlmeta": _rlmeta_batch,
                "PyMARE": _pymare_batch,
                "statsmodels": _statsmodels_batch,
            },
            r_code="lapply(split(dat, dat$id), function(d) rma(yi, vi, data = d, method = 'REML'))",
            repeat=3 if quick else 7,
            r_repeat=1 if not quick else 1,
            target=Target.under("1,000 batched k=20 well under 100 ms", 0.1) if not quick else None,
            notes={"statsmodels": "Paule-Mandel, one call per meta-analysis"},
        )
    )
    k_reg = 100 if quick else 1_000
    out.append(
        Workload(
            name=f"metareg_interactions_k{k_reg}",
            description=f"meta-regression yi ~ x1 * factor(g) + x2 (REML), k = {k_reg:,}",
            make_data=lambda: _uni(k_reg, seed=3),
            python={"rlmeta": _rlmeta_fit(True, "~ x1 * C(g) + x2"), "PyMARE": _pymare_fit(True)},
            r_code="res <- rma(yi, vi, mods = ~ x1 * factor(g) + x2, data = dat); pr <- predict(res)",
            repeat=3 if quick else 7,
            r_warmup=quick,
            notes={"PyMARE": "estimates only (no omnibus test, R², predictions)"},
        )
    )
    return out


def all_workloads(quick: bool = False) -> list[Workload]:
    """Every workload: the engine's, then multilevel, sensitivity, I/O and Dask."""
    out = engine_workloads(quick)
    from . import extra_workloads

    out.extend(extra_workloads.workloads(quick))
    return out
