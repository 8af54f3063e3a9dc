"""Cluster-robust (sandwich) variance estimators with small-sample corrections.

CR2 (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018, *J Bus Econ Stat* 36:672,
doi:10.1080/07350015.2016.1247004): the residuals of cluster ``j`` are multiplied by
``A_j = D_j' B_j^{-1/2} D_j``, ``Theta_j = D_j' D_j`` the working covariance and
``B_j = D_j (I - H)_jj Theta_j (I - H)_jj' D_j'`` (for the inverse-variance case
``(I - H)_jj Theta_j = Theta_j - X_j M X_j'``); the estimator is unbiased under the
working model.  Degrees of freedom: Satterthwaite for single coefficients and the
Hotelling-T² approximation with Zhang's df ("HTZ") for several, both from the
covariance of the estimator's quadratic forms under the working model (PT2018,
Sections 3.2-3.3).

Why hand-written: clubSandwich (R) is the reference; no Python package has CR2 with
these df.  Every cross-cluster sum is reduced to ``p x p`` aggregates, so the cost is
one dense ``n_j x n_j`` eigendecomposition per cluster plus ``O(J p^4)``.

Notation: for a hypothesis matrix ``C`` (q x p) the covariance of the robust variance's
entries under the working model is ``B_jh[s, t] = delta_jh G_j G_j' + a_j b_h'`` (after
normalising by the expected value ``Omega``), with the per-cluster ``G_j`` and the
low-rank cross terms ``a_j, b_h`` built in :func:`cr2_parts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ClusterBatch", "SandwichParts", "cr2_parts", "cr_vcov", "htz_df", "matrix_power_sym"]


@dataclass
class ClusterBatch:
    """Clusters of one size ``n``: rows ``(G, n)``, working covariance and weights ``(G, n, n)``."""

    rows: np.ndarray
    theta: np.ndarray
    W: np.ndarray


def matrix_power_sym(S: np.ndarray, power: float, tol: float = 1e-12) -> np.ndarray:
    """Symmetric matrix power through the eigendecomposition (batched over leading axes);
    eigenvalues at or below ``tol`` times the matrix's largest one are treated as zero (a
    pseudo-inverse power).

    The threshold is relative (clubSandwich's is an absolute 1e-12): ``B_j`` scales with
    the fourth power of the effects' scale, so with small sampling variances (effects on
    a 0-0.01 scale) an absolute threshold discards genuine eigenvalues and the CR2 standard
    error and df change with the units of the data.
    """
    vals, vecs = np.linalg.eigh((S + np.swapaxes(S, -1, -2)) / 2)
    thr = tol * np.max(np.abs(vals), axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        vp = np.where(vals > thr, np.abs(vals) ** power, 0.0)
    return np.einsum("...ij,...j,...kj->...ik", vecs, vp, vecs)


@dataclass
class SandwichParts:
    """Pieces of a CR2/CR1/CR0 fit shared by the variance and the df computations."""

    M: np.ndarray  # bread (X'WX)^-1
    contrib: np.ndarray  # (J, p): M^-1-free estimating contributions E_j e_j
    G: list[np.ndarray]  # per batch (Gb, p, n): M E_j L_j
    a: np.ndarray | None  # (J, p, r): cross terms (left)
    b: np.ndarray | None  # (J, p, r): cross terms (right)
    cluster_index: np.ndarray  # (J,) order of clusters in contrib / a / b

    @property
    def vcov(self) -> np.ndarray:
        meat = self.contrib.T @ self.contrib
        return self.M @ meat @ self.M


def cr2_parts(
    X: np.ndarray,
    e: np.ndarray,
    batches: list[ClusterBatch],
    order: np.ndarray,
    *,
    inverse_var: bool,
    adjust: str = "CR2",
) -> SandwichParts:
    """Adjusted estimating contributions (and the pieces for the df) per cluster.

    Parameters
    ----------
    X, e
        Design and residuals (rows in data order).
    batches
        Clusters grouped by size, each with its working covariance ``theta`` and
        weights ``W`` (``W = theta^-1`` when ``inverse_var``).
    order
        Cluster id of each batch row, concatenated over batches (to index outputs).
    inverse_var
        Whether ``W`` is the inverse of the working covariance (clubSandwich's
        ``inverse_var``), which simplifies ``B_j``.
    adjust
        ``"CR2"`` (adjusted) or ``"CR0"`` (no adjustment; df pieces still computed).
    """
    p = X.shape[1]
    XtWX = np.zeros((p, p))
    for b in batches:
        Xb = X[b.rows]
        XtWX += np.einsum("gip,gij,gjq->pq", Xb, b.W, Xb)
    M = np.linalg.inv((XtWX + XtWX.T) / 2)
    Mc = np.linalg.cholesky(M)
    if not inverse_var:
        UWTWU = np.zeros((p, p))
        for b in batches:
            XW = np.einsum("gip,gij->gjp", X[b.rows], b.W)
            UWTWU += np.einsum("gip,gij,gjq->pq", XW, b.theta, XW)
        MTM = M @ UWTWU @ M
        Oc = np.linalg.cholesky((MTM + MTM.T) / 2)
    J = sum(len(b.rows) for b in batches)
    contrib = np.zeros((J, p))
    a_list, b_list, G_out = [], [], []
    start = 0
    for b in batches:
        Gn, n = b.rows.shape
        Xb = X[b.rows]  # (G, n, p)
        eb = e[b.rows]
        L = np.linalg.cholesky(b.theta)  # theta = L L'
        XW = np.einsum("gip,gij->gjp", Xb, b.W)  # W X (G, n, p)
        if adjust == "CR2":
            if inverse_var:
                inner = b.theta - np.einsum("gip,pq,gjq->gij", Xb, M, Xb)
            else:
                H = np.einsum("gip,pq,gjq->gij", Xb, M, XW)  # X M X'W
                HT = np.einsum("gij,gjk->gik", H, b.theta)
                inner = (
                    b.theta - HT - np.swapaxes(HT, 1, 2) + np.einsum("gip,pq,gjq->gij", Xb, MTM, Xb)
                )
            Bj = np.einsum("gji,gjk,gkl->gil", L, inner, L)  # L' inner L
            A = np.einsum("gij,gjk,glk->gil", L, matrix_power_sym(Bj, -0.5), L)  # L B^-1/2 L'
            E = np.einsum("gjp,gjk->gpk", XW, A)  # X'W A  (G, p, n)
        else:
            E = np.swapaxes(XW, 1, 2)
        idx = order[start : start + Gn]
        contrib[idx] = np.einsum("gpk,gk->gp", E, eb)
        ME = np.einsum("pq,gqk->gpk", M, E)
        G_out.append((idx, np.einsum("gpk,gkl->gpl", ME, L)))
        MEX = np.einsum("gpk,gkq->gpq", ME, Xb)
        if inverse_var:
            h = MEX @ Mc
            a_list.append((idx, -h))
            b_list.append((idx, h))
        else:
            h1 = MEX @ Mc
            TWX = np.einsum("gij,gjp->gip", b.theta, XW)
            h2 = np.einsum("gpk,gkq->gpq", ME, TWX) @ Mc
            h3 = MEX @ Oc
            a_list.append((idx, np.concatenate([h3, -h1, -h2], axis=2)))
            b_list.append((idx, np.concatenate([h3, h2, h1], axis=2)))
        start += Gn
    r = a_list[0][1].shape[2]
    a = np.zeros((J, p, r))
    bb = np.zeros((J, p, r))
    for (idx, av), (_, bv) in zip(a_list, b_list):
        a[idx] = av
        bb[idx] = bv
    return SandwichParts(M=M, contrib=contrib, G=G_out, a=a, b=bb, cluster_index=np.arange(J))


def cr_vcov(parts: SandwichParts, scale: float = 1.0) -> np.ndarray:
    """The sandwich ``M (sum_j c_j c_j') M`` times ``scale`` (CR1's ``J / (J - p)``)."""
    return parts.vcov * scale


def htz_df(parts: SandwichParts, C: np.ndarray) -> float:
    """Degrees of freedom ``nu`` of the HTZ test of ``C beta = 0`` (q = 1: Satterthwaite).

    ``nu = q (q + 1) / sum_{s,t} Var(D_st)``, ``D = Omega^-1/2 C V^CR C' Omega^-1/2``,
    with the variances of the quadratic forms under the working model (Gaussian errors).
    """
    C = np.atleast_2d(C)
    q = C.shape[0]
    # per-cluster Gamma_j = (C G_j)(C G_j)'
    J = parts.a.shape[0]
    Gam = np.zeros((J, q, q))
    for idx, Gb in parts.G:
        CG = np.einsum("sp,gpl->gsl", C, Gb)
        Gam[idx] = np.einsum("gsl,gtl->gst", CG, CG)
    ca = np.einsum("sp,jpr->jsr", C, parts.a)
    cb = np.einsum("sp,jpr->jsr", C, parts.b)
    Omega = Gam.sum(0) + np.einsum("jsr,jtr->st", ca, cb)
    On = matrix_power_sym(Omega, -0.5)
    Gam = np.einsum("st,jtu,uv->jsv", On, Gam, On)
    ca = np.einsum("st,jtr->jsr", On, ca)
    cb = np.einsum("st,jtr->jsr", On, cb)
    # sum_jh tr(B_jh B_jh) with B_jh = delta Gam_j + ca_j cb_h'
    ab_jj = np.einsum("jsr,jtr->jst", ca, cb)  # ca_j cb_j'
    tr_sq = np.einsum("jst,jts->", Gam, Gam) + 2 * np.einsum("jst,jts->", Gam, ab_jj)
    TA = np.einsum("jsc,jtd->sctd", ca, ca)
    TB = np.einsum("jtc,jsd->tcsd", cb, cb)
    tr_sq += np.einsum("sctd,tcsd->", TA, TB)
    # sum_jh (tr B_jh)^2
    tg = np.einsum("jss->j", Gam)
    dab = np.einsum("jsr,jsr->j", ca, cb)
    va = ca.reshape(J, -1)
    vb = cb.reshape(J, -1)
    sq_tr = (tg**2).sum() + 2 * (tg * dab).sum() + np.sum((va.T @ va) * (vb.T @ vb))
    total = tr_sq + sq_tr
    return float(q * (q + 1) / total)
