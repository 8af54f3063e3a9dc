"""Probing two-way interactions: simple slopes, Johnson-Neyman intervals, marginal effects.

:func:`interaction` takes run-level data (and fits :func:`rlmeta.regress`) or an
already fitted :class:`~rlmeta.regression.RegressionResult` or
:class:`~rlmeta.meta.MetaResult` (meta-regression), and reports how the slope of
``x`` changes with a ``moderator``:

* **simple slopes** of ``x`` at chosen moderator values (default mean - 1 SD, mean,
  mean + 1 SD; every level of a categorical moderator) with CIs and tests;
* the **Johnson-Neyman** interval: the moderator values where the simple slope's
  confidence interval excludes 0 (regions of significance);
* a **marginal-effects table**: predictions over a grid of ``x`` x moderator values
  with confidence intervals, ready for line charts.

Everything is computed from the model's coefficients ``b``, their covariance ``V``
and its reference distribution (t(df) or z; for meta-regressions z or t(k - p) as
the fit's ``test``), so cluster-robust, mixed-model and Knapp-Hartung covariances
carry through.

Notes
-----
The slope of ``x`` at moderator value ``m`` is ``L(m) @ b`` with
``L(m) = [X(x0 + h, m) - X(x0, m)] / h``, the change of the design row per unit of
``x`` (other predictors held at their mean, or their most frequent level), which
is exact when ``x`` enters the formula linearly (checked; use a ``log10_`` column
rather than ``log10(x)`` in the formula).  When ``L(m) = A + m C`` is affine in ``m``
(a numeric moderator entering linearly), the slope is significant where
``(A b + m C b)^2 > q^2 (A V A' + 2 m A V C' + m^2 C V C')`` with ``q`` the critical
value: a quadratic inequality in ``m`` solved in closed form (Johnson & Neyman
1936; Bauer & Curran 2005, doi:10.1207/s15327906mbr4003_5).  No library provides
this for arbitrary statsmodels / meta-analysis covariances, so it is written here.

Examples
--------
>>> from rlmeta.datasets.simulate import simulate_sweep
>>> sweep = simulate_sweep(seed=0)
>>> gsm = sweep[sweep["benchmark"] == "gsm8k"]
>>> res = interaction(gsm, x="log10_learning_rate", moderator="reward_calibration", outcome="score")
>>> res.slopes["label"].tolist()
['mean - 1 SD', 'mean', 'mean + 1 SD']
>>> [(round(a, 2), round(b, 2)) for a, b in res.jn.regions_observed]  # slope > 0 where calibration > 0.12
[(0.12, 1.0)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._result import ResultMixin, fmt_p, jsonable
from .errors import ModelError
from .meta.fit import normalise_level
from .regression import RegressionResult, linear_predictions, regress, split_formula

__all__ = ["interaction", "InteractionResult", "JohnsonNeyman", "simple_slopes", "johnson_neyman"]


# --------------------------------------------------------------------------- a uniform view of fitted models
@dataclass
class _Fitted:
    beta: np.ndarray
    cov: np.ndarray
    names: list[str]
    design: Any
    data: pd.DataFrame
    df: float  # inf for z
    outcome: str
    binomial: bool
    kind: str

    def crit(self, level: float) -> float:
        q = 0.5 + level / 2
        return float(stats.t.ppf(q, self.df) if math.isfinite(self.df) else stats.norm.ppf(q))

    def pval(self, stat: np.ndarray) -> np.ndarray:
        a = np.abs(stat)
        return 2 * (stats.t.sf(a, self.df) if math.isfinite(self.df) else stats.norm.sf(a))


def _as_fitted(res: Any) -> _Fitted:
    if isinstance(res, RegressionResult):
        return _Fitted(
            np.asarray(res.params, float),
            np.asarray(res.cov, float),
            list(res.terms),
            res.design,
            res.data,
            float(res.df),
            res.outcome,
            res.family == "binomial",
            "regression",
        )
    try:
        from .meta.results import MetaResult
    except ImportError:  # pragma: no cover - the engine is part of the package
        MetaResult = ()  # type: ignore[assignment]
    if isinstance(res, MetaResult):
        df = float(res.ddf) if res.test in ("t", "knha", "adhoc") else math.inf
        return _Fitted(
            res.beta.to_numpy(float),
            res.vcov.to_numpy(float),
            list(res.terms),
            res.design,
            res.data,
            df,
            "effect",
            False,
            "meta",
        )
    raise ModelError(f"expected data, a RegressionResult or a MetaResult, got {type(res).__name__}")


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _reference_row(fit: _Fitted, covariates: dict[str, Any] | None) -> dict[str, Any]:
    """Values at which the other predictors are held: mean (numeric) or most frequent level."""
    row: dict[str, Any] = {}
    for col in fit.design.columns:
        if covariates and col in covariates:
            row[col] = covariates[col]
            continue
        s = fit.data[col]
        if _is_numeric(s):
            row[col] = float(s.mean())
        else:
            counts = s.value_counts(sort=False)
            row[col] = counts.index[int(np.argmax(counts.to_numpy()))]
    return row


def _rows(fit: _Fitted, base: dict[str, Any], updates: list[dict[str, Any]]) -> np.ndarray:
    frame = pd.DataFrame([{**base, **u} for u in updates])
    for col in fit.design.columns:  # keep the fitted dtype (categorical levels, booleans)
        if not _is_numeric(fit.data[col]) and col in frame:
            frame[col] = (
                frame[col].astype(fit.data[col].dtype)
                if fit.data[col].dtype != object
                else frame[col]
            )
    return fit.design.new_rows(frame)


def _slope_vectors(
    fit: _Fitted, x: str, moderator: str, mvals: list[Any], base: dict[str, Any], step: float
) -> np.ndarray:
    """Rows L(m) = d(design row)/dx at each moderator value; checks that x enters linearly."""
    x0 = float(base[x])
    # one design build for all values (formulaic is the slow part)
    X = _rows(fit, base, [{x: x0 + j * step, moderator: m} for m in mvals for j in range(3)])
    out = []
    for i in range(len(mvals)):
        d1 = (X[3 * i + 1] - X[3 * i]) / step
        d2 = (X[3 * i + 2] - X[3 * i + 1]) / step
        if not np.allclose(d1, d2, rtol=1e-6, atol=1e-9 * (1 + np.abs(d1).max())):
            raise ModelError(
                f"{x!r} does not enter the model linearly (e.g. log10({x}) or a polynomial): simple slopes per unit of "
                f"{x!r} are not constant; add a transformed column (e.g. log10_{x}) and use it as x"
            )
        out.append(d1)
    return np.asarray(out)


# --------------------------------------------------------------------------- Johnson-Neyman
@dataclass(eq=False)
class JohnsonNeyman(ResultMixin):
    """Regions of the moderator where the simple slope of ``x`` is significant.

    Attributes
    ----------
    bounds
        Real roots of the Johnson-Neyman quadratic (0, 1 or 2 values; moderator units).
    regions
        Intervals ``(low, high)`` (``±inf`` for unbounded) where the slope's
        ``level`` CI excludes 0.
    regions_observed
        ``regions`` clipped to the observed moderator range.
    observed_range
        ``(min, max)`` of the moderator in the fitted data.
    level, crit
        Confidence level and critical value used.
    coefficients
        ``qa, qb, qc`` of ``qa m² + qb m + qc > 0`` (significance condition).
    """

    moderator: str
    bounds: list[float]
    regions: list[tuple[float, float]]
    regions_observed: list[tuple[float, float]]
    observed_range: tuple[float, float]
    level: float
    crit: float
    coefficients: tuple[float, float, float]

    def to_frame(self) -> pd.DataFrame:
        """Regions of significance: ``low, high`` (full line) and their observed parts."""
        obs = dict(zip(range(len(self.regions)), [None] * len(self.regions)))
        lo_o, hi_o = self.observed_range
        for i, (a, b) in enumerate(self.regions):
            if min(b, hi_o) > max(a, lo_o):
                obs[i] = (max(a, lo_o), min(b, hi_o))
        return pd.DataFrame(
            {
                "low": [a for a, _ in self.regions],
                "high": [b for _, b in self.regions],
                "observed_low": [o[0] if o else np.nan for o in obs.values()],
                "observed_high": [o[1] if o else np.nan for o in obs.values()],
            }
        )

    def to_dict(self) -> dict:
        return jsonable(
            {
                "moderator": self.moderator,
                "bounds": self.bounds,
                "regions": [list(r) for r in self.regions],
                "regions_observed": [list(r) for r in self.regions_observed],
                "observed_range": list(self.observed_range),
                "level": self.level,
                "crit": self.crit,
            }
        )

    def summary(self) -> str:
        pct = f"{100 * self.level:g}%"
        if not self.regions:
            return f"The simple slope is not significant ({pct}) at any value of {self.moderator}."
        if self.regions == [(-math.inf, math.inf)]:
            return f"The simple slope is significant ({pct}) at every value of {self.moderator}."
        parts = [_interval_text(self.moderator, lo, hi) for lo, hi in self.regions]
        obs = f"observed range {self.observed_range[0]:.4g} to {self.observed_range[1]:.4g}"
        inside = "; within it: " + (
            " or ".join(_interval_text(self.moderator, lo, hi) for lo, hi in self.regions_observed)
            if self.regions_observed
            else "nowhere"
        )
        return (
            f"The simple slope is significant ({pct}) for "
            + " or ".join(parts)
            + f" ({obs}{inside})."
        )


def _interval_text(name: str, lo: float, hi: float) -> str:
    if math.isinf(lo) and math.isinf(hi):
        return f"all {name}"
    if math.isinf(lo):
        return f"{name} < {hi:.4g}"
    if math.isinf(hi):
        return f"{name} > {lo:.4g}"
    return f"{lo:.4g} < {name} < {hi:.4g}"


def johnson_neyman(
    A: np.ndarray,
    C: np.ndarray,
    beta: np.ndarray,
    cov: np.ndarray,
    crit: float,
    *,
    moderator: str = "moderator",
    observed_range: tuple[float, float] = (-math.inf, math.inf),
    level: float = 0.95,
) -> JohnsonNeyman:
    """Solve the Johnson-Neyman inequality for slope vectors ``L(m) = A + m C``.

    Parameters
    ----------
    A, C
        Contrast rows: the slope at moderator value ``m`` is ``(A + m C) @ beta``.
    beta, cov
        Coefficients and their covariance.
    crit
        Critical value (e.g. ``t.ppf(0.975, df)``).

    Returns
    -------
    JohnsonNeyman

    Examples
    --------
    >>> import numpy as np
    >>> # slope(m) = 1 - m with variance 0.01 at every m: significant where |1 - m| > 0.196
    >>> jn = johnson_neyman(np.array([1., 0]), np.array([0., 1]), np.array([1., -1]),
    ...                     np.diag([0.01, 0.]), 1.96, moderator="m")
    >>> [round(b, 3) for b in jn.bounds]
    [0.804, 1.196]
    >>> [(round(a, 3), round(b, 3)) for a, b in jn.regions]
    [(-inf, 0.804), (1.196, inf)]
    """
    sA, sC = float(A @ beta), float(C @ beta)
    vAA, vAC, vCC = float(A @ cov @ A), float(A @ cov @ C), float(C @ cov @ C)
    q2 = crit**2
    qa, qb, qc = sC**2 - q2 * vCC, 2 * (sA * sC - q2 * vAC), sA**2 - q2 * vAA
    scale = max(abs(qa), abs(qb), abs(qc), 1e-300)
    bounds: list[float] = []
    if abs(qa) <= 1e-12 * scale:  # linear (or constant) condition
        if abs(qb) <= 1e-12 * scale:
            regions = [(-math.inf, math.inf)] if qc > 0 else []
        else:
            r = -qc / qb
            bounds = [r]
            regions = [(r, math.inf)] if qb > 0 else [(-math.inf, r)]
    else:
        disc = qb**2 - 4 * qa * qc
        if disc < 0:
            regions = [(-math.inf, math.inf)] if qa > 0 else []
        else:
            # numerically stable roots
            sq = math.sqrt(disc)
            qq = -0.5 * (qb + math.copysign(sq, qb))
            r1, r2 = sorted([qq / qa, qc / qq if qq != 0 else qq / qa])
            bounds = [r1, r2]
            regions = [(-math.inf, r1), (r2, math.inf)] if qa > 0 else [(r1, r2)]
    lo, hi = observed_range
    clipped = [(max(a, lo), min(b, hi)) for a, b in regions if min(b, hi) > max(a, lo)]
    return JohnsonNeyman(
        moderator,
        bounds,
        regions,
        clipped,
        (float(lo), float(hi)),
        level,
        float(crit),
        (qa, qb, qc),
    )


# --------------------------------------------------------------------------- result
@dataclass(eq=False)
class InteractionResult(ResultMixin):
    """Simple slopes, Johnson-Neyman regions and marginal effects of an ``x`` x moderator interaction.

    Attributes
    ----------
    x, moderator, outcome
        Names (``outcome`` is ``"effect"`` for meta-regressions).
    slopes
        ``moderator value, label, estimate, se, stat, df, pval, ci_low, ci_high``:
        the slope of the outcome per unit of ``x`` (log-odds for binomial models).
    jn
        :class:`JohnsonNeyman` (None for a categorical moderator, or when the
        moderator does not enter linearly).
    marginal
        Predictions ``x, moderator, pred, se, ci_low, ci_high`` over the grid
        (probabilities for binomial models; ``se`` on the link scale).
    interaction_terms
        The model's coefficient table rows whose names involve both variables.
    centers
        Means subtracted from ``x``/moderator before fitting (empty when a fitted
        model was passed); every table is in the original units.
    held_at
        Values of the other predictors.
    model
        The fitted model (RegressionResult or MetaResult).
    """

    x: str
    moderator: str
    outcome: str
    level: float
    slopes: pd.DataFrame
    jn: JohnsonNeyman | None
    marginal: pd.DataFrame
    interaction_terms: pd.DataFrame
    centers: dict[str, float]
    held_at: dict[str, Any]
    scale: str
    model: Any = field(repr=False)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The simple-slopes table."""
        return self.slopes.copy()

    def to_dict(self) -> dict:
        return jsonable(
            {
                "x": self.x,
                "moderator": self.moderator,
                "outcome": self.outcome,
                "level": self.level,
                "scale": self.scale,
                "centers": self.centers,
                "held_at": {
                    k: str(v) if not isinstance(v, int | float) else v
                    for k, v in self.held_at.items()
                },
                "slopes": self.slopes,
                "johnson_neyman": self.jn.to_dict() if self.jn else None,
                "interaction_terms": self.interaction_terms,
                "marginal": self.marginal,
                "notes": self.notes,
            }
        )

    def summary(self) -> str:
        lines = [f"Interaction of {self.x} x {self.moderator} on {self.outcome} ({self.scale})"]
        if self.centers:
            lines.append(
                "Centred before fitting: "
                + ", ".join(f"{k} (mean {v:.4g})" for k, v in self.centers.items())
            )
        if len(self.interaction_terms):
            t = self.interaction_terms
            lines += [
                f"  {r.term}: {r.estimate:.4g} (SE {r.se:.4g}), p = {fmt_p(r.pval)}"
                for r in t.itertuples()
            ]
        tab = self.slopes.copy()
        tab["pval"] = tab["pval"].map(fmt_p)
        lines += [
            "",
            f"Simple slopes of {self.x}:",
            tab.drop(columns="df").to_string(index=False, float_format=lambda v: f"{v:.4g}"),
        ]
        if self.jn is not None:
            lines += ["", "Johnson-Neyman: " + self.jn.summary()]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


# --------------------------------------------------------------------------- main entry
def _moderator_values(s: pd.Series, at: Any) -> tuple[list[Any], list[str]]:
    if at is not None:
        vals = list(np.atleast_1d(at)) if not isinstance(at, list | tuple) else list(at)
        return vals, [str(v) for v in vals]
    if _is_numeric(s):
        mu, sd = float(s.mean()), float(s.std(ddof=1))
        return [mu - sd, mu, mu + sd], ["mean - 1 SD", "mean", "mean + 1 SD"]
    levels = sorted(s.dropna().unique().tolist(), key=str)
    return levels, [str(v) for v in levels]


def simple_slopes(
    fit_or_result: Any,
    x: str,
    moderator: str,
    at: Any = None,
    *,
    level: float | None = None,
    covariates: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Simple slopes of ``x`` at moderator values for a fitted model (see :func:`interaction`)."""
    return interaction(
        fit_or_result, x=x, moderator=moderator, at=at, level=level, covariates=covariates, n_grid=2
    ).slopes


def interaction(
    data_or_result: Any,
    x: str = "learning_rate",
    moderator: str = "reward_calibration",
    *,
    outcome: str | None = None,
    formula: str | None = None,
    at: Any = None,
    center: bool = True,
    level: float | None = None,
    n_grid: int = 25,
    x_values: Any = None,
    covariates: dict[str, Any] | None = None,
    **fit_kwargs: Any,
) -> InteractionResult:
    """Simple slopes, Johnson-Neyman regions and a marginal-effects grid for ``x`` x ``moderator``.

    Parameters
    ----------
    data_or_result
        Run-level data (a model is fitted with :func:`rlmeta.regress`), or a fitted
        :class:`~rlmeta.regression.RegressionResult` / :class:`~rlmeta.meta.MetaResult`.
    x, moderator
        The focal predictor (numeric, entering linearly) and the moderator (numeric
        or categorical).
    outcome
        Outcome column when fitting; the formula is then ``outcome ~ x * moderator``.
    formula
        A full formula instead (must contain ``x`` and ``moderator``; may add covariates).
    at
        Moderator values for the simple slopes (default mean - 1 SD, mean, mean + 1 SD
        of the fitted data; every level of a categorical moderator).
    center
        When fitting: subtract the means of numeric ``x`` and moderator first, so
        that the main-effect coefficients are slopes at the other variable's mean
        (the tables are reported in the original units either way).
    level
        Confidence level (default: the model's, or 0.95 when fitting).
    n_grid
        Number of ``x`` values in the marginal-effects grid (over the observed range).
    x_values
        Explicit ``x`` grid instead.
    covariates
        Values at which to hold other predictors (default: mean or most frequent level).
    **fit_kwargs
        Passed to :func:`rlmeta.regress` (``family``, ``n``, ``cluster``, ``groups``, ``weights``).

    Returns
    -------
    InteractionResult

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> meta = rm.meta_analysis(eff, mods="~ log10_params_B * judge_based", test="knha")
    >>> res = interaction(meta, x="log10_params_B", moderator="judge_based")
    >>> res.slopes["label"].tolist(), res.jn is None
    (['False', 'True'], True)
    """
    notes: list[str] = []
    centers: dict[str, float] = {}
    if isinstance(data_or_result, pd.DataFrame):
        data = data_or_result
        for name in (x, moderator):
            if name not in data.columns:
                raise ModelError(f"column {name!r} not found in the data")
        if formula is None:
            if outcome is None:
                raise ModelError(
                    "give outcome= (the formula is then 'outcome ~ x * moderator') or formula="
                )
            formula = f"{outcome} ~ {x} * {moderator}"
        outs, _ = split_formula(formula, list(map(str, data.columns)))
        if len(outs) != 1:
            raise ModelError("interaction() probes one outcome at a time")
        data = data.copy()
        if center:
            from .meta.formula import check_formula

            used = [c for c in check_formula(formula, data.columns)]
            extra = [
                v for k, v in fit_kwargs.items() if k in ("n", "weights", "cluster", "groups") and v
            ]
            complete = data[list(dict.fromkeys(used + extra))].notna().all(axis=1)
            for name in (x, moderator):
                if _is_numeric(data[name]):
                    centers[name] = float(data.loc[complete, name].mean())
                    data[name] = data[name] - centers[name]
        model = regress(data, formula, **fit_kwargs)
        if level is None:
            level = 0.95
    else:
        model = data_or_result
        fit0 = _as_fitted(model)  # raises a clear error for anything else
        del fit0
        if formula is not None or outcome is not None or fit_kwargs:
            raise ModelError(
                "formula=, outcome= and model options apply when passing data, not a fitted model"
            )
        level = model.level if level is None else level
    level = normalise_level(level)
    fit = _as_fitted(model)
    for name in (x, moderator):
        if name not in fit.design.columns:
            raise ModelError(f"{name!r} is not in the model (its columns: {fit.design.columns})")
    if not _is_numeric(fit.data[x]):
        raise ModelError(
            f"x={x!r} must be numeric; for a categorical focal variable swap x and moderator"
        )
    inter = [t for t in fit.names if ":" in t and x in t and moderator in t]
    if not inter:
        notes.append(
            f"the model has no {x} x {moderator} interaction term: the simple slopes are all equal"
        )

    def to_design(name: str, v: Any) -> Any:
        return v - centers[name] if name in centers else v

    def from_design(name: str, v: Any) -> Any:
        return v + centers[name] if name in centers else v

    base = _reference_row(fit, covariates)
    mod_s = fit.data[moderator]
    numeric_mod = _is_numeric(mod_s)
    mod_orig = mod_s + centers.get(moderator, 0.0) if numeric_mod else mod_s
    mvals, labels = _moderator_values(mod_orig, at)
    xs = fit.data[x]
    step = float(xs.std(ddof=1)) if len(xs) > 1 and xs.std(ddof=1) > 0 else 1.0
    Ls = _slope_vectors(fit, x, moderator, [to_design(moderator, m) for m in mvals], base, step)
    crit = fit.crit(level)
    est = Ls @ fit.beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", Ls, fit.cov, Ls))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    slopes = pd.DataFrame(
        {
            moderator: mvals,
            "label": labels,
            "estimate": est,
            "se": se,
            "stat": stat,
            "df": np.full(len(est), fit.df if math.isfinite(fit.df) else np.nan),
            "pval": fit.pval(stat),
            "ci_low": est - crit * se,
            "ci_high": est + crit * se,
        }
    )

    jn = None
    if numeric_mod:
        m0, hm = float(mod_s.mean()), float(mod_s.std(ddof=1)) if mod_s.std(ddof=1) > 0 else 1.0
        L3 = _slope_vectors(fit, x, moderator, [m0, m0 + hm, m0 + 2 * hm], base, step)
        C = (L3[1] - L3[0]) / hm
        if np.allclose(L3[2] - L3[1], L3[1] - L3[0], rtol=1e-6, atol=1e-9 * (1 + np.abs(L3).max())):
            A = L3[0] - m0 * C
            rng = (float(mod_orig.min()), float(mod_orig.max()))
            jn_d = johnson_neyman(
                A,
                C,
                fit.beta,
                fit.cov,
                crit,
                moderator=moderator,
                observed_range=(to_design(moderator, rng[0]), to_design(moderator, rng[1])),
                level=level,
            )
            shift = centers.get(moderator, 0.0)
            jn = JohnsonNeyman(
                moderator,
                [b + shift for b in jn_d.bounds],
                [(a + shift, b + shift) for a, b in jn_d.regions],
                [(a + shift, b + shift) for a, b in jn_d.regions_observed],
                rng,
                level,
                crit,
                jn_d.coefficients,
            )
        else:
            notes.append(f"{moderator!r} does not enter linearly: no Johnson-Neyman interval")

    # marginal-effects grid in original units
    x_orig = xs + centers.get(x, 0.0)
    grid_x = (
        np.asarray(x_values, float)
        if x_values is not None
        else np.linspace(float(x_orig.min()), float(x_orig.max()), max(int(n_grid), 2))
    )
    rows = [
        {x: to_design(x, gx), moderator: to_design(moderator, m)} for m in mvals for gx in grid_x
    ]
    Xg = _rows(fit, base, rows)
    pred = linear_predictions(Xg, fit.beta, fit.cov, crit, inverse_link=fit.binomial)
    marginal = pd.concat(
        [
            pd.DataFrame(
                {
                    x: [from_design(x, r[x]) for r in rows],
                    moderator: [from_design(moderator, r[moderator]) for r in rows],
                }
            ),
            pred,
        ],
        axis=1,
    )
    coef = model.to_frame()
    held = {k: from_design(k, v) for k, v in base.items() if k not in (x, moderator)}
    scale = (
        "log-odds (slopes), probability (marginal)"
        if fit.binomial
        else "pooled effect"
        if fit.kind == "meta"
        else "outcome units"
    )
    return InteractionResult(
        x=x,
        moderator=moderator,
        outcome=fit.outcome,
        level=level,
        slopes=slopes,
        jn=jn,
        marginal=marginal,
        interaction_terms=coef[coef["term"].isin(inter)].reset_index(drop=True),
        centers=centers,
        held_at=held,
        scale=scale,
        model=model,
        notes=notes,
    )
