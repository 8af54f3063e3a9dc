"""Cluster-robust inference for meta-analytic models (``robust``, ``RobustResult``).

``robust(res, cluster="study_id", adjust="CR2")`` matches metafor's
``robust(res, cluster, clubSandwich=TRUE)``: the CR2 sandwich estimator with the
model's working weights (the inverse marginal covariance), Satterthwaite degrees of
freedom per coefficient (clubSandwich ``coef_test(vcov="CR2")``) and the HTZ Wald test
for the moderators (clubSandwich ``Wald_test(test="HTZ")``).  ``adjust="CR1"`` is
metafor's default ``robust(res, cluster)`` (``J / (J - p)`` factor, ``J - p`` df);
``"CR0"`` the plain sandwich.  ``weights="CE"`` refits with robumeta's
correlated-effects working weights (Hedges, Tipton & Johnson 2010, *Res Synth Methods*
1:39, doi:10.1002/jrsm.5) before the robust step.

Everything is computed cluster by cluster (``O(sum n_j^3)`` for CR2, ``O(k)`` for
CR0/CR1), never with a ``k x k`` matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, fmt_num, fmt_p, jsonable
from ..errors import ModelError
from ._sandwich import ClusterBatch, cr2_parts, htz_df

__all__ = ["robust", "RobustResult", "ce_weights"]

_ADJUST = ("CR0", "CR1", "CR2")


@dataclass
class RobustResult(ResultMixin):
    """Cluster-robust coefficient tests and the omnibus Wald test of a meta-analytic model.

    Attributes
    ----------
    table
        ``term, estimate, se, stat, df, pval, ci_low, ci_high``.
    wald
        Omnibus test of ``btt``: ``stat`` (F), ``df1``, ``df2``, ``pval``, ``test``
        (``"HTZ"`` for CR2, ``"F"`` otherwise), ``hypotheses``.
    vcov
        Robust covariance matrix of the coefficients.
    """

    table: pd.DataFrame
    wald: dict
    vcov: pd.DataFrame
    n_clusters: int
    cluster_sizes: pd.Series
    adjust: str
    weights: str
    level: float
    k: int
    tau2_ce: float | None = None
    rho: float | None = None
    warnings: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def beta(self) -> pd.Series:
        return pd.Series(
            self.table["estimate"].to_numpy(), index=self.table["term"], name="estimate"
        )

    def to_dict(self) -> dict:
        return jsonable(
            {
                "k": self.k,
                "n_clusters": self.n_clusters,
                "adjust": self.adjust,
                "weights": self.weights,
                "level": self.level,
                "coefficients": self.table.to_dict(orient="records"),
                "wald": {kk: v for kk, v in self.wald.items()},
                "qm": self.wald.get("stat"),
                "qm_df": [self.wald.get("df1"), self.wald.get("df2")],
                "qm_pval": self.wald.get("pval"),
                "tau2_ce": self.tau2_ce,
                "rho": self.rho,
                "warnings": self.warnings,
            }
        )

    def summary(self, digits: int = 4) -> str:
        kind = {
            "CR2": "CR2 with Satterthwaite df (clubSandwich)",
            "CR1": "CR1 (df = clusters - p)",
            "CR0": "CR0 (df = clusters - p)",
        }[self.adjust]
        lines = [
            f"Cluster-robust inference: {kind}",
            f"Number of clusters: {self.n_clusters}; outcomes per cluster: {int(self.cluster_sizes.min())} - "
            f"{int(self.cluster_sizes.max())} (mean {self.cluster_sizes.mean():.2f}, median "
            f"{self.cluster_sizes.median():g})",
        ]
        if self.weights == "CE":
            lines.append(
                f"Working weights: correlated effects (rho = {self.rho:g}), tau^2 = {fmt_num(self.tau2_ce, digits)}"
            )
        w = self.wald
        if (
            w.get("hypotheses") and len(self.table) > 1
        ):  # no moderator test for an intercept-only model
            lines.append("")
            lines.append(f"Test of Moderators (coefficient(s) {', '.join(w['hypotheses'])}):")
            lines.append(
                f"F(df1 = {w['df1']}, df2 = {w['df2']:.2f}) = {w['stat']:.4f}, p-val = {fmt_p(w['pval'])}"
                + (" [HTZ]" if w["test"] == "HTZ" else "")
            )
        lines.append("")
        tab = self.table
        show = pd.DataFrame(
            {
                "": tab["term"],
                "estimate": tab["estimate"].map(lambda v: fmt_num(v, digits)),
                "se": tab["se"].map(lambda v: fmt_num(v, digits)),
                "tval": tab["stat"].map(lambda v: fmt_num(v, digits)),
                "df": tab["df"].map(lambda v: f"{v:.2f}"),
                "pval": tab["pval"].map(fmt_p),
                "ci_low": tab["ci_low"].map(lambda v: fmt_num(v, digits)),
                "ci_high": tab["ci_high"].map(lambda v: fmt_num(v, digits)),
            }
        )
        lines.append(show.to_string(index=False))
        for msg in self.warnings:
            lines.append(f"Warning: {msg}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- inputs
def _cluster_codes(res, cluster) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(cluster, str):
        if cluster not in res.data.columns:
            raise ModelError(f"cluster column {cluster!r} not found in the model's data")
        values = res.data[cluster]
    else:
        values = pd.Series(np.asarray(cluster))
        if len(values) != res.k:
            raise ModelError(f"cluster has {len(values)} values for {res.k} effects")
    if values.isna().any():
        raise ModelError("the cluster variable has missing values")
    codes, uniq = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniq, dtype=object)


def _is_multilevel(res) -> bool:
    return hasattr(res, "structure")


def _check_nested(res, codes: np.ndarray) -> None:
    """CR2 needs the marginal covariance to be block-diagonal by cluster (as clubSandwich)."""
    st = res.structure
    groups = [st.unit_of] + ([st.codes[0]] if st.L > 0 and st.R > 0 else [])
    for g in groups:
        pairs = np.unique(np.column_stack([g, codes]), axis=0)
        if len(pairs) != len(np.unique(g)):
            raise ModelError(
                "the random effects (or V's blocks) are not nested within the clustering variable; "
                "cluster at the top level of random= (e.g. the study) for CR2, or use adjust='CR1'"
            )


def _marginal_blocks(res, codes: np.ndarray, rows_by_size) -> list[ClusterBatch]:
    """Dense working covariance ``M_j`` (and ``W_j = M_j^-1``) of every cluster."""
    out = []
    if _is_multilevel(res):
        st = res.structure
        s2 = res.sigma2
        vfull = None
        if res.V is not None:
            vfull = {}
            for r, b in res.V.nontrivial():
                vfull[int(r[0])] = (r, b)
        for rows in rows_by_size:
            n = rows.shape[1]
            theta = np.zeros((len(rows), n, n))
            theta[:, np.arange(n), np.arange(n)] = res.vi[rows]
            if vfull:
                pos = {int(r): (g, i) for g, rr in enumerate(rows) for i, r in enumerate(rr)}
                for r, b in vfull.values():
                    if int(r[0]) not in pos:
                        continue
                    g = pos[int(r[0])][0]
                    ii = [pos[int(x)][1] for x in r]
                    theta[g][np.ix_(ii, ii)] = b
            for lvl in range(st.L):
                c = st.codes[lvl][rows]
                theta += s2[lvl] * (c[:, :, None] == c[:, None, :])
            out.append(ClusterBatch(rows, theta, np.linalg.inv(theta)))
    else:
        t2 = res.tau2 if res.random else 0.0
        tv = res.vi + t2
        wv = res.weights if res.weights is not None else 1 / tv
        for rows in rows_by_size:
            n = rows.shape[1]
            theta = np.zeros((len(rows), n, n))
            W = np.zeros((len(rows), n, n))
            theta[:, np.arange(n), np.arange(n)] = tv[rows]
            W[:, np.arange(n), np.arange(n)] = wv[rows]
            out.append(ClusterBatch(rows, theta, W))
    return out


def _diag_blocks(w: np.ndarray, rows_by_size) -> list[ClusterBatch]:
    out = []
    for rows in rows_by_size:
        n = rows.shape[1]
        theta = np.zeros((len(rows), n, n))
        W = np.zeros((len(rows), n, n))
        theta[:, np.arange(n), np.arange(n)] = 1 / w[rows]
        W[:, np.arange(n), np.arange(n)] = w[rows]
        out.append(ClusterBatch(rows, theta, W))
    return out


def _rows_by_size(codes: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    sizes = np.bincount(codes)
    order = np.lexsort((np.arange(len(codes)), codes))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rows, ids = [], []
    for n in np.unique(sizes):
        cl = np.flatnonzero(sizes == n)
        rows.append(order[starts[cl][:, None] + np.arange(n)[None, :]])
        ids.append(cl)
    return rows, np.concatenate(ids)


def ce_weights(
    y: np.ndarray, v: np.ndarray, X: np.ndarray, codes: np.ndarray, rho: float
) -> tuple[np.ndarray, float]:
    """robumeta's correlated-effects working weights and their method-of-moments tau².

    Initial weights ``1 / (k_j mean(v_j))``; ``tau² = max(0, (Q_E - J + tr(M sum_j w_j/k_j X_j'X_j)
    + rho tr(M sum_j w_j/k_j (X_j'1 1'X_j - X_j'X_j))) / (sum w - tr(M sum_j w_j^2 X_j'1 1'X_j)))``
    (Hedges, Tipton & Johnson 2010, eq. 11; Tanner-Smith & Tipton 2014); final weights
    ``1 / (k_j (mean(v_j) + tau²))``.
    """
    J = int(codes.max()) + 1
    kj = np.bincount(codes, minlength=J).astype(float)
    vbar = np.bincount(codes, weights=v, minlength=J) / kj
    wj = 1 / (kj * vbar)
    w = wj[codes]
    M = np.linalg.inv((X * w[:, None]).T @ X)
    b = M @ ((X * w[:, None]).T @ y)
    e = y - X @ b
    qe = float(np.sum(w * e * e))
    sx = np.zeros((J, X.shape[1]))
    np.add.at(sx, codes, X)  # X_j' 1
    xjx = np.einsum("jp,jq->pq", sx * (wj**2)[:, None], sx)  # sum w_j^2 X'11'X
    wk = (wj / kj)[codes]
    xx_k = (X * wk[:, None]).T @ X  # sum w_j/k_j X'X
    jj_k = np.einsum("jp,jq->pq", sx * (wj / kj)[:, None], sx)  # sum w_j/k_j X'11'X
    denom = w.sum() - np.trace(M @ xjx)
    term_a = np.trace(M @ xx_k)
    term_b = np.trace(M @ (jj_k - xx_k))
    tau2 = max(0.0, (qe - J + term_a) / denom + rho * term_b / denom)
    return 1 / (kj * (vbar + tau2))[codes], float(tau2)


# --------------------------------------------------------------------------- main
def robust(
    res,
    cluster,
    adjust: str = "CR2",
    *,
    weights: str | None = None,
    rho: float = 0.8,
    btt=None,
    level: float | None = None,
) -> RobustResult:
    """Cluster-robust tests and confidence intervals for a fitted model.

    Parameters
    ----------
    res
        A :class:`~rlmeta.meta.results.MetaResult` or
        :class:`~rlmeta.meta._mlresult.MultilevelResult`.
    cluster
        Column of the model's data (or a sequence, one value per effect) identifying
        independent clusters, typically ``"study_id"``.
    adjust
        ``"CR2"`` (default; clubSandwich's CR2 with Satterthwaite df and the HTZ Wald
        test), ``"CR1"`` (metafor's ``robust(adjust=TRUE)``: factor ``J/(J-p)``, df
        ``J - p``) or ``"CR0"``.
    weights
        None: the model's weights (inverse marginal covariance).  ``"CE"``: robumeta's
        correlated-effects working weights with correlation ``rho`` (the coefficients
        are re-estimated with them).
    rho
        Assumed within-cluster correlation for ``weights="CE"`` (robumeta default 0.8).
    btt
        Coefficients of the omnibus test (default: the model's).
    level
        Confidence level (default: the model's).

    Returns
    -------
    RobustResult

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> rob = rm.meta_analysis(eff, random="study_id/comparison_id").robust("study_id")
    >>> rob.adjust, rob.n_clusters == eff["study_id"].nunique()
    ('CR2', True)
    """
    adjust = str(adjust).upper()
    if adjust not in _ADJUST:
        raise ModelError(f"adjust must be one of {', '.join(_ADJUST)}, got {adjust!r}")
    if weights not in (None, "CE", "model"):
        raise ModelError(f"weights must be None (the model's) or 'CE', got {weights!r}")
    weights = "CE" if weights == "CE" else "model"
    level = res.level if level is None else level
    codes, labels = _cluster_codes(res, cluster)
    J = len(labels)
    X = res.X
    y = np.asarray(res.yi, float)
    p = X.shape[1]
    terms = list(res.terms)
    if J < 2:
        raise ModelError("cluster-robust inference needs at least 2 clusters")
    if J <= p:
        raise ModelError(
            f"number of clusters ({J}) must be larger than the number of coefficients ({p})"
        )
    rows, ids = _rows_by_size(codes)
    tau2_ce = None
    msgs: list[str] = []
    if weights == "CE":
        w, tau2_ce = ce_weights(y, np.asarray(res.vi, float), X, codes, float(rho))
        batches = _diag_blocks(w, rows)
        inverse_var = True
    elif adjust == "CR2":
        if _is_multilevel(res):
            _check_nested(res, codes)
            inverse_var = True
        else:
            inverse_var = res.weights is None
        batches = _marginal_blocks(res, codes, rows)
    else:
        batches = None
    # coefficients and residuals under the working weights
    if batches is not None:
        XtWX = sum(np.einsum("gip,gij,gjq->pq", X[b.rows], b.W, X[b.rows]) for b in batches)
        XtWy = sum(np.einsum("gip,gij,gj->p", X[b.rows], b.W, y[b.rows]) for b in batches)
        beta = np.linalg.solve(XtWX, XtWy)
    else:
        beta = np.asarray(res.beta, float)
    e = y - X @ beta
    if adjust == "CR2":
        parts = cr2_parts(X, e, batches, ids, inverse_var=inverse_var, adjust="CR2")
        vb = parts.vcov
        df = np.array([htz_df(parts, np.eye(p)[i]) for i in range(p)])
    else:
        # CR0 / CR1 as metafor: bread (X'WX)^-1 X'W with the model's (full) weights.
        if batches is not None:
            WX = np.zeros_like(X)
            for b in batches:
                WX[b.rows] = np.einsum("gij,gjp->gip", b.W, X[b.rows])
            bread = np.linalg.inv(X.T @ WX)
        elif _is_multilevel(res):
            WX = res.ev.MiX
            bread = res.ev.F
        else:
            w = (
                res.weights
                if res.weights is not None
                else 1 / (res.vi + (res.tau2 if res.random else 0.0))
            )
            WX = X * w[:, None]
            bread = np.linalg.inv(X.T @ WX)
        u = np.zeros((J, p))
        np.add.at(u, codes, WX * e[:, None])
        vb = bread @ (u.T @ u) @ bread
        if adjust == "CR1":
            vb = vb * J / (J - p)
        df = np.full(p, float(J - p))
        parts = None
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    pval = 2 * stats.t.sf(np.abs(stat), df)
    crit = stats.t.ppf(0.5 + level / 2, df)
    table = pd.DataFrame(
        {
            "term": terms,
            "estimate": beta,
            "se": se,
            "stat": stat,
            "df": df,
            "pval": pval,
            "ci_low": beta - crit * se,
            "ci_high": beta + crit * se,
        }
    )
    # omnibus test
    idx = list(res.btt) if btt is None else _btt(btt, terms)
    wald = _wald(beta, vb, idx, terms, parts, df, adjust, res.intercept_only)
    small = table["df"] < 4
    if small.any():
        msgs.append(
            f"small degrees of freedom (< 4) for {', '.join(table.loc[small, 'term'])}: the robust t test is "
            "unreliable with so few effective clusters (Tipton 2015); consider a wild cluster bootstrap"
        )
    if (
        wald.get("df2") is not None
        and np.isfinite(wald["df2"])
        and wald["df2"] < 4
        and not res.intercept_only
    ):
        msgs.append(f"the omnibus test has df2 = {wald['df2']:.2f} < 4 and is unreliable")
    sizes = pd.Series(np.bincount(codes), index=labels, name="n")
    return RobustResult(
        table=table,
        wald=wald,
        vcov=pd.DataFrame(vb, index=terms, columns=terms),
        n_clusters=J,
        cluster_sizes=sizes,
        adjust=adjust,
        weights=weights,
        level=level,
        k=len(y),
        tau2_ce=tau2_ce,
        rho=float(rho) if weights == "CE" else None,
        warnings=msgs,
    )


def _btt(btt, terms):
    from ._mlresult import _btt_index

    return _btt_index(btt, terms)


def _wald(beta, vb, idx, terms, parts, df, adjust, intercept_only) -> dict:
    m = len(idx)
    C = np.zeros((m, len(beta)))
    C[np.arange(m), idx] = 1.0
    est = C @ beta
    try:
        Q = float(est @ np.linalg.solve(C @ vb @ C.T, est))
    except np.linalg.LinAlgError:
        Q = np.nan
    hyp = [terms[i] for i in idx]
    if adjust == "CR2":
        if intercept_only or m == 1:
            nu = float(df[idx[0]])
            return {
                "stat": Q,
                "df1": 1,
                "df2": nu,
                "pval": float(stats.f.sf(Q, 1, nu)),
                "test": "HTZ",
                "hypotheses": hyp,
            }
        nu = htz_df(parts, C)
        dfd = nu - m + 1
        Fs = max((nu - m + 1) / nu, 0) * Q / m
        pval = float(stats.f.sf(Fs, m, dfd)) if dfd > 0 else np.nan
        return {"stat": Fs, "df1": m, "df2": dfd, "pval": pval, "test": "HTZ", "hypotheses": hyp}
    dfd = float(df[0])
    return {
        "stat": Q / m,
        "df1": m,
        "df2": dfd,
        "pval": float(stats.f.sf(Q / m, m, dfd)),
        "test": "F",
        "hypotheses": hyp,
    }
