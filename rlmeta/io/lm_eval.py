"""EleutherAI lm-evaluation-harness: results JSON and per-sample files, all layouts.

Layouts (see ``docs/eval_statistics.md`` and the format notes in each reader):

* **<= v0.3**: ``{"results": {task: {"acc": .., "acc_stderr": ..}}, "versions": ..}``;
* **v0.4.0-0.4.2**: ``results.json`` with ``n-shot``, ``configs``, ``groups``; metric
  keys ``"<metric>,<filter>"``; per-sample files ``<model_args>_<task>.jsonl`` that
  are really one pretty-printed JSON array;
* **>= v0.4.3**: ``results_<ISO>.json`` (``n-samples``, ``higher_is_better``,
  ``model_name``; at HEAD ``sample_len`` per task) and true JSONL
  ``samples_<task>_<ISO>.jsonl``.

Metric keys are split on the **last** comma (filter names never contain one, metric
names may).  A stderr of ``"N/A"`` or ``0.0`` is not used as an SE (``se`` is left
missing and ``se_flag`` says why).  ``n`` comes from ``sample_len``, then
``n-samples.effective``, then a group's ``sample_count``.

Per-sample files are streamed line by line (bounded memory).  Per-sample values
of corpus-level metrics (``f1``, ``bleu``, ...) are ``[gold, pred]`` pairs, not
scores; they are skipped and recorded in the drop log.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from math import isfinite
from pathlib import Path
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
    iter_json_lines,
    load_json,
    remember_hash,
    sha256_file,
    short_repr,
    to_float,
)

__all__ = [
    "read_results",
    "read_samples",
    "looks_like_results",
    "looks_like_sample",
    "find_results_for",
]

#: Fields of a per-sample record that are not per-sample metrics.
SAMPLE_FIELDS = frozenset(
    {
        "doc_id",
        "doc",
        "target",
        "arguments",
        "resps",
        "filtered_resps",
        "filter",
        "metrics",
        "doc_hash",
        "prompt_hash",
        "target_hash",
    }
)
_BLOCK_FIELDS = frozenset({"alias", "name", "sample_len", "sample_count", "samples"})
#: Metrics that lm-eval defines on [0, 1] (so their mean is a proportion).
PROPORTION_METRICS = frozenset(
    {
        "acc",
        "acc_norm",
        "acc_mutual_info",
        "exact_match",
        "mc1",
        "mc2",
        "em",
        "f1",
        "micro_f1",
        "macro_f1",
        "bleu_acc",
        "rouge1_acc",
        "rouge2_acc",
        "rougeL_acc",
        "prompt_level_strict_acc",
        "prompt_level_loose_acc",
        "inst_level_strict_acc",
        "inst_level_loose_acc",
        "pass@1",
        "brier_score",
    }
)
_MISSING = object()
_BIG = 2**1023  # integers beyond the float range cannot be scores
_MODEL_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")
_DATE = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
_SAMPLES_NAME = re.compile(rf"samples_(?P<task>.+)_(?P<date>{_DATE})")
_RESULTS_NAME = re.compile(rf"results_(?P<date>{_DATE})")
# HEAD with --output_path ending in .json writes <stem>_<date>.json beside samples_<task>_<date>.jsonl
_DATED_JSON = re.compile(rf"_(?P<date>{_DATE})\.json$")


def looks_like_results(obj: Any) -> bool:
    """A results document: ``results`` plus ``versions``/``n-shot``/``configs``."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("results"), dict)
        and any(k in obj for k in ("versions", "n-shot", "configs", "lm_eval_version"))
        and "config_general" not in obj
    )


def looks_like_sample(rec: Any) -> bool:
    """A per-sample record (``doc_id`` with ``doc``/``resps``/``doc_hash``)."""
    return (
        isinstance(rec, dict)
        and "doc_id" in rec
        and any(k in rec for k in ("doc", "resps", "doc_hash", "filtered_resps"))
    )


def _model_from_args(model_args: Any) -> str | None:
    if isinstance(model_args, dict):
        for key in _MODEL_KEYS:
            if model_args.get(key):
                return str(model_args[key])
        return None
    if isinstance(model_args, str):
        parts = dict(p.split("=", 1) for p in model_args.split(",") if "=" in p)
        for key in _MODEL_KEYS:
            if parts.get(key):
                return parts[key].strip()
    return None


def _layout(data: dict, path: Path) -> str:
    if "n-shot" not in data and "configs" not in data:
        return "<=0.3"
    if any(
        k in data for k in ("n-samples", "higher_is_better", "model_name", "lm_eval_version")
    ) or _RESULTS_NAME.search(path.name):
        return ">=0.4.3"
    return "0.4.0-0.4.2"


def results_meta(data: dict, path: Any) -> dict:
    """Run-level metadata of a results document (model, version, layout, per-task info)."""
    p = as_path(path)
    # Every field is type-checked: a mistyped field is a clear ReaderError naming it.
    config = as_dict(data.get("config"), p, "config")
    n_shot = as_dict(data.get("n-shot"), p, "n-shot")
    configs = as_dict(data.get("configs"), p, "configs")
    hib = as_dict(data.get("higher_is_better"), p, "higher_is_better")
    n_samples = as_dict(data.get("n-samples"), p, "n-samples")
    versions = as_dict(data.get("versions"), p, "versions")
    groups = as_dict(data.get("groups"), p, "groups")
    group_subtasks = as_dict(data.get("group_subtasks"), p, "group_subtasks")
    name = as_text(data.get("model_name"), p, "model_name")
    model = name or _model_from_args(config.get("model_args"))
    model_source = "results.model_name" if name else "config.model_args"
    if not model:
        cmodel = as_text(config.get("model"), p, "config.model")
        model, model_source = (
            (cmodel, "config.model") if cmodel else (p.parent.name, "directory name")
        )
    tasks = set(data.get("results", {})) | set(groups)
    oll = bool(tasks) and all(str(t).startswith("leaderboard") for t in tasks)
    m = _RESULTS_NAME.search(p.name)
    return {
        "model": model,
        "model_source": model_source,
        "model_args": config.get("model_args"),
        "tool": "oll_v2" if oll else "lm_eval",
        "tool_version": as_text(data.get("lm_eval_version"), p, "lm_eval_version"),
        "layout": _layout(data, p),
        "date_id": m.group("date") if m else None,
        "n_shot": n_shot,
        "configs": configs,
        "legacy_fewshot": _scalar(config.get("num_fewshot"), p, "config.num_fewshot"),
        "higher_is_better": hib,
        "n_samples": n_samples,
        "versions": versions,
        # standalone tasks appear in group_subtasks with an empty list; only non-empty ones are groups
        "groups": set(groups) | {g for g, subs in group_subtasks.items() if subs},
        "tasks": tasks,
        "source": str(p),
    }


def _scalar(value: Any, path: Any, where: str) -> Any:
    """A metadata value that ends up in a table cell: a number or text, not a structure."""
    if isinstance(value, dict | list):
        raise fail(path, f"expected a number or text, got {type(value).__name__}", column=where)
    return value


def _n_shot(meta: dict, task: str) -> Any:
    if task in meta["n_shot"]:
        return _scalar(meta["n_shot"][task], meta["source"], f"n-shot.{task}")
    cfg = meta["configs"].get(task)
    if isinstance(cfg, dict) and "num_fewshot" in cfg:
        return _scalar(cfg["num_fewshot"], meta["source"], f"configs.{task}.num_fewshot")
    return meta["legacy_fewshot"]


def _hib(meta: dict, task: str, metric: str) -> Any:
    block = meta["higher_is_better"].get(task)
    if isinstance(block, dict) and isinstance(block.get(metric), bool):
        return block[metric]
    cfg = meta["configs"].get(task)
    if isinstance(cfg, dict) and isinstance(cfg.get("metric_list"), list):
        for spec in cfg["metric_list"]:
            if (
                isinstance(spec, dict)
                and spec.get("metric") == metric
                and isinstance(spec.get("higher_is_better"), bool)
            ):
                return spec["higher_is_better"]
    return None


def _split_key(key: str) -> tuple[str, str | None]:
    """``"acc_norm,none"`` -> ``("acc_norm", "none")``; legacy ``"acc"`` -> ``("acc", None)``."""
    if "," in key:
        metric, flt = key.rsplit(",", 1)
        return metric, flt
    return key, None


def read_results(
    path: Any, *, limits: Limits = DEFAULT_LIMITS, data: dict | None = None
) -> tuple[pd.DataFrame, dict]:
    """Read a results JSON into a long observations table (one row per task x metric x filter).

    Returns
    -------
    (pandas.DataFrame, dict)
        The table and the run metadata (used to annotate per-sample files).
    """
    if data is None:
        data = load_json(path, limits=limits)
    if not looks_like_results(data):
        raise fail(
            path,
            "not an lm-evaluation-harness results file: expected an object with 'results' and "
            "'versions' or 'n-shot'",
        )
    meta = results_meta(data, path)
    rows: list[dict] = []
    drops: list[dict] = []
    blocks: dict[str, tuple[dict, bool]] = {}
    for name, block in data["results"].items():
        blocks[name] = (block, name in meta["groups"])
    for name, block in as_dict(data.get("groups"), path, "groups").items():
        blocks[name] = (block, True)  # v0.4.x: group rows also listed under "groups"
    for task, (block, is_group) in blocks.items():
        if not isinstance(block, dict):
            raise fail(
                path,
                f"expected an object of metrics for task {task!r}, got {type(block).__name__}",
                column=f"results.{task}",
            )
        keys = [k for k in block if k not in _BLOCK_FIELDS]
        stderr_keys = set()
        for key in keys:
            metric, flt = _split_key(key)
            if metric.endswith("_stderr") and (
                f"{metric[:-7]},{flt}" in block if flt is not None else metric[:-7] in block
            ):
                stderr_keys.add(key)
        for key in keys:
            if key in stderr_keys:
                continue
            metric, flt = _split_key(key)
            value = block[key]
            score = to_float(value)
            loc = f"results.{task}.{key}"
            if score is None or isinstance(value, bool):
                drops.append(
                    {
                        "source": str(path),
                        "benchmark": task,
                        "metric": metric,
                        "reason": f"{loc}: value {short_repr(value)} is not a finite number",
                    }
                )
                continue
            se_key = f"{metric}_stderr,{flt}" if flt is not None else f"{metric}_stderr"
            se_raw = block.get(se_key)
            se = to_float(se_raw)
            flag = None
            if se_key not in block:
                flag = "no stderr in file"
            elif se is None:
                flag = f"stderr {short_repr(se_raw)} in file"
                se = None
            elif se == 0.0:
                flag = "stderr 0.0 in file (all scores equal?); not used"
                se = None
            n = to_float(block.get("sample_len"))
            n_from = "sample_len" if n is not None else None
            if n is not None and (n < 0 or not float(n).is_integer()):
                raise fail(
                    path,
                    f"expected a whole number of samples, got {block.get('sample_len')!r}",
                    column=f"results.{task}.sample_len",
                )
            if n is None and isinstance(meta["n_samples"].get(task), dict):
                n = to_float(meta["n_samples"][task].get("effective"))
                n_from = "n-samples.effective" if n is not None else None
            if n is None and isinstance(block.get("sample_count"), dict):
                n = to_float(block["sample_count"].get(key))
                n_from = "sample_count" if n is not None else None
            rows.append(
                {
                    "model": meta["model"],
                    "benchmark": task,
                    "metric": metric,
                    "filter": flt,
                    "score": score,
                    "se": se,
                    "n": n,
                    "n_source": n_from,
                    "higher_is_better": _hib(meta, task, metric),
                    "score_scale": "proportion"
                    if metric in PROPORTION_METRICS and 0 <= score <= 1
                    else None,
                    "se_method": "reported" if se is not None else None,
                    "se_flag": flag,
                    "is_group": is_group,
                    "alias": _scalar(block.get("alias"), path, f"results.{task}.alias"),
                    "task": task,
                    "n_shot": _n_shot(meta, task),
                    "task_version": _scalar(meta["versions"].get(task), path, f"versions.{task}"),
                    "source_location": loc,
                }
            )
    if not rows:
        raise fail(path, "the results file holds no numeric metrics")
    frame = pd.DataFrame(rows)
    frame["higher_is_better"] = frame["higher_is_better"].astype(object)
    add_provenance(
        frame,
        source=str(path),
        source_sha256=sha256_file(path),
        tool=meta["tool"],
        tool_version=meta["tool_version"],
        layout=meta["layout"],
        model_source=meta["model_source"],
    )
    if meta["tool"] == "oll_v2":
        frame["normalized"] = False
    frame.attrs["rlmeta_pending_drops"] = drops
    return frame, meta


# --------------------------------------------------------------------------- samples
def find_results_for(samples_path: Any, candidates: list[Path] | None = None) -> Path | None:
    """The results file that belongs to a per-sample file, if it can be told.

    v0.4.3+: the ``results_<date>.json`` with the same date id in the same folder.
    v0.4.0-0.4.2: the only ``*.json`` results file in the folder whose sanitised
    ``model_args`` occurs in the sample file's name.
    """
    p = as_path(samples_path)
    m = _SAMPLES_NAME.search(p.name)
    folder = p.parent
    pool = candidates if candidates is not None else sorted(folder.glob("*.json"))
    pool = [c for c in pool if as_path(c).parent == folder]
    if m:
        hits = [c for c in pool if as_path(c).name.endswith(f"_{m.group('date')}.json")]
        return hits[0] if len(hits) == 1 else None
    hits = []
    for c in pool:
        try:
            data = load_json(c)
        except Exception:
            continue
        if not looks_like_results(data):
            continue
        config = data.get("config")
        args = config.get("model_args") if isinstance(config, dict) else None
        if isinstance(args, str) and args and re.sub("/|=", "__", args) in p.name:
            hits.append(c)
    return hits[0] if len(hits) == 1 else None


def _task_from_name(p: Path, meta: dict | None) -> str | None:
    m = _SAMPLES_NAME.search(p.name)
    if m:
        return m.group("task")
    if meta:
        args = meta.get("model_args")
        rest = p.stem
        if isinstance(args, str):
            prefix = re.sub("/|=", "__", args) + "_"
            if prefix in rest:
                rest = rest[rest.index(prefix) + len(prefix) :]
        # the longest known task that the rest starts with (names may contain '_' and '.')
        for task in sorted(meta["tasks"], key=len, reverse=True):
            if rest == task or rest.startswith(task + "."):
                return task
    return None


def _bad_field(path: Path, lineno: int, field: str, value: Any, expected: str) -> None:
    raise fail(
        path,
        f"line {lineno}: expected {expected} in '{field}', got {short_repr(value)}",
        row=lineno,
        column=field,
    )


def _first_char(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1]


def read_samples(
    path: Any,
    *,
    meta: dict | None = None,
    model: str | None = None,
    task: str | None = None,
    cluster: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> pd.DataFrame:
    """Read a per-sample file (JSONL or the v0.4.0-0.4.2 JSON array) into an items table.

    Parameters
    ----------
    path
        ``samples_<task>_<date>.jsonl`` or ``<model_args>_<task>.jsonl``.
    meta
        Metadata of the matching results file (see :func:`read_results`); gives
        the model, version, n-shot and direction of each metric.
    model, task
        Override the model and task names (otherwise from ``meta``, the file name
        and, for the v0.4.3+ layout, the model folder).
    cluster
        Field of the sample's ``doc`` to use as the cluster key (e.g. ``"subject"``).
    """
    p = as_path(path)
    task = task or _task_from_name(p, meta)
    if task is None:
        raise fail(
            p,
            "cannot tell the task from the file name (expected samples_<task>_<date>.jsonl); "
            "pass task=... to read_items",
        )
    if model is None:
        model = meta["model"] if meta else p.parent.name
        model_source = meta["model_source"] if meta else "directory name"
    else:
        model_source = "argument"
    item_id: list[str] = []
    doc_ids: list[Any] = []
    hashed = n_records = 0
    filters: list[Any] = []
    metrics: list[str] = []
    clusters: list[Any] = []
    scores = array("d")
    rows = array("q")
    skipped: dict[str, list[int]] = {}
    hasher = hashlib.sha256()

    array_layout = _first_char(p) == b"["
    if array_layout:
        data = load_json(p, limits=limits)
        if not isinstance(data, list):
            raise fail(p, "expected a JSON array of samples")
        records = enumerate(data, start=1)
        layout = "0.4.0-0.4.2 (JSON array)"
    else:
        records = iter_json_lines(p, hasher)
        layout = "jsonl"
    known = SAMPLE_FIELDS
    # Bound methods in locals: this loop runs once per line of files with millions of lines.
    add_item, add_doc, add_filter = item_id.append, doc_ids.append, filters.append
    add_metric, add_cluster, add_row, add_score = (
        metrics.append,
        clusters.append,
        rows.append,
        scores.append,
    )
    num_types = (float, int, bool)
    id_types = (int, str)
    nonfinite: dict[str, list[int]] = {}
    for lineno, rec in records:
        if rec.__class__ is not dict:
            raise fail(
                p,
                f"line {lineno}: expected a JSON object per sample, got {type(rec).__name__}",
                row=lineno,
            )
        did = rec.get("doc_id", _MISSING)
        if did is _MISSING:
            raise fail(p, f"line {lineno}: sample has no 'doc_id'", row=lineno, column="doc_id")
        if did.__class__ not in id_types:
            _bad_field(p, lineno, "doc_id", did, "a whole number or text")
        dh = rec.get("doc_hash")
        if dh is not None and dh.__class__ is not str:
            _bad_field(p, lineno, "doc_hash", dh, "text")
        flt = rec.get("filter")
        if flt is not None and flt.__class__ is not str:
            _bad_field(p, lineno, "filter", flt, "text")
        names = rec.get("metrics")
        if names.__class__ is not list:
            names = [
                k for k, v in rec.items() if k not in known and isinstance(v, int | float | list)
            ]
        elif not all(n.__class__ is str for n in names):
            _bad_field(p, lineno, "metrics", names, "a list of metric names")
        cl = None
        if cluster is not None:
            doc = rec.get("doc")
            cl = doc.get(cluster) if isinstance(doc, dict) else None
            if cl is None:
                raise fail(
                    p,
                    f"line {lineno}: doc has no field {cluster!r} to use as cluster",
                    row=lineno,
                    column=f"doc.{cluster}",
                )
            if isinstance(cl, dict | list):
                _bad_field(p, lineno, f"doc.{cluster}", cl, "a cluster label (text or number)")
        n_records += 1
        if dh is not None:
            iid = dh
            hashed += 1
        else:
            iid = str(did)
        for name in names:
            v = rec.get(name)
            if v.__class__ not in num_types:
                skipped.setdefault(name, []).append(lineno)
                continue
            if v.__class__ is float and not isfinite(v):  # a NaN/Infinity literal
                nonfinite.setdefault(name, []).append(lineno)
                continue
            if v.__class__ is int and not -_BIG < v < _BIG:
                _bad_field(p, lineno, name, v, "a score within the float range")
            add_score(v)
            add_item(iid)
            add_doc(did)
            add_filter(flt)
            add_metric(name)
            add_cluster(cl)
            add_row(lineno)
    if not array_layout:
        remember_hash(p, hasher.hexdigest())
    frame = pd.DataFrame(
        {
            "model": model,
            "benchmark": task,
            "item_id": item_id,
            "score": np.frombuffer(scores, dtype=float) if len(scores) else np.array([], float),
            "metric": metrics,
            "filter": filters,
            "sample_idx": 0,
            "doc_id": doc_ids,
            "source_row": np.frombuffer(rows, dtype=np.int64)
            if len(rows)
            else np.array([], np.int64),
        }
    )
    if cluster is not None:
        frame["cluster"] = [str(c) for c in clusters]
    # item_id is the doc_hash (v0.4.3+) or the doc_id; say which, so pairing can fall back to doc_id
    frame["item_key"] = (
        "doc_hash" if hashed == n_records else ("doc_id" if hashed == 0 else "mixed")
    )
    drops = []
    for name, lines in skipped.items():
        first = lines[0]
        drops.append(
            {
                "source": str(p),
                "source_row": first,
                "benchmark": task,
                "metric": name,
                "reason": f"{len(lines)} per-sample value(s) of {name!r} are not numbers (a corpus-level "
                "metric stores [gold, pred] pairs); not an item score",
            }
        )
    for name, lines in nonfinite.items():
        drops.append(
            {
                "source": str(p),
                "source_row": lines[0],
                "benchmark": task,
                "metric": name,
                "reason": f"{len(lines)} per-sample value(s) of {name!r} are NaN or infinite; "
                "not an item score",
            }
        )
    if frame.empty:
        raise fail(
            p,
            "no per-sample numeric scores found"
            + (f" (skipped: {', '.join([*skipped, *nonfinite])})" if skipped or nonfinite else ""),
        )
    hib = {m: _hib(meta, task, m) for m in set(metrics)} if meta else {}
    frame["higher_is_better"] = frame["metric"].map(hib).astype(object) if hib else None
    add_provenance(
        frame,
        source=str(p),
        source_sha256=sha256_file(p),
        tool=meta["tool"] if meta else "lm_eval",
        tool_version=meta["tool_version"] if meta else None,
        task=task,
        n_shot=_n_shot(meta, task) if meta else None,
        layout=meta["layout"] if meta else layout,
        model_source=model_source,
        results_source=meta["source"] if meta else None,
    )
    frame.attrs["rlmeta_pending_drops"] = drops
    return frame
