"""Shared helpers and test doubles for the plot tests (structure, not pixels)."""

from __future__ import annotations

import copy
import itertools

import matplotlib as mpl
import matplotlib.text as mtext
import numpy as np
import pandas as pd


def drawn_texts(fig) -> list:
    """Text artists that are actually drawn (visible, non-empty, inside visible parents)."""
    drawn = []
    orig = mtext.Text.draw

    def spy(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return orig(self, renderer)

    mtext.Text.draw = spy
    try:
        fig.canvas.draw()
    finally:
        mtext.Text.draw = orig
    return drawn


def _oriented_box(t, renderer, tol):
    """Corners (4, 2) in pixels of a text's rendered box, following its rotation."""
    bb = t.get_window_extent(renderer)
    angle = np.deg2rad(t.get_rotation())
    c = np.array([(bb.x0 + bb.x1) / 2, (bb.y0 + bb.y1) / 2])
    if abs(np.sin(angle)) < 1e-9:
        w, h = bb.width, bb.height
    else:  # the axis-aligned box of a rotated rectangle is centred on it; get its own size
        t0 = copy.copy(t)
        t0.set_rotation(0)
        b0 = t0.get_window_extent(renderer)
        w, h = b0.width, b0.height
    w, h = max(w - 2 * tol, 0), max(h - 2 * tol, 0)
    u = np.array([np.cos(angle), np.sin(angle)])
    v = np.array([-np.sin(angle), np.cos(angle)])
    return np.array(
        [c + sx * w / 2 * u + sy * h / 2 * v for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    )


def _sat_overlap(p, q) -> bool:
    """Separating-axis test for two convex quadrilaterals."""
    for poly in (p, q):
        for i in range(4):
            edge = poly[(i + 1) % 4] - poly[i]
            axis = np.array([-edge[1], edge[0]])
            if not axis.any():
                continue
            a, b = p @ axis, q @ axis
            if a.max() <= b.min() or b.max() <= a.min():
                return False
    return True


def overlapping_texts(fig, tol: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose rendered boxes intersect (by more than ``tol`` px).

    Boxes follow the text rotation (rotated tick labels are compared as rotated
    rectangles, not by their axis-aligned extents).
    """
    texts = drawn_texts(fig)
    r = fig.canvas.get_renderer()
    boxes = [(_oriented_box(t, r, tol), t.get_text()) for t in texts]
    bad = []
    for (pa, ta), (pb, tb) in itertools.combinations(boxes, 2):
        if _sat_overlap(pa, pb):
            bad.append((ta, tb))
    return bad


def rc_snapshot() -> dict:
    return {k: repr(v) for k, v in mpl.rcParams.items()}


def by_gid(ax, gid: str, kind: str = "any") -> list:
    """Children of ``ax`` whose gid equals ``gid``."""
    return [a for a in ax.get_children() if a.get_gid() == gid]


def n_points(ax, gid: str) -> int:
    return sum(len(c.get_offsets()) for c in by_gid(ax, gid))


def n_segments(ax, gid: str) -> int:
    return sum(len(c.get_segments()) for c in by_gid(ax, gid))


class MultilevelDouble:
    """A stand-in for a multilevel result: behaves like MetaResult, but its weights come
    from the model (row sums of W), not from 1/(vi + tau2) (metafor#52)."""

    def __init__(self, res, weights):
        self._res = res
        self._w = np.asarray(weights, float)
        self.random = "study_id/comparison_id"
        self.sigma2 = [0.004, 0.002]

    def weights_percent(self):
        return 100 * self._w / self._w.sum()

    def __getattr__(self, name):
        return getattr(self._res, name)


def loo_frame(k: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    est = rng.normal(0.08, 0.01, k)
    return pd.DataFrame(
        {
            "left_out": [f"effect {i}" for i in range(k)],
            "k": k - 1,
            "estimate": est,
            "se": 0.01,
            "ci_low": est - 0.02,
            "ci_high": est + 0.02,
            "tau2": rng.uniform(0.001, 0.002, k),
            "i2": rng.uniform(50, 90, k),
        }
    )


def cumulative_frame(k: int = 6) -> pd.DataFrame:
    est = np.linspace(0.2, 0.1, k)
    half = 0.2 / np.sqrt(np.arange(1, k + 1))
    return pd.DataFrame(
        {
            "label": [f"study {i}" for i in range(k)],
            "order_value": 2020 + np.arange(k),
            "k": np.arange(1, k + 1),
            "estimate": est,
            "se": half / 1.96,
            "ci_low": est - half,
            "ci_high": est + half,
            "tau2": 0.001,
            "i2": np.linspace(0, 60, k),
        }
    )


def influence_frame(k: int = 15, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    infl = np.zeros(k, bool)
    infl[[2, 7]] = True
    return pd.DataFrame(
        {
            "label": [f"e{i}" for i in range(k)],
            "rstudent": rng.normal(size=k),
            "dffits": rng.normal(0, 0.3, k),
            "cooks_d": rng.gamma(1, 0.05, k),
            "cov_r": rng.normal(1, 0.05, k),
            "tau2_del": rng.normal(0.01, 0.001, k),
            "qe_del": rng.normal(30, 3, k),
            "hat": np.full(k, 1 / k),
            "weight": np.full(k, 100 / k),
            "influential": infl,
            "dfbetas_intercept": rng.normal(0, 0.3, k),
        }
    )


def baujat_frame(k: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "label": [f"effect number {i}" for i in range(k)],
            "x": rng.gamma(2, 3, k),
            "y": rng.gamma(2, 0.1, k),
        }
    )


def gosh_frame(n: int = 3000, seed: int = 0, cluster: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = pd.DataFrame(
        {
            "estimate": rng.normal(0.08, 0.01, n),
            "i2": rng.uniform(40, 99, n),
            "tau2": rng.uniform(0, 0.01, n),
            "q": rng.uniform(10, 100, n),
            "k": 10,
        }
    )
    if cluster:
        g["cluster"] = np.where(g["estimate"] > 0.08, "high", "low")
    return g


def spec_frame(seed: int = 0) -> pd.DataFrame:
    rows = list(
        itertools.product(["REML", "DL", "PM"], ["z", "knha"], ["all", "no judge", "peer-reviewed"])
    )
    f = pd.DataFrame(rows, columns=["method", "test", "subset"])
    rng = np.random.default_rng(seed)
    f["spec_id"] = range(len(f))
    f["estimate"] = rng.normal(0.05, 0.04, len(f))
    f["ci_low"], f["ci_high"] = f["estimate"] - 0.04, f["estimate"] + 0.04
    f["pval"] = 0.03
    f["k"] = 40
    f["significant"] = (f["ci_low"] > 0) | (f["ci_high"] < 0)
    return f


def sweep_frame() -> pd.DataFrame:
    rows = []
    for test in ("z", "knha"):
        for i, m in enumerate(("REML", "DL", "PM", "EB")):
            rows.append(
                {
                    "method": m,
                    "test": test,
                    "estimate": 0.08 + 0.001 * i,
                    "se": 0.009,
                    "ci_low": 0.062 + 0.001 * i,
                    "ci_high": 0.098 + 0.001 * i,
                    "tau2": 0.0099 - 0.0003 * i,
                    "i2": 99.0,
                }
            )
    return pd.DataFrame(rows)


def pca_result(n: int = 25, p: int = 5, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X -= X.mean(0)
    u, s, vt = np.linalg.svd(X, full_matrices=False)
    names = [f"PC{i + 1}" for i in range(p)]
    return {
        "explained_variance_ratio": s**2 / np.sum(s**2),
        "loadings": pd.DataFrame(vt.T, index=[f"feature_{j}" for j in range(p)], columns=names),
        "scores": pd.DataFrame(u * s, index=[f"row {i}" for i in range(n)], columns=names),
    }
