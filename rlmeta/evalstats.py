"""Item-level statistics of LLM evaluations.

Per-arm uncertainty (CLT SE with ddof 1, Wilson / Clopper-Pearson / Beta-posterior
intervals for small n, clustered SE with t(C-1)), the K-repeat variance
decomposition of Miller (2024), unbiased pass@k and pass^k, power / minimum
detectable effect / required number of items, and rliable-style seed-level
summaries (mean, median, IQM, optimality gap with stratified-bootstrap CIs,
probability of improvement).

Why hand-written: these are a handful of closed forms that no maintained library
offers with the conventions needed here (Inspect's clustered SE with the
C/(C-1) correction and t(C-1); Miller's repeat decomposition and power formula;
rliable's aggregates without its ``arch``/global-RNG dependencies).  Each is
checked in ``tests/test_evalstats.py`` against an independent computation
(scipy's ``binomtest``/``beta``/``mannwhitneyu``/``trim_mean``, statsmodels'
``proportion_confint``, or small hand-computed examples).

References
----------
Miller, E. (2024). Adding error bars to evals. arXiv:2411.00640.
Bowyer, S., Aitchison, L., Ivanova, D. (2025). Position: Don't use the CLT in LLM
evals with fewer than a few hundred datapoints. arXiv:2503.01747.
Chen, M. et al. (2021). Evaluating large language models trained on code. arXiv:2107.03374.
Agarwal, R. et al. (2021). Deep RL at the edge of the statistical precipice. NeurIPS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from .errors import DataError

__all__ = [
    "mean_se",
    "wilson_interval",
    "clopper_pearson_interval",
    "beta_interval",
    "binomial_interval",
    "ClusteredSE",
    "clustered_se",
    "RepeatVariance",
    "repeat_variance",
    "mcnemar_exact",
    "pass_at_k",
    "pass_hat_k",
    "pass_at_k_curve",
    "design_effect",
    "icc_oneway",
    "omega2_from_pilot",
    "minimum_detectable_effect",
    "required_items",
    "power",
    "aggregate_mean",
    "aggregate_median",
    "aggregate_iqm",
    "optimality_gap",
    "probability_of_improvement",
    "stratified_bootstrap_ci",
    "seed_summary",
]


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise DataError(f"level must be in (0, 1), got {level}")
    return float(stats.norm.ppf(0.5 + level / 2))


def _arr(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {a.shape}")
    if np.isnan(a).any():
        raise DataError(f"{name} contains missing values")
    return a


# --------------------------------------------------------------------------- per arm
def mean_se(scores: Sequence[float], *, ddof: int = 1) -> tuple[float, float]:
    """Mean and CLT standard error ``sd(ddof)/√n``.

    >>> mean_se([1, 0, 1, 1])
    (0.75, 0.25)
    """
    a = _arr(scores, "scores")
    if len(a) <= ddof:
        raise DataError(f"need more than {ddof} scores for a standard error, got {len(a)}")
    return float(a.mean()), float(a.std(ddof=ddof) / math.sqrt(len(a)))


def _kn(k, n) -> tuple[np.ndarray, np.ndarray]:
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise DataError("expected 0 <= successes <= trials and trials >= 1")
    return k, n


def wilson_interval(k, n, *, level: float = 0.95):
    """Wilson score interval for k successes in n trials.

    centre = (p̂ + z²/(2n)) / (1 + z²/n); half-width = z/(1 + z²/n)·√(p̂(1−p̂)/n + z²/(4n²)).

    >>> [round(float(v), 4) for v in wilson_interval(0, 10)]
    [0.0, 0.2775]
    """
    k, n = _kn(k, n)
    z = _z(level)
    p = k / n
    den = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / den
    half = z / den * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def clopper_pearson_interval(k, n, *, level: float = 0.95):
    """Exact (Clopper-Pearson) interval ``[B(α/2; k, n−k+1), B(1−α/2; k+1, n−k)]``.

    >>> [round(float(v), 4) for v in clopper_pearson_interval(3, 10)]
    [0.0667, 0.6525]
    """
    k, n = _kn(k, n)
    a = 1 - level
    lo = np.where(k == 0, 0.0, stats.beta.ppf(a / 2, np.maximum(k, 1e-300), n - k + 1))
    hi = np.where(k == n, 1.0, stats.beta.ppf(1 - a / 2, k + 1, np.maximum(n - k, 1e-300)))
    return lo, hi


def beta_interval(k, n, *, level: float = 0.95, prior: tuple[float, float] = (1.0, 1.0)):
    """Equal-tailed credible interval of the Beta(a + k, b + n − k) posterior (Bowyer et al. 2025).

    >>> [round(float(v), 4) for v in beta_interval(0, 3)]
    [0.0063, 0.6024]
    """
    k, n = _kn(k, n)
    a0, b0 = prior
    a = 1 - level
    post = stats.beta(a0 + k, b0 + n - k)
    return post.ppf(a / 2), post.ppf(1 - a / 2)


def binomial_interval(k, n, *, method: str = "wilson", level: float = 0.95):
    """Interval for a proportion: ``"wilson"``, ``"clopper-pearson"``, ``"beta"`` or ``"wald"``.

    >>> [round(float(v), 3) for v in binomial_interval(27, 30, method="clopper-pearson")]
    [0.735, 0.979]
    """
    m = method.lower().replace("_", "-")
    if m == "wilson":
        return wilson_interval(k, n, level=level)
    if m in ("clopper-pearson", "exact"):
        return clopper_pearson_interval(k, n, level=level)
    if m in ("beta", "bayes", "jeffreys-free"):
        return beta_interval(k, n, level=level)
    if m == "wald":
        k, n = _kn(k, n)
        p = k / n
        h = _z(level) * np.sqrt(p * (1 - p) / n)
        return p - h, p + h
    raise DataError(f"method must be wilson, clopper-pearson, beta or wald; got {method!r}")


@dataclass(frozen=True)
class ClusteredSE:
    """Mean with a cluster-robust standard error and a t(C−1) interval."""

    mean: float
    se: float
    n: int
    n_clusters: int
    df: int
    ci_low: float
    ci_high: float
    level: float

    def to_dict(self) -> dict:
        return asdict(self)


def clustered_se(
    scores: Sequence[float], clusters: Sequence, *, level: float = 0.95
) -> ClusteredSE:
    """Cluster-robust SE of a mean (Miller 2024, App. A) with Inspect's C/(C−1) correction.

    ``Var = C/(C−1) · Σ_c (Σ_{i∈c}(s_i − s̄))² / n²``; CI ``s̄ ± t_{C−1}·SE``.
    With one item per cluster it equals the ddof-1 CLT SE.

    >>> r = clustered_se([1, 1, 0, 0, 1, 0], ["a", "a", "b", "b", "c", "c"])
    >>> round(r.se, 4), r.df
    (0.2887, 2)
    """
    s = _arr(scores, "scores")
    c = np.asarray(clusters)
    if len(c) != len(s):
        raise DataError(f"scores and clusters differ in length ({len(s)} vs {len(c)})")
    codes, _ = pd.factorize(pd.Series(c), use_na_sentinel=False)
    n_c = int(codes.max()) + 1 if len(codes) else 0
    if n_c < 2:
        raise DataError(f"a clustered SE needs at least 2 clusters, got {n_c}")
    n = len(s)
    resid_sums = np.bincount(codes, weights=s - s.mean(), minlength=n_c)
    se = math.sqrt(n_c / (n_c - 1) * float(np.sum(resid_sums**2))) / n
    t = float(stats.t.ppf(0.5 + level / 2, n_c - 1))
    m = float(s.mean())
    return ClusteredSE(m, se, n, n_c, n_c - 1, m - t * se, m + t * se, level)


@dataclass(frozen=True)
class RepeatVariance:
    """Miller's decomposition of the variance of a mean over n items with K samples each.

    ``Var(s̄) = (Var(x) + E[σ²]/K) / n``: ``var_between`` estimates Var(x) (item
    difficulty), ``mean_within`` estimates E[σ²] (sampling noise within an item).
    """

    n_items: int
    k_mean: float
    mean: float
    var_between: float
    mean_within: float
    se: float

    def se_for(self, k: float, n: int | None = None) -> float:
        """Predicted SE of the mean with ``k`` samples per item (and ``n`` items)."""
        n = self.n_items if n is None else n
        return math.sqrt(max(self.var_between, 0.0) / n + self.mean_within / (k * n))

    def to_dict(self) -> dict:
        return asdict(self)


def repeat_variance(scores: Sequence[float], items: Sequence) -> RepeatVariance:
    """Split the variance of per-item mean scores into between-item and within-item parts.

    Parameters
    ----------
    scores
        One score per (item, repeat).
    items
        Item id of each score; every item needs at least 2 repeats.

    Notes
    -----
    σ̂_i² is the within-item variance (ddof 1); E[σ²] its mean over items.  Since
    E[var(s̄_i)] = Var(x) + E[σ²/K_i], ``var_between = var(s̄_i) − mean(σ̂_i²/K_i)``
    (unbiased; may be negative in small samples and is then reported as such).
    ``se = sd(s̄_i)/√n`` does not depend on the split.

    Examples
    --------
    >>> r = repeat_variance([1, 1, 0, 1, 0, 0], ["a", "a", "b", "b", "c", "c"])
    >>> round(r.mean, 4), round(r.mean_within, 4), round(r.var_between, 4)
    (0.5, 0.1667, 0.1667)
    """
    s = _arr(scores, "scores")
    df = pd.DataFrame({"item": np.asarray(items), "s": s})
    g = df.groupby("item", sort=False)["s"]
    k = g.size().to_numpy(dtype=float)
    if (k < 2).any():
        raise DataError("every item needs at least 2 repeats for the within-item variance")
    means = g.mean().to_numpy()
    within = g.var(ddof=1).to_numpy()
    n = len(means)
    if n < 2:
        raise DataError("need at least 2 items")
    v_means = float(np.var(means, ddof=1))
    return RepeatVariance(
        n,
        float(k.mean()),
        float(means.mean()),
        v_means - float(np.mean(within / k)),
        float(within.mean()),
        math.sqrt(v_means / n),
    )


def mcnemar_exact(t: int, u: int) -> float:
    """Two-sided exact McNemar p-value: T ~ Binomial(T + U, 1/2) (1 when T + U = 0).

    >>> round(mcnemar_exact(10, 2), 6)
    0.038574
    """
    t, u = int(t), int(u)
    if t < 0 or u < 0:
        raise DataError("discordant counts must be >= 0")
    m = t + u
    if m == 0:
        return 1.0
    return float(min(1.0, 2 * stats.binom.cdf(min(t, u), m, 0.5)))


# --------------------------------------------------------------------------- sampling metrics
def _nck(n, c, k):
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    k = np.asarray(k, dtype=float)
    if np.any(c > n) or np.any(c < 0) or np.any(k < 1) or np.any(k > n):
        raise DataError("expected 0 <= c <= n and 1 <= k <= n")
    return n, c, k


def pass_at_k(n, c, k):
    """Unbiased pass@k (Chen et al. 2021): ``1 − C(n−c, k)/C(n, k)`` (1 when n − c < k).

    Computed with log-gamma so large n does not overflow.

    >>> round(float(pass_at_k(10, 3, 2)), 6)
    0.533333
    """
    n, c, k = _nck(n, c, k)
    with np.errstate(invalid="ignore"):
        log_ratio = (
            special.gammaln(n - c + 1)
            - special.gammaln(n - c - k + 1)
            - special.gammaln(n + 1)
            + special.gammaln(n - k + 1)
        )
        out = 1 - np.exp(log_ratio)
    # c = 0 is exactly 0 (log-gamma would leave ~1e-16); results are probabilities
    return np.where(n - c < k, 1.0, np.where(c == 0, 0.0, np.clip(out, 0.0, 1.0)))


def pass_hat_k(n, c, k):
    """pass^k (Yao et al. 2024): probability that k draws without replacement all pass, ``C(c, k)/C(n, k)``.

    >>> round(float(pass_hat_k(10, 3, 2)), 6)
    0.066667
    """
    n, c, k = _nck(n, c, k)
    with np.errstate(invalid="ignore"):
        out = np.exp(
            special.gammaln(c + 1)
            - special.gammaln(c - k + 1)
            - special.gammaln(n + 1)
            + special.gammaln(n - k + 1)
        )
    return np.where(c < k, 0.0, np.where(c == n, 1.0, np.clip(out, 0.0, 1.0)))


def pass_at_k_curve(n, c, ks: Sequence[int] | None = None) -> pd.DataFrame:
    """pass@k and pass^k averaged over problems, with SEs over problems (the problem is the cluster).

    Parameters
    ----------
    n, c
        Samples and correct samples per problem (arrays of equal length).
    ks
        Values of k (default 1..min(n)).

    Returns
    -------
    pandas.DataFrame
        ``k, pass_at_k, pass_at_k_se, pass_hat_k, pass_hat_k_se, n_problems``.

    Examples
    --------
    >>> curve = pass_at_k_curve([4, 4, 4], [0, 2, 4], ks=[1, 2])
    >>> curve[["k", "pass_at_k", "pass_hat_k"]].round(4).values.tolist()
    [[1.0, 0.5, 0.5], [2.0, 0.6111, 0.3889]]
    """
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    if n.shape != c.shape or n.ndim != 1 or len(n) < 2:
        raise DataError("n and c must be 1-D arrays of the same length with at least 2 problems")
    ks = list(range(1, int(n.min()) + 1)) if ks is None else list(ks)
    rows = []
    for k in ks:
        a = pass_at_k(n, c, k)
        b = pass_hat_k(n, c, k)
        rows.append(
            {
                "k": k,
                "pass_at_k": a.mean(),
                "pass_at_k_se": a.std(ddof=1) / math.sqrt(len(a)),
                "pass_hat_k": b.mean(),
                "pass_hat_k_se": b.std(ddof=1) / math.sqrt(len(b)),
                "n_problems": len(a),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- power
def design_effect(mean_cluster_size: float, icc: float) -> float:
    """Design effect ``1 + (m̄ − 1)·ICC`` of clustered items.

    >>> design_effect(5, 0.1)
    1.4
    """
    if mean_cluster_size < 1 or not -1 <= icc <= 1:
        raise DataError("expected a mean cluster size >= 1 and an ICC in [-1, 1]")
    return 1 + (mean_cluster_size - 1) * icc


def icc_oneway(scores: Sequence[float], clusters: Sequence) -> float:
    """One-way ANOVA intra-cluster correlation ``(MSB − MSW)/(MSB + (m₀ − 1)MSW)``.

    ``m₀ = (N − Σm_c²/N)/(C − 1)`` handles unequal cluster sizes.

    >>> round(icc_oneway([1, 1, 0, 0, 1, 0], ["a", "a", "b", "b", "c", "c"]), 4)
    0.5
    """
    s = _arr(scores, "scores")
    df = pd.DataFrame({"c": np.asarray(clusters), "s": s})
    g = df.groupby("c", sort=False)["s"]
    m = g.size().to_numpy(dtype=float)
    C, N = len(m), len(s)
    if C < 2 or N <= C:
        raise DataError("need at least 2 clusters and more items than clusters")
    means = g.mean().to_numpy()
    msb = float(np.sum(m * (means - s.mean()) ** 2) / (C - 1))
    msw = float(
        np.sum((s - df.groupby("c", sort=False)["s"].transform("mean").to_numpy()) ** 2) / (N - C)
    )
    m0 = (N - np.sum(m**2) / N) / (C - 1)
    den = msb + (m0 - 1) * msw
    return float((msb - msw) / den) if den > 0 else 0.0


def omega2_from_pilot(
    rl, baseline, *, k_rl: float | None = None, k_baseline: float | None = None
) -> dict:
    """Miller's ω² for a paired comparison from pilot scores (items x repeats per arm).

    ``ω² = Var(x_A) + Var(x_B) − 2Cov(x_A, x_B) + E[σ_A²]/K_A + E[σ_B²]/K_B``, with the
    item-level parts estimated from per-item means corrected for within-item noise.

    Parameters
    ----------
    rl, baseline
        Arrays of shape (n_items, K) on the same items (K may be 1, then the
        within-item variance is taken as 0 and ω² is the variance of differences).
    k_rl, k_baseline
        Repeats planned for the main study (default: the pilot's K).

    Returns
    -------
    dict
        ``omega2, item_part, var_x_rl, var_x_baseline, cov_x, within_rl, within_baseline,
        k_rl, k_baseline``; ``item_part`` = Var(x_A) + Var(x_B) − 2Cov(x_A, x_B), which is
        truncated at 0 only when the resulting ω² would not be positive.

    Examples
    --------
    >>> import numpy as np
    >>> rl = np.array([[1, 1], [0, 1], [1, 1], [0, 0], [1, 0], [1, 1]])
    >>> base = np.array([[1, 0], [0, 0], [1, 1], [0, 0], [0, 0], [0, 1]])
    >>> om = omega2_from_pilot(rl, base)
    >>> round(om["omega2"], 4), required_items(om["omega2"], 0.1)
    (0.0667, 53)
    """
    a = np.asarray(rl, dtype=float)
    b = np.asarray(baseline, dtype=float)
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    if a.shape[0] != b.shape[0] or a.shape[0] < 3:
        raise DataError("rl and baseline need the same items (rows), at least 3")
    ka, kb = a.shape[1], b.shape[1]
    wa = float(a.var(axis=1, ddof=1).mean()) if ka > 1 else 0.0
    wb = float(b.var(axis=1, ddof=1).mean()) if kb > 1 else 0.0
    ma, mb = a.mean(axis=1), b.mean(axis=1)
    va = float(np.var(ma, ddof=1)) - wa / ka
    vb = float(np.var(mb, ddof=1)) - wb / kb
    cov = float(np.cov(ma, mb, ddof=1)[0, 1])  # within-item noise is independent across arms
    KA, KB = k_rl or ka, k_baseline or kb
    # Unbiased: with the pilot's K this is exactly var(per-item mean differences).  Planning a
    # larger K can make it non-positive when a small pilot cannot separate item variance from
    # within-item noise; then the item part (a variance) is truncated at 0.
    item_part = va + vb - 2 * cov
    om = item_part + wa / KA + wb / KB
    if om <= 0:
        om = wa / KA + wb / KB
    return {
        "omega2": om,
        "item_part": item_part,
        "var_x_rl": va,
        "var_x_baseline": vb,
        "cov_x": cov,
        "within_rl": wa,
        "within_baseline": wb,
        "k_rl": KA,
        "k_baseline": KB,
    }


def _omega(omega2: float) -> None:
    if not omega2 > 0:
        raise DataError(f"omega2 (variance of paired differences) must be > 0, got {omega2}")


def _zz(alpha: float, power_: float) -> float:
    if not (0 < alpha < 1 and 0 < power_ < 1):
        raise DataError("alpha and power must be in (0, 1)")
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power_))


def minimum_detectable_effect(
    omega2: float, n: int, *, alpha: float = 0.05, power: float = 0.8, design_effect: float = 1.0
) -> float:
    """MDE = (z_{1−α/2} + z_{1−β})·√(ω²·deff/n).

    >>> round(minimum_detectable_effect(0.25, 1000), 4)
    0.0443
    """
    _omega(omega2)
    return _zz(alpha, power) * math.sqrt(omega2 * design_effect / n)


def required_items(
    omega2: float,
    delta: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    design_effect: float = 1.0,
) -> int:
    """Items needed: ``n = ⌈(z_{1−α/2} + z_{1−β})²·ω²·deff/δ²⌉``.

    >>> required_items(0.25, 0.05)
    785
    """
    if delta == 0:
        raise DataError("delta must be non-zero")
    _omega(omega2)
    return int(math.ceil(_zz(alpha, power) ** 2 * omega2 * design_effect / delta**2))


def power(
    omega2: float, n: int, delta: float, *, alpha: float = 0.05, design_effect: float = 1.0
) -> float:
    """Power of the two-sided z test of a paired difference δ with n items.

    >>> round(power(0.25, 785, 0.05), 3)
    0.8
    """
    _omega(omega2)
    z = float(stats.norm.ppf(1 - alpha / 2))
    shift = abs(delta) / math.sqrt(omega2 * design_effect / n)
    return float(stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z))


# --------------------------------------------------------------------------- seed level (rliable)
def _scores(x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim < 2 or a.shape[-2] < 1:
        raise DataError("scores must have shape (runs, tasks)")
    return a


def aggregate_mean(scores) -> np.ndarray:
    """Mean over tasks of per-task mean scores (last two axes: runs, tasks)."""
    return _scores(scores).mean(axis=(-2, -1))


def aggregate_median(scores) -> np.ndarray:
    """Median over tasks of per-task mean scores."""
    return np.median(_scores(scores).mean(axis=-2), axis=-1)


def aggregate_iqm(scores) -> np.ndarray:
    """Interquartile mean: 25%-trimmed mean over all runs x tasks pooled."""
    a = _scores(scores)
    flat = a.reshape(a.shape[:-2] + (-1,))
    return stats.trim_mean(flat, 0.25, axis=-1)


def optimality_gap(scores, gamma: float = 1.0) -> np.ndarray:
    """``γ − mean(min(x, γ))`` over all runs x tasks."""
    return gamma - np.minimum(_scores(scores), gamma).mean(axis=(-2, -1))


_AGGREGATES: dict[str, Callable] = {
    "mean": aggregate_mean,
    "median": aggregate_median,
    "iqm": aggregate_iqm,
    "optimality_gap": optimality_gap,
}


def probability_of_improvement(x, y) -> float:
    """P(X > Y) averaged over tasks: per task U/(N_x·N_y) with ties counted 1/2 (Mann-Whitney U).

    Parameters
    ----------
    x, y
        Scores of shape (runs, tasks); run counts may differ, tasks must match.

    >>> probability_of_improvement([[1.0], [2.0]], [[0.0], [2.0]])
    0.625
    """
    a, b = _scores(x), _scores(y)
    if a.shape[-1] != b.shape[-1]:
        raise DataError(f"x and y must have the same tasks, got {a.shape[-1]} and {b.shape[-1]}")
    return float(_poi(a, b))


def _poi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # (..., Nx, 1, M) vs (..., 1, Ny, M): pairwise comparisons within each task.
    gt = (a[..., :, None, :] > b[..., None, :, :]).mean(axis=(-3, -2))
    eq = (a[..., :, None, :] == b[..., None, :, :]).mean(axis=(-3, -2))
    return (gt + 0.5 * eq).mean(axis=-1)


def _resample(a: np.ndarray, rng: np.random.Generator, reps: int) -> np.ndarray:
    """Stratified bootstrap: runs resampled independently within each task column."""
    n, m = a.shape
    idx = rng.integers(0, n, size=(reps, n, m))
    return a[idx, np.arange(m)[None, None, :]]


def stratified_bootstrap_ci(
    scores,
    func: str | Callable = "iqm",
    *,
    reps: int = 2000,
    level: float = 0.95,
    seed: int | None = 0,
    chunk: int = 500,
) -> tuple[float, float, float]:
    """Point estimate and percentile CI from a stratified bootstrap over runs.

    Parameters
    ----------
    scores
        Array (runs, tasks).
    func
        ``"mean"``, ``"median"``, ``"iqm"``, ``"optimality_gap"`` or a function of a
        (runs, tasks) array returning a float (slower: called per replicate).
    reps, level, seed
        Bootstrap replicates, interval level, seed of a :class:`numpy.random.Generator`.

    Returns
    -------
    (estimate, ci_low, ci_high)

    Examples
    --------
    >>> import numpy as np
    >>> runs_by_task = np.random.default_rng(0).normal(0.6, 0.1, size=(10, 5))
    >>> est, lo, hi = stratified_bootstrap_ci(runs_by_task, "iqm", reps=1000, seed=0)
    >>> lo < est < hi
    True
    """
    a = _scores(scores)
    f = _AGGREGATES.get(func) if isinstance(func, str) else None
    if isinstance(func, str) and f is None:
        raise DataError(f"func must be one of {', '.join(_AGGREGATES)} or a callable; got {func!r}")
    rng = np.random.default_rng(seed)
    vals = []
    for start in range(0, reps, chunk):
        sample = _resample(a, rng, min(chunk, reps - start))
        vals.append(f(sample) if f is not None else np.array([func(s) for s in sample]))
    boot = np.concatenate(vals)
    est = float(f(a)) if f is not None else float(func(a))
    q = (1 - level) / 2
    return est, float(np.quantile(boot, q)), float(np.quantile(boot, 1 - q))


def seed_summary(
    score_dict: Mapping[str, np.ndarray],
    *,
    aggregates: Sequence[str] = ("mean", "median", "iqm", "optimality_gap"),
    reps: int = 2000,
    level: float = 0.95,
    seed: int | None = 0,
    compare: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """rliable-style summary of several algorithms' seed-level scores.

    Parameters
    ----------
    score_dict
        ``{algorithm: array (runs, tasks)}`` of normalised scores (runs = training
        seeds, tasks = benchmarks).
    aggregates
        Which aggregates to report.
    compare
        ``(x, y)``: also report the probability that a run of ``x`` beats a run of
        ``y`` on a random task, with an independent stratified bootstrap CI.

    Returns
    -------
    pandas.DataFrame
        ``algorithm, aggregate, estimate, ci_low, ci_high, level, reps``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> d = {"rl": rng.normal(0.6, 0.05, (5, 4)), "base": rng.normal(0.5, 0.05, (5, 4))}
    >>> s = seed_summary(d, aggregates=["iqm"], reps=200, compare=("rl", "base"))
    >>> s["aggregate"].tolist()
    ['iqm', 'iqm', 'probability_of_improvement']
    """
    rows = []
    for name, sc in score_dict.items():
        for i, agg in enumerate(aggregates):
            est, lo, hi = stratified_bootstrap_ci(
                sc, agg, reps=reps, level=level, seed=None if seed is None else seed + i
            )
            rows.append(
                {
                    "algorithm": name,
                    "aggregate": agg,
                    "estimate": est,
                    "ci_low": lo,
                    "ci_high": hi,
                    "level": level,
                    "reps": reps,
                }
            )
    if compare is not None:
        x, y = (_scores(score_dict[k]) for k in compare)
        rng = np.random.default_rng(seed)
        boot = np.concatenate(
            [
                _poi(_resample(x, rng, min(200, reps - s)), _resample(y, rng, min(200, reps - s)))
                for s in range(0, reps, 200)
            ]
        )
        q = (1 - level) / 2
        rows.append(
            {
                "algorithm": f"{compare[0]} > {compare[1]}",
                "aggregate": "probability_of_improvement",
                "estimate": float(_poi(x, y)),
                "ci_low": float(np.quantile(boot, q)),
                "ci_high": float(np.quantile(boot, 1 - q)),
                "level": level,
                "reps": reps,
            }
        )
    return pd.DataFrame(rows)
