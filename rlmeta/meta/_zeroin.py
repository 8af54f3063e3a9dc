"""Brent's root finder ("zeroin"), vectorised over a batch of independent problems.

Hand-written on purpose: metafor finds the PM/PMM estimate of tau² and the Q-profile
confidence limits with R's ``uniroot`` and a loose tolerance (``eps**0.25``), so the
value it reports is wherever Brent's algorithm stops.  Following the same published
algorithm (Brent 1973, *Algorithms for Minimization without Derivatives*, ch. 4) with
the same tolerance rule reproduces metafor's numbers far beyond that tolerance, and
running the iterations in lock-step over a batch keeps sweeps (leave-one-out, GOSH,
permutations) identical to single fits.  ``scipy.optimize.brentq`` is not vectorised
and differs in its stopping rule.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["zeroin", "R_UNIROOT_TOL"]

#: R's default ``uniroot`` tolerance, ``.Machine$double.eps^0.25``.
R_UNIROOT_TOL = np.finfo(float).eps ** 0.25
_EPS = np.finfo(float).eps


def zeroin(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    lower: np.ndarray,
    upper: np.ndarray,
    f_lower: np.ndarray,
    f_upper: np.ndarray,
    *,
    tol: float = R_UNIROOT_TOL,
    maxiter: int = 1000,
) -> tuple[np.ndarray, np.ndarray]:
    """Find roots of ``f`` in ``[lower, upper]`` for a batch of problems.

    Parameters
    ----------
    f
        ``f(x, active)`` returns f at ``x`` (shape ``(B,)``); ``active`` marks the
        problems still iterating (others may be skipped and their value ignored).
    lower, upper, f_lower, f_upper
        Brackets and function values at them; each problem needs a sign change.
    tol, maxiter
        As in R's ``uniroot``.

    Returns
    -------
    root, converged
        Arrays of shape ``(B,)``.

    Examples
    --------
    >>> import numpy as np
    >>> g = lambda x, active: x**2 - np.array([2.0, 9.0])
    >>> lo, hi = np.zeros(2), np.full(2, 5.0)
    >>> root, ok = zeroin(g, lo, hi, g(lo, None), g(hi, None), tol=1e-12)
    >>> np.round(root, 10).tolist(), ok.tolist()
    ([1.4142135624, 3.0], [True, True])
    """
    a = np.array(lower, dtype=float, copy=True)
    b = np.array(upper, dtype=float, copy=True)
    fa = np.array(f_lower, dtype=float, copy=True)
    fb = np.array(f_upper, dtype=float, copy=True)
    c, fc = a.copy(), fa.copy()
    root = np.full(a.shape, np.nan)
    converged = np.zeros(a.shape, dtype=bool)

    # A root at an end point is returned as is.
    at_a = fa == 0
    at_b = (fb == 0) & ~at_a
    root[at_a], root[at_b] = a[at_a], b[at_b]
    converged |= at_a | at_b
    active = ~converged & np.isfinite(fa) & np.isfinite(fb)

    for _ in range(maxiter + 1):
        if not active.any():
            break
        prev_step = b - a
        swap = active & (np.abs(fc) < np.abs(fb))
        a = np.where(swap, b, a)
        b = np.where(swap, c, b)
        c = np.where(swap, a, c)
        fa = np.where(swap, fb, fa)
        fb = np.where(swap, fc, fb)
        fc = np.where(swap, fa, fc)

        tol_act = 2 * _EPS * np.abs(b) + tol / 2
        new_step = (c - b) / 2
        done = active & ((np.abs(new_step) <= tol_act) | (fb == 0))
        root[done] = b[done]
        converged |= done
        active &= ~done
        if not active.any():
            break

        # Interpolation (secant with two points, inverse quadratic with three).
        interp = active & (np.abs(prev_step) >= tol_act) & (np.abs(fa) > np.abs(fb))
        cb = c - b
        with np.errstate(divide="ignore", invalid="ignore"):
            t1_lin = fb / fa
            p_lin = cb * t1_lin
            q_lin = 1.0 - t1_lin
            q0 = fa / fc
            t1 = fb / fc
            t2 = fb / fa
            p_quad = t2 * (cb * q0 * (q0 - t1) - (b - a) * (t1 - 1.0))
            q_quad = (q0 - 1.0) * (t1 - 1.0) * (t2 - 1.0)
        two_points = a == c
        p = np.where(two_points, p_lin, p_quad)
        q = np.where(two_points, q_lin, q_quad)
        q = np.where(p > 0, -q, q)
        p = np.abs(p)
        accept = (
            interp
            & (p < (0.75 * cb * q - np.abs(tol_act * q) / 2))
            & (p < np.abs(prev_step * q / 2))
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            new_step = np.where(accept, p / q, new_step)
        small = np.abs(new_step) < tol_act
        new_step = np.where(small, np.where(new_step > 0, tol_act, -tol_act), new_step)

        a = np.where(active, b, a)
        fa = np.where(active, fb, fa)
        b = np.where(active, b + new_step, b)
        fnew = np.asarray(f(b, active), dtype=float)
        fb = np.where(active, fnew, fb)
        same_sign = active & (((fb > 0) & (fc > 0)) | ((fb < 0) & (fc < 0)))
        c = np.where(same_sign, a, c)
        fc = np.where(same_sign, fa, fc)

    root[active] = b[active]  # not converged: last iterate, flagged
    return root, converged
