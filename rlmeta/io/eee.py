"""EvalEval "Every Eval Ever" (schema 0.2/0.3): aggregate JSON, instance JSONL, and export.

Aggregate: one observation per ``evaluation_results[]`` entry, with the SE from
``score_details.uncertainty.standard_error``, ``n`` from ``num_samples``, the
direction from ``metric_config.lower_is_better`` and the score scale from
``metric_unit`` (or ``min_score``/``max_score`` of 0 and 1 or 100).

Instances: one item per JSONL record (``sample_id``, ``evaluation.score``).

Export: :func:`write_aggregate` writes an observations table as aggregate
documents valid against ``eval.schema.json`` 0.3.0 (one per model);
:func:`write_instances` writes an items table as instance-level JSONL.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .._atomic import atomic_path
from ._common import (
    DEFAULT_LIMITS,
    Limits,
    add_provenance,
    as_dict,
    as_path,
    as_text,
    fail,
    is_number,
    iter_json_lines,
    load_json,
    sha256_file,
    short_repr,
)

__all__ = [
    "looks_like_aggregate",
    "looks_like_instance",
    "read_aggregate",
    "read_instances",
    "write_aggregate",
    "write_instances",
    "SCHEMA_VERSION",
]

SCHEMA_VERSION = "0.3.0"


def looks_like_aggregate(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and "schema_version" in obj
        and isinstance(obj.get("evaluation_results"), list)
    )


def looks_like_instance(rec: Any) -> bool:
    return (
        isinstance(rec, dict)
        and "evaluation_id" in rec
        and "sample_id" in rec
        and "evaluation" in rec
    )


def _scale(mc: dict) -> str | None:
    unit = str(mc.get("metric_unit") or "").lower()
    if unit in ("proportion", "percent"):
        return unit
    lo, hi = mc.get("min_score"), mc.get("max_score")
    if lo == 0 and hi == 1:
        return "proportion"
    if lo == 0 and hi == 100:
        return "percent"
    return None


def read_aggregate(
    path: Any, *, data: dict | None = None, limits: Limits = DEFAULT_LIMITS
) -> pd.DataFrame:
    """One row per evaluation result."""
    if data is None:
        data = load_json(path, limits=limits)
    if not looks_like_aggregate(data):
        raise fail(
            path,
            "not an Every Eval Ever aggregate: expected 'schema_version' and 'evaluation_results'",
        )
    p = path
    # every field is type-checked: a mistyped one is a ReaderError naming it, not a crash
    mi = as_dict(data.get("model_info"), p, "model_info")
    lib = as_dict(data.get("eval_library"), p, "eval_library")
    rows = []
    for i, res in enumerate(data["evaluation_results"]):
        where = f"evaluation_results[{i}]"
        if not isinstance(res, dict):
            raise fail(path, f"{where}: expected an object", column=where)
        sd = as_dict(res.get("score_details"), p, f"{where}.score_details")
        score = sd.get("score")
        if not is_number(score):
            raise fail(
                path,
                f"{where}: expected a finite number in score_details.score, got {short_repr(score)}",
                column=f"{where}.score_details.score",
            )
        mc = as_dict(res.get("metric_config"), p, f"{where}.metric_config")
        unc = as_dict(sd.get("uncertainty"), p, f"{where}.score_details.uncertainty")
        se_block = as_dict(unc.get("standard_error"), p, f"{where}.uncertainty.standard_error")
        se = se_block.get("value")
        ci = as_dict(unc.get("confidence_interval"), p, f"{where}.uncertainty.confidence_interval")
        lib_ = as_dict(res.get("source_data"), p, f"{where}.source_data")
        lower = mc.get("lower_is_better")
        numbers = {
            "se": se,
            "sd": unc.get("standard_deviation"),
            "n": unc.get("num_samples"),
            "ci_low": ci.get("lower"),
            "ci_high": ci.get("upper"),
        }
        for key, value in numbers.items():
            if value is not None and not is_number(value):
                raise fail(
                    path,
                    f"{where}: expected a finite number for {key}, got {short_repr(value)}",
                    column=f"{where}.uncertainty",
                )
        rows.append(
            {
                "model": as_text(mi.get("id") or mi.get("name"), p, "model_info.id"),
                "benchmark": as_text(
                    res.get("evaluation_name") or lib_.get("dataset_name"),
                    p,
                    f"{where}.evaluation_name",
                ),
                "metric": as_text(
                    mc.get("metric_id") or mc.get("metric_name") or "score",
                    p,
                    f"{where}.metric_config.metric_id",
                ),
                "filter": None,
                "score": float(score),
                "se": float(se) if se is not None and se > 0 else None,
                "sd": numbers["sd"],
                "n": numbers["n"],
                "ci_low": numbers["ci_low"],
                "ci_high": numbers["ci_high"],
                "higher_is_better": (not lower) if isinstance(lower, bool) else None,
                "score_scale": _scale(mc),
                "se_method": as_text(se_block.get("method"), p, f"{where}.standard_error.method")
                if se
                else None,
                "se_flag": f"standard error {se!r} in file; not used"
                if se is not None and se <= 0
                else None,
                "task": as_text(
                    res.get("evaluation_result_id") or res.get("evaluation_name"),
                    p,
                    f"{where}.evaluation_result_id",
                ),
                "source_location": where,
                "eval_library": as_text(lib.get("name"), p, "eval_library.name"),
                "eval_library_version": as_text(lib.get("version"), p, "eval_library.version"),
            }
        )
    if not rows:
        raise fail(path, "evaluation_results is empty")
    frame = pd.DataFrame(rows)
    for col in ("sd", "n", "ci_low", "ci_high", "se"):
        frame[col] = frame[col].astype(float)
    add_provenance(
        frame,
        source=str(path),
        source_sha256=sha256_file(path),
        tool="eee",
        tool_version=str(data.get("schema_version")),
        n_shot=None,
        evaluation_id=data.get("evaluation_id"),
    )
    return frame


def read_instances(path: Any, *, cluster: str | None = None) -> pd.DataFrame:
    """One item per instance record."""
    rows = []
    for lineno, rec in iter_json_lines(path):
        if not looks_like_instance(rec):
            raise fail(
                path,
                f"line {lineno}: expected an instance record with evaluation_id, sample_id and "
                "evaluation",
                row=lineno,
            )
        ev = as_dict(rec.get("evaluation"), path, "evaluation", row=lineno)
        score = ev.get("score")
        if not is_number(score):
            if isinstance(ev.get("is_correct"), bool) and score is None:
                score = float(ev["is_correct"])
            else:
                raise fail(
                    path,
                    f"line {lineno}: expected a finite number in evaluation.score, got "
                    f"{short_repr(score)}",
                    row=lineno,
                    column="evaluation.score",
                )
        row = {
            "model": as_text(rec.get("model_id"), path, "model_id", row=lineno),
            "benchmark": as_text(rec.get("evaluation_name"), path, "evaluation_name", row=lineno),
            "item_id": as_text(rec["sample_id"], path, "sample_id", row=lineno),
            "score": float(score),
            "sample_idx": 0,
            "metric": as_text(
                rec.get("evaluation_result_id") or "score",
                path,
                "evaluation_result_id",
                row=lineno,
            ),
            "sample_hash": as_text(rec.get("sample_hash"), path, "sample_hash", row=lineno),
            "source_row": lineno,
            "evaluation_id": as_text(rec.get("evaluation_id"), path, "evaluation_id", row=lineno),
        }
        if row["item_id"] is None:
            raise fail(path, f"line {lineno}: sample_id is null", row=lineno, column="sample_id")
        if cluster is not None:
            md = as_dict(rec.get("metadata"), path, "metadata", row=lineno)
            if cluster not in md:
                raise fail(
                    path,
                    f"line {lineno}: metadata has no key {cluster!r} to use as cluster",
                    row=lineno,
                    column=f"metadata.{cluster}",
                )
            if isinstance(md[cluster], dict | list):
                raise fail(
                    path,
                    f"line {lineno}: expected a cluster label (text or number), got "
                    f"{short_repr(md[cluster])}",
                    row=lineno,
                    column=f"metadata.{cluster}",
                )
            row["cluster"] = str(md[cluster])
        rows.append(row)
    if not rows:
        raise fail(path, "no instance records")
    frame = pd.DataFrame(rows)
    add_provenance(
        frame,
        source=str(path),
        source_sha256=sha256_file(path),
        tool="eee",
        tool_version=None,
        task=None,
        filter=None,
        n_shot=None,
    )
    return frame


# --------------------------------------------------------------------------- export
def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _aggregate_doc(obs: pd.DataFrame, model: str, timestamp: str) -> dict:
    results = []
    for _, r in obs.iterrows():
        metric = str(r.get("metric", "score"))
        bench = str(r["benchmark"])
        flt = r.get("filter")
        rid = f"{bench}.{metric}" + (f".{flt}" if isinstance(flt, str) and flt else "")
        hib = r.get("higher_is_better")
        lower = hib is not None and not pd.isna(hib) and not bool(hib)
        mc: dict[str, Any] = {"metric_id": metric, "metric_name": metric, "lower_is_better": lower}
        scale = r.get("score_scale")
        if scale in ("proportion", "percent"):
            mc.update(
                metric_unit=scale,
                score_type="continuous",
                min_score=0.0,
                max_score=1.0 if scale == "proportion" else 100.0,
            )
        details: dict[str, Any] = {"score": float(r["score"])}
        unc: dict[str, Any] = {}
        se = _num(r.get("se"))
        if se is not None:
            unc["standard_error"] = {"value": se, "method": str(r.get("se_method") or "reported")}
        sd = _num(r.get("sd"))
        if sd is not None:
            unc["standard_deviation"] = sd
        n = _num(r.get("n"))
        if n is not None:
            unc["num_samples"] = int(n)
        if unc:
            details["uncertainty"] = unc
        results.append(
            {
                "evaluation_result_id": rid,
                "evaluation_name": bench,
                "source_data": {"dataset_name": bench, "source_type": "other"},
                "metric_config": mc,
                "score_details": details,
            }
        )
    tools = obs["tool"].dropna().astype(str).unique() if "tool" in obs.columns else []
    versions = (
        obs["tool_version"].dropna().astype(str).unique() if "tool_version" in obs.columns else []
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "evaluation_id": f"rlmeta/{model.replace('/', '_')}/{timestamp}",
        "retrieved_timestamp": timestamp,
        "source_metadata": {
            "source_name": "rlmeta export",
            "source_type": "evaluation_run",
            "source_organization_name": "unknown",
            "evaluator_relationship": "other",
        },
        "eval_library": {
            "name": tools[0] if len(tools) == 1 else "unknown",
            "version": versions[0] if len(versions) == 1 else "unknown",
        },
        "model_info": {
            "name": model.split("/")[-1],
            "id": model,
            "additional_details": {"deployment_type": "unknown", "model_availability": "unknown"},
        },
        "evaluation_results": results,
    }


def _now() -> str:
    """Seconds since the epoch as text; ``SOURCE_DATE_EPOCH`` when set (reproducible exports)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return epoch if epoch.isdigit() else f"{time.time():.0f}"


def write_aggregate(obs: pd.DataFrame, path: Any, *, timestamp: str | None = None) -> list[Path]:
    """Write observations as EEE aggregate JSON: one file, or one per model into a folder.

    With a single model, ``path`` is the file.  With several, ``path`` is a folder
    and each model goes to ``<model with / -> __>.json``.
    """
    for col in ("model", "benchmark", "score"):
        if col not in obs.columns:
            raise fail(
                None,
                f"EEE export needs a '{col}' column (an observations table from rm.read)",
                column=col,
            )
    ts = timestamp or _now()
    models = [str(m) for m in obs["model"].dropna().unique()]
    target = as_path(path)
    out = []
    for model in models:
        doc = _aggregate_doc(obs[obs["model"].astype(str) == model], model, ts)
        dest = target if len(models) == 1 else target / f"{model.replace('/', '__')}.json"
        with atomic_path(dest) as tmp:
            tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
        out.append(dest)
    return out


def write_instances(items: pd.DataFrame, path: Any, *, timestamp: str | None = None) -> Path:
    """Write an items table as EEE instance-level JSONL (one record per row)."""
    for col in ("model", "benchmark", "item_id", "score"):
        if col not in items.columns:
            raise fail(None, f"EEE instance export needs a '{col}' column", column=col)
    ts = timestamp or _now()
    target = as_path(path)
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for r in items.itertuples(index=False):
            d = r._asdict()
            model = str(d["model"])
            score = float(d["score"])
            rec = {
                "schema_version": SCHEMA_VERSION,
                "evaluation_id": f"rlmeta/{model.replace('/', '_')}/{ts}",
                "model_id": model,
                "evaluation_name": str(d["benchmark"]),
                "evaluation_result_id": f"{d['benchmark']}.{d.get('metric', 'score')}",
                "sample_id": str(d["item_id"]),
                "interaction_type": "single_turn",
                "input": {"raw": "", "reference": []},
                "answer_attribution": [],
                "evaluation": {"score": score, "is_correct": score >= 1.0},
            }
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return target
