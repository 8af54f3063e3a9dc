"""Block-diagonal sampling covariance matrices (``V``) for dependent effects.

:func:`vcalc` builds ``V`` under a constant within-cluster correlation (metafor's
``vcalc`` with ``rho``); :class:`BlockV` stores it as one dense block per cluster, so a
fit never builds a ``k x k`` matrix.  :func:`as_block_v` turns the other accepted forms
of ``V`` (per-cluster blocks as a dict or list, a scipy sparse matrix, a small dense
matrix) into a :class:`BlockV`.

Examples
--------
>>> import pandas as pd
>>> d = pd.DataFrame({"vi": [0.1, 0.2, 0.3, 0.4], "comparison_id": ["a", "a", "a", "b"]})
>>> V = vcalc(d, rho=0.5)
>>> V.to_dense().round(4)
array([[0.1   , 0.0707, 0.0866, 0.    ],
       [0.0707, 0.2   , 0.1225, 0.    ],
       [0.0866, 0.1225, 0.3   , 0.    ],
       [0.    , 0.    , 0.    , 0.4   ]])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import DataWarning, ModelError

__all__ = ["BlockV", "vcalc", "as_block_v"]

#: Largest ``k`` for which a dense ``k x k`` V is accepted.
DENSE_V_MAX = 20_000


@dataclass(frozen=True)
class BlockV:
    """A block-diagonal ``k x k`` covariance matrix stored block by block.

    Attributes
    ----------
    k
        Number of rows (effects).
    index
        Row positions (0-based, in data order) of each block.
    blocks
        The dense blocks, ``blocks[i]`` of shape ``(len(index[i]), len(index[i]))``.
    labels
        The cluster value of each block (or None).
    """

    k: int
    index: tuple[np.ndarray, ...]
    blocks: tuple[np.ndarray, ...]
    labels: tuple | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.k, self.k)

    def diagonal(self) -> np.ndarray:
        """The sampling variances (diagonal of V)."""
        out = np.full(self.k, np.nan)
        for r, b in zip(self.index, self.blocks):
            out[r] = np.diagonal(b)
        return out

    def to_dense(self) -> np.ndarray:
        """V as a dense array (only for small k)."""
        if self.k > DENSE_V_MAX:
            raise ModelError(
                f"V has k = {self.k} rows; a dense copy needs {self.k**2 * 8 / 1e9:.1f} GB (use to_sparse())"
            )
        out = np.zeros((self.k, self.k))
        for r, b in zip(self.index, self.blocks):
            out[np.ix_(r, r)] = b
        return out

    def to_sparse(self) -> sp.csr_matrix:
        """V as a scipy sparse CSR matrix."""
        rows, cols, vals = [], [], []
        for r, b in zip(self.index, self.blocks):
            rows.append(np.repeat(r, len(r)))
            cols.append(np.tile(r, len(r)))
            vals.append(b.ravel())
        if not rows:
            return sp.csr_matrix((self.k, self.k))
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=self.shape
        )

    def subset(self, rows: np.ndarray) -> BlockV:
        """V restricted to ``rows`` (positions, in the new order)."""
        rows = np.asarray(rows, dtype=np.int64)
        newpos = np.full(self.k, -1, dtype=np.int64)
        newpos[rows] = np.arange(len(rows))
        idx, blocks, labels = [], [], []
        for i, (r, b) in enumerate(zip(self.index, self.blocks)):
            keep = newpos[r] >= 0
            if not keep.any():
                continue
            idx.append(newpos[r][keep])
            blocks.append(b[np.ix_(keep, keep)])
            if self.labels is not None:
                labels.append(self.labels[i])
        return BlockV(
            len(rows), tuple(idx), tuple(blocks), tuple(labels) if self.labels is not None else None
        )

    def nontrivial(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Blocks with more than one row, as ``(rows, matrix)`` pairs."""
        return [(r, b) for r, b in zip(self.index, self.blocks) if len(r) > 1]

    def __repr__(self) -> str:
        sizes = [len(r) for r in self.index]
        return f"BlockV(k={self.k}, blocks={len(sizes)}, largest={max(sizes) if sizes else 0})"


def vcalc(
    data: pd.DataFrame,
    vi: str = "vi",
    cluster: str = "comparison_id",
    rho: float = 0.5,
    obs: str | None = None,
    *,
    checkpd: bool = True,
) -> BlockV:
    """Sampling covariance of dependent effects under a constant correlation.

    Effects ``i`` and ``j`` in the same cluster get covariance ``rho * sqrt(vi * vj)``;
    effects in different clusters are independent.

    Parameters
    ----------
    data
        Effects table.
    vi
        Column of sampling variances.
    cluster
        Column identifying clusters of dependent effects (e.g. ``comparison_id``:
        several benchmarks scored on the same pair of models).
    rho
        Assumed correlation of the sampling errors within a cluster, in ``[-1, 1]``.
    obs
        Optional column distinguishing different observations within a cluster; two
        rows of the same cluster with the *same* ``obs`` value are treated as the same
        observation (correlation 1), as in metafor.  Without ``obs`` every row is a
        different observation, which is metafor's ``vcalc(vi, cluster, obs=row, rho)``
        (metafor's own default without ``obs`` is correlation 1).
    checkpd
        Warn (:class:`~rlmeta.errors.DataWarning`) about blocks that are not positive
        definite (as metafor).

    Returns
    -------
    BlockV
        Usable as ``V=`` in :func:`rlmeta.meta_analysis`; ``.to_dense()`` for small k.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"vi": [0.04, 0.09, 0.01], "cluster": [1, 1, 2]})
    >>> V = vcalc(d, cluster="cluster", rho=0.6)
    >>> float(V.to_dense()[0, 1])
    0.036
    """
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    for col in [vi, cluster] + ([obs] if obs else []):
        if col not in data.columns:
            raise ModelError(f"vcalc: column {col!r} not found in the data")
    rho = float(rho)
    if not -1 <= rho <= 1:
        raise ModelError(f"vcalc: rho must be in [-1, 1], got {rho}")
    v = pd.to_numeric(data[vi], errors="coerce").to_numpy(float)
    cl = data[cluster]
    if cl.isna().any():
        rows = (np.flatnonzero(cl.isna().to_numpy()) + 1).tolist()[:8]
        raise ModelError(f"vcalc: missing values in the cluster column {cluster!r} (rows {rows})")
    codes, uniq = pd.factorize(cl, sort=False)
    ob = None
    if obs is not None:
        if data[obs].isna().any():
            raise ModelError(f"vcalc: missing values in the obs column {obs!r}")
        ob = pd.factorize(data[obs])[0]
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    index, blocks, bad = [], [], []
    sd = np.sqrt(v)
    for rows in np.split(order, bounds):
        if len(rows) == 0:
            continue
        s = sd[rows]
        R = np.full((len(rows), len(rows)), rho)
        if ob is not None:
            R[ob[rows][:, None] == ob[rows][None, :]] = 1.0
        np.fill_diagonal(R, 1.0)
        B = R * np.outer(s, s)
        index.append(rows)
        blocks.append(B)
        if (
            checkpd
            and len(rows) > 1
            and np.all(np.isfinite(B))
            and np.linalg.eigvalsh(B).min() <= 0
        ):
            lab = uniq[codes[rows[0]]]
            bad.append(lab.item() if isinstance(lab, np.generic) else lab)
    if bad:
        warnings.warn(
            f"vcalc: the var-cov matrix is not positive definite in cluster(s) {bad[:8]}",
            DataWarning,
            stacklevel=2,
        )
    labels = tuple(uniq[codes[r[0]]] for r in index)
    return BlockV(len(data), tuple(index), tuple(blocks), labels)


def _components(M: sp.spmatrix, k: int) -> BlockV:
    M = sp.csr_matrix(M)
    if M.shape != (k, k):
        raise ModelError(
            f"V must be {k} x {k} (one row per effect), got {M.shape[0]} x {M.shape[1]}"
        )
    if abs(M - M.T).max() > 1e-10 * max(abs(M).max(), 1e-300):
        raise ModelError("V must be symmetric")
    pattern = M.copy()
    pattern.data = np.ones_like(pattern.data)
    _, lab = connected_components(pattern, directed=False)
    order = np.argsort(lab, kind="stable")
    bounds = np.flatnonzero(np.diff(lab[order])) + 1
    index, blocks = [], []
    for rows in np.split(order, bounds):
        index.append(rows)
        blocks.append(M[rows][:, rows].toarray())
    return BlockV(k, tuple(index), tuple(blocks))


def as_block_v(V, k: int, *, cluster_values: pd.Series | None = None) -> BlockV:
    """Turn the accepted forms of ``V`` into a :class:`BlockV` with ``k`` rows.

    ``V`` may be a :class:`BlockV`; a dict ``{cluster value: block}`` or a list of
    blocks in order of first appearance of the clusters (both need
    ``cluster_values``, the cluster of each row); a scipy sparse matrix; a dense
    ``k x k`` array or DataFrame (k up to :data:`DENSE_V_MAX`); or a vector of
    sampling variances.
    """
    if isinstance(V, BlockV):
        if V.k != k:
            raise ModelError(f"V has {V.k} rows but the data have {k} effects")
        return V
    if sp.issparse(V):
        return _components(V, k)
    if isinstance(V, dict | list | tuple):
        if cluster_values is None:
            raise ModelError(
                "V given per cluster (dict or list of blocks) needs cluster= naming the block column"
            )
        codes, uniq = pd.factorize(cluster_values, sort=False)
        if (codes < 0).any():
            raise ModelError("the cluster column of V has missing values")
        rows_of = [np.flatnonzero(codes == g) for g in range(len(uniq))]
        if isinstance(V, dict):
            missing = [u for u in uniq if u not in V]
            if missing:
                raise ModelError(f"V has no block for cluster(s) {list(missing)[:8]}")
            mats = [np.atleast_2d(np.asarray(V[u], float)) for u in uniq]
        else:
            if len(V) != len(uniq):
                raise ModelError(f"V has {len(V)} blocks but the data have {len(uniq)} clusters")
            mats = [np.atleast_2d(np.asarray(b, float)) for b in V]
        for u, r, b in zip(uniq, rows_of, mats):
            if b.shape != (len(r), len(r)):
                raise ModelError(
                    f"V block of cluster {u!r} is {b.shape[0]} x {b.shape[1]}, expected {len(r)} x {len(r)}"
                )
            if not np.allclose(b, b.T, rtol=1e-10, atol=1e-14):
                raise ModelError(f"V block of cluster {u!r} is not symmetric")
        return BlockV(k, tuple(rows_of), tuple(mats), tuple(uniq))
    arr = np.asarray(V.to_numpy() if isinstance(V, pd.DataFrame) else V, dtype=float)
    if arr.ndim == 1:
        if len(arr) != k:
            raise ModelError(f"V has {len(arr)} variances but the data have {k} effects")
        return BlockV(k, tuple(np.arange(k)[:, None]), tuple(arr[:, None, None]))
    if k > DENSE_V_MAX:
        raise ModelError(
            f"a dense V with k = {k} rows is too large; pass a BlockV (rm.vcalc) or a scipy sparse matrix"
        )
    return _components(sp.csr_matrix(arr), k)
