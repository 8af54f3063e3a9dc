"""Seed-to-seed stability: how the spread of an outcome across seeds depends on hyper-parameters.

RL fine-tuning runs that differ only in their seed can end far apart (Henderson et
al. 2018; docs/eval_statistics.md), and some settings (a large learning rate, a weak
KL penalty) are less stable than others.  This module answers "does the seed-to-
seed variance change with the settings?" three ways:

* :func:`setting_summary` -- per setting: ``n, mean, sd, se, ci_low, ci_high``
  (t CI), the table behind error-bar and line charts;
* :func:`variance_tests` -- Brown-Forsythe (deviations from the median) and
  Levene (from the mean) tests of equal variances across settings
  (``scipy.stats.levene``);
* :func:`location_scale` -- a regression for the mean *and* the log standard
  deviation: ``y ~ N(X b, sigma^2)`` with ``log sigma = Z g``, fitted jointly by
  maximum likelihood (``method="ml"``, statsmodels ``GenericLikelihoodModel`` with
  analytic score and Hessian), or as a meta-regression of per-setting log SDs
  (``method="log_sd"``: ``log s + 1/(2(n-1))`` with variance ``1/(2(n-1))``,
  metafor's ``SDLN`` measure, pooled with :func:`rlmeta.meta_analysis`).
  ``exp(g)`` is the factor by which the seed SD changes per unit of a predictor.

:func:`stability` runs all three on one outcome and a list of setting columns.
Use one row per run; with several benchmarks per run, include ``benchmark`` in
``by`` (or analyse benchmarks separately).

Examples
--------
>>> from rlmeta.datasets.simulate import simulate_sweep
>>> sweep = simulate_sweep(n_seeds=8, seed=3)
>>> gsm = sweep[sweep["benchmark"] == "gsm8k"]
>>> st = stability(gsm, "true_logit", by=["log10_learning_rate", "reward_calibration"])
>>> list(st.table.columns)
['log10_learning_rate', 'reward_calibration', 'n', 'mean', 'sd', 'se', 'ci_low', 'ci_high']
>>> st.tests["test"].tolist()
['Brown-Forsythe', 'Levene']
>>> lr = st.model.scale_table.set_index("term").loc["log10_learning_rate"]
>>> bool(lr["ci_low"] < sweep.attrs["truth"]["log_sd"]["slope"] < lr["ci_high"])  # true value 0.4
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._result import ResultMixin, fmt_p, jsonable
from .droplog import drop_log, record_drops
from .errors import ConvergenceWarning, DataError, DataWarning, ModelError
from .meta.fit import normalise_level
from .meta.formula import Design, check_formula
from .regression import split_formula
from .schema import row_numbers

__all__ = [
    "setting_summary",
    "variance_tests",
    "location_scale",
    "stability",
    "LocationScaleResult",
    "StabilityResult",
]

_LOG2PI = math.log(2 * math.pi)


def _as_list(by: str | Sequence[str]) -> list[str]:
    cols = [by] if isinstance(by, str) else list(by)
    if not cols:
        raise ModelError("by= needs at least one setting column")
    return cols


def _clean(data: pd.DataFrame, outcome: str, by: list[str], step: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    for col in [outcome, *by]:
        if col not in data.columns:
            raise ModelError(f"column {col!r} not found in the data")
    y = data[outcome]
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        num = pd.to_numeric(y, errors="coerce")
        bad = num.isna() & y.notna()
        if bad.any():
            raise DataError(
                f"expected a number, got {y[bad].iloc[0]!r}",
                row=row_numbers(data, bad),
                column=outcome,
            )
    frame = data.reset_index(drop=True)
    isna = frame[[outcome, *by]].isna()
    bad = isna.any(axis=1).to_numpy()
    reasons = pd.Series("", index=frame.index, dtype=object)
    for i in frame.index[bad]:  # only the dropped rows need a reason
        reasons[i] = "missing value in " + ", ".join(c for c in [outcome, *by] if isna.at[i, c])
    kept = record_drops(frame, bad, reason=reasons, step=step)
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} row(s) with missing values omitted (see the drop log)",
            DataWarning,
            stacklevel=3,
        )
    return kept.reset_index(drop=True)


# --------------------------------------------------------------------------- descriptive table and tests
def setting_summary(
    data: pd.DataFrame, outcome: str, by: str | Sequence[str], *, level: float = 0.95
) -> pd.DataFrame:
    """Mean, SD and t confidence interval of ``outcome`` per setting.

    Parameters
    ----------
    data
        One row per run.
    outcome
        Numeric column (score, accuracy, reward).
    by
        Setting column(s), e.g. ``["learning_rate", "kl_coef"]``.
    level
        Confidence level of the mean's interval.

    Returns
    -------
    pandas.DataFrame
        ``<by columns>, n, mean, sd, se, ci_low, ci_high`` sorted by setting;
        ``ci = mean ± t(n-1) * sd / sqrt(n)``; ``sd``, ``se`` and the CI are NaN for n = 1.

    Examples
    --------
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"lr": [1, 1, 1, 2, 2], "acc": [0.5, 0.6, 0.7, 0.4, 0.4]})
    >>> setting_summary(runs, "acc", "lr")[["lr", "n", "mean", "sd"]].round(3)
       lr  n  mean   sd
    0   1  3   0.6  0.1
    1   2  2   0.4  0.0
    """
    by = _as_list(by)
    lvl = normalise_level(level)
    frame = _clean(data, outcome, by, "setting_summary")
    y = pd.to_numeric(frame[outcome])
    g = y.groupby([frame[c] for c in by], sort=True, observed=True)
    out = pd.DataFrame({"n": g.size(), "mean": g.mean(), "sd": g.std(ddof=1)}).reset_index()
    out["n"] = out["n"].astype(int)
    out["se"] = out["sd"] / np.sqrt(out["n"])
    with np.errstate(invalid="ignore"):
        t = stats.t.ppf(0.5 + lvl / 2, np.where(out["n"] > 1, out["n"] - 1, np.nan))
    out["ci_low"] = out["mean"] - t * out["se"]
    out["ci_high"] = out["mean"] + t * out["se"]
    out.attrs["rlmeta_drop_log"] = frame.attrs.get("rlmeta_drop_log", ())
    return out


def variance_tests(data: pd.DataFrame, outcome: str, by: str | Sequence[str]) -> pd.DataFrame:
    """Brown-Forsythe and Levene tests of equal seed-to-seed variance across settings.

    Settings with fewer than 2 runs carry no variance information and are left
    out (the ``n_groups`` column says how many were used).

    Returns
    -------
    pandas.DataFrame
        ``test, center, stat, df1, df2, pval, n_groups`` for Brown-Forsythe
        (``center="median"``, robust to non-normal scores) and Levene (``"mean"``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> runs = pd.DataFrame({"lr": np.repeat([1, 2, 3], 10),
    ...                      "acc": rng.normal(0, np.repeat([1.0, 1.0, 4.0], 10))})
    >>> variance_tests(runs, "acc", "lr")[["test", "df1", "df2"]]
                 test  df1  df2
    0  Brown-Forsythe    2   27
    1          Levene    2   27
    """
    by = _as_list(by)
    frame = _clean(data, outcome, by, "variance_tests")
    y = pd.to_numeric(frame[outcome]).to_numpy(float)
    keys = frame[by].astype(str).agg("|".join, axis=1) if len(by) > 1 else frame[by[0]]
    groups = [y[(keys == k).to_numpy()] for k in pd.unique(keys)]
    groups = [g for g in groups if len(g) >= 2]
    if len(groups) < 2:
        raise ModelError("need at least 2 settings with 2 or more runs each to compare variances")
    n_total = sum(len(g) for g in groups)
    rows = []
    for name, center in (("Brown-Forsythe", "median"), ("Levene", "mean")):
        res = stats.levene(*groups, center=center)
        rows.append(
            {
                "test": name,
                "center": center,
                "stat": float(res.statistic),
                "df1": len(groups) - 1,
                "df2": n_total - len(groups),
                "pval": float(res.pvalue),
                "n_groups": len(groups),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- location-scale model
def _make_model(y: np.ndarray, X: np.ndarray, Z: np.ndarray, names: list[str]):
    from statsmodels.base.model import GenericLikelihoodModel

    p = X.shape[1]

    class LocationScale(GenericLikelihoodModel):
        """y ~ N(X b, exp(Z g)^2); analytic score and Hessian."""

        def _parts(self, params):
            b, g = params[:p], params[p:]
            r = self.endog - self.exog @ b
            w = np.exp(-2.0 * (Z @ g))
            return r, w, Z @ g

        def loglikeobs(self, params):
            r, w, lz = self._parts(params)
            return -0.5 * _LOG2PI - lz - 0.5 * r * r * w

        def score(self, params):
            r, w, _ = self._parts(params)
            return np.concatenate([self.exog.T @ (r * w), Z.T @ (r * r * w - 1.0)])

        def hessian(self, params):
            r, w, _ = self._parts(params)
            X_ = self.exog
            hbb = -(X_.T * w) @ X_
            hbg = -2.0 * (X_.T * (r * w)) @ Z
            hgg = -2.0 * (Z.T * (r * r * w)) @ Z
            return np.block([[hbb, hbg], [hbg.T, hgg]])

    model = LocationScale(y, X, extra_params_names=None)
    model.exog_names[:] = names[:p]
    model.data.xnames = names
    model.k_extra = Z.shape[1]
    model.nparams = len(names)
    model.df_model = len(names) - 1
    model.df_resid = len(y) - len(names)
    return model


def _ml_fit(y: np.ndarray, X: np.ndarray, Z: np.ndarray, names: list[str]):
    """Fit by Newton's method from OLS / log|residual| starting values; BFGS if Newton fails."""
    b0 = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ b0
    # E log|e| = log(sigma) - 0.635 for normal e: shift the start accordingly.
    g0 = np.linalg.lstsq(Z, np.log(np.abs(r) + 1e-12 * (np.abs(y).max() + 1)) + 0.6352, rcond=None)[
        0
    ]
    start = np.concatenate([b0, g0])
    model = _make_model(y, X, Z, names)
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("newton", "bfgs"):
            try:
                res = model.fit(start_params=start, method=method, maxiter=500, disp=0)
            except (np.linalg.LinAlgError, ValueError, OverflowError):
                continue
            conv = bool(res.mle_retvals.get("converged", False))
            grad = np.abs(model.score(res.params)).max()
            if np.all(np.isfinite(res.params)) and (best is None or res.llf > best[0].llf):
                best = (res, conv and grad < 1e-4 * max(1.0, len(y)))
            if best is not None and best[1]:
                break
    if best is None:
        raise ModelError(
            "the location-scale model could not be fitted (check for constant outcomes within settings)"
        )
    return best


@dataclass(eq=False)
class LocationScaleResult(ResultMixin):
    """A fitted location-scale model (see :func:`location_scale`).

    Attributes
    ----------
    mean_table, scale_table
        Coefficient tables (``term, estimate, se, stat, pval, ci_low, ci_high``) of
        the mean and of the log standard deviation (``sd_ratio = exp(estimate)``
        with its CI is added to the scale table).
    method
        ``"ml"`` or ``"log_sd"``.
    lr_test
        Likelihood-ratio test of the scale predictors (ML: against a constant SD),
        ``{"stat", "df", "pval"}``; for ``log_sd`` the meta-regression's omnibus test.
    """

    outcome: str
    mean_formula: str
    scale_formula: str
    method: str
    level: float
    mean_table: pd.DataFrame
    scale_table: pd.DataFrame
    nobs: int
    loglik: float
    lr_test: dict[str, float]
    converged: bool
    drop_log: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    model: Any = field(default=None, repr=False)
    saturated_mean: bool = False

    @property
    def params(self) -> pd.Series:
        """All coefficients, scale ones prefixed with ``scale:``."""
        return pd.concat(
            [
                self.mean_table.set_index("term")["estimate"],
                self.scale_table.set_index("term")["estimate"].rename(lambda t: f"scale:{t}"),
            ]
        )

    def to_frame(self) -> pd.DataFrame:
        """Both tables stacked with a ``part`` column (``mean`` / ``log_sd``)."""
        return pd.concat(
            [self.mean_table.assign(part="mean"), self.scale_table.assign(part="log_sd")],
            ignore_index=True,
        )

    def to_dict(self) -> dict:
        return jsonable(
            {
                "outcome": self.outcome,
                "mean_formula": self.mean_formula,
                "scale_formula": self.scale_formula,
                "method": self.method,
                "level": self.level,
                "nobs": self.nobs,
                "loglik": self.loglik,
                "lr_test": self.lr_test,
                "converged": self.converged,
                "mean": self.mean_table,
                "log_sd": self.scale_table,
                "notes": self.notes,
            }
        )

    def summary(self) -> str:
        head = {
            "ml": "Location-scale model (joint ML)",
            "log_sd": "Meta-regression of per-setting log SDs",
        }
        fmt = lambda v: f"{v:.4g}"  # noqa: E731
        lines = [
            f"{head[self.method]}: {self.mean_formula}; log(sd) {self.scale_formula}",
            f"n = {self.nobs}",
        ]
        if self.saturated_mean:
            lines += ["", "Mean: one mean per setting (see mean_table)"]
        elif len(self.mean_table):
            lines += ["", "Mean:", self.mean_table.to_string(index=False, float_format=fmt)]
        lines += [
            "",
            "Log standard deviation:",
            self.scale_table.to_string(index=False, float_format=fmt),
        ]
        if self.lr_test:
            lines.append(
                f"Test of the scale predictors: stat = {self.lr_test['stat']:.4g} on {self.lr_test['df']:g} df, "
                f"p = {fmt_p(self.lr_test['pval'])}"
            )
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def _table(names: list[str], est: np.ndarray, se: np.ndarray, crit: float) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    return pd.DataFrame(
        {
            "term": names,
            "estimate": est,
            "se": se,
            "stat": z,
            "pval": 2 * stats.norm.sf(np.abs(z)),
            "ci_low": est - crit * se,
            "ci_high": est + crit * se,
        }
    )


def _add_ratio(tab: pd.DataFrame) -> pd.DataFrame:
    tab = tab.copy()
    tab["sd_ratio"] = np.exp(tab["estimate"])
    tab["sd_ratio_low"] = np.exp(tab["ci_low"])
    tab["sd_ratio_high"] = np.exp(tab["ci_high"])
    return tab


def location_scale(
    data: pd.DataFrame,
    formula: str,
    scale: str = "~ 1",
    *,
    method: str = "ml",
    by: str | Sequence[str] | None = None,
    level: float = 0.95,
    meta_method: str = "REML",
) -> LocationScaleResult:
    """Regress the mean and the log standard deviation of an outcome on predictors.

    Parameters
    ----------
    data
        One row per run.
    formula
        Mean model ``"outcome ~ predictors"`` (safe formula syntax as in
        :func:`rlmeta.regress`).  ``method="log_sd"`` ignores its right-hand side
        (each setting has its own mean).
    scale
        Log-SD model ``"~ predictors"`` (for ``log_sd``: setting-level columns only).
    method
        ``"ml"`` (joint maximum likelihood, default) or ``"log_sd"`` (meta-regression
        of per-setting log SDs; needs ``by``).
    by
        Setting columns (``log_sd`` only): runs sharing their values form one setting.
    level
        Confidence level.
    meta_method
        tau² estimator of the ``log_sd`` meta-regression (``"REML"``; ``"FE"`` assumes
        the scale model explains all variance differences).

    Returns
    -------
    LocationScaleResult

    Notes
    -----
    ML: ``log L = sum(-log(2 pi)/2 - Z_i g - (y_i - X_i b)^2 exp(-2 Z_i g) / 2)``; SEs
    from the observed information (inverse negative Hessian), z intervals.  ML
    variance estimates are biased down by about ``p/n`` (``p`` mean parameters), which
    mainly shifts the scale intercept; slopes of the log SD are nearly unbiased when
    the design is balanced.  ``log_sd``: with ``s`` the SD of ``n`` runs,
    ``E log s ≈ log sigma - 1/(2(n-1))`` and ``Var log s ≈ 1/(2(n-1))`` for normal
    outcomes (metafor ``escalc(measure="SDLN")``); settings with n < 2 are dropped.
    The likelihood, score and Hessian are written here (statsmodels has no
    heteroscedastic-normal location-scale model); tests check them against closed
    forms and by simulation.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> x = np.repeat(np.linspace(-1, 1, 20), 10)
    >>> runs = pd.DataFrame({"x": x, "y": 1 + 0.5 * x + rng.normal(size=x.size) * np.exp(0.7 * x)})
    >>> fit = location_scale(runs, "y ~ x", "~ x")
    >>> fit.scale_table["term"].tolist()
    ['intercept', 'x']
    """
    lvl = normalise_level(level)
    crit = float(stats.norm.ppf(0.5 + lvl / 2))
    if method not in ("ml", "log_sd"):
        raise ModelError(f"method must be 'ml' or 'log_sd', got {method!r}")
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    outs, rhs = split_formula(formula, list(map(str, data.columns)))
    if len(outs) != 1:
        raise ModelError("location_scale() fits one outcome")
    outcome = outs[0]
    if not isinstance(scale, str):
        raise ModelError(f"scale must be a formula string such as '~ x', got {scale!r}")
    scale_rhs = scale.split("~", 1)[1].strip() if "~" in scale else scale.strip()
    if scale.split("~", 1)[0].strip() if "~" in scale else "":
        raise ModelError(f"scale formula {scale!r}: give predictors only ('~ x1 + x2')")
    scale_rhs = scale_rhs or "1"
    scale_cols = check_formula(scale_rhs, data.columns) if scale_rhs not in ("1",) else []
    if method == "log_sd":
        return _log_sd(data, outcome, scale_rhs, scale_cols, by, lvl, crit, meta_method)
    mean_cols = check_formula(rhs, data.columns) if rhs not in ("1",) else []
    frame = _clean(data, outcome, list(dict.fromkeys(mean_cols + scale_cols)), "location_scale")
    y = pd.to_numeric(frame[outcome]).to_numpy(float)
    Xd, Zd = Design.build(rhs, frame), Design.build(scale_rhs, frame)
    X, Z = Xd.X, Zd.X
    names = list(Xd.names) + [f"scale:{n}" for n in Zd.names]
    if len(y) <= X.shape[1] + Z.shape[1]:
        raise ModelError(f"{len(y)} rows for {X.shape[1] + Z.shape[1]} parameters; need more runs")
    for M, what in ((X, "mean"), (Z, "scale")):
        if np.linalg.matrix_rank(M) < M.shape[1]:
            raise ModelError(f"the {what} design is not of full rank (redundant predictors)")
    res, converged = _ml_fit(y, X, Z, names)
    notes = []
    if not converged:
        notes.append("the optimiser did not converge; estimates may be unreliable")
        warnings.warn(
            f"location-scale model for {outcome!r} did not converge",
            ConvergenceWarning,
            stacklevel=2,
        )
    cov = np.linalg.inv(-res.model.hessian(res.params))
    se = np.sqrt(np.diag(cov))
    p = X.shape[1]
    mean_tab = _table(list(Xd.names), res.params[:p], se[:p], crit)
    scale_tab = _add_ratio(_table(list(Zd.names), res.params[p:], se[p:], crit))
    lr = {}
    if Z.shape[1] > 1:
        r0, _ = _ml_fit(y, X, np.ones((len(y), 1)), list(Xd.names) + ["scale:intercept"])
        stat = max(2 * (res.llf - r0.llf), 0.0)
        df = Z.shape[1] - 1
        lr = {"stat": float(stat), "df": float(df), "pval": float(stats.chi2.sf(stat, df))}
    return LocationScaleResult(
        outcome=outcome,
        mean_formula=f"{outcome} ~ {rhs}",
        scale_formula=f"~ {scale_rhs}",
        method="ml",
        level=lvl,
        mean_table=mean_tab,
        scale_table=scale_tab,
        nobs=len(y),
        loglik=float(res.llf),
        lr_test=lr,
        converged=converged,
        drop_log=drop_log(frame),
        notes=notes,
        model=res,
    )


def _log_sd(
    data, outcome, scale_rhs, scale_cols, by, lvl, crit, meta_method
) -> LocationScaleResult:
    from .meta import meta_analysis

    if by is None:
        raise ModelError("method='log_sd' needs by= (the setting columns)")
    by = _as_list(by)
    missing = [c for c in scale_cols if c not in by]
    if missing:
        raise ModelError(f"scale predictors {missing} must be setting columns listed in by={by}")
    frame = _clean(data, outcome, by, "location_scale")
    tab = setting_summary(frame, outcome, by, level=lvl)
    few = tab["n"] < 2
    notes = []
    if few.any():
        notes.append(f"{int(few.sum())} setting(s) with fewer than 2 runs left out (no SD)")
    tab = tab.loc[~few].reset_index(drop=True)
    zero = tab["sd"] <= 0
    if zero.any():
        which = "; ".join(
            ", ".join(f"{c}={r[c]}" for c in by) for _, r in tab.loc[zero].head(5).iterrows()
        )
        raise DataError(
            f"{int(zero.sum())} setting(s) have identical outcomes across seeds (SD = 0), e.g. {which}; "
            "the log SD is undefined (use method='ml' or drop these settings)",
            column=outcome,
        )
    tab["yi"] = np.log(tab["sd"]) + 1 / (2 * (tab["n"] - 1))
    tab["vi"] = 1 / (2 * (tab["n"] - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        meta = meta_analysis(
            tab,
            yi="yi",
            vi="vi",
            mods=None if scale_rhs == "1" else f"~ {scale_rhs}",
            method=meta_method,
            level=lvl,
        )
    mt = meta.to_frame()
    scale_tab = _add_ratio(mt[["term", "estimate", "se", "stat", "pval", "ci_low", "ci_high"]])
    lr = {}
    if meta.p > 1:
        lr = {"stat": float(meta.qm), "df": float(meta.qm_df), "pval": float(meta.qm_pval)}
    if meta.random and meta.tau2 > 0:
        notes.append(
            f"residual heterogeneity of log SDs tau^2 = {meta.tau2:.4g} beyond sampling error"
        )
    return LocationScaleResult(
        outcome=outcome,
        mean_formula=f"{outcome} ~ setting means",
        scale_formula=f"~ {scale_rhs}",
        method="log_sd",
        level=lvl,
        mean_table=pd.DataFrame(
            columns=["term", "estimate", "se", "stat", "pval", "ci_low", "ci_high"]
        ),
        scale_table=scale_tab,
        nobs=int(tab["n"].sum()),
        loglik=float(meta.fit_stats()["loglik"]),
        lr_test=lr,
        converged=meta.converged,
        drop_log=drop_log(frame),
        notes=notes,
        model=meta,
    )


# --------------------------------------------------------------------------- all together
@dataclass(eq=False)
class StabilityResult(ResultMixin):
    """Seed-stability analysis of one outcome across settings (see :func:`stability`)."""

    outcome: str
    by: list[str]
    level: float
    table: pd.DataFrame
    tests: pd.DataFrame
    model: LocationScaleResult

    @property
    def drop_log(self) -> pd.DataFrame:
        """Rows excluded (missing outcome or setting values), with reasons."""
        return self.model.drop_log

    def to_frame(self) -> pd.DataFrame:
        """The per-setting table (``by..., n, mean, sd, se, ci_low, ci_high``)."""
        return self.table.copy()

    def to_dict(self) -> dict:
        return jsonable(
            {
                "outcome": self.outcome,
                "by": self.by,
                "level": self.level,
                "settings": self.table,
                "variance_tests": self.tests,
                "location_scale": self.model.to_dict(),
            }
        )

    def summary(self) -> str:
        fmt = lambda v: f"{v:.4g}"  # noqa: E731
        tests = self.tests.copy()
        tests["pval"] = tests["pval"].map(fmt_p)
        return "\n".join(
            [
                f"Seed stability of {self.outcome} across {', '.join(self.by)} ({len(self.table)} settings)",
                "",
                self.table.to_string(index=False, float_format=fmt),
                "",
                "Equal-variance tests:",
                tests.to_string(index=False, float_format=fmt),
                "",
                self.model.summary(),
            ]
        )


def stability(
    data: pd.DataFrame,
    outcome: str,
    by: str | Sequence[str],
    *,
    scale: str | None = None,
    mean: str | None = None,
    method: str = "ml",
    level: float = 0.95,
) -> StabilityResult:
    """Per-setting summary, equal-variance tests and a location-scale model in one call.

    Parameters
    ----------
    data
        One row per run.
    outcome
        Numeric outcome.
    by
        Setting columns (hyper-parameters).
    scale
        Log-SD formula (default: the numeric ``by`` columns linearly, the others as ``C()``).
    mean
        Mean-model right-hand side for ``method="ml"`` (default: one mean per setting).
    method
        ``"ml"`` or ``"log_sd"`` (see :func:`location_scale`).
    level
        Confidence level.

    Returns
    -------
    StabilityResult
        ``table`` (:func:`setting_summary`), ``tests`` (:func:`variance_tests`) and
        ``model`` (:class:`LocationScaleResult`).

    Examples
    --------
    >>> import rlmeta as rm
    >>> sweep = rm.simulate_sweep(n_seeds=6, seed=2, benchmarks=["gsm8k"])
    >>> st = stability(sweep, "score", by=["log10_learning_rate", "reward_calibration"], method="log_sd")
    >>> st.table.shape, st.model.method
    ((25, 8), 'log_sd')
    """
    by = _as_list(by)
    frame = _clean(data, outcome, by, "stability")
    table = setting_summary(frame, outcome, by, level=level)
    tests = variance_tests(frame, outcome, by)
    if scale is None:
        terms = [
            c
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
            else f"C({c})"
            for c in by
        ]
        scale = "~ " + " + ".join(terms)
    if method == "ml":
        if mean is None:
            key = "_setting"
            while key in frame.columns:
                key += "_"
            frame = frame.copy()
            frame[key] = (
                frame[by]
                .apply(
                    lambda col: col.map(lambda v: f"{v:.6g}" if isinstance(v, float) else str(v))
                )
                .agg("|".join, axis=1)
            )
            model = location_scale(frame, f"{outcome} ~ C({key})", scale, method="ml", level=level)
            model.saturated_mean = True
            model.mean_formula = f"{outcome} ~ one mean per setting"
        else:
            model = location_scale(frame, f"{outcome} ~ {mean}", scale, method="ml", level=level)
    else:
        model = location_scale(frame, f"{outcome} ~ 1", scale, method="log_sd", by=by, level=level)
    return StabilityResult(
        outcome=outcome, by=by, level=normalise_level(level), table=table, tests=tests, model=model
    )
