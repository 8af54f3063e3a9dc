"""Permutation tests of a meta-analysis (metafor's ``permutest``).

Follett, Viechtbauer & co.: Viechtbauer, López-López, Sánchez-Meca & Marín-Martínez
(2015), A comparison of procedures to test for moderators in mixed-effects
meta-regression models, *Psychol Methods* 20(3), 360-374, doi:10.1037/met0000023.

* Intercept-only model: under H0 (mean effect 0, symmetric distribution) the
  signs of the effects are exchangeable; the model is refitted to the effects
  with their signs flipped.  Exact: all ``2^k`` sign vectors.
* Meta-regression: under H0 (no moderator effect) the rows of the design are
  exchangeable with the effects; the model is refitted with the design's rows
  permuted.  Exact: all distinct permutations (``k! / prod(n_j!)`` for groups of
  identical rows).

The test is exact (every permutation) when ``exact=True``, or when ``exact=None``
and the number of permutations is at most ``n``; otherwise ``n`` random
permutations are drawn, the first replaced by the observed data (metafor's
convention).  p-values are metafor's two-sided defaults: for each coefficient the
share of permutations with ``|stat*| >= |stat| - tol`` and for the omnibus test the
share with ``QM* >= QM - tol`` (``tol = sqrt(machine eps)``), permutations that
could not be fitted left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np
import pandas as pd

from .._result import ResultMixin, fmt_p
from ..errors import ModelError
from ..meta import MetaResult
from ._batch import ModelSpec, refit_stats
from ._common import frame_dict, require_result, table_text
from ._engine import chunk_slices, map_chunks, spawn_seeds

__all__ = ["permutation_test", "PermutationResult"]

_COMPTOL = np.sqrt(np.finfo(float).eps)
_MAX_EXACT = 5_000_000


@dataclass(frozen=True)
class PermutationResult(ResultMixin):
    """Permutation p-values of a model's coefficients and omnibus test.

    Attributes
    ----------
    frame
        One row per coefficient: ``term, estimate, se, stat, pval`` (model-based)
        and ``perm_pval``.
    qm, qm_df, qm_pval
        Omnibus statistic of the model (QM, or F under t/knha tests), its df and
        the permutation p-value.
    n_perm
        Number of permutations used (including the observed one when random).
    exact
        True when every permutation was used.
    n_exact
        Number of distinct permutations.
    kind
        ``"sign-flip"`` (intercept-only) or ``"row-permutation"``.
    beta_dist, stat_dist, qm_dist
        Permutation distributions ``(n_perm, p)`` and ``(n_perm,)``.
    seed
        Seed of the random permutations.
    """

    frame: pd.DataFrame
    qm: float
    qm_df: int
    qm_pval: float
    n_perm: int
    exact: bool
    n_exact: float
    kind: str
    beta_dist: np.ndarray
    stat_dist: np.ndarray
    qm_dist: np.ndarray
    seed: int | None

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict:
        meta = {
            "qm": self.qm,
            "qm_df": self.qm_df,
            "qm_pval": self.qm_pval,
            "n_perm": self.n_perm,
            "exact": self.exact,
            "n_exact": self.n_exact,
            "kind": self.kind,
            "seed": self.seed,
        }
        return frame_dict(meta, self.frame, key="coefficients")

    def summary(self) -> str:
        head = [
            f"{'Exact' if self.exact else 'Approximate'} permutation test ({self.kind}, {self.n_perm} "
            f"permutations); omnibus QM(df = {self.qm_df}) = {self.qm:.4f}, permutation p-val = "
            f"{fmt_p(self.qm_pval)}"
        ]
        return table_text("Permutation test", head, self.frame)


def _multiset_permutations(labels: np.ndarray) -> np.ndarray:
    """All distinct orderings of ``labels`` (lexicographic next-permutation)."""
    a = np.sort(labels).tolist()
    n = len(a)
    out = [a.copy()]
    while True:
        i = n - 2
        while i >= 0 and a[i] >= a[i + 1]:
            i -= 1
        if i < 0:
            break
        j = n - 1
        while a[j] <= a[i]:
            j -= 1
        a[i], a[j] = a[j], a[i]
        a[i + 1 :] = a[i + 1 :][::-1]
        out.append(a.copy())
    return np.asarray(out, dtype=np.int64)


def _perm_chunk(shared: dict, task: tuple) -> dict:
    spec: ModelSpec = shared["spec"]
    k = spec.k
    kind, payload = task[0], task[1:]
    if kind == "flip_exact":
        codes = np.arange(payload[0], payload[1], dtype=np.int64)
        bits = (codes[:, None] >> np.arange(k, dtype=np.int64)) & 1
        st = refit_stats(spec, y=spec.yi * (1 - 2 * bits), btt=[0])
    elif kind == "flip_random":
        n, seed = payload
        rng = np.random.default_rng(seed)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(n, k))
        st = refit_stats(spec, y=spec.yi * signs, btt=[0])
    elif kind == "rows_exact":
        rows = shared["urows"][payload[0]]  # (n, k, p)
        st = refit_stats(spec, X=rows)
    else:  # rows_random
        n, seed = payload
        rng = np.random.default_rng(seed)
        perm = np.argsort(rng.random((n, k)), axis=1)
        st = refit_stats(spec, X=spec.X[perm])
    return {"beta": st.beta, "stat": st.stat, "qm": st.qm}


def permutation_test(
    res: MetaResult,
    n: int = 1000,
    seed: int | None = 0,
    exact: bool | None = None,
    *,
    chunk_size: int = 20_000,
    engine="local",
    quiet: bool = False,
) -> PermutationResult:
    """Permutation test of the coefficients and the omnibus test (metafor's ``permutest``).

    Parameters
    ----------
    res
        A model from :func:`rlmeta.meta_analysis`.
    n
        Number of random permutations (metafor's ``iter``).
    seed
        Seed of the random permutations (numpy Generator via ``SeedSequence``).
    exact
        None (default): exact when the number of distinct permutations is at most
        ``n`` (metafor's rule); True: always exact; False: random permutations.
    chunk_size
        Permutations per engine call.
    engine
        ``"local"``, ``"dask"``, a ``dask.distributed.Client`` or a scheduler
        address; the same seed gives the same result on every engine.
    quiet
        No progress bar.

    Returns
    -------
    PermutationResult
        ``to_frame()`` columns ``term, estimate, se, stat, pval, perm_pval``;
        ``qm_pval`` is the permutation p-value of the omnibus test.

    Notes
    -----
    Exact p-values match ``metafor::permutest(exact=TRUE)`` (golden tests with
    2^8 sign flips and 7! = 5040 row permutations).

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> pt = rm.permutation_test(rm.meta_analysis(eff), n=200, seed=1, quiet=True)
    >>> pt.n_perm, pt.exact
    (200, False)
    """
    res = require_result(res, "permutation_test")
    spec = ModelSpec.from_result(res)
    k = spec.k
    if n < 2:
        raise ModelError(f"n must be >= 2, got {n}")
    tab = res.to_frame()
    obs_stat = tab["stat"].to_numpy()
    if res.intercept_only:
        kind = "sign-flip"
        n_exact = float(2**k) if k < 1000 else np.inf
        qm_obs = float(res.qm)
        qm_df = 1
    else:
        kind = "row-permutation"
        _, inv, counts = np.unique(spec.X, axis=0, return_inverse=True, return_counts=True)
        inv = np.asarray(inv).reshape(-1)
        n_exact = float(factorial(k)) / float(np.prod([factorial(int(c)) for c in counts]))
        qm_obs = float(res.qm)
        qm_df = res.qm_df
    use_exact = bool(exact) or (exact is None and n_exact <= n)
    if use_exact and n_exact > _MAX_EXACT:
        raise ModelError(
            f"an exact permutation test needs {n_exact:.3g} refits (limit {_MAX_EXACT}); use exact=False"
        )
    shared = {"spec": spec}
    if use_exact:
        total = int(n_exact)
        slices = chunk_slices(total, chunk_size)
        if kind == "sign-flip":
            tasks = [("flip_exact", s.start, s.stop) for s in slices]
        else:
            perms = _multiset_permutations(inv)  # labels of the distinct rows
            urows = np.unique(spec.X, axis=0)
            shared["urows"] = urows
            tasks = [("rows_exact", perms[s]) for s in slices]
    else:
        total = int(n)
        slices = chunk_slices(total, chunk_size)
        seeds = spawn_seeds(seed, len(slices))
        tag = "flip_random" if kind == "sign-flip" else "rows_random"
        tasks = [(tag, s.stop - s.start, sd) for s, sd in zip(slices, seeds)]
    parts = map_chunks(
        _perm_chunk, shared, tasks, engine=engine, description="permutations", quiet=quiet
    )
    beta = np.concatenate([pt["beta"] for pt in parts])
    stat = np.concatenate([pt["stat"] for pt in parts])
    qm = np.concatenate([pt["qm"] for pt in parts])
    if not use_exact:
        beta[0] = res.fit.beta[0]
        stat[0] = obs_stat
        qm[0] = qm_obs
    with np.errstate(invalid="ignore"):
        ok_s = ~np.isnan(stat)
        ge = (np.abs(stat) >= np.abs(obs_stat) - _COMPTOL) & ok_s
        perm_p = np.minimum(1.0, ge.sum(0) / ok_s.sum(0))
        ok_q = ~np.isnan(qm)
        qm_p = float(((qm >= qm_obs - _COMPTOL) & ok_q).sum() / ok_q.sum())
    frame = tab[["term", "estimate", "se", "stat", "pval"]].copy()
    frame["perm_pval"] = perm_p
    return PermutationResult(
        frame,
        qm_obs,
        qm_df,
        qm_p,
        total,
        use_exact,
        n_exact,
        kind,
        beta,
        stat,
        qm,
        None if seed is None else int(seed) if np.isscalar(seed) else None,
    )
