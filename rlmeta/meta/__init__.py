"""Meta-analysis engine: fixed/random effects, meta-regression, subgroups, multilevel models."""

from ._core import FIXED_METHODS, TAU2_METHODS, TESTS, BatchFit, Control, fit_batch
from .fit import meta_analysis
from .mh import TablePoolResult, mantel_haenszel, peto
from .multilevel import MultilevelResult, fit_multilevel
from .results import AnovaResult, MetaResult, WaldTest
from .robust import RobustResult, robust
from .vcalc import BlockV, vcalc

__all__ = [
    "meta_analysis",
    "mantel_haenszel",
    "peto",
    "TablePoolResult",
    "MetaResult",
    "WaldTest",
    "AnovaResult",
    "fit_multilevel",
    "MultilevelResult",
    "robust",
    "RobustResult",
    "vcalc",
    "BlockV",
    "BatchFit",
    "Control",
    "fit_batch",
    "TAU2_METHODS",
    "FIXED_METHODS",
    "TESTS",
]
