"""Simulated hyper-parameter sweeps with known truth (for tests, tutorials and power checks).

:func:`simulate_sweep` draws a learning-rate x reward-calibration x seed x benchmark
sweep of an RL fine-tuning run, with benchmark accuracies observed as binomial counts
on ``n_items`` questions.  The generating model is on the logit scale:

.. math::

    \\eta_{s,b} = \\alpha_b + \\beta_x x_s + \\beta_m m_s + \\beta_{xm} x_s m_s + u_s,
    \\qquad u_s \\sim N(0, \\sigma_s^2),
    \\qquad \\log \\sigma_s = \\log \\sigma_0 + \\gamma \\, v_s,

where ``x = log10(learning_rate) - mean`` and ``m = reward_calibration - mean`` are
the centred grid values, ``u_s`` is the run's (training seed's) random effect, shared
by every benchmark the run is evaluated on, ``v`` is the centred variance predictor
(``x`` by default), and the number correct on benchmark ``b`` is
``Binomial(n_items_b, expit(eta))``.  The true values are returned in
``frame.attrs["truth"]`` so that tests can check that they are recovered.

Examples
--------
>>> from rlmeta.datasets.simulate import simulate_sweep
>>> sweep = simulate_sweep(n_seeds=3, seed=1)
>>> sweep.shape
(225, 13)
>>> sorted(sweep.attrs["truth"]["coef"])
['interaction', 'log10_learning_rate', 'reward_calibration']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from ..errors import DataError

__all__ = ["simulate_sweep", "DEFAULT_BENCHMARKS"]

#: Benchmark -> (accuracy of an average run at the centre of the grid, number of items).
DEFAULT_BENCHMARKS: dict[str, tuple[float, int]] = {
    "gsm8k": (0.62, 1319),
    "math500": (0.35, 500),
    "aime24": (0.12, 30),
}


def _check_positive(name: str, values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size < 1 or not np.all(np.isfinite(arr)):
        raise DataError(
            f"{name} must be a non-empty sequence of finite numbers, got {values!r}", column=name
        )
    return arr


def simulate_sweep(
    n_seeds: int = 5,
    learning_rates: Sequence[float] = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4),
    reward_calibration: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    benchmarks: Mapping[str, tuple[float, int]] | Sequence[str] | None = None,
    *,
    lr_effect: float = 0.25,
    calibration_effect: float = 0.4,
    interaction: float = 0.5,
    seed_sd: float = 0.2,
    variance_effect: float = 0.4,
    variance_by: str = "log10_learning_rate",
    n_items: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulate a tidy run-level table of an RL hyper-parameter sweep with known effects.

    Parameters
    ----------
    n_seeds
        Training seeds per hyper-parameter setting.
    learning_rates
        Learning-rate grid (positive; enters the model as centred ``log10``).
    reward_calibration
        Reward-calibration grid (any real values; enters centred).
    benchmarks
        Mapping ``name -> (centre accuracy, n_items)``, or a list of names taken from
        :data:`DEFAULT_BENCHMARKS`; default: all of them.
    lr_effect, calibration_effect, interaction
        True logit-scale coefficients of centred ``log10_learning_rate``, centred
        ``reward_calibration`` and their product.
    seed_sd
        Seed-to-seed SD of the run effect (logit scale) at the centre of the grid;
        0 gives pure binomial noise.
    variance_effect
        Change of ``log(seed SD)`` per unit of the centred ``variance_by`` column.
    variance_by
        ``"log10_learning_rate"`` (default) or ``"reward_calibration"``.
    n_items
        Override every benchmark's number of items (e.g. a huge value to make the
        binomial noise negligible).
    seed
        Seed of the random generator (results are reproducible).

    Returns
    -------
    pandas.DataFrame
        One row per setting x seed x benchmark with columns ``run_id, setting_id,
        seed, learning_rate, log10_learning_rate, reward_calibration, benchmark,
        n_items, n_correct, score`` (accuracy = n_correct / n_items), ``true_logit``
        (the run's eta), ``true_score`` (expit of it) and ``seed_sd`` (the true
        sigma_s).  ``attrs["truth"]`` holds ``coef`` (logit-scale coefficients of the
        *centred* predictors), ``intercepts`` (alpha_b), ``log_sd`` (``intercept`` =
        log sigma_0 and ``slope`` = gamma), ``centers`` (the means subtracted) and
        ``variance_by``.

    Examples
    --------
    >>> sweep = simulate_sweep(n_seeds=2, learning_rates=(1e-6, 1e-5), reward_calibration=(0.0, 1.0),
    ...                        benchmarks=["gsm8k"], seed=0)
    >>> sweep[["learning_rate", "reward_calibration", "seed"]].drop_duplicates().shape
    (8, 3)
    >>> sweep.attrs["truth"]["centers"]
    {'log10_learning_rate': -5.5, 'reward_calibration': 0.5}
    """
    if int(n_seeds) < 1:
        raise DataError(f"n_seeds must be >= 1, got {n_seeds}", column="n_seeds")
    lrs = _check_positive("learning_rates", learning_rates)
    if np.any(lrs <= 0):
        raise DataError("learning_rates must be positive", column="learning_rates")
    rcs = _check_positive("reward_calibration", reward_calibration)
    if benchmarks is None:
        bench = dict(DEFAULT_BENCHMARKS)
    elif isinstance(benchmarks, Mapping):
        bench = {str(k): (float(v[0]), int(v[1])) for k, v in benchmarks.items()}
    else:
        unknown = [b for b in benchmarks if b not in DEFAULT_BENCHMARKS]
        if unknown:
            raise DataError(
                f"unknown benchmark(s) {unknown}; pass a mapping name -> (accuracy, n_items) "
                f"or choose from {sorted(DEFAULT_BENCHMARKS)}",
                column="benchmarks",
            )
        bench = {b: DEFAULT_BENCHMARKS[b] for b in benchmarks}
    for name, (acc, n) in bench.items():
        if not 0 < acc < 1 or n < 1:
            raise DataError(
                f"benchmark {name!r}: accuracy must be in (0, 1) and n_items >= 1, got ({acc}, {n})"
            )
    if seed_sd < 0:
        raise DataError(f"seed_sd must be >= 0, got {seed_sd}", column="seed_sd")
    if variance_by not in ("log10_learning_rate", "reward_calibration"):
        raise DataError(
            f"variance_by must be 'log10_learning_rate' or 'reward_calibration', got {variance_by!r}",
            column="variance_by",
        )
    rng = np.random.default_rng(seed)

    log_lr = np.log10(lrs)
    centers = {"log10_learning_rate": float(log_lr.mean()), "reward_calibration": float(rcs.mean())}
    grid = pd.MultiIndex.from_product(
        [lrs, rcs, np.arange(int(n_seeds))], names=["lr", "rc", "seed"]
    )
    runs = grid.to_frame(index=False)
    x = np.log10(runs["lr"].to_numpy()) - centers["log10_learning_rate"]
    m = runs["rc"].to_numpy() - centers["reward_calibration"]
    v = x if variance_by == "log10_learning_rate" else m
    sd = seed_sd * np.exp(variance_effect * v)
    u = rng.normal(size=len(runs)) * sd  # one draw per run: shared by all its benchmarks
    fixed = lr_effect * x + calibration_effect * m + interaction * x * m

    frames = []
    for name, (acc, n) in bench.items():
        n_b = int(n_items) if n_items is not None else int(n)
        eta = logit(acc) + fixed + u
        k = rng.binomial(n_b, expit(eta))
        frames.append(
            pd.DataFrame(
                {
                    "run_id": [
                        f"lr={a:g}|rc={b:g}|seed={s}"
                        for a, b, s in zip(runs["lr"], runs["rc"], runs["seed"])
                    ],
                    "setting_id": [f"lr={a:g}|rc={b:g}" for a, b in zip(runs["lr"], runs["rc"])],
                    "seed": runs["seed"].to_numpy(),
                    "learning_rate": runs["lr"].to_numpy(),
                    "log10_learning_rate": np.log10(runs["lr"].to_numpy()),
                    "reward_calibration": runs["rc"].to_numpy(),
                    "benchmark": name,
                    "n_items": n_b,
                    "n_correct": k,
                    "score": k / n_b,
                    "true_logit": eta,
                    "true_score": expit(eta),
                    "seed_sd": sd,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out.attrs["truth"] = {
        "coef": {
            "log10_learning_rate": float(lr_effect),
            "reward_calibration": float(calibration_effect),
            "interaction": float(interaction),
        },
        "intercepts": {name: float(logit(acc)) for name, (acc, _) in bench.items()},
        "log_sd": {
            "intercept": float(np.log(seed_sd)) if seed_sd > 0 else float("-inf"),
            "slope": float(variance_effect),
        },
        "centers": centers,
        "variance_by": variance_by,
        "scale": "logit",
    }
    return out
