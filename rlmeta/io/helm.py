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

from ._common import DEFAULT_LIMITS, Limits, add_provenance, as_path, fail, load_json, sha256_file

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
    ad = spec["adapter_spec"]
    name = str(spec.get("name", p.name))
    # The benchmark is the run name without the model part, e.g. "mmlu:subject=philosophy,method=...".
    parts = [x for x in name.split(",") if not x.startswith(("model=", "model_deployment="))]
    return {
        "model": ad.get("model") or ad.get("model_deployment"),
        "benchmark": ",".join(parts),
        "task": name,
        "n_shot": ad.get("max_train_instances"),
        "temperature": ad.get("temperature"),
        "num_outputs": ad.get("num_outputs"),
    }


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
        for st in entry.get("stats") or []:
            nm = st.get("name") or {}
            if (
                nm.get("split") != split
                or nm.get("perturbation")
                or not _keep(nm.get("name", ""), metrics)
            ):
                continue
            count = st.get("count") or 0
            if count == 0:
                continue
            value = st.get("mean", st.get("sum", 0) / count)
            rows.append(
                {
                    "item_id": str(entry["instance_id"]),
                    "sample_idx": int(entry.get("train_trial_index", 0)),
                    "metric": nm["name"],
                    "score": float(value),
                    "source_location": f"[{i}].stats.{nm['name']}",
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
        meta_only = load_json(p / "stats.json", limits=limits)
        rows = []
        for st in meta_only:
            nm = st.get("name") or {}
            if (
                nm.get("split") != split
                or nm.get("perturbation")
                or not _keep(nm.get("name", ""), metrics)
            ):
                continue
            if not st.get("count"):
                continue
            rows.append({"metric": nm["name"], "score": float(st["mean"])})
        n_inst = [
            s
            for s in meta_only
            if (s.get("name") or {}).get("name") == "num_instances"
            and (s.get("name") or {}).get("split") == split
        ]
        out = pd.DataFrame(rows)
        out["n"] = float(n_inst[0]["mean"]) if n_inst else np.nan
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
