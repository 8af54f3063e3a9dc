"""``meta_analysis``: the public entry point of the meta-analysis engine."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..droplog import drop_log, record_drops
from ..errors import DataWarning, ModelError
from ..schema import validate_effects
from ._core import FIXED_METHODS, TAU2_METHODS, TESTS, Control, fit_batch
from .formula import Design, check_formula
from .results import MetaResult

__all__ = ["meta_analysis", "prepare", "default_labels", "normalise_level"]

_METHOD_ALIASES = {"CO": "HE", "VC": "HE", "HSK": "HSk", "MP": "PM"}


def normalise_level(level: float) -> float:
    """Accept 0.95 or 95 (as metafor)."""
    lvl = float(level)
    if lvl > 1:
        lvl /= 100
    if not 0 < lvl < 1:
        raise ModelError(f"level must be in (0, 1) or (0, 100), got {level}")
    return lvl


def default_labels(frame: pd.DataFrame, slab: str | Sequence[str] | None = None) -> list[str]:
    """Row labels for tables and forest plots.

    ``slab`` may be a column name or a sequence; otherwise ``label`` / ``slab``
    columns, or ``comparison_id · benchmark (metric)`` for rlmeta effect tables.
    """
    if slab is not None:
        if isinstance(slab, str):
            if slab not in frame.columns:
                raise ModelError(f"slab column {slab!r} not found")
            return frame[slab].astype(str).tolist()
        vals = list(slab)
        if len(vals) != len(frame):
            raise ModelError(f"slab has {len(vals)} labels for {len(frame)} effects")
        return [str(v) for v in vals]
    for col in ("label", "slab"):
        if col in frame.columns:
            return frame[col].astype(str).tolist()
    if {"comparison_id", "benchmark"} <= set(frame.columns):
        # plain Python strings: pandas' string arithmetic is slow for these small frames
        lab = [
            f"{c} · {b}"
            for c, b in zip(frame["comparison_id"].astype(str), frame["benchmark"].astype(str))
        ]
        counts = Counter(lab)
        if "metric" in frame.columns and any(n > 1 for n in counts.values()):
            metric = frame["metric"].astype(str).tolist()
            lab = [f"{x} ({m})" if counts[x] > 1 else x for x, m in zip(lab, metric)]
        return lab
    if "study_id" in frame.columns:
        return frame["study_id"].astype(str).tolist()
    return [f"{i + 1}" for i in range(len(frame))]


def _method(method: str) -> str:
    m = _METHOD_ALIASES.get(str(method).upper(), str(method))
    m = "HSk" if m.upper() == "HSK" else (m if m in ("HSk",) else m.upper())
    if m not in FIXED_METHODS + TAU2_METHODS:
        raise ModelError(
            f"unknown method {method!r}; expected one of {', '.join(FIXED_METHODS + TAU2_METHODS)}"
        )
    return m


def _drop_redundant(X: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str], list[str]]:
    """Drop columns that are linear combinations of earlier ones (as R's ``lm`` does)."""
    keep: list[int] = []
    dropped: list[str] = []
    for j in range(X.shape[1]):
        col = X[:, j]
        norm = np.linalg.norm(col)
        if norm == 0:
            dropped.append(names[j])
            continue
        if keep:
            Q, _ = np.linalg.qr(X[:, keep])
            resid = col - Q @ (Q.T @ col)
            if np.linalg.norm(resid) <= 1e-7 * norm:
                dropped.append(names[j])
                continue
        keep.append(j)
    return X[:, keep], [names[j] for j in keep], dropped


def prepare(
    data: pd.DataFrame | None,
    yi: str | Sequence[float],
    vi: str | Sequence[float] | None,
    *,
    sei: str | Sequence[float] | None = None,
    extra_columns: Sequence[str] = (),
    mods: str | None = None,
    weights: str | Sequence[float] | None = None,
    step: str = "meta_analysis",
) -> tuple[pd.DataFrame, str, str, str | None]:
    """Assemble the analysis frame, check it, and drop (and log) rows with missing values.

    Returns the kept frame and the names of its yi / vi / weights columns.
    """
    if data is None:
        if isinstance(yi, str) or (vi is None and sei is None):
            raise ModelError("without data, pass yi and vi (or sei) as sequences of numbers")
        frame = pd.DataFrame({"yi": np.asarray(yi, float)})
        if vi is not None:
            frame["vi"] = np.asarray(vi, float)
        else:
            frame["vi"] = np.asarray(sei, float) ** 2
        yi_col, vi_col = "yi", "vi"
        if weights is not None and not isinstance(weights, str):
            frame["weights"] = np.asarray(weights, float)
            weights = "weights"
    else:
        if not isinstance(data, pd.DataFrame):
            raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        # validate_effects returns a copy, so the caller's frame is never modified; copy
        # here only when columns must be added first.
        adding = (
            not isinstance(yi, str)
            or (vi is None and sei is not None)
            or (vi is not None and not isinstance(vi, str))
            or (weights is not None and not isinstance(weights, str))
        )
        frame = data.copy() if adding else data
        yi_col = yi if isinstance(yi, str) else "yi"
        if not isinstance(yi, str):
            frame[yi_col] = np.asarray(yi, float)
        if vi is None and sei is not None:
            vi_col = "vi"
            sv = frame[sei] if isinstance(sei, str) else np.asarray(sei, float)
            frame[vi_col] = pd.to_numeric(sv, errors="coerce") ** 2
        else:
            vi_col = vi if isinstance(vi, str) else "vi"
            if vi is not None and not isinstance(vi, str):
                frame[vi_col] = np.asarray(vi, float)
        if weights is not None and not isinstance(weights, str):
            frame["weights"] = np.asarray(weights, float)
            weights = "weights"
    frame = validate_effects(frame, yi=yi_col, vi=vi_col)
    if (
        not isinstance(frame.index, pd.RangeIndex)
        or frame.index.start != 0
        or frame.index.step != 1
    ):
        frame = frame.reset_index(drop=True)
    mod_cols = check_formula(mods, frame.columns) if mods else []
    need = [yi_col, vi_col, *mod_cols, *extra_columns] + ([weights] if weights else [])
    for col in need:
        if col not in frame.columns:
            raise ModelError(f"column {col!r} not found in the data")
    isna = frame[need].isna()
    bad = isna.any(axis=1).to_numpy()
    reasons = pd.Series("", index=frame.index, dtype=object)
    for i in np.flatnonzero(bad):  # only the (few) bad rows need a reason string
        reasons.iloc[i] = "missing value in " + ", ".join(c for c in need if isna.iloc[i][c])
    if not bad.any():
        return frame, yi_col, vi_col, weights
    kept = record_drops(frame, bad, reason=reasons, step=step)
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} row(s) with missing values omitted from model fitting (see the drop log)",
            DataWarning,
            stacklevel=3,
        )
    return kept.reset_index(drop=True), yi_col, vi_col, weights


def meta_analysis(
    data: pd.DataFrame | None = None,
    yi: str | Sequence[float] = "yi",
    vi: str | Sequence[float] | None = "vi",
    *,
    sei: str | Sequence[float] | None = None,
    method: str = "REML",
    test: str = "z",
    mods: str | None = None,
    level: float = 0.95,
    tau2: float | None = None,
    weights: str | Sequence[float] | None = None,
    btt=None,
    subgroup: str | None = None,
    random: str | None = None,
    V=None,
    cluster: str | None = None,
    dfs: str = "residual",
    slab: str | Sequence[str] | None = None,
    control: dict | Control | None = None,
):
    """Fixed-, random- and mixed-effects meta-analysis at metafor parity.

    Parameters
    ----------
    data
        Effects table (e.g. from :func:`rlmeta.effect_sizes`); may be None when
        ``yi`` and ``vi`` are sequences.
    yi, vi, sei
        Column names (or sequences) of the effects and their sampling variances
        (or standard errors).
    method
        ``"REML"`` (default), ``"ML"``, ``"DL"``, ``"HE"``, ``"HS"``, ``"HSk"``,
        ``"SJ"``, ``"EB"``, ``"PM"``, ``"PMM"``, ``"GENQ"`` (needs ``weights``) or
        ``"EE"``/``"FE"`` for the equal-effects model.
    test
        ``"z"`` (default, as metafor), ``"t"``, ``"knha"`` (Knapp-Hartung, the
        recommended choice for small k) or ``"adhoc"`` (Knapp-Hartung never
        narrower than z).
    mods
        Moderator formula over data columns, e.g. ``"~ log10_params_B + C(rl_family)"``.
    level
        Confidence level (0.95 or 95).
    tau2
        Fix tau² at this value (sensitivity analyses).
    weights
        User weights (column or sequence).
    btt
        Coefficients for the omnibus test (indices, names or a name pattern).
    subgroup
        Column: fit per-subgroup models and test subgroup differences
        (returns a :class:`~rlmeta.meta.subgroup.SubgroupResult`).
    random
        Nested random intercepts such as ``"study_id/comparison_id"`` for a
        multilevel model (returns a multilevel result).
    V, cluster
        Known sampling covariance for multilevel models (see :func:`rlmeta.vcalc`).
    dfs
        Degrees of freedom of t tests in multilevel models: ``"residual"`` (k - p)
        or ``"contain"`` (metafor's containment rule, recommended with ``test="t"``).
    slab
        Study labels (column name or sequence) for tables and plots.
    control
        Iteration settings, see :class:`~rlmeta.meta._core.Control`.

    Returns
    -------
    MetaResult
        (or SubgroupResult / multilevel result, see above).

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> res = rm.meta_analysis(eff, method="REML", test="knha")
    >>> res.k, round(float(res.beta["intercept"]), 3)
    (139, 0.081)
    """
    lvl = normalise_level(level)
    meth = _method(method)
    if test not in TESTS:
        raise ModelError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}")
    con = Control.from_mapping(control)

    if random is not None or V is not None:
        from .multilevel import fit_multilevel

        if weights is not None:
            raise ModelError(
                "weights= is not supported for multilevel models (their weights come from V and sigma2)"
            )

        return fit_multilevel(
            data,
            yi=yi,
            vi=vi,
            sei=sei,
            random=random,
            V=V,
            mods=mods,
            method=meth,
            test=test,
            level=lvl,
            btt=btt,
            slab=slab,
            control=control,
            cluster=cluster,
            dfs=dfs,
        )
    if subgroup is not None:
        from .subgroup import subgroup_analysis

        return subgroup_analysis(
            data,
            subgroup,
            yi=yi,
            vi=vi,
            sei=sei,
            method=meth,
            test=test,
            level=lvl,
            tau2=tau2,
            slab=slab,
            control=con,
        )

    frame, yi_col, vi_col, w_col = prepare(data, yi, vi, sei=sei, mods=mods, weights=weights)
    k = len(frame)
    if k == 0:
        raise ModelError(
            "no effects left to pool (every row has a missing yi, vi or moderator; see the drop log)"
        )
    design = Design.build(mods, frame)
    X, names, redundant = _drop_redundant(design.X, design.names)
    notes: list[str] = []
    if redundant:
        notes.append(f"redundant predictors dropped from the model: {', '.join(redundant)}")
        warnings.warn(notes[-1], DataWarning, stacklevel=2)
        design = Design(X, names, design.formula, design.spec, design.columns, design.intercept)
        design = _SubsetDesign.wrap(design, redundant)
    p = X.shape[1]
    if np.any(np.linalg.eigvalsh(X.T @ X) <= con.evtol):
        raise ModelError(
            "model matrix not of full rank; cannot fit the model (check the moderators)"
        )
    estimating = meth not in FIXED_METHODS and tau2 is None
    if not (p == 1 and k == 1):
        if (p + (1 if estimating else 0)) > k:
            raise ModelError(
                f"number of parameters to estimate ({p + (1 if estimating else 0)}) is larger than the number of "
                f"effects (k = {k})"
            )
    if k == 1 and test != "z":
        notes.append('test set to "z" since k = 1')
        test = "z"
    y = frame[yi_col].to_numpy(float)
    v = frame[vi_col].to_numpy(float)
    wts = frame[w_col].to_numpy(float) if w_col else None
    if wts is not None and (np.any(wts < 0) or not np.all(np.isfinite(wts))):
        raise ModelError("weights must be finite and non-negative")
    if meth == "GENQ" and wts is None:
        raise ModelError("method='GENQ' needs weights= (e.g. a column of 1/vi)")
    if np.any(v <= 0):
        if meth in ("DL", "HS", "HSk", "PM", "PMM"):
            raise ModelError(
                f"the {meth} estimator cannot be used when there are non-positive sampling variances"
            )
        notes.append(
            "there are effects with a sampling variance of 0: Q, I^2, H^2 and their Q-profile "
            "confidence intervals (also of tau^2) are not computed"
        )
    if k > 1:
        ratio = v.max() / v.min() if v.min() > 0 else np.inf
        if np.isfinite(ratio) and ratio >= 1 / con.evtol:
            notes.append(
                "ratio of largest to smallest sampling variance extremely large; results may be unstable"
            )
    fit = fit_batch(y, v, X, method=meth, test=test, level=lvl, tau2=tau2, weights=wts, control=con)
    if not np.isfinite(fit.tau2[0]):
        # as metafor: no estimate at all is an error (a non-converged value is returned, flagged)
        why = "; ".join(fit.messages[0]) or f"the {meth} estimator of tau^2 failed"
        raise ModelError(f"{why}; try another method or control settings")
    if np.any(v + (fit.tau2[0] if meth not in FIXED_METHODS else 0.0) <= 0):
        raise ModelError(
            "division by zero computing the inverse-variance weights (a sampling variance and tau^2 are 0)"
        )
    # Say what a reader of the numbers cannot see: an estimate on the boundary, or a k too
    # small for heterogeneity statistics (their intervals are then missing, not zero).
    if estimating and k > 1 and fit.tau2[0] <= con.tau2_min:
        notes.append(
            f"tau^2 is estimated at the boundary ({con.tau2_min:g}): no heterogeneity beyond "
            "sampling error is detected, so the random-effects weights equal the equal-effects "
            "weights; this does not show that the true effects are identical"
        )
    if k == 1 and meth not in FIXED_METHODS:
        notes.append(
            "k = 1: heterogeneity (tau^2, I^2, H^2) cannot be estimated; their standard error "
            "and confidence intervals are not available"
        )
    btt_idx = _default_btt(btt, names, p)
    res = MetaResult(
        data=frame,
        yi=y,
        vi=v,
        design=design,
        fit=fit,
        method=meth,
        test=test,
        level=lvl,
        btt=btt_idx,
        control=con,
        labels=default_labels(frame, slab),
        weights=wts,
        measure=str(frame["measure"].iloc[0])
        if "measure" in frame.columns and frame["measure"].nunique() == 1
        else None,
        drop_log=drop_log(frame),
        notes=notes,
        tau2_fixed_value=tau2,
    )
    res.warn_if_needed()
    return res


def _default_btt(btt, names: list[str], p: int) -> list[int]:
    if btt is None:
        if p > 1:
            return list(range(1, p)) if names[0] == "intercept" else list(range(p))
        return [0]
    if isinstance(btt, str):
        import re

        idx = [i for i, n in enumerate(names) if re.search(re.escape(btt), n)]
    else:
        idx = [names.index(b) if isinstance(b, str) else int(b) for b in np.atleast_1d(btt)]
    if not idx or any(i < 0 or i >= p for i in idx):
        raise ModelError(f"btt {btt!r} selects no valid coefficient of {names}")
    return sorted(set(idx))


class _SubsetDesign(Design):
    """A design whose redundant columns were dropped; new rows drop them too."""

    dropped: list[str]
    full_names: list[str]

    @classmethod
    def wrap(cls, design: Design, dropped: list[str]) -> _SubsetDesign:
        obj = cls(
            design.X, design.names, design.formula, design.spec, design.columns, design.intercept
        )
        obj.dropped = dropped
        return obj

    def new_rows(self, newdata: pd.DataFrame) -> np.ndarray:
        full = super().new_rows(newdata)
        all_names = [n for n in self._spec_names() if n]
        keep = [i for i, n in enumerate(all_names) if n not in self.dropped]
        return full[:, keep]

    def _spec_names(self) -> list[str]:
        names = list(self.spec.column_names) if self.spec is not None else ["intercept"]
        return ["intercept" if n == "Intercept" else n for n in names]
