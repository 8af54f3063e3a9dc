"""Multilevel (nested random-intercept) meta-analysis at metafor ``rma.mv`` parity.

``fit_multilevel(eff, random="study_id/comparison_id")`` is metafor's
``rma.mv(yi, V, random = ~ 1 | study_id/comparison_id, data = eff)``: one variance
component per level (``sigma2``), REML (default) or ML, moderators through the safe
formula interface, Wald-type ``z`` or ``t`` tests (``dfs="residual"`` or metafor's
``"contain"`` degrees of freedom), and a known sampling covariance ``V`` (e.g. from
:func:`rlmeta.vcalc`).  The likelihood engine (:mod:`rlmeta.meta._mlcore`) works
through the nesting in ``O(k)`` and never forms a ``k x k`` matrix.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..droplog import drop_log
from ..errors import ConvergenceWarning, DataWarning, ModelError
from ._mlcore import build_structure, evaluate, fit_sigma2
from ._mlresult import MultilevelResult
from .fit import (
    _default_btt,
    _drop_redundant,
    _SubsetDesign,
    default_labels,
    normalise_level,
    prepare,
)
from .formula import Design
from .vcalc import as_block_v

__all__ = ["fit_multilevel", "parse_random", "MultilevelResult"]


def parse_random(random: str | Sequence[str]) -> list[str]:
    """Column names of nested levels, top first.

    Accepts ``"a/b/c"``, metafor's ``"~ 1 | a/b"`` or a sequence ``["a", "b"]``.

    >>> parse_random("~ 1 | district/school")
    ['district', 'school']
    """
    if isinstance(random, str):
        text = random.strip()
        if "|" in text:
            lhs, _, text = text.partition("|")
            if lhs.replace("~", "").strip() not in ("1", ""):
                raise ModelError(
                    f"random={random!r}: only random intercepts ('~ 1 | a/b') are supported"
                )
        parts = [p.strip() for p in text.replace("~", "").split("/")]
    else:
        parts = [str(p) for p in random]
    if not parts or any(not p for p in parts):
        raise ModelError(
            f"random={random!r}: expected nested column names such as 'study_id/comparison_id'"
        )
    if len(set(parts)) != len(parts):
        raise ModelError(f"random={random!r}: a column appears twice")
    return parts


def _level_codes(
    frame: pd.DataFrame, cols: list[str]
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Nested group codes and labels per level (labels ``a/b`` as metafor)."""
    codes, labels, names = [], [], []
    prev = None
    for j, col in enumerate(cols):
        rc, ru = pd.factorize(frame[col], sort=False)
        key = rc if prev is None else codes[-1].astype(np.int64) * (len(ru) + 1) + rc
        c, _ = pd.factorize(key, sort=False)
        first = np.zeros(c.max() + 1 if len(c) else 0, dtype=np.int64)
        first[c[::-1]] = np.arange(len(c))[::-1]
        own = np.array([str(v) for v in ru], dtype=object)[rc[first]]
        lab = own if prev is None else labels[-1][codes[-1][first]] + "/" + own
        codes.append(c.astype(np.int64))
        labels.append(np.asarray(lab, dtype=object))
        names.append("/".join(cols[: j + 1]))
        prev = c
    return codes, labels, names


def _contain_ddf(
    X: np.ndarray, codes: list[np.ndarray], ngroups: list[int], k: int, p: int
) -> np.ndarray:
    """metafor's ``dfs="contain"``: per coefficient, the fewest levels of a grouping
    factor within whose groups the predictor is constant, minus p (at least 1)."""
    ddf = np.full(X.shape[1], float(k))
    for j in range(X.shape[1]):
        for c, g in zip(codes, ngroups):
            _, col = np.unique(X[:, j], return_inverse=True)
            pairs = np.unique(np.column_stack([c, col]), axis=0)
            if len(pairs) == g:  # one value of X[:, j] per group
                ddf[j] = min(ddf[j], g)
    return np.maximum(ddf - p, 1.0)


def fit_multilevel(
    data: pd.DataFrame | None,
    *,
    yi: str | Sequence[float] = "yi",
    vi: str | Sequence[float] | None = "vi",
    sei: str | Sequence[float] | None = None,
    random: str | Sequence[str] | None = "study_id/comparison_id",
    V=None,
    mods: str | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    btt=None,
    slab: str | Sequence[str] | None = None,
    control: dict | None = None,
    cluster: str | None = None,
    dfs: str = "residual",
    sigma2: Sequence[float | None] | None = None,
) -> MultilevelResult:
    """Fit a multilevel (nested random-intercept) meta-analysis or meta-regression.

    Parameters
    ----------
    data
        Effects table with the ``yi``/``vi`` columns, the grouping columns named in
        ``random`` and any moderators.
    yi, vi, sei
        Effect sizes and their sampling variances (or standard errors).  With ``V``
        given, ``vi`` may be omitted (the diagonal of ``V`` is used).
    random
        Nested grouping columns, top level first: ``"study_id"`` (2-level model),
        ``"study_id/comparison_id"`` (3-level), ``"a/b/c"``; metafor's
        ``"~ 1 | a/b"`` is accepted too.  None with ``V`` fits no random effects.
    V
        Known sampling covariance: a :class:`~rlmeta.meta.vcalc.BlockV` (from
        :func:`rlmeta.vcalc`), per-cluster blocks (dict or list, with ``cluster=``
        naming the block column), a scipy sparse matrix or, for small k, a dense
        matrix.  Rows follow ``data``.
    mods
        Moderator formula, e.g. ``"~ log10_params_B"``.
    method
        ``"REML"`` (default) or ``"ML"``.
    test, dfs
        ``"z"`` (default) or ``"t"``; with ``t``, ``dfs="residual"`` (k - p, default)
        or ``"contain"`` (metafor's containment degrees of freedom; implies ``t``).
    level
        Confidence level (0.95 or 95).
    btt
        Coefficients of the omnibus test (default: all but the intercept).
    slab
        Row labels (column name or sequence).
    control
        ``sigma2_init`` (list), ``tol`` (relative change of sigma2 at convergence,
        default 1e-10), ``maxiter`` (200), ``ci_tol`` (root-finder tolerance of the
        profile CIs; default R's ``uniroot`` tolerance as metafor).
    cluster
        Column naming the blocks when ``V`` is given per cluster.
    sigma2
        Fix variance components: one value per level, None (or NaN) to estimate.

    Returns
    -------
    MultilevelResult

    Notes
    -----
    Single-level factors get ``sigma2 = 0`` (fixed, with a warning) as in metafor;
    two levels that group the effects identically are not identifiable and raise
    :class:`~rlmeta.errors.ModelError`.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> res = rm.meta_analysis(eff, random="study_id/comparison_id")
    >>> res.level_names
    ['study_id', 'study_id/comparison_id']
    >>> res.k == len(eff), len(res.sigma2)
    (True, 2)
    """
    if control is not None and not isinstance(control, dict):
        # a rma.uni Control (from meta_analysis): only its iteration limit applies here
        control = {"maxiter": int(getattr(control, "maxiter", 200))}
    con = dict(control or {})
    unknown = set(con) - {"sigma2_init", "tol", "maxiter", "ci_tol"}
    if unknown:
        raise ModelError(
            f"unknown control option(s) {sorted(unknown)}; known: sigma2_init, tol, maxiter, ci_tol"
        )
    lvl = normalise_level(level)
    meth = str(method).upper()
    if meth not in ("REML", "ML"):
        raise ModelError(f"multilevel models are fitted by 'REML' or 'ML', got method={method!r}")
    if dfs not in ("residual", "contain"):
        raise ModelError(f"dfs must be 'residual' or 'contain', got {dfs!r}")
    if dfs == "contain":
        test = "t"
    if test not in ("z", "t"):
        raise ModelError(f"multilevel models support test='z' or 't' (as rma.mv), got {test!r}")
    cols = parse_random(random) if random is not None else []
    if not cols and V is None:
        raise ModelError("give random= (nested grouping columns) and/or V= for a multilevel model")

    # ---------------------------------------------------------------- data and V
    if data is not None and not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    src = data.copy() if data is not None else pd.DataFrame({"yi": np.asarray(yi, float)})
    if data is None:
        yi = "yi"
        if vi is not None and not isinstance(vi, str):
            src["vi"] = np.asarray(vi, float)
            vi = "vi"
    k_all = len(src)
    src["_rlmeta_row"] = np.arange(k_all)
    Vb = None
    if V is not None:
        cv = None
        if isinstance(V, dict | list | tuple):
            if cluster is None or cluster not in src.columns:
                raise ModelError("V given per cluster needs cluster= naming a column of data")
            cv = src[cluster]
        Vb = as_block_v(V, k_all, cluster_values=cv)
        if vi is None or (isinstance(vi, str) and vi not in src.columns):
            vi = vi if isinstance(vi, str) else "vi"
            src[vi] = Vb.diagonal()
    for c in cols:
        if c not in src.columns:
            raise ModelError(f"random={random!r}: column {c!r} not found in the data")
    frame, yi_col, vi_col, _ = prepare(
        src, yi, vi, sei=sei, extra_columns=cols, mods=mods, step="multilevel"
    )
    k = len(frame)
    if k == 0:
        raise ModelError(
            "no effects left to pool (every row has a missing yi, vi, grouping value or moderator)"
        )
    kept = frame["_rlmeta_row"].to_numpy()
    frame = frame.drop(columns="_rlmeta_row")
    y = frame[yi_col].to_numpy(float)
    v = frame[vi_col].to_numpy(float)
    if Vb is not None:
        Vb = Vb.subset(kept)
        dv = Vb.diagonal()
        if not np.allclose(dv, v, rtol=1e-10, atol=0):
            raise ModelError(
                "the diagonal of V differs from the vi column; pass vi=None to use the diagonal of V"
            )
        if not np.all(np.isfinite(dv)):
            raise ModelError("V has missing values in rows that are kept")

    # ---------------------------------------------------------------- levels
    notes: list[str] = []
    codes, glabels, names = _level_codes(frame, cols)
    ngroups = [len(g) for g in glabels]
    for j in range(1, len(codes)):
        if ngroups[j] == ngroups[j - 1]:
            raise ModelError(
                f"levels {names[j - 1]!r} and {names[j]!r} group the effects identically (each "
                f"{cols[j - 1]} has a single {cols[j]}), so their variance components are not identifiable; "
                f"use random={'/'.join(cols[:j])!r}"
            )
    L = len(codes)
    fixed = np.full(L, np.nan)
    if sigma2 is not None:
        vals = list(sigma2) if not np.isscalar(sigma2) else [sigma2] * L
        if len(vals) != L:
            raise ModelError(f"sigma2 has {len(vals)} values for {L} levels")
        for j, s in enumerate(vals):
            if s is not None and not (isinstance(s, float) and np.isnan(s)):
                if float(s) < 0:
                    raise ModelError("fixed sigma2 values must be non-negative")
                fixed[j] = float(s)
    single = [j for j in range(L) if ngroups[j] == 1 and np.isnan(fixed[j])]
    if single:
        fixed[single] = 0.0
        notes.append(f"single-level factor(s) {[names[j] for j in single]}: sigma2 fixed to 0")
        warnings.warn(notes[-1], DataWarning, stacklevel=3)

    # ---------------------------------------------------------------- design
    design = Design.build(mods, frame)
    X, tnames, redundant = _drop_redundant(design.X, design.names)
    if redundant:
        notes.append(f"redundant predictors dropped from the model: {', '.join(redundant)}")
        warnings.warn(notes[-1], DataWarning, stacklevel=3)
        design = Design(X, tnames, design.formula, design.spec, design.columns, design.intercept)
        design = _SubsetDesign.wrap(design, redundant)
    p = X.shape[1]
    if np.any(np.linalg.eigvalsh(X.T @ X) <= 1e-7):
        raise ModelError(
            "model matrix not of full rank; cannot fit the model (check the moderators)"
        )
    nfree = int(np.isnan(fixed).sum())
    if p + nfree > k:
        raise ModelError(
            f"number of parameters to estimate ({p + nfree}) is larger than the number of effects (k = {k})"
        )

    # ---------------------------------------------------------------- fit
    st = build_structure(codes, v, Vb.nontrivial() if Vb is not None else None)
    logdet_xtx = float(np.linalg.slogdet(X.T @ X)[1])
    init = _initial(st, X, y, L, con.get("sigma2_init"))
    fi = fit_sigma2(
        st,
        X,
        y,
        meth,
        init,
        fixed,
        tol=float(con.get("tol", 1e-10)),
        maxiter=int(con.get("maxiter", 200)),
        logdet_xtx=logdet_xtx,
    )
    msgs = list(fi.messages)
    if fi.converged and fi.optimizer == "l-bfgs-b":
        # converged, but not by the requested method: a reader of control= settings should know
        msgs.append(
            f"Newton (average information) steps did not converge in {int(con.get('maxiter', 200))} "
            "iterations; the estimate was finished with L-BFGS-B"
        )
    for j in range(L):
        if np.isnan(fixed[j]) and fi.sigma2[j] == 0:
            msgs.append(f"sigma2 of level {names[j]!r} is estimated at the boundary (0)")
    if not fi.converged:
        warnings.warn(
            "; ".join(fi.messages) or "the multilevel model did not converge",
            ConvergenceWarning,
            stacklevel=3,
        )
    # heterogeneity test and I² ingredients: the model without random effects
    try:
        ev0 = evaluate(st, X, y, np.zeros(L), meth, logdet_xtx=logdet_xtx)
        qe = ev0.rss
        XtViX_inv = ev0.F
        trP = ev0.factor.trace_inv - float(np.einsum("ij,ji->", XtViX_inv, ev0.MiX.T @ ev0.MiX))
        ll_qe = -0.5 * (k * np.log(2 * np.pi) + ev0.factor.logdet)
    except ModelError:
        qe, trP, ll_qe = np.nan, np.nan, np.nan
        notes.append("V is not positive definite (or has zeros): QE and I^2 are not computed")
    ev = fi.evaluation
    trP_model = ev.factor.trace_full() - float(np.einsum("ij,ji->", ev.F, ev.MiX.T @ ev.MiX))
    ddf = np.full(p, float(k - p)) if dfs == "residual" else _contain_ddf(X, codes, ngroups, k, p)
    ddf = np.maximum(ddf, 1.0)  # as metafor, for both choices
    res = MultilevelResult(
        data=frame,
        yi=y,
        vi=v,
        design=design,
        structure=st,
        level_names=names,
        level_columns=cols,
        group_labels=glabels,
        sigma2_fixed=~np.isnan(fixed),
        method=meth,
        test=test,
        dfs=dfs,
        ddf=ddf,
        level=lvl,
        btt=_default_btt(btt, tnames, p),
        labels=default_labels(frame, slab),
        fitinfo=fi,
        qe=float(qe),
        trP=float(trP),
        trP_model=float(trP_model),
        ll_qe=float(ll_qe),
        logdet_xtx=logdet_xtx,
        V=Vb,
        measure=str(frame["measure"].iloc[0])
        if "measure" in frame.columns and frame["measure"].nunique() == 1
        else None,
        drop_log=drop_log(frame),
        notes=notes + msgs,
        ci_tol=con.get("ci_tol"),
    )
    return res


def _initial(st, X, y, L, given) -> np.ndarray:
    """metafor's starting values: the residual variance of the equal-effects fit beyond
    the average sampling variance, split evenly over the levels."""
    if given is not None:
        vals = np.broadcast_to(np.asarray(given, float), (L,)).copy()
        if np.any(vals <= 0):
            raise ModelError("sigma2_init values must be > 0")
        return vals
    if L == 0:
        return np.zeros(0)
    try:
        ev0 = evaluate(st, X, y, np.zeros(L), "ML")
        r = y - X @ ev0.beta
        vbar = 1 / np.mean(1 / _diag(st))
        total = max(0.001 * L, float(np.var(r, ddof=1)) - vbar) if st.k > 1 else 0.001 * L
    except ModelError:
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        total = float(np.var(y - X @ beta, ddof=1))
    return np.full(L, total / L)


def _diag(st) -> np.ndarray:
    out = np.empty(st.k)
    for b in st.batches:
        out[b.rows] = np.diagonal(b.V, axis1=1, axis2=2)
    return out
