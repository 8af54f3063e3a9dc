"""Sweeps over estimators, groups and a moderator's range.

* :func:`estimator_sweep` - one table of every tau² estimator x test;
* :func:`pool_groups` - a pooled estimate per group (benchmark, model family, ...),
  all groups as masks of one batched fit;
* :func:`hyperparameter_sweep` - pooled effect and heterogeneity per window of a
  moderator (e.g. the log learning rate) plus the meta-regression curve with
  confidence and prediction bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, jsonable
from ..errors import ModelError
from ..meta import FIXED_METHODS, TAU2_METHODS, TESTS, MetaResult, meta_analysis
from ._batch import ModelSpec, refit_stats
from ._common import frame_dict, table_text
from ._engine import chunk_slices, map_chunks

__all__ = [
    "estimator_sweep",
    "pool_groups",
    "hyperparameter_sweep",
    "EstimatorSweepResult",
    "PooledGroupsResult",
    "HyperparameterSweepResult",
]

#: Estimators of the default sweep (GENQ needs user weights and is added when the model has them).
SWEEP_METHODS = ("EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM")
SWEEP_COLUMNS = ["method", "test", "estimate", "se", "ci_low", "ci_high", "pval", "tau2", "i2"]


def _as_result(data, yi, vi, caller, **kw) -> MetaResult:
    if isinstance(data, MetaResult):
        return data
    if not isinstance(data, pd.DataFrame):
        raise ModelError(
            f"{caller}() needs an effects DataFrame or a fitted model, got {type(data).__name__}"
        )
    return meta_analysis(data, yi=yi, vi=vi, **kw)


def _pi(est, se, tau2, crit):
    with np.errstate(invalid="ignore"):
        half = crit * np.sqrt(se**2 + np.nan_to_num(tau2))
    return est - half, est + half


# --------------------------------------------------------------------------- estimator sweep
@dataclass(frozen=True)
class EstimatorSweepResult(ResultMixin):
    """Pooled results under every tau² estimator and test.

    Attributes
    ----------
    frame
        ``method, test, estimate, se, ci_low, ci_high, pval, tau2, i2`` plus ``stat,
        h2, q, pi_low, pi_high, k, converged`` (and ``term`` for meta-regression
        models, one row per coefficient).
    """

    frame: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict:
        return frame_dict({}, self.frame)

    def summary(self) -> str:
        f = self.frame
        return table_text(
            "Estimator sweep",
            [
                f"estimate range: {f['estimate'].min():.4f} to {f['estimate'].max():.4f}; "
                f"significant in {int((f['pval'] < 0.05).sum())} of {len(f)} rows"
            ],
            f[SWEEP_COLUMNS + (["term"] if "term" in f.columns else [])],
            max_rows=60,
        )


def estimator_sweep(
    data,
    *,
    methods: Sequence[str] | None = None,
    tests: Sequence[str] = TESTS,
    yi: str = "yi",
    vi: str = "vi",
    mods: str | None = None,
    level: float = 0.95,
) -> EstimatorSweepResult:
    """Fit the model under every tau² estimator and test.

    Parameters
    ----------
    data
        Effects table (``yi``, ``vi``) or a fitted model (its data, moderators and
        weights are reused).
    methods
        Estimators (default: ``EE, DL, HE, HS, HSk, SJ, ML, REML, EB, PM, PMM``, plus
        ``GENQ`` when the model has user weights).
    tests
        Tests (default ``z, t, knha, adhoc``).
    yi, vi, mods, level
        Used when ``data`` is a table.

    Returns
    -------
    EstimatorSweepResult
        ``to_frame()`` columns ``method, test, estimate, se, ci_low, ci_high, pval,
        tau2, i2`` (+ ``stat, h2, q, pi_low, pi_high, k, converged``).  Each row
        equals ``meta_analysis(..., method=, test=)``.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> sw = rm.estimator_sweep(eff)
    >>> len(sw.to_frame()), list(sw.to_frame().columns[:4])
    (44, ['method', 'test', 'estimate', 'se'])
    """
    res = _as_result(data, yi, vi, "estimator_sweep", mods=mods, level=level)
    spec = ModelSpec.from_result(res)
    if methods is None:
        methods = SWEEP_METHODS + (("GENQ",) if res.weights is not None else ())
    rows = []
    for m in methods:
        if m not in FIXED_METHODS + TAU2_METHODS:
            raise ModelError(
                f"unknown method {m!r}; expected one of {', '.join(FIXED_METHODS + TAU2_METHODS)}"
            )
        for t in tests:
            if t not in TESTS:
                raise ModelError(f"unknown test {t!r}; expected one of {', '.join(TESTS)}")
            st = refit_stats(spec, method=m, test=t, tau2=None)
            tdist = t in ("t", "knha", "adhoc")
            crit = (
                stats.t.ppf(0.5 + res.level / 2, st.ddf[0])
                if tdist
                else stats.norm.ppf(0.5 + res.level / 2)
            )
            for j, term in enumerate(res.terms):
                est, se = st.beta[0, j], st.se[0, j]
                lo, hi = _pi(est, se, st.tau2[0], crit) if res.intercept_only else (np.nan, np.nan)
                rows.append(
                    {
                        "method": m,
                        "test": t,
                        "estimate": est,
                        "se": se,
                        "ci_low": st.ci_low[0, j],
                        "ci_high": st.ci_high[0, j],
                        "pval": st.pval[0, j],
                        "tau2": st.tau2[0],
                        "i2": st.i2[0],
                        "stat": st.stat[0, j],
                        "h2": st.h2[0],
                        "q": st.q[0],
                        "pi_low": lo,
                        "pi_high": hi,
                        "k": int(st.k[0]),
                        "converged": bool(st.converged[0]),
                        "term": term,
                    }
                )
    frame = pd.DataFrame(rows)
    if res.intercept_only:
        frame = frame.drop(columns="term")
    return EstimatorSweepResult(frame)


# --------------------------------------------------------------------------- groups
@dataclass(frozen=True)
class PooledGroupsResult(ResultMixin):
    """A pooled estimate per group.

    Attributes
    ----------
    frame
        ``group, k, estimate, se, stat, pval, ci_low, ci_high, pi_low, pi_high,
        tau2, i2, q, q_pval``.
    by, method, test
        Grouping column(s) and model settings.
    """

    frame: pd.DataFrame
    by: str | list
    method: str
    test: str

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict:
        return frame_dict({"by": self.by, "method": self.method, "test": self.test}, self.frame)

    def summary(self) -> str:
        return table_text(
            f"Pooled by {self.by} ({self.method}, test = {self.test})", [], self.frame
        )


def _pool_chunk(shared: dict, task: slice) -> dict:
    st = refit_stats(
        shared["spec"], mask=shared["masks"][task], method=shared["method"], test=shared["test"]
    )
    return {
        f: getattr(st, f)
        for f in (
            "k",
            "beta",
            "se",
            "stat",
            "pval",
            "ci_low",
            "ci_high",
            "tau2",
            "i2",
            "q",
            "q_pval",
            "ddf",
        )
    }


def pool_groups(
    data,
    by: str | Sequence[str],
    *,
    yi: str = "yi",
    vi: str = "vi",
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    chunk_size: int = 5_000,
    engine="local",
    quiet: bool = False,
) -> PooledGroupsResult:
    """Pool the effects of every group separately, all groups in one batched fit.

    Parameters
    ----------
    data
        Effects table (``yi``, ``vi`` and the grouping columns).
    by
        Grouping column(s).
    method, test, level
        Model settings (as :func:`rlmeta.meta_analysis`).
    chunk_size, engine, quiet
        Groups per engine task; ``"local"``/``"dask"``/Client/address; progress bar.

    Returns
    -------
    PooledGroupsResult
        ``to_frame()``: ``group`` (or one column per ``by`` column), ``k, estimate,
        se, stat, pval, ci_low, ci_high, pi_low, pi_high, tau2, i2, q, q_pval``; each
        row equals ``meta_analysis`` on that group's effects.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> pg = rm.pool_groups(eff, "rl_family")
    >>> sorted(pg.to_frame()["rl_family"])
    ['DPO', 'GRPO', 'PPO', 'SimPO']
    """
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"pool_groups() needs an effects DataFrame, got {type(data).__name__}")
    cols = [by] if isinstance(by, str) else list(by)
    res = meta_analysis(data, yi=yi, vi=vi, method=method, test=test, level=level)
    missing = [c for c in cols if c not in res.data.columns]
    if missing:
        raise ModelError(f"pool_groups(): column(s) {missing} not found")
    keys = res.data[cols].astype(object).where(res.data[cols].notna(), None)
    codes, uniques = pd.factorize(
        pd.MultiIndex.from_frame(keys) if len(cols) > 1 else keys[cols[0]], use_na_sentinel=False
    )
    masks = codes[None, :] == np.arange(len(uniques))[:, None]
    spec = ModelSpec.from_result(res)
    shared = {"spec": spec, "masks": masks, "method": method, "test": test}
    parts = map_chunks(
        _pool_chunk,
        shared,
        chunk_slices(len(uniques), chunk_size),
        engine=engine,
        description="groups",
        quiet=quiet,
    )
    cat = {f: np.concatenate([pt[f] for pt in parts]) for f in parts[0]}
    tdist = test in ("t", "knha", "adhoc")
    with np.errstate(invalid="ignore"):
        crit = (
            stats.t.ppf(0.5 + level / 2, cat["ddf"])
            if tdist
            else np.full(len(uniques), stats.norm.ppf(0.5 + level / 2))
        )
        single = cat["k"] == 1
        crit = np.where(single, stats.norm.ppf(0.5 + level / 2), crit)
    est, se = cat["beta"][:, 0], cat["se"][:, 0]
    lo, hi = _pi(est, se, cat["tau2"], crit)
    if len(cols) > 1:
        gframe = pd.DataFrame(list(uniques), columns=cols)
    else:
        gframe = pd.DataFrame({cols[0]: list(uniques)})
    frame = pd.concat(
        [
            gframe,
            pd.DataFrame(
                {
                    "k": cat["k"],
                    "estimate": est,
                    "se": se,
                    "stat": cat["stat"][:, 0],
                    "pval": cat["pval"][:, 0],
                    "ci_low": cat["ci_low"][:, 0],
                    "ci_high": cat["ci_high"][:, 0],
                    "pi_low": lo,
                    "pi_high": hi,
                    "tau2": cat["tau2"],
                    "i2": cat["i2"],
                    "q": cat["q"],
                    "q_pval": cat["q_pval"],
                }
            ),
        ],
        axis=1,
    )
    return PooledGroupsResult(frame, by, method, test)


# --------------------------------------------------------------------------- hyper-parameter sweep
@dataclass(frozen=True)
class HyperparameterSweepResult(ResultMixin):
    """Pooled effects across the range of a moderator.

    Attributes
    ----------
    bins
        One row per window: ``window, low, high, center, k, n_studies, estimate, se,
        ci_low, ci_high, pval, tau2, i2, q``.
    curve
        Meta-regression predictions over a grid: ``x, pred, se, ci_low, ci_high,
        pi_low, pi_high``.
    model
        The meta-regression (:class:`~rlmeta.meta.MetaResult`).
    moderator
        Name of the moderator.
    n_dropped
        Effects without a value of the moderator.
    """

    bins: pd.DataFrame
    curve: pd.DataFrame
    model: MetaResult
    moderator: str
    n_dropped: int

    def to_frame(self) -> pd.DataFrame:
        return self.bins.copy()

    def to_dict(self) -> dict:
        return jsonable(
            {
                "moderator": self.moderator,
                "n_dropped": self.n_dropped,
                "bins": self.bins,
                "curve": self.curve,
                "model": self.model.to_dict(),
            }
        )

    def summary(self) -> str:
        coef = self.model.to_frame()
        slope = coef.iloc[1:]
        lines = [
            f"meta-regression on {self.moderator}: "
            + "; ".join(
                f"{r.term} = {r.estimate:.4f} (p = {r.pval:.4f})" for r in slope.itertuples()
            )
        ]
        if self.n_dropped:
            lines.append(f"{self.n_dropped} effect(s) without {self.moderator} left out")
        return table_text(f"Hyper-parameter sweep over {self.moderator}", lines, self.bins)


def _windows(x: np.ndarray, windows) -> list[tuple[float, float, bool]]:
    """(low, high, closed_right) per window."""
    lo, hi = float(np.min(x)), float(np.max(x))
    if isinstance(windows, int | np.integer):
        qs = np.unique(np.quantile(x, np.linspace(0, 1, int(windows) + 1)))
        edges = qs
    elif isinstance(windows, dict):
        width = float(windows["width"])
        step = float(windows.get("step", width / 2))
        starts = np.arange(lo, hi - width + step, step) if hi - lo > width else np.array([lo])
        return [(s, s + width, True) for s in starts]
    else:
        edges = np.asarray(windows, float)
        if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise ModelError(
                "windows: give an int (quantile bins), increasing bin edges, or {'width': w, 'step': s}"
            )
    return [
        (float(a), float(b), i == len(edges) - 2)
        for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))
    ]


def hyperparameter_sweep(
    effects: pd.DataFrame,
    moderator: str = "log10_learning_rate",
    windows=4,
    *,
    yi: str = "yi",
    vi: str = "vi",
    method: str = "REML",
    test: str = "knha",
    level: float = 0.95,
    degree: int = 1,
    n_grid: int = 50,
    cluster: str | None = "study_id",
) -> HyperparameterSweepResult:
    """Pooled effect and heterogeneity per window of a moderator, plus the regression curve.

    Parameters
    ----------
    effects
        Effects table with the moderator column.
    moderator
        Numeric column (default ``log10_learning_rate``).
    windows
        An int (that many quantile bins), increasing bin edges, or
        ``{"width": w, "step": s}`` for overlapping sliding windows.
    method, test, level
        Model settings (default REML with Knapp-Hartung).
    degree
        Polynomial degree of the meta-regression (1 linear, 2 quadratic, ...).
    n_grid
        Grid points of the prediction curve.
    cluster
        Column counted as ``n_studies`` per window.

    Returns
    -------
    HyperparameterSweepResult
        ``.bins`` (also ``to_frame()``), ``.curve`` and ``.model``.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> hs = rm.hyperparameter_sweep(eff, "log10_learning_rate", windows=3)
    >>> list(hs.curve.columns)
    ['x', 'pred', 'se', 'ci_low', 'ci_high', 'pi_low', 'pi_high']
    """
    if moderator not in effects.columns:
        raise ModelError(f"hyperparameter_sweep(): moderator column {moderator!r} not found")
    x_all = pd.to_numeric(effects[moderator], errors="coerce")
    keep = (
        x_all.notna().to_numpy() & effects[yi].notna().to_numpy() & effects[vi].notna().to_numpy()
    )
    eff = effects.loc[keep].reset_index(drop=True)
    if len(eff) < degree + 2:
        raise ModelError(
            f"too few effects with {moderator} ({len(eff)}) for a degree-{degree} meta-regression"
        )
    x = eff[moderator].to_numpy(float)
    terms = [moderator] + [f"I({moderator}**{d})" for d in range(2, int(degree) + 1)]
    model = meta_analysis(
        eff, yi=yi, vi=vi, mods="~ " + " + ".join(terms), method=method, test=test, level=level
    )
    base = meta_analysis(eff, yi=yi, vi=vi, method=method, test=test, level=level)
    wins = _windows(x, windows)
    masks = np.array([(x >= a) & ((x <= b) if closed else (x < b)) for a, b, closed in wins], bool)
    st = refit_stats(base, mask=masks)
    nst = [int(eff.loc[m, cluster].nunique()) if cluster in eff.columns else np.nan for m in masks]
    bins = pd.DataFrame(
        {
            "window": [f"[{a:g}, {b:g}{']' if c else ')'}" for a, b, c in wins],
            "low": [w[0] for w in wins],
            "high": [w[1] for w in wins],
            "center": [(w[0] + w[1]) / 2 for w in wins],
            "k": st.k,
            "n_studies": nst,
            "estimate": st.beta[:, 0],
            "se": st.se[:, 0],
            "ci_low": st.ci_low[:, 0],
            "ci_high": st.ci_high[:, 0],
            "pval": st.pval[:, 0],
            "tau2": st.tau2,
            "i2": st.i2,
            "q": st.q,
        }
    )
    grid = np.linspace(x.min(), x.max(), int(n_grid))
    pr = model.predict(pd.DataFrame({moderator: grid}))
    curve = pd.concat(
        [pd.DataFrame({"x": grid}), pr[["pred", "se", "ci_low", "ci_high", "pi_low", "pi_high"]]],
        axis=1,
    )
    return HyperparameterSweepResult(bins, curve, model, moderator, int((~keep).sum()))
