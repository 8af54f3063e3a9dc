"""Specification curve (multiverse) over the analytic choices of a meta-analysis.

Simonsohn, Simmons & Nelson (2020), Specification curve analysis, *Nat Hum Behav*
4, 1208-1214, doi:10.1038/s41562-020-0912-z; Steegen et al. (2016), Increasing
transparency through a multiverse analysis, *Perspect Psychol Sci* 11(5), 702-712,
doi:10.1177/1745691616658637.

Every combination of the choices is one specification: which effects are
included (any column-based filters), how effects are measured (the effect size
and, for paired proportions, the assumed between-arm correlation ``rho``), the
tau² estimator, the test, an outlier rule and the dependence model.  The curve is
computed in batches: per effect set, estimator and test, all inclusion filters
are rows of one mask and fitted in a single engine call (outlier rules add one
batched case-deletion pass and one refit).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .._result import ResultMixin, jsonable
from ..errors import ConfigError
from ..meta import FIXED_METHODS, TAU2_METHODS, TESTS, Control
from ._batch import ModelSpec
from ._engine import chunk_slices, map_chunks, spawn_seeds
from ._specfit import DEPENDENCE_MODELS, dependence_available, fit_group, parse_outlier_rule
from ._specnull import CurveNullTest, curve_stats, null_chunk

__all__ = ["specification_curve", "SpecCurveResult", "CurveNullTest", "RESERVED_CHOICES"]

#: Choice names with a built-in meaning; any other name is a column filter.
RESERVED_CHOICES = ("measure", "rho", "method", "test", "outliers", "dependence")
_BASE_COLUMNS = ["spec_id", "estimate", "se", "ci_low", "ci_high", "pval", "k", "significant"]


@dataclass(frozen=True)
class SpecCurveResult(ResultMixin):
    """All specifications of a specification curve.

    Attributes
    ----------
    frame
        One row per specification: ``spec_id, estimate, se, ci_low, ci_high, pval,
        k, significant``, one column per choice, then ``tau2, i2, status, rank``
        (``rank``: position on the curve sorted by estimate; ``status`` is "ok" or
        why a specification was not fitted).
    choices
        The options of every choice (labels as in the frame).
    level
        Confidence level; ``significant`` means ``pval < 1 - level``.
    null_test
        :class:`CurveNullTest` when computed (``n_boot > 0`` or :meth:`test_null`).
    """

    frame: pd.DataFrame
    choices: dict
    level: float
    null_test: CurveNullTest | None = None
    _plan: dict = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ summaries
    @property
    def fitted(self) -> pd.DataFrame:
        """The specifications that could be fitted (``status == "ok"``)."""
        return self.frame[self.frame["status"] == "ok"]

    @property
    def n_specs(self) -> int:
        return len(self.frame)

    @property
    def share_positive(self) -> float:
        f = self.fitted
        return float((f["estimate"] > 0).mean()) if len(f) else np.nan

    @property
    def share_significant(self) -> float:
        f = self.fitted
        return float(f["significant"].mean()) if len(f) else np.nan

    @property
    def share_positive_significant(self) -> float:
        f = self.fitted
        return float((f["significant"] & (f["estimate"] > 0)).mean()) if len(f) else np.nan

    @property
    def share_negative_significant(self) -> float:
        f = self.fitted
        return float((f["significant"] & (f["estimate"] < 0)).mean()) if len(f) else np.nan

    @property
    def median_estimate(self) -> float:
        return float(self.fitted["estimate"].median())

    def choice_summary(self) -> pd.DataFrame:
        """Per choice and option: specifications, median estimate, share positive / significant."""
        f = self.fitted
        rows = []
        for ch in self.choices:
            for opt, g in f.groupby(ch, dropna=False, sort=False):
                rows.append(
                    {
                        "choice": ch,
                        "option": opt,
                        "n_specs": len(g),
                        "median_estimate": g["estimate"].median(),
                        "share_positive": (g["estimate"] > 0).mean(),
                        "share_significant": g["significant"].mean(),
                    }
                )
        return pd.DataFrame(rows)

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict:
        out = {
            "n_specs": self.n_specs,
            "n_fitted": len(self.fitted),
            "level": self.level,
            "median_estimate": self.median_estimate,
            "share_positive": self.share_positive,
            "share_significant": self.share_significant,
            "share_positive_significant": self.share_positive_significant,
            "share_negative_significant": self.share_negative_significant,
            "choices": self.choices,
            "specifications": self.frame,
            "null_test": None if self.null_test is None else self.null_test.to_dict(),
        }
        return jsonable(out)

    def summary(self) -> str:
        f = self.fitted
        lines = [
            f"Specification curve: {self.n_specs} specifications, {len(f)} fitted",
            f"median estimate {self.median_estimate:.4f} (range {f['estimate'].min():.4f} to {f['estimate'].max():.4f})",
            f"share positive {self.share_positive:.3f}; significant {self.share_significant:.3f} "
            f"(positive {self.share_positive_significant:.3f}, negative {self.share_negative_significant:.3f})",
        ]
        skipped = self.frame.loc[self.frame["status"] != "ok", "status"].value_counts()
        for reason, n in skipped.items():
            lines.append(f"not fitted ({n}): {reason}")
        if self.null_test is not None:
            lines += ["", self.null_test.summary()]
        lines += [
            "",
            self.choice_summary().to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------------ inference
    def test_null(
        self,
        n_boot: int = 500,
        *,
        kind: str = "bootstrap",
        seed: int | None = 0,
        chunk_size: int = 25,
        engine="local",
        quiet: bool = False,
    ) -> CurveNullTest:
        """Test the whole curve against curves simulated under the null.

        Parameters
        ----------
        n_boot
            Number of null curves.
        kind
            ``"bootstrap"`` (null imposed by shifting each specification's effects
            by its estimate, then resampling units with replacement; specr's
            ``boot_null``) or ``"sign-flip"`` (signs of whole units flipped).
        seed, chunk_size, engine, quiet
            Randomness, iterations per engine task, where to run, progress bar.

        Returns
        -------
        CurveNullTest
            Observed median estimate, share significant in the dominant direction and
            Stouffer's Z, with their null distributions and p-values.  See
            :mod:`rlmeta.sensitivity._specnull` for the exact procedure.
        """
        if kind not in ("bootstrap", "sign-flip"):
            raise ConfigError(
                f"value for `kind` must be one of ['bootstrap', 'sign-flip'], but {kind!r} was passed"
            )
        plan = self._plan
        f = self.frame
        use = (f["status"] == "ok").to_numpy() & plan["batched"]
        if use.sum() < 1:
            raise ConfigError("no batched specification could be fitted; nothing to test")
        cols_of = -np.ones(len(f), dtype=int)
        cols_of[use] = np.arange(use.sum())
        est_obs = f["estimate"].to_numpy()[use]
        p_obs = f["pval"].to_numpy()[use]
        alpha = 1 - self.level
        med = float(np.median(est_obs))
        direction = 1 if med >= 0 else -1
        sets = []
        for e, es in enumerate(plan["effect_sets"]):
            groups = []
            for (ee, method, test), ids in plan["groups"].items():
                if ee != e:
                    continue
                ids = np.asarray([i for i in ids if use[i]], dtype=int)
                if not len(ids):
                    continue
                groups.append(
                    {
                        "method": method,
                        "test": test,
                        "masks": np.stack([plan["masks"][i] for i in ids]),
                        "theta": est_obs[cols_of[ids]]
                        if kind == "bootstrap"
                        else np.zeros(len(ids)),
                        "cols": cols_of[ids],
                    }
                )
            if groups:
                sets.append({"spec": es["spec"], "units": es["units"], "groups": groups})
        shared = {"sets": sets, "n_units": plan["n_units"], "kind": kind, "n_specs": int(use.sum())}
        slices = chunk_slices(int(n_boot), chunk_size)
        seeds = spawn_seeds(seed, len(slices))
        parts = map_chunks(
            null_chunk,
            shared,
            [(s.stop - s.start, sd) for s, sd in zip(slices, seeds)],
            engine=engine,
            description=f"null curves ({kind})",
            quiet=quiet,
        )
        est = np.concatenate([pt["estimate"] for pt in parts])
        pv = np.concatenate([pt["pval"] for pt in parts])
        obs = curve_stats(est_obs, p_obs, p_obs < alpha, direction)
        null = curve_stats(est, pv, pv < alpha, direction)
        observed = {k: float(v[0]) for k, v in obs.items()}
        # (1 + #{null at least as extreme}) / (1 + n): never 0 (Davison & Hinkley 1997, eq. 4.11)
        n_it = len(null["median"])

        def share(hits):
            return float((1 + np.sum(hits)) / (1 + n_it))

        pvals = {
            "median": share(direction * null["median"] >= direction * observed["median"]),
            "share_significant": share(null["share_significant"] >= observed["share_significant"]),
            "stouffer_z": share(null["stouffer_z"] >= observed["stouffer_z"]),
        }
        return CurveNullTest(
            kind,
            int(n_boot),
            int(use.sum()),
            direction,
            observed,
            pvals,
            pd.DataFrame(null),
            np.sort(est, axis=1),
            plan["unit"],
            None if seed is None else int(seed),
        )


# --------------------------------------------------------------------------- choices
def _option_label(opt) -> str:
    if opt is None or (isinstance(opt, str) and opt.lower() == "all"):
        return "all"
    if callable(opt):
        return getattr(opt, "__name__", "custom")
    if isinstance(opt, list | tuple | set | frozenset):
        return "|".join(
            str(o) for o in (sorted(opt, key=str) if isinstance(opt, set | frozenset) else opt)
        )
    return str(opt)


def _filter_mask(frame: pd.DataFrame, col: str, opt) -> np.ndarray:
    if opt is None or (isinstance(opt, str) and opt.lower() == "all"):
        return np.ones(len(frame), bool)
    if callable(opt):
        m = np.asarray(opt(frame), bool)
        if m.shape != (len(frame),):
            raise ConfigError(
                f"filter for {col!r} must return {len(frame)} booleans, got shape {m.shape}"
            )
        return m
    vals = frame[col]
    if isinstance(opt, list | tuple | set | frozenset):
        return vals.isin(list(opt)).to_numpy()
    return (vals == opt).fillna(False).to_numpy(bool)


def _normalise_choices(
    choices: Mapping, data: pd.DataFrame
) -> tuple[list[str], dict[str, list], dict[str, list]]:
    """Choice names in order, option values and option labels."""
    names, values, labels = [], {}, {}
    for name, opts in choices.items():
        if isinstance(opts, Mapping):
            lab, val = [str(k) for k in opts], list(opts.values())
        elif isinstance(opts, str | bool | int | float) or opts is None or callable(opts):
            val = [opts]
            lab = [_option_label(opts)]
        else:
            val = list(opts)
            lab = [_option_label(o) for o in val]
        if not val:
            raise ConfigError(f"choice {name!r} has no options")
        if name not in RESERVED_CHOICES and name not in data.columns:
            raise ConfigError(
                f"choice {name!r} is neither one of {list(RESERVED_CHOICES)} nor a column of the data "
                f"(columns: {list(data.columns)[:12]}...)"
            )
        names.append(name)
        values[name] = val
        labels[name] = lab
    return names, values, labels


def specification_curve(
    data: pd.DataFrame,
    choices: Mapping | None = None,
    *,
    seed: int | None = 0,
    n_boot: int = 0,
    null: str = "bootstrap",
    cluster: str | None = "study_id",
    random: str = "study_id/comparison_id",
    level: float = 0.95,
    min_k: int = 2,
    effect_kwargs: Mapping | None = None,
    control: dict | Control | None = None,
    engine="local",
    quiet: bool = False,
) -> SpecCurveResult:
    """Fit every combination of analytic choices and summarise the curve of estimates.

    Parameters
    ----------
    data
        Raw wide contrasts (e.g. :func:`rlmeta.datasets.load_rl_llm_studies`), from
        which effects are recomputed for every ``measure``/``rho``; or an effects
        table with ``yi``/``vi`` when no ``measure`` choice is given.
    choices
        Mapping from choice name to its options (a list, or a dict ``{label:
        option}``).  Built-in names:

        ``measure``
            effect sizes for :func:`rlmeta.effect_sizes` (``"RD"``, ``"OR"``, ...);
        ``rho``
            assumed between-arm correlation of paired proportions (used with
            ``RD`` only; other measures get one specification with ``rho`` NaN);
        ``method``
            tau² estimators (``"REML"``, ``"DL"``, ``"EE"``, ...);
        ``test``
            ``"z"``, ``"t"``, ``"knha"``, ``"adhoc"``;
        ``outliers``
            ``"none"``, ``"rstudent>X"`` (drop ``|rstudent| > X``), ``"influential"``
            (metafor's rule), found with the specification's own estimator and test;
        ``dependence``
            ``"independent"``, ``"3-level"`` (``meta_analysis(random=random)``),
            ``"CR2"`` (cluster-robust CR2 by ``cluster``); skipped with the reason
            recorded when this build lacks multilevel / robust models.

        Any other name is a column of the data, and each option an inclusion
        filter: ``None``/``"all"`` (no filter), a value (equality), a list (any of)
        or a function of the effects frame returning booleans.
        Default: ``{"method": ["REML", "DL", "PM", "EE"], "test": ["z", "knha"]}``.
    seed
        Seed of the null test.
    n_boot
        Number of null curves (0: no test; see :meth:`SpecCurveResult.test_null`).
    null
        ``"bootstrap"`` or ``"sign-flip"`` (see :meth:`SpecCurveResult.test_null`).
    cluster
        Resampling unit of the null test and cluster of CR2 (default ``study_id``
        when present; None: single effects).
    random
        Nesting of the three-level model.
    level
        Confidence level; significant means ``pval < 1 - level``.
    min_k
        Specifications with fewer effects are not fitted (status records why).
    effect_kwargs
        Extra arguments of :func:`rlmeta.effect_sizes` (e.g. ``assumed_sd``).
    control
        Iteration settings of the estimators.
    engine, quiet
        Where to run the engine tasks (``"local"``, ``"dask"``, a Client or an
        address) and whether to hide progress bars.

    Returns
    -------
    SpecCurveResult
        ``to_frame()`` columns ``spec_id, estimate, se, ci_low, ci_high, pval, k,
        significant``, one column per choice, then ``tau2, i2, status, rank``.

    Examples
    --------
    >>> import rlmeta as rm
    >>> sc = rm.specification_curve(rm.datasets.load_rl_llm_studies(), {
    ...     "measure": ["RD", "AS"], "method": ["REML", "DL"], "test": ["z", "knha"],
    ...     "judge_based": ["all", False]}, quiet=True)
    >>> sc.n_specs, list(sc.to_frame().columns[:8])
    (16, ['spec_id', 'estimate', 'se', 'ci_low', 'ci_high', 'pval', 'k', 'significant'])
    """
    from ..effects import effect_sizes

    if not isinstance(data, pd.DataFrame):
        raise ConfigError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    choices = dict(choices or {"method": ["REML", "DL", "PM", "EE"], "test": ["z", "knha"]})
    names, values, labels = _normalise_choices(choices, data)
    raw = data.reset_index(drop=True).copy()
    raw["_spec_row"] = np.arange(len(raw))
    # ------------------------------------------------------------------ effect sets
    measures = values.get("measure")
    rhos = values.get("rho", [None])
    if measures is None:
        if {"yi", "vi"} <= set(raw.columns) and "rho" not in choices:
            effect_sets = [(None, None)]
        else:
            measures = ["RD"]
    if measures is not None:
        effect_sets = [
            (m, r) for m in measures for r in (rhos if str(m).upper() == "RD" else [None])
        ]
    ek = dict(effect_kwargs or {})
    eff_frames = []
    for m, r in effect_sets:
        if m is None:
            fr = raw.copy()
        else:
            kw = dict(ek)
            if r is not None:
                kw["rho"] = float(r)
            fr = effect_sizes(raw, measure=m, **kw)
        fr = fr[
            np.isfinite(fr["yi"].to_numpy(float)) & np.isfinite(fr["vi"].to_numpy(float))
        ].reset_index(drop=True)
        eff_frames.append(fr)
    # resampling units shared by all effect sets
    unit_col = cluster if (cluster is not None and cluster in raw.columns) else None
    unit_values = raw[unit_col] if unit_col else raw["_spec_row"]
    codes, uniques = pd.factorize(unit_values, use_na_sentinel=False)
    # ------------------------------------------------------------------ filters
    filter_names = [n for n in names if n not in RESERVED_CHOICES]
    filter_combos = list(itertools.product(*[range(len(values[n])) for n in filter_names]))
    methods = [str(m) for m in values.get("method", ["REML"])]
    for m in methods:
        if m not in FIXED_METHODS + TAU2_METHODS:
            raise ConfigError(
                f"unknown method {m!r}; expected one of {', '.join(FIXED_METHODS + TAU2_METHODS)}"
            )
    tests = [str(t) for t in values.get("test", ["z"])]
    for t in tests:
        if t not in TESTS:
            raise ConfigError(f"unknown test {t!r}; expected one of {', '.join(TESTS)}")
    rules = [parse_outlier_rule(r) for r in values.get("outliers", ["none"])]
    deps = [str(d) for d in values.get("dependence", ["independent"])]
    for d in deps:
        if d not in DEPENDENCE_MODELS:
            raise ConfigError(
                f"unknown dependence model {d!r}; expected one of {list(DEPENDENCE_MODELS)}"
            )
    con = Control.from_mapping(control)
    sets = []
    filter_masks = []
    for fr in eff_frames:
        k = len(fr)
        if k == 0:
            raise ConfigError(
                "an effect set is empty (no row yields this effect size); see rlmeta.drop_log()"
            )
        spec = ModelSpec(
            yi=fr["yi"].to_numpy(float),
            vi=fr["vi"].to_numpy(float),
            X=np.ones((k, 1)),
            weights=None,
            method="REML",
            test="z",
            level=level,
            btt=(0,),
            control=con,
            tau2_fixed_value=None,
            intercept_only=True,
        )
        sets.append({"spec": spec, "frame": fr, "units": codes[fr["_spec_row"].to_numpy()]})
        fm = np.ones((len(filter_combos), k), bool)
        for c, combo in enumerate(filter_combos):
            for name, oi in zip(filter_names, combo):
                fm[c] &= _filter_mask(fr, name, values[name][oi])
        filter_masks.append(fm)
    dep_reasons = {d: dependence_available(d) for d in deps}
    shared = {
        "effect_sets": sets,
        "filter_masks": filter_masks,
        "rules": rules,
        "dependence": deps,
        "min_k": int(min_k),
        "dep_reasons": dep_reasons,
        "cluster": cluster,
        "random": random,
    }
    tasks = [(e, m, t) for e in range(len(sets)) for m in methods for t in tests]
    parts = map_chunks(
        fit_group, shared, tasks, engine=engine, description="specifications", quiet=quiet
    )
    results = dict(zip(tasks, parts))
    # ------------------------------------------------------------------ assemble in choice order
    rows, masks, batched, groups = [], [], [], {}
    axes = [range(len(values[n])) for n in names]
    fidx = {combo: i for i, combo in enumerate(filter_combos)}
    es_index = {(m, r): i for i, (m, r) in enumerate(effect_sets)}
    for combo in itertools.product(*axes):
        pick = dict(zip(names, combo))
        m = (
            values["measure"][pick["measure"]]
            if "measure" in pick
            else (measures[0] if measures else None)
        )
        if "rho" in pick:
            if str(m).upper() != "RD" and pick["rho"] != 0:
                continue  # rho only matters for the paired risk difference
            r = values["rho"][pick["rho"]] if str(m).upper() == "RD" else None
        else:
            r = None
        e = es_index[(m, r)]
        meth = values["method"][pick["method"]] if "method" in pick else methods[0]
        tst = values["test"][pick["test"]] if "test" in pick else tests[0]
        ri = pick.get("outliers", 0)
        di = pick.get("dependence", 0)
        fi = fidx[tuple(pick[n] for n in filter_names)]
        g = results[(e, str(meth), str(tst))]
        row = {
            c: g[c][fi, ri, di]
            for c in ("estimate", "se", "ci_low", "ci_high", "pval", "k", "tau2", "i2", "status")
        }
        for n in names:
            row[n] = labels[n][pick[n]]
        if "rho" in names and r is None:
            row["rho"] = np.nan
        spec_id = len(rows)
        rows.append(row)
        masks.append(g["masks"][fi, ri])
        batched.append(deps[di] == "independent")
        groups.setdefault((e, str(meth), str(tst)), []).append(spec_id)
    frame = pd.DataFrame(rows)
    frame.insert(0, "spec_id", np.arange(len(frame)))
    frame["significant"] = (frame["pval"] < 1 - level).fillna(False) & (frame["status"] == "ok")
    order = [
        "spec_id",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "pval",
        "k",
        "significant",
        *names,
        "tau2",
        "i2",
        "status",
    ]
    frame = frame[order]
    frame["rank"] = frame["estimate"].rank(method="first").astype("Int64")
    plan = {
        "effect_sets": sets,
        "masks": masks,
        "batched": np.asarray(batched),
        "groups": groups,
        "n_units": len(uniques),
        "unit": unit_col or "effect",
    }
    out_choices = {n: labels[n] for n in names}
    result = SpecCurveResult(frame, out_choices, level, None, plan)
    if n_boot:
        result = replace(
            result,
            null_test=result.test_null(n_boot, kind=null, seed=seed, engine=engine, quiet=quiet),
        )
    return result
