"""Effect sizes and their sampling variances (an ``escalc`` for RL-vs-baseline data).

:func:`effect_sizes` takes a wide contrast table (or a long table, which it pivots)
and returns it with ``yi`` (positive = RL better), ``vi``, ``sei`` and a Wald CI.
The formulas are those of metafor's ``escalc`` (version 3.8-1 defaults) and are
checked against it in ``tests/reference``.  Arm 1 is always the RL arm.

Measures
--------
Two groups, continuous (means, SDs, ns):
    ``MD``   raw mean difference, ``vi = sd1²/n1 + sd2²/n2``;
    ``SMD``  Hedges' g with the exact correction
             ``J(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2))``, ``m = n1+n2-2``,
             ``vi = 1/n1 + 1/n2 + g²/(2(n1+n2))``; ``correct=False`` gives Cohen's d
             with ``vi = 1/n1 + 1/n2 + d²/(2(n1+n2))``;
    ``SMDH`` heteroscedastic SMD (standardised by √((sd1²+sd2²)/2));
    ``ROM``  log ratio of means, ``vi = sd1²/(n1 m1²) + sd2²/(n2 m2²)``.
Paired / change scores (need the between-arm correlation ``r``):
    ``MC``, ``SMCC`` (standardised by the SD of the differences), ``SMCR``
    (standardised by the RL-arm SD).
Proportions (a benchmark accuracy p on n items; counts x = p·n):
    ``RD`` risk difference, ``OR``/``LOR`` log odds ratio, ``RR``/``LRR`` log risk
    ratio, ``AS`` arcsine difference (Cohen's h = 2·AS).  Zero cells get 1/2 added
    to every cell of that row (metafor's ``add=1/2, to="only0"``; not for AS/RD).
    ``RD`` is *paired* when both arms answered the same items: with an assumed
    between-arm correlation ``rho`` its variance is
    ``p1q1/n1 + p2q2/n2 - 2·rho·√(p1q1 p2q2)/n`` (``rho = 0`` is metafor's ``RD``
    and conservative for positively correlated arms).

Direction: rows with ``higher_is_better == False`` get ``yi -> -yi`` and
``direction_flipped = True``.

Rows whose variance cannot be computed go to the drop log with the reason.

Examples
--------
>>> import pandas as pd
>>> wide = pd.DataFrame({"study_id": ["s"], "benchmark": ["GSM8K"], "rl_score": [88.2],
...                      "baseline_score": [82.9], "n_items": [1319], "score_scale": ["percent"]})
>>> eff = effect_sizes(wide, measure="RD")
>>> round(float(eff["yi"].iloc[0]), 3), round(float(eff["vi"].iloc[0]), 7)
(0.053, 0.0001864)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import special, stats

from .droplog import extend_drop_log, record_drops
from .errors import EffectError
from .schema import row_numbers, score_bounds, validate_long, validate_wide

__all__ = [
    "MEASURES",
    "effect_sizes",
    "hedges_correction",
    "long_to_wide",
    "d_from_t",
    "d_from_p",
    "se_from_ci",
    "d_to_logor",
    "logor_to_d",
    "d_to_r",
    "r_to_d",
    "wald_ci",
    "two_by_two",
    "table_effect",
]

_CONTINUOUS = ("MD", "SMD", "SMDH", "ROM")
_PAIRED = ("MC", "SMCC", "SMCR")
_PROPORTION = ("RD", "OR", "RR", "AS")
_ALIASES = {"LOR": "OR", "LRR": "RR", "D": "SMD", "G": "SMD", "H": "AS"}
#: Every measure name accepted by :func:`effect_sizes` (aliases included).
MEASURES = _CONTINUOUS + _PAIRED + _PROPORTION + ("GEN",) + tuple(_ALIASES)


# --------------------------------------------------------------------------- small formulas
def hedges_correction(m: np.ndarray | float) -> np.ndarray:
    """Exact small-sample correction J(m) for a standardised mean difference.

    ``J(m) = exp(lgamma(m/2) - log(sqrt(m/2)) - lgamma((m-1)/2))``; NaN for m <= 1.
    The usual approximation ``1 - 3/(4m - 1)`` is *not* used.

    >>> round(float(hedges_correction(18)), 6)
    0.957646
    """
    m = np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.exp(special.gammaln(m / 2) - np.log(np.sqrt(m / 2)) - special.gammaln((m - 1) / 2))
    return np.where(m > 1, out, np.nan)


def wald_ci(yi, vi, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Normal-theory confidence interval ``yi ± z·√vi``."""
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.asarray(vi, dtype=float))
        yi = np.asarray(yi, dtype=float)
        return yi - z * se, yi + z * se


def d_from_t(t, n1, n2):
    """Cohen's d from an independent-samples t statistic: ``d = t·√(1/n1 + 1/n2)``.

    >>> round(float(d_from_t(2.0, 20, 20)), 6)
    0.632456
    """
    return np.asarray(t, dtype=float) * np.sqrt(
        1 / np.asarray(n1, float) + 1 / np.asarray(n2, float)
    )


def d_from_p(p, n1, n2, sign=1):
    """Cohen's d from a two-sided p-value of a t test and the sign of the effect.

    ``t = sign · t_{1-p/2}(n1+n2-2)``, then :func:`d_from_t`.

    >>> round(float(d_from_p(0.05, 20, 20)), 4)
    0.6402
    """
    df = np.asarray(n1, float) + np.asarray(n2, float) - 2
    t = np.sign(sign) * stats.t.ppf(1 - np.asarray(p, float) / 2, df)
    return d_from_t(t, n1, n2)


def se_from_ci(low, high, level: float = 0.95):
    """Standard error from a symmetric normal-theory CI: ``(high - low) / (2 z)``.

    >>> round(float(se_from_ci(-1.96, 1.96)), 6)
    1.000018
    """
    z = stats.norm.ppf(0.5 + level / 2)
    return (np.asarray(high, float) - np.asarray(low, float)) / (2 * z)


def d_to_logor(d, vd=None):
    """Cohen's d to a log odds ratio (logistic approximation, factor π/√3).

    Returns ``log OR`` or ``(log OR, variance)`` when ``vd`` is given.

    >>> round(float(d_to_logor(0.5)), 6)
    0.9069
    """
    f = math.pi / math.sqrt(3)
    lor = np.asarray(d, float) * f
    return lor if vd is None else (lor, np.asarray(vd, float) * f**2)


def logor_to_d(lor, vlor=None):
    """Log odds ratio to Cohen's d (the inverse of :func:`d_to_logor`)."""
    f = math.sqrt(3) / math.pi
    d = np.asarray(lor, float) * f
    return d if vlor is None else (d, np.asarray(vlor, float) * f**2)


def d_to_r(d, n1=None, n2=None):
    """Cohen's d to a point-biserial r: ``r = d / √(d² + a)``, ``a = (n1+n2)²/(n1 n2)`` (4 if ns unknown)."""
    d = np.asarray(d, float)
    a = 4.0 if n1 is None else (np.asarray(n1, float) + n2) ** 2 / (np.asarray(n1, float) * n2)
    return d / np.sqrt(d**2 + a)


def r_to_d(r):
    """Correlation to Cohen's d for equal groups: ``d = 2r / √(1 - r²)``."""
    r = np.asarray(r, float)
    return 2 * r / np.sqrt(1 - r**2)


# --------------------------------------------------------------------------- layout
def long_to_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Pivot a long observation table (one row per arm) to the wide contrast layout.

    Columns ``score, sd, se, n`` become ``rl_score / baseline_score`` etc.; columns
    that are constant within a contrast are carried over.  Contrasts with only one
    arm raise :class:`EffectError` naming the rows.
    """
    long = validate_long(long)
    keys = ["study_id", "comparison_id", "benchmark", "metric"]
    if "benchmark_setting" in long.columns:
        keys.append("benchmark_setting")
    per_arm = [
        c
        for c in ("score", "sd", "se", "n", "model", "method", "source_row", "seed")
        if c in long.columns
    ]
    counts = long.groupby(keys, dropna=False)["arm"].transform("nunique")
    lonely = (counts < 2).to_numpy()
    if lonely.any():
        raise EffectError(
            "expected one 'rl' and one 'baseline' row per study/comparison/benchmark/metric, "
            "found a contrast with only one arm",
            file=str(long["source"].iloc[0]) if "source" in long.columns else None,
            row=row_numbers(long, lonely),
            column="arm",
        )
    wide = long.pivot(index=keys, columns="arm", values=per_arm)
    wide.columns = [f"{arm}_{col}" for col, arm in wide.columns]
    wide = wide.reset_index()
    shared = [c for c in long.columns if c not in per_arm + keys + ["arm"]]
    if shared:
        first = long.groupby(keys, dropna=False)[shared].first().reset_index()
        wide = wide.merge(first, on=keys, how="left")
    if "rl_source_row" in wide.columns:
        wide["source_row"] = wide["rl_source_row"]
    if "rl_model" in wide.columns and "baseline_model" in wide.columns:
        pass
    return extend_drop_log(wide, long)


# --------------------------------------------------------------------------- main entry
def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.full(len(frame), np.nan)


def _scale_factor(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row: divisor that turns scores into proportions, and a 'bounded' flag."""
    if "score_scale" not in frame.columns:
        return np.ones(len(frame)), np.zeros(len(frame), dtype=bool)
    div = np.ones(len(frame))
    bounded = np.zeros(len(frame), dtype=bool)
    for i, scale in enumerate(frame["score_scale"].tolist()):
        b = score_bounds(scale)
        if b is not None:
            div[i] = b[1]
            bounded[i] = True
    return div, bounded


def two_by_two(
    data: pd.DataFrame,
    *,
    ai: str = "ai",
    bi: str = "bi",
    ci: str = "ci",
    di: str = "di",
    n1i: str = "n1i",
    n2i: str = "n2i",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 2x2 counts ``(a, b, c, d)`` of every row: right/wrong for RL, then baseline.

    Takes count columns (``ai``, ``ci`` and either ``bi``/``di`` or ``n1i``/``n2i``) or a
    wide RL-vs-baseline table with proportion or percent scores, whose counts are
    ``score x n`` as in :func:`effect_sizes` (not rounded: published percentages are
    themselves rounded).

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.DataFrame({"rl_score": [60.0], "baseline_score": [50.0], "n_items": [200],
    ...                   "score_scale": ["percent"]})
    >>> [x.tolist() for x in two_by_two(w)]
    [[120.0], [80.0], [100.0], [100.0]]
    """
    cols = set(data.columns)
    if {ai, ci} <= cols:
        a, c = _col(data, ai), _col(data, ci)
        if {bi, di} <= cols:
            b, d = _col(data, bi), _col(data, di)
        elif {n1i, n2i} <= cols:
            b, d = _col(data, n1i) - a, _col(data, n2i) - c
        else:
            raise EffectError(
                f"2x2 tables need {bi!r}/{di!r} or {n1i!r}/{n2i!r} next to {ai!r}/{ci!r}",
                column=bi,
            )
    elif {"rl_score", "baseline_score"} <= cols:
        div, bounded = _scale_factor(data)
        if not bounded.all():
            bad = int(np.flatnonzero(~bounded)[0])
            raise EffectError(
                "2x2 tables need proportion or percent scores (score_scale)",
                row=row_numbers(data)[bad] if len(data) else None,
                column="score_scale",
            )
        n_items = _col(data, "n_items")
        n1 = np.where(np.isnan(_col(data, "rl_n")), n_items, _col(data, "rl_n"))
        n2 = np.where(np.isnan(_col(data, "baseline_n")), n_items, _col(data, "baseline_n"))
        a = _col(data, "rl_score") / div * n1
        c = _col(data, "baseline_score") / div * n2
        b, d = n1 - a, n2 - c
    else:
        raise EffectError(
            f"2x2 tables need count columns ({ai}, {bi}, {ci}, {di}) or rl_score/baseline_score "
            "with n_items",
            column=ai,
        )
    counts = np.column_stack([a, b, c, d])
    bad = ~np.isfinite(counts).all(axis=1) | (counts < 0).any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EffectError(
            f"2x2 table {i + 1} has a missing or negative count: {counts[i].tolist()} "
            "(a, b, c, d); drop or fix it first",
            row=row_numbers(data)[i] if len(data) else None,
        )
    return a, b, c, d


def _assumed_sd(frame: pd.DataFrame, assumed_sd: float | Mapping[str, float] | None) -> np.ndarray:
    out = np.full(len(frame), np.nan)
    if assumed_sd is None:
        return out
    if isinstance(assumed_sd, Mapping):
        for key, val in assumed_sd.items():
            for col in ("score_scale", "metric", "benchmark"):
                if col in frame.columns:
                    hit = (frame[col].astype(str) == str(key)).to_numpy()
                    out = np.where(hit & np.isnan(out), float(val), out)
        return out
    return np.full(len(frame), float(assumed_sd))


def effect_sizes(
    data: pd.DataFrame,
    measure: str = "RD",
    *,
    rho: float = 0.0,
    r: float | None = None,
    correct: bool = True,
    assumed_sd: float | Mapping[str, float] | None = None,
    add: float = 0.5,
    to: str = "only0",
    level: float = 0.95,
    use_reported_se: bool = True,
) -> pd.DataFrame:
    """Compute an effect size and its sampling variance for every contrast.

    Parameters
    ----------
    data
        Wide contrast table (``rl_score``, ``baseline_score``, ...) or long table
        with an ``arm`` column (pivoted with :func:`long_to_wide`).
    measure
        One of :data:`MEASURES` (see the module docstring for formulas).
    rho
        Assumed correlation between the arms' item-level outcomes for the paired
        risk difference (both arms answered the same items).  0 reproduces
        metafor's ``RD`` and is conservative.
    r
        Between-arm correlation for ``MC``/``SMCC``/``SMCR`` when the data have no
        ``r`` column.
    correct
        Hedges' small-sample correction for ``SMD`` (False gives Cohen's d).
    assumed_sd
        SD assumption for raw-score rows without ``rl_sd``/``baseline_sd`` (e.g.
        judge scores on 1-10): a number, or a mapping from a ``score_scale``,
        ``metric`` or ``benchmark`` value to a number.
    add, to
        Zero-cell correction for ``OR``/``RR`` (metafor's defaults ``1/2``,
        ``"only0"``; ``to="none"`` disables it, ``"all"`` adds to every row).
    level
        Level of the per-row Wald CI (``ci_low``, ``ci_high``).
    use_reported_se
        For proportion measures, use reported per-arm SEs (``rl_se``,
        ``baseline_se``) when both are present instead of binomial variances.

    Returns
    -------
    pandas.DataFrame
        The input rows that yield an effect, with all input columns plus
        ``measure, yi, vi, sei, ci_low, ci_high, direction_flipped, var_source``
        (and ``rho`` for ``RD``).  Excluded rows are in the drop log
        (:func:`rlmeta.drop_log`).

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> len(eff), int(eff["direction_flipped"].sum())
    (139, 3)
    """
    m = str(measure).upper()
    m = _ALIASES.get(m, m)
    if m not in MEASURES:
        raise EffectError(f"unknown measure {measure!r}; expected one of {', '.join(MEASURES)}")
    if not 0 < level < 1:
        raise EffectError(f"level must be in (0, 1), got {level}")
    if not -1 <= rho <= 1:
        raise EffectError(f"rho must be in [-1, 1], got {rho}")
    if to not in ("only0", "all", "if0all", "none"):
        raise EffectError(f"to must be one of only0, all, if0all, none; got {to!r}")

    if "arm" in data.columns and "rl_score" not in data.columns:
        wide = long_to_wide(data)
    elif m == "GEN":
        wide = data.copy()
    else:
        wide = validate_wide(data)
    wide = wide.reset_index(drop=True)
    n = len(wide)

    if m == "GEN":
        yi = _col(wide, "yi")
        sei = _col(wide, "sei")
        vi = np.where(np.isnan(_col(wide, "vi")), sei**2, _col(wide, "vi"))
        reasons = np.where(np.isnan(yi) | np.isnan(vi), "yi or vi/sei missing", "")
        var_source = np.full(n, "given", dtype=object)
        return _finish(wide, m, yi, vi, reasons, var_source, level, extra={})

    div, bounded = _scale_factor(wide)
    y1 = _col(wide, "rl_score") / div
    y2 = _col(wide, "baseline_score") / div
    n_items = _col(wide, "n_items")
    n1 = np.where(np.isnan(_col(wide, "rl_n")), n_items, _col(wide, "rl_n"))
    n2 = np.where(np.isnan(_col(wide, "baseline_n")), n_items, _col(wide, "baseline_n"))
    se1 = _col(wide, "rl_se") / div
    se2 = _col(wide, "baseline_se") / div
    reasons = np.full(n, "", dtype=object)
    var_source = np.full(n, "", dtype=object)
    extra: dict[str, np.ndarray] = {}

    def need(cond: np.ndarray, why: str) -> None:
        empty = reasons == ""
        reasons[cond & empty] = why

    if m in _PROPORTION:
        scales = wide["score_scale"].tolist() if "score_scale" in wide.columns else [None] * n
        for i in np.flatnonzero(~bounded):
            reasons[i] = (
                f"measure {m} needs proportions or percents, but score_scale is {scales[i]!r} "
                "(raw scores); use a continuous measure (MD/SMD) with an SD"
            )
        has_se = use_reported_se & ~np.isnan(se1) & ~np.isnan(se2)
        need(
            np.isnan(n1) & ~has_se,
            "n_items (or rl_n/baseline_n) missing: the binomial variance needs the number of items",
        )
        yi, vi, src = _proportion_effect(m, y1, y2, n1, n2, se1, se2, has_se, rho, add, to)
        var_source[:] = src
        if m == "RD":
            extra["rho"] = np.full(n, float(rho))
    elif m in _CONTINUOUS:
        _check_min_n(wide, n1, n2, m)
        sd1, sd2, src = _arm_sds(wide, y1, y2, n1, n2, se1, se2, bounded, div, assumed_sd)
        var_source[:] = src
        need(np.isnan(n1) | np.isnan(n2), "sample size missing (rl_n/baseline_n or n_items)")
        need(
            np.isnan(sd1) | np.isnan(sd2),
            "no SD or SE for a raw score; supply rl_sd/baseline_sd or assumed_sd",
        )
        yi, vi = _continuous_effect(m, y1, y2, sd1, sd2, n1, n2, correct)
        if m == "ROM":
            need((y1 <= 0) | (y2 <= 0), "ROM needs positive means in both arms")
    else:  # paired change-score measures
        _check_min_n(wide, n1, n1, m)
        sd1, sd2, src = _arm_sds(wide, y1, y2, n1, n2, se1, se2, bounded, div, assumed_sd)
        var_source[:] = src
        rr = _col(wide, "r")
        if r is not None:
            rr = np.where(np.isnan(rr), float(r), rr)
        need(np.isnan(rr), f"{m} needs the between-arm correlation: add an 'r' column or pass r=")
        need(np.isnan(n1), "sample size missing (n_items or rl_n)")
        need(
            np.isnan(sd1) | np.isnan(sd2),
            "no SD or SE for a raw score; supply rl_sd/baseline_sd or assumed_sd",
        )
        yi, vi = _paired_effect(m, y1, y2, sd1, sd2, n1, rr)
        extra["r"] = rr

    need(
        ~np.isfinite(yi) | ~np.isfinite(vi),
        f"{m} is undefined for these scores (e.g. a proportion of 0 or 1 without a correction, or n < 2)",
    )
    need(
        np.isfinite(vi) & (vi <= 0),
        "variance is 0 (e.g. both proportions at 0 or 1); the effect carries no information about precision",
    )
    return _finish(wide, m, yi, vi, reasons, var_source, level, extra)


def _check_min_n(wide: pd.DataFrame, n1: np.ndarray, n2: np.ndarray, m: str) -> None:
    """A variance from SDs needs at least two observations per arm."""
    for name, arr in (("rl_n", n1), ("baseline_n", n2)):
        bad = ~np.isnan(arr) & (arr < 2)
        if bad.any():
            col = name if name in wide.columns else "n_items"
            raise EffectError(
                f"measure {m} needs a sample size >= 2 to estimate a variance, got {arr[bad][0]:g}",
                file=str(wide["source"].iloc[0]) if "source" in wide.columns else None,
                row=row_numbers(wide, bad),
                column=col,
            )


def _finish(wide, m, yi, vi, reasons, var_source, level, extra) -> pd.DataFrame:
    out = wide.copy()
    flip = (
        ~out["higher_is_better"].astype(bool).to_numpy()
        if "higher_is_better" in out.columns
        else np.zeros(len(out), bool)
    )
    yi = np.where(flip, -yi, yi)
    out["measure"] = m
    out["yi"] = yi
    out["vi"] = vi
    with np.errstate(
        invalid="ignore"
    ):  # rows with a reason are dropped below; their values are meaningless
        out["sei"] = np.sqrt(vi)
    lo, hi = wald_ci(yi, vi, level)
    out["ci_low"] = lo
    out["ci_high"] = hi
    out["direction_flipped"] = flip
    out["var_source"] = var_source
    for k, v in extra.items():
        out[k] = v
    bad = reasons != ""
    out = record_drops(out, bad, reason=pd.Series(reasons, index=out.index), step="effect_sizes")
    out.attrs["rlmeta_measure"] = m
    return out


def _proportion_effect(m, p1, p2, n1, n2, se1, se2, has_se, rho, add, to):
    """Risk difference, log OR, log RR or arcsine difference from proportions.

    As metafor's ``escalc``, the zero-cell correction (``add`` to every cell of a
    2x2 table with a zero cell) applies to RD, OR and RR, not to AS.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if m == "AS":
            yi = np.arcsin(np.sqrt(p1)) - np.arcsin(np.sqrt(p2))
            vi = 1 / (4 * n1) + 1 / (4 * n2)
            return yi, vi, np.full(len(yi), "binomial (n items)", dtype=object)
        a, c = p1 * n1, p2 * n2
        yi, vi, (q1, q2, m1, m2) = table_effect(m, a, n1 - a, c, n2 - c, add=add, to=to)
        if m == "RD":
            v1 = np.where(has_se, se1**2, q1 * (1 - q1) / m1)
            v2 = np.where(has_se, se2**2, q2 * (1 - q2) / m2)
            # Paired items: Cov(p1, p2) = rho * sd1 * sd2 / n when both arms answer the same n items.
            vi = v1 + v2 - 2 * rho * np.sqrt(v1 * v2)
            return yi, vi, np.where(has_se, "reported SE", "binomial (n items)")
    return yi, vi, np.full(len(yi), "binomial (n items)", dtype=object)


def table_effect(m: str, a, b, c, d, *, add: float = 0.5, to: str = "only0"):
    """RD, log OR or log RR of 2x2 tables with escalc's zero-cell correction.

    ``add`` goes to every cell of a table with a zero cell (``to="only0"``), of every
    table (``"all"``), of every table when any has a zero cell (``"if0all"``) or of
    none (``"none"``).  Returns ``yi, vi`` (independent arms) and the corrected arm
    proportions and sizes ``(q1, q2, m1, m2)``.

    Examples
    --------
    >>> yi, vi, _ = table_effect("OR", np.array([0.0]), np.array([10.0]),
    ...                          np.array([2.0]), np.array([8.0]))
    >>> round(float(yi[0]), 4), round(float(vi[0]), 4)
    (-1.8207, 2.6129)
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b, c, d = (np.asarray(x, float) for x in (a, b, c, d))
        if to != "none" and add:
            zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
            if to == "all":
                zero = np.ones_like(zero)
            elif to == "if0all":
                zero = np.full_like(zero, zero.any())
            a, b, c, d = (x + np.where(zero, add, 0.0) for x in (a, b, c, d))
        m1, m2 = a + b, c + d
        q1, q2 = a / m1, c / m2
        if m == "RD":
            yi, vi = q1 - q2, q1 * (1 - q1) / m1 + q2 * (1 - q2) / m2
        elif m == "OR":
            yi = np.log(q1 / (1 - q1)) - np.log(q2 / (1 - q2))
            vi = 1 / a + 1 / b + 1 / c + 1 / d
        else:  # RR
            yi = np.log(q1) - np.log(q2)
            vi = 1 / a - 1 / m1 + 1 / c - 1 / m2
    return yi, vi, (q1, q2, m1, m2)


def _arm_sds(wide, y1, y2, n1, n2, se1, se2, bounded, div, assumed_sd):
    """Per-arm SDs: given SD, else SE·√n, else Bernoulli √(p(1-p)) for proportions, else assumed."""
    sd1 = _col(wide, "rl_sd") / div
    sd2 = _col(wide, "baseline_sd") / div
    src = np.where(~np.isnan(sd1) & ~np.isnan(sd2), "SD", "")
    from_se = np.isnan(sd1) & ~np.isnan(se1)
    sd1 = np.where(from_se, se1 * np.sqrt(n1), sd1)
    sd2 = np.where(np.isnan(sd2) & ~np.isnan(se2), se2 * np.sqrt(n2), sd2)
    src = np.where((src == "") & from_se, "SE x sqrt(n)", src)
    bern = bounded & np.isnan(sd1)
    with np.errstate(invalid="ignore"):
        sd1 = np.where(bern, np.sqrt(y1 * (1 - y1)), sd1)
        sd2 = np.where(bounded & np.isnan(sd2), np.sqrt(y2 * (1 - y2)), sd2)
    src = np.where((src == "") & bern, "Bernoulli SD of a proportion", src)
    ass = _assumed_sd(wide, assumed_sd)
    use = np.isnan(sd1) & ~np.isnan(ass)
    sd1 = np.where(np.isnan(sd1), ass, sd1)
    sd2 = np.where(np.isnan(sd2), ass, sd2)
    src = np.where((src == "") & use, "assumed SD", src)
    return sd1, sd2, src.astype(object)


def _continuous_effect(m, m1, m2, sd1, sd2, n1, n2, correct):
    with np.errstate(divide="ignore", invalid="ignore"):
        if m == "MD":
            return m1 - m2, sd1**2 / n1 + sd2**2 / n2
        if m == "ROM":
            return np.log(m1 / m2), sd1**2 / (n1 * m1**2) + sd2**2 / (n2 * m2**2)
        mi = n1 + n2 - 2
        J = hedges_correction(mi) if correct else np.ones_like(mi)
        if m == "SMD":
            sp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / mi)
            yi = J * (m1 - m2) / sp
            return yi, 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
        # SMDH (Bonett 2008), metafor vtype "LS"
        s2 = sd1**2 + sd2**2
        yi = J * (m1 - m2) / np.sqrt(s2 / 2)
        vi = yi**2 * (sd1**4 / (n1 - 1) + sd2**4 / (n2 - 1)) / (2 * s2**2) + (
            sd1**2 / (n1 - 1) + sd2**2 / (n2 - 1)
        ) / (s2 / 2)
        return yi, J**2 * vi


def _paired_effect(m, m1, m2, sd1, sd2, n, r):
    with np.errstate(divide="ignore", invalid="ignore"):
        if m == "MC":
            return m1 - m2, (sd1**2 + sd2**2 - 2 * r * sd1 * sd2) / n
        J = hedges_correction(n - 1)
        if m == "SMCC":
            sdd = np.sqrt(sd1**2 + sd2**2 - 2 * r * sd1 * sd2)
            yi = J * (m1 - m2) / sdd
            return yi, 1 / n + yi**2 / (2 * n)
        # SMCR: standardised by the RL-arm ("raw score") SD
        yi = J * (m1 - m2) / sd1
        return yi, 2 * (1 - r) / n + yi**2 / (2 * n)
