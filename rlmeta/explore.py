"""Exploring structure: model x benchmark effect matrices, PCA and clustering.

* :func:`effect_matrix` pivots an effects table into a comparison x benchmark
  matrix of effect sizes (missing where a comparison did not report a benchmark);
* :func:`pca` runs a principal component analysis (scikit-learn) with an explicit
  missing-value policy, and returns loadings, scores and explained variance;
* :func:`cluster` groups the rows with k-means, Ward's hierarchical clustering or
  a Gaussian mixture, chooses k by silhouette (k-means, Ward) or BIC (mixture), and
  measures how stable the clusters are under bootstrap resampling (adjusted Rand
  index).

Published RL-vs-baseline results are sparse (most comparisons report a handful of
benchmarks), so the missing-value policy matters and is always reported
(``missing_report``): which rows and columns were dropped, how many cells imputed.

Examples
--------
>>> import rlmeta as rm
>>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
>>> m = effect_matrix(eff, aggfunc="mean")
>>> m.shape
(35, 23)
>>> res = pca(m, missing="impute_mean", min_coverage=0.3)
>>> res.loadings.shape[0] <= 23, round(float(res.explained_variance_ratio.sum()), 6)
(True, 1.0)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._result import ResultMixin, jsonable
from .errors import DataError, DataWarning, ModelError
from .schema import row_numbers

__all__ = [
    "effect_matrix",
    "pca",
    "cluster",
    "PCAResult",
    "ClusterResult",
    "MISSING_POLICIES",
    "bootstrap_ari",
]

MISSING_POLICIES = ("raise", "drop", "drop_columns", "impute_mean", "impute_iterative")
_AGG = ("mean", "median", "first", "max", "min")


def effect_matrix(
    effects: pd.DataFrame,
    rows: str = "comparison_id",
    cols: str = "benchmark",
    value: str = "yi",
    *,
    aggfunc: str | None = None,
) -> pd.DataFrame:
    """Pivot an effects table into a ``rows`` x ``cols`` matrix of ``value``.

    Parameters
    ----------
    effects
        Effects table (e.g. :func:`rlmeta.effect_sizes` output).
    rows, cols, value
        Column names: one row per ``rows`` value, one column per ``cols`` value.
    aggfunc
        How to combine several effects in one cell (e.g. two metrics of one
        benchmark): ``"mean"``, ``"median"``, ``"first"``, ``"max"``, ``"min"``.  The
        default None raises a :class:`~rlmeta.errors.DataError` listing the
        duplicated cells, so that averaging is always a visible choice.

    Returns
    -------
    pandas.DataFrame
        Rows sorted by ``rows``, columns by ``cols``; NaN where no effect exists.
        ``attrs["rlmeta_matrix"]`` records the arguments and the number of cells that
        combined several effects.

    Examples
    --------
    >>> import pandas as pd
    >>> eff = pd.DataFrame({"comparison_id": ["a", "a", "b"], "benchmark": ["gsm8k", "math", "gsm8k"],
    ...                     "yi": [0.1, 0.2, 0.3]})
    >>> effect_matrix(eff)  # doctest: +NORMALIZE_WHITESPACE
    benchmark      gsm8k  math
    comparison_id
    a                0.1   0.2
    b                0.3   NaN
    """
    if not isinstance(effects, pd.DataFrame):
        raise DataError(f"effects must be a DataFrame, got {type(effects).__name__}")
    for c in (rows, cols, value):
        if c not in effects.columns:
            raise DataError(f"column {c!r} not found in the effects table", column=c)
    v = effects[value]
    if not pd.api.types.is_numeric_dtype(v) or pd.api.types.is_bool_dtype(v):
        raise DataError(f"expected numbers in {value!r}, got dtype {v.dtype}", column=value)
    keyed = effects.dropna(subset=[rows, cols])
    counts = keyed.groupby([rows, cols], observed=True).size()
    dup = counts[counts > 1]
    if len(dup) and aggfunc is None:
        cells = ", ".join(f"({r!r}, {c!r})" for r, c in list(dup.index)[:5])
        mask = keyed.set_index([rows, cols]).index.isin(dup.index)
        raise DataError(
            f"{len(dup)} cell(s) hold several effects, e.g. {cells}; filter the table (e.g. one metric per "
            f"benchmark) or pass aggfunc='mean'",
            row=row_numbers(keyed, mask),
            column=value,
        )
    if aggfunc is not None and aggfunc not in _AGG:
        raise DataError(f"aggfunc must be one of {_AGG}, got {aggfunc!r}")
    mat = keyed.pivot_table(
        index=rows,
        columns=cols,
        values=value,
        aggfunc=aggfunc or "first",
        dropna=False,
        observed=True,
        sort=True,
    )
    mat = mat.astype(float)
    mat.columns.name = cols
    mat.index.name = rows
    mat.attrs["rlmeta_matrix"] = {
        "rows": rows,
        "cols": cols,
        "value": value,
        "aggfunc": aggfunc,
        "aggregated_cells": int(len(dup)),
    }
    return mat


# --------------------------------------------------------------------------- matrix preparation
def _prepare_matrix(
    matrix: pd.DataFrame | np.ndarray,
    missing: str,
    min_coverage: float,
    seed: int,
    standardize: bool,
) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Apply the missing-value policy and (optionally) standardise; report every decision."""
    if missing not in MISSING_POLICIES:
        raise ModelError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    if not 0 <= min_coverage <= 1:
        raise ModelError(f"min_coverage must be in [0, 1], got {min_coverage}")
    frame = (
        matrix.copy()
        if isinstance(matrix, pd.DataFrame)
        else pd.DataFrame(np.asarray(matrix, dtype=float))
    )
    frame.columns = [str(c) for c in frame.columns]
    nonnum = [
        c
        for c in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    ]
    if nonnum:
        raise DataError(f"expected numeric columns, got {frame[nonnum[0]].dtype}", column=nonnum[0])
    frame = frame.astype(float)
    if np.isinf(frame.to_numpy()).any():
        raise DataError(
            "the matrix contains infinite values",
            column=str(frame.columns[np.isinf(frame).any().to_numpy()][0]),
        )
    report: dict[str, Any] = {
        "policy": missing,
        "min_coverage": min_coverage,
        "n_missing": int(frame.isna().sum().sum()),
        "shape_in": list(frame.shape),
        "dropped_rows": [],
        "dropped_columns": [],
        "imputed_cells": 0,
        "reasons": {},
    }

    def drop_cols(cols: list[str], why: str) -> None:
        nonlocal frame
        if cols:
            frame = frame.drop(columns=cols)
            report["dropped_columns"] += cols
            for c in cols:
                report["reasons"][f"column {c}"] = why

    def drop_rows(idx: list[Any], why: str) -> None:
        nonlocal frame
        if idx:
            frame = frame.drop(index=idx)
            report["dropped_rows"] += [str(i) for i in idx]
            for i in idx:
                report["reasons"][f"row {i}"] = why

    cov = frame.notna().mean()
    drop_cols(
        [c for c in frame.columns if cov[c] < min_coverage or cov[c] == 0],
        f"observed in fewer than {min_coverage:.0%} of rows",
    )
    if missing == "raise" and frame.isna().any().any():
        r, c = np.argwhere(frame.isna().to_numpy())[0]
        raise DataError(
            f"missing value at row {frame.index[r]!r}; choose a missing= policy {MISSING_POLICIES[1:]}",
            column=str(frame.columns[c]),
        )
    if missing == "drop":
        drop_rows(list(frame.index[frame.isna().any(axis=1)]), "missing value(s) (missing='drop')")
    elif missing == "drop_columns":
        drop_cols(
            list(frame.columns[frame.isna().any()]), "missing value(s) (missing='drop_columns')"
        )
    else:
        drop_rows(list(frame.index[frame.isna().all(axis=1)]), "no observed value")
    if frame.shape[0] < 2 or frame.shape[1] < 1:
        raise ModelError(
            f"after the missing-value policy {missing!r} only {frame.shape[0]} row(s) x {frame.shape[1]} "
            f"column(s) remain; try another policy or a lower min_coverage"
        )
    mask = frame.isna()
    if missing in ("impute_mean", "impute_iterative") and mask.any().any():
        if missing == "impute_mean":
            from sklearn.impute import SimpleImputer

            imp = SimpleImputer(strategy="mean", keep_empty_features=True)
        else:
            from sklearn.experimental import enable_iterative_imputer  # noqa: F401
            from sklearn.impute import IterativeImputer

            imp = IterativeImputer(random_state=seed, max_iter=50, sample_posterior=False)
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # IterativeImputer's early-stopping notice; reported below instead
            filled = imp.fit_transform(frame.to_numpy())
        report["imputed_cells"] = int(mask.to_numpy().sum())
        if missing == "impute_iterative" and getattr(imp, "n_iter_", 0) >= 50:
            report["reasons"]["imputation"] = (
                "IterativeImputer reached max_iter=50 without converging"
            )
        frame = pd.DataFrame(filled, index=frame.index, columns=frame.columns)
    report["imputed_mask"] = mask
    const = [c for c in frame.columns if frame[c].std(ddof=0) == 0]
    if const and standardize:
        drop_cols(const, "constant (no variance to standardise)")
        if frame.shape[1] < 1:
            raise ModelError("every column is constant")
    X = frame.to_numpy(float)
    if standardize:
        from sklearn.preprocessing import StandardScaler

        X = StandardScaler().fit_transform(X)
    else:
        X = X - X.mean(axis=0)
    report["shape_out"] = list(frame.shape)
    if report["dropped_rows"] or report["dropped_columns"] or report["imputed_cells"]:
        warnings.warn(
            f"missing-value policy {missing!r}: dropped {len(report['dropped_rows'])} row(s) and "
            f"{len(report['dropped_columns'])} column(s), imputed {report['imputed_cells']} cell(s) "
            "(see missing_report)",
            DataWarning,
            stacklevel=3,
        )
    return frame, X, report


def _report_dict(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "imputed_mask"}


# --------------------------------------------------------------------------- PCA
@dataclass(eq=False)
class PCAResult(ResultMixin):
    """A principal component analysis (see :func:`pca`).

    Attributes
    ----------
    explained_variance
        Variance of each component's scores (eigenvalues of the covariance or, when
        standardised, correlation matrix).
    explained_variance_ratio
        Share of the total variance per component.
    loadings
        Features x components: the unit-length eigenvectors (R's ``prcomp``
        ``rotation``, scikit-learn's ``components_.T``), signed so that each
        component's largest absolute loading is positive.
    scores
        Rows x components: projections of the (standardised) rows.
    data
        The matrix actually analysed (after dropping/imputing, before scaling).
    missing_report
        ``policy, n_missing, dropped_rows, dropped_columns, imputed_cells, reasons``
        and ``imputed_mask`` (DataFrame of imputed cells).
    """

    explained_variance: pd.Series
    explained_variance_ratio: pd.Series
    loadings: pd.DataFrame
    scores: pd.DataFrame
    standardize: bool
    data: pd.DataFrame
    missing_report: dict
    estimator: Any = field(default=None, repr=False)

    @property
    def n_components(self) -> int:
        return len(self.explained_variance)

    def to_frame(self) -> pd.DataFrame:
        """``component, eigenvalue, ratio, cumulative``."""
        return pd.DataFrame(
            {
                "component": self.explained_variance.index,
                "eigenvalue": self.explained_variance.values,
                "ratio": self.explained_variance_ratio.values,
                "cumulative": np.cumsum(self.explained_variance_ratio.values),
            }
        )

    def to_dict(self) -> dict:
        return jsonable(
            {
                "standardize": self.standardize,
                "explained_variance": self.to_frame(),
                "loadings": self.loadings.reset_index(names="feature"),
                "scores": self.scores.reset_index(names="row"),
                "missing": _report_dict(self.missing_report),
            }
        )

    def summary(self) -> str:
        rep = self.missing_report
        top = self.loadings.iloc[:, : min(3, self.n_components)]
        lines = [
            f"PCA on {self.data.shape[0]} rows x {self.data.shape[1]} features "
            f"({'correlation' if self.standardize else 'covariance'} matrix)",
            f"Missing values: policy {rep['policy']!r}, {rep['n_missing']} missing; dropped "
            f"{len(rep['dropped_rows'])} row(s), {len(rep['dropped_columns'])} column(s); "
            f"imputed {rep['imputed_cells']} cell(s)",
            "",
            self.to_frame().head(10).to_string(index=False, float_format=lambda v: f"{v:.4f}"),
            "",
            "Loadings (first components):",
            top.to_string(float_format=lambda v: f"{v:.3f}"),
        ]
        return "\n".join(lines)


def pca(
    matrix: pd.DataFrame | np.ndarray,
    *,
    n_components: int | None = None,
    standardize: bool = True,
    missing: str = "drop",
    min_coverage: float = 0.0,
    seed: int = 0,
) -> PCAResult:
    """Principal component analysis with an explicit missing-value policy.

    Parameters
    ----------
    matrix
        Rows (e.g. comparisons or models) x numeric features (e.g. benchmarks).
    n_components
        Components to keep (default: all, ``min(rows, features)``).
    standardize
        Scale features to unit variance (PCA of the correlation matrix; default),
        otherwise only centre them.
    missing
        ``"drop"`` rows with any missing value; ``"drop_columns"`` with any missing
        value; ``"impute_mean"`` (column means) or ``"impute_iterative"``
        (scikit-learn ``IterativeImputer``, regression on the other columns,
        seeded); ``"raise"`` an error.  Imputed cells shrink the variance of sparse
        features; see ``missing_report``.
    min_coverage
        First drop features observed in fewer than this share of rows.
    seed
        Random state of the iterative imputer.

    Returns
    -------
    PCAResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(50, 1))
    >>> m = pd.DataFrame(f @ [[1.0, 0.9, 0.8]] + 0.3 * rng.normal(size=(50, 3)), columns=["a", "b", "c"])
    >>> res = pca(m)
    >>> bool(res.explained_variance_ratio.iloc[0] > 0.8), res.loadings.shape
    (True, (3, 3))
    """
    from sklearn.decomposition import PCA

    frame, X, report = _prepare_matrix(matrix, missing, min_coverage, seed, standardize)
    kmax = min(X.shape)
    k = kmax if n_components is None else int(n_components)
    if not 1 <= k <= kmax:
        raise ModelError(f"n_components must be between 1 and {kmax}, got {n_components}")
    est = PCA(n_components=k, svd_solver="full").fit(X)
    comps = est.components_.copy()
    # Deterministic signs: the largest absolute loading of each component is positive.
    signs = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
    signs[signs == 0] = 1
    comps *= signs[:, None]
    names = [f"PC{i + 1}" for i in range(k)]
    scores = (X - est.mean_) @ comps.T
    return PCAResult(
        explained_variance=pd.Series(
            est.explained_variance_, index=names, name="explained_variance"
        ),
        explained_variance_ratio=pd.Series(
            est.explained_variance_ratio_, index=names, name="explained_variance_ratio"
        ),
        loadings=pd.DataFrame(comps.T, index=frame.columns, columns=names),
        scores=pd.DataFrame(scores, index=frame.index, columns=names),
        standardize=standardize,
        data=frame,
        missing_report=report,
        estimator=est,
    )


# --------------------------------------------------------------------------- clustering
def _relabel(labels: np.ndarray) -> np.ndarray:
    """Number clusters 0, 1, ... in order of first appearance (deterministic labels)."""
    _, first = np.unique(labels, return_index=True)
    order = np.asarray(labels)[np.sort(first)]
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping[v] for v in labels])


def _fit_labels(
    X: np.ndarray, method: str, k: int, seed: int, covariance_type: str
) -> tuple[np.ndarray, Any]:
    if method == "kmeans":
        from sklearn.cluster import KMeans

        est = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(X)
        return est.labels_, est
    if method == "ward":
        from scipy.cluster.hierarchy import fcluster, linkage

        Z = linkage(X, method="ward")
        return fcluster(Z, t=k, criterion="maxclust") - 1, Z
    from sklearn.mixture import GaussianMixture

    est = GaussianMixture(
        n_components=k, covariance_type=covariance_type, n_init=3, random_state=seed
    ).fit(X)
    return est.predict(X), est


def _single_thread():
    """BLAS thread pools cost more than they save on these small matrices (10x slower under load)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _n_parameters(method: str, k: int, p: int, covariance_type: str) -> int:
    """Free parameters of a k-component Gaussian mixture in p dimensions (as scikit-learn counts them)."""
    cov = {"full": k * p * (p + 1) // 2, "diag": k * p, "spherical": k, "tied": p * (p + 1) // 2}[
        covariance_type
    ]
    return cov + k * p + k - 1


def bootstrap_ari(
    X: np.ndarray,
    labels: np.ndarray,
    method: str,
    k: int,
    *,
    n_boot: int = 200,
    seed: int = 0,
    covariance_type: str = "full",
) -> np.ndarray:
    """Adjusted Rand index between the clustering and re-clusterings of bootstrap samples.

    Protocol (reproducible): ``rng = numpy.random.default_rng(seed)``; for
    ``b = 0 .. n_boot-1`` draw ``idx = rng.integers(0, n, n)``, cluster ``X[idx]``
    into ``k`` groups with random state ``seed + b + 1``, and compare the labels of
    the distinct resampled rows (first occurrence) with their original labels by
    ``sklearn.metrics.adjusted_rand_score``.  Samples with fewer than ``k + 1``
    distinct rows give NaN.  Hand-written: scikit-learn has no cluster bootstrap.
    """
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(seed)
    n = X.shape[0]
    out = np.full(n_boot, np.nan)
    with _single_thread():
        for b in range(n_boot):
            idx = rng.integers(0, n, n)
            uniq, first = np.unique(idx, return_index=True)
            if len(uniq) <= k:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicated points can trigger convergence notices
                boot, _ = _fit_labels(X[idx], method, k, seed + b + 1, covariance_type)
            out[b] = adjusted_rand_score(labels[uniq], boot[first])
    return out


@dataclass(eq=False)
class ClusterResult(ResultMixin):
    """A clustering of the rows of a matrix (see :func:`cluster`).

    Attributes
    ----------
    labels
        Cluster per row (0, 1, ... in order of first appearance), indexed by row.
    k, method
        Number of clusters and the method.
    scores
        Per candidate k: ``silhouette`` (and ``bic`` for ``gmm``); ``chosen`` marks k.
    linkage
        SciPy linkage matrix (Ward only; pass to ``scipy.cluster.hierarchy.dendrogram``).
    stability
        ``mean_ari, median_ari, ari_low, ari_high`` (2.5 and 97.5 percentiles),
        ``n_boot, n_valid`` of :func:`bootstrap_ari`.
    boot_ari
        The bootstrap ARIs.
    centers
        Mean of each feature per cluster (original units).
    """

    method: str
    k: int
    labels: pd.Series
    scores: pd.DataFrame
    linkage: np.ndarray | None
    stability: dict[str, float]
    boot_ari: np.ndarray
    centers: pd.DataFrame
    data: pd.DataFrame
    missing_report: dict
    seed: int

    def to_frame(self) -> pd.DataFrame:
        """``row, cluster``."""
        return self.labels.rename("cluster").rename_axis("row").reset_index()

    def to_dict(self) -> dict:
        return jsonable(
            {
                "method": self.method,
                "k": self.k,
                "seed": self.seed,
                "labels": self.labels.to_dict(),
                "scores": self.scores,
                "stability": self.stability,
                "centers": self.centers.reset_index(),
                "missing": _report_dict(self.missing_report),
            }
        )

    def summary(self) -> str:
        st = self.stability
        sizes = self.labels.value_counts().sort_index()
        crit = "BIC" if self.method == "gmm" else "silhouette"
        lines = [
            f"{self.method} clustering of {len(self.labels)} rows into k = {self.k} clusters (chosen by {crit})",
            "Sizes: " + ", ".join(f"{i}: {n}" for i, n in sizes.items()),
            "",
            self.scores.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        if st.get("n_valid"):
            lines += [
                "",
                f"Bootstrap stability (adjusted Rand index, {st['n_valid']} resamples): mean "
                f"{st['mean_ari']:.3f}, 95% range {st['ari_low']:.3f} to {st['ari_high']:.3f}",
            ]
        return "\n".join(lines)


def cluster(
    matrix: pd.DataFrame | np.ndarray,
    method: str = "kmeans",
    k: int | None = None,
    k_range: Sequence[int] = range(2, 8),
    *,
    seed: int = 0,
    n_boot: int = 200,
    standardize: bool = True,
    missing: str = "drop",
    min_coverage: float = 0.0,
    covariance_type: str = "full",
) -> ClusterResult:
    """Cluster the rows of a matrix and assess the stability of the clusters.

    Parameters
    ----------
    matrix
        Rows x numeric features.
    method
        ``"kmeans"`` (scikit-learn ``KMeans``, 10 starts), ``"ward"`` (SciPy Ward
        linkage cut into k clusters) or ``"gmm"`` (scikit-learn ``GaussianMixture``).
    k
        Number of clusters; None chooses it over ``k_range`` by the largest mean
        silhouette (kmeans, ward) or the smallest BIC (gmm).
    k_range
        Candidate k (those with ``2 <= k < rows`` are used).
    seed
        Random state (k-means / mixture starts, bootstrap).
    n_boot
        Bootstrap resamples for the stability ARI (0 to skip).
    standardize, missing, min_coverage
        As in :func:`pca`.
    covariance_type
        Mixture covariance (``"full"``, ``"diag"``, ``"spherical"``, ``"tied"``).

    Returns
    -------
    ClusterResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> m = pd.DataFrame(np.vstack([rng.normal(0, 0.3, (15, 2)), rng.normal(3, 0.3, (15, 2))]), columns=["a", "b"])
    >>> res = cluster(m, "ward", n_boot=20)
    >>> res.k, res.stability["mean_ari"]
    (2, 1.0)
    """
    if method not in ("kmeans", "ward", "gmm"):
        raise ModelError(f"method must be 'kmeans', 'ward' or 'gmm', got {method!r}")
    if covariance_type not in ("full", "diag", "spherical", "tied"):
        raise ModelError(
            f"covariance_type must be full, diag, spherical or tied, got {covariance_type!r}"
        )
    from sklearn.metrics import silhouette_score

    frame, X, report = _prepare_matrix(matrix, missing, min_coverage, seed, standardize)
    n = X.shape[0]
    if k is not None:
        if not 2 <= int(k) < n:
            raise ModelError(f"k must be between 2 and {n - 1} (rows - 1), got {k}")
        cands = [int(k)]
    else:
        cands = sorted({int(c) for c in k_range if 2 <= int(c) < n})
        if not cands:
            raise ModelError(f"no candidate k in {list(k_range)} satisfies 2 <= k < {n} (rows)")
    if method == "gmm":
        # BIC is meaningless (degenerate components) once the mixture has as many parameters as rows
        ok = [c for c in cands if _n_parameters(method, c, X.shape[1], covariance_type) < n]
        if not ok:
            raise ModelError(
                f"every candidate k gives a {covariance_type!r} mixture with at least as many parameters as "
                f"rows ({n}); use covariance_type='diag' or 'spherical', or fewer features"
            )
        cands = ok
    rows, fits = [], {}
    linkage_matrix = None
    with _single_thread():
        for kk in cands:
            labels, est = _fit_labels(X, method, kk, seed, covariance_type)
            fits[kk] = labels
            if method == "ward":
                linkage_matrix = est
            nlab = len(np.unique(labels))
            sil = float(silhouette_score(X, labels)) if 2 <= nlab < n else np.nan
            row = {"k": kk, "silhouette": sil}
            if method == "gmm":
                row["bic"] = float(est.bic(X))
            rows.append(row)
    scores = pd.DataFrame(rows)
    if k is not None:
        best = int(k)
    elif method == "gmm":
        best = int(scores.loc[scores["bic"].idxmin(), "k"])
    else:
        if scores["silhouette"].isna().all():
            raise ModelError("no candidate k gives a valid silhouette")
        best = int(scores.loc[scores["silhouette"].idxmax(), "k"])
    scores["chosen"] = scores["k"] == best
    labels = _relabel(fits[best])
    aris = (
        bootstrap_ari(
            X, labels, method, best, n_boot=int(n_boot), seed=seed, covariance_type=covariance_type
        )
        if n_boot
        else np.array([])
    )
    valid = aris[~np.isnan(aris)]
    stability = {
        "n_boot": int(n_boot),
        "n_valid": int(valid.size),
        "mean_ari": float(valid.mean()) if valid.size else np.nan,
        "median_ari": float(np.median(valid)) if valid.size else np.nan,
        "ari_low": float(np.percentile(valid, 2.5)) if valid.size else np.nan,
        "ari_high": float(np.percentile(valid, 97.5)) if valid.size else np.nan,
    }
    lab = pd.Series(labels, index=frame.index, name="cluster")
    centers = frame.groupby(lab.to_numpy()).mean()
    centers.index.name = "cluster"
    return ClusterResult(
        method=method,
        k=best,
        labels=lab,
        scores=scores,
        linkage=linkage_matrix,
        stability=stability,
        boot_ari=aris,
        centers=centers,
        data=frame,
        missing_report=report,
        seed=seed,
    )
