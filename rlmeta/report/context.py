"""Shared state of one report run: data, effects, fitted models, figures, warnings."""

from __future__ import annotations

import importlib
import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .. import effect_sizes, meta_analysis
from ..droplog import drop_log
from .config import ReportConfig
from .document import Block, figure, note

__all__ = ["Context", "Unavailable", "effect_phrase", "measure_label", "scale_effect"]


class Unavailable(Exception):
    """A section or figure cannot be produced for a stated reason (not an error)."""


_MEASURE_LABELS = {
    "RD": "risk difference (percentage points)",
    "OR": "log odds ratio",
    "RR": "log risk ratio",
    "AS": "arcsine difference",
    "SMD": "standardised mean difference (Hedges' g)",
    "SMDH": "heteroscedastic standardised mean difference",
    "MD": "mean difference",
    "ROM": "log ratio of means",
    "MC": "mean change",
    "SMCC": "standardised mean change (change-score SD)",
    "SMCR": "standardised mean change (raw-score SD)",
    "GEN": "effect size",
}


def measure_label(measure: str) -> str:
    return _MEASURE_LABELS.get(measure, measure)


def scale_effect(measure: str, x: float) -> float:
    """Display scale: percentage points for RD, ratios for log measures."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return float("nan")
    if measure == "RD":
        return 100 * x
    if measure in ("OR", "RR", "ROM"):
        return math.exp(x)
    return x


def effect_phrase(measure: str, est: float, lo: float, hi: float, level: float = 0.95) -> str:
    """A plain-words rendering of an effect with its interval.

    >>> effect_phrase("RD", 0.081, 0.063, 0.098)
    '+8.1 percentage points (95% CI 6.3 to 9.8)'
    >>> effect_phrase("OR", 0.0, -0.1, 0.1)
    'odds ratio 1.00 (95% CI 0.90 to 1.11)'
    """
    pct = f"{level:.0%}"
    if measure == "RD":
        return f"{100 * est:+.1f} percentage points ({pct} CI {100 * lo:.1f} to {100 * hi:.1f})"
    if measure in ("OR", "RR", "ROM"):
        name = {"OR": "odds ratio", "RR": "risk ratio", "ROM": "ratio of means"}[measure]
        return f"{name} {math.exp(est):.2f} ({pct} CI {math.exp(lo):.2f} to {math.exp(hi):.2f})"
    if measure == "AS":
        return f"Cohen's h = {2 * est:.2f} ({pct} CI {2 * lo:.2f} to {2 * hi:.2f})"
    if measure in ("SMD", "SMDH", "SMCC", "SMCR"):
        return f"g = {est:.2f} ({pct} CI {lo:.2f} to {hi:.2f})"
    return f"{est:.3g} ({pct} CI {lo:.3g} to {hi:.3g})"


@dataclass
class Context:
    """Everything sections share; models are fitted once and cached."""

    config: ReportConfig
    data: pd.DataFrame
    inputs: list[dict]
    command: str
    warnings: list[str] = field(default_factory=list)
    _figure_count: int = 0

    # ------------------------------------------------------------ data and effects
    @cached_property
    def effects(self) -> pd.DataFrame:
        cfg = self.config
        return self.effects_for(cfg.measure, cfg.rho)

    def effects_for(self, measure: str, rho: float) -> pd.DataFrame:
        """Effect sizes of the input under another measure or rho (for sensitivity sweeps)."""
        if {"yi", "vi"} <= set(self.data.columns) and "rl_score" not in self.data.columns:
            eff = self.data.copy()
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                eff = effect_sizes(
                    self.data, measure=measure, rho=rho, assumed_sd=self.config.assumed_sd or None
                )
        if "effect_id" not in eff.columns:
            # the lowest level of the multilevel model: one id per effect
            eff["effect_id"] = np.arange(1, len(eff) + 1)
        return eff

    @property
    def measure(self) -> str:
        if "measure" in self.effects.columns and self.effects["measure"].nunique() == 1:
            return str(self.effects["measure"].iloc[0])
        return self.config.measure.upper()

    @property
    def drops(self) -> pd.DataFrame:
        return drop_log(self.effects)

    def has(self, *cols: str) -> bool:
        return all(c in self.effects.columns and self.effects[c].notna().any() for c in cols)

    # ------------------------------------------------------------ models
    def add_warning(self, msg: str) -> None:
        """Add a message to the report's warnings (listed under Limitations), once."""
        if msg not in self.warnings:
            self.warnings.append(msg)

    def fit(self, **kw: Any):
        """Fit with the report's defaults, warnings captured into the report's list."""
        args = {"method": self.config.method, "test": self.config.test}
        args.update(kw)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = meta_analysis(self.effects, **args)
        # the result's own notes too (boundary estimates, dropped predictors): not every one
        # is issued as a Python warning, and none may be hidden from the report
        for msg in [str(w.message) for w in caught] + list(getattr(res, "warnings", [])):
            self.add_warning(msg)
        return res

    @cached_property
    def naive(self):
        """Random-effects model treating every effect as independent."""
        return self.fit()

    @cached_property
    def multilevel(self):
        """3-level model (effect in comparison in study), or raises Unavailable."""
        need_module("rlmeta.meta.multilevel", "multilevel models")
        return self.fit(random=self.random_spec, test="t")

    @cached_property
    def random_spec(self) -> str:
        """The configured nesting, without levels that do not group the data.

        A level is kept when it splits the effects into more groups than the levels
        above it (e.g. with one comparison per study the comparison level adds
        nothing and is not identifiable).  Raises :class:`Unavailable` when fewer
        than two levels remain: the model is then the univariate one.
        """
        levels = [c.strip() for c in self.config.random.split("/")]
        eff = self.effects
        missing = [c for c in levels if c not in eff.columns]
        if missing:
            raise Unavailable(
                f"the data have no column(s) {missing} to define the levels {self.config.random!r}"
            )
        kept: list[str] = []
        groups_above = 1
        for c in levels:
            n = int(eff.groupby(kept + [c], dropna=False).ngroups)
            if n > groups_above:
                kept.append(c)
                groups_above = n
        if len(kept) < 2:
            raise Unavailable(
                f"the levels {self.config.random!r} do not nest the {len(eff)} effects into groups "
                f"(only {kept or 'none'} split them), so the multilevel model reduces to the univariate one"
            )
        return "/".join(kept)

    @cached_property
    def robust(self):
        need_module("rlmeta.meta.robust", "cluster-robust inference")
        cl = self.config.robust_cluster
        if cl not in self.effects.columns:
            raise Unavailable(f"the data have no cluster column {cl!r}")
        n_cl = self.effects[cl].nunique()
        if n_cl < 2:
            raise Unavailable(
                f"cluster-robust inference needs at least two clusters; the data have {n_cl} {cl!r}"
            )
        rob = self.multilevel.robust(cluster=cl, adjust=self.config.robust_adjust)
        for msg in rob.warnings:  # e.g. too few clusters for a reliable robust test
            self.add_warning(msg)
        return rob

    # ------------------------------------------------------------ figures
    def forest_kwargs(self) -> dict:
        """Forest-plot options that show effects on the report's display scale."""
        if self.measure == "RD":
            return {
                "transform": _percent_points,
                "logscale": False,
                "xlabel": "RL − baseline (percentage points)",
            }
        if self.measure in ("OR", "RR", "ROM"):
            return {"transform": np.exp}
        return {}

    def figure(self, make, caption: str, figure_id: str, **kw) -> Block:
        """Run a plotting callable and embed its figure as SVG; a note if plots are missing."""
        try:
            plots = need_module("rlmeta.plots", "figures")
        except Unavailable as exc:
            return note(f"Figure not available: {exc}")
        import matplotlib.pyplot as plt

        fig = make(plots, **kw)
        if hasattr(fig, "figure") and not hasattr(fig, "savefig"):
            fig = fig.figure
        try:
            svg = plots.to_svg(fig)
        finally:
            plt.close(fig)
        self._figure_count += 1
        return figure(svg, caption, figure_id)

    @property
    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.config.seed)


def _percent_points(x):
    return 100 * np.asarray(x, dtype=float)


def need_module(name: str, what: str):
    """Import an optional part of rlmeta or raise :class:`Unavailable`."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == name or name.startswith(exc.name)):
            raise Unavailable(f"{what} ({name}) are not part of this version of rlmeta") from None
        raise
