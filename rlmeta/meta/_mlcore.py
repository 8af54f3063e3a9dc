"""Structured (RE)ML engine for nested random-intercept models (metafor ``rma.mv`` parity).

The model is ``y = X b + sum_l Z_l u_l + e`` with ``u_l ~ N(0, sigma2_l I)`` for nested
grouping levels ``l = 0 (top), ..., L-1`` and ``e ~ N(0, V)``, ``V`` block-diagonal.  The
marginal covariance ``M = V + sum_l sigma2_l Z_l Z_l'`` is block-diagonal by top-level
group, and inside a group it is a *nest* of rank-one updates.  Inverting it with nested
Sherman-Morrison steps (Searle, Casella & McCulloch 1992, ch. 6; the same structure
lme4/nlme exploit) gives ``M^-1 A`` for any ``k x m`` matrix ``A`` in ``O(k m)``, so the
log-likelihood, its gradient and the average-information matrix never touch a ``k x k``
matrix.

Why hand-written: no Python library fits rma.mv's multilevel model; statsmodels'
``MixedLM`` has no known sampling variances, and a dense-matrix fit is O(k^3).

Units
-----
Effects whose sampling errors are correlated (a block of ``V``) must be handled densely.
The engine groups effects into *units*: single effects when ``V`` is diagonal, else the
connected components of ``V``'s blocks and the groups of the first level that does not
contain whole blocks.  Levels ``0..R-1`` (which contain whole units) are handled by the
nested recursion; levels ``R..L-1`` (inside units) by the dense unit inverses.  Units of
equal size are inverted in one batched call.

Recursion (for a level-``l`` group ``g`` with children ``h``, ``s = 1' M^-1 1``,
``t = 1' M^-1 A`` under the covariance without the levels above ``l``)::

    s~_g = sum_h s_h,  t~_g = sum_h t_h,   d_g = 1 + sigma2_l s~_g,  c_g = sigma2_l / d_g
    s_g = s~_g / d_g,  t_g = t~_g / d_g,   log|M| += log d_g

and for the rows of a unit ``u``: ``(M^-1 A)_u = M_u^-1 A_u - (M_u^-1 1) delta_u'`` with
``delta_u = sum_l c_{g_l(u)} beta_{l+1}(u) t~_{g_l(u)}``, ``beta_{l}(u) = prod_{j>=l} 1/d_{g_j(u)}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy import optimize
from scipy.sparse.csgraph import connected_components

from ..errors import ModelError

__all__ = ["Structure", "build_structure", "Factor", "Evaluation", "evaluate", "fit_sigma2"]

_LOG2PI = np.log(2 * np.pi)


# --------------------------------------------------------------------------- structure
@dataclass
class Batch:
    """Units of one size ``n``: their rows, sampling covariance and within-unit levels."""

    n: int
    units: np.ndarray  # (G,)
    rows: np.ndarray  # (G, n) effect indices, sorted within each unit
    V: np.ndarray  # (G, n, n)
    same: list[np.ndarray]  # per within-unit level: (G, n, n) 0/1 "same group"


@dataclass
class Structure:
    """The nesting of effects in groups and units (independent of the variance components)."""

    k: int
    L: int
    R: int
    codes: list[np.ndarray]
    ngroups: list[int]
    parent: list[np.ndarray | None]
    unit_of: np.ndarray
    nunits: int
    unit_anc: list[np.ndarray]
    agg: list[sp.csr_matrix]
    lev: list[sp.csr_matrix]
    group_unit: list[np.ndarray | None]
    batches: list[Batch]
    unit_mat: sp.csr_matrix | None = None
    diag_only: bool = field(default=False)


def _indicator(codes: np.ndarray, n: int) -> sp.csr_matrix:
    m = len(codes)
    return sp.csr_matrix((np.ones(m), (codes, np.arange(m))), shape=(n, m))


def _dense_codes(x: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, inv = np.unique(x, return_inverse=True)
    return inv.astype(np.int64), len(uniq)


def build_structure(
    codes: list[np.ndarray],
    vi: np.ndarray,
    blocks: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> Structure:
    """Build the nesting structure.

    Parameters
    ----------
    codes
        Per level (top first), an integer group code per effect; level ``l`` must be
        nested in level ``l-1`` (codes are made unique across the tree by the caller).
    vi
        Sampling variances (used when ``blocks`` is None).
    blocks
        Non-trivial blocks of ``V`` as ``(rows, matrix)``; effects outside any block
        are independent with variance ``vi``.
    """
    k = len(vi)
    L = len(codes)
    codes = [_dense_codes(np.asarray(c))[0] for c in codes]
    ngroups = [int(c.max()) + 1 if k else 0 for c in codes]
    parent: list[np.ndarray | None] = [None]
    for lvl in range(1, L):
        par = np.zeros(ngroups[lvl], dtype=np.int64)
        par[codes[lvl]] = codes[lvl - 1]
        parent.append(par)
    blocks = [
        (np.asarray(r, np.int64), np.asarray(b, float)) for r, b in (blocks or []) if len(r) > 1
    ]

    # R: number of top levels that contain every V block whole.
    R = L
    for lvl in range(L):
        if any(np.unique(codes[lvl][r]).size > 1 for r, _ in blocks):
            R = lvl
            break
    # Units: V blocks joined with the groups of level R (when R < L).
    if not blocks and R == L:
        unit_of = np.arange(k, dtype=np.int64)
    else:
        ii, jj = [], []
        for r, _ in blocks:
            ii.append(r[:-1])
            jj.append(r[1:])
        if R < L:
            order = np.argsort(codes[R], kind="stable")
            same = codes[R][order][1:] == codes[R][order][:-1]
            ii.append(order[:-1][same])
            jj.append(order[1:][same])
        ii_a = np.concatenate(ii) if ii else np.zeros(0, np.int64)
        jj_a = np.concatenate(jj) if jj else np.zeros(0, np.int64)
        graph = sp.csr_matrix((np.ones(len(ii_a)), (ii_a, jj_a)), shape=(k, k))
        _, lab = connected_components(graph, directed=False)
        unit_of = _dense_codes(lab)[0]
    nunits = int(unit_of.max()) + 1 if k else 0
    first = np.full(nunits, -1, dtype=np.int64)
    first[unit_of[::-1]] = np.arange(k)[::-1]
    unit_anc = [codes[lvl][first] for lvl in range(R)]
    agg = []
    for lvl in range(R):
        if lvl == R - 1:
            agg.append(_indicator(unit_anc[lvl], ngroups[lvl]))
        else:
            agg.append(_indicator(parent[lvl + 1], ngroups[lvl]))
    lev = [_indicator(codes[lvl], ngroups[lvl]) for lvl in range(L)]
    group_unit: list[np.ndarray | None] = []
    for lvl in range(L):
        if lvl < R:
            group_unit.append(None)
        else:
            gu = np.zeros(ngroups[lvl], dtype=np.int64)
            gu[codes[lvl]] = unit_of
            group_unit.append(gu)

    # Batches of equal-size units with their dense V and within-unit indicators.
    sizes = np.bincount(unit_of, minlength=nunits)
    order = np.lexsort((np.arange(k), unit_of))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pos = np.empty(k, dtype=np.int64)
    pos[order] = np.arange(k) - np.repeat(starts, sizes)
    batches = []
    batch_of = np.zeros(nunits, dtype=np.int64)
    index_in = np.zeros(nunits, dtype=np.int64)
    for n in np.unique(sizes):
        units = np.flatnonzero(sizes == n)
        rows = order[(starts[units][:, None] + np.arange(n)[None, :])]
        V = np.zeros((len(units), n, n))
        V[:, np.arange(n), np.arange(n)] = vi[rows]
        same = [
            (codes[lvl][rows][:, :, None] == codes[lvl][rows][:, None, :]).astype(float)
            for lvl in range(R, L)
        ]
        batch_of[units] = len(batches)
        index_in[units] = np.arange(len(units))
        batches.append(Batch(int(n), units, rows, V, same))
    for r, B in blocks:
        u = unit_of[r[0]]
        p_ = pos[r]
        batches[batch_of[u]].V[index_in[u]][np.ix_(p_, p_)] = B
    return Structure(
        k=k,
        L=L,
        R=R,
        codes=codes,
        ngroups=ngroups,
        parent=parent,
        unit_of=unit_of,
        nunits=nunits,
        unit_anc=unit_anc,
        agg=agg,
        lev=lev,
        group_unit=group_unit,
        batches=batches,
        unit_mat=None if nunits == k else _indicator(unit_of, nunits),
        diag_only=not blocks and R == L,
    )


# --------------------------------------------------------------------------- factorisation
class Factor:
    """``M(sigma2)`` factorised through the nesting; :meth:`solve` applies ``M^-1``."""

    def __init__(self, st: Structure, sigma2: np.ndarray):
        self.st = st
        s2 = np.asarray(sigma2, float)
        self.sigma2 = s2
        k = st.k
        self.w = np.empty(k)  # rows of M_u^-1 1 (unit-level)
        self.s_unit = np.empty(st.nunits)
        self.inv: list[np.ndarray] = []
        logdet = 0.0
        self.trace_inv = 0.0
        for b in st.batches:
            if b.n == 1:
                m = b.V[:, 0, 0] + s2[st.R :].sum()
                if np.any(m <= 0) or not np.all(np.isfinite(m)):
                    raise ModelError(
                        "the marginal variance of an effect is not positive (a sampling variance and "
                        "every variance component are 0)"
                    )
                inv = 1.0 / m
                self.w[b.rows[:, 0]] = inv
                self.s_unit[b.units] = inv
                logdet += np.log(m).sum()
                self.trace_inv += inv.sum()
                self.inv.append(inv[:, None, None])
                continue
            M = b.V.copy()
            for j, lvl in enumerate(range(st.R, st.L)):
                if s2[lvl] != 0:
                    M += s2[lvl] * b.same[j]
            try:
                C = np.linalg.cholesky(M)
            except np.linalg.LinAlgError as exc:
                raise ModelError(
                    "the marginal variance-covariance matrix is not positive definite in some cluster "
                    "(check V: is every block positive definite?)"
                ) from exc
            logdet += 2 * np.log(np.diagonal(C, axis1=1, axis2=2)).sum()
            Ci = np.linalg.inv(C)
            inv = np.einsum("gji,gjk->gik", Ci, Ci)
            self.inv.append(inv)
            wb = inv.sum(-1)
            self.w[b.rows] = wb
            self.s_unit[b.units] = wb.sum(-1)
            self.trace_inv += np.trace(inv, axis1=1, axis2=2).sum()
        # bottom-up over the recursion levels
        R = st.R
        self.s_tilde: list[np.ndarray] = [None] * R  # type: ignore[list-item]
        self.d: list[np.ndarray] = [None] * R  # type: ignore[list-item]
        self.c: list[np.ndarray] = [None] * R  # type: ignore[list-item]
        self.s_post: list[np.ndarray] = [None] * R  # type: ignore[list-item]
        child = self.s_unit
        for lvl in range(R - 1, -1, -1):
            st_ = st.agg[lvl] @ child
            d = 1.0 + s2[lvl] * st_
            self.s_tilde[lvl], self.d[lvl] = st_, d
            self.c[lvl] = s2[lvl] / d
            self.s_post[lvl] = st_ / d
            logdet += np.log(d).sum()
            child = self.s_post[lvl]
        self.logdet = float(logdet)
        # per-unit coefficients of the top-down correction and kappa (M^-1_uu = M_u^-1 - kappa w w')
        beta = np.ones(st.nunits)
        self.kappa = np.zeros(st.nunits)
        self.delta_coef: list[np.ndarray] = [None] * R  # type: ignore[list-item]
        for lvl in range(R - 1, -1, -1):
            g = st.unit_anc[lvl]
            cg = self.c[lvl][g]
            self.kappa += cg * beta**2
            self.delta_coef[lvl] = cg * beta
            beta = beta / self.d[lvl][g]

    def trace_full(self) -> float:
        """``tr(M^-1)`` (the unit inverses less their rank-one corrections)."""
        return float(
            self.trace_inv - np.sum(self.kappa * _unit_sum(self.st, self.w[:, None] ** 2)[:, 0])
        )

    def solve(self, A: np.ndarray) -> np.ndarray:
        """``M^-1 A`` for ``A`` of shape ``(k, m)``."""
        st = self.st
        A = np.asarray(A, float)
        if st.unit_mat is None:  # every unit is one effect: M_u^-1 A_u is a row scaling
            out = A * self.w[:, None]
        else:
            out = self._solve_units(A)
        if st.R == 0:
            return out
        t_unit = _unit_sum(st, self.w[:, None] * A)
        child = t_unit
        delta = np.zeros((st.nunits, A.shape[1]))
        for lvl in range(st.R - 1, -1, -1):
            tt = st.agg[lvl] @ child
            delta += self.delta_coef[lvl][:, None] * tt[st.unit_anc[lvl]]
            child = tt / self.d[lvl][:, None]
        out -= self.w[:, None] * delta[st.unit_of]
        return out

    def _solve_units(self, A: np.ndarray) -> np.ndarray:
        st = self.st
        out = np.empty_like(A)
        for b, inv in zip(st.batches, self.inv):
            if b.n == 1:
                out[b.rows[:, 0]] = A[b.rows[:, 0]] * inv[:, 0, :]
            else:
                out[b.rows] = np.einsum("gij,gjm->gim", inv, A[b.rows])
        return out

    def group_quad(self, lvl: int) -> np.ndarray:
        """``1_g' M^-1 1_g`` for every group ``g`` of level ``lvl``."""
        st = self.st
        if lvl < st.R:
            a = self.s_post[lvl].copy()
            b = a.copy()
            anc = np.arange(st.ngroups[lvl])
            for j in range(lvl - 1, -1, -1):
                anc = st.parent[j + 1][anc]
                a -= self.c[j][anc] * b**2
                b = b / self.d[j][anc]
            return a
        j = lvl - st.R
        rho = np.empty(st.k)
        for b, inv in zip(st.batches, self.inv):
            if b.n == 1:
                rho[b.rows[:, 0]] = inv[:, 0, 0]
            else:
                rho[b.rows] = (inv * b.same[j]).sum(-1)
        quad = np.bincount(st.codes[lvl], weights=rho, minlength=st.ngroups[lvl])
        wsum = np.bincount(st.codes[lvl], weights=self.w, minlength=st.ngroups[lvl])
        return quad - self.kappa[st.group_unit[lvl]] * wsum**2


def _unit_sum(st: Structure, A: np.ndarray) -> np.ndarray:
    if st.unit_mat is None:  # one effect per unit
        out = np.empty((st.nunits, A.shape[1]))
        out[st.unit_of] = A
        return out
    return st.unit_mat @ A


# --------------------------------------------------------------------------- likelihood
@dataclass
class Evaluation:
    """Everything the fit and the result need at one value of ``sigma2``."""

    sigma2: np.ndarray
    factor: Factor
    MiX: np.ndarray
    F: np.ndarray  # (X' M^-1 X)^-1
    beta: np.ndarray
    Py: np.ndarray
    rss: float
    ll_ml: float
    ll_reml: float
    grad: np.ndarray | None = None
    info: np.ndarray | None = None

    def ll(self, method: str) -> float:
        return self.ll_reml if method == "REML" else self.ll_ml


def _logdet_pd(S: np.ndarray) -> float:
    sign, ld = np.linalg.slogdet(S)
    return float(ld) if sign > 0 else np.nan


def evaluate(
    st: Structure,
    X: np.ndarray,
    y: np.ndarray,
    sigma2: np.ndarray,
    method: str,
    *,
    grad: bool = False,
    info: bool = False,
    logdet_xtx: float = 0.0,
) -> Evaluation:
    """Log-likelihoods (ML and REML), optionally the gradient and average information."""
    fac = Factor(st, sigma2)
    p = X.shape[1]
    MiA = fac.solve(np.column_stack([X, y]))
    MiX, Miy = MiA[:, :p], MiA[:, p]
    XtMiX = X.T @ MiX
    XtMiX = (XtMiX + XtMiX.T) / 2
    try:
        F = np.linalg.inv(XtMiX)
    except np.linalg.LinAlgError as exc:
        raise ModelError("X' M^-1 X is singular; the fixed effects are not estimable") from exc
    beta = F @ (X.T @ Miy)
    Py = Miy - MiX @ beta
    rss = float(y @ Py)
    k = st.k
    ll_ml = -0.5 * (k * _LOG2PI + fac.logdet + rss)
    ll_reml = -0.5 * ((k - p) * _LOG2PI - logdet_xtx + fac.logdet + _logdet_pd(XtMiX) + rss)
    ev = Evaluation(np.asarray(sigma2, float).copy(), fac, MiX, F, beta, Py, rss, ll_ml, ll_reml)
    if grad or info:
        g = np.zeros(st.L)
        Q = np.zeros((k, st.L))
        for lvl in range(st.L):
            h = st.lev[lvl] @ Py
            a = fac.group_quad(lvl)
            if method == "REML":
                rX = st.lev[lvl] @ MiX
                tr = a.sum() - np.einsum("gi,ij,gj->", rX, F, rX)
            else:
                tr = a.sum()
            g[lvl] = 0.5 * (h @ h - tr)
            Q[:, lvl] = h[st.codes[lvl]]
        ev.grad = g
        if info:
            MiQ = fac.solve(Q)
            if method == "REML":
                MiQ = MiQ - MiX @ (F @ (X.T @ MiQ))
            H = 0.5 * Q.T @ MiQ
            ev.info = (H + H.T) / 2
    return ev


def level_stats(ev: Evaluation, st: Structure, lvl: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group of ``lvl``: ``1_g' P y`` and ``1_g' P 1_g`` (for BLUPs and their variances)."""
    h = st.lev[lvl] @ ev.Py
    rX = st.lev[lvl] @ ev.MiX
    dP = ev.factor.group_quad(lvl) - np.einsum("gi,ij,gj->g", rX, ev.F, rX)
    return h, dP


# --------------------------------------------------------------------------- optimiser
@dataclass
class FitInfo:
    sigma2: np.ndarray
    evaluation: Evaluation
    converged: bool
    iterations: int
    messages: list[str]
    optimizer: str


def fit_sigma2(
    st: Structure,
    X: np.ndarray,
    y: np.ndarray,
    method: str,
    init: np.ndarray,
    fixed: np.ndarray,
    *,
    tol: float = 1e-10,
    maxiter: int = 200,
    logdet_xtx: float = 0.0,
) -> FitInfo:
    """Maximise the (restricted) likelihood over ``sigma2 >= 0``.

    Projected Newton steps with the average-information matrix (Gilmour, Thompson &
    Cullis 1995) and step halving; components at 0 with a non-positive gradient are held
    at the boundary.  Falls back to L-BFGS-B (then polishes with Newton) when a line
    search fails.  ``fixed`` holds NaN for free components and the value otherwise.
    """
    free0 = np.isnan(fixed)
    theta = np.where(free0, np.maximum(init, 0.0), fixed)

    def ev_at(t, info=True):
        return evaluate(st, X, y, t, method, grad=True, info=info, logdet_xtx=logdet_xtx)

    ev = ev_at(theta)
    msgs: list[str] = []
    if not free0.any():
        return FitInfo(theta, ev, True, 0, msgs, "none")
    scale = max(float(np.max(theta[free0])) if free0.any() else 0.0, 1e-8)
    converged, it, used = False, 0, "newton-ai"
    while it < maxiter:
        it += 1
        theta, ev, status = _newton_step(ev_at, ev, theta, free0, scale, tol, method)
        if status == "converged":
            converged = True
            break
        if status == "failed":
            break
        scale = max(scale, float(np.max(theta[free0])))
    if not converged:
        used = "l-bfgs-b"
        theta, ev, ok = _lbfgs(st, X, y, method, theta, free0, ev_at, logdet_xtx)
        for _ in range(50):  # polish
            theta, ev, status = _newton_step(ev_at, ev, theta, free0, scale, tol, method)
            if status != "step":
                break
        converged = status == "converged" or ok
        if not converged:
            msgs.append(
                "optimiser did not converge: the variance components may be imprecise "
                "(try control={'sigma2_init': [...]})"
            )
    return FitInfo(theta, ev, converged, it, msgs, used)


def _newton_step(ev_at, ev, theta, free0, scale, tol, method):
    g = ev.grad
    free = free0 & ~((theta <= 0) & (g <= 0))
    if not free.any():
        return theta, ev, "converged"
    H = ev.info[np.ix_(free, free)]
    H = H + np.eye(len(H)) * 1e-12 * max(np.trace(H), 1e-300)
    try:
        step = np.linalg.solve(H, g[free])
    except np.linalg.LinAlgError:
        step = g[free] * scale**2
    if not np.all(np.isfinite(step)) or step @ g[free] <= 0:
        step = g[free] * scale**2
    delta = np.zeros_like(theta)
    delta[free] = step
    t = 1.0
    base = ev.ll(method)
    for _ in range(60):
        new = np.where(free, np.maximum(theta + t * delta, 0.0), theta)
        try:
            ev_new = ev_at(new)
            ok = np.isfinite(ev_new.ll(method)) and ev_new.ll(method) >= base - 1e-12 * (
                1 + abs(base)
            )
        except ModelError:
            ok = False
        if ok:
            change = np.max(np.abs(new - theta))
            if change <= tol * (scale + np.max(np.abs(theta))):
                return new, ev_new, "converged"
            return new, ev_new, "step"
        t /= 2
    return theta, ev, "failed"


def _lbfgs(st, X, y, method, theta, free, ev_at, logdet_xtx):
    idx = np.flatnonzero(free)

    def fun(z):
        t = theta.copy()
        t[idx] = z
        try:
            e = evaluate(st, X, y, t, method, grad=True, logdet_xtx=logdet_xtx)
        except ModelError:
            return np.inf, np.zeros(len(idx))
        return -e.ll(method), -e.grad[idx]

    res = optimize.minimize(
        fun,
        theta[idx],
        jac=True,
        method="L-BFGS-B",
        bounds=[(0, None)] * len(idx),
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000},
    )
    t = theta.copy()
    t[idx] = res.x
    return t, ev_at(t), bool(res.success)
