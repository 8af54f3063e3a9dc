"""Speed-ups of the engine give bit-for-bit the results of the plain algorithm they replace."""

from __future__ import annotations

import numpy as np
import pytest

from rlmeta.meta import Control
from rlmeta.meta._core import _initial_he, _tau2_fisher, _tr_PD, _tr_PDPD, _wls


def _fisher_reference(method, ymc, v, X, m, k, p, con):
    """Fisher scoring with metafor's plain step halving (the loop before the speed-up)."""
    B = ymc.shape[0]
    if con.tau2_init is None:
        he, _, _ = _initial_he(ymc, v, X, m, k, p)
        t2 = np.maximum.reduce([np.zeros(B), np.nan_to_num(he, nan=0.0), np.full(B, con.tau2_min)])
    else:
        t2 = np.full(B, float(con.tau2_init))
    active = np.ones(B, dtype=bool)
    converged = np.ones(B, dtype=bool)
    iterations = np.zeros(B, dtype=int)
    it = 0
    while active.any():
        it += 1
        idx = np.flatnonzero(active)
        tt, mm, vv, yy, XX = t2[idx], m[idx], v[idx], ymc[idx], X[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            w = mm / (vv + tt[:, None])
            A, _, r = _wls(w, XX, yy)
            wr = w * r
            if method == "ML":
                adj = ((wr * wr).sum(-1) - w.sum(-1)) / (w * w).sum(-1)
            elif method == "REML":
                adj = ((wr * wr).sum(-1) - _tr_PD(w, XX, A, mm)) / _tr_PDPD(w, XX, A, mm, mm)
            else:
                kk = k[idx]
                adj = ((w * r * r).sum(-1) * kk / (kk - p) - kk) / w.sum(-1)
        adj = np.nan_to_num(adj * con.stepadj, nan=0.0)
        viol = tt + adj < con.tau2_min
        while viol.any():
            adj = np.where(viol, adj / 2, adj)
            viol = tt + adj < con.tau2_min
        new = tt + adj
        change = np.abs(new - tt)
        t2[idx] = new
        iterations[idx] = it
        still = change > con.threshold
        if it > con.maxiter:
            converged[idx[still]] = False
            break
        active[idx] = still
    return t2, converged, iterations


def _subsets(k: int, seed: int, tau2: float):
    """All subsets of ``k`` effects (many of them with tau² estimated at its bound)."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.3, k)
    yi = rng.normal(0.2, np.sqrt(vi + tau2))
    codes = np.arange(1, 2**k)
    m = ((codes[:, None] >> np.arange(k)) & 1).astype(float)
    m = m[m.sum(1) >= 3]
    B = len(m)
    y = np.where(m > 0, np.broadcast_to(yi, (B, k)), 0.0)
    v = np.where(m > 0, np.broadcast_to(vi, (B, k)), 1.0)
    kk = m.sum(1)
    ybar = (m * y).sum(1) / kk
    ymc = m * (y - ybar[:, None])
    X = np.broadcast_to(np.ones((k, 1)), (B, k, 1)) * m[..., None]
    return ymc, v, X, m, kk


@pytest.mark.parametrize("method", ["REML", "ML", "EB"])
@pytest.mark.parametrize(
    "control",
    [Control(), Control(tau2_min=0.01), Control(stepadj=0.5), Control(tau2_init=0.0)],
    ids=["default", "tau2_min", "stepadj", "init0"],
)
def test_step_halving_at_the_bound_is_bit_identical(method, control):
    ymc, v, X, m, k = _subsets(11, seed=3, tau2=0.02)
    ref = _fisher_reference(method, ymc, v, X, m, k, 1, control)
    got = _tau2_fisher(
        method, ymc, v, X, m, k, 1, control, False, None, [[] for _ in range(len(k))]
    )
    at_bound = ref[0] == control.tau2_min
    assert at_bound.sum() > 50  # the case the fast path handles is well represented
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_array_equal(got[2], ref[2])
