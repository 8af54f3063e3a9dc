"""Batched refits of a fitted model and their per-model summaries.

Every sensitivity tool asks the same thing of the engine: refit the model of a
:class:`~rlmeta.meta.MetaResult` on ``B`` variants (subsets given as masks,
other outcome vectors, permuted designs, other estimators) and summarise each fit
the way metafor's ``rma.uni`` would report it.  :func:`refit_stats` does that in
one call to :func:`~rlmeta.meta.fit_batch` (through :meth:`MetaResult.refit`),
and applies the rules metafor applies to each single fit:

* a subset with one effect is tested with ``z`` (metafor: "Setting argument
  test="z" since k=1"), so those rows are refitted with ``test="z"``;
* a fit whose tau² iteration does not converge is NaN (metafor stops with an
  error, so its loops record NA);
* a subset with more parameters than effects (``p + 1 > k`` when tau² is
  estimated, except ``k = p = 1``) or a rank-deficient design cannot be fitted
  (metafor's ``try`` fails or drops coefficients), so its row is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..meta import FIXED_METHODS, BatchFit, Control, MetaResult, fit_batch
from ..meta.results import refit_variants

__all__ = ["BatchStats", "ModelSpec", "refit_stats", "summarise_fit", "design_ok"]


@dataclass(frozen=True)
class ModelSpec:
    """The arrays and settings of a fitted model, small and picklable (for Dask chunks).

    ``refit`` mirrors :meth:`MetaResult.refit`.
    """

    yi: np.ndarray
    vi: np.ndarray
    X: np.ndarray
    weights: np.ndarray | None
    method: str
    test: str
    level: float
    btt: tuple[int, ...]
    control: Control
    tau2_fixed_value: float | None
    intercept_only: bool

    @classmethod
    def from_result(cls, res) -> ModelSpec:
        if isinstance(res, ModelSpec):
            return res
        return cls(
            yi=np.asarray(res.yi, float),
            vi=np.asarray(res.vi, float),
            X=np.asarray(res.X, float),
            weights=None if res.weights is None else np.asarray(res.weights, float),
            method=res.method,
            test=res.test,
            level=res.level,
            btt=tuple(res.btt),
            control=res.control,
            tau2_fixed_value=res.tau2_fixed_value if res.fit.tau2_fixed else None,
            intercept_only=bool(res.intercept_only),
        )

    @property
    def k(self) -> int:
        return len(self.yi)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def tau2_fixed(self) -> bool:
        return self.tau2_fixed_value is not None and self.method not in FIXED_METHODS

    def refit(
        self, *, y=None, v=None, X=None, mask=None, method=None, test=None, tau2="same", level=None
    ) -> BatchFit:
        t2 = self.tau2_fixed_value if tau2 == "same" else tau2
        return refit_variants(
            self, y=y, v=v, X=X, mask=mask, method=method, test=test, tau2=t2, level=level
        )


@dataclass
class BatchStats:
    """Per-model summaries of a batch of ``B`` fits with ``p`` coefficients."""

    k: np.ndarray  # (B,)
    beta: np.ndarray  # (B, p)
    se: np.ndarray  # (B, p)
    stat: np.ndarray  # (B, p)
    pval: np.ndarray  # (B, p)
    ci_low: np.ndarray  # (B, p)
    ci_high: np.ndarray  # (B, p)
    vb: np.ndarray  # (B, p, p)
    tau2: np.ndarray
    q: np.ndarray
    q_pval: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    qm: np.ndarray
    qm_pval: np.ndarray
    s2w: np.ndarray
    ddf: np.ndarray
    converged: np.ndarray
    valid: np.ndarray  # (B,) False where the model could not be fitted

    def take(self, idx) -> BatchStats:
        return BatchStats(**{f: getattr(self, f)[idx] for f in self.__dataclass_fields__})

    def put(self, idx, other: BatchStats) -> None:
        for f in self.__dataclass_fields__:
            getattr(self, f)[idx] = getattr(other, f)

    @classmethod
    def concat(cls, parts: list[BatchStats]) -> BatchStats:
        return cls(
            **{f: np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__}
        )


def design_ok(X: np.ndarray, mask: np.ndarray, *, evtol: float = 1e-7) -> np.ndarray:
    """True where the included rows of ``X`` give a full-rank design (metafor's ``coef.na`` check)."""
    X = np.asarray(X, float)
    m = np.asarray(mask, float)
    if X.ndim == 2:
        if X.shape[1] == 1 and np.all(X == X[0]):
            return m.sum(-1) > 0
        xtx = np.einsum("kp,bk,kq->bpq", X, m, X, optimize=True)
    else:
        xtx = np.einsum("bkp,bk,bkq->bpq", X, m, X, optimize=True)
    # scale-free check: eigenvalues of the correlation-like matrix
    d = np.sqrt(np.clip(np.diagonal(xtx, axis1=1, axis2=2), 1e-300, None))
    ev = np.linalg.eigvalsh(xtx / d[:, :, None] / d[:, None, :])
    return (ev[:, 0] > evtol) & np.all(np.diagonal(xtx, axis1=1, axis2=2) > 0, axis=1)


def summarise_fit(fit: BatchFit, btt: list[int], level: float | None = None) -> BatchStats:
    """Coefficient table, heterogeneity and omnibus test for every model of a batch."""
    lvl = fit.level if level is None else level
    beta = fit.beta
    vb = fit.vb
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.diagonal(vb, axis1=-2, axis2=-1))
        stat = beta / se
    tdist = fit.test in ("t", "knha", "adhoc")
    ddf = fit.ddf.astype(float)
    with np.errstate(invalid="ignore"):
        if tdist:
            df = np.where(ddf > 0, ddf, np.nan)[:, None]
            pval = 2 * stats.t.sf(np.abs(stat), df)
            crit = stats.t.ppf(0.5 + lvl / 2, df)
        else:
            pval = 2 * stats.norm.sf(np.abs(stat))
            crit = np.full((beta.shape[0], 1), stats.norm.ppf(0.5 + lvl / 2))
    # omnibus test of the btt coefficients
    bt = beta[:, btt]
    vt = vb[:, btt][:, :, btt]
    m = len(btt)
    with np.errstate(invalid="ignore", divide="ignore"):
        if m == 1:
            qm = bt[:, 0] ** 2 / vt[:, 0, 0]
        else:
            try:
                sol = np.linalg.solve(vt, bt[..., None])[..., 0]
            except np.linalg.LinAlgError:
                sol = np.full_like(bt, np.nan)
                for i in range(bt.shape[0]):
                    try:
                        sol[i] = np.linalg.solve(vt[i], bt[i])
                    except np.linalg.LinAlgError:
                        pass
            qm = np.einsum("bp,bp->b", bt, sol)
        if tdist:
            qm = qm / m
            qm_p = stats.f.sf(qm, m, np.where(ddf > 0, ddf, np.nan))
        else:
            qm_p = stats.chi2.sf(qm, m)
    B = beta.shape[0]
    return BatchStats(
        k=fit.k.astype(int).copy(),
        beta=beta.copy(),
        se=se,
        stat=stat,
        pval=pval,
        ci_low=beta - crit * se,
        ci_high=beta + crit * se,
        vb=vb.copy(),
        tau2=fit.tau2.copy() if fit.method not in FIXED_METHODS else np.zeros(B),
        q=fit.qe.copy(),
        q_pval=fit.qe_p.copy(),
        i2=fit.i2.copy(),
        h2=fit.h2.copy(),
        qm=np.asarray(qm, float),
        qm_pval=np.asarray(qm_p, float),
        s2w=fit.s2w.copy(),
        ddf=ddf.copy(),
        converged=fit.converged.copy(),
        valid=np.ones(B, dtype=bool),
    )


def refit_stats(
    res: MetaResult | ModelSpec,
    *,
    mask: np.ndarray | None = None,
    y: np.ndarray | None = None,
    v: np.ndarray | None = None,
    X: np.ndarray | None = None,
    method: str | None = None,
    test: str | None = None,
    tau2="same",
    btt: list[int] | None = None,
    keep_nonconverged: bool = False,
) -> BatchStats:
    """Refit ``res`` on a batch of variants and summarise each fit as metafor would.

    Parameters
    ----------
    res
        The fitted model whose data, weights, level and controls are reused.
    mask, y, v, X
        ``(B, k)`` inclusion masks, outcome vectors, variances; ``X`` as ``(k, p)`` or
        ``(B, k, p)``.  At least one of ``mask``/``y``/``X`` sets ``B``.
    method, test, tau2
        Override the model's estimator, test or fixed tau² (default: the model's).
    btt
        Coefficients of the omnibus test (default: the model's).
    keep_nonconverged
        Keep the numbers of fits whose tau² iteration did not converge (default:
        NaN and ``valid = False``, as metafor, whose refit stops with an error).

    Returns
    -------
    BatchStats
    """
    res = ModelSpec.from_result(res)
    meth = method or res.method
    tst = test or res.test
    bt = list(res.btt if btt is None else btt)
    B = 1
    for arr in (mask, y, v):
        if arr is not None and np.ndim(arr) == 2:
            B = np.shape(arr)[0]
    if X is not None and np.ndim(X) == 3:
        B = np.shape(X)[0]
    k = res.k
    m = np.ones((B, k), bool) if mask is None else np.broadcast_to(np.asarray(mask, bool), (B, k))
    Xd = res.X if X is None else np.asarray(X, float)
    yy = np.broadcast_to(res.yi if y is None else np.asarray(y, float), (B, k))
    vv = np.broadcast_to(res.vi if v is None else np.asarray(v, float), (B, k))
    kk = m.sum(-1)
    p = Xd.shape[-1]
    tau_fixed = res.tau2_fixed if tau2 == "same" else tau2 is not None
    t2 = res.tau2_fixed_value if tau2 == "same" else tau2
    estimating = meth not in FIXED_METHODS and not tau_fixed
    ok = (kk >= p + (1 if estimating else 0)) | ((kk == 1) & (p == 1))
    ok &= kk >= 1
    if p > 1 or (Xd.ndim == 3):
        ok &= design_ok(Xd, m, evtol=res.control.evtol)
    out = _empty_stats(B, p)
    out.k[:] = kk
    # k = 1 is tested with z (as metafor); rows that cannot be fitted stay NaN
    for rows, tt in (
        (np.flatnonzero(ok & ((kk > 1) | (tst == "z"))), tst),
        (np.flatnonzero(ok & (kk == 1)) if tst != "z" else np.array([], int), "z"),
    ):
        if rows.size:
            st = _fit_rows(
                res, yy[rows], vv[rows], Xd if Xd.ndim == 2 else Xd[rows], m[rows], meth, tt, t2, bt
            )
            if not keep_nonconverged:
                # metafor stops with an error when tau² does not converge: the refit is NA
                _blank(st, ~st.converged)
            out.put(rows, st)
    return out


_ARRAYS = (
    "beta",
    "se",
    "stat",
    "pval",
    "ci_low",
    "ci_high",
    "vb",
    "tau2",
    "q",
    "q_pval",
    "i2",
    "h2",
    "qm",
    "qm_pval",
    "s2w",
    "ddf",
)


def _blank(st: BatchStats, rows: np.ndarray) -> None:
    if rows.any():
        for f in _ARRAYS:
            getattr(st, f)[rows] = np.nan
        st.valid[rows] = False


def _empty_stats(B: int, p: int) -> BatchStats:
    nan = np.full(B, np.nan)
    nanp = np.full((B, p), np.nan)
    return BatchStats(
        k=np.zeros(B, int),
        beta=nanp.copy(),
        se=nanp.copy(),
        stat=nanp.copy(),
        pval=nanp.copy(),
        ci_low=nanp.copy(),
        ci_high=nanp.copy(),
        vb=np.full((B, p, p), np.nan),
        tau2=nan.copy(),
        q=nan.copy(),
        q_pval=nan.copy(),
        i2=nan.copy(),
        h2=nan.copy(),
        qm=nan.copy(),
        qm_pval=nan.copy(),
        s2w=nan.copy(),
        ddf=nan.copy(),
        converged=np.zeros(B, bool),
        valid=np.zeros(B, bool),
    )


def _fit_rows(spec: ModelSpec, y, v, X, m, method, test, tau2, btt) -> BatchStats:
    """Fit rows that can be fitted; excluded entries are first packed away (fewer columns)."""
    k = m.shape[1]
    kmax = int(m.sum(1).max())
    w = spec.weights
    if kmax < k:
        order = np.argsort(~m, axis=1, kind="stable")[:, :kmax]
        y = np.take_along_axis(y, order, 1)
        v = np.take_along_axis(v, order, 1)
        m = np.take_along_axis(m, order, 1)
        if X.ndim == 2:
            X = np.ones((kmax, 1)) if (X.shape[1] == 1 and np.all(X == 1)) else X[order]
        else:
            X = np.take_along_axis(X, order[..., None], 1)
        w = None if w is None else w[order]
    with np.errstate(all="ignore"):
        fit = fit_batch(
            y,
            v,
            X,
            mask=m,
            method=method,
            test=test,
            level=spec.level,
            tau2=tau2,
            weights=w,
            control=spec.control,
        )
        st = summarise_fit(fit, btt, spec.level)
    return st
