"""GOSH: the model fitted to all (or many random) subsets of the effects.

Olkin, Dahabreh & Trikalinos (2012), GOSH - a graphical display of study
heterogeneity, *Res Synth Methods* 3(3), 214-223, doi:10.1002/jrsm.1053.

With ``k`` effects and ``p`` coefficients there are ``sum_{m=p}^{k} C(k, m)``
subsets; when that number is at most ``max_subsets`` every subset is fitted (in
metafor's order: subset ``r`` includes effect ``j`` when bit ``j`` of ``r`` is set,
rows then stably sorted by size), otherwise ``max_subsets`` random subsets whose
sizes follow Binomial(k, 1/2) restricted to ``m >= p`` (as metafor's ``gosh``).
Subsets are fitted in chunks through the batched engine, locally or on Dask.

Optionally the cloud of (estimate, I²) points is clustered (k-means or a Gaussian
mixture from scikit-learn, on standardised coordinates) and every effect's
over-representation in each cluster is reported: an effect present in nearly all
subsets of an outlying cluster is a candidate driver of heterogeneity.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np
import pandas as pd

from .._result import ResultMixin
from ..errors import ModelError
from ..meta import MetaResult
from ._batch import ModelSpec, refit_stats
from ._common import frame_dict, require_result, table_text
from ._engine import chunk_slices, map_chunks, spawn_seeds

__all__ = ["gosh", "GoshResult"]

GOSH_COLUMNS = ["estimate", "se", "i2", "tau2", "q", "k", "cluster"]


@dataclass(frozen=True)
class GoshResult(ResultMixin):
    """Fits of the model to subsets of the effects.

    Attributes
    ----------
    frame
        One row per subset: ``estimate, se, i2, tau2, q, k, cluster`` (``cluster``
        is -1 when the cloud was not clustered), then ``h2`` and, for
        meta-regression models, ``coef_<term>`` for the other coefficients.
    membership
        Boolean matrix ``(n_subsets, k)``: which effects each subset includes.
    labels
        Effect labels (columns of ``membership``).
    exact
        True when every subset was fitted.
    n_possible
        Number of possible subsets with at least p effects.
    method, test
        Settings of the model.
    seed
        Seed of the random subsets and of the clustering.
    """

    frame: pd.DataFrame
    membership: np.ndarray
    labels: list[str]
    exact: bool
    n_possible: float
    method: str
    test: str
    seed: int | None

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict:
        meta = {
            "exact": self.exact,
            "n_subsets": len(self.frame),
            "n_possible": self.n_possible,
            "method": self.method,
            "test": self.test,
            "seed": self.seed,
            "labels": self.labels,
        }
        return frame_dict(meta, self.frame)

    def membership_frame(self) -> pd.DataFrame:
        """``membership`` as a DataFrame with one boolean column per effect label."""
        return pd.DataFrame(self.membership, columns=self.labels)

    def cluster_summary(self) -> pd.DataFrame:
        """Per cluster: number of subsets and mean / median estimate and I²."""
        f = self.frame
        if (f["cluster"] < 0).all():
            raise ModelError("the GOSH cloud was not clustered; call gosh(..., cluster=True)")
        g = f.groupby("cluster")
        return pd.DataFrame(
            {
                "n_subsets": g.size(),
                "mean_estimate": g["estimate"].mean(),
                "median_estimate": g["estimate"].median(),
                "mean_i2": g["i2"].mean(),
                "median_i2": g["i2"].median(),
            }
        ).reset_index()

    def effect_influence(self) -> pd.DataFrame:
        """How over-represented each effect is in each cluster.

        Returns a frame ``label, cluster, share_in_cluster, share_overall, ratio``:
        the share of the cluster's subsets that include the effect, the share among
        all subsets, and their ratio (> 1: over-represented).
        """
        f = self.frame
        if (f["cluster"] < 0).all():
            raise ModelError("the GOSH cloud was not clustered; call gosh(..., cluster=True)")
        overall = self.membership.mean(0)
        rows = []
        for c in sorted(f["cluster"].unique()):
            sel = f["cluster"].to_numpy() == c
            share = self.membership[sel].mean(0)
            for lab, s, o in zip(self.labels, share, overall):
                rows.append((lab, int(c), float(s), float(o), float(s / o) if o > 0 else np.nan))
        return pd.DataFrame(
            rows, columns=["label", "cluster", "share_in_cluster", "share_overall", "ratio"]
        )

    def summary(self) -> str:
        f = self.frame
        lines = [
            f"{len(f)} {'(all) ' if self.exact else 'random '}subsets of k = {len(self.labels)} "
            f"({self.method}, test = {self.test}); {int(f['estimate'].isna().sum())} could not be fitted",
            f"estimate: median {f['estimate'].median():.4f}, range [{f['estimate'].min():.4f}, {f['estimate'].max():.4f}]",
            f"I^2: median {f['i2'].median():.2f}%, range [{f['i2'].min():.2f}, {f['i2'].max():.2f}]",
        ]
        if (f["cluster"] >= 0).any():
            return table_text("GOSH analysis", lines, self.cluster_summary())
        return "GOSH analysis\n" + "\n".join(lines)


def _popcount(codes: np.ndarray, k: int) -> np.ndarray:
    bits = (codes[:, None] >> np.arange(k, dtype=np.int64)) & 1
    return bits.sum(1)


def _codes_to_mask(codes: np.ndarray, k: int) -> np.ndarray:
    return ((codes[:, None] >> np.arange(k, dtype=np.int64)) & 1).astype(bool)


def _gosh_chunk(shared: dict, task: tuple) -> dict:
    """Fit one chunk of subsets: ``task = ("codes", codes)`` or ``("random", n, seed)``."""
    spec: ModelSpec = shared["spec"]
    k, p = spec.k, spec.p
    if task[0] == "codes":
        mask = _codes_to_mask(task[1], k)
    else:
        _, n, seed = task
        rng = np.random.default_rng(seed)
        sizes = np.arange(p, k + 1)
        prob = np.array([comb(k, m) for m in sizes], float)
        m = rng.choice(sizes, size=n, p=prob / prob.sum())
        u = rng.random((n, k))
        thresh = np.sort(u, axis=1)[np.arange(n), m - 1]
        mask = u <= thresh[:, None]
    st = refit_stats(spec, mask=mask)
    out = {
        "mask": mask,
        "k": mask.sum(1),
        "beta": st.beta,
        "se": st.se[:, 0],
        "q": st.q,
        "i2": st.i2,
        "h2": st.h2,
        "tau2": st.tau2,
    }
    if shared["dl_fast"]:
        # metafor's fast path for intercept-only DL models reports H² = Q / (k - 1)
        kk = out["k"].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["h2"] = np.where(kk > 1, st.q / (kk - 1), 1.0)
        out["h2"][~st.valid] = np.nan
    return out


def gosh(
    res: MetaResult,
    max_subsets: int = 10**6,
    seed: int | None = 0,
    cluster: bool | str = False,
    *,
    n_clusters: int | None = None,
    chunk_size: int = 20_000,
    engine="local",
    quiet: bool = False,
) -> GoshResult:
    """Fit the model to every subset of the effects (or a random sample of them).

    Parameters
    ----------
    res
        A model from :func:`rlmeta.meta_analysis` (with or without moderators).
    max_subsets
        Fit all ``sum_{m>=p} C(k, m)`` subsets when there are at most this many,
        else this many random subsets (metafor's default limit is 10^6).
    seed
        Seed of the random subsets and of the clustering.
    cluster
        False, True (= ``"kmeans"``), ``"kmeans"`` or ``"gmm"``: cluster the
        standardised (estimate, I²) cloud with scikit-learn.
    n_clusters
        Number of clusters (k-means default 3; the Gaussian mixture picks 1-5 by BIC
        when None).
    chunk_size
        Subsets per engine call (bounds memory; also the unit of Dask tasks).
    engine
        ``"local"``, ``"dask"``, a ``dask.distributed.Client`` or a scheduler address.
        Results are identical for every engine.
    quiet
        No progress bar.

    Returns
    -------
    GoshResult
        ``to_frame()`` columns ``estimate, se, i2, tau2, q, k, cluster`` (+ ``h2``,
        ``coef_<term>``); the subsets are in ``.membership``.

    Notes
    -----
    Matches ``metafor::gosh`` (all subsets, same row order) in
    ``tests/reference/make_golden_sens.R``.  Subsets that cannot be fitted (too few
    effects for the parameters, or a rank-deficient design) are NaN rows.

    Examples
    --------
    >>> import rlmeta as rm
    >>> d = rm.datasets.load_rl_llm_studies()
    >>> eff = rm.effect_sizes(d[d["study_id"] == "deepseekmath"], measure="RD")
    >>> g = rm.gosh(rm.meta_analysis(eff), quiet=True)
    >>> g.exact, len(g.to_frame()) == 2 ** len(eff) - 1
    (True, True)
    """
    res = require_result(res, "gosh")
    spec = ModelSpec.from_result(res)
    k, p = spec.k, spec.p
    if k == 1:
        raise ModelError("gosh() needs at least two effects (k = 1)")
    n_possible = float(sum(comb(k, m) for m in range(p, k + 1)))
    exact = n_possible <= max_subsets
    if exact and k > 62:  # pragma: no cover - would need > 4e18 subsets
        raise ModelError("too many effects for an exhaustive GOSH analysis")
    root = np.random.SeedSequence(seed)
    child_subsets, child_cluster = root.spawn(2)
    if exact:
        codes = np.arange(1, 2**k, dtype=np.int64)
        pc = _popcount(codes, k)
        codes = codes[pc >= p]
        codes = codes[np.argsort(pc[pc >= p], kind="stable")]
        tasks = [("codes", codes[s]) for s in chunk_slices(len(codes), chunk_size)]
    else:
        n = int(max_subsets)
        slices = chunk_slices(n, chunk_size)
        seeds = spawn_seeds(child_subsets, len(slices))
        tasks = [("random", s.stop - s.start, sd) for s, sd in zip(slices, seeds)]
    shared = {
        "spec": spec,
        "dl_fast": spec.method == "DL" and spec.intercept_only and spec.weights is None,
    }
    parts = map_chunks(
        _gosh_chunk, shared, tasks, engine=engine, description="GOSH subsets", quiet=quiet
    )
    cat = {key: np.concatenate([pt[key] for pt in parts]) for key in parts[0]}
    order = np.argsort(cat["k"], kind="stable") if not exact else np.arange(len(cat["k"]))
    cat = {key: val[order] for key, val in cat.items()}
    frame = pd.DataFrame(
        {
            "estimate": cat["beta"][:, 0],
            "se": cat["se"],
            "i2": cat["i2"],
            "tau2": cat["tau2"],
            "q": cat["q"],
            "k": cat["k"].astype(int),
            "cluster": -1,
            "h2": cat["h2"],
        }
    )
    for j, t in enumerate(res.terms[1:], start=1):
        frame[f"coef_{t}"] = cat["beta"][:, j]
    if cluster:
        frame["cluster"] = _cluster(frame, cluster, n_clusters, child_cluster)
    return GoshResult(
        frame,
        cat["mask"],
        list(res.labels),
        exact,
        n_possible,
        spec.method,
        spec.test,
        None if seed is None else int(seed) if np.isscalar(seed) else None,
    )


def _cluster(frame: pd.DataFrame, how, n_clusters, seed_seq) -> np.ndarray:
    method = "kmeans" if how is True else str(how).lower()
    if method not in ("kmeans", "gmm"):
        raise ModelError(f"cluster must be True, 'kmeans' or 'gmm', got {how!r}")
    from sklearn.preprocessing import StandardScaler

    pts = frame[["estimate", "i2"]].to_numpy()
    ok = np.isfinite(pts).all(1)
    labels = np.full(len(frame), -1, dtype=int)
    if ok.sum() < 2:
        return labels
    rs = int(seed_seq.generate_state(1)[0] % (2**31))
    sc = StandardScaler().fit(pts[ok])
    z = sc.transform(pts[ok])
    # fit on at most 50,000 points, then assign every point
    rng = np.random.default_rng(seed_seq)
    fit_idx = (
        rng.choice(len(z), size=min(len(z), 50_000), replace=False)
        if len(z) > 50_000
        else slice(None)
    )
    if method == "kmeans":
        from sklearn.cluster import KMeans

        model = KMeans(n_clusters=n_clusters or 3, n_init=10, random_state=rs).fit(z[fit_idx])
    else:
        from sklearn.mixture import GaussianMixture

        if n_clusters:
            model = GaussianMixture(n_components=n_clusters, random_state=rs).fit(z[fit_idx])
        else:
            fits = [
                GaussianMixture(n_components=c, random_state=rs).fit(z[fit_idx])
                for c in range(1, 6)
            ]
            model = min(fits, key=lambda m: m.bic(z[fit_idx]))
    labels[ok] = model.predict(z)
    return labels
