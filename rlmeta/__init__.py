"""rlmeta: statistics of RL-trained LLM vs. baseline evidence.

Read results (paper tables, evaluation-harness outputs, sweep exports), compute
effect sizes, pool them with random-effects and multilevel models at metafor
parity, check robustness, and write a report.

>>> import rlmeta as rm
>>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
>>> res = rm.meta_analysis(eff)
>>> res.method, res.k
('REML', 139)
"""

from importlib.metadata import PackageNotFoundError, version

from . import bias, datasets, evalstats, sensitivity
from .bias import (
    egger_test,
    fail_safe_n,
    funnel_data,
    pet_peese,
    rank_test,
    selection_model,
    trim_and_fill,
)
from .datasets.simulate import simulate_sweep
from .droplog import drop_log
from .effects import effect_sizes
from .errors import (
    ConfigError,
    ConvergenceWarning,
    DataError,
    DataWarning,
    EffectError,
    ModelError,
    ReaderError,
    RlmetaError,
    RlmetaWarning,
    SchemaError,
)
from .explore import cluster, effect_matrix, pca
from .interaction import interaction
from .io import detect_format, read, read_items, read_sweep, to_contrasts, write
from .meta import mantel_haenszel, meta_analysis, peto, robust, vcalc
from .pairing import pair
from .regression import adjust_pvalues, regress
from .sensitivity import (
    baujat,
    cumulative,
    estimator_sweep,
    gosh,
    hyperparameter_sweep,
    influence,
    leave_one_out,
    permutation_test,
    pool_groups,
    specification_curve,
)
from .stability import location_scale, setting_summary, stability, variance_tests

_LAZY = {"plots": "rlmeta.plots", "report": "rlmeta.report"}


def __getattr__(name: str):
    """Import the heavy sub-packages (matplotlib/seaborn, WeasyPrint) on first use."""
    if name in _LAZY:
        import importlib

        return importlib.import_module(_LAZY[name])
    raise AttributeError(f"module 'rlmeta' has no attribute {name!r}")


try:
    __version__ = version("rlmeta")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0"

__all__ = [
    "__version__",
    "datasets",
    "drop_log",
    "effect_sizes",
    "meta_analysis",
    "mantel_haenszel",
    "peto",
    "regress",
    "adjust_pvalues",
    "interaction",
    "stability",
    "setting_summary",
    "variance_tests",
    "location_scale",
    "effect_matrix",
    "pca",
    "cluster",
    "read_sweep",
    "simulate_sweep",
    "read",
    "read_items",
    "write",
    "detect_format",
    "to_contrasts",
    "pair",
    "evalstats",
    "robust",
    "vcalc",
    # robustness (rlmeta.sensitivity)
    "sensitivity",
    "leave_one_out",
    "cumulative",
    "influence",
    "baujat",
    "gosh",
    "permutation_test",
    "estimator_sweep",
    "specification_curve",
    "hyperparameter_sweep",
    "pool_groups",
    # small-study effects (rlmeta.bias)
    "bias",
    "funnel_data",
    "egger_test",
    "rank_test",
    "trim_and_fill",
    "pet_peese",
    "fail_safe_n",
    "selection_model",
    "RlmetaError",
    "DataError",
    "SchemaError",
    "EffectError",
    "ReaderError",
    "ModelError",
    "ConfigError",
    "RlmetaWarning",
    "ConvergenceWarning",
    "DataWarning",
]
