"""From harness observations to RL-vs-baseline contrasts, and from items to observations.

Harness readers return one row per model x benchmark x metric without saying
which model is the RL one; :func:`to_contrasts` takes that choice from the user
and pivots to the wide contrast layout that :func:`rlmeta.effect_sizes` reads.
:func:`items_to_observations` aggregates per-item scores (mean, CLT SE with
ddof 1 over per-item means, so K repeats per item are averaged first).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..droplog import extend_drop_log
from ..errors import ReaderError
from ..schema import validate_wide

__all__ = ["to_contrasts", "items_to_observations", "select_arm"]

_KEYS = ("benchmark", "metric", "filter", "n_shot", "normalized", "split", "perturbation")
_PASS = ("score_scale", "higher_is_better")


def select_arm(frame: pd.DataFrame, spec: str | Sequence[str], label: str) -> np.ndarray:
    """Rows of ``frame`` that belong to an arm given by model name(s) or by path(s).

    A value matches a row when it equals the row's ``model``, or when it is a file
    or folder and the row's ``source`` is that file or lies inside that folder.
    """
    specs = [spec] if isinstance(spec, str | Path) else list(spec)
    mask = np.zeros(len(frame), dtype=bool)
    models = (
        frame["model"].astype(str).to_numpy()
        if "model" in frame.columns
        else np.array([""] * len(frame))
    )
    sources = (
        frame["source"].astype(str) if "source" in frame.columns else pd.Series([""] * len(frame))
    )
    for s in specs:
        s = str(s)
        hit = models == s
        if not hit.any() and "source" in frame.columns:
            p = Path(s)
            prefix = str(p) + ("/" if not str(p).endswith("/") else "")
            hit = ((sources == str(p)) | sources.str.startswith(prefix)).to_numpy()
        mask |= hit
    if not mask.any():
        have = ", ".join(sorted(set(models.tolist()))[:10])
        raise ReaderError(
            f"{label}={spec!r} matches no rows: give a model name (one of: {have}) or the "
            "path the rows were read from",
            column="model",
        )
    return mask


def to_contrasts(
    obs: pd.DataFrame,
    rl: str | Sequence[str],
    baseline: str | Sequence[str],
    *,
    study_id: str | None = None,
    keys: Sequence[str] | None = None,
    groups: bool = False,
) -> pd.DataFrame:
    """Pair RL and baseline observations into wide contrast rows.

    Parameters
    ----------
    obs
        Long observations without arms (e.g. ``rm.read([rl_dir, base_dir])``).
    rl, baseline
        Model name(s), or the file/folder path(s) the rows were read from.
    study_id
        Value of ``study_id`` (and ``comparison_id``); default ``"<rl> vs <baseline>"``.
    keys
        Columns that identify a contrast (default: those of ``benchmark, metric,
        filter, n_shot, normalized, split, perturbation`` present).
    groups
        Keep lm-eval group rows (``is_group``), which aggregate their subtasks; by
        default they are left out (and logged) so a pooled analysis does not count
        the same items twice.

    Returns
    -------
    pandas.DataFrame
        A validated wide contrast table (``rl_score, baseline_score, rl_se,
        baseline_se, rl_n, baseline_n, ...``) for :func:`rlmeta.effect_sizes`.
        Observations found in only one arm are listed in the drop log.

    Examples
    --------
    >>> import pandas as pd
    >>> obs = pd.DataFrame({"model": ["rl", "base"], "benchmark": ["gsm8k"] * 2, "metric": ["acc"] * 2,
    ...                     "score": [0.8, 0.7], "se": [0.01, 0.012], "n": [1319, 1319],
    ...                     "score_scale": ["proportion"] * 2})
    >>> w = to_contrasts(obs, rl="rl", baseline="base")
    >>> w[["benchmark", "rl_score", "baseline_score", "n_items"]].values.tolist()
    [['gsm8k', 0.8, 0.7, 1319.0]]
    """
    pre_drops = []
    if not groups and "is_group" in obs.columns:
        grp = obs["is_group"].fillna(False).astype(bool).to_numpy()
        for _, row in obs[grp].iterrows():
            pre_drops.append(
                {
                    "step": "to_contrasts",
                    "source": row.get("source"),
                    "source_row": None,
                    "row_id": None,
                    "study_id": None,
                    "comparison_id": None,
                    "benchmark": row["benchmark"],
                    "metric": row.get("metric"),
                    "reason": "group aggregate of its subtasks (pass groups=True to keep)",
                }
            )
        obs = obs[~grp]
    a = select_arm(obs, rl, "rl")
    b = select_arm(obs, baseline, "baseline")
    if (a & b).any():
        raise ReaderError(
            "some rows match both rl= and baseline=; make the two selections disjoint",
            column="model",
        )
    keys = [k for k in (keys or _KEYS) if k in obs.columns]
    if "benchmark" not in keys:
        raise ReaderError("observations need a 'benchmark' column", column="benchmark")
    arms = []
    for mask, arm in ((a, "rl"), (b, "baseline")):
        part = obs.loc[mask].copy()
        for k in keys:
            part[k] = part[k].astype(object).where(part[k].notna(), "")
        dup = part.duplicated(keys, keep=False)
        if dup.any():
            first = part.loc[dup, keys].iloc[0].to_dict()
            raise ReaderError(
                f"the {arm} arm has {int(dup.sum())} rows for one contrast {first}: select one "
                "model/run per arm (or add a key column)",
                column="model",
            )
        keep = [
            c
            for c in ("score", "se", "sd", "n", "model", "source", "source_row")
            if c in part.columns
        ]
        extra = [c for c in _PASS if c in part.columns]
        part = part[keys + keep + extra].rename(columns={c: f"{arm}_{c}" for c in keep + extra})
        arms.append(part)
    wide = arms[0].merge(arms[1], on=keys, how="outer", indicator=True)
    lonely = wide["_merge"] != "both"
    drops = []
    for _, row in wide[lonely].iterrows():
        side = "rl" if row["_merge"] == "left_only" else "baseline"
        drops.append(
            {
                "step": "to_contrasts",
                "source": row.get(f"{side}_source"),
                "source_row": None,
                "row_id": None,
                "study_id": None,
                "comparison_id": None,
                "benchmark": row["benchmark"],
                "metric": row.get("metric"),
                "reason": f"only the {side} arm has this observation",
            }
        )
    wide = wide[~lonely].drop(columns="_merge").reset_index(drop=True)
    if wide.empty:
        raise ReaderError(
            "no observation is present in both arms (compare benchmark/metric/filter names)"
        )
    for col in _PASS:
        if f"rl_{col}" in wide.columns:
            r, bl = wide[f"rl_{col}"], wide.get(f"baseline_{col}")
            wide[col] = r.where(r.notna(), bl) if bl is not None else r
            wide = wide.drop(
                columns=[c for c in (f"rl_{col}", f"baseline_{col}") if c in wide.columns]
            )
    if "higher_is_better" in wide.columns:
        wide["higher_is_better"] = wide["higher_is_better"].map(
            lambda v: True if v is None or v != v else bool(v)
        )
    if "rl_n" in wide.columns:
        wide["n_items"] = wide["rl_n"].where(wide["rl_n"] == wide.get("baseline_n"), np.nan)
    for k in keys:
        wide[k] = wide[k].replace("", None)
    sid = study_id or f"{_label(rl)} vs {_label(baseline)}"
    wide.insert(0, "study_id", sid)
    wide.insert(1, "comparison_id", sid)
    if "rl_source" in wide.columns:
        wide["source"] = wide["rl_source"]
    wide = wide.drop(
        columns=[c for c in ("rl_source_row", "baseline_source_row") if c in wide.columns]
    )
    out = validate_wide(wide)
    return extend_drop_log(out, obs, pre_drops + drops)


def _label(spec: Any) -> str:
    return str(spec) if isinstance(spec, str | Path) else "+".join(map(str, spec))


def items_to_observations(items: pd.DataFrame) -> pd.DataFrame:
    """Aggregate an items table: one row per model x benchmark x metric (x filter).

    K repeats of an item are averaged first; ``score`` is the mean of the per-item
    means, ``sd`` their SD (ddof 1), ``se = sd/√n``, ``n`` the number of items.
    ``score_scale`` is ``"proportion"`` only when every score is 0 or 1.

    >>> items = pd.DataFrame({"model": "m", "benchmark": "b", "metric": "acc",
    ...                       "item_id": ["1", "2", "3", "4"], "score": [1.0, 0.0, 1.0, 1.0]})
    >>> o = items_to_observations(items)
    >>> round(float(o["score"][0]), 2), round(float(o["se"][0]), 4), int(o["n"][0])
    (0.75, 0.25, 4)
    """
    group = [c for c in ("model", "benchmark", "metric", "filter") if c in items.columns]
    carry = [
        c
        for c in (
            "source",
            "source_sha256",
            "tool",
            "tool_version",
            "task",
            "n_shot",
            "higher_is_better",
            "split",
            "perturbation",
        )
        if c in items.columns and c not in group
    ]
    work = items[group + ["item_id", "score"] + carry].copy()
    for c in group:
        work[c] = work[c].astype(object).where(work[c].notna(), "")
    per_item = work.groupby(group + ["item_id"], sort=False, observed=True).agg(
        score=("score", "mean"), **{c: (c, "first") for c in carry}
    )
    binary = work.groupby(group, sort=False, observed=True)["score"].agg(
        lambda s: bool(np.isin(s, (0.0, 1.0)).all())
    )
    g = per_item.groupby(level=group, sort=False, observed=True)
    out = pd.DataFrame(
        {"score": g["score"].mean(), "sd": g["score"].std(ddof=1), "n": g.size().astype(float)}
    )
    for c in carry:
        out[c] = g[c].first()
    out = out.reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n"])
    out["se_method"] = "clt from items (ddof 1)"
    out["score_scale"] = [
        ("proportion" if binary.loc[tuple(k) if len(group) > 1 else k[0]] else None)
        for k in out[group].itertuples(index=False)
    ]
    for c in group:
        out[c] = out[c].replace("", None)
    out.loc[out["n"] < 2, "se"] = np.nan
    return extend_drop_log(out, items)
