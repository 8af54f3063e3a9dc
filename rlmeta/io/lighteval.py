"""huggingface/lighteval results JSON and details Parquet; Open LLM Leaderboard v1.

Results keys are task ids ``"[suite|]task|num_fewshot"`` (``harness|arc:challenge|25``
in the Open LLM Leaderboard v1, which used this layout).  The synthetic entries
``"all"`` and ``"<base>:_average|<k>"`` are unweighted averages (their
``_stderr`` too), not tasks: they are skipped and recorded in the drop log.

Stderrs: lighteval computes a valid CLT SE for mean-aggregated metrics, but its
bootstrap SE for other aggregations is std(replicates)/sqrt(B), about sqrt(B)
too small.  An SE is therefore kept only for metrics whose config says the
corpus-level function is a mean (or, without a config, for the usual mean
metrics); other stderrs are not used and ``se_flag`` says so.

Details Parquet: the flat schema (<= v0.10: ``example``, ``predictions``,
``metrics``, ...) and the struct schema (>= v0.11: ``doc``, ``model_response``,
``metric``).  The item id is ``doc.id`` when present, otherwise a hash of the
question text (``example`` / ``doc.query``), which is stable across models.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
import pandas as pd

from ._common import (
    DEFAULT_LIMITS,
    Limits,
    add_provenance,
    as_dict,
    as_path,
    as_text,
    fail,
    load_json,
    sha256_file,
    short_repr,
    to_float,
)

__all__ = ["read_results", "read_details", "looks_like_results", "is_details_schema"]

_MEAN_METRICS = {
    "acc",
    "acc_norm",
    "em",
    "qem",
    "pem",
    "pqem",
    "mc1",
    "mc2",
    "exact_match",
    "quasi_exact_match",
    "prefix_exact_match",
    "loglikelihood_acc",
    "loglikelihood_acc_norm",
    "extractive_match",
}
_PROPORTION = _MEAN_METRICS | {"f1", "mcc"}
_DETAILS_NAME = re.compile(r"details_(?P<task>.+)_(?P<ts>\d{4}-\d{2}-\d{2}T[\d\-:.]+)\.parquet$")


def looks_like_results(obj: Any) -> bool:
    """A lighteval results document: ``config_general`` and ``results``."""
    return (
        isinstance(obj, dict) and "config_general" in obj and isinstance(obj.get("results"), dict)
    )


def is_details_schema(names: list[str]) -> str | None:
    """``"flat"`` or ``"struct"`` when Parquet column ``names`` are lighteval details, else None."""
    s = set(names)
    if {"doc", "model_response", "metric"} <= s:
        return "struct"
    if {"metrics"} <= s and ({"example", "predictions"} <= s or {"full_prompt", "gold"} <= s):
        return "flat"
    return None


def _split_task(key: str) -> tuple[str, Any]:
    parts = key.split("|")
    if len(parts) >= 2 and parts[-1].strip().isdigit():
        return "|".join(parts[:-1]), int(parts[-1])
    return key, None


def _task_cfg(cfg: dict, key: str, task: str) -> dict:
    for k in (key, task, task.split("|")[-1]):
        if isinstance(cfg.get(k), dict):
            return cfg[k]
    return {}


def _metric_is_mean(task_cfg: dict, metric: str) -> bool | None:
    specs = task_cfg.get("metric") or task_cfg.get("metrics")
    for spec in specs if isinstance(specs, list) else []:
        if not isinstance(spec, dict):
            continue
        names = spec.get("metric_name")
        names = names if isinstance(names, list) else [names]
        if metric in names:
            fn = spec.get("corpus_level_fn")
            if isinstance(fn, dict):
                fn = fn.get(metric)
            return fn is not None and "mean" in str(fn).lower()
    return None


def read_results(
    path: Any, *, data: dict | None = None, limits: Limits = DEFAULT_LIMITS
) -> pd.DataFrame:
    """Aggregate scores: one row per task x metric (skipping ``all`` and ``_average`` entries)."""
    if data is None:
        data = load_json(path, limits=limits)
    if not looks_like_results(data):
        raise fail(path, "not a lighteval results file: expected 'config_general' and 'results'")
    gen = data["config_general"] if isinstance(data["config_general"], dict) else {}
    keys = list(data["results"])
    oll = bool(keys) and all(k.startswith("harness|") or k == "all" for k in keys)
    tool = "oll_v1" if oll else "lighteval"
    model = as_text(gen.get("model_name"), path, "config_general.model_name")
    model = model or as_path(path).parent.name
    cfg = as_dict(data.get("config_tasks"), path, "config_tasks")
    rows, drops = [], []
    for key, block in data["results"].items():
        if key == "all" or ":_average|" in key or key.endswith(":_average"):
            drops.append(
                {
                    "source": str(path),
                    "benchmark": key,
                    "reason": f"results.{key}: unweighted average over tasks (its stderr too), not a task",
                }
            )
            continue
        if not isinstance(block, dict):
            raise fail(path, f"expected an object of metrics for {key!r}", column=f"results.{key}")
        task, fewshot = _split_task(key)
        tcfg = _task_cfg(cfg, key, task)
        n = to_float(tcfg.get("effective_num_docs"))
        for metric, value in block.items():
            if metric.endswith("_stderr"):
                continue
            score = to_float(value)
            if score is None or isinstance(value, bool):
                drops.append(
                    {
                        "source": str(path),
                        "benchmark": task,
                        "metric": metric,
                        "reason": f"results.{key}.{metric}: value {short_repr(value)} is not a "
                        "finite number",
                    }
                )
                continue
            se = to_float(block.get(f"{metric}_stderr"))
            is_mean = _metric_is_mean(tcfg, metric)
            if is_mean is None:
                is_mean = metric.split(":")[0] in _MEAN_METRICS
            flag = None
            if se is None:
                flag = "no stderr in file"
            elif not is_mean:
                flag, se = (
                    "lighteval bootstrap stderr of a non-mean metric (too small by about sqrt(B)); not used",
                    None,
                )
            elif se == 0:
                flag, se = "stderr 0.0 in file; not used", None
            base = metric.split(":")[0]
            rows.append(
                {
                    "model": model,
                    "benchmark": task,
                    "metric": metric,
                    "filter": None,
                    "score": score,
                    "se": se,
                    "n": n,
                    "higher_is_better": None,
                    "score_scale": "proportion"
                    if base in _PROPORTION and 0 <= score <= 1
                    else None,
                    "se_method": "reported" if se is not None else None,
                    "se_flag": flag,
                    "task": task,
                    "n_shot": fewshot,
                    "source_location": f"results.{key}.{metric}",
                }
            )
    if not rows:
        raise fail(path, "the results file holds no task metrics")
    frame = pd.DataFrame(rows)
    add_provenance(
        frame,
        source=str(path),
        source_sha256=sha256_file(path),
        tool=tool,
        tool_version=as_text(gen.get("lighteval_sha"), path, "config_general.lighteval_sha"),
    )
    if oll:
        frame["normalized"] = False
    frame.attrs["rlmeta_pending_drops"] = drops
    return frame


def _text_id(text: Any) -> str:
    return "sha256:" + hashlib.sha256(str(text).encode("utf-8")).hexdigest()[:24]


def read_details(path: Any, *, model: str | None = None, task: str | None = None) -> pd.DataFrame:
    """Per-item scores of a details Parquet file (either schema): one row per item x metric."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = as_path(path)
    try:
        pf = pq.ParquetFile(p)
        schema = is_details_schema(pf.schema_arrow.names)
    except Exception as exc:  # pyarrow raises OSError, ArrowInvalid, ...: all mean "unreadable"
        raise fail(p, f"not a readable Parquet file: {exc}") from None
    if schema is None:
        raise fail(
            p,
            "not a lighteval details file: expected columns doc/model_response/metric "
            "or example/predictions/metrics",
        )
    m = _DETAILS_NAME.search(p.name)
    task = task or (m.group("task") if m else p.stem)
    task_name, fewshot = _split_task(task)
    if model is None:
        # details/<model>/<timestamp>/details_<task>_<timestamp>.parquet
        model = p.parent.parent.name if m else p.parent.name
    metric_col = "metric" if schema == "struct" else "metrics"
    try:
        table = pf.read()
        # full validation checks UTF-8 and offsets, which pyarrow otherwise trusts until a
        # value is converted (a damaged page then fails deep inside to_pylist)
        table.validate(full=True)
        metrics = table.column(metric_col).to_pylist()
        docs = table.column("doc").to_pylist() if schema == "struct" else None
        texts = None
        if schema != "struct":
            texts = table.column("example" if "example" in table.column_names else "full_prompt")
            texts = texts.to_pylist()
    except (OSError, ValueError, pa.ArrowException) as exc:  # corrupt pages after a valid footer
        raise fail(p, f"the Parquet data cannot be read: {exc}") from None
    if schema == "struct":
        names = {
            str(d.get("task_name")) for d in docs if isinstance(d, dict) and d.get("task_name")
        }
        if len(names) > 1:
            raise fail(
                p,
                f"one details file should hold one task, found {len(names)}: {sorted(names)[:5]}",
                column="doc.task_name",
            )
        ids = [
            d.get("id")
            if isinstance(d, dict) and d.get("id") not in (None, "")
            else _text_id(d.get("query") if isinstance(d, dict) else d)
            for d in docs
        ]
    else:
        ids = [_text_id(x) for x in texts]
    rows = []
    drops = []
    for i, (iid, mdict) in enumerate(zip(ids, metrics)):
        if isinstance(mdict, list):  # a Parquet map arrives as a list of (key, value) pairs
            try:
                mdict = dict(mdict)
            except (TypeError, ValueError):
                mdict = None  # not pairs: reported just below
        if not isinstance(mdict, dict):
            raise fail(
                p, f"row {i + 1}: expected a dict of metric values", row=i + 1, column=metric_col
            )
        for name, v in mdict.items():
            f = to_float(v)
            if f is None or v is None:
                drops.append(
                    {
                        "source": str(p),
                        "source_row": i + 1,
                        "benchmark": task_name,
                        "metric": name,
                        "reason": f"value {v!r} is not a per-item number",
                    }
                )
                continue
            rows.append((str(iid), str(name), f, i + 1))
    if not rows:
        raise fail(p, "no numeric per-item metric values")
    frame = pd.DataFrame(rows, columns=["item_id", "metric", "score", "source_row"])
    frame.insert(0, "model", model)
    frame.insert(1, "benchmark", task_name)
    frame["sample_idx"] = np.int64(0)
    frame["higher_is_better"] = None
    add_provenance(
        frame,
        source=str(p),
        source_sha256=sha256_file(p),
        tool="lighteval",
        tool_version=None,
        task=task_name,
        filter=None,
        n_shot=fewshot,
        details_schema=schema,
    )
    frame.attrs["rlmeta_pending_drops"] = drops
    return frame
