"""Fitting the specifications of a curve: one engine task per effect set x estimator x test.

Inside a task every inclusion filter combination is a row of a ``(F, k)`` mask and
is fitted in one batched call; outlier rules need the case-deletion diagnostics
of each of those F models, which :func:`~rlmeta.sensitivity.influence.influence_arrays`
also computes in one batch, and the masks without the outliers are refitted in a
third call.  Dependence models (multilevel, CR2) are fitted one by one with the
public API when this build provides them.
"""

from __future__ import annotations

import importlib.util
import re

import numpy as np

from ..errors import RlmetaError
from ._batch import refit_stats
from .influence import influence_arrays

__all__ = [
    "OUTLIER_RULES",
    "DEPENDENCE_MODELS",
    "parse_outlier_rule",
    "fit_group",
    "dependence_available",
]

#: Outlier rules understood by the specification curve (``rstudent>X`` for any X).
OUTLIER_RULES = ("none", "rstudent>2.5", "influential")
#: Dependence models: independent effects, three-level model, cluster-robust CR2.
DEPENDENCE_MODELS = ("independent", "3-level", "CR2")
_RSTUD = re.compile(r"^\|?rstudent\|?\s*>\s*([0-9]*\.?[0-9]+)$")


def parse_outlier_rule(rule) -> tuple[str, float]:
    """``"none"`` -> ("none", nan); ``"rstudent>2.5"`` -> ("rstudent", 2.5); ``"influential"``."""
    if rule is None or str(rule).lower() in ("none", "all", "keep"):
        return "none", np.nan
    s = str(rule).replace(" ", "").lower()
    if s == "influential":
        return "influential", np.nan
    m = _RSTUD.match(s)
    if m:
        return "rstudent", float(m.group(1))
    from ..errors import ConfigError

    raise ConfigError(
        f"unknown outlier rule {rule!r}; use 'none', 'influential' or 'rstudent>X' (e.g. 'rstudent>2.5')"
    )


def dependence_available(kind: str) -> str | None:
    """None when ``kind`` can be fitted by this build, else the reason it cannot."""
    if kind == "independent":
        return None
    if kind == "3-level":
        if importlib.util.find_spec("rlmeta.meta.multilevel") is None:
            return "skipped: multilevel models are not available in this rlmeta build (rlmeta.meta.multilevel)"
        return None
    if kind == "CR2":
        if importlib.util.find_spec("rlmeta.meta.robust") is None:
            return "skipped: cluster-robust inference is not available in this rlmeta build (rlmeta.meta.robust)"
        return None
    return f"skipped: unknown dependence model {kind!r}"


def _extract(obj) -> tuple[float, float, float, float, float]:
    """estimate, se, pval, ci_low, ci_high of the intercept of any rlmeta model result."""
    tab = obj.to_frame()
    row = (
        tab[tab["term"] == "intercept"].iloc[0]
        if "term" in tab.columns and (tab["term"] == "intercept").any()
        else tab.iloc[0]
    )
    return tuple(float(row[c]) for c in ("estimate", "se", "pval", "ci_low", "ci_high"))


def _fit_dependence(kind, frame, method, test, level, cluster, random):
    from ..meta import meta_analysis

    if kind == "3-level":
        res = meta_analysis(frame, method=method, test=test, level=level, random=random)
    else:
        base = meta_analysis(frame, method=method, test=test, level=level)
        res = base.robust(cluster=cluster, adjust="CR2")
    return _extract(res)


def fit_group(shared: dict, task: tuple) -> dict:
    """Fit every filter x outlier x dependence specification of one effect set, estimator and test.

    Returns arrays of shape ``(F, R, D)`` (filters, outlier rules, dependence models)
    and the final masks ``(F, R, k)``.
    """
    e, method, test = task
    es = shared["effect_sets"][e]
    spec = es["spec"]
    fm = shared["filter_masks"][e]  # (F, k)
    rules = shared["rules"]
    deps = shared["dependence"]
    min_k = shared["min_k"]
    level = spec.level
    F, k = fm.shape
    R, D = len(rules), len(deps)
    shape = (F, R, D)
    out = {
        c: np.full(shape, np.nan)
        for c in ("estimate", "se", "ci_low", "ci_high", "pval", "tau2", "i2")
    }
    out["k"] = np.zeros(shape, dtype=int)
    out["status"] = np.full(shape, "ok", dtype=object)
    masks = np.zeros((F, R, k), dtype=bool)
    enough = fm.sum(1) >= min_k
    a = None
    for r, (kind, thr) in enumerate(rules):
        if kind == "none":
            m = fm.copy()
        else:
            if a is None:  # one batched case-deletion pass serves every outlier rule
                a = influence_arrays(spec, base=fm, method=method, test=test)
            drop = (
                a["influential"]
                if kind == "influential"
                else np.nan_to_num(np.abs(a["rstudent"])) > thr
            )
            m = fm & ~drop
        masks[:, r] = m
        st = refit_stats(spec, mask=m, method=method, test=test)
        kk = m.sum(1)
        ok = enough & (kk >= min_k) & st.valid
        for d, dep in enumerate(deps):
            out["k"][:, r, d] = kk
            if dep != "independent":
                continue
            out["estimate"][:, r, d] = st.beta[:, 0]
            out["se"][:, r, d] = st.se[:, 0]
            out["ci_low"][:, r, d] = st.ci_low[:, 0]
            out["ci_high"][:, r, d] = st.ci_high[:, 0]
            out["pval"][:, r, d] = st.pval[:, 0]
            out["tau2"][:, r, d] = st.tau2
            out["i2"][:, r, d] = st.i2
            few = ~(enough & (kk >= min_k))
            out["status"][:, r, d] = np.where(
                few,
                f"too few effects (k < {min_k})",
                np.where(
                    st.valid,
                    "ok",
                    np.where(st.converged, "could not be fitted", "tau2 did not converge"),
                ),
            )
            bad = ~ok
            for c in ("estimate", "se", "ci_low", "ci_high", "pval", "tau2", "i2"):
                out[c][bad, r, d] = np.nan
        for d, dep in enumerate(deps):
            if dep == "independent":
                continue
            reason = shared["dep_reasons"][dep]
            for f in range(F):
                if not ok[f]:
                    out["status"][f, r, d] = f"too few effects (k < {min_k})"
                    continue
                if reason is not None:
                    out["status"][f, r, d] = reason
                    continue
                try:
                    vals = _fit_dependence(
                        dep,
                        es["frame"].loc[m[f]],
                        method,
                        test,
                        level,
                        shared["cluster"],
                        shared["random"],
                    )
                except (RlmetaError, ValueError, ImportError) as exc:
                    out["status"][f, r, d] = f"failed: {exc}"
                    continue
                for c, val in zip(("estimate", "se", "pval", "ci_low", "ci_high"), vals):
                    out[c][f, r, d] = val
    out["masks"] = masks
    return out
