"""Robustness of a meta-analysis: leave-one-out, cumulative, influence, GOSH,
permutation tests, estimator sweeps, specification curves and hyper-parameter sweeps.

Every refit goes through the batched engine (:func:`rlmeta.meta.fit_batch` via
:meth:`rlmeta.meta.MetaResult.refit`); large sweeps run in chunks, locally or on
Dask, with per-chunk seeds that make results independent of the engine.
"""

from .gosh import GoshResult, gosh
from .influence import BaujatResult, InfluenceResult, baujat, influence
from .loo import CumulativeResult, LeaveOneOutResult, cumulative, leave_one_out
from .permutation import PermutationResult, permutation_test
from .speccurve import CurveNullTest, SpecCurveResult, specification_curve
from .sweeps import (
    EstimatorSweepResult,
    HyperparameterSweepResult,
    PooledGroupsResult,
    estimator_sweep,
    hyperparameter_sweep,
    pool_groups,
)

__all__ = [
    "leave_one_out",
    "cumulative",
    "influence",
    "baujat",
    "gosh",
    "permutation_test",
    "specification_curve",
    "estimator_sweep",
    "pool_groups",
    "hyperparameter_sweep",
    "LeaveOneOutResult",
    "CumulativeResult",
    "InfluenceResult",
    "BaujatResult",
    "GoshResult",
    "PermutationResult",
    "SpecCurveResult",
    "CurveNullTest",
    "EstimatorSweepResult",
    "PooledGroupsResult",
    "HyperparameterSweepResult",
]
