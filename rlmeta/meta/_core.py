"""Batched fixed- and random-effects meta-regression (the engine behind ``meta_analysis``).

Every function here works on a *batch* of ``B`` meta-analyses at once: effect sizes
``y`` and variances ``v`` of shape ``(B, k)``, a design ``X`` of shape ``(k, p)`` or
``(B, k, p)`` and an inclusion ``mask`` of shape ``(B, k)``.  Excluded entries get
weight zero, so leave-one-out, GOSH subsets and permutations are just masks or
re-ordered copies fed through the same code.

Why hand-written: no Python library fits the eleven tau² estimators of metafor
with its exact iteration rules, and none does so batched.  The algorithms follow
metafor's ``rma.uni`` (Viechtbauer 2010, *J Stat Softw* 36(3)) step by step:
Fisher scoring started at the Hedges (HE) estimate with step halving and a
1e-5 change threshold for ML/REML/EB, Brent's method on the generalised Q for
PM/PMM, closed forms otherwise.  Following the same steps is what makes results
agree with metafor beyond its own convergence tolerance.

No ``k x k`` matrix is ever formed: with a diagonal weight matrix ``W`` and
``P = W - W X (X'WX)^-1 X'W``, every trace the estimators need reduces to
``p x p`` products (see :func:`_tr_PD` and :func:`_tr_PDPD`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ._zeroin import R_UNIROOT_TOL, zeroin

__all__ = ["Control", "BatchFit", "fit_batch", "TAU2_METHODS", "FIXED_METHODS", "TESTS"]

#: Random-effects estimators of tau².
TAU2_METHODS = ("DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM", "GENQ")
#: Names accepted for the equal/fixed/common-effect model.
FIXED_METHODS = ("EE", "FE", "CE")
#: Inference choices for the fixed effects.
TESTS = ("z", "t", "knha", "adhoc")

_LOG2PI = np.log(2 * np.pi)


@dataclass(frozen=True)
class Control:
    """Iteration controls (names and defaults as metafor's ``control=``).

    ``threshold`` is the change in tau² below which Fisher scoring stops; ``tol``
    and ``maxiter_root`` are the root finder's tolerance and iteration limit;
    ``tau2_max`` is the upper end of the PM/PMM search (default as metafor:
    ``max(100, 10 * mad(yi)**2)``); ``ll0check`` resets ML/REML to tau² = 0 when
    the likelihood is larger there.
    """

    threshold: float = 1e-5
    maxiter: int = 100
    tol: float = R_UNIROOT_TOL
    maxiter_root: int = 100
    tau2_init: float | None = None
    tau2_min: float = 0.0
    tau2_max: float | None = None
    stepadj: float = 1.0
    ll0check: bool = True
    evtol: float = 1e-7

    @classmethod
    def from_mapping(cls, control: dict | None) -> Control:
        if control is None:
            return cls()
        if isinstance(control, Control):
            return control
        aliases = {"tau2.init": "tau2_init", "tau2.min": "tau2_min", "tau2.max": "tau2_max"}
        kw = {aliases.get(k, k): v for k, v in dict(control).items()}
        unknown = set(kw) - set(cls.__dataclass_fields__)
        if unknown:
            from ..errors import ModelError

            raise ModelError(
                f"unknown control option(s) {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}"
            )
        return cls(**kw)


@dataclass
class BatchFit:
    """Arrays describing ``B`` fitted models (index 0 for a single fit)."""

    method: str
    test: str
    level: float
    k: np.ndarray
    p: int
    tau2: np.ndarray
    se_tau2: np.ndarray
    beta: np.ndarray
    vb: np.ndarray
    s2w: np.ndarray
    ddf: np.ndarray
    qe: np.ndarray
    qe_p: np.ndarray
    vt: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    ll_ml: np.ndarray
    ll_reml: np.ndarray
    dev_ml: np.ndarray
    dev_reml: np.ndarray
    parms: int
    converged: np.ndarray
    iterations: np.ndarray
    allvipos: np.ndarray
    tau2_fixed: bool
    messages: list[list[str]] = field(default_factory=list)

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diagonal(self.vb, axis1=-2, axis2=-1))

    def crit(self, level: float | None = None) -> np.ndarray:
        """Critical value per model: t(k-p) under t/knha/adhoc, normal otherwise."""
        lvl = self.level if level is None else level
        if self.test in ("t", "knha", "adhoc"):
            with np.errstate(invalid="ignore"):
                return np.where(
                    self.ddf > 0, stats.t.ppf(0.5 + lvl / 2, np.maximum(self.ddf, 1)), np.nan
                )
        return np.full(self.k.shape, stats.norm.ppf(0.5 + lvl / 2))

    def fit_stats(self, which: str) -> dict[str, np.ndarray]:
        """logLik, deviance, AIC, BIC, AICc under ``ML`` or ``REML`` (metafor's definitions)."""
        k = self.k.astype(float)
        parms = float(self.parms)
        if which == "ML":
            ll, dev, n = self.ll_ml, self.dev_ml, k
        else:
            ll, dev, n = self.ll_reml, self.dev_reml, k - self.p
        aic = -2 * ll + 2 * parms
        with np.errstate(divide="ignore", invalid="ignore"):
            bic = -2 * ll + parms * np.log(n)
            m = np.maximum(n, parms + 2)
            aicc = -2 * ll + 2 * parms * m / (m - parms - 1)
        return {"loglik": ll, "deviance": dev, "aic": aic, "bic": bic, "aicc": aicc}


# --------------------------------------------------------------------------- linear algebra
def _xtdx(X: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``X' diag(d) X`` for a batch: X (B,k,p), d (B,k) -> (B,p,p).

    Plain ``einsum`` without path optimisation: measured fastest for both one long
    batch and many short ones (``optimize=True`` and ``matmul`` fall back to slow
    paths for some of these shapes, e.g. a 1 x k by k x 1 product).
    """
    return np.einsum("bkp,bk,bkq->bpq", X, d, X)


def _inv(S: np.ndarray) -> np.ndarray:
    """Batched inverse; singular blocks become NaN instead of raising."""
    try:
        return np.linalg.inv(S)
    except np.linalg.LinAlgError:
        out = np.full_like(S, np.nan)
        for i in range(S.shape[0]):
            try:
                out[i] = np.linalg.inv(S[i])
            except np.linalg.LinAlgError:
                pass
        return out


def _wls(w: np.ndarray, X: np.ndarray, y: np.ndarray):
    """Weighted least squares: ``A = (X'WX)^-1``, beta, residuals."""
    A = _inv(_xtdx(X, w))
    beta = np.einsum("bpq,bq->bp", A, np.einsum("bkp,bk->bp", X, w * y))
    r = y - np.einsum("bkp,bp->bk", X, beta)
    return A, beta, r


def _tr(M: np.ndarray) -> np.ndarray:
    return np.trace(M, axis1=-2, axis2=-1)


def _tr_PD(w, X, A, d):
    """``tr(P D)`` for diagonal ``D = diag(d)`` and ``P = W - W X A X' W``."""
    return (w * d).sum(-1) - _tr(A @ _xtdx(X, w * w * d))


def _tr_PDPD(w, X, A, d1, d2):
    """``tr(P D1 P D2)`` for diagonal ``D1, D2`` without forming P."""
    s1 = _xtdx(X, w * w * d1)
    s2 = _xtdx(X, w * w * d2)
    s3 = _xtdx(X, w * w * w * d1 * d2)  # not w**3: numpy pow is ~3x slower here
    return (w * w * d1 * d2).sum(-1) - 2 * _tr(A @ s3) + _tr(A @ s1 @ A @ s2)


def _logdet(S: np.ndarray) -> np.ndarray:
    sign, ld = np.linalg.slogdet(S)
    return np.where(sign > 0, ld, np.nan)


# --------------------------------------------------------------------------- estimators
def _qgen(tau2, y, v, X, m):
    """Generalised Q: ``y' P(tau2) y`` with weights ``1/(v + tau2)`` (masked)."""
    w = m / (v + tau2[:, None])
    _, _, r = _wls(w, X, y)
    return (w * r * r).sum(-1)


def _mad(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    """R's ``mad`` (constant 1.4826) over the included entries of each row."""
    yy = np.where(m > 0, y, np.nan)
    med = np.nanmedian(yy, axis=1)
    return 1.4826 * np.nanmedian(np.abs(yy - med[:, None]), axis=1)


def _initial_he(ymc, v, X, m, k, p):
    ones = m
    A, _, r = _wls(ones, X, ymc)
    rss = (ones * r * r).sum(-1)
    trPV = _tr_PD(ones, X, A, v)
    return (rss - trPV) / (k - p), A, trPV


@np.errstate(divide="ignore", invalid="ignore", over="ignore")
def fit_batch(
    y: np.ndarray,
    v: np.ndarray,
    X: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    tau2: float | np.ndarray | None = None,
    weights: np.ndarray | None = None,
    control: Control | None = None,
) -> BatchFit:
    """Fit ``B`` meta-regressions at once.

    Parameters
    ----------
    y, v
        Effect sizes and sampling variances, shape ``(B, k)`` (or ``(k,)``).
    X
        Design matrix ``(k, p)`` shared by all models, or ``(B, k, p)``.
    mask
        ``(B, k)`` booleans, true where an effect is included (default: all).
    method
        ``"EE"``/``"FE"``/``"CE"`` or one of :data:`TAU2_METHODS`.
    test
        One of :data:`TESTS`.
    tau2
        Fix tau² at this value (scalar or ``(B,)``) instead of estimating it.
    weights
        User weights ``(B, k)`` or ``(k,)`` (required by GENQ).
    control
        :class:`Control` settings.

    Returns
    -------
    BatchFit
    """
    con = control or Control()
    y = np.atleast_2d(np.asarray(y, dtype=float))
    v = np.atleast_2d(np.asarray(v, dtype=float))
    B, kk = y.shape
    X = np.asarray(X, dtype=float)
    if X.ndim == 2:
        X = np.broadcast_to(X, (B, *X.shape))
    p = X.shape[-1]
    m = np.ones((B, kk)) if mask is None else np.asarray(mask, dtype=float)
    m = np.broadcast_to(m, (B, kk)).astype(float)
    # Excluded entries must not spread NaN through zero weights.
    y = np.where(m > 0, y, 0.0)
    v = np.where(m > 0, v, 1.0)
    X = np.where(m[..., None] > 0, X, 0.0)
    k = m.sum(-1)
    if weights is not None:
        aw = np.broadcast_to(np.asarray(weights, float), (B, kk))
        aw = np.where(m > 0, aw, 0.0)
    else:
        aw = None
    msgs: list[list[str]] = [[] for _ in range(B)]
    fixed_method = method in FIXED_METHODS
    tau2_fix = tau2 is not None and not fixed_method
    allvipos = ((v > 0) | (m == 0)).all(-1)

    ybar = (m * y).sum(-1) / np.maximum(k, 1)
    ymc = m * (y - ybar[:, None])
    converged = np.ones(B, dtype=bool)
    iterations = np.zeros(B, dtype=int)
    se_tau2 = np.full(B, np.nan)
    tmin = con.tau2_min

    def fixed(val):
        return np.broadcast_to(np.asarray(val, float), (B,)).copy()

    single = k == 1
    if fixed_method:
        t2 = np.zeros(B)
    elif method in ("HS", "HSk"):
        w = m / v
        A, _, r = _wls(w, X, ymc)
        rss = (w * r * r).sum(-1)
        sw = w.sum(-1)
        if method == "HS":
            t2 = fixed(tau2) if tau2_fix else (rss - k) / sw
        else:
            t2 = fixed(tau2) if tau2_fix else (k / (k - p) * rss - k) / sw
        t2 = np.maximum(tmin, t2)
        trP = _tr_PD(w, X, A, m)
        trPP = _tr_PDPD(w, X, A, m, m)
        tp = np.maximum(t2, 0)
        se_tau2 = np.sqrt((2 * (k - p) + 4 * tp * trP + 2 * tp**2 * trPP) / sw**2)
        if method == "HSk":
            se_tau2 *= k / (k - p)
    elif method == "HE":
        t2, A, trPV = _initial_he(ymc, v, X, m, k, p)
        if tau2_fix:
            t2 = fixed(tau2)
        t2 = np.maximum(tmin, t2)
        tp = np.maximum(t2, 0)
        trPVPV = _tr_PDPD(m, X, A, v, v)
        se_tau2 = np.sqrt((2 * trPVPV + 4 * tp * trPV + 2 * tp**2 * (k - p)) / (k - p) ** 2)
    elif method == "DL":
        w = m / v
        A, _, r = _wls(w, X, ymc)
        rss = (w * r * r).sum(-1)
        trP = _tr_PD(w, X, A, m)
        t2 = fixed(tau2) if tau2_fix else (rss - (k - p)) / trP
        t2 = np.maximum(tmin, t2)
        tp = np.maximum(t2, 0)
        trPP = _tr_PDPD(w, X, A, m, m)
        se_tau2 = np.sqrt((2 * (k - p) + 4 * tp * trP + 2 * tp**2 * trPP) / trP**2)
    elif method == "GENQ":
        if aw is None:
            from ..errors import ModelError

            raise ModelError(
                "method='GENQ' needs weights=... (e.g. the inverse sampling variances 1/vi)"
            )
        A, _, r = _wls(aw, X, ymc)
        rss = (aw * r * r).sum(-1)
        trP = _tr_PD(aw, X, A, m)
        trPV = _tr_PD(aw, X, A, v)
        t2 = fixed(tau2) if tau2_fix else (rss - trPV) / trP
        t2 = np.maximum(tmin, t2)
        tp = np.maximum(t2, 0)
        se_tau2 = np.sqrt(
            (
                2 * _tr_PDPD(aw, X, A, v, v)
                + 4 * tp * _tr_PDPD(aw, X, A, v, m)
                + 2 * tp**2 * _tr_PDPD(aw, X, A, m, m)
            )
            / trP**2
        )
    elif method == "SJ":
        t0 = (ymc * ymc).sum(-1) / k if con.tau2_init is None else fixed(con.tau2_init)
        w = m / (v + t0[:, None])
        A, _, r = _wls(w, X, ymc)
        rss = (w * r * r).sum(-1)
        t2 = fixed(tau2) if tau2_fix else t0 * rss / (k - p)
        t2 = np.maximum(tmin, t2)
        tp = np.maximum(t2, 0)
        se_tau2 = np.sqrt(
            t0**2
            / (k - p) ** 2
            * (
                2 * _tr_PDPD(w, X, A, v, v)
                + 4 * tp * _tr_PDPD(w, X, A, v, m)
                + 2 * tp**2 * _tr_PDPD(w, X, A, m, m)
            )
        )
    elif method in ("PM", "PMM"):
        t2, converged = _tau2_pm(method, ymc, y, v, X, m, k, p, con, tau2_fix, tau2, msgs)
        t2 = np.maximum(tmin, t2)
        w = m / (v + t2[:, None])
        se_tau2 = np.sqrt(2 * k**2 / (k - p) / w.sum(-1) ** 2)
    elif method in ("ML", "REML", "EB"):
        t2, converged, iterations = _tau2_fisher(
            method, ymc, v, X, m, k, p, con, tau2_fix, tau2, msgs
        )
        if method in ("ML", "REML") and con.ll0check and not tau2_fix:
            t2 = _ll0check(method, t2, ymc, v, X, m, k, p, con, converged & allvipos, msgs)
        t2 = np.maximum(tmin, t2)
        w = m / (v + t2[:, None])
        if method == "ML":
            se_tau2 = np.sqrt(2 / (w * w).sum(-1))
        elif method == "REML":
            A, _, _ = _wls(w, X, ymc)
            se_tau2 = np.sqrt(2 / _tr_PDPD(w, X, A, m, m))
        else:
            se_tau2 = np.sqrt(2 * k**2 / (k - p) / w.sum(-1) ** 2)
    else:
        from ..errors import ModelError

        raise ModelError(
            f"unknown method {method!r}; expected one of {', '.join(FIXED_METHODS + TAU2_METHODS)}"
        )

    if np.any(single) and not fixed_method:
        # metafor: with k = 1 tau² is 0 (unless fixed by the user) and has no SE.
        t2 = np.where(single & ~tau2_fix, 0.0, t2)
        se_tau2 = np.where(single, np.nan, se_tau2)
        # metafor switches to the equal-effects model and never iterates; an iteration
        # run here on the one effect (it has no information about tau²) must not mark
        # the fit as failed
        for i in np.flatnonzero(single & ~converged):
            msgs[i] = []
        converged = converged | single
        iterations = np.where(single, 0, iterations)

    # ----------------------------------------------------------------- fixed effects
    w = m / (v + t2[:, None])
    with np.errstate(divide="ignore"):
        A, beta, r = _wls(w, X, y)
    rss_f = (w * r * r).sum(-1)
    rss_knha = rss_f
    vb = A
    if aw is not None:
        Aw = _inv(_xtdx(X, aw))
        beta = np.einsum("bpq,bq->bp", Aw, np.einsum("bkp,bk->bp", X, aw * y))
        mid = _xtdx(X, aw * aw * (v + t2[:, None]))
        vb = Aw @ mid @ Aw
        r_w = y - np.einsum("bkp,bp->bk", X, beta)
        rss_f = (w * r_w * r_w).sum(-1)
    s2w = np.ones(B)
    if test in ("knha", "adhoc"):
        s2w = np.where(rss_knha <= np.finfo(float).eps, 0.0, rss_knha / (k - p))
        if test == "adhoc":
            s2w = np.maximum(s2w, 1.0)
        vb = vb * s2w[:, None, None]
    ddf = (k - p).astype(float) if test in ("t", "knha", "adhoc") else np.full(B, np.nan)

    # ----------------------------------------------------------------- heterogeneity
    wfe = m / v
    Afe, _, rfe = _wls(wfe, X, ymc)
    with np.errstate(invalid="ignore", divide="ignore"):
        qe = np.maximum(0, (wfe * rfe * rfe).sum(-1))
        trPfe = _tr_PD(wfe, X, Afe, m)
        vt = (k - p) / trPfe
        if fixed_method:
            i2 = np.maximum(0, 100 * (qe - (k - p)) / qe)
            h2 = qe / (k - p)
        else:
            i2 = 100 * t2 / (vt + t2)
            h2 = t2 / vt + 1
        qe_p = stats.chi2.sf(qe, np.maximum(k - p, 1))
    none_left = k <= p
    qe = np.where(none_left, 0.0, qe)
    qe_p = np.where(none_left, 1.0, qe_p)
    i2 = np.where(none_left, 0.0, i2)
    h2 = np.where(none_left, 1.0, h2)
    vt = np.where(none_left, 0.0, vt)
    for arr in (qe, qe_p, i2, h2, vt):
        arr[~allvipos] = np.nan

    # ----------------------------------------------------------------- likelihoods
    with np.errstate(divide="ignore", invalid="ignore"):
        logvt = np.where(m > 0, np.log(v + t2[:, None]), 0.0).sum(-1)
        ll_ml = -0.5 * k * _LOG2PI - 0.5 * logvt - 0.5 * rss_f
        ll_reml = (
            -0.5 * (k - p) * _LOG2PI
            + 0.5 * _logdet(_xtdx(X, m))
            - 0.5 * logvt
            - 0.5 * _logdet(_xtdx(X, w))
            - 0.5 * rss_f
        )
        sat = np.where(m > 0, -0.5 * (_LOG2PI + np.log(v)), 0.0).sum(-1)
        dev_ml = np.where(k > p, np.where(allvipos, -2 * (ll_ml - sat), -2 * ll_ml), 0.0)
        dev_reml = -2 * ll_reml
    parms = p + (0 if fixed_method or tau2_fix else 1)

    for b in np.flatnonzero(~converged):
        if not msgs[b]:
            msgs[b].append(f"{method} estimator of tau^2 did not converge")
    return BatchFit(
        method=method,
        test=test,
        level=level,
        k=k.astype(int),
        p=p,
        tau2=t2,
        se_tau2=se_tau2 if not fixed_method else np.full(B, np.nan),
        beta=beta,
        vb=vb,
        s2w=s2w,
        ddf=ddf,
        qe=qe,
        qe_p=qe_p,
        vt=vt,
        i2=i2,
        h2=h2,
        ll_ml=ll_ml,
        ll_reml=ll_reml,
        dev_ml=dev_ml,
        dev_reml=dev_reml,
        parms=parms,
        converged=converged,
        iterations=iterations,
        allvipos=allvipos,
        tau2_fixed=tau2_fix,
        messages=msgs,
    )


def _tau2_fisher(method, ymc, v, X, m, k, p, con, tau2_fix, tau2, msgs):
    """Fisher scoring for ML, REML and the empirical Bayes estimator, batched."""
    B = ymc.shape[0]
    if tau2_fix:
        t2 = np.broadcast_to(np.asarray(tau2, float), (B,)).copy()
        return t2, np.ones(B, bool), np.zeros(B, int)
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
        # Step halving keeps tau² above its lower bound (as metafor).  At the bound
        # itself (tau² == tau2_min, common when tau² is 0) halving only ends once
        # tt + adj rounds back to tt (after up to ~1075 halvings of a negative
        # step), so the new value is tt: adding -0.0 gives it at once, bit for bit.
        viol = tt + adj < con.tau2_min
        at_min = viol & (tt == con.tau2_min)
        if at_min.any():
            adj = np.where(at_min, -0.0, adj)
            viol &= ~at_min
        while viol.any():
            adj = np.where(viol, adj / 2, adj)
            viol = tt + adj < con.tau2_min
        new = tt + adj
        change = np.abs(new - tt)
        t2[idx] = new
        iterations[idx] = it
        still = change > con.threshold
        if it > con.maxiter:
            bad = idx[still]
            converged[bad] = False
            for b in bad:
                msgs[b].append(
                    f"Fisher scoring for {method} did not converge in {con.maxiter} iterations "
                    "(try control={'stepadj': 0.5} or more 'maxiter')"
                )
            active[idx] = False
            break
        active[idx] = still
    return t2, converged, iterations


def _ll0check(method, t2, ymc, v, X, m, k, p, con, ok, msgs):
    """metafor's check that the (RE)ML fit is not a local maximum worse than tau² = 0."""
    B = t2.shape[0]

    def ll(tt):
        w = m / (v + tt[:, None])
        A, _, r = _wls(w, X, ymc)
        rss = (w * r * r).sum(-1)
        logv = np.where(m > 0, np.log(v + tt[:, None]), 0.0).sum(-1)
        if method == "ML":
            return -0.5 * k * _LOG2PI - 0.5 * logv - 0.5 * rss
        return -0.5 * (k - p) * _LOG2PI - 0.5 * logv - 0.5 * _logdet(_xtdx(X, w)) - 0.5 * rss

    with np.errstate(divide="ignore", invalid="ignore"):
        stuck = ok & (ll(np.zeros(B)) - ll(t2) > con.tol) & (t2 > con.threshold)
    for b in np.flatnonzero(stuck):
        msgs[b].append(
            "Fisher scoring may have got stuck at a local maximum; tau^2 set to 0 (check the profile likelihood)"
        )
    return np.where(stuck, 0.0, t2)


def _tau2_pm(method, ymc, y, v, X, m, k, p, con, tau2_fix, tau2, msgs):
    """Paule-Mandel (PM) and median-unbiased (PMM) estimators via Brent's method."""
    B = ymc.shape[0]
    if tau2_fix:
        return np.broadcast_to(np.asarray(tau2, float), (B,)).copy(), np.ones(B, bool)
    if (v[m > 0] <= 0).any():
        from ..errors import ModelError

        raise ModelError(
            f"{method} estimator cannot be used when there are non-positive sampling variances"
        )
    target = stats.chi2.ppf(0.5, k - p) if method == "PMM" else (k - p).astype(float)
    tmax = (
        np.maximum(100.0, 10 * _mad(y, m) ** 2)
        if con.tau2_max is None
        else np.full(B, float(con.tau2_max))
    )
    tmin = np.full(B, float(con.tau2_min))

    def f(t, active=None):
        return _qgen(t, ymc, v, X, m) - target

    flo, fhi = f(tmin), f(tmax)
    t2 = np.full(B, np.nan)
    converged = np.ones(B, dtype=bool)
    at_min = flo < 0
    t2[at_min] = tmin[at_min]
    too_low = ~at_min & (fhi > 0)
    converged[too_low] = False
    for b in np.flatnonzero(too_low):
        msgs[b].append(
            "tau2_max too low for the PM search; increase control={'tau2_max': ...} or use another method"
        )
    search = ~at_min & ~too_low
    if search.any():
        idx = np.flatnonzero(search)

        def fsub(t, active):
            out = np.zeros_like(t)
            sel = np.ones(len(idx), bool) if active is None else active
            w = m[idx][sel] / (v[idx][sel] + t[sel][:, None])
            _, _, r = _wls(w, X[idx][sel], ymc[idx][sel])
            out[sel] = (w * r * r).sum(-1) - target[idx][sel]
            return out

        root, ok = zeroin(
            fsub, tmin[idx], tmax[idx], flo[idx], fhi[idx], tol=con.tol, maxiter=con.maxiter_root
        )
        t2[idx] = root
        converged[idx] = ok
    return t2, converged
