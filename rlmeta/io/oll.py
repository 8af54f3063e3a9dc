"""Open LLM Leaderboard v2 score normalisation, kept apart from the raw scores.

The leaderboard displays ``max(0, (raw − b)/(1 − b))·100`` per subtask, with
``b = 1/num_choices`` (random-guess baseline), or ``b = 0`` for generative tasks
(IFEval, MATH), and averages normalised subtasks for BBH and MuSR.  rlmeta keeps
raw and normalised values in separate rows (``normalized`` False / True); the
normalised rows carry no SE, because the clipping at 0 makes a linear rescaling
of the raw SE wrong near the baseline.

Choice counts known here: GPQA 4, MMLU-Pro 10, MuSR murder mysteries 2, object
placements 5, team allocation 3.  BBH subtasks differ in their number of choices;
pass them (or any other task) in ``num_choices``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..droplog import extend_drop_log

__all__ = ["normalize_oll", "KNOWN_CHOICES"]

#: Number of answer choices of Open LLM Leaderboard v2 tasks (prefix match on the task name).
KNOWN_CHOICES: dict[str, int] = {
    "leaderboard_gpqa": 4,
    "leaderboard_mmlu_pro": 10,
    "leaderboard_musr_murder_mysteries": 2,
    "leaderboard_musr_object_placements": 5,
    "leaderboard_musr_team_allocation": 3,
}
_GENERATIVE = ("leaderboard_ifeval", "leaderboard_math")


def _baseline(task: str, choices: Mapping[str, int]) -> float | None:
    if task in choices:
        return 1.0 / choices[task]
    if task.startswith(_GENERATIVE):
        return 0.0
    for prefix, k in sorted(KNOWN_CHOICES.items(), key=lambda kv: -len(kv[0])):
        if task.startswith(prefix):
            return 1.0 / k
    return None


def normalize_oll(obs: pd.DataFrame, num_choices: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Append normalised rows (``normalized=True``, percent) to raw OLL v2 observations.

    Parameters
    ----------
    obs
        Observations from :func:`rlmeta.read` of OLL v2 (lm-eval layout) results.
    num_choices
        Choices per task for tasks not in :data:`KNOWN_CHOICES` (e.g. BBH subtasks).

    Returns
    -------
    pandas.DataFrame
        ``obs`` (raw rows, ``normalized=False``) plus one normalised row per raw
        row whose baseline is known; rows without one are listed in the drop log.

    Examples
    --------
    >>> raw = pd.DataFrame({"model": "m", "benchmark": ["leaderboard_gpqa_main"], "metric": "acc_norm",
    ...                     "score": [0.4], "se": [0.02], "n": [448.0]})
    >>> out = normalize_oll(raw)
    >>> out[["normalized", "score_scale"]].values.tolist(), round(float(out["score"][1]), 6)
    ([[False, nan], [True, 'percent']], 20.0)
    """
    choices = dict(num_choices or {})
    raw = obs.copy()
    if "normalized" not in raw.columns:
        raw["normalized"] = False
    raw = raw[~raw["normalized"].astype(bool)]
    base = raw["benchmark"].astype(str).map(lambda t: _baseline(t, choices))
    known = base.notna().to_numpy()
    norm = raw.loc[known].copy()
    b = base[known].astype(float).to_numpy()
    norm["score"] = np.maximum(0.0, (norm["score"].to_numpy(dtype=float) - b) / (1 - b)) * 100
    norm["se"] = np.nan
    norm["normalized"] = True
    norm["score_scale"] = "percent"
    norm["se_flag"] = "normalised score: no SE (clipped at the random baseline)"
    out = pd.concat([obs.assign(normalized=obs.get("normalized", False)), norm], ignore_index=True)
    drops = [
        {
            "step": "normalize_oll",
            "source": r.get("source"),
            "source_row": None,
            "row_id": None,
            "study_id": None,
            "comparison_id": None,
            "benchmark": r["benchmark"],
            "metric": r.get("metric"),
            "reason": "number of answer choices unknown: pass num_choices={task: k} to normalise",
        }
        for _, r in raw.loc[~known].iterrows()
    ]
    return extend_drop_log(out, obs, drops)
