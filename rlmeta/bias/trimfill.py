"""Trim-and-fill (Duval & Tweedie 2000; metafor's ``trimfill``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, fmt_num, fmt_p, jsonable
from ..errors import ModelError
from ..meta import MetaResult, fit_batch, meta_analysis
from ._common import check_choice as _choice
from ._common import check_result as _check


@dataclass(frozen=True)
class TrimFillResult(ResultMixin):
    """Trim-and-fill analysis (Duval & Tweedie 2000; metafor's ``trimfill``).

    Attributes
    ----------
    model
        The model fitted to the observed plus the imputed effects (the original
        model when none are missing).
    original
        The model that was analysed.
    k0, se_k0
        Estimated number of missing effects and its standard error.
    side
        ``"left"`` or ``"right"``: the side on which effects were imputed.
    estimator
        ``"L0"`` or ``"R0"``.
    p_k0
        For R0, the p-value of the test of k0 = 0 (NaN for L0).
    imputed
        The imputed effects: ``yi, vi, label``.
    """

    model: MetaResult
    original: MetaResult
    k0: int
    se_k0: float
    side: str
    estimator: str
    p_k0: float
    imputed: pd.DataFrame
    iterations: int = 0
    notes: list[str] = field(default_factory=list)

    def model_filled_flags(self) -> np.ndarray:
        return np.r_[np.zeros(self.original.k, bool), np.ones(self.k0, bool)]

    def to_frame(self) -> pd.DataFrame:
        """All effects: ``yi, vi, filled, label`` (observed first, then imputed)."""
        return pd.DataFrame(
            {
                "yi": self.model.yi,
                "vi": self.model.vi,
                "filled": self.model_filled_flags(),
                "label": list(self.model.labels),
            }
        )

    def to_dict(self) -> dict:
        out = {
            "k0": self.k0,
            "se_k0": self.se_k0,
            "side": self.side,
            "estimator": self.estimator,
            "p_k0": self.p_k0,
            "imputed": self.imputed,
            "model": self.model.to_dict(),
        }
        return jsonable(out)

    def summary(self) -> str:
        head = (
            f"Estimated number of missing studies on the {self.side} side: {self.k0} "
            f"(SE = {fmt_num(self.se_k0)})"
        )
        if self.estimator == "R0":
            head += f"\nTest of H0: no missing studies on the {self.side} side: p-val = {fmt_p(self.p_k0)}"
        return head + "\n\n" + self.model.summary()


def _fit_beta(y, v, w, method) -> float:
    # metafor's trimfill fits with default controls and without a fixed tau²
    fit = fit_batch(y, v, np.ones((len(y), 1)), method=method, test="z", weights=w)
    return float(fit.beta[0, 0])


def trim_and_fill(
    res: MetaResult,
    estimator: str = "L0",
    side: str | None = None,
    *,
    test: str = "z",
    maxiter: int = 100,
) -> TrimFillResult:
    """Trim-and-fill: estimate and impute effects missing from one side of the funnel.

    Parameters
    ----------
    res
        An intercept-only model from :func:`rlmeta.meta_analysis`.
    estimator
        ``"L0"`` (default), ``"R0"`` or ``"Q0"``.
    side
        ``"left"`` / ``"right"``; None chooses as metafor: the side opposite to the
        sign of the slope of ``sqrt(vi)`` in a meta-regression (negative slope:
        effects missing on the right).
    test
        Test of the filled model.  metafor's ``trimfill`` refits with its default
        ``"z"`` whatever the original model used; pass ``res.test`` to keep it.
    maxiter
        Iteration limit of the trimming.

    Returns
    -------
    TrimFillResult
        ``.model`` is the filled model; ``to_frame()`` lists every effect with
        ``yi, vi, filled``.

    Notes
    -----
    Effects are sorted on the chosen side, the ``k0`` most extreme are trimmed, the
    mean re-estimated (same estimator, weights) and k0 recomputed from the signed
    ranks of the centred effects until it stabilises:
    ``L0 = (4 S_r - k(k+1)) / (2k - 1)`` with ``S_r`` the sum of positive ranks,
    ``R0 = gamma - 1`` with ``gamma`` the length of the rightmost run of positive
    ranks, ``Q0 = k - 1/2 - sqrt(2k^2 - 4 S_r + 1/4)`` (Duval 2005).  The SE of k0 for
    L0 and Q0 comes from the variance of ``S_r`` given k0, as metafor computes it.  The imputed effects mirror the trimmed ones about the last estimate.

    References
    ----------
    Duval S, Tweedie R (2000). Trim and fill: A simple funnel-plot-based method of
    testing and adjusting for publication bias in meta-analysis. *Biometrics* 56(2),
    455-463. doi:10.1111/j.0006-341X.2000.00455.x

    Duval S (2005). The trim and fill method. In Rothstein HR, Sutton AJ, Borenstein M
    (eds.), *Publication Bias in Meta-Analysis*, 127-144. Wiley.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> tf = rm.trim_and_fill(rm.meta_analysis(eff))
    >>> tf.side in ("left", "right"), tf.k0 >= 0
    (True, True)
    """
    res = _check(res, "trim_and_fill")
    _choice(estimator, ("L0", "R0", "Q0"), "estimator")
    if not res.intercept_only:
        raise ModelError("trim_and_fill() applies to models without moderators (as metafor)")
    if res.k == 1:
        raise ModelError("trim_and_fill() needs at least two effects (k = 1)")
    yi0, vi0 = res.yi, res.vi
    w0 = res.weights
    if side is None:
        Xs = np.column_stack([np.ones(res.k), np.sqrt(vi0)])
        with np.errstate(all="ignore"):
            slope = fit_batch(yi0, vi0, Xs, method=res.method, weights=w0).beta[0, 1]
        side = "right" if slope < 0 else "left"
    else:
        _choice(side, ("left", "right"), "side")
    yi = -yi0 if side == "right" else yi0.copy()
    ix = np.argsort(yi, kind="stable")
    yi, vi = yi[ix], vi0[ix]
    wi = None if w0 is None else w0[ix]
    k = len(yi)
    k0, k0_prev, it = 0, -1, 0
    se_k0 = np.nan
    beta = np.nan
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > maxiter:
            raise ModelError(f"trim-and-fill did not converge in {maxiter} iterations")
        keep = k - k0
        with np.errstate(all="ignore"):
            beta = _fit_beta(yi[:keep], vi[:keep], None if wi is None else wi[:keep], res.method)
        yc = yi - beta
        ranks = stats.rankdata(np.abs(yc), method="ordinal")
        signed = np.sign(yc) * ranks
        if estimator == "R0":
            neg = -signed[signed < 0]
            k0f = (k - (neg.max() if neg.size else 0)) - 1
            se = np.sqrt(2 * max(0.0, k0f) + 2)
        else:
            sr = signed[signed > 0].sum()
            if estimator == "L0":
                k0f = (4 * sr - k * (k + 1)) / (2 * k - 1)
            else:
                disc = 2 * k**2 - 4 * sr + 0.25
                if disc < 0:  # metafor stops with an R error here
                    raise ModelError(
                        f"trim_and_fill(estimator='Q0') is undefined for these data: "
                        f"2k^2 - 4 S_r + 1/4 = {disc:g} < 0 (k = {k}); use 'L0' or 'R0'"
                    )
                k0f = k - 0.5 - np.sqrt(disc)
            var_sr = (
                k * (k + 1) * (2 * k + 1)
                + 10 * k0f**3
                + 27 * k0f**2
                + 17 * k0f
                - 18 * k * k0f**2
                - 18 * k * k0f
                + 6 * k**2 * k0f
            ) / 24
            if estimator == "L0":
                se = 4 * np.sqrt(var_sr) / (2 * k - 1) if var_sr >= 0 else np.nan
            else:
                den = (k - 0.5) ** 2 - k0f * (2 * k - k0f - 1)
                with np.errstate(all="ignore"):
                    se = 2 * np.sqrt(var_sr) / np.sqrt(den) if var_sr >= 0 else np.nan
        k0 = int(max(0, np.round(k0f)))  # R's round: half to even, as numpy
        se_k0 = max(0.0, se) if np.isfinite(se) else np.nan
    p_k0 = np.nan
    if estimator == "R0":
        m = np.arange(-1, k0)
        from scipy.special import comb

        p_k0 = float(1 - np.sum(comb(m + 1, m + 1) * 0.5 ** (m + 2)))
    if k0 == 0:
        return TrimFillResult(
            res,
            res,
            0,
            se_k0,
            side,
            estimator,
            p_k0,
            pd.DataFrame({"yi": [], "vi": [], "label": []}),
            it,
        )
    yfill = 2 * beta - yi[k - k0 :]
    if side == "right":
        yfill = -yfill
    vfill = vi[k - k0 :]
    labels = [f"Filled {i + 1}" for i in range(k0)]
    frame = pd.DataFrame(
        {
            "yi": np.r_[yi0, yfill],
            "vi": np.r_[vi0, vfill],
            "label": [*res.labels, *labels],
            "filled": np.r_[np.zeros(res.k, bool), np.ones(k0, bool)],
        }
    )
    wcol = None
    if w0 is not None:
        frame["weights"] = np.r_[w0, wi[k - k0 :]]
        wcol = "weights"
    filled = meta_analysis(
        frame, "yi", "vi", method=res.method, test=test, level=res.level, weights=wcol, slab="label"
    )
    imputed = pd.DataFrame({"yi": yfill, "vi": vfill, "label": labels})
    return TrimFillResult(filled, res, k0, se_k0, side, estimator, p_k0, imputed, it)
