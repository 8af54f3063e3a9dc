"""Points and contour regions of a (contour-enhanced) funnel plot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, jsonable
from ._common import check_result as _check
from .trimfill import TrimFillResult


@dataclass(frozen=True)
class FunnelData(ResultMixin):
    """Points and regions of a (contour-enhanced) funnel plot.

    Attributes
    ----------
    frame
        Points: ``yi, sei, label`` (plus ``filled`` for trim-and-fill results).
        For meta-regression models ``yi`` holds the residuals (as metafor's funnel).
    se_grid
        Standard errors from 0 to the largest ``sei`` (plus 5 %), where the
        regions are evaluated.
    contours
        ``{level: (low, high)}``: bounds ``refline ± z_(1+level)/2 · se`` of the
        significance contours (default levels 0.90, 0.95, 0.99 around 0).
    center, funnel_low, funnel_high
        The pooled estimate and the pseudo-confidence region ``center ± z · se`` at
        the model's level.
    refline
        Centre of the contours (0: significance of single effects).
    """

    frame: pd.DataFrame
    se_grid: np.ndarray
    contours: dict
    center: float
    funnel_low: np.ndarray
    funnel_high: np.ndarray
    refline: float
    level: float

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def contour_frame(self) -> pd.DataFrame:
        """Contours in long form: ``level, sei, low, high``."""
        parts = [
            pd.DataFrame({"level": lvl, "sei": self.se_grid, "low": lo, "high": hi})
            for lvl, (lo, hi) in self.contours.items()
        ]
        return pd.concat(parts, ignore_index=True)

    def to_dict(self) -> dict:
        return jsonable(
            {
                "points": self.frame,
                "center": self.center,
                "refline": self.refline,
                "level": self.level,
                "se_grid": self.se_grid,
                "contours": {str(k): {"low": v[0], "high": v[1]} for k, v in self.contours.items()},
                "funnel": {"low": self.funnel_low, "high": self.funnel_high},
            }
        )

    def summary(self) -> str:
        return (
            f"Funnel data: {len(self.frame)} points, centre {self.center:.4f}, contours at "
            f"{', '.join(f'{lv:g}' for lv in self.contours)} around {self.refline:g}"
        )


def funnel_data(
    res, *, levels=(0.90, 0.95, 0.99), refline: float = 0.0, n_grid: int = 100
) -> FunnelData:
    """Points and contour regions for a (contour-enhanced) funnel plot.

    Parameters
    ----------
    res
        A model from :func:`rlmeta.meta_analysis`, or a :class:`TrimFillResult`
        (the filled effects are included and flagged).
    levels
        Confidence levels of the significance contours.
    refline
        Centre of the contours (0 shows where single effects are significant).
    n_grid
        Number of standard-error grid points.

    Returns
    -------
    FunnelData
        ``to_frame()`` columns ``yi, sei, label`` (+ ``filled``); contours in
        ``.contours`` / ``.contour_frame()``.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> fd = rm.funnel_data(rm.meta_analysis(eff))
    >>> list(fd.to_frame().columns), sorted(fd.contours)
    (['yi', 'sei', 'label'], [0.9, 0.95, 0.99])
    """
    filled = None
    if isinstance(res, TrimFillResult):
        filled = res.model_filled_flags()
        res = res.model
    res = _check(res, "funnel_data")
    yi = res.yi if res.intercept_only else res.yi - res.fitted()
    sei = np.sqrt(res.vi)
    frame = pd.DataFrame({"yi": yi, "sei": sei, "label": list(res.labels)})
    if filled is not None:
        frame["filled"] = filled
    grid = np.linspace(0, 1.05 * float(np.max(sei)), n_grid)
    contours = {}
    for lvl in levels:
        lv = float(lvl) / 100 if lvl > 1 else float(lvl)
        z = stats.norm.ppf(0.5 + lv / 2)
        contours[lv] = (refline - z * grid, refline + z * grid)
    center = float(res.beta.iloc[0]) if res.intercept_only else 0.0
    z = stats.norm.ppf(0.5 + res.level / 2)
    return FunnelData(
        frame, grid, contours, center, center - z * grid, center + z * grid, refline, res.level
    )
