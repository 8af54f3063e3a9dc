"""Stanford HELM run folders (``run_spec.json``, ``stats.json``, ``per_instance_stats.json``).

Items come from ``per_instance_stats.json``, filtered to one ``split`` (default
``"test"``; valid and test instances are mixed in the file) and to unperturbed
instances (or the named ``perturbation``).  The key of an item is
``(instance_id, train_trial_index)``; the trial becomes ``sample_idx``.

Aggregates are computed from those per-instance values (mean, CLT SE with
ddof 1, n = instances).  ``stats.json`` is used only when per-instance stats are
absent, and then **without an SE**: its ``count`` is the number of train trials
and its ``variance`` is across trials, not a sampling variance.

Bookkeeping stats (``num_*``, ``finish_reason_*``, ``training_*``,
``inference_runtime``, ``batch_size``, ``prompt_truncated``) are not scores and
are left out unless named in ``metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._common import (
    DEFAULT_LIMITS,
    Limits,
    add_provenance,
    as_dict,
    as_list,
    as_path,
    as_text,
    fail,
    load_json,
    sha256_file,
    short_repr,
    to_float,
)

__all__ = ["read_run", "read_run_items", "is_run_dir"]

_BOOKKEEPING_PREFIX = ("num_", "finish_reason_", "training_")
_BOOKKEEPING = {"inference_runtime", "batch_size", "prompt_truncated", "max_prob", "logprob"}
_PROPORTION = {
    "exact_match",
    "quasi_exact_match",
    "prefix_exact_match",
    "quasi_prefix_exact_match",
    "exact_match@5",
    "quasi_exact_match@5",
    "prefix_exact_match@5",
    "quasi_prefix_exact_match@5",
}


def is_run_dir(path: Any) -> bool:
    """A folder with ``run_spec.json`` and (per-instance) stats."""
    p = as_path(path)
    return (
        p.is_dir()
        and (p / "run_spec.json").is_file()
        and ((p / "per_instance_stats.json").is_file() or (p / "stats.json").is_file())
    )


def _keep(name: str, metrics: Sequence[str] | None) -> bool:
    if metrics is not None:
        return name in metrics
    return not (name.startswith(_BOOKKEEPING_PREFIX) or name in _BOOKKEEPING)


def _run_meta(p: Any, limits: Limits) -> dict:
    spec = load_json(p / "run_spec.json", limits=limits)
    if not isinstance(spec, dict) or "adapter_spec" not in spec:
        raise fail(
            p / "run_spec.json",
            "expected a HELM run spec with 'adapter_spec'",
            column="adapter_spec",
        )
    src = p / "run_spec.json"
    ad = as_dict(spec["adapter_spec"], src, "adapter_spec")
    name = as_text(spec.get("name"), src, "name") or p.name
    # The benchmark is the run name without the model part, e.g. "mmlu:subject=philosophy,method=...".
    parts = [x for x in name.split(",") if not x.startswith(("model=", "model_deployment="))]
    numbers = {}
    for key in ("max_train_instances", "temperature", "num_outputs"):
        value = ad.get(key)
        if value is not None and (isinstance(value, bool) or to_float(value) is None):
            raise fail(
                src, f"expected a number, got {short_repr(value)}", column=f"adapter_spec.{key}"
            )
        numbers[key] = value
    return {
        "model": as_text(ad.get("model") or ad.get("model_deployment"), src, "adapter_spec.model"),
        "benchmark": ",".join(parts),
        "task": name,
        "n_shot": numbers["max_train_instances"],
        "temperature": numbers["temperature"],
        "num_outputs": numbers["num_outputs"],
    }


def _stat(st: Any, src: Any, where: str) -> tuple[dict, dict, str]:
    """A stat object, its ``name`` object and metric name, type-checked (HELM ``Stat``)."""
    st = as_dict(st, src, where)
    nm = as_dict(st.get("name"), src, f"{where}.name")
    metric = as_text(nm.get("name"), src, f"{where}.name.name") or ""
    return st, nm, metric


def _stat_value(st: dict, src: Any, where: str) -> float | None:
    """The per-instance (or aggregate) value of a stat: its mean, else sum / count.

    None when the stat holds no observations (count 0); a non-numeric or non-finite
    value is an error naming the stat.
    """
    raw_count = st.get("count") or 0
    count = None if isinstance(raw_count, bool | str) else to_float(raw_count)
    if count is None or count < 0:
        raise fail(src, f"expected a non-negative count, got {short_repr(raw_count)}", column=where)
    if count == 0:
        return None
    if "mean" in st:
        raw = st["mean"]
    else:
        total = to_float(st.get("sum", 0))
        raw = total / count if total is not None else st.get("sum")
    value = to_float(raw)
    if value is None or isinstance(raw, bool | str):
        raise fail(src, f"expected a finite mean, got {short_repr(raw)}", column=f"{where}.mean")
    return value


def read_run_items(
    path: Any,
    *,
    split: str = "test",
    perturbation: str | None = None,
    metrics: Sequence[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> pd.DataFrame:
    """Per-instance scores of one run folder (one row per instance x trial x metric)."""
    p = as_path(path)
    meta = _run_meta(p, limits)
    src = p / "per_instance_stats.json"
    if not src.is_file():
        raise fail(p, "no per_instance_stats.json in the run folder: no per-item scores")
    data = load_json(src, limits=limits)
    if not isinstance(data, list):
        raise fail(src, "expected a JSON array of per-instance stats")
    rows = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "instance_id" not in entry:
            raise fail(
                src, f"entry {i}: expected an object with 'instance_id'", column="instance_id"
            )
        pert = (
            (entry.get("perturbation") or {}).get("name")
            if isinstance(entry.get("perturbation"), dict)
            else None
        )
        if pert != perturbation:
            continue
        iid = as_text(entry["instance_id"], src, f"[{i}].instance_id")
        trial = entry.get("train_trial_index", 0)
        if isinstance(trial, bool) or not isinstance(trial, int):
            raise fail(
                src,
                f"entry {i}: expected a whole train_trial_index, got {short_repr(trial)}",
                column="train_trial_index",
            )
        for j, st in enumerate(as_list(entry.get("stats"), src, f"[{i}].stats")):
            where = f"[{i}].stats[{j}]"
            st, nm, name = _stat(st, src, where)
            if nm.get("split") != split or nm.get("perturbation") or not _keep(name, metrics):
                continue
            value = _stat_value(st, src, where)
            if value is None:
                continue
            rows.append(
                {
                    "item_id": iid,
                    "sample_idx": trial,
                    "metric": name,
                    "score": value,
                    "source_location": f"[{i}].stats.{name}",
                }
            )
    if not rows:
        raise fail(
            src,
            f"no per-instance stats for split {split!r}"
            + (f" and perturbation {perturbation!r}" if perturbation else " without perturbation"),
        )
    frame = pd.DataFrame(rows)
    frame.insert(0, "model", meta["model"])
    frame.insert(1, "benchmark", meta["benchmark"])
    frame["split"] = split
    frame["perturbation"] = perturbation
    frame["higher_is_better"] = (
        frame["metric"].map(lambda m: True if m in _PROPORTION else None).astype(object)
    )
    add_provenance(
        frame,
        source=str(src),
        source_sha256=sha256_file(src),
        tool="helm",
        tool_version=None,
        task=meta["task"],
        filter=None,
        n_shot=meta["n_shot"],
        temperature=meta["temperature"],
    )
    return frame


def read_run(
    path: Any,
    *,
    split: str = "test",
    perturbation: str | None = None,
    metrics: Sequence[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> pd.DataFrame:
    """Aggregate scores of one run folder: from per-instance stats (with CLT SE) or stats.json (no SE)."""
    p = as_path(path)
    if (p / "per_instance_stats.json").is_file():
        items = read_run_items(
            p, split=split, perturbation=perturbation, metrics=metrics, limits=limits
        )
        per_item = items.groupby(["metric", "item_id"], observed=True)["score"].mean()
        g = per_item.groupby(level="metric", observed=True)
        out = pd.DataFrame(
            {"score": g.mean(), "sd": g.std(ddof=1), "n": g.size().astype(float)}
        ).reset_index()
        out["se"] = out["sd"] / np.sqrt(out["n"])
        out["se_method"] = "clt (per-instance, ddof 1)"
        source = str(p / "per_instance_stats.json")
    else:
        src = p / "stats.json"
        meta_only = as_list(load_json(src, limits=limits), src, "(top level)")
        rows = []
        n_inst = None
        for j, st in enumerate(meta_only):
            st, nm, name = _stat(st, src, f"[{j}]")
            if name == "num_instances" and nm.get("split") == split and n_inst is None:
                n_inst = _stat_value(st, src, f"[{j}]")
            if nm.get("split") != split or nm.get("perturbation") or not _keep(name, metrics):
                continue
            value = _stat_value(st, src, f"[{j}]")
            if value is None:
                continue
            rows.append({"metric": name, "score": value})
        out = pd.DataFrame(rows, columns=["metric", "score"])
        out["n"] = n_inst if n_inst is not None else np.nan
        out["se"] = np.nan
        out["se_method"] = None
        out["se_flag"] = "stats.json has no sampling SE (its count is train trials)"
        source = str(p / "stats.json")
    if out.empty:
        raise fail(p, f"no scores for split {split!r}")
    meta = _run_meta(p, limits)
    out.insert(0, "model", meta["model"])
    out.insert(1, "benchmark", meta["benchmark"])
    out["filter"] = None
    out["higher_is_better"] = (
        out["metric"].map(lambda m: True if m in _PROPORTION else None).astype(object)
    )
    out["score_scale"] = out["metric"].map(lambda m: "proportion" if m in _PROPORTION else None)
    out["split"] = split
    out["perturbation"] = perturbation
    add_provenance(
        out,
        source=source,
        source_sha256=sha256_file(source),
        tool="helm",
        tool_version=None,
        task=meta["task"],
        n_shot=meta["n_shot"],
        temperature=meta["temperature"],
    )
    return out
