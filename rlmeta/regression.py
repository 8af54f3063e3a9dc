"""Multiple regression on run-level data: OLS/WLS, binomial GLM, random-intercept models.

:func:`regress` fits a model given by a safe formula (checked by
:func:`rlmeta.meta.formula.check_formula`, built by formulaic, never evaluated as
Python) with statsmodels, and returns a :class:`RegressionResult` with a tidy
coefficient table (including standardised coefficients), variance inflation
factors and fit statistics.  Several outcomes can be fitted at once
(``"y1 + y2 ~ x"`` or a list of formulas); :func:`adjust_pvalues` then controls
the family-wise error rate (Holm) or the false discovery rate (Benjamini-Hochberg)
across outcomes and terms.

Which model is fitted
---------------------
=========================  ==========================================  ==========
arguments                  statsmodels model                           inference
=========================  ==========================================  ==========
gaussian                   ``OLS``                                     t(n - p)
gaussian, ``weights=``     ``WLS`` (weights = inverse variances)       t(n - p)
binomial, ``n=``           ``GLM(Binomial)`` on (successes, failures)  z
gaussian, ``groups=``      ``MixedLM`` random intercept, REML          z
any, ``cluster=``          same model, cluster-robust (CR1) covariance t(G - 1)
=========================  ==========================================  ==========

For binomial accuracies the outcome is the proportion correct and ``n=`` names
the column of item counts: successes = score x n (fractional products are kept and
reported, which is the binomial quasi-likelihood).  Without ``n=`` the outcome
must be 0/1.

Examples
--------
>>> import rlmeta as rm
>>> from rlmeta.datasets.simulate import simulate_sweep
>>> sweep = simulate_sweep(seed=0)
>>> gsm = sweep[sweep["benchmark"] == "gsm8k"]
>>> fit = regress(gsm, "score ~ log10_learning_rate * reward_calibration")
>>> fit.model, fit.nobs
('OLS', 125)
>>> fit.to_frame()["term"].tolist()
['intercept', 'log10_learning_rate', 'reward_calibration', 'log10_learning_rate:reward_calibration']
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._result import ResultMixin, fmt_num, fmt_p, jsonable
from .droplog import drop_log, record_drops
from .errors import ConvergenceWarning, DataError, DataWarning, ModelError
from .meta.fit import normalise_level
from .meta.formula import Design, check_formula
from .schema import row_numbers

__all__ = ["regress", "RegressionResult", "MultiRegressionResult", "adjust_pvalues", "FAMILIES"]

FAMILIES = ("gaussian", "binomial")
_ADJUST = {
    "holm": "holm",
    "fdr_bh": "fdr_bh",
    "bh": "fdr_bh",
    "bonferroni": "bonferroni",
    "none": None,
}
_COLUMNS = ["term", "estimate", "se", "stat", "df", "pval", "ci_low", "ci_high", "std_estimate"]


# --------------------------------------------------------------------------- formula handling
def split_formula(formula: str, columns: Sequence[str]) -> tuple[list[str], str]:
    """Check ``formula`` for safety and split it into outcome columns and the right-hand side.

    The left-hand side may only list column names joined by ``+`` (one model per
    outcome); transforms belong in a new column.

    >>> split_formula("y1 + y2 ~ x * z", ["y1", "y2", "x", "z"])
    (['y1', 'y2'], 'x * z')
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise ModelError(f"formula must be a string 'outcome ~ predictors', got {formula!r}")
    check_formula(formula, columns)
    lhs, _, rhs = formula.partition("~")
    if "~" in rhs:
        raise ModelError(f"formula {formula!r}: only one '~' is allowed")
    outcomes = []
    for part in lhs.split("+"):
        name = part.strip().strip("`")
        if not name:
            continue
        if name not in columns:
            raise ModelError(
                f"formula {formula!r}: the left-hand side may only list outcome columns joined by '+' "
                f"(create transformed outcomes as new columns first); {name!r} is not a column"
            )
        outcomes.append(name)
    if not outcomes:
        raise ModelError(f"formula {formula!r}: no outcome before '~'")
    return outcomes, rhs.strip() or "1"


def _aliased(X: np.ndarray, names: list[str]) -> list[str]:
    """Columns that are linear combinations of earlier ones (rank deficiency)."""
    out, keep = [], []
    for j in range(X.shape[1]):
        col = X[:, j]
        norm = np.linalg.norm(col)
        if norm == 0:
            out.append(names[j])
            continue
        if keep:
            Q, _ = np.linalg.qr(X[:, keep])
            if np.linalg.norm(col - Q @ (Q.T @ col)) <= 1e-8 * norm:
                out.append(names[j])
                continue
        keep.append(j)
    return out


def _prepare(
    data: pd.DataFrame,
    outcome: str,
    rhs_columns: list[str],
    extra: dict[str, str | None],
    step: str,
) -> pd.DataFrame:
    """Drop (and log) rows with missing or non-finite values in the columns the model uses."""
    need = [outcome, *rhs_columns, *[c for c in extra.values() if c]]
    need = list(dict.fromkeys(need))
    for col in need:
        if col not in data.columns:
            raise ModelError(
                f"column {col!r} not found in the data; available: {', '.join(map(str, data.columns[:20]))}"
            )
    frame = data.reset_index(drop=True)
    isna = frame[need].isna()
    nonfinite = pd.DataFrame(False, index=frame.index, columns=need)
    for col in need:
        if pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col]):
            vals = frame[col].to_numpy(dtype=float, na_value=np.nan)
            nonfinite[col] = np.isinf(vals)
    bad = (isna | nonfinite).any(axis=1).to_numpy()
    reasons = pd.Series("", index=frame.index, dtype=object)
    for i in frame.index[bad]:  # only the dropped rows need a reason
        na = [c for c in need if isna.at[i, c]]
        inf = [c for c in need if nonfinite.at[i, c]]
        reasons[i] = "; ".join(
            p
            for p in (
                ("missing value in " + ", ".join(na)) if na else "",
                ("non-finite value in " + ", ".join(inf)) if inf else "",
            )
            if p
        )
    kept = record_drops(frame, bad, reason=reasons, step=step)
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} row(s) with missing or non-finite values omitted from the model for {outcome!r} "
            "(see the drop log)",
            DataWarning,
            stacklevel=4,
        )
    return kept.reset_index(drop=True)


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    col = frame[column]
    if pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(col):
        num = pd.to_numeric(col, errors="coerce")
        bad = num.isna() & col.notna()
        first = col[bad].iloc[0] if bad.any() else col.iloc[0]
        raise DataError(
            f"expected a number, got {first!r}", row=row_numbers(frame, bad), column=column
        )
    return col.to_numpy(dtype=float)


# --------------------------------------------------------------------------- result
@dataclass(eq=False)
class RegressionResult(ResultMixin):
    """A fitted regression (see :func:`regress`).

    Attributes
    ----------
    outcome, formula, family
        What was fitted; ``formula`` is ``outcome ~ rhs``.
    model
        ``"OLS"``, ``"WLS"``, ``"GLM"`` or ``"MixedLM"``.
    terms
        Coefficient names (the intercept is ``"intercept"``).
    params, cov
        Coefficients and their covariance matrix (cluster-robust when ``cluster=``).
    df
        Degrees of freedom of the t reference distribution, or ``inf`` for z tests.
    level
        Confidence level of ``ci_low``/``ci_high``.
    cov_type
        ``"nonrobust"`` or ``"cluster"``.
    n_clusters
        Number of clusters (``cluster=``) or groups (``groups=``), else None.
    stats
        Fit statistics: ``r2, r2_adj`` (OLS/WLS), ``pseudo_r2`` (McFadden, GLM),
        ``dispersion`` (Pearson chi²/df, GLM), ``group_var, resid_var, icc``
        (MixedLM), ``loglik, aic, bic, scale``.
    vif
        Variance inflation factor per non-intercept term.
    design
        The :class:`~rlmeta.meta.formula.Design` (rebuilds rows for ``predict``).
    data
        The rows used (after dropping missing values).
    drop_log
        Rows excluded, with reasons.
    notes
        Warnings and remarks (overdispersion, few clusters, convergence, ...).
    converged
        False when the optimiser (GLM, MixedLM) reported non-convergence.
    sm_result
        The underlying statsmodels results object.
    """

    outcome: str
    formula: str
    family: str
    model: str
    terms: list[str]
    params: np.ndarray
    cov: np.ndarray
    df: float
    level: float
    cov_type: str
    n_clusters: int | None
    stats: dict[str, float]
    vif: pd.DataFrame
    design: Design
    data: pd.DataFrame
    std_estimate: np.ndarray
    drop_log: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    converged: bool = True
    cluster: str | None = None
    groups: str | None = None
    sm_result: Any = field(default=None, repr=False)

    # ------------------------------------------------------------------ basics
    @property
    def nobs(self) -> int:
        return int(len(self.data))

    @property
    def beta(self) -> pd.Series:
        """Coefficients indexed by term."""
        return pd.Series(self.params, index=self.terms, name="estimate")

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the coefficients."""
        return pd.DataFrame(self.cov, index=self.terms, columns=self.terms)

    @property
    def use_t(self) -> bool:
        return bool(np.isfinite(self.df))

    def crit(self, level: float | None = None) -> float:
        """Two-sided critical value at ``level`` (t(df) or z)."""
        lvl = self.level if level is None else normalise_level(level)
        q = 0.5 + lvl / 2
        return float(stats.t.ppf(q, self.df) if self.use_t else stats.norm.ppf(q))

    def pvalue(self, stat: np.ndarray) -> np.ndarray:
        """Two-sided p-values of test statistics under the model's reference distribution."""
        stat = np.abs(np.asarray(stat, float))
        return 2 * (stats.t.sf(stat, self.df) if self.use_t else stats.norm.sf(stat))

    # ------------------------------------------------------------------ tables
    def to_frame(self, level: float | None = None) -> pd.DataFrame:
        """Coefficient table: term, estimate, se, stat, df, pval, ci_low, ci_high, std_estimate."""
        d = np.diag(self.cov)
        # rounding can leave tiny negative variances (e.g. robust covariances of exactly fitted terms)
        d = np.where((d < 0) & (d > -1e-10 * max(np.abs(d).max(), 1e-300)), 0.0, d)
        se = np.sqrt(np.where(d < 0, np.nan, d))
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = self.params / se
        crit = self.crit(level)
        return pd.DataFrame(
            {
                "term": self.terms,
                "estimate": self.params,
                "se": se,
                "stat": stat,
                "df": np.full(len(self.terms), self.df if self.use_t else np.nan),
                "pval": self.pvalue(stat),
                "ci_low": self.params - crit * se,
                "ci_high": self.params + crit * se,
                "std_estimate": self.std_estimate,
            }
        )

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        *,
        level: float | None = None,
        scale: str = "response",
    ) -> pd.DataFrame:
        """Predictions with confidence intervals.

        Parameters
        ----------
        newdata
            Values of the formula's columns (default: the fitted data).
        level
            Interval level (default: the model's).
        scale
            ``"response"`` (default; probabilities for binomial models, the interval
            being the inverse-logit of the link-scale interval) or ``"link"``.
            Mixed models predict the population-level (fixed-effects) mean.

        Returns
        -------
        pandas.DataFrame
            ``pred, se, ci_low, ci_high`` (``se`` on the link scale).
        """
        if scale not in ("response", "link"):
            raise ModelError(f"scale must be 'response' or 'link', got {scale!r}")
        X = self.design.X if newdata is None else self.design.new_rows(newdata)
        return linear_predictions(
            X,
            self.params,
            self.cov,
            self.crit(level),
            inverse_link=scale == "response" and self.family == "binomial",
        )

    def to_dict(self) -> dict:
        return jsonable(
            {
                "outcome": self.outcome,
                "formula": self.formula,
                "family": self.family,
                "model": self.model,
                "nobs": self.nobs,
                "level": self.level,
                "cov_type": self.cov_type,
                "cluster": self.cluster,
                "groups": self.groups,
                "n_clusters": self.n_clusters,
                "df": self.df if self.use_t else None,
                "coefficients": self.to_frame(),
                "stats": self.stats,
                "vif": self.vif,
                "converged": self.converged,
                "notes": self.notes,
                "n_dropped": len(self.drop_log),
            }
        )

    def summary(self, digits: int = 4) -> str:
        names = {
            "OLS": "Linear regression (OLS)",
            "WLS": "Weighted least squares (WLS)",
            "GLM": "Binomial GLM (logit link)",
            "MixedLM": "Linear mixed model (random intercept, REML)",
        }
        lines = [f"{names.get(self.model, self.model)}: {self.formula}", f"n = {self.nobs}"]
        if self.groups:
            lines[-1] += f", groups = {self.n_clusters} ({self.groups})"
        if self.cov_type == "cluster":
            lines.append(
                f"Cluster-robust (CR1) standard errors by {self.cluster} (G = {self.n_clusters}), t({self.df:g})"
            )
        else:
            lines.append(f"Inference: {'t(' + format(self.df, 'g') + ')' if self.use_t else 'z'}")
        tab = self.to_frame()
        tab["pval"] = tab["pval"].map(fmt_p)
        tab = tab.drop(columns="df")
        lines += ["", tab.to_string(index=False, float_format=lambda v: f"{v:.{digits}f}")]
        stat_txt = ", ".join(
            f"{k} = {fmt_num(v, digits)}" for k, v in self.stats.items() if v is not None
        )
        lines += ["", stat_txt]
        if len(self.vif):
            lines.append(
                "VIF: "
                + ", ".join(f"{t} {v:.2f}" for t, v in zip(self.vif["term"], self.vif["vif"]))
            )
        if len(self.drop_log):
            lines.append(f"{len(self.drop_log)} row(s) dropped (see drop_log)")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def linear_predictions(
    X: np.ndarray, beta: np.ndarray, cov: np.ndarray, crit: float, inverse_link: bool = False
) -> pd.DataFrame:
    """``X @ beta`` with its standard error and ``± crit`` interval (optionally inverse-logit)."""
    pred = X @ beta
    var = np.einsum("ij,jk,ik->i", X, cov, X)
    se = np.sqrt(np.where(var < 0, np.nan, var))
    lo, hi = pred - crit * se, pred + crit * se
    if inverse_link:
        pred, lo, hi = stats.logistic.cdf(pred), stats.logistic.cdf(lo), stats.logistic.cdf(hi)
    return pd.DataFrame({"pred": pred, "se": se, "ci_low": lo, "ci_high": hi})


@dataclass(eq=False)
class MultiRegressionResult(ResultMixin):
    """Several outcomes fitted with the same predictors (``"y1 + y2 ~ x"`` or a list of formulas).

    ``results`` maps outcome name to :class:`RegressionResult`; :meth:`to_frame`
    stacks their coefficient tables with an ``outcome`` column.
    """

    results: dict[str, RegressionResult]

    def __getitem__(self, outcome: str) -> RegressionResult:
        return self.results[outcome]

    def __iter__(self):
        return iter(self.results.values())

    def __len__(self) -> int:
        return len(self.results)

    def to_frame(self) -> pd.DataFrame:
        frames = [r.to_frame().assign(outcome=name) for name, r in self.results.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["outcome", *_COLUMNS]]

    def adjust_pvalues(self, method: str = "holm", **kwargs) -> pd.DataFrame:
        """:func:`adjust_pvalues` over all outcomes."""
        return adjust_pvalues(self, method=method, **kwargs)

    def to_dict(self) -> dict:
        return {"results": {k: r.to_dict() for k, r in self.results.items()}}

    def summary(self) -> str:
        return "\n\n".join(r.summary() for r in self.results.values())


# --------------------------------------------------------------------------- fitting
def _std_estimates(
    X: np.ndarray, names: list[str], beta: np.ndarray, y: np.ndarray, family: str
) -> np.ndarray:
    """Standardised coefficients ``b * sd(x) / sd(y)`` (``b * sd(x)`` for binomial models).

    Computed on the design columns (so interaction and dummy columns are scaled by
    their own SD, as R's ``lm.beta``); the intercept has none.
    """
    sx = X.std(axis=0, ddof=1) if len(X) > 1 else np.full(X.shape[1], np.nan)
    out = beta * sx
    if family == "gaussian":
        sy = np.std(y, ddof=1) if len(y) > 1 else np.nan
        out = out / sy if sy > 0 else np.full_like(out, np.nan)
    out = np.where(np.array([n == "intercept" for n in names]), np.nan, out)
    return out


def _vif(X: np.ndarray, names: list[str]) -> pd.DataFrame:
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    idx = [j for j, n in enumerate(names) if n != "intercept"]
    if not idx:
        return pd.DataFrame({"term": [], "vif": []})
    if len(idx) == 1 and "intercept" in names:
        return pd.DataFrame({"term": [names[idx[0]]], "vif": [1.0]})
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = [float(variance_inflation_factor(X, j)) for j in idx]
    return pd.DataFrame({"term": [names[j] for j in idx], "vif": vals})


def _fit_one(
    frame: pd.DataFrame,
    outcome: str,
    rhs: str,
    *,
    family: str,
    weights: str | None,
    cluster: str | None,
    groups: str | None,
    n: str | None,
    level: float,
) -> RegressionResult:
    import statsmodels.api as sm

    design = Design.build(rhs, frame)
    X, names = design.X, list(design.names)
    alias = _aliased(X, names)
    if alias:
        raise ModelError(
            f"the design of {outcome} ~ {rhs} is not of full rank: {', '.join(alias)} "
            "is a linear combination of other columns (remove it or merge sparse levels)"
        )
    nobs, p = X.shape
    if nobs <= p:
        raise ModelError(
            f"{nobs} rows for {p} coefficients in {outcome} ~ {rhs}; need more rows than coefficients"
        )
    y = _numeric(frame, outcome)
    notes: list[str] = []
    fit_kwargs: dict[str, Any] = {}
    n_clusters = None
    if cluster is not None:
        codes, uniques = pd.factorize(frame[cluster])
        n_clusters = len(uniques)
        if n_clusters < 2:
            raise ModelError(
                f"cluster column {cluster!r} has {n_clusters} cluster(s); need at least 2"
            )
        if n_clusters < 20:
            notes.append(
                f"only {n_clusters} clusters: cluster-robust SEs can be too small with few clusters"
            )
        # t(G - 1) reference distribution (statsmodels' df for cluster covariances with use_t).
        fit_kwargs = {"cov_type": "cluster", "cov_kwds": {"groups": codes}, "use_t": True}

    converged = True
    caught: list[warnings.WarningMessage]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if groups is not None:
            codes_g, uniq_g = pd.factorize(frame[groups])
            n_clusters = len(uniq_g)
            if n_clusters < 2:
                raise ModelError(
                    f"groups column {groups!r} has {n_clusters} group(s); need at least 2"
                )
            res = sm.MixedLM(y, X, groups=codes_g).fit(reml=True)
            k = len(names)
            params, cov = np.asarray(res.fe_params), np.asarray(res.cov_params())[:k, :k]
            converged = bool(res.converged)
            gv, rv = float(np.asarray(res.cov_re)[0, 0]), float(res.scale)
            stats_ = {
                "loglik": float(res.llf),
                "group_var": gv,
                "resid_var": rv,
                "icc": gv / (gv + rv) if gv + rv > 0 else np.nan,
            }
            model, df = "MixedLM", np.inf
            if gv <= 1e-8 * max(rv, 1e-300):
                notes.append(
                    "the group variance is estimated at (or near) 0: the random intercept is not needed"
                )
        elif family == "binomial":
            if n is not None:
                trials = _numeric(frame, n)
                bad = ~(trials > 0)
                if bad.any():
                    raise DataError(
                        "trials must be positive", row=row_numbers(frame, bad), column=n
                    )
                bad = (y < 0) | (y > 1)
                if bad.any():
                    hint = " (percent scores? divide by 100)" if np.all(y <= 100) else ""
                    raise DataError(
                        f"a binomial outcome must be a proportion in [0, 1]{hint}, got {y[bad][0]!r}",
                        row=row_numbers(frame, bad),
                        column=outcome,
                    )
                succ = y * trials
                frac = np.abs(succ - np.round(succ)) > 1e-6 * np.maximum(trials, 1)
                if frac.any():
                    notes.append(
                        f"score x {n} is not a whole number in {int(frac.sum())} row(s); fitted with "
                        "fractional counts (binomial quasi-likelihood)"
                    )
                endog = np.column_stack([succ, trials - succ])
            else:
                bad = ~np.isin(y, (0.0, 1.0))
                if bad.any():
                    raise DataError(
                        f"binomial outcome without n= must be 0/1, got {y[bad][0]!r}; "
                        "pass n='n_items' for accuracies (proportions of n items)",
                        row=row_numbers(frame, bad),
                        column=outcome,
                    )
                endog = y
            res = sm.GLM(endog, X, family=sm.families.Binomial()).fit(**fit_kwargs)
            params, cov = np.asarray(res.params), np.asarray(res.cov_params())
            converged = bool(getattr(res, "converged", True))
            disp = float(res.pearson_chi2 / res.df_resid) if res.df_resid > 0 else np.nan
            stats_ = {
                "loglik": float(res.llf),
                "aic": float(res.aic),
                "deviance": float(res.deviance),
                "pseudo_r2": float(res.pseudo_rsquared(kind="mcf")),
                "dispersion": disp,
            }
            if n is not None and np.isfinite(disp) and disp > 1.5 and cluster is None:
                notes.append(
                    f"overdispersion: Pearson chi2/df = {disp:.2f}; binomial SEs are too small when runs vary "
                    "beyond item sampling (seed variance) - use cluster= (e.g. the run or setting) or a "
                    "gaussian model with groups="
                )
            model, df = "GLM", (n_clusters - 1.0) if cluster else np.inf
        else:
            if weights is not None:
                w = _numeric(frame, weights)
                bad = ~(w > 0)
                if bad.any():
                    raise DataError(
                        "weights must be positive", row=row_numbers(frame, bad), column=weights
                    )
                res = sm.WLS(y, X, weights=w).fit(**fit_kwargs)
                model = "WLS"
            else:
                res = sm.OLS(y, X).fit(**fit_kwargs)
                model = "OLS"
            params, cov = np.asarray(res.params), np.asarray(res.cov_params())
            stats_ = {
                "r2": float(res.rsquared),
                "r2_adj": float(res.rsquared_adj),
                "loglik": float(res.llf),
                "aic": float(res.aic),
                "bic": float(res.bic),
                "scale": float(res.scale),
            }
            df = (n_clusters - 1.0) if cluster else float(res.df_resid)
    for w in caught:
        msg = str(w.message)
        if "converge" in msg.lower() or "singular" in msg.lower() or "boundary" in msg.lower():
            notes.append(f"statsmodels: {msg.splitlines()[0]}")
            if "converge" in msg.lower():
                converged = False
    if not converged:
        warnings.warn(
            f"the model for {outcome!r} did not converge; see the result's notes",
            ConvergenceWarning,
            stacklevel=3,
        )
    return RegressionResult(
        outcome=outcome,
        formula=f"{outcome} ~ {rhs}",
        family=family,
        model=model,
        terms=names,
        params=params,
        cov=cov,
        df=float(df),
        level=level,
        cov_type="cluster" if cluster else "nonrobust",
        n_clusters=n_clusters,
        stats=stats_,
        vif=_vif(X, names),
        design=design,
        data=frame,
        std_estimate=_std_estimates(X, names, params, y, family if groups is None else "gaussian"),
        drop_log=drop_log(frame),
        notes=notes,
        converged=converged,
        cluster=cluster,
        groups=groups,
        sm_result=res,
    )


def regress(
    data: pd.DataFrame,
    formula: str | Sequence[str],
    *,
    family: str = "gaussian",
    weights: str | None = None,
    cluster: str | None = None,
    groups: str | None = None,
    n: str | None = None,
    level: float = 0.95,
) -> RegressionResult | MultiRegressionResult:
    """Fit a multiple regression on run-level data.

    Parameters
    ----------
    data
        One row per run (or run x benchmark).
    formula
        ``"outcome ~ predictors"`` using column names, ``+ - * : / **``,
        ``C(x)`` / ``C(x, ref='b')`` for categorical coding and the transforms of
        :data:`rlmeta.meta.formula.ALLOWED_FUNCTIONS`.  Several outcomes:
        ``"y1 + y2 ~ x"`` or a list of formulas; the result is then a
        :class:`MultiRegressionResult` (rows are dropped per outcome).
    family
        ``"gaussian"`` (OLS/WLS/mixed) or ``"binomial"`` (logit GLM).
    weights
        Column of positive weights for WLS (proportional to inverse variances);
        gaussian, no ``groups``.
    cluster
        Column identifying clusters (runs, settings, studies) for cluster-robust
        (CR1) standard errors with a t(G - 1) reference distribution.
    groups
        Column identifying groups for a random-intercept linear mixed model (REML,
        statsmodels ``MixedLM``; gaussian only, no ``weights``/``cluster``).
    n
        Binomial family: column of trial counts (items); the outcome is then the
        proportion correct.
    level
        Confidence level (0.95 or 95).

    Returns
    -------
    RegressionResult or MultiRegressionResult

    Notes
    -----
    Standardised coefficients are ``b_j * sd(x_j) / sd(y)`` on the design columns
    (``b_j * sd(x_j)``, i.e. per-SD change of the log-odds, for binomial models).
    Rows with missing or infinite values in any column the model uses are removed
    and recorded in ``result.drop_log`` with the reason.  The formula is checked by
    :func:`rlmeta.meta.formula.check_formula` and built with formulaic: it is never
    evaluated as Python.

    Examples
    --------
    >>> from rlmeta.datasets.simulate import simulate_sweep
    >>> sweep = simulate_sweep(seed=0)
    >>> fit = regress(sweep, "score ~ log10_learning_rate * reward_calibration + C(benchmark)",
    ...               family="binomial", n="n_items", cluster="run_id")
    >>> fit.model, fit.n_clusters, fit.df
    ('GLM', 125, 124.0)
    >>> multi = regress(sweep, "score + true_score ~ log10_learning_rate")
    >>> sorted(multi.results)
    ['score', 'true_score']
    """
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if family not in FAMILIES:
        raise ModelError(f"family must be one of {FAMILIES}, got {family!r}")
    lvl = normalise_level(level)
    if groups is not None and (family != "gaussian" or weights is not None or cluster is not None):
        raise ModelError(
            "groups= (random intercept) is available for family='gaussian' without weights= or cluster="
        )
    if family == "binomial" and weights is not None:
        raise ModelError(
            "weights= applies to gaussian models; binomial models weight by the trials in n="
        )
    if n is not None and family != "binomial":
        raise ModelError("n= (trials) applies to family='binomial'")
    for arg, col in (("weights", weights), ("cluster", cluster), ("groups", groups), ("n", n)):
        if col is not None and (not isinstance(col, str) or col not in data.columns):
            raise ModelError(f"{arg}= must name a column of data, got {col!r}")
    formulas = [formula] if isinstance(formula, str) else list(formula)
    if not formulas:
        raise ModelError("no formula given")
    specs: list[tuple[str, str]] = []
    for f in formulas:
        outs, rhs = split_formula(f, list(map(str, data.columns)))
        specs += [(o, rhs) for o in outs]
    dup = pd.Series([o for o, _ in specs]).duplicated()
    if dup.any():
        raise ModelError(
            f"outcome {specs[int(np.argmax(dup))][0]!r} appears twice; fit such models separately"
        )
    results = {}
    for outcome, rhs in specs:
        rhs_cols = check_formula(rhs, data.columns) if rhs.strip() not in ("1", "0", "-1") else []
        frame = _prepare(
            data,
            outcome,
            rhs_cols,
            {"weights": weights, "cluster": cluster, "groups": groups, "n": n},
            step="regress",
        )
        if frame.empty:
            raise ModelError(
                f"no rows left for {outcome!r} after dropping missing values (see the drop log)"
            )
        results[outcome] = _fit_one(
            frame,
            outcome,
            rhs,
            family=family,
            weights=weights,
            cluster=cluster,
            groups=groups,
            n=n,
            level=lvl,
        )
    if len(results) == 1:
        return next(iter(results.values()))
    return MultiRegressionResult(results)


def adjust_pvalues(
    results: MultiRegressionResult
    | Sequence[RegressionResult]
    | Mapping[str, RegressionResult]
    | pd.DataFrame,
    method: str = "holm",
    *,
    terms: Sequence[str] | None = None,
    include_intercept: bool = False,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Adjust p-values for multiplicity across outcomes (and terms).

    Parameters
    ----------
    results
        A :class:`MultiRegressionResult`, several :class:`RegressionResult` (list or
        dict by outcome), or a table with ``pval`` (and optionally ``outcome``, ``term``).
    method
        ``"holm"`` (family-wise error rate), ``"fdr_bh"`` (Benjamini-Hochberg false
        discovery rate), ``"bonferroni"`` or ``"none"``.
    terms
        Only these terms form the family of hypotheses (default: every term except
        the intercept).
    include_intercept
        Also adjust the intercepts' p-values (rarely meaningful).
    alpha
        Level at which ``reject`` is computed.

    Returns
    -------
    pandas.DataFrame
        ``outcome, term, estimate, pval, pval_adj, reject``.

    Examples
    --------
    >>> import pandas as pd
    >>> tab = pd.DataFrame({"outcome": ["a", "b", "c"], "term": ["x"] * 3, "pval": [0.01, 0.04, 0.03]})
    >>> adjust_pvalues(tab, "holm")["pval_adj"].round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    from statsmodels.stats.multitest import multipletests

    key = _ADJUST.get(str(method).lower(), "invalid")
    if key == "invalid":
        raise ModelError(f"method must be one of {sorted(_ADJUST)}, got {method!r}")
    if isinstance(results, pd.DataFrame):
        tab = results.copy()
        if "pval" not in tab.columns:
            raise ModelError("the table needs a 'pval' column")
    else:
        if isinstance(results, RegressionResult):
            items = {results.outcome: results}
        elif isinstance(results, MultiRegressionResult):
            items = results.results
        elif isinstance(results, Mapping):
            items = dict(results)
        else:
            items = {}
            for r in results:
                name = r.outcome if r.outcome not in items else f"{r.outcome}#{len(items) + 1}"
                items[name] = r
        bad = [k for k, r in items.items() if not isinstance(r, RegressionResult)]
        if bad:
            raise ModelError(
                f"adjust_pvalues needs RegressionResult objects; got {type(items[bad[0]]).__name__}"
            )
        tab = pd.concat(
            [r.to_frame().assign(outcome=k) for k, r in items.items()], ignore_index=True
        )
    for col in ("outcome", "term", "estimate"):
        if col not in tab.columns:
            tab[col] = np.nan
    sel = pd.Series(True, index=tab.index)
    if terms is not None:
        sel &= tab["term"].isin(list(terms))
    elif not include_intercept:
        sel &= tab["term"] != "intercept"
    tab = tab.loc[sel, ["outcome", "term", "estimate", "pval"]].reset_index(drop=True)
    if tab.empty:
        raise ModelError("no p-values to adjust (check terms=)")
    p = tab["pval"].to_numpy(float)
    if np.isnan(p).any():
        raise ModelError("some p-values are missing; cannot adjust")
    if key is None:
        tab["pval_adj"] = p
    else:
        tab["pval_adj"] = multipletests(p, alpha=alpha, method=key)[1]
    tab["reject"] = tab["pval_adj"] < alpha
    return tab
