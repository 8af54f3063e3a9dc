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

from . import datasets, evalstats
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
from .io import detect_format, read, read_items, to_contrasts, write
from .meta import meta_analysis
from .pairing import pair

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
    "read",
    "read_items",
    "write",
    "detect_format",
    "to_contrasts",
    "pair",
    "evalstats",
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
