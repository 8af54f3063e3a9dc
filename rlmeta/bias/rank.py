"""Begg & Mazumdar's rank correlation test (metafor's ``ranktest``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, fmt_p, jsonable
from ..meta import MetaResult
from ._common import check_result as _check


@dataclass(frozen=True)
class RankTestResult(ResultMixin):
    """Begg & Mazumdar's rank correlation test (metafor's ``ranktest``).

    Attributes
    ----------
    tau
        Kendall's tau-b between standardised effects and sampling variances.
    pval
        Two-sided p-value (exact when there are no ties, else normal approximation).
    exact
        Whether the exact null distribution was used.
    k
        Number of effects.
    """

    tau: float
    pval: float
    exact: bool
    k: int

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()])

    def to_dict(self) -> dict:
        return jsonable({"tau": self.tau, "pval": self.pval, "exact": self.exact, "k": self.k})

    def summary(self) -> str:
        return (
            f"Rank correlation test for funnel plot asymmetry\nKendall's tau = {self.tau:.4f}, "
            f"p = {fmt_p(self.pval)} ({'exact' if self.exact else 'normal approximation'})"
        )


def rank_test(res: MetaResult) -> RankTestResult:
    """Begg & Mazumdar (1994) rank correlation test for funnel-plot asymmetry.

    The effects are standardised against the equal-effects estimate,
    ``y*_i = (y_i - b) / sqrt(v_i - 1/sum(w))`` with ``w = 1/v``, and Kendall's
    tau-b between ``y*`` and ``v`` is tested: exactly when neither has ties (any k,
    as R's ``cor.test(exact=TRUE)``), otherwise by the normal approximation with the
    tie-corrected variance.  Kendall's tau and its p-value come from
    :func:`scipy.stats.kendalltau`.

    Parameters
    ----------
    res
        A model from :func:`rlmeta.meta_analysis` (only its ``yi``/``vi`` are used).

    Returns
    -------
    RankTestResult

    References
    ----------
    Begg CB, Mazumdar M (1994). Operating characteristics of a rank correlation test
    for publication bias. *Biometrics* 50(4), 1088-1101. doi:10.2307/2533446

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> rt = rm.rank_test(rm.meta_analysis(eff))
    >>> -1 <= rt.tau <= 1
    True
    """
    res = _check(res, "rank_test")
    yi, vi = res.yi, res.vi
    w = 1 / vi
    theta = np.sum(w * yi) / np.sum(w)
    ystar = (yi - theta) / np.sqrt(vi - 1 / np.sum(w))
    ties = len(np.unique(ystar)) < len(ystar) or len(np.unique(vi)) < len(vi)
    method = "asymptotic" if ties else "exact"
    kt = stats.kendalltau(ystar, vi, method=method)
    return RankTestResult(float(kt.statistic), float(kt.pvalue), not ties, res.k)
