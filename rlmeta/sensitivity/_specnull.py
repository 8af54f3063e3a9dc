"""Inference for a whole specification curve under the null (Simonsohn et al. 2020).

Two resampling schemes, both batched through the engine and run in chunks of
iterations with per-chunk seeds (identical results on every engine):

``"bootstrap"`` (specr's ``boot_null``)
    For every specification the null is imposed by subtracting its own estimate
    from its effects (``y* = y - b_s``); then resampling units (clusters such as
    studies, or single effects) are drawn with replacement, the same draw for all
    specifications of an iteration, and every specification is refitted to its
    shifted effects in the resample.
``"sign-flip"``
    Under the sharp null that every true effect is 0 and the effects are
    symmetric about 0, the signs of whole resampling units can be flipped; every
    specification is refitted to the flipped effects (no shift, same sample).

Each null curve is summarised by the median estimate, the share of specifications
significant in the observed dominant direction, and Stouffer's Z of the one-sided
p-values in that direction; p-values are ``(1 + b) / (1 + n)`` with ``b`` the number of
the ``n`` null curves at least as extreme as the observed one (one-sided in the
dominant direction).  Outlier rules keep the exclusions found on the
observed data; specifications fitted outside the batched engine (multilevel,
CR2) are not part of the test.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, fmt_p, jsonable
from ._batch import refit_stats

__all__ = ["CurveNullTest", "null_chunk", "curve_stats"]


@dataclass(frozen=True)
class CurveNullTest(ResultMixin):
    """Test of a specification curve against curves simulated under the null.

    Attributes
    ----------
    kind
        ``"bootstrap"`` or ``"sign-flip"``.
    n_iter
        Number of null curves.
    n_specs
        Specifications in the test.
    direction
        Dominant direction of the observed curve (+1 or -1).
    observed
        ``{"median": ..., "share_significant": ..., "stouffer_z": ...}``.
    pval
        The same keys: share of null curves at least as extreme.
    null_stats
        Frame with one row per null curve: ``median, share_significant, stouffer_z``.
    null_curves
        ``(n_iter, n_specs)`` sorted estimates of each null curve (for plotting
        quantile bands under the observed curve).
    unit, seed
        Resampling unit and seed.
    """

    kind: str
    n_iter: int
    n_specs: int
    direction: int
    observed: dict
    pval: dict
    null_stats: pd.DataFrame
    null_curves: np.ndarray
    unit: str
    seed: int | None

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "statistic": list(self.observed),
                "observed": list(self.observed.values()),
                "pval": [self.pval[k] for k in self.observed],
            }
        )

    def to_dict(self) -> dict:
        return jsonable(
            {
                "kind": self.kind,
                "n_iter": self.n_iter,
                "n_specs": self.n_specs,
                "direction": self.direction,
                "observed": self.observed,
                "pval": self.pval,
                "unit": self.unit,
                "seed": self.seed,
            }
        )

    def summary(self) -> str:
        o, p = self.observed, self.pval
        return "\n".join(
            [
                f"Specification-curve test under the null ({self.kind}, {self.n_iter} curves, resampling {self.unit}; "
                f"{self.n_specs} specifications; direction {'+' if self.direction > 0 else '-'})",
                f"median estimate      {o['median']:.4f}   p = {fmt_p(p['median'])}",
                f"share significant    {o['share_significant']:.4f}   p = {fmt_p(p['share_significant'])}",
                f"Stouffer's Z         {o['stouffer_z']:.4f}   p = {fmt_p(p['stouffer_z'])}",
            ]
        )


def curve_stats(
    est: np.ndarray, pval: np.ndarray, sig: np.ndarray, direction: int
) -> dict[str, np.ndarray]:
    """Median, share significant in ``direction`` and Stouffer's Z per curve (rows)."""
    est = np.atleast_2d(est)
    pval = np.atleast_2d(pval)
    sig = np.atleast_2d(sig)
    with np.errstate(invalid="ignore"):
        med = np.nanmedian(est, axis=1)
        n = np.sum(~np.isnan(est), axis=1)
        share = np.sum(sig & (np.sign(est) == direction), axis=1) / np.maximum(n, 1)
        same = np.sign(est) == direction
        p1 = np.where(same, pval / 2, 1 - pval / 2)
        z = stats.norm.isf(np.clip(p1, 1e-300, 1 - 1e-16))
        stouffer = np.nansum(z, axis=1) / np.sqrt(np.maximum(n, 1))
    return {"median": med, "share_significant": share, "stouffer_z": stouffer}


def null_chunk(shared: dict, task: tuple) -> dict:
    """Null curves for ``n`` iterations: estimates and p-values ``(n, n_specs)``."""
    n, seed = task
    rng = np.random.default_rng(seed)
    n_units = shared["n_units"]
    kind = shared["kind"]
    n_specs = shared["n_specs"]
    est = np.full((n, n_specs), np.nan)
    pv = np.full((n, n_specs), np.nan)
    if kind == "bootstrap":
        counts = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n)
    else:
        flips = rng.choice(np.array([-1.0, 1.0]), size=(n, n_units))
    for es in shared["sets"]:
        spec, units = es["spec"], es["units"]
        if kind == "bootstrap":
            rep = counts[:, units]  # (n, k)
            K = int(rep.sum(1).max())
            idx = np.zeros((n, max(K, 1)), dtype=int)
            valid = np.zeros((n, max(K, 1)), dtype=bool)
            for b in range(n):
                rows = np.repeat(np.arange(spec.k), rep[b])
                idx[b, : len(rows)] = rows
                valid[b, : len(rows)] = True
            sub = replace(
                spec,
                yi=np.zeros(idx.shape[1]),
                vi=np.ones(idx.shape[1]),
                X=np.ones((idx.shape[1], 1)),
            )
        for g in es["groups"]:
            masks, theta, cols = g["masks"], g["theta"], g["cols"]  # (S, k), (S,), (S,)
            S = len(theta)
            if kind == "bootstrap":
                y = spec.yi[idx][:, None, :] - theta[None, :, None]  # (n, S, K)
                v = np.broadcast_to(spec.vi[idx][:, None, :], y.shape)
                m = masks[:, idx].transpose(1, 0, 2) & valid[:, None, :]
                st = refit_stats(
                    sub,
                    y=y.reshape(n * S, -1),
                    v=v.reshape(n * S, -1),
                    mask=m.reshape(n * S, -1),
                    method=g["method"],
                    test=g["test"],
                )
            else:
                yf = spec.yi[None, :] * flips[:, units]  # (n, k)
                y = np.broadcast_to(yf[:, None, :], (n, S, spec.k))
                m = np.broadcast_to(masks[None], (n, S, spec.k))
                st = refit_stats(
                    spec,
                    y=y.reshape(n * S, -1),
                    mask=m.reshape(n * S, -1),
                    method=g["method"],
                    test=g["test"],
                )
            est[:, cols] = st.beta[:, 0].reshape(n, S)
            pv[:, cols] = st.pval[:, 0].reshape(n, S)
    return {"estimate": est, "pval": pv}
