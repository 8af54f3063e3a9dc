"""Case-deletion diagnostics (metafor's ``influence.rma.uni``) and the Baujat plot data.

The diagnostics of Viechtbauer & Cheung (2010, *Res Synth Methods* 1(2), 112-125,
doi:10.1002/jrsm.11) for every effect ``i`` come from the model refitted without
``i`` (tau² re-estimated):

* externally standardised residual ``(y_i - x_i b_(-i)) / sqrt(s2w (v_i + tau²_(-i)) + x_i V_(-i) x_i')``;
* DFFITS ``(x_i b - x_i b_(-i)) / sqrt(s2w h_i (tau²_(-i) + v_i))``;
* Cook's distance ``(b - b_(-i))' V^-1 (b - b_(-i))``;
* covariance ratio ``det V_(-i) / det V``;
* DFBETAS ``(b - b_(-i)) / sqrt(s2w diag((X' W_(-i) X)^-1))`` with
  ``W_(-i) = diag(1 / (v + tau²_(-i)))`` over all k effects;
* tau² and QE after deletion, hat values and weights (percent) of the full fit.

``s2w`` is the Knapp-Hartung factor of the deleted fit (1 unless test="knha").
An effect is marked influential (metafor's rule) when any of
``|DFFITS| > 3 sqrt(p / (k - p))``, ``P(chi²_p <= Cook's D) > 0.5``,
``hat > 3 p / k`` or any ``|DFBETAS| > 1`` holds.

All k deletions are one batched refit; :func:`influence_arrays` also runs many base
models at once (the specification curve's outlier rules use it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin
from ..errors import ModelError
from ..meta import FIXED_METHODS, MetaResult
from ..meta._core import _inv
from ._batch import refit_stats
from ._common import frame_dict, require_result, table_text

__all__ = ["influence", "baujat", "InfluenceResult", "BaujatResult", "influence_arrays"]

_EPS = np.finfo(float).eps


def influence_arrays(
    res: MetaResult,
    base: np.ndarray | None = None,
    *,
    y: np.ndarray | None = None,
    v: np.ndarray | None = None,
    method: str | None = None,
    test: str | None = None,
) -> dict:
    """Case-deletion diagnostics for ``S`` base models at once.

    Parameters
    ----------
    res
        Model supplying the design, weights, level and controls.
    base
        ``(S, k)`` masks of the base models (default: the model itself, S = 1).
    y, v
        ``(S, k)`` (or ``(k,)``) outcomes / variances of the base models.
    method, test
        Estimator and test (default: the model's).

    Returns
    -------
    dict
        ``(S, k)`` arrays (NaN for effects outside a base model): ``rstudent,
        dffits, cooks_d, cov_r, tau2_del, qe_del, hat, weight, influential``,
        ``dfbetas`` ``(S, k, p)``, ``delpred``, ``vdelpred``, ``resid_full``
        (``y - X b``) and the base fits ``tau2`` ``(S,)``, ``beta`` ``(S, p)``.
    """
    k, p = res.k, res.p
    base = np.ones((1, k), bool) if base is None else np.atleast_2d(np.asarray(base, bool))
    S = base.shape[0]
    yy = np.broadcast_to(res.yi if y is None else np.asarray(y, float), (S, k))
    vv = np.broadcast_to(res.vi if v is None else np.asarray(v, float), (S, k))
    meth = method or res.method
    fixed = meth in FIXED_METHODS
    X = res.X
    aw = res.weights
    full = refit_stats(res, mask=base, y=yy, v=vv, method=meth, test=test)
    t_full = np.zeros(S) if fixed else np.nan_to_num(full.tau2)
    s_idx, i_idx = np.nonzero(base)
    B = len(s_idx)
    loo_mask = base[s_idx].copy()
    loo_mask[np.arange(B), i_idx] = False
    loo = refit_stats(res, mask=loo_mask, y=yy[s_idx], v=vv[s_idx], method=meth, test=test)
    t_del = np.zeros(B) if fixed else loo.tau2
    Xi = X[i_idx]
    delpred = np.einsum("bp,bp->b", Xi, loo.beta)
    vdelpred = np.einsum("bp,bpq,bq->b", Xi, loo.vb, Xi)
    yi_b = yy[s_idx, i_idx]
    vi_b = vv[s_idx, i_idx]
    resid = yi_b - delpred
    resid = np.where(np.abs(resid) < 100 * _EPS, 0.0, resid)
    with np.errstate(invalid="ignore", divide="ignore"):
        rstudent = resid / np.sqrt(vi_b * loo.s2w + vdelpred + t_del * loo.s2w)

    # hat values and weights of the base fits
    mf = base.astype(float)
    if aw is None:
        w = mf / (vv + t_full[:, None])
    else:
        w = mf * aw[None, :]
    Sinv = _inv(np.einsum("bk,kp,kq->bpq", w, X, X, optimize=True))
    hat = w * np.einsum("kp,bpq,kq->bk", X, Sinv, X, optimize=True)
    hat = np.where(hat > 1 - 10 * _EPS, 1.0, hat)
    wfit = mf / (vv + t_full[:, None]) if aw is None else mf * aw[None, :]
    weight = 100 * wfit / wfit.sum(-1, keepdims=True)
    pred_full = np.einsum("kp,bp->bk", X, full.beta)

    if aw is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            dffits = (pred_full[s_idx, i_idx] - delpred) / np.sqrt(
                loo.s2w * hat[s_idx, i_idx] * (t_del + vi_b)
            )
        wdel = base[s_idx] / (vv[s_idx] + t_del[:, None])
        vb_del = _inv(np.einsum("bk,kp,kq->bpq", wdel, X, X, optimize=True))
    else:
        a2 = mf * aw[None, :] ** 2
        M0 = np.einsum("bk,kp,kq->bpq", a2, X, X, optimize=True)
        M1 = np.einsum("bk,kp,kq->bpq", a2 * vv, X, X, optimize=True)
        Ss = Sinv[s_idx]
        vb_del = Ss @ (M1[s_idx] + t_del[:, None, None] * M0[s_idx]) @ Ss
        with np.errstate(invalid="ignore", divide="ignore"):
            dffits = (pred_full[s_idx, i_idx] - delpred) / np.sqrt(
                loo.s2w * np.einsum("bp,bpq,bq->b", Xi, vb_del, Xi)
            )
    dfb = full.beta[s_idx] - loo.beta
    with np.errstate(invalid="ignore", divide="ignore"):
        dfbetas = dfb / np.sqrt(loo.s2w[:, None] * np.diagonal(vb_del, axis1=1, axis2=2))
        vfi = _inv(full.vb)[s_idx]
        cooks = np.einsum("bp,bpq,bq->b", dfb, vfi, dfb)
        cov_r = np.linalg.det(loo.vb) / np.linalg.det(full.vb)[s_idx]
    kk = full.k[s_idx].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        infl = (
            (np.abs(dffits) > 3 * np.sqrt(p / (kk - p)))
            | (stats.chi2.cdf(cooks, p) > 0.5)
            | (hat[s_idx, i_idx] > 3 * p / kk)
            | np.any(np.abs(dfbetas) > 1, axis=1)
        )

    def grid(vals, fill=np.nan, dtype=float):
        out = np.full((S, k), fill, dtype=dtype)
        out[s_idx, i_idx] = vals
        return out

    dfb_grid = np.full((S, k, p), np.nan)
    dfb_grid[s_idx, i_idx] = dfbetas
    return {
        "rstudent": grid(rstudent),
        "dffits": grid(dffits),
        "cooks_d": grid(cooks),
        "cov_r": grid(cov_r),
        "tau2_del": grid(t_del),
        "qe_del": grid(loo.q),
        "hat": np.where(base, hat, np.nan),
        "weight": np.where(base, weight, np.nan),
        "influential": grid(infl, False, bool),
        "dfbetas": dfb_grid,
        "delpred": grid(delpred),
        "vdelpred": grid(vdelpred),
        "resid_full": np.where(base, yy - pred_full, np.nan),
        "tau2": t_full,
        "beta": full.beta,
        "valid": full.valid,
    }


@dataclass(frozen=True)
class InfluenceResult(ResultMixin):
    """Case-deletion diagnostics of every effect (metafor's ``influence()``).

    Attributes
    ----------
    frame
        ``label, rstudent, dffits, cooks_d, cov_r, tau2_del, qe_del, hat, weight,
        influential`` plus ``dfbetas_<term>`` per coefficient.
    terms
        Coefficient names.
    k, p
        Number of effects and coefficients.
    thresholds
        Cut-offs of the influence rule (``dffits``, ``cooks_d`` as the chi² quantile,
        ``hat``, ``dfbetas``).
    """

    frame: pd.DataFrame
    terms: list[str]
    k: int
    p: int
    thresholds: dict

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict:
        return frame_dict(
            {"terms": self.terms, "k": self.k, "p": self.p, "thresholds": self.thresholds},
            self.frame,
        )

    @property
    def influential_labels(self) -> list[str]:
        """Labels of the effects flagged as influential."""
        return self.frame.loc[self.frame["influential"], "label"].tolist()

    def summary(self) -> str:
        th = self.thresholds
        return table_text(
            "Influence diagnostics (Viechtbauer & Cheung 2010)",
            [
                f"influential (*) if |dffits| > {th['dffits']:.4f}, Cook's D > {th['cooks_d']:.4f}, "
                f"hat > {th['hat']:.4f} or any |dfbetas| > 1; flagged: {len(self.influential_labels)}"
            ],
            self.frame,
        )


@dataclass(frozen=True)
class BaujatResult(ResultMixin):
    """Coordinates of the Baujat plot.

    Attributes
    ----------
    frame
        ``label, x, y``: ``x`` is each effect's squared Pearson residual
        ``(y_i - x_i b)² / (v_i + tau²)`` (its contribution to Q for the
        equal-effects model) and ``y`` the influence on the fitted value
        ``(x_i b_(-i) - x_i b)² / (x_i V_(-i) x_i')``.
    """

    frame: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict:
        return frame_dict({}, self.frame)

    def summary(self) -> str:
        return table_text("Baujat plot coordinates", [], self.frame)


def influence(res: MetaResult) -> InfluenceResult:
    """Case-deletion influence diagnostics as metafor's ``influence()``.

    Parameters
    ----------
    res
        A model from :func:`rlmeta.meta_analysis` (with or without moderators).

    Returns
    -------
    InfluenceResult
        ``to_frame()`` columns ``label, rstudent, dffits, cooks_d, cov_r, tau2_del,
        qe_del, hat, weight, influential, dfbetas_<term>...``.

    Notes
    -----
    Formulas in the module docstring (Viechtbauer & Cheung 2010).  Matches
    ``metafor::influence.rma.uni`` including ``is.infl``.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> inf = rm.influence(rm.meta_analysis(eff))
    >>> list(inf.to_frame().columns)[:5]
    ['label', 'rstudent', 'dffits', 'cooks_d', 'cov_r']
    """
    res = require_result(res, "influence")
    if res.k == 1:
        raise ModelError("influence() needs at least two effects (k = 1)")
    a = influence_arrays(res)
    frame = pd.DataFrame(
        {
            "label": list(res.labels),
            **{
                c: a[c][0]
                for c in (
                    "rstudent",
                    "dffits",
                    "cooks_d",
                    "cov_r",
                    "tau2_del",
                    "qe_del",
                    "hat",
                    "weight",
                )
            },
            "influential": a["influential"][0],
        }
    )
    for j, t in enumerate(res.terms):
        frame[f"dfbetas_{t}"] = a["dfbetas"][0, :, j]
    k, p = res.k, res.p
    th = {
        "dffits": 3 * np.sqrt(p / (k - p)) if k > p else np.nan,
        "cooks_d": float(stats.chi2.ppf(0.5, p)),
        "hat": 3 * p / k,
        "dfbetas": 1.0,
    }
    return InfluenceResult(frame, list(res.terms), k, p, th)


def baujat(res: MetaResult) -> BaujatResult:
    """Baujat et al. (2002) plot data: contribution to heterogeneity vs. influence.

    Parameters
    ----------
    res
        A model from :func:`rlmeta.meta_analysis`.

    Returns
    -------
    BaujatResult
        ``to_frame()`` columns ``label, x, y`` (as metafor's ``baujat()`` returns).

    References
    ----------
    Baujat B, Mahé C, Pignon JP, Hill C (2002). A graphical method for exploring
    heterogeneity in meta-analyses. *Stat Med* 21(18), 2641-2652. doi:10.1002/sim.1221

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> list(rm.baujat(rm.meta_analysis(eff)).to_frame().columns)
    ['label', 'x', 'y']
    """
    res = require_result(res, "baujat")
    if res.k == 1:
        raise ModelError("baujat() needs at least two effects (k = 1)")
    a = influence_arrays(res)
    t2 = 0.0 if not res.random else res.tau2
    x = a["resid_full"][0] ** 2 / (t2 + res.vi)
    pred = res.fitted()
    with np.errstate(invalid="ignore", divide="ignore"):
        yv = (a["delpred"][0] - pred) ** 2 / a["vdelpred"][0]
    return BaujatResult(pd.DataFrame({"label": list(res.labels), "x": x, "y": yv}))
