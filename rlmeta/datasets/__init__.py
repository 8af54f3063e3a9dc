"""Bundled datasets.

``load_rl_llm_studies()`` returns the curated table of published RL-trained LLM vs.
baseline results (153 contrasts, 12 studies, 36 comparisons; one row per
study x comparison x benchmark x metric, wide layout).  See ``docs/dataset.md``
for every column.  The file itself is kept exactly as curated; the loader adds
derived columns (suffix-free names listed in :data:`DERIVED_COLUMNS`) that make the
free-text hyper-parameters and categories usable as moderators.

Examples
--------
>>> import rlmeta as rm
>>> df = rm.datasets.load_rl_llm_studies()
>>> df.shape[0], df["study_id"].nunique(), df["comparison_id"].nunique()
(153, 12, 36)
>>> sorted(df["rl_family"].unique())
['DPO', 'GRPO', 'PPO', 'SimPO']
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_rl_llm_studies", "dataset_path", "DERIVED_COLUMNS", "list_datasets"]

_NAME = "rl_llm_studies.csv"

#: Columns added by :func:`load_rl_llm_studies` (the CSV does not contain them).
DERIVED_COLUMNS = {
    "learning_rate_num": "first learning rate stated in `learning_rate` (RL/preference stage), as a number",
    "log10_learning_rate": "log10 of learning_rate_num (learning rates vary over orders of magnitude)",
    "kl_coef_num": "first KL coefficient / beta stated in `kl_coef_or_beta`, as a number",
    "log10_params_B": "log10 of the total parameter count in billions",
    "rl_family": "RL method family parsed from `rl_method`: DPO, SimPO, PPO or GRPO",
    "baseline_family": "baseline type collapsed to SFT, instruct or base",
    "benchmark_family": "math, code, reasoning/knowledge, instruction-following/chat, multilingual or safety",
    "judge_based": "true for LLM-judge metrics (AlpacaEval, Arena-Hard, MT-Bench, AlignBench)",
    "peer_reviewed_bool": "true when `peer_reviewed` names a venue (not a preprint or blog)",
    "decoding_differs": "true where the notes say decoding differs between arms",
}


def dataset_path(name: str = _NAME) -> Path:
    """Path of a bundled data file (installed package data, or the repository's ``data/``)."""
    try:
        res = resources.files("rlmeta.datasets").joinpath("data", name)
        if res.is_file():
            return Path(str(res))
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - defensive
        pass
    repo = Path(__file__).resolve().parents[2] / "data" / name
    if repo.is_file():
        return repo
    raise FileNotFoundError(
        f"bundled dataset {name!r} not found (looked in package data and {repo})"
    )


def list_datasets() -> list[str]:
    """Names of the bundled datasets."""
    return ["rl_llm_studies"]


_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _first_number(text: object) -> float:
    """First number in a free-text cell ('DPO 5e-7 then RLVR 3e-7' -> 5e-7); NaN if none."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return np.nan
    if isinstance(text, int | float):
        return float(text)
    m = _NUM.search(str(text))
    return float(m.group()) if m else np.nan


def _kl(text: object) -> float:
    s = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    if s.startswith("none"):
        return 0.0
    return _first_number(s)


def _rl_family(method: str) -> str:
    s = str(method)
    for fam in ("SimPO", "GRPO", "PPO", "DPO"):
        if fam.lower() in s.lower():
            # "DPO + RLVR (PPO ...)" is a DPO-then-PPO pipeline: the family is the first stage.
            return "DPO" if s.startswith("DPO") else fam
    return "other"


def _baseline_family(kind: str) -> str:
    s = str(kind).lower()
    if s.startswith("base"):
        return "base"
    if s.startswith("instruct"):
        return "instruct"
    return "SFT"


_BENCH_FAMILY = {
    "math": ("gsm8k", "math", "aime", "amc", "olympiad", "minerva", "cmath", "mgsm"),
    "code": ("humaneval", "mbpp", "livecodebench", "codex"),
    "chat/judge": ("alpacaeval", "arena-hard", "mt-bench", "alignbench"),
    "instruction following": ("ifeval",),
    "safety": ("toxigen", "truthfulqa"),
    "knowledge/reasoning": ("mmlu", "bbh", "arc", "gpqa", "tydiqa"),
}


def _benchmark_family(bench: str) -> str:
    b = str(bench).lower()
    if b.startswith("mgsm"):
        return "math"
    for fam, keys in _BENCH_FAMILY.items():
        if any(k in b for k in keys):
            return fam
    return "other"


def add_derived_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add the :data:`DERIVED_COLUMNS` to a table shaped like the bundled dataset."""
    out = df.copy()
    if "learning_rate" in out:
        out["learning_rate_num"] = out["learning_rate"].map(_first_number)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["log10_learning_rate"] = np.log10(out["learning_rate_num"])
    if "kl_coef_or_beta" in out:
        out["kl_coef_num"] = out["kl_coef_or_beta"].map(_kl)
    if "params_B" in out:
        out["log10_params_B"] = np.log10(pd.to_numeric(out["params_B"], errors="coerce"))
    if "rl_method" in out:
        out["rl_family"] = out["rl_method"].map(_rl_family)
    if "baseline_type" in out:
        out["baseline_family"] = out["baseline_type"].map(_baseline_family)
    if "benchmark" in out:
        out["benchmark_family"] = out["benchmark"].map(_benchmark_family)
        judge = out["benchmark_family"].eq("chat/judge")
        out["judge_based"] = judge
    if "peer_reviewed" in out:
        pr = out["peer_reviewed"].astype(str).str.lower()
        out["peer_reviewed_bool"] = ~(pr.str.contains("preprint") | pr.str.startswith("no"))
    if "notes" in out:
        out["decoding_differs"] = (
            out["notes"].astype(str).str.contains("decoding differs", case=False)
        )
    return out


def load_rl_llm_studies(*, derived: bool = True) -> pd.DataFrame:
    """Load the bundled RL-vs-baseline dataset.

    Parameters
    ----------
    derived
        Add the parsed moderator columns in :data:`DERIVED_COLUMNS` (default).

    Returns
    -------
    pandas.DataFrame
        153 rows in the wide contrast layout accepted by :func:`rlmeta.effect_sizes`;
        ``source`` and ``source_row`` give provenance for error messages and the
        drop log.
    """
    path = dataset_path()
    df = pd.read_csv(path)
    df["source"] = _NAME
    df["source_row"] = np.arange(1, len(df) + 1)
    return add_derived_columns(df) if derived else df
