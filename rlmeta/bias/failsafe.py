"""Fail-safe N (metafor's ``fsn``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, fmt_p, jsonable
from ..errors import ModelError
from ..meta import MetaResult
from ._common import check_choice as _choice


@dataclass(frozen=True)
class FailSafeResult(ResultMixin):
    """Fail-safe N (metafor's ``fsn``).

    Attributes
    ----------
    type
        ``"Rosenthal"``, ``"Orwin"`` or ``"Rosenberg"``.
    fsnum
        Number of null studies needed (rounded up as metafor).
    alpha
        Significance level (Rosenthal: one-sided; Rosenberg: two-sided).
    pval
        p-value of the observed combined test (Rosenthal, Rosenberg).
    mean_effect, target
        Average effect and target effect (Orwin).
    k
        Number of effects.
    """

    type: str
    fsnum: float
    alpha: float
    pval: float
    mean_effect: float
    target: float
    k: int

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()])

    def to_dict(self) -> dict:
        return jsonable(
            {
                "type": self.type,
                "fsnum": self.fsnum,
                "alpha": self.alpha,
                "pval": self.pval,
                "mean_effect": self.mean_effect,
                "target": self.target,
                "k": self.k,
            }
        )

    def summary(self) -> str:
        line = f"Fail-safe N calculation using the {self.type} approach\n"
        if self.type == "Orwin":
            line += f"average effect: {self.mean_effect:.4f}, target: {self.target:.4f}\n"
        else:
            line += f"observed significance level: {fmt_p(self.pval)}, target: {self.alpha:g}\n"
        return line + f"fail-safe N: {self.fsnum:g}"


def fail_safe_n(
    data_or_res,
    type: str = "Rosenthal",
    *,
    alpha: float = 0.05,
    target: float | None = None,
    weighted: bool = False,
    test: str = "Stouffer",
    yi: str = "yi",
    vi: str = "vi",
) -> FailSafeResult:
    """Fail-safe N: how many unpublished null studies would overturn the result.

    Parameters
    ----------
    data_or_res
        An effects table (columns ``yi``, ``vi``) or a fitted model.
    type
        ``"Rosenthal"`` (Stouffer's combined z, one-sided ``alpha``), ``"Orwin"``
        (number of studies with effect 0 that bring the average down to
        ``target``, default half the average) or ``"Rosenberg"`` (weighted, z test
        of the equal-effects estimate at two-sided ``alpha``).
    alpha
        Significance level.
    target
        Orwin's target effect.
    weighted
        Orwin with the inverse-variance weighted average.
    test
        Rosenthal's combined test: ``"Stouffer"`` (default, the sum of z) or
        ``"Fisher"`` (``-2 sum log p_i`` of the one-sided p-values of ``|z_i|``; each
        null study adds a p-value of 1/2).
    yi, vi
        Column names when ``data_or_res`` is a table.

    Returns
    -------
    FailSafeResult

    Notes
    -----
    Rosenthal: ``N = k (sum z_i / sqrt(k) / z_alpha)² - k``; Orwin:
    ``N = k (mean - target) / target``; Rosenberg:
    ``N = k ((sum w y / z_alpha/2)² - sum w) / sum w``; non-integer values are
    rounded up (metafor's rule). Rosenthal with Fisher's test solves
    ``P(chi²_{2(k+N)} > -2 (sum log p_i + N log 1/2)) = alpha`` for N the way
    metafor does (see ``_fisher_fsn``): its N can be 1-2 below the smallest whole
    number of null studies that lifts Fisher's p above ``alpha``.

    References
    ----------
    Rosenthal R (1979), *Psychol Bull* 86(3), 638-641, doi:10.1037/0033-2909.86.3.638;
    Orwin RG (1983), *J Educ Stat* 8(2), 157-159, doi:10.3102/10769986008002157;
    Rosenberg MS (2005), *Evolution* 59(2), 464-468, doi:10.1111/j.0014-3820.2005.tb01004.x;
    Fisher RA (1932), *Statistical Methods for Research Workers*, 4th ed., Oliver & Boyd.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> rm.fail_safe_n(eff).type
    'Rosenthal'
    """
    _choice(type, ("Rosenthal", "Orwin", "Rosenberg"), "type")
    _choice(test, ("Stouffer", "Fisher"), "test")
    if isinstance(data_or_res, MetaResult):
        y, v = data_or_res.yi, data_or_res.vi
    elif isinstance(data_or_res, pd.DataFrame):
        for c in (yi, vi):
            if c not in data_or_res.columns:
                raise ModelError(f"fail_safe_n(): column {c!r} not found")
        sub = data_or_res[[yi, vi]].dropna()
        y, v = sub[yi].to_numpy(float), sub[vi].to_numpy(float)
    else:
        raise ModelError(
            f"fail_safe_n() needs an effects DataFrame or a fitted model, got {data_or_res.__class__.__name__}"
        )
    k = len(y)
    pval = mean_es = tgt = np.nan
    if type == "Rosenthal" and test == "Fisher":
        pval, fsnum = _fisher_fsn(y / np.sqrt(v), alpha)
    elif type == "Rosenthal":
        z_avg = abs(np.sum(y / np.sqrt(v)) / np.sqrt(k))
        pval = float(stats.norm.sf(z_avg))
        fsnum = max(0.0, k * (z_avg / stats.norm.isf(alpha)) ** 2 - k)
    elif type == "Orwin":
        mean_es = float(np.sum(y / v) / np.sum(1 / v)) if weighted else float(np.mean(y))
        tgt = mean_es / 2 if target is None else float(target)
        if tgt == 0:
            fsnum = np.inf
        else:
            if np.sign(tgt) != np.sign(mean_es):
                tgt = -tgt
            fsnum = max(0.0, k * (mean_es - tgt) / tgt)
    else:
        w = 1 / v
        mean_es = float(np.sum(w * y) / np.sum(w))
        z = mean_es / np.sqrt(1 / np.sum(w))
        wp = (np.sum(w * y) / stats.norm.isf(alpha / 2)) ** 2 - np.sum(w)
        pval = float(2 * stats.norm.sf(abs(z)))
        fsnum = max(0.0, k * wp / np.sum(w))
    if np.isfinite(fsnum) and abs(fsnum - round(fsnum)) >= np.sqrt(np.finfo(float).eps):
        fsnum = float(np.ceil(fsnum))
    else:
        fsnum = float(np.round(fsnum))
    return FailSafeResult(type, fsnum, alpha, pval, mean_es, tgt, k)


def _fisher_fsn(z: np.ndarray, alpha: float) -> tuple[float, float]:
    """Fisher's combined p and metafor's fail-safe N for it (before rounding up).

    Hand-written to follow metafor's ``fsn(test = "Fisher")`` exactly: it searches N
    with R's ``uniroot`` (extending the upper end from 1000 as ``extendInt = "upX"``)
    on ``P(chi²_{2(k+N)} > -2 (sum log p_i + floor(N) log 1/2)) - alpha``: the added
    p-values of 1/2 enter as ``floor(N)`` (R's ``rep``) while the df grow with N.  The
    function is therefore a saw-tooth, and the root depends on where Brent's method
    stops, which is why R's algorithm is replicated (``rlmeta.meta._zeroin``) rather
    than solved by another root finder.  log p_i comes from the normal log-survival
    function, so very large |z| (p below 1e-300) do not turn into log(0) as in metafor.
    """
    from ..meta._zeroin import zeroin

    k = len(z)
    s = float(np.sum(stats.norm.logsf(np.abs(z))))
    pval = float(stats.chi2.sf(-2 * s, 2 * k))
    if pval >= alpha:
        return pval, 0.0

    def f(n, active=None):
        n = np.asarray(n, dtype=float)
        return stats.chi2.sf(-2 * (s + np.floor(n) * np.log(0.5)), 2 * (k + n)) - alpha

    lower, upper = 0.0, 1000.0
    f_lower, f_upper = f(lower), f(upper)
    delta = 0.01 * max(1e-4, abs(upper))
    it = 0
    while f_upper < 0:  # R's extendInt = "upX"
        it += 1
        if it > 1000:
            raise ModelError("fail_safe_n(test='Fisher'): no sign change found in 1000 iterations")
        upper += delta
        f_upper = f(upper)
        delta *= 2
    root, ok = zeroin(
        f, np.array([lower]), np.array([upper]), np.atleast_1d(f_lower), np.atleast_1d(f_upper)
    )
    return pval, float(root[0])
