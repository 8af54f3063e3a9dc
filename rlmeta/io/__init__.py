"""Readers and writers: tidy tables and evaluation-harness outputs.

* :func:`read` -> observations: a wide contrast table, a long table with arms, or
  (for harness outputs) one row per model x benchmark x metric with ``score, se,
  n, higher_is_better`` and provenance; turn the latter into contrasts with
  :func:`to_contrasts`.
* :func:`read_items` -> items: one row per model x benchmark x item (x sample).
* :func:`write` -> CSV, TSV, Excel, Parquet, JSON/JSONL or Every Eval Ever (atomic).
* :func:`detect_format` -> the format name used by ``format="auto"``.

Every harness row carries provenance: ``source, source_sha256, tool,
tool_version, model, task, filter, n_shot`` (and ``source_row`` or
``source_location``).  Rows that a reader skips are listed in the drop log
(:func:`rlmeta.drop_log`).

Examples
--------
>>> import json, pathlib, tempfile
>>> import rlmeta as rm
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> for model, acc in (("rl-7b", 0.62), ("base-7b", 0.55)):
...     doc = {"results": {"arc": {"acc,none": acc, "acc_stderr,none": 0.014, "sample_len": 1172}},
...            "n-shot": {"arc": 25}, "versions": {"arc": 1}, "configs": {},
...            "config": {"model_args": f"pretrained={model}"}}
...     _ = (d / f"{model}.json").write_text(json.dumps(doc))
>>> obs = rm.read([d / "rl-7b.json", d / "base-7b.json"])
>>> obs[["model", "benchmark", "metric", "score", "n"]].values.tolist()
[['rl-7b', 'arc', 'acc', 0.62, 1172.0], ['base-7b', 'arc', 'acc', 0.55, 1172.0]]
>>> wide = rm.to_contrasts(obs, rl="rl-7b", baseline="base-7b")
>>> round(float(rm.effect_sizes(wide, measure="RD")["yi"][0]), 2)
0.07
"""

from __future__ import annotations

import contextlib
import os
import struct
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..droplog import extend_drop_log
from ..errors import RlmetaError
from ..schema import validate_items
from . import eee, helm, inspect_ai, lighteval, lm_eval, simple_evals
from ._common import (
    DEFAULT_LIMITS,
    PROVENANCE_COLUMNS,
    Limits,
    as_path,
    compact,
    fail,
    finish,
    load_json,
)
from .contrasts import items_to_observations, to_contrasts
from .detect import FORMATS, HARNESS_FORMATS, detect_format
from .oll import normalize_oll
from .sweeps import detect_sweep_format, read_sweep, sweep_columns
from .tables import TABLE_FORMATS, read_table, write_table

__all__ = [
    "read",
    "read_items",
    "write",
    "detect_format",
    "to_contrasts",
    "items_to_observations",
    "normalize_oll",
    "read_sweep",
    "detect_sweep_format",
    "sweep_columns",
    "Limits",
    "FORMATS",
    "PROVENANCE_COLUMNS",
]

_SCAN_SUFFIX = {".json", ".jsonl", ".eval", ".parquet"}
PathLike = str | os.PathLike


#: Exceptions that mean "this content is not what the reader expects" when they escape a
#: reader; :func:`_reading` turns them into a ReaderError naming the file.
_CONTENT_ERRORS: tuple[type[BaseException], ...] = (
    LookupError,
    TypeError,
    AttributeError,
    ValueError,
    ArithmeticError,
    RecursionError,
    EOFError,
    NotImplementedError,
    zipfile.BadZipFile,
    struct.error,
)


@contextlib.contextmanager
def _reading(path: Path, kind: str) -> Iterator[None]:
    """Last resort: a reader that meets content it was not written for raises a ReaderError.

    Every reader checks what it reads and raises a specific ReaderError; the fuzz
    suite (tests/test_fuzz_readers.py) holds them to that.  Should some input still
    slip through as a KeyError, TypeError, pyarrow error, ..., the user gets an error
    that names the file and the format instead of a traceback; the original exception
    is chained (``__cause__``) and the error is marked ``unexpected = True``.
    """
    try:
        yield
    except _CONTENT_ERRORS + _arrow_errors() as exc:
        if isinstance(exc, RlmetaError):  # rlmeta's own errors say what is wrong already
            raise
        err = fail(
            path,
            f"cannot read this file as {kind}: unexpected content ({type(exc).__name__}: "
            f"{str(exc)[:200]}); if the file is valid, please report it",
        )
        err.unexpected = True
        raise err from exc


def _arrow_errors() -> tuple[type[BaseException], ...]:
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return ()
    return (pa.ArrowException,)


def _paths(path_or_paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(path_or_paths, str | os.PathLike):
        items = [path_or_paths]
    else:
        items = list(path_or_paths)
    if not items:
        raise fail(None, "no path given")
    out = []
    for x in items:
        p = as_path(x)
        if not p.exists():
            raise FileNotFoundError(2, "No such file or directory", str(p))
        out.append(p)
    return out


def _scan(folder: Path, limits: Limits) -> tuple[list[tuple[Path, str]], list[dict]]:
    """Recognised evaluation files under ``folder`` (HELM run folders are not descended)."""
    found, skipped = [], []
    for root, dirs, files in os.walk(folder):
        rp = Path(root)
        if helm.is_run_dir(rp):
            found.append((rp, "helm"))
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(files):
            f = rp / name
            if f.suffix.lower() not in _SCAN_SUFFIX or name.startswith("."):
                continue
            if not f.is_file():  # a broken symbolic link, a socket, ...: say so, do not stop
                skipped.append({"source": str(f), "reason": "not read: not a regular file"})
                continue
            try:
                with _reading(f, "automatic format detection"):
                    kind = detect_format(f, limits=limits)
            except ValueError as exc:  # a ReaderError: one unreadable file does not stop the scan
                skipped.append({"source": str(f), "reason": f"not read: {exc}"})
                continue
            if kind in HARNESS_FORMATS:
                found.append((f, kind))
            else:
                skipped.append(
                    {
                        "source": str(f),
                        "reason": f"a plain {kind} table inside a folder is not read "
                        "automatically; pass it explicitly",
                    }
                )
    if not found:
        raise fail(folder, "no recognised evaluation files in this folder")
    return found, skipped


def _resolve(
    paths: list[Path], fmt: str, limits: Limits
) -> tuple[list[tuple[Path, str]], list[dict], set[Path]]:
    """(path, format) jobs, skipped files, and the set of files found by scanning folders."""
    jobs, skipped, scanned = [], [], set()
    for p in paths:
        with _reading(p, "automatic format detection"):
            kind = detect_format(p, limits=limits) if fmt == "auto" else fmt
        if kind not in FORMATS:
            raise fail(p, f"unknown format {fmt!r}; expected 'auto' or one of {', '.join(FORMATS)}")
        if p.is_dir() and kind not in ("directory", "helm"):
            # a folder with an explicit format: keep the files of that format only
            found, sk = _scan(p, limits)
            keep = [(f, k) for f, k in found if k == kind]
            if not keep:
                raise fail(p, f"no {kind} files in this folder")
            skipped.extend(
                sk
                + [
                    {"source": str(f), "reason": f"not {kind} (format={kind!r} was asked)"}
                    for f, k in found
                    if k != kind
                ]
            )
            scanned.update(f for f, _ in keep)
            jobs.extend(keep)
        elif kind == "directory":
            found, sk = _scan(p, limits)
            scanned.update(f for f, _ in found)
            jobs.extend(found)
            skipped.extend(sk)
        else:
            jobs.append((p, kind))
    seen: set[Path] = set()
    unique = []
    for p, kind in jobs:  # a file named twice (or inside two given folders) is read once
        key = p.resolve()
        if key in seen:
            skipped.append({"source": str(p), "reason": "given more than once; read once"})
            continue
        seen.add(key)
        unique.append((p, kind))
    return unique, skipped, scanned


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    drops: list[dict] = []
    for f in frames:
        drops.extend(f.attrs.pop("rlmeta_pending_drops", []))
    # Categoricals with different categories concatenate to object; compact() restores them.
    out = (
        pd.concat(frames, ignore_index=True, sort=False)
        if len(frames) > 1
        else frames[0].reset_index(drop=True)
    )
    out.attrs = {}
    for col in ("score", "se", "sd", "n", "ci_low", "ci_high"):
        # readers may leave None for "not in the file"; downstream wants float NaN
        if col in out.columns and out[col].dtype == object:
            out[col] = pd.to_numeric(out[col], errors="raise").astype(float)
    out = extend_drop_log(out, *frames)
    return finish(compact(out), drops)


def _aggregate(items: pd.DataFrame) -> pd.DataFrame:
    """Observations from one reader's items, keeping the items' pending drop-log entries."""
    return items_to_observations(finish(items, items.attrs.pop("rlmeta_pending_drops", [])))


def _override_scale(frame: pd.DataFrame, score_scale: str | None) -> pd.DataFrame:
    if score_scale is not None:
        frame["score_scale"] = score_scale
    return frame


def _json_data(p: Path, limits: Limits) -> Any:
    return load_json(p, limits=limits) if p.suffix.lower() == ".json" else None


def read(
    path_or_paths: PathLike | Iterable[PathLike],
    format: str = "auto",
    *,
    score_scale: str | None = None,
    sheet: str | int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    **column_mapping: str,
) -> pd.DataFrame:
    """Read observations from tables or evaluation-harness outputs.

    Parameters
    ----------
    path_or_paths
        A file, a folder, or a list of them.  Folders are scanned for harness files.
    format
        ``"auto"`` (detect per file, see :func:`detect_format`) or one of
        :data:`FORMATS`.
    score_scale
        ``"proportion"``, ``"percent"`` or a label for raw scores.  For tables it
        fills missing ``score_scale`` cells (a conflicting cell is an error); for
        harness files it replaces the reader's label.  Never inferred from values.
    sheet
        Excel worksheet name or index (default: the first).
    limits
        Size limits for archives and whole-document JSON (:class:`Limits`).
    **column_mapping
        For tables: ``contract_name="your_column"``, e.g. ``rl_score="acc_rl"``.

    Returns
    -------
    pandas.DataFrame
        Tables: validated wide or long observations (``source``, ``source_row``
        added).  Harness files: one row per model x benchmark x metric (x filter)
        with ``score, se, sd?, n, higher_is_better, score_scale, se_method,
        se_flag`` and provenance.  Per-item files are aggregated with
        :func:`items_to_observations`.  Skipped entries are in the drop log.

    Examples
    --------
    A paper table with its own column names, scores in percent:

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "table2.csv"
    >>> _ = p.write_text("paper,task,grpo,sft,n\\nsmith24,GSM8K,88.2,82.9,1319\\n")
    >>> obs = read(p, study_id="paper", benchmark="task", rl_score="grpo", baseline_score="sft",
    ...            n_items="n", score_scale="percent")
    >>> obs[["study_id", "benchmark", "rl_score", "score_scale", "source_row"]].values.tolist()
    [['smith24', 'GSM8K', 88.2, 'percent', 1]]
    """
    paths = _paths(path_or_paths)
    jobs, skipped, _ = _resolve(paths, format, limits)
    frames: list[pd.DataFrame] = []
    kinds = {k for _, k in jobs}
    if column_mapping and kinds - set(TABLE_FORMATS):
        raise fail(
            jobs[0][0],
            "column mapping keywords apply to tables only, not to harness files "
            f"({', '.join(sorted(kinds - set(TABLE_FORMATS)))})",
        )
    have_results = {p for p, k in jobs if k == "lm_eval"}
    for p, kind in jobs:
        with _reading(p, kind):
            if kind in TABLE_FORMATS:
                frames.append(
                    read_table(
                        p,
                        kind,
                        mapping=column_mapping,
                        score_scale=score_scale,
                        sheet=sheet,
                        limits=limits,
                    )
                )
                continue
            if kind == "lm_eval":
                fr, _ = lm_eval.read_results(p, limits=limits, data=_json_data(p, limits))
            elif kind == "lm_eval_samples":
                res = lm_eval.find_results_for(p, sorted(have_results))
                if res is not None and res in have_results:
                    continue  # its results file is read already; do not count the run twice
                fr = _aggregate(_lm_items(p, None, None, None, [q for q, _ in jobs], limits))
            elif kind == "inspect":
                fr = inspect_ai.read_log(p, limits=limits)
            elif kind == "helm":
                fr = helm.read_run(p, limits=limits)
            elif kind == "lighteval":
                fr = lighteval.read_results(p, data=_json_data(p, limits), limits=limits)
            elif kind == "lighteval_details":
                fr = _aggregate(lighteval.read_details(p))
            elif kind == "eee":
                fr = eee.read_aggregate(p, data=_json_data(p, limits), limits=limits)
            elif kind == "eee_instances":
                fr = _aggregate(eee.read_instances(p))
            elif kind == "simple_evals":
                fr = simple_evals.read_metrics(p, data=_json_data(p, limits), limits=limits)
            else:  # pragma: no cover - every format is handled above
                raise fail(p, f"no reader for format {kind!r}")
            frames.append(_override_scale(fr, score_scale))
    if not frames:
        raise fail(paths[0], "nothing to read")
    table_kinds = {k for _, k in jobs if k in TABLE_FORMATS}
    if table_kinds and len(table_kinds) != len(kinds):
        raise fail(
            paths[0], "cannot mix tables and harness files in one read(); read them separately"
        )
    out = _concat(frames)
    return finish(out, [dict(s, reason=s["reason"]) for s in skipped])


def _lm_items(p: Path, model, task, cluster, pool: list[Path], limits: Limits) -> pd.DataFrame:
    res = lm_eval.find_results_for(p, [q for q in pool if q.suffix == ".json"] or None)
    if res is None:
        res = lm_eval.find_results_for(p)
    meta = None
    if res is not None:
        _, meta = lm_eval.read_results(res, limits=limits)
    return lm_eval.read_samples(
        p, meta=meta, model=model, task=task, cluster=cluster, limits=limits
    )


def _samples_of_results(p: Path) -> list[Path]:
    """Per-sample files written with a v0.4.3+ results file (same folder and date id)."""
    date = lm_eval._DATED_JSON.search(p.name)
    if not date:
        return []
    return sorted(q for q in p.parent.glob(f"*samples_*{date.group('date')}*.jsonl"))


def read_items(
    path_or_paths: PathLike | Iterable[PathLike],
    format: str = "auto",
    *,
    model: str | None = None,
    task: str | None = None,
    cluster: str | None = None,
    metrics: Sequence[str] | None = None,
    reduced: bool | None = None,
    split: str = "test",
    perturbation: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    **column_mapping: str,
) -> pd.DataFrame:
    """Read per-item scores from harness outputs or an items table.

    Parameters
    ----------
    path_or_paths
        Files and/or folders.  An lm-eval results file brings in its per-sample
        files (same folder and date id); per-sample files find their results file
        (for the model name, version and n-shot) among the given paths or in
        their folder.
    format
        ``"auto"`` or one of :data:`FORMATS`.
    model, task
        Override model and task names (lm-eval samples, lighteval details).
    cluster
        Field to use as the cluster key: ``doc.<cluster>`` (lm-eval),
        ``sample.metadata.<cluster>`` (Inspect), ``metadata.<cluster>`` (EEE).
    metrics
        Keep only these metric names.
    reduced
        Inspect: None = per-epoch scores when stored, else reductions; True =
        reductions; False = per-epoch scores.
    split, perturbation
        HELM: which split (default ``"test"``) and perturbation (default none).
    limits
        Size limits (:class:`Limits`).
    **column_mapping
        For items tables: ``item_id="question"``, ``score="correct"``, ...

    Returns
    -------
    pandas.DataFrame
        ``model, benchmark, item_id, score, metric, sample_idx`` (+ ``cluster``,
        ``filter``, ``doc_id``/``doc_hash``, ``score_raw``, ``higher_is_better``)
        and provenance (``source, source_row`` or ``source_location``,
        ``source_sha256, tool, tool_version, task, n_shot``).

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> import rlmeta as rm
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "Org__rl-model"
    >>> d.mkdir()
    >>> lines = [{"doc_id": i, "doc": {"q": i}, "doc_hash": f"h{i}", "filter": "none",
    ...           "metrics": ["acc"], "acc": float(i % 2)} for i in range(4)]
    >>> _ = (d / "samples_arc_2025-01-01T00-00-00.000001.jsonl").write_text(
    ...     "\\n".join(json.dumps(x) for x in lines))
    >>> items = rm.read_items(d)
    >>> items[["model", "benchmark", "item_id", "score"]].head(2).values.tolist()
    [['Org__rl-model', 'arc', 'h0', 0.0], ['Org__rl-model', 'arc', 'h1', 1.0]]
    """
    paths = _paths(path_or_paths)
    jobs, skipped, scanned = _resolve(paths, format, limits)
    frames: list[pd.DataFrame] = []
    pool = [p for p, _ in jobs]
    done: set[Path] = set()
    if column_mapping and {k for _, k in jobs} - set(TABLE_FORMATS):
        raise fail(jobs[0][0], "column mapping keywords apply to items tables only")
    for p, kind in jobs:
        with _reading(p, kind):
            if p in done:
                continue
            if kind in TABLE_FORMATS:
                frames.append(
                    read_table(p, kind, mapping=column_mapping, want="items", limits=limits)
                )
            elif kind == "lm_eval_samples":
                frames.append(_lm_items(p, model, task, cluster, pool, limits))
            elif kind == "lm_eval":
                samples = [q for q in _samples_of_results(p) if q not in done and q not in pool]
                if not samples:
                    if any(k == "lm_eval_samples" for _, k in jobs):
                        continue  # used as metadata for the sample files given
                    raise fail(
                        p,
                        "an lm-eval results file holds aggregates only and no per-sample files were found "
                        "beside it (run lm-eval with --log_samples, or use rm.read for aggregates)",
                    )
                _, meta = lm_eval.read_results(p, limits=limits)
                for q in samples:
                    frames.append(
                        lm_eval.read_samples(
                            q, meta=meta, model=model, task=task, cluster=cluster, limits=limits
                        )
                    )
                    done.add(q)
            elif kind == "inspect":
                frames.append(
                    inspect_ai.read_log_items(p, reduced=reduced, cluster=cluster, limits=limits)
                )
            elif kind == "helm":
                frames.append(
                    helm.read_run_items(
                        p, split=split, perturbation=perturbation, metrics=metrics, limits=limits
                    )
                )
            elif kind == "lighteval_details":
                frames.append(lighteval.read_details(p, model=model, task=task))
            elif kind == "eee_instances":
                frames.append(eee.read_instances(p, cluster=cluster))
            elif kind in ("lighteval", "eee", "simple_evals"):
                if p in scanned:  # found while scanning a folder: skip, but say so
                    skipped.append(
                        {
                            "source": str(p),
                            "reason": f"{kind} aggregate file has no per-item scores",
                        }
                    )
                    continue
                raise fail(
                    p,
                    f"a {kind} aggregate file has no per-item scores; use rm.read() for aggregates"
                    + (" or the details Parquet files" if kind == "lighteval" else ""),
                )
            else:  # pragma: no cover
                raise fail(p, f"no item reader for format {kind!r}")
            done.add(p)
    if not frames:
        raise fail(paths[0], "no per-item scores found")
    out = _concat(frames)
    if metrics is not None:
        keep = out["metric"].astype(str).isin([str(m) for m in metrics]).to_numpy()
        if not keep.any():
            raise fail(
                paths[0],
                f"none of the metrics {list(metrics)} occur; found "
                f"{sorted(out['metric'].astype(str).unique())[:12]}",
                column="metric",
            )
        out = out.loc[keep].reset_index(drop=True)
    table_kinds = {k for _, k in jobs if k in TABLE_FORMATS}
    out = validate_items(out) if table_kinds else _check_items(out)
    return finish(out, skipped)


def _check_items(items: pd.DataFrame) -> pd.DataFrame:
    """Light check of reader output (the readers build the types; user tables get validate_items)."""
    for col in ("model", "benchmark", "item_id", "score"):
        if col not in items.columns:
            raise fail(None, f"reader produced no '{col}' column", column=col)
        bad = items[col].isna().to_numpy()
        if bad.any():
            src = (
                str(items["source"].iloc[int(bad.argmax())]) if "source" in items.columns else None
            )
            row = (
                items["source_row"].iloc[int(bad.argmax())]
                if "source_row" in items.columns
                else None
            )
            raise fail(
                src,
                f"missing {col}",
                row=None if row is None or pd.isna(row) else int(row),
                column=col,
            )
    if items["score"].dtype != float:
        items["score"] = items["score"].astype(float)
    return items


def write(frame: pd.DataFrame, path: PathLike, format: str = "auto") -> Path:
    """Write a table atomically.

    Parameters
    ----------
    frame
        Any rlmeta table.
    path
        Output file (for ``format="eee"`` with several models: a folder).
    format
        ``"auto"`` (from the extension: .csv, .tsv, .xlsx, .parquet, .json,
        .jsonl), one of those names (``"excel"`` for .xlsx), or ``"eee"`` (Every
        Eval Ever: aggregate JSON for observations, instance JSONL for items).

    Returns
    -------
    pathlib.Path
        The path written (the folder for a multi-model EEE export).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = write(pd.DataFrame({"note": ["=HYPERLINK(1)"], "x": [1]}), p)
    >>> p.read_text().splitlines()[1]
    "'=HYPERLINK(1),1"
    """
    p = as_path(path)
    fmt = format
    if fmt == "auto":
        ext = {
            ".csv": "csv",
            ".tsv": "tsv",
            ".xlsx": "excel",
            ".parquet": "parquet",
            ".json": "json",
            ".jsonl": "jsonl",
        }
        fmt = ext.get(p.suffix.lower(), "")
        if not fmt:
            raise fail(
                p,
                f"cannot tell the output format from {p.suffix or 'no extension'!r}; pass format=",
            )
    if fmt == "eee":
        if "item_id" in frame.columns:
            return eee.write_instances(frame, p)
        written = eee.write_aggregate(frame, p)
        return written[0] if len(written) == 1 else p
    return write_table(frame, p, fmt)
