"""Regression tests for funnel-plot asymmetry (metafor's ``regtest``) and PET-PEESE."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, fmt_p, jsonable
from ..errors import ModelError
from ..meta import MetaResult, fit_batch
from ._common import check_choice as _choice
from ._common import check_result as _check

_PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")


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
        keys = (
            "model",
            "predictor",
            "intercept",
            "slope",
            "stat",
            "pval",
            "df",
            "limit_estimate",
            "limit_ci_low",
            "limit_ci_high",
            "limit_pval",
            "level",
        )
        return jsonable({**{k: getattr(self, k) for k in keys}, "coefficients": self.coefficients})

    def summary(self) -> str:
        kind = (
            "weighted regression with multiplicative dispersion"
            if self.model == "lm"
            else "mixed-effects meta-regression"
        )
        name = "t" if np.isfinite(self.df) else "z"
        dfs = f" (df = {self.df:g})" if np.isfinite(self.df) else ""
        lines = [
            "Regression test for funnel plot asymmetry",
            f"model: {kind}; predictor: {self.predictor}",
            f"test for asymmetry: {name} = {self.stat:.4f}{dfs}, p = {fmt_p(self.pval)}",
        ]
        if np.isfinite(self.limit_estimate):
            lines.append(
                f"limit estimate (as sei -> 0): b = {self.limit_estimate:.4f} "
                f"(CI: {self.limit_ci_low:.4f}, {self.limit_ci_high:.4f})"
            )
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


def egger_test(
    res: MetaResult, model: str = "rma", predictor: str = "sei", *, ni=None
) -> EggerResult:
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
        raise ModelError(
            "the design is not of full rank after adding the predictor; cannot fit the test regression"
        )
    p = res.p
    level = res.level
    if model == "rma":
        t2 = res.tau2_fixed_value if res.fit.tau2_fixed else None
        fit = fit_batch(
            res.yi,
            res.vi,
            X,
            method=res.method,
            test=res.test,
            level=level,
            tau2=t2,
            weights=res.weights,
            control=res.control,
        )
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
    coefs = pd.DataFrame(
        {
            "term": names,
            "estimate": b,
            "se": se,
            "stat": stat,
            "pval": pv,
            "ci_low": b - crit * se,
            "ci_high": b + crit * se,
        }
    )
    has_limit = predictor in ("sei", "vi", "ninv", "sqrtninv") and p == 1 and res.design.intercept
    lim = coefs.iloc[0] if has_limit else None
    return EggerResult(
        model=model,
        predictor=predictor,
        intercept=float(b[0]),
        slope=float(b[p]),
        stat=float(stat[p]),
        pval=float(pv[p]),
        df=df,
        limit_estimate=float(lim["estimate"]) if has_limit else np.nan,
        limit_ci_low=float(lim["ci_low"]) if has_limit else np.nan,
        limit_ci_high=float(lim["ci_high"]) if has_limit else np.nan,
        limit_pval=float(lim["pval"]) if has_limit else np.nan,
        coefficients=coefs,
        level=level,
    )


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
            rows.append(
                {
                    "method": name,
                    "estimate": r.limit_estimate,
                    "ci_low": r.limit_ci_low,
                    "ci_high": r.limit_ci_high,
                    "pval": r.limit_pval,
                    "slope": r.slope,
                    "slope_pval": r.pval,
                    "chosen": name == self.chosen,
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        return jsonable(
            {
                "chosen": self.chosen,
                "estimate": self.estimate,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "pval": self.pval,
                "alpha": self.alpha,
                "alternative": self.alternative,
                "table": self.to_frame(),
            }
        )

    def summary(self) -> str:
        return (
            f"PET-PEESE ({self.pet.model}): {self.chosen} estimate {self.estimate:.4f} "
            f"[{self.ci_low:.4f}, {self.ci_high:.4f}], p = {fmt_p(self.pval)}\n\n"
            + self.to_frame().to_string(index=False, float_format=lambda v: f"{v:.4f}")
        )


def pet_peese(
    res: MetaResult, *, model: str = "lm", alpha: float = 0.05, alternative: str = "two-sided"
) -> PetPeeseResult:
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
    return PetPeeseResult(
        pet,
        peese,
        chosen,
        r.limit_estimate,
        r.limit_ci_low,
        r.limit_ci_high,
        r.limit_pval,
        alpha,
        alternative,
    )


# --------------------------------------------------------------------------- fail-safe N
