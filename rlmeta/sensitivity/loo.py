"""Leave-one-out and cumulative meta-analysis (metafor's ``leave1out`` and ``cumul``).

Both are a batch of masks over the fitted model's effects, refitted in one call of
the batched engine; each row is what ``rma.uni`` reports for that subset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._result import ResultMixin
from ..errors import ModelError
from ..meta import MetaResult
from ._batch import refit_stats
from ._common import column_values, frame_dict, require_intercept_only, require_result, table_text

__all__ = ["leave_one_out", "cumulative", "LeaveOneOutResult", "CumulativeResult"]

LOO_COLUMNS = [
    "left_out",
    "k",
    "estimate",
    "se",
    "stat",
    "pval",
    "ci_low",
    "ci_high",
    "q",
    "q_pval",
    "tau2",
    "i2",
    "h2",
]
CUMUL_COLUMNS = [
    "label",
    "order_value",
    "k",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "pval",
    "q",
    "tau2",
    "i2",
    "stat",
    "q_pval",
    "h2",
]


@dataclass(frozen=True)
class LeaveOneOutResult(ResultMixin):
    """Pooled results with each effect (or cluster of effects) left out in turn.

    Attributes
    ----------
    frame
        One row per left-out unit: ``left_out, k, estimate, se, stat, pval, ci_low,
        ci_high, q, q_pval, tau2, i2, h2``.
    cluster
        Column that defined the left-out units (None: single effects).
    method, test, level
        Settings of the model (every refit uses them).
    full_estimate
        The pooled estimate with nothing left out.
    """

    frame: pd.DataFrame
    cluster: str | None
    method: str
    test: str
    level: float
    full_estimate: float

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict:
        return frame_dict(
            {
                "cluster": self.cluster,
                "method": self.method,
                "test": self.test,
                "level": self.level,
                "full_estimate": self.full_estimate,
            },
            self.frame,
        )

    def most_influential(self) -> pd.Series:
        """The row whose removal moves the estimate most."""
        shift = (self.frame["estimate"] - self.full_estimate).abs()
        return self.frame.loc[shift.idxmax()]

    def summary(self) -> str:
        unit = f"cluster ({self.cluster})" if self.cluster else "effect"
        return table_text(
            f"Leave-one-out analysis by {unit} ({self.method}, test = {self.test})",
            [f"full estimate: {self.full_estimate:.4f}"],
            self.frame,
        )


@dataclass(frozen=True)
class CumulativeResult(ResultMixin):
    """Cumulative meta-analysis: the pooled result as effects are added in order.

    Attributes
    ----------
    frame
        ``label, order_value, k, estimate, se, ci_low, ci_high, pval, q, tau2, i2``
        then ``stat, q_pval, h2``; row ``j`` pools the first ``j`` effects in the order.
    order
        Name of the ordering column (None: data order or a given sequence).
    method, test, level
        Settings of the model.
    """

    frame: pd.DataFrame
    order: str | None
    method: str
    test: str
    level: float

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict:
        return frame_dict(
            {"order": self.order, "method": self.method, "test": self.test, "level": self.level},
            self.frame,
        )

    def summary(self) -> str:
        return table_text(
            f"Cumulative meta-analysis ordered by {self.order or 'data order'} ({self.method}, test = {self.test})",
            [],
            self.frame,
        )


def _rows(st, j: int = 0) -> dict[str, np.ndarray]:
    return {
        "k": st.k,
        "estimate": st.beta[:, j],
        "se": st.se[:, j],
        "stat": st.stat[:, j],
        "pval": st.pval[:, j],
        "ci_low": st.ci_low[:, j],
        "ci_high": st.ci_high[:, j],
        "q": st.q,
        "q_pval": st.q_pval,
        "tau2": st.tau2,
        "i2": st.i2,
        "h2": st.h2,
    }


def leave_one_out(res: MetaResult, cluster: str | np.ndarray | None = None) -> LeaveOneOutResult:
    """Refit the model leaving out each effect, or each cluster of effects, in turn.

    Parameters
    ----------
    res
        An intercept-only model from :func:`rlmeta.meta_analysis`.
    cluster
        None (leave out single effects, as metafor's ``leave1out``), or a column of
        the model's data (e.g. ``"study_id"``) or a sequence of k labels: leave out
        every effect of one cluster at a time, clusters in order of appearance.

    Returns
    -------
    LeaveOneOutResult
        ``to_frame()`` columns ``left_out, k, estimate, se, stat, pval, ci_low,
        ci_high, q, q_pval, tau2, i2, h2``.  ``stat`` is z or t as the model's test;
        a subset with a single effect is tested with z, as metafor does.

    Notes
    -----
    All refits are one batched call of the engine with a ``(B, k)`` mask.
    Matches ``metafor::leave1out`` (checked in ``tests/reference/make_golden_sens.R``).

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> res = rm.meta_analysis(eff)
    >>> loo = rm.leave_one_out(res, cluster="study_id")
    >>> len(loo.to_frame()), list(loo.to_frame().columns[:4])
    (11, ['left_out', 'k', 'estimate', 'se'])
    """
    res = require_result(res, "leave_one_out")
    require_intercept_only(res, "leave_one_out")
    if res.k == 1:
        raise ModelError("leave_one_out() needs at least two effects (k = 1)")
    if cluster is None:
        masks = ~np.eye(res.k, dtype=bool)
        left = list(res.labels)
        cname = None
    else:
        vals = column_values(res, cluster, "leave_one_out(cluster=...)")
        codes, uniques = pd.factorize(pd.Series(vals), use_na_sentinel=False)
        masks = codes[None, :] != np.arange(len(uniques))[:, None]
        left = [str(u) for u in uniques]
        cname = cluster if isinstance(cluster, str) else None
    st = refit_stats(res, mask=masks)
    frame = pd.DataFrame({"left_out": left, **_rows(st)})[LOO_COLUMNS]
    return LeaveOneOutResult(frame, cname, res.method, res.test, res.level, float(res.beta.iloc[0]))


def cumulative(
    res: MetaResult, order: str | np.ndarray | None = "year", *, decreasing: bool = False
) -> CumulativeResult:
    """Cumulative meta-analysis: add effects one at a time in the given order.

    Parameters
    ----------
    res
        An intercept-only model from :func:`rlmeta.meta_analysis`.
    order
        Column of the model's data (default ``"year"``), a sequence of k sort keys,
        or None for the data order.  Ties keep the data order (a stable sort, as
        R's ``order``).
    decreasing
        Sort in decreasing order.

    Returns
    -------
    CumulativeResult
        ``to_frame()`` columns ``label, order_value, k, estimate, se, ci_low, ci_high,
        pval, q, tau2, i2, stat, q_pval, h2``.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> cum = rm.cumulative(rm.meta_analysis(eff), order="year")
    >>> int(cum.to_frame()["k"].iloc[-1])
    139
    """
    res = require_result(res, "cumulative")
    require_intercept_only(res, "cumulative")
    if order is None:
        keys = np.arange(res.k)
        oname = None
    else:
        keys = column_values(res, order, "cumulative(order=...)")
        oname = order if isinstance(order, str) else None
    if pd.isna(pd.Series(keys)).any():
        raise ModelError("cumulative(order=...): the ordering values contain missing values")
    ser = pd.Series(keys)
    idx = ser.sort_values(kind="stable", ascending=not decreasing).index.to_numpy()
    if decreasing:
        # R's order(decreasing=TRUE) also keeps ties in data order
        ranks = pd.Series(keys).rank(method="first", ascending=False).to_numpy()
        idx = np.argsort(ranks, kind="stable")
    pos = np.empty(res.k, dtype=int)
    pos[idx] = np.arange(res.k)
    masks = pos[None, :] <= np.arange(res.k)[:, None]
    st = refit_stats(res, mask=masks)
    labels = [res.labels[i] for i in idx]
    frame = pd.DataFrame({"label": labels, "order_value": ser.iloc[idx].to_numpy(), **_rows(st)})[
        CUMUL_COLUMNS
    ]
    return CumulativeResult(frame, oname, res.method, res.test, res.level)
