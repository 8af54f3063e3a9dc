"""Small-study effects and publication bias: funnel data, Egger-type regression tests,
the rank correlation test, trim-and-fill, PET-PEESE, fail-safe N and step-function
selection models (3PSM).

Each function matches the metafor 3.8.1 function named in its docstring
(``tests/reference/make_golden_sens.R``) unless stated otherwise.

Examples
--------
>>> import rlmeta as rm
>>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
>>> res = rm.meta_analysis(eff)
>>> eg = rm.egger_test(res)
>>> eg.predictor, eg.model
('sei', 'rma')
"""

from .failsafe import FailSafeResult, fail_safe_n
from .funnel import FunnelData, funnel_data
from .rank import RankTestResult, rank_test
from .regression import EggerResult, PetPeeseResult, egger_test, pet_peese
from .selection import SelectionModelResult, selection_model
from .trimfill import TrimFillResult, trim_and_fill

__all__ = [
    "funnel_data",
    "egger_test",
    "rank_test",
    "trim_and_fill",
    "pet_peese",
    "fail_safe_n",
    "selection_model",
    "FunnelData",
    "EggerResult",
    "RankTestResult",
    "TrimFillResult",
    "PetPeeseResult",
    "FailSafeResult",
    "SelectionModelResult",
]
