"""Format auto-detection: by file name first, then by content (never by guessing scores).

:func:`detect_format` returns one of :data:`FORMATS`.  JSON documents are
recognised by their keys; JSONL files by their first record; Parquet files by
their column names; folders by their files (a HELM run folder, or a folder of
recognised files).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from . import eee, inspect_ai, lighteval, lm_eval, simple_evals
from ._common import DEFAULT_LIMITS, Limits, as_path, fail, iter_json_lines, load_json
from .helm import is_run_dir

__all__ = ["detect_format", "FORMATS", "HARNESS_FORMATS", "json_kind"]

#: Harness formats (aggregate or per-item) recognised by :func:`detect_format`.
HARNESS_FORMATS = (
    "lm_eval",
    "lm_eval_samples",
    "inspect",
    "helm",
    "lighteval",
    "lighteval_details",
    "eee",
    "eee_instances",
    "simple_evals",
)
#: Every format name :func:`detect_format` can return (plus ``"directory"``).
FORMATS = ("csv", "tsv", "excel", "parquet", "json", "jsonl") + HARNESS_FORMATS + ("directory",)

_SUFFIX = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "excel", ".xlsm": "excel"}


def json_kind(obj: Any) -> str | None:
    """The harness format of a decoded JSON document, or None for a plain table/unknown."""
    if eee.looks_like_aggregate(obj):
        return "eee"
    if inspect_ai.looks_like_log(obj):
        return "inspect"
    if lighteval.looks_like_results(obj):
        return "lighteval"
    if lm_eval.looks_like_results(obj):
        return "lm_eval"
    if simple_evals.looks_like_metrics(obj) or simple_evals.looks_like_allresults(obj):
        return "simple_evals"
    if isinstance(obj, list) and obj and lm_eval.looks_like_sample(obj[0]):
        return "lm_eval_samples"
    return None


def _first_record(path: Path) -> Any:
    for _, rec in iter_json_lines(path):
        return rec
    raise fail(path, "empty file: expected JSON lines")


def _head(path: Path, n: int = 2048) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n).lstrip(b"\xef\xbb\xbf \t\r\n")


def detect_format(path: Any, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """Detect the format of a file or folder.

    Parameters
    ----------
    path
        A file, or a folder (HELM run folder or a folder of result files).

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    ReaderError
        When the content matches no known layout (the message lists what was checked).

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "r.json").write_text(json.dumps({"results": {"arc": {"acc": 0.5}}, "versions": {"arc": 0}}))
    >>> detect_format(d / "r.json")
    'lm_eval'
    """
    p = as_path(path)
    if p.is_dir():
        return "helm" if is_run_dir(p) else "directory"
    if not p.is_file():
        raise FileNotFoundError(2, "No such file or directory", str(p))
    suffix = p.suffix.lower()
    if suffix in _SUFFIX:
        return _SUFFIX[suffix]
    if suffix == ".xls":
        raise fail(p, "legacy .xls workbooks are not supported; save the sheet as .xlsx or CSV")
    if suffix == ".eval":
        if not zipfile.is_zipfile(p):
            raise fail(p, "an Inspect .eval log must be a ZIP archive; this file is not")
        return "inspect"
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.ParquetFile(p).schema_arrow.names
        except Exception as exc:
            raise fail(p, f"not a readable Parquet file: {exc}") from None
        return "lighteval_details" if lighteval.is_details_schema(names) else "parquet"
    if suffix in (".jsonl", ".ndjson"):
        if _head(p)[:1] == b"[":  # lm-eval 0.4.0-0.4.2 wrote a JSON array into *.jsonl
            data = load_json(p, limits=limits)
            kind = json_kind(data)
            if kind == "lm_eval_samples":
                return kind
            if isinstance(data, list):
                return "json"
            raise fail(p, "a .jsonl file holding one JSON document that is not a list of samples")
        rec = _first_record(p)
        if lm_eval.looks_like_sample(rec):
            return "lm_eval_samples"
        if eee.looks_like_instance(rec):
            return "eee_instances"
        if isinstance(rec, dict):
            return "jsonl"
        raise fail(p, "line 1: expected a JSON object", row=1)
    if suffix == ".json":
        data = load_json(p, limits=limits)
        kind = json_kind(data)
        if kind is not None:
            return kind
        if isinstance(data, list) or (
            isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values())
        ):
            return "json"
        keys = ", ".join(list(data)[:10]) if isinstance(data, dict) else type(data).__name__
        raise fail(
            p,
            "unknown JSON layout: not lm-eval results (results + versions/n-shot), an Inspect log "
            "(version + eval), lighteval (config_general + results), Every Eval Ever "
            "(schema_version + evaluation_results), simple-evals (flat numbers with score) or a "
            f"table (list of rows); top-level keys: {keys}",
        )
    raise fail(
        p,
        f"unknown file type {suffix or '(no extension)'!r}; pass format=... explicitly "
        f"(one of {', '.join(FORMATS[:-1])})",
    )
