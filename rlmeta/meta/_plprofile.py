"""Profile-likelihood confidence interval for tau² (metafor's ``confint(type = "PL")``).

The bounds are the tau² values at which the likelihood-ratio statistic
``-2 (ll(tau²) - ll(tau²_hat))`` reaches the chi-square(1) quantile, with the fixed effects
profiled out (re-estimated at each tau²) and the model's own likelihood (ML or REML).
Search interval, bracketing and the root finder follow ``confint.rma.uni``: R's ``uniroot``
with its default tolerance on ``[min(0, tau²), tau²]`` and ``[tau², max(100, 10 tau²)]``,
a bound at an end of the interval when the statistic does not reach the quantile there.
Hand-written because the tolerance decides the last digits metafor reports.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._core import fit_batch
from ._zeroin import R_UNIROOT_TOL, zeroin

__all__ = ["profile_likelihood_ci"]


def profile_likelihood_ci(
    y: np.ndarray,
    v: np.ndarray,
    X: np.ndarray,
    tau2: float,
    method: str,
    level: float = 0.95,
    *,
    weights: np.ndarray | None = None,
    control=None,
    tau2_min: float | None = None,
    tau2_max: float | None = None,
    tol: float = R_UNIROOT_TOL,
    maxiter: int = 1000,
) -> dict[str, float | bool]:
    """Profile-likelihood CI of tau² for one model fitted with ``method`` (ML or REML).

    Returns ``low``, ``high`` and ``low_bounded`` / ``high_bounded`` (a bound at the end
    of the search interval, metafor's ``<`` / ``>``).

    Examples
    --------
    >>> import numpy as np
    >>> y, v = np.array([0.1, 0.5, -0.2, 0.8, 0.3]), np.array([0.02, 0.05, 0.03, 0.04, 0.02])
    >>> fit = fit_batch(y, v, np.ones((5, 1)), method="REML")
    >>> ci = profile_likelihood_ci(y, v, np.ones((5, 1)), float(fit.tau2[0]), "REML")
    >>> bool(ci["low"] < fit.tau2[0] < ci["high"])
    True
    """
    which = "ll_reml" if method == "REML" else "ll_ml"
    k = len(y)
    yb, vb = np.asarray(y, float)[None, :], np.asarray(v, float)[None, :]

    def ll(t: np.ndarray) -> np.ndarray:
        t = np.atleast_1d(np.asarray(t, float))
        B = len(t)
        fit = fit_batch(
            np.broadcast_to(yb, (B, k)),
            np.broadcast_to(vb, (B, k)),
            X,
            method=method,
            tau2=t,
            weights=weights,
            control=control,
        )
        return getattr(fit, which)

    ll_hat = float(ll(tau2)[0])
    objective = stats.chi2.ppf(level, 1)

    def g(t, active=None):
        return -2 * (ll(t) - ll_hat) - objective

    tmin = min(0.0, tau2) if tau2_min is None else float(tau2_min)
    tmax = max(100.0, 10 * tau2, 10 * tmin) if tau2_max is None else float(tau2_max)
    out: dict[str, float | bool] = {
        "low": np.nan,
        "high": np.nan,
        "low_bounded": False,
        "high_bounded": False,
    }
    g_at = float(g(tau2)[0])
    with np.errstate(all="ignore"):
        g_min = float(g(tmin)[0])
        if np.isfinite(g_min):
            if g_min < 0:
                out["low"], out["low_bounded"] = tmin, tmin > 0
            else:
                r, ok = zeroin(
                    g,
                    np.array([tmin]),
                    np.array([tau2]),
                    np.array([g_min]),
                    np.array([g_at]),
                    tol=tol,
                    maxiter=maxiter,
                )
                out["low"] = float(r[0]) if ok[0] else np.nan
        g_max = float(g(tmax)[0])
        if np.isfinite(g_max):
            if g_max < 0:
                out["high"], out["high_bounded"] = tmax, True
            else:
                r, ok = zeroin(
                    g,
                    np.array([tau2]),
                    np.array([tmax]),
                    np.array([g_at]),
                    np.array([g_max]),
                    tol=tol,
                    maxiter=maxiter,
                )
                out["high"] = float(r[0]) if ok[0] else np.nan
    return out
