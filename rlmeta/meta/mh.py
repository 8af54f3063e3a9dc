"""Mantel–Haenszel and Peto pooling of 2x2 tables (metafor's ``rma.mh`` and ``rma.peto``).

For accuracy results both arms are binomial: ``ai`` items right and ``bi`` wrong for the RL
model, ``ci`` right and ``di`` wrong for the baseline. Mantel–Haenszel pools the tables
directly rather than through per-table effect sizes, so tables with few items or zero cells
need no continuity correction for the estimate; it is an equal-effects method (no τ²).

The estimators and their variances are closed-form sums over the tables; they are written
out here because neither statsmodels nor scipy offers the Robins–Breslow–Greenland variance,
the Greenland–Robins RR and Sato–Greenland–Robins RD variances, Tarone's test and Peto's method with metafor's rules
for zero cells and heterogeneity (statsmodels' ``StratifiedTable`` covers the OR only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, fmt_num, fmt_p, jsonable
from ..effects import table_effect, two_by_two
from ..errors import ModelError

__all__ = ["mantel_haenszel", "peto", "TablePoolResult"]


@dataclass(frozen=True, eq=False)
class TablePoolResult(ResultMixin):
    """A pooled estimate from 2x2 tables (Mantel–Haenszel or Peto).

    Attributes
    ----------
    method
        ``"MH"`` or ``"Peto"``.
    measure
        ``"OR"``, ``"RR"`` or ``"RD"`` (Peto: ``"OR"``); OR and RR are on the log scale.
    estimate, se, zval, pval, ci_low, ci_high
        The pooled effect and its Wald inference.
    k
        Tables used for the estimate; ``k_yi``: tables with a finite per-table effect
        (the df of Q is ``k_yi - 1``).
    q, q_pval, i2, h2
        Cochran's Q around the pooled estimate, its p-value, I² (%) and H².
    cmh, cmh_pval
        Cochran–Mantel–Haenszel test of OR = 1 (MH with OR only; continuity-corrected
        when ``correct=True``).
    tarone, tarone_pval, breslow_day, breslow_day_pval, k_pos
        Tarone's and the Breslow–Day test of homogeneous ORs (MH with OR only) on the
        ``k_pos`` informative tables.
    """

    method: str
    measure: str
    estimate: float
    se: float
    zval: float
    pval: float
    ci_low: float
    ci_high: float
    level: float
    k: int
    k_yi: int
    q: float
    q_pval: float
    i2: float
    h2: float
    cmh: float = np.nan
    cmh_pval: float = np.nan
    tarone: float = np.nan
    tarone_pval: float = np.nan
    breslow_day: float = np.nan
    breslow_day_pval: float = np.nan
    k_pos: int = 0

    @property
    def exp_estimate(self) -> tuple[float, float, float]:
        """``(estimate, ci_low, ci_high)`` back on the ratio scale (OR/RR)."""
        if self.measure == "RD":
            raise ModelError("exp_estimate: the risk difference is not on a log scale")
        return float(np.exp(self.estimate)), float(np.exp(self.ci_low)), float(np.exp(self.ci_high))

    def to_dict(self) -> dict:
        return jsonable({f: getattr(self, f) for f in self.__dataclass_fields__})

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "term": "intercept",
                    "estimate": self.estimate,
                    "se": self.se,
                    "stat": self.zval,
                    "pval": self.pval,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                }
            ]
        )

    def summary(self, digits: int = 4) -> str:
        name = "Mantel-Haenszel" if self.method == "MH" else "Peto's"
        scale = {"OR": "log odds ratio", "RR": "log risk ratio", "RD": "risk difference"}
        lines = [
            f"Equal-Effects Model, {name} method (k = {self.k}; {scale[self.measure]})",
            "",
            f"I^2 (total heterogeneity / total variability):  {self.i2:.2f}%",
            f"H^2 (total variability / sampling variability): {fmt_num(self.h2, 2)}",
            "",
            "Test for Heterogeneity:",
            f"Q(df = {max(self.k_yi - 1, 0)}) = {self.q:.4f}, p-val = {fmt_p(self.q_pval)}",
            "",
            "Model Results:",
            "",
            f"estimate {fmt_num(self.estimate, digits)}  se {fmt_num(self.se, digits)}  "
            f"zval {fmt_num(self.zval, digits)}  pval {fmt_p(self.pval)}  "
            f"ci [{fmt_num(self.ci_low, digits)}, {fmt_num(self.ci_high, digits)}]",
        ]
        if self.measure != "RD":
            e, lo, hi = self.exp_estimate
            lines.append(
                f"exp: {fmt_num(e, digits)} [{fmt_num(lo, digits)}, {fmt_num(hi, digits)}]"
            )
        if self.method == "MH" and self.measure == "OR":
            lines += [
                "",
                f"Cochran-Mantel-Haenszel Test:    CMH = {self.cmh:.4f}, df = 1, "
                f"p-val = {fmt_p(self.cmh_pval)}",
                f"Tarone's Test for Heterogeneity: X^2 = {self.tarone:.4f}, "
                f"df = {max(self.k_pos - 1, 0)}, p-val = {fmt_p(self.tarone_pval)}",
            ]
        return "\n".join(lines)


def _tables(data, ai, bi, ci, di, n1i, n2i) -> tuple[np.ndarray, ...]:
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    return two_by_two(data, ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i)


def _per_table(measure: str, a, b, c, d) -> tuple[np.ndarray, np.ndarray]:
    """Per-table effects for Q: 1/2 added to tables with a zero cell, double zeros dropped."""
    keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
    a, b, c, d = (x[keep] for x in (a, b, c, d))
    if measure != "PETO":
        yi, vi, _ = table_effect(measure, a, b, c, d, add=0.5, to="only0")
        return yi, vi
    # Peto's log OR (no correction needed: V > 0 once double zeros are gone)
    n1, n2 = a + b, c + d
    n = n1 + n2
    e = (a + c) * n1 / n
    v = (a + c) * (b + d) * (n1 / n) * (n2 / n) / (n - 1)
    return (a - e) / v, 1 / v


def _heterogeneity(q: float, k_yi: int) -> tuple[float, float, float]:
    if k_yi <= 1:
        return 1.0, 0.0, 1.0
    qp = float(stats.chi2.sf(q, k_yi - 1))
    i2 = max(0.0, 100 * (q - (k_yi - 1)) / q) if q > 0 else 0.0
    return qp, i2, q / (k_yi - 1)


def _wald(beta: float, se: float, level: float) -> tuple[float, float, float, float]:
    crit = stats.norm.isf((1 - level) / 2)
    z = beta / se
    return z, float(2 * stats.norm.sf(abs(z))), beta - crit * se, beta + crit * se


def mantel_haenszel(
    data: pd.DataFrame,
    measure: str = "OR",
    *,
    ai: str = "ai",
    bi: str = "bi",
    ci: str = "ci",
    di: str = "di",
    n1i: str = "n1i",
    n2i: str = "n2i",
    level: float = 0.95,
    correct: bool = True,
) -> TablePoolResult:
    """Mantel–Haenszel pooled OR, RR or RD of 2x2 tables (metafor's ``rma.mh``).

    Parameters
    ----------
    data
        One row per table: counts ``ai``/``bi`` (RL right/wrong) and ``ci``/``di``
        (baseline right/wrong), or ``ai``/``n1i`` and ``ci``/``n2i``; or a wide
        RL-vs-baseline table (``rl_score``, ``baseline_score``, ``n_items`` or
        ``rl_n``/``baseline_n``, proportion or percent ``score_scale``), whose counts
        are ``score x n`` (not rounded, as :func:`rlmeta.effect_sizes`).
    measure
        ``"OR"`` (log odds ratio), ``"RR"`` (log risk ratio) or ``"RD"``.
    ai, bi, ci, di, n1i, n2i
        Column names of the counts.
    level
        Confidence level.
    correct
        Continuity correction of the CMH test (OR).

    Returns
    -------
    TablePoolResult

    Notes
    -----
    OR: ``R/S`` with ``R = Σ a d / N``, ``S = Σ b c / N`` and the Robins–Breslow–Greenland
    variance; RR: ``Σ a n2/N / Σ c n1/N`` with Greenland–Robins' variance; RD:
    ``Σ (a n2 - c n1)/N / Σ n1 n2/N`` with the variance of Sato, Greenland & Robins
    (1989). The estimate uses
    the counts as they are (no continuity correction); Q uses per-table effects with
    1/2 added to tables with a zero cell and tables with no events or no non-events in
    both arms left out, as metafor's defaults (``add = 1/2, to = "only0", drop00 = TRUE``).

    References
    ----------
    Mantel N, Haenszel W (1959), *J Natl Cancer Inst* 22(4), 719-748;
    Robins J, Breslow N, Greenland S (1986), *Biometrics* 42(2), 311-323;
    Greenland S, Robins JM (1985), *Biometrics* 41(1), 55-68;
    Sato T, Greenland S, Robins JM (1989), *Biometrics* 45(4), 1323-1324;
    Breslow NE, Day NE (1980), *Statistical Methods in Cancer Research* I, IARC;
    Tarone RE (1985), *Biometrika* 72(1), 91-95.

    Examples
    --------
    >>> import pandas as pd, rlmeta as rm
    >>> t = pd.DataFrame({"ai": [30, 45], "bi": [70, 55], "ci": [20, 40], "di": [80, 60]})
    >>> res = rm.mantel_haenszel(t, "OR")
    >>> round(res.exp_estimate[0], 4), res.k
    (1.4167, 2)
    """
    m = str(measure).upper()
    if m not in ("OR", "RR", "RD"):
        raise ModelError(f"mantel_haenszel: measure must be OR, RR or RD, got {measure!r}")
    a, b, c, d = _tables(data, ai, bi, ci, di, n1i, n2i)
    k = len(a)
    n1, n2 = a + b, c + d
    n = n1 + n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if m == "OR":
            r_i, s_i = a * d / n, b * c / n
            r, s = r_i.sum(), s_i.sum()
            if r == 0 or s == 0:
                raise ModelError(
                    "mantel_haenszel: the OR is undefined (no table has events in one arm "
                    "and non-events in the other)"
                )
            p_i, q_i = (a + d) / n, (b + c) / n
            beta = float(np.log(r / s))
            se = float(
                np.sqrt(
                    0.5
                    * (
                        np.sum(p_i * r_i) / r**2
                        + np.sum(p_i * s_i + q_i * r_i) / (r * s)
                        + np.sum(q_i * s_i) / s**2
                    )
                )
            )
        elif m == "RR":
            r, s = np.sum(a * n2 / n), np.sum(c * n1 / n)
            if a.sum() == 0 or c.sum() == 0:
                raise ModelError("mantel_haenszel: the RR is undefined (no events in one arm)")
            beta = float(np.log(r / s))
            se = float(np.sqrt(np.sum(n1 / n * n2 / n * (a + c) - a / n * c) / (r * s)))
        else:
            wsum = np.sum(n1 * n2 / n)
            beta = float(np.sum(a * n2 / n - c * n1 / n) / wsum)
            num = beta * np.sum(
                c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + n1 / n * n2 / n * (n2 - n1) / 2
            )
            num += np.sum(a * (n2 - c) / n + c * (n1 - a) / n) / 2
            se = float(np.sqrt(num / wsum**2))
        yi, vi = _per_table(m, a, b, c, d)
    ok = np.isfinite(yi) & np.isfinite(vi)
    yi, vi = yi[ok], vi[ok]
    k_yi = len(yi)
    q = max(0.0, float(np.sum((yi - beta) ** 2 / vi))) if k_yi > 1 else 0.0
    q_pval, i2, h2 = _heterogeneity(q, k_yi)
    z, p, lo, hi = _wald(beta, se, level)
    extra = {}
    if m == "OR":
        extra = _or_tests(a, b, c, d, float(np.exp(beta)), correct)
    return TablePoolResult(
        "MH", m, beta, se, z, p, lo, hi, level, k, k_yi, q, q_pval, i2, h2, **extra
    )


def _or_tests(a, b, c, d, psi: float, correct: bool) -> dict:
    """CMH test of OR = 1, Breslow–Day and Tarone's homogeneity tests (as metafor)."""
    n1, n2 = a + b, c + d
    n = n1 + n2
    xt, yt = a + c, b + d
    out: dict = {}
    if xt.sum() > 0 and yt.sum() > 0:
        dev = abs(np.sum(a - n1 / n * xt)) - (0.5 if correct else 0.0)
        cmh = dev**2 / np.sum(n1 / n * n2 / n * xt * yt / (n - 1))
        out.update(cmh=float(cmh), cmh_pval=float(stats.chi2.sf(cmh, 1)))
    # expected a under the common OR: the root of a quadratic in each table
    if psi == 1:
        e11 = n1 / n * xt
    else:
        qa = psi * (n1 + xt) + (n2 - xt)
        e11 = (qa - np.sqrt(qa**2 - 4 * n1 * xt * psi * (psi - 1))) / (2 * (psi - 1))
    pos = (e11 > 0) & (xt > 0) & (yt > 0)
    e11, ap = e11[pos], a[pos]
    e12 = n1[pos] - e11
    e21 = xt[pos] - e11
    e22 = e11 - n1[pos] - xt[pos] + n[pos]
    var = 1 / (1 / e11 + 1 / e12 + 1 / e21 + 1 / e22)
    bd = max(0.0, float(np.sum((ap - e11) ** 2 / var)))
    ta = max(0.0, bd - float(np.sum(ap - e11) ** 2 / np.sum(var)))
    k_pos = int(pos.sum())
    out.update(breslow_day=bd, tarone=ta, k_pos=k_pos)
    if k_pos > 1:
        out.update(
            breslow_day_pval=float(stats.chi2.sf(bd, k_pos - 1)),
            tarone_pval=float(stats.chi2.sf(ta, k_pos - 1)),
        )
    return out


def peto(
    data: pd.DataFrame,
    *,
    ai: str = "ai",
    bi: str = "bi",
    ci: str = "ci",
    di: str = "di",
    n1i: str = "n1i",
    n2i: str = "n2i",
    level: float = 0.95,
) -> TablePoolResult:
    """Peto's pooled log odds ratio of 2x2 tables (metafor's ``rma.peto``).

    ``Σ (a - E) / Σ V`` with ``E = (a + c) n1 / N`` and the hypergeometric variance
    ``V = (a + c)(b + d) n1 n2 / (N² (N - 1))``; SE ``1/√ΣV``. Q is
    ``Σ (a - E)²/V - (Σ (a - E))² / ΣV`` over tables with V > 0. Data as
    :func:`mantel_haenszel`.

    References
    ----------
    Yusuf S, Peto R, Lewis J, Collins R, Sleight P (1985), *Prog Cardiovasc Dis* 27(5),
    335-371.

    Examples
    --------
    >>> import pandas as pd, rlmeta as rm
    >>> t = pd.DataFrame({"ai": [30, 45], "bi": [70, 55], "ci": [20, 40], "di": [80, 60]})
    >>> round(rm.peto(t).exp_estimate[0], 4)
    1.4128
    """
    a, b, c, d = _tables(data, ai, bi, ci, di, n1i, n2i)
    n1, n2 = a + b, c + d
    n = n1 + n2
    e = (a + c) * n1 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (a + c) * (b + d) * (n1 / n) * (n2 / n) / (n - 1)
        v_sum = float(np.nansum(v))
        if v_sum == 0:
            raise ModelError("peto: every table has zero variance (no events or no non-events)")
        beta = float(np.sum(a - e) / v_sum)
        se = float(np.sqrt(1 / v_sum))
        yi, vi = _per_table("PETO", a, b, c, d)
    k_yi = int(np.sum(np.isfinite(yi) & np.isfinite(vi)))
    pos = v > 0
    k_pos = int(pos.sum())
    q = max(0.0, float(np.sum((a - e)[pos] ** 2 / v[pos]) - np.sum(a - e) ** 2 / np.sum(v[pos])))
    q_pval, i2, h2 = _heterogeneity(q, k_yi) if k_pos > 1 else (1.0, 0.0, 1.0)
    z, p, lo, hi = _wald(beta, se, level)
    return TablePoolResult(
        "Peto", "OR", beta, se, z, p, lo, hi, level, len(a), k_yi, q, q_pval, i2, h2, k_pos=k_pos
    )
