"""Step-function selection model (3PSM and more steps; metafor's ``selmodel(type="stepfun")``).

Vevea & Hedges (1995), A general linear model for estimating effect size in the
presence of publication bias, *Psychometrika* 60(3), 419-435, doi:10.1007/BF02294384;
the three-parameter selection model (3PSM) is the case of one step at p = .025.

Model: ``y_i ~ N(x_i'b, v_i + tau²)`` observed with relative probability ``delta_j``
when its one-sided p-value ``p_i`` falls in interval ``j`` of the steps
``0 < a_1 < ... < a_(m-1) < a_m = 1`` (``delta_1 = 1``).  The log-likelihood is

``sum_i [ log delta_(j(i)) + log phi(y_i; x_i'b, v_i + tau²) - log A_i ]``,
``A_i = sum_j delta_j P(p_i in interval j | x_i'b, v_i + tau²)``,

maximised over ``b``, ``tau²`` (unless the model is equal-effects) and the
``delta_j`` (in [0, 100]).  Standard errors come from the inverse of the
numerically differentiated Hessian (statsmodels ``approx_hess3``); the LRT of
``delta = 1`` compares with the ML random-effects model.  The likelihood is
maximised with BFGS on an unconstrained scale (log tau², logit of delta/100) and
polished with Newton steps; it reaches metafor's maximum (log-likelihoods agree to
1e-8; parameters to ~1e-5, the precision of metafor's own optimiser).  Written by
hand because no Python library fits this likelihood.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from .._result import ResultMixin, fmt_p, jsonable
from ..errors import ConvergenceWarning, ModelError
from ..meta import FIXED_METHODS, MetaResult, meta_analysis
from ._common import check_choice as _choice
from ._common import check_result as _check

__all__ = ["selection_model", "SelectionModelResult"]

_DELTA_MAX = 100.0


@dataclass(frozen=True)
class SelectionModelResult(ResultMixin):
    """Fit of a step-function selection model.

    Attributes
    ----------
    coefficients
        ``term, estimate, se, stat, pval, ci_low, ci_high`` (z tests, as metafor).
    tau2, se_tau2
        Heterogeneity under the selection model (0 and NaN for equal-effects models).
    delta
        Frame ``interval, k, delta, se``: the relative selection probability of each
        p-value interval (the first fixed at 1) and the number of effects in it.
    steps, alternative
        Interval bounds of the one-sided (or two-sided) p-values.
    loglik, loglik0
        Log-likelihood of the selection model and of the ML model without selection.
    lrt, lrt_df, lrt_pval
        Likelihood-ratio test of ``delta = 1`` (no selection).
    qm, qm_pval
        Omnibus Wald test of the moderators (meta-regression).
    converged
        Whether the optimiser reported success.
    """

    coefficients: pd.DataFrame
    tau2: float
    se_tau2: float
    delta: pd.DataFrame
    steps: tuple
    alternative: str
    loglik: float
    loglik0: float
    lrt: float
    lrt_df: int
    lrt_pval: float
    qm: float
    qm_pval: float
    converged: bool

    def to_frame(self) -> pd.DataFrame:
        return self.coefficients.copy()

    def to_dict(self) -> dict:
        return jsonable(
            {
                "coefficients": self.coefficients,
                "tau2": self.tau2,
                "se_tau2": self.se_tau2,
                "delta": self.delta,
                "steps": list(self.steps),
                "alternative": self.alternative,
                "loglik": self.loglik,
                "loglik0": self.loglik0,
                "lrt": self.lrt,
                "lrt_df": self.lrt_df,
                "lrt_pval": self.lrt_pval,
                "qm": self.qm,
                "qm_pval": self.qm_pval,
                "converged": self.converged,
            }
        )

    def summary(self) -> str:
        lines = [
            f"Step-function selection model (steps {', '.join(f'{s:g}' for s in self.steps)}; "
            f"{self.alternative} p-values)",
            f"tau^2 = {self.tau2:.4f} (SE = {self.se_tau2:.4f})",
            f"LRT for selection: {self.lrt:.4f} on {self.lrt_df} df, p-val = {fmt_p(self.lrt_pval)}",
            "",
            self.coefficients.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
            "",
            self.delta.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        return "\n".join(lines)


def _pvalues(y, v, alternative):
    z = y / np.sqrt(v)
    if alternative == "greater":
        return stats.norm.sf(z)
    if alternative == "less":
        return stats.norm.cdf(z)
    return 2 * stats.norm.sf(np.abs(z))


def _interval_probs(mu, s, sv, steps, alternative):
    """``(k, m)`` probabilities that the p-value falls in each interval."""
    inner = np.asarray(steps[:-1], float)  # (m-1,)
    if alternative == "greater":
        c = sv[:, None] * special.ndtri(1 - inner)[None, :]
        cum = special.ndtr((mu[:, None] - c) / s[:, None])  # P(y >= c_j) = P(p <= a_j)
    elif alternative == "less":
        c = sv[:, None] * special.ndtri(inner)[None, :]
        cum = special.ndtr((c - mu[:, None]) / s[:, None])
    else:
        c = sv[:, None] * special.ndtri(1 - inner / 2)[None, :]
        cum = special.ndtr((mu[:, None] - c) / s[:, None]) + special.ndtr(
            (-c - mu[:, None]) / s[:, None]
        )
    cum = np.concatenate([cum, np.ones((len(mu), 1))], axis=1)
    return np.diff(np.concatenate([np.zeros((len(mu), 1)), cum], axis=1), axis=1)


def _negll(theta, y, v, X, steps, alternative, grp, est_tau2, tau2_fixed):
    p = X.shape[1]
    beta = theta[:p]
    tau2 = theta[p] if est_tau2 else tau2_fixed
    tau2 = 0.0 if tau2 < 10 * np.finfo(float).eps else tau2
    delta = np.r_[1.0, theta[p + (1 if est_tau2 else 0) :]]
    mu = X @ beta
    s = np.sqrt(v + tau2)
    probs = _interval_probs(mu, s, np.sqrt(v), steps, alternative)
    A = probs @ delta
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.sum(np.log(delta[grp]) + stats.norm.logpdf(y, mu, s) - np.log(A))
    return -ll if np.isfinite(ll) else np.inf


def selection_model(
    res: MetaResult, steps=(0.025,), alternative: str = "greater", *, maxiter: int = 1000
) -> SelectionModelResult:
    """Fit a step-function selection model (3PSM for one step at .025).

    Parameters
    ----------
    res
        A model from :func:`rlmeta.meta_analysis` (refitted with ML unless it is an
        equal-effects or ML model, as metafor; moderators are kept).
    steps
        Interior bounds of the p-value intervals (1 is added).
    alternative
        Direction of the one-sided p-values: ``"greater"`` (default: larger effects
        favoured, as metafor), ``"less"`` or ``"two.sided"``.
    maxiter
        Optimiser iteration limit.

    Returns
    -------
    SelectionModelResult

    Notes
    -----
    Matches ``metafor::selmodel(type="stepfun")`` (golden tests on dat.bcg and
    generated data).  Intervals without any effect make their ``delta``
    unidentifiable; a warning is issued.

    References
    ----------
    Vevea JL, Hedges LV (1995). *Psychometrika* 60(3), 419-435. doi:10.1007/BF02294384

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> sm = rm.bias.selection_model(rm.meta_analysis(eff), steps=[0.025])
    >>> list(sm.delta["interval"])
    ['0 < p <= 0.025', '0.025 < p <= 1']
    """
    res = _check(res, "selection_model")
    _choice(alternative, ("greater", "less", "two.sided"), "alternative")
    st = sorted({float(s) for s in np.atleast_1d(steps)})
    if any(s <= 0 or s > 1 for s in st):
        raise ModelError(f"steps must be in (0, 1], got {list(steps)}")
    if st[-1] != 1:
        st.append(1.0)
    fixed = res.method in FIXED_METHODS
    if not fixed and res.method != "ML":
        mods = res.design.formula if not res.intercept_only else None
        ml = meta_analysis(
            res.data,
            yi=res.yi,
            vi=res.vi,
            mods=mods,
            method="ML",
            tau2=res.tau2_fixed_value if res.fit.tau2_fixed else None,
        )
    else:
        ml = res
    y, v, X = ml.yi, ml.vi, ml.X
    k, p = X.shape
    est_tau2 = not fixed and not ml.fit.tau2_fixed
    tau2_fixed = 0.0 if fixed else (ml.tau2 if ml.fit.tau2_fixed else 0.0)
    m = len(st)
    pv = _pvalues(y, v, alternative)
    grp = np.searchsorted(np.asarray(st), pv, side="left")  # first j with p <= a_j
    counts = np.bincount(grp, minlength=m)
    if k < p + int(est_tau2) + (m - 1):
        raise ModelError(f"number of effects (k = {k}) is too small to fit the selection model")
    if (counts == 0).any():
        warnings.warn(
            "one or more p-value intervals contain no effects; their delta is not identifiable",
            ConvergenceWarning,
            stacklevel=2,
        )
    bounds = (
        [(None, None)] * p + ([(0.0, None)] if est_tau2 else []) + [(0.0, _DELTA_MAX)] * (m - 1)
    )
    args = (y, v, X, st, alternative, grp, est_tau2, tau2_fixed)
    # optimise on an unconstrained scale (log tau², logit of delta / 100), as metafor does
    ntau = int(est_tau2)

    def to_raw(u):
        out = u.copy()
        if est_tau2:
            out[p] = np.exp(u[p])
        out[p + ntau :] = _DELTA_MAX * special.expit(u[p + ntau :])
        return out

    def obj(u):
        return _negll(to_raw(u), *args)

    u0 = np.r_[
        ml.fit.beta[0],
        [np.log(max(ml.tau2, 0.01))] if est_tau2 else [],
        np.full(m - 1, special.logit(0.01)),
    ]
    opt = optimize.minimize(obj, u0, method="BFGS", options={"maxiter": maxiter, "gtol": 1e-8})
    theta = _polish(to_raw(opt.x), args, bounds)
    nll = _negll(theta, *args)
    free_g = [
        j
        for j, (lo, hi) in enumerate(bounds)
        if (lo is None or theta[j] > lo + 1e-8) and (hi is None or theta[j] < hi - 1e-8)
    ]

    def f_g(t):
        full = theta.copy()
        full[free_g] = t
        return _negll(full, *args)

    grad = _grad(f_g, theta[free_g]) if free_g else np.zeros(0)
    converged = bool(np.isfinite(nll) and (grad.size == 0 or np.max(np.abs(grad)) < 1e-4))
    if not converged:
        warnings.warn(
            "the selection model's likelihood maximisation did not converge",
            ConvergenceWarning,
            stacklevel=2,
        )
    # Hessian over the parameters away from their bounds
    free = np.ones(len(theta), bool)
    if est_tau2 and theta[p] < 1e-8:
        free[p] = False
    dstart = p + int(est_tau2)
    for j in range(dstart, len(theta)):
        if theta[j] < 1e-8 or theta[j] > _DELTA_MAX - 1e-8:
            free[j] = False
    cov = np.full((len(theta), len(theta)), np.nan)
    from statsmodels.tools.numdiff import approx_hess3

    def f_free(t):
        full = theta.copy()
        full[free] = t
        return _negll(full, *args)

    try:
        H = approx_hess3(theta[free], f_free)
        cov[np.ix_(free, free)] = np.linalg.inv(H)
    except (np.linalg.LinAlgError, ValueError):
        pass
    se_all = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), np.nan))
    beta, se = theta[:p], se_all[:p]
    z = stats.norm.ppf(0.5 + res.level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = beta / se
    coefs = pd.DataFrame(
        {
            "term": ml.terms,
            "estimate": beta,
            "se": se,
            "stat": stat,
            "pval": 2 * stats.norm.sf(np.abs(stat)),
            "ci_low": beta - z * se,
            "ci_high": beta + z * se,
        }
    )
    btt = list(res.btt)
    qm = qm_p = np.nan
    if not ml.intercept_only:
        vb = cov[np.ix_(btt, btt)]
        try:
            qm = float(beta[btt] @ np.linalg.solve(vb, beta[btt]))
            qm_p = float(stats.chi2.sf(qm, len(btt)))
        except np.linalg.LinAlgError:
            pass
    delta = np.r_[1.0, theta[dstart:]]
    lo = ["0", *[f"{s:g}" for s in st[:-1]]]
    dframe = pd.DataFrame(
        {
            "interval": [f"{a} < p <= {b:g}" for a, b in zip(lo, st)],
            "k": counts,
            "delta": delta,
            "se": np.r_[np.nan, se_all[dstart:]],
        }
    )
    ll = -nll
    ll0 = ml.fit_stats("ML")["loglik"]
    lrt = max(0.0, -2 * (ll0 - ll))
    return SelectionModelResult(
        coefficients=coefs,
        tau2=float(theta[p]) if est_tau2 else float(tau2_fixed),
        se_tau2=float(se_all[p]) if est_tau2 else np.nan,
        delta=dframe,
        steps=tuple(st),
        alternative=alternative,
        loglik=float(ll),
        loglik0=float(ll0),
        lrt=float(lrt),
        lrt_df=m - 1,
        lrt_pval=float(stats.chi2.sf(lrt, m - 1)),
        qm=qm,
        qm_pval=qm_p,
        converged=converged,
    )


def _grad(f, t):
    """Central-difference gradient."""
    g = np.empty_like(t)
    for j in range(len(t)):
        h = 1e-6 * max(1.0, abs(t[j]))
        e = np.zeros_like(t)
        e[j] = h
        g[j] = (f(t + e) - f(t - e)) / (2 * h)
    return g


def _polish(theta, args, bounds, steps: int = 8):
    """Newton steps on the interior parameters (numerical gradient and Hessian)."""
    from statsmodels.tools.numdiff import approx_hess3

    theta = theta.copy()
    f0 = _negll(theta, *args)
    for _ in range(steps):
        free = np.array(
            [
                (lo is None or t > lo + 1e-8) and (hi is None or t < hi - 1e-8)
                for t, (lo, hi) in zip(theta, bounds)
            ]
        )
        if not free.any():
            break

        def f(t, free=free, theta=theta):
            full = theta.copy()
            full[free] = t
            return _negll(full, *args)

        try:
            g = _grad(f, theta[free])
            H = approx_hess3(theta[free], f)
            step = np.linalg.solve(H, g)
        except (np.linalg.LinAlgError, ValueError):
            break
        new = theta.copy()
        new[free] = theta[free] - step
        for j, (lo, hi) in enumerate(bounds):
            if lo is not None:
                new[j] = max(new[j], lo)
            if hi is not None:
                new[j] = min(new[j], hi)
        f1 = _negll(new, *args)
        if not np.isfinite(f1) or f1 > f0:
            break
        done = np.max(np.abs(new - theta)) < 1e-12
        theta, f0 = new, f1
        if done:
            break
    return theta
