"""Small-study effects and publication bias: funnel data, Egger-type regression tests,
the rank correlation test, trim-and-fill, PET-PEESE and fail-safe N.

Each function matches the metafor 3.8.1 function named in its docstring
(``tests/reference/make_golden_sens.R``) unless stated otherwise.

Examples
--------
>>> import rlmeta as rm
>>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
>>> res = rm.meta_analysis(eff)
>>> eg = rm.egger_test(res)
>>> eg.predictor, eg.model
('sei', 'rma')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ._result import ResultMixin, fmt_num, fmt_p, jsonable
from .errors import ModelError
from .meta import MetaResult, fit_batch, meta_analysis

__all__ = [
    "funnel_data",
    "egger_test",
    "rank_test",
    "trim_and_fill",
    "pet_peese",
    "fail_safe_n",
    "FunnelData",
    "EggerResult",
    "RankTestResult",
    "TrimFillResult",
    "PetPeeseResult",
    "FailSafeResult",
]

_PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")


def _check(res, caller: str) -> MetaResult:
    if not isinstance(res, MetaResult):
        raise ModelError(f"{caller}() needs a fitted model from rlmeta.meta_analysis(), got {type(res).__name__}")
    return res


def _choice(value, allowed, name: str):
    if value not in allowed:
        raise ModelError(f"value for `{name}` must be one of {list(allowed)}, but {value!r} was passed")
    return value


# --------------------------------------------------------------------------- funnel
@dataclass(frozen=True)
class FunnelData(ResultMixin):
    """Points and regions of a (contour-enhanced) funnel plot.

    Attributes
    ----------
    frame
        Points: ``yi, sei, label`` (plus ``filled`` for trim-and-fill results).
        For meta-regression models ``yi`` holds the residuals (as metafor's funnel).
    se_grid
        Standard errors from 0 to the largest ``sei`` (plus 5 %), where the
        regions are evaluated.
    contours
        ``{level: (low, high)}``: bounds ``refline ± z_(1+level)/2 · se`` of the
        significance contours (default levels 0.90, 0.95, 0.99 around 0).
    center, funnel_low, funnel_high
        The pooled estimate and the pseudo-confidence region ``center ± z · se`` at
        the model's level.
    refline
        Centre of the contours (0: significance of single effects).
    """

    frame: pd.DataFrame
    se_grid: np.ndarray
    contours: dict
    center: float
    funnel_low: np.ndarray
    funnel_high: np.ndarray
    refline: float
    level: float

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def contour_frame(self) -> pd.DataFrame:
        """Contours in long form: ``level, sei, low, high``."""
        parts = [pd.DataFrame({"level": lvl, "sei": self.se_grid, "low": lo, "high": hi})
                 for lvl, (lo, hi) in self.contours.items()]
        return pd.concat(parts, ignore_index=True)

    def to_dict(self) -> dict:
        return jsonable({"points": self.frame, "center": self.center, "refline": self.refline, "level": self.level,
                         "se_grid": self.se_grid, "contours": {str(k): {"low": v[0], "high": v[1]}
                                                                for k, v in self.contours.items()},
                         "funnel": {"low": self.funnel_low, "high": self.funnel_high}})

    def summary(self) -> str:
        return (f"Funnel data: {len(self.frame)} points, centre {self.center:.4f}, contours at "
                f"{', '.join(f'{lv:g}' for lv in self.contours)} around {self.refline:g}")


def funnel_data(res, *, levels=(0.90, 0.95, 0.99), refline: float = 0.0, n_grid: int = 100) -> FunnelData:
    """Points and contour regions for a (contour-enhanced) funnel plot.

    Parameters
    ----------
    res
        A model from :func:`rlmeta.meta_analysis`, or a :class:`TrimFillResult`
        (the filled effects are included and flagged).
    levels
        Confidence levels of the significance contours.
    refline
        Centre of the contours (0 shows where single effects are significant).
    n_grid
        Number of standard-error grid points.

    Returns
    -------
    FunnelData
        ``to_frame()`` columns ``yi, sei, label`` (+ ``filled``); contours in
        ``.contours`` / ``.contour_frame()``.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> fd = rm.funnel_data(rm.meta_analysis(eff))
    >>> list(fd.to_frame().columns), sorted(fd.contours)
    (['yi', 'sei', 'label'], [0.9, 0.95, 0.99])
    """
    filled = None
    if isinstance(res, TrimFillResult):
        filled = res.model_filled_flags()
        res = res.model
    res = _check(res, "funnel_data")
    yi = res.yi if res.intercept_only else res.yi - res.fitted()
    sei = np.sqrt(res.vi)
    frame = pd.DataFrame({"yi": yi, "sei": sei, "label": list(res.labels)})
    if filled is not None:
        frame["filled"] = filled
    grid = np.linspace(0, 1.05 * float(np.max(sei)), n_grid)
    contours = {}
    for lvl in levels:
        lv = float(lvl) / 100 if lvl > 1 else float(lvl)
        z = stats.norm.ppf(0.5 + lv / 2)
        contours[lv] = (refline - z * grid, refline + z * grid)
    center = float(res.beta.iloc[0]) if res.intercept_only else 0.0
    z = stats.norm.ppf(0.5 + res.level / 2)
    return FunnelData(frame, grid, contours, center, center - z * grid, center + z * grid, refline, res.level)


# --------------------------------------------------------------------------- Egger / regtest
@dataclass(frozen=True)
class EggerResult(ResultMixin):
    """Regression test for funnel-plot asymmetry (metafor's ``regtest``).

    Attributes
    ----------
    model, predictor
        ``"rma"`` (meta-regression with the model's estimator) or ``"lm"`` (Egger's
        weighted regression with multiplicative dispersion); the precision predictor.
    intercept, slope
        First coefficient and the predictor's coefficient of the test regression.
    stat, pval, df
        Test of the predictor's coefficient (z, or t with ``df``).
    limit_estimate, limit_ci_low, limit_ci_high, limit_pval
        Intercept as the precision grows without bound (``sei``, ``vi``, ``ninv``,
        ``sqrtninv`` predictors of intercept-only models; NaN otherwise).
    coefficients
        The test regression's coefficient table.
    """

    model: str
    predictor: str
    intercept: float
    slope: float
    stat: float
    pval: float
    df: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float
    limit_pval: float
    coefficients: pd.DataFrame
    level: float

    def to_frame(self) -> pd.DataFrame:
        return self.coefficients.copy()

    def to_dict(self) -> dict:
        keys = ("model", "predictor", "intercept", "slope", "stat", "pval", "df", "limit_estimate", "limit_ci_low",
                "limit_ci_high", "limit_pval", "level")
        return jsonable({**{k: getattr(self, k) for k in keys}, "coefficients": self.coefficients})

    def summary(self) -> str:
        kind = "weighted regression with multiplicative dispersion" if self.model == "lm" else "mixed-effects meta-regression"
        name = "t" if np.isfinite(self.df) else "z"
        dfs = f" (df = {self.df:g})" if np.isfinite(self.df) else ""
        lines = [
            "Regression test for funnel plot asymmetry",
            f"model: {kind}; predictor: {self.predictor}",
            f"test for asymmetry: {name} = {self.stat:.4f}{dfs}, p = {fmt_p(self.pval)}",
        ]
        if np.isfinite(self.limit_estimate):
            lines.append(f"limit estimate (as sei -> 0): b = {self.limit_estimate:.4f} "
                         f"(CI: {self.limit_ci_low:.4f}, {self.limit_ci_high:.4f})")
        return "\n".join(lines)


def _sample_sizes(res: MetaResult, ni) -> np.ndarray:
    if ni is None:
        for col in ("ni", "n_total"):
            if col in res.data.columns:
                return res.data[col].to_numpy(float)
        if {"rl_n", "baseline_n"} <= set(res.data.columns):
            return (res.data["rl_n"] + res.data["baseline_n"]).to_numpy(float)
        if "n_items" in res.data.columns:
            return res.data["n_items"].to_numpy(float)
        raise ModelError("this predictor needs sample sizes: pass ni= (a column name or k numbers)")
    if isinstance(ni, str):
        if ni not in res.data.columns:
            raise ModelError(f"ni: column {ni!r} not found in the model's data")
        return res.data[ni].to_numpy(float)
    arr = np.asarray(ni, float)
    if arr.shape != (res.k,):
        raise ModelError(f"ni: expected {res.k} sample sizes, got shape {arr.shape}")
    return arr


def _predictor(res: MetaResult, predictor: str, ni) -> np.ndarray:
    if predictor == "sei":
        return np.sqrt(res.vi)
    if predictor == "vi":
        return res.vi.copy()
    n = _sample_sizes(res, ni)
    return {"ni": n, "ninv": 1 / n, "sqrtni": np.sqrt(n), "sqrtninv": 1 / np.sqrt(n)}[predictor]


def egger_test(res: MetaResult, model: str = "rma", predictor: str = "sei", *, ni=None) -> EggerResult:
    """Regression test for funnel-plot asymmetry (Egger et al. 1997; metafor's ``regtest``).

    Parameters
    ----------
    res
        A model from :func:`rlmeta.meta_analysis` (moderators are kept in the test
        regression).
    model
        ``"rma"`` (default, as metafor): the model refitted with the predictor as an
        extra moderator, same estimator and test.  ``"lm"``: Egger's classic
        weighted least squares with weights ``1/vi`` and a multiplicative dispersion
        (statsmodels WLS), t test with ``k - p - 1`` df.
    predictor
        ``"sei"`` (default), ``"vi"``, ``"ni"``, ``"ninv"``, ``"sqrtni"``,
        ``"sqrtninv"``.
    ni
        Sample sizes for the ``n`` predictors (column name or numbers; default the
        data's ``ni`` / ``n_total`` column, ``rl_n + baseline_n`` or ``n_items``).

    Returns
    -------
    EggerResult
        ``stat``/``pval`` test the predictor; ``limit_estimate`` is the intercept
        (PET estimate for ``sei``, PEESE for ``vi``) with its CI.

    References
    ----------
    Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis
    detected by a simple, graphical test. *BMJ* 315, 629-634. doi:10.1136/bmj.315.7109.629

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> eg = rm.egger_test(rm.meta_analysis(eff), model="lm")
    >>> eg.df
    137.0
    """
    res = _check(res, "egger_test")
    _choice(model, ("rma", "lm"), "model")
    _choice(predictor, _PREDICTORS, "predictor")
    x = _predictor(res, predictor, ni)
    X = np.column_stack([res.X, x])
    names = [*res.terms, predictor]
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ModelError("the design is not of full rank after adding the predictor; cannot fit the test regression")
    p = res.p
    level = res.level
    if model == "rma":
        t2 = res.tau2_fixed_value if res.fit.tau2_fixed else None
        fit = fit_batch(res.yi, res.vi, X, method=res.method, test=res.test, level=level, tau2=t2,
                        weights=res.weights, control=res.control)
        b = fit.beta[0]
        se = fit.se[0]
        stat = b / se
        tdist = res.test in ("t", "knha", "adhoc")
        df = float(fit.ddf[0]) if tdist else np.nan
        pv = 2 * stats.t.sf(np.abs(stat), df) if tdist else 2 * stats.norm.sf(np.abs(stat))
        crit = float(fit.crit(level)[0])
    else:
        import statsmodels.api as sm

        ols = sm.WLS(res.yi, X, weights=1 / res.vi).fit()
        b, se = np.asarray(ols.params), np.asarray(ols.bse)
        stat = b / se
        df = float(ols.df_resid)
        pv = 2 * stats.t.sf(np.abs(stat), df)
        crit = float(stats.t.ppf(0.5 + level / 2, df))
    coefs = pd.DataFrame({"term": names, "estimate": b, "se": se, "stat": stat, "pval": pv,
                          "ci_low": b - crit * se, "ci_high": b + crit * se})
    has_limit = predictor in ("sei", "vi", "ninv", "sqrtninv") and p == 1 and res.design.intercept
    lim = coefs.iloc[0] if has_limit else None
    return EggerResult(
        model=model, predictor=predictor, intercept=float(b[0]), slope=float(b[p]), stat=float(stat[p]),
        pval=float(pv[p]), df=df,
        limit_estimate=float(lim["estimate"]) if has_limit else np.nan,
        limit_ci_low=float(lim["ci_low"]) if has_limit else np.nan,
        limit_ci_high=float(lim["ci_high"]) if has_limit else np.nan,
        limit_pval=float(lim["pval"]) if has_limit else np.nan,
        coefficients=coefs, level=level,
    )


# --------------------------------------------------------------------------- rank test
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
        return (f"Rank correlation test for funnel plot asymmetry\nKendall's tau = {self.tau:.4f}, "
                f"p = {fmt_p(self.pval)} ({'exact' if self.exact else 'normal approximation'})")


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


# --------------------------------------------------------------------------- trim and fill
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
        return pd.DataFrame({"yi": self.model.yi, "vi": self.model.vi, "filled": self.model_filled_flags(),
                             "label": list(self.model.labels)})

    def to_dict(self) -> dict:
        out = {"k0": self.k0, "se_k0": self.se_k0, "side": self.side, "estimator": self.estimator,
               "p_k0": self.p_k0, "imputed": self.imputed, "model": self.model.to_dict()}
        return jsonable(out)

    def summary(self) -> str:
        head = (f"Estimated number of missing studies on the {self.side} side: {self.k0} "
                f"(SE = {fmt_num(self.se_k0)})")
        if self.estimator == "R0":
            head += f"\nTest of H0: no missing studies on the {self.side} side: p-val = {fmt_p(self.p_k0)}"
        return head + "\n\n" + self.model.summary()


def _fit_beta(y, v, w, method) -> float:
    # metafor's trimfill fits with default controls and without a fixed tau²
    fit = fit_batch(y, v, np.ones((len(y), 1)), method=method, test="z", weights=w)
    return float(fit.beta[0, 0])


def trim_and_fill(res: MetaResult, estimator: str = "L0", side: str | None = None, *, test: str = "z",
                  maxiter: int = 100) -> TrimFillResult:
    """Trim-and-fill: estimate and impute effects missing from one side of the funnel.

    Parameters
    ----------
    res
        An intercept-only model from :func:`rlmeta.meta_analysis`.
    estimator
        ``"L0"`` (default) or ``"R0"``.
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
    ranks.  The imputed effects mirror the trimmed ones about the last estimate.

    References
    ----------
    Duval S, Tweedie R (2000). Trim and fill: A simple funnel-plot-based method of
    testing and adjusting for publication bias in meta-analysis. *Biometrics* 56(2),
    455-463. doi:10.1111/j.0006-341X.2000.00455.x

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> tf = rm.trim_and_fill(rm.meta_analysis(eff))
    >>> tf.side in ("left", "right"), tf.k0 >= 0
    (True, True)
    """
    res = _check(res, "trim_and_fill")
    _choice(estimator, ("L0", "R0"), "estimator")
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
            k0f = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0f**3 + 27 * k0f**2 + 17 * k0f - 18 * k * k0f**2
                      - 18 * k * k0f + 6 * k**2 * k0f) / 24
            se = 4 * np.sqrt(var_sr) / (2 * k - 1) if var_sr >= 0 else np.nan
        k0 = int(max(0, np.round(k0f)))  # R's round: half to even, as numpy
        se_k0 = max(0.0, se) if np.isfinite(se) else np.nan
    p_k0 = np.nan
    if estimator == "R0":
        m = np.arange(-1, k0)
        from scipy.special import comb

        p_k0 = float(1 - np.sum(comb(m + 1, m + 1) * 0.5 ** (m + 2)))
    if k0 == 0:
        return TrimFillResult(res, res, 0, se_k0, side, estimator, p_k0,
                              pd.DataFrame({"yi": [], "vi": [], "label": []}), it)
    yfill = 2 * beta - yi[k - k0:]
    if side == "right":
        yfill = -yfill
    vfill = vi[k - k0:]
    labels = [f"Filled {i + 1}" for i in range(k0)]
    frame = pd.DataFrame({
        "yi": np.r_[yi0, yfill], "vi": np.r_[vi0, vfill], "label": [*res.labels, *labels],
        "filled": np.r_[np.zeros(res.k, bool), np.ones(k0, bool)],
    })
    wcol = None
    if w0 is not None:
        frame["weights"] = np.r_[w0, wi[k - k0:]]
        wcol = "weights"
    filled = meta_analysis(frame, "yi", "vi", method=res.method, test=test, level=res.level, weights=wcol,
                           slab="label")
    imputed = pd.DataFrame({"yi": yfill, "vi": vfill, "label": labels})
    return TrimFillResult(filled, res, k0, se_k0, side, estimator, p_k0, imputed, it)


# --------------------------------------------------------------------------- PET-PEESE
@dataclass(frozen=True)
class PetPeeseResult(ResultMixin):
    """PET-PEESE bias-adjusted estimate (Stanley & Doucouliagos 2014).

    Attributes
    ----------
    pet, peese
        The PET (``sei``) and PEESE (``vi``) regressions as :class:`EggerResult`.
    chosen
        ``"PEESE"`` when PET's intercept is significant at ``alpha``, else ``"PET"``.
    estimate, ci_low, ci_high, pval
        The chosen limit estimate.
    alpha, alternative
        Decision rule of the conditional estimator.
    """

    pet: EggerResult
    peese: EggerResult
    chosen: str
    estimate: float
    ci_low: float
    ci_high: float
    pval: float
    alpha: float
    alternative: str

    def to_frame(self) -> pd.DataFrame:
        rows = []
        for name, r in (("PET", self.pet), ("PEESE", self.peese)):
            rows.append({"method": name, "estimate": r.limit_estimate, "ci_low": r.limit_ci_low,
                         "ci_high": r.limit_ci_high, "pval": r.limit_pval, "slope": r.slope,
                         "slope_pval": r.pval, "chosen": name == self.chosen})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        return jsonable({"chosen": self.chosen, "estimate": self.estimate, "ci_low": self.ci_low,
                         "ci_high": self.ci_high, "pval": self.pval, "alpha": self.alpha,
                         "alternative": self.alternative, "table": self.to_frame()})

    def summary(self) -> str:
        return (f"PET-PEESE ({self.pet.model}): {self.chosen} estimate {self.estimate:.4f} "
                f"[{self.ci_low:.4f}, {self.ci_high:.4f}], p = {fmt_p(self.pval)}\n\n"
                + self.to_frame().to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def pet_peese(res: MetaResult, *, model: str = "lm", alpha: float = 0.05, alternative: str = "two-sided") -> PetPeeseResult:
    """PET-PEESE: precision-effect estimate with standard error (Stanley & Doucouliagos 2014).

    PET regresses the effects on their standard errors, PEESE on their variances
    (weights ``1/vi``); the intercepts estimate the effect of a study with infinite
    precision.  The conditional estimator reports PEESE when PET's intercept differs
    from 0 at level ``alpha`` (``alternative="greater"`` / ``"less"`` for the
    one-sided rule of the original paper), else PET.

    Parameters
    ----------
    res
        An intercept-only model from :func:`rlmeta.meta_analysis`.
    model
        ``"lm"`` (default: weighted least squares with multiplicative error, as
        Stanley & Doucouliagos) or ``"rma"`` (the model's estimator, additive tau²).
    alpha, alternative
        Decision rule for choosing PEESE.

    Returns
    -------
    PetPeeseResult

    References
    ----------
    Stanley TD, Doucouliagos H (2014). Meta-regression approximations to reduce
    publication selection bias. *Res Synth Methods* 5(1), 60-78. doi:10.1002/jrsm.1095

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> pp = rm.pet_peese(rm.meta_analysis(eff))
    >>> pp.chosen in ("PET", "PEESE")
    True
    """
    res = _check(res, "pet_peese")
    if not res.intercept_only:
        raise ModelError("pet_peese() applies to models without moderators")
    _choice(alternative, ("two-sided", "greater", "less"), "alternative")
    pet = egger_test(res, model=model, predictor="sei")
    peese = egger_test(res, model=model, predictor="vi")
    z = pet.limit_estimate / pet.coefficients["se"].iloc[0]
    df = pet.df
    dist = stats.t(df) if np.isfinite(df) else stats.norm()
    if alternative == "two-sided":
        p = 2 * dist.sf(abs(z))
    elif alternative == "greater":
        p = dist.sf(z)
    else:
        p = dist.cdf(z)
    chosen = "PEESE" if p < alpha else "PET"
    r = peese if chosen == "PEESE" else pet
    return PetPeeseResult(pet, peese, chosen, r.limit_estimate, r.limit_ci_low, r.limit_ci_high, r.limit_pval,
                          alpha, alternative)


# --------------------------------------------------------------------------- fail-safe N
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
        return jsonable({"type": self.type, "fsnum": self.fsnum, "alpha": self.alpha, "pval": self.pval,
                         "mean_effect": self.mean_effect, "target": self.target, "k": self.k})

    def summary(self) -> str:
        line = f"Fail-safe N calculation using the {self.type} approach\n"
        if self.type == "Orwin":
            line += f"average effect: {self.mean_effect:.4f}, target: {self.target:.4f}\n"
        else:
            line += f"observed significance level: {fmt_p(self.pval)}, target: {self.alpha:g}\n"
        return line + f"fail-safe N: {self.fsnum:g}"


def fail_safe_n(data_or_res, type: str = "Rosenthal", *, alpha: float = 0.05, target: float | None = None,
                weighted: bool = False, yi: str = "yi", vi: str = "vi") -> FailSafeResult:
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
    rounded up (metafor's rule).

    References
    ----------
    Rosenthal R (1979), *Psychol Bull* 86(3), 638-641, doi:10.1037/0033-2909.86.3.638;
    Orwin RG (1983), *J Educ Stat* 8(2), 157-159, doi:10.3102/10769986008002157;
    Rosenberg MS (2005), *Evolution* 59(2), 464-468, doi:10.1111/j.0014-3820.2005.tb01004.x

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> rm.fail_safe_n(eff).type
    'Rosenthal'
    """
    _choice(type, ("Rosenthal", "Orwin", "Rosenberg"), "type")
    if isinstance(data_or_res, MetaResult):
        y, v = data_or_res.yi, data_or_res.vi
    elif isinstance(data_or_res, pd.DataFrame):
        for c in (yi, vi):
            if c not in data_or_res.columns:
                raise ModelError(f"fail_safe_n(): column {c!r} not found")
        sub = data_or_res[[yi, vi]].dropna()
        y, v = sub[yi].to_numpy(float), sub[vi].to_numpy(float)
    else:
        raise ModelError(f"fail_safe_n() needs an effects DataFrame or a fitted model, got {data_or_res.__class__.__name__}")
    k = len(y)
    pval = mean_es = tgt = np.nan
    if type == "Rosenthal":
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

