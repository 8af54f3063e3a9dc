"""Input helpers shared by CLI commands: read a file as effects, observations or raw."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from ..datasets import add_derived_columns, load_rl_llm_studies
from ..droplog import extend_drop_log

__all__ = ["load_input", "to_effects"]


def load_input(paths: list[Path] | None, score_scale: str | None = None) -> pd.DataFrame:
    """Read the inputs (the bundled dataset when there are none) into one table."""
    if not paths:
        return load_rl_llm_studies()
    from .. import read

    kw = {"score_scale": score_scale} if score_scale else {}
    data = read([str(p) for p in paths], **kw)
    if "rl_method" in data.columns or "learning_rate" in data.columns:
        data = extend_drop_log(add_derived_columns(data), data)
    return data


def to_effects(
    data: pd.DataFrame, measure: str, rho: float, assumed_sd: float | None = None
) -> pd.DataFrame:
    """Effects of a table (a table that already has yi and vi is used as is)."""
    from .. import effect_sizes

    if {"yi", "vi"} <= set(data.columns) and "rl_score" not in data.columns:
        return data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return effect_sizes(data, measure=measure, rho=rho, assumed_sd=assumed_sd)
