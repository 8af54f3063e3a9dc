"""Meta-analysis engine: fixed/random effects, meta-regression, subgroups, multilevel models."""

from ._core import FIXED_METHODS, TAU2_METHODS, TESTS, BatchFit, Control, fit_batch
from .fit import meta_analysis
from .results import AnovaResult, MetaResult, WaldTest

__all__ = [
    "meta_analysis",
    "MetaResult",
    "WaldTest",
    "AnovaResult",
    "BatchFit",
    "Control",
    "fit_batch",
    "TAU2_METHODS",
    "FIXED_METHODS",
    "TESTS",
]
