"""Q-profile confidence intervals for tau² (Viechtbauer 2007), batched.

The generalised Q statistic ``Q(tau²) = y' P(tau²) y`` is decreasing in tau²; the
CI collects the tau² values for which ``Q(tau²)`` lies between the chi-square
quantiles with ``k - p`` degrees of freedom.  Bounds and bracketing follow metafor's
``confint.rma.uni`` (search interval ``[min(0, tau²), max(100, 10 tau²)]``, R's
``uniroot`` tolerance), so truncated bounds are reported the same way.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._core import _wls
from ._zeroin import R_UNIROOT_TOL, zeroin

__all__ = ["qprofile_ci"]


def _q(t, y, v, X, m):
    w = m / (v + t[:, None])
    _, _, r = _wls(w, X, y)
    return (w * r * r).sum(-1)


def qprofile_ci(
    y: np.ndarray,
    v: np.ndarray,
    X: np.ndarray,
    mask: np.ndarray,
    tau2: np.ndarray,
    level: float = 0.95,
    *,
    tau2_min: float | None = None,
    tau2_max: float | None = None,
    tol: float = R_UNIROOT_TOL,
    maxiter: int = 1000,
) -> dict[str, np.ndarray]:
    """Q-profile CI of tau² for a batch of models.

    Returns a dict with ``low``, ``high`` (arrays) and ``low_bounded`` /
    ``high_bounded`` flags (true where the bound is the end of the search interval,
    metafor's ``<``/``>`` signs), plus ``converged``.
    """
    y = np.atleast_2d(y)
    v = np.atleast_2d(v)
    B, kk = y.shape
    X = np.asarray(X, float)
    if X.ndim == 2:
        X = np.broadcast_to(X, (B, *X.shape))
    m = np.broadcast_to(np.asarray(mask, float), (B, kk))
    y = np.where(m > 0, y, 0.0)
    v = np.where(m > 0, v, 1.0)
    X = np.where(m[..., None] > 0, X, 0.0)
    k = m.sum(-1)
    p = X.shape[-1]
    tau2 = np.asarray(tau2, float)
    tmin = np.minimum(0.0, tau2) if tau2_min is None else np.full(B, float(tau2_min))
    tmax = (
        np.maximum.reduce([np.full(B, 100.0), tau2 * 10, tmin * 10])
        if tau2_max is None
        else np.full(B, float(tau2_max))
    )
    df = np.maximum(k - p, 1)
    crit_u = stats.chi2.isf((1 - level) / 2, df)
    crit_l = stats.chi2.ppf((1 - level) / 2, df)
    q_max = _q(tmax, y, v, X, m)
    q_min = _q(tmin, y, v, X, m)
    low = np.full(B, np.nan)
    high = np.full(B, np.nan)
    low_b = np.zeros(B, bool)
    high_b = np.zeros(B, bool)
    ok = np.ones(B, bool)

    def solve(sel, target):
        idx = np.flatnonzero(sel)
        if idx.size == 0:
            return np.array([]), np.array([], bool)
        ys, vs, Xs, ms, ts = y[idx], v[idx], X[idx], m[idx], target[idx]

        def f(t, active):
            if active is None or active.all():
                return _q(t, ys, vs, Xs, ms) - ts
            out = np.zeros_like(t)
            out[active] = _q(t[active], ys[active], vs[active], Xs[active], ms[active]) - ts[active]
            return out

        return zeroin(
            f, tmin[idx], tmax[idx], q_min[idx] - ts, q_max[idx] - ts, tol=tol, maxiter=maxiter
        )

    # upper bound
    null = q_min < crit_l
    low[null] = tmin[null]
    high[null] = tmin[null]
    cap_u = ~null & (q_max > crit_l)
    high[cap_u] = tmax[cap_u]
    high_b |= cap_u
    need_u = ~null & ~cap_u
    root, conv = solve(need_u, crit_l)
    high[need_u] = root
    ok[need_u] &= conv
    # lower bound
    cap_all = q_max > crit_u
    low[cap_all] = tmax[cap_all]
    high[cap_all] = tmax[cap_all]
    low_b |= cap_all
    high_b |= cap_all
    at_min = ~cap_all & (q_min < crit_u)
    low[at_min] = tmin[at_min]
    need_l = ~cap_all & ~at_min
    root, conv = solve(need_l, crit_u)
    low[need_l] = root
    ok[need_l] &= conv
    return {
        "low": low,
        "high": high,
        "low_bounded": low_b,
        "high_bounded": high_b,
        "converged": ok,
        "null": null,
    }
