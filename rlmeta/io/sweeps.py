"""Hyper-parameter sweep exports: MLflow, Weights & Biases and generic wide tables.

:func:`read_sweep` turns a sweep export into a tidy run-level table (one row per
run): identifying columns, hyper-parameters, metrics and tags, each column typed
*explicitly* and the typing recorded, plus ``log10_<name>`` columns for
hyper-parameters that live on a log scale.

Supported shapes
----------------
``mlflow``
    A ``mlflow.search_runs()`` result saved with ``DataFrame.to_csv`` (with or
    without the index column), ``to_parquet`` or ``to_json(orient="records")``, or
    the DataFrame itself.  Columns ``run_id, experiment_id, status, artifact_uri,
    start_time, end_time`` and the prefixed ``params.<key>``, ``metrics.<key>`` and
    ``tags.<key>``.  MLflow stores every parameter as text, so typing matters here.
    Detected by any ``params.``/``metrics.`` column.
``wandb``
    Two shapes.  (a) The runs-table *Export CSV* of the W&B web app: run columns
    ``Name, State, Notes, User, Tags, Created, Runtime, Sweep`` (and optionally
    ``ID, End Time, Updated, Group, Job Type, Hostname, ...``) followed by the
    config keys and the summary metrics, unprefixed, every cell quoted.  The export
    does not say which columns are config and which are summary: columns whose name
    contains ``/`` or a metric word (``acc, loss, score, reward, f1, ...``) are taken
    as metrics, the others as parameters, and the report says so (``role_source``);
    pass ``params=``/``metrics=`` to decide.  Detected by ``Name`` with at least two
    other run columns (older exports have no ``State``).
    (b) The public-API recipe of the W&B documentation: a CSV with ``name``,
    ``config`` and ``summary`` columns holding one dict per run (JSON or Python
    ``repr``; parsed as literals, never evaluated).  Nested keys are joined with
    ``_``; summary keys starting with ``_`` (``_step, _runtime, _timestamp``) are
    run metadata; W&B media objects (dicts with ``_type``) are kept as JSON text.
``wide``
    Any other table with one row per run.  Columns named in ``params=`` /
    ``metrics=`` get those roles; the rest are ``value``.

Typing rules (per column, over its non-missing cells)
-----------------------------------------------------
* missing: empty cells and ``NA, NaN, NaT, None, null, n/a`` (any case);
* ``boolean``: every cell is ``true``/``false`` (any case; 0/1 are numbers);
* ``integer``: every cell is a whole-number literal (``128``; stored as int64, or
  float64 when there are missing values);
* ``number``: every cell is a number literal (``3e-4``, ``0.1``, ``inf``);
* ``category``: anything else, kept as text.  A column mixing numbers with text
  (``3e-4`` and ``auto``) stays a category and a :class:`~rlmeta.errors.DataWarning`
  names its first non-numeric cell: values are never coerced silently;
* ``datetime``: the run start/end columns (ISO text or epoch milliseconds).

``types={"seed": "category"}`` overrides the inference; a value that does not fit
the requested type raises :class:`~rlmeta.errors.ReaderError` naming the file, row
and column.  The decisions are in ``frame.attrs["rlmeta_sweep"]`` and returned as
a table by :func:`sweep_columns`.

Log-scaled hyper-parameters
---------------------------
A numeric parameter column whose name says learning rate (``lr`` as a word,
``learning_rate``), KL coefficient (``kl`` as a word, ``beta`` but not Adam's
``beta1/beta2``), weight decay (``weight_decay``, ``wd``) or entropy coefficient
(``ent_coef``, ``entropy_coef``) gets a ``log10_<name>`` column when all its values
are positive and at most 10, and they either span at least a factor of 10 or are all
at most 0.01 (learning rates).  ``log_scale=[...]`` names the columns explicitly;
``log_scale=None`` turns this off.

Examples
--------
>>> import io
>>> text = ("run_id,status,params.learning_rate,params.optimizer,params.use_kl,metrics.accuracy\\n"
...         "a1,FINISHED,1e-06,adam,True,0.61\\n"
...         "a2,FINISHED,1e-05,adam,False,0.64\\n"
...         "a3,FAILED,1e-04,sgd,True,\\n")
>>> runs = read_sweep(io.StringIO(text))
>>> runs[["run_id", "learning_rate", "log10_learning_rate", "use_kl", "accuracy"]]
  run_id  learning_rate  log10_learning_rate  use_kl  accuracy
0     a1       0.000001                 -6.0    True      0.61
1     a2       0.000010                 -5.0   False      0.64
2     a3       0.000100                 -4.0    True       NaN
>>> cols = sweep_columns(runs).set_index("column")
>>> cols.loc[["learning_rate", "optimizer", "use_kl", "accuracy"], "kind"].tolist()
['number', 'category', 'boolean', 'number']
>>> cols.loc["accuracy", "role"], cols.loc["learning_rate", "log10_column"]
('metric', 'log10_learning_rate')
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..droplog import record_drops
from ..errors import DataWarning, ReaderError

__all__ = ["read_sweep", "sweep_columns", "detect_sweep_format", "SWEEP_FORMATS", "TYPE_KINDS"]

SWEEP_FORMATS = ("auto", "mlflow", "wandb", "wide")
TYPE_KINDS = ("number", "integer", "boolean", "category", "text", "datetime")
_ATTR = "rlmeta_sweep"
_MISSING = {"", "na", "nan", "nat", "none", "null", "n/a"}
_NUM = re.compile(
    r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:inf|infinity)$", re.IGNORECASE
)
_INT = re.compile(r"^[+-]?\d+$")
_MAX_CELL = 1_000_000  # longest dict cell parsed from a W&B API export (guards literal parsing)

_MLFLOW_META = {
    "run_id": "run_id",
    "experiment_id": "experiment_id",
    "status": "status",
    "artifact_uri": "artifact_uri",
    "start_time": "start_time",
    "end_time": "end_time",
    "lifecycle_stage": "lifecycle_stage",
    "run_name": "run_name",
}
_MLFLOW_TAG_META = {"mlflow.runName": "run_name", "mlflow.parentRunId": "parent_run_id"}
_WANDB_META = {
    "Name": "run_name",
    "ID": "run_id",
    "State": "status",
    "Notes": "notes",
    "User": "user",
    "Tags": "tags",
    "Created": "start_time",
    "End Time": "end_time",
    "Updated": "updated",
    "Runtime": "runtime_s",
    "Sweep": "sweep",
    "Group": "group",
    "Job Type": "job_type",
    "Hostname": "hostname",
    "GPU Type": "gpu_type",
    "GPU Count": "gpu_count",
    "Commit": "commit",
    "Description": "description",
    "Heartbeat": "heartbeat",
}
_TIME_COLUMNS = {"start_time", "end_time", "updated", "heartbeat"}
_FINISHED = {"finished"}
_METRIC_WORDS = re.compile(
    r"acc|loss|score|reward|f1|bleu|rouge|pass@|pass_at|exact_match|perplexity|ppl|auc|win_rate|winrate|"
    r"precision|recall|mse|mae|rmse|error|return|kl_div|entropy$|_step$|runtime|throughput|samples_per_second",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- cell typing
def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, str) and v.strip().lower() in _MISSING


def _cell_kind(v: Any) -> str:
    """Kind of one non-missing cell: 'boolean', 'integer', 'number' or 'text'."""
    if isinstance(v, bool | np.bool_):
        return "boolean"
    if isinstance(v, datetime | np.datetime64):  # already typed (Parquet, a DataFrame)
        return "datetime"
    if isinstance(v, int | np.integer):
        return "integer"
    if isinstance(v, float | np.floating):
        return "number"
    s = str(v).strip()
    if s.lower() in ("true", "false"):
        return "boolean"
    if _INT.match(s):
        return "integer"
    if _NUM.match(s):
        return "number"
    return "text"


def _to_float(v: Any) -> float:
    if isinstance(v, bool | np.bool_):
        raise ValueError("boolean")
    return float(v) if not isinstance(v, str) else float(v.strip())


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    s = str(v).strip().lower()
    if s == "true":
        return True
    if s == "false":
        return False
    raise ValueError(v)


def _text(v: Any) -> str:
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v).strip() if isinstance(v, str) else str(v)


class _Typed:
    """One typed output column with its report record."""

    def __init__(
        self,
        name: str,
        source: str,
        role: str,
        role_source: str,
        values: pd.Series,
        kind: str,
        note: str,
    ):
        self.name, self.source, self.role, self.role_source = name, source, role, role_source
        self.values, self.kind, self.note = values, kind, note
        self.log10: str | None = None

    def record(self) -> dict:
        return {
            "column": self.name,
            "source_column": self.source,
            "role": self.role,
            "role_source": self.role_source,
            "kind": self.kind,
            "dtype": str(self.values.dtype),
            "n_missing": int(self.values.isna().sum()),
            "log10_column": self.log10,
            "note": self.note,
        }


def _convert(
    raw: list[Any], kind: str, *, file: str | None, rows: list[int], column: str
) -> pd.Series:
    """Convert raw cells to ``kind``; a cell that does not fit raises ReaderError with its row."""
    miss = [_is_missing(v) for v in raw]
    out: list[Any] = []
    for v, m, r in zip(raw, miss, rows):
        if m:
            out.append(None)
            continue
        try:
            if kind in ("number", "integer"):
                f = _to_float(v)
                if kind == "integer" and not float(f).is_integer():
                    raise ValueError(v)
                out.append(f)
            elif kind == "boolean":
                out.append(_to_bool(v))
            else:
                out.append(_text(v))
        except (TypeError, ValueError):
            expected = {
                "number": "a number",
                "integer": "a whole number",
                "boolean": "true or false",
            }.get(kind, kind)
            raise ReaderError(
                f"expected {expected} (types= or inferred), got {v!r}",
                file=file,
                row=r,
                column=column,
            ) from None
    if kind in ("number", "integer"):
        arr = np.array([np.nan if v is None else v for v in out], dtype=float)
        if kind == "integer" and not any(miss):
            return pd.Series(arr.astype(np.int64))
        return pd.Series(arr)
    if kind == "boolean":
        if any(miss):
            return pd.Series(pd.array(out, dtype="boolean"))
        return pd.Series(np.array(out, dtype=bool))
    return (
        pd.Series([np.nan if v is None else v for v in out], dtype=object)
        .astype("str")
        .where(~pd.Series(miss), np.nan)
    )


def _infer_and_convert(
    raw: list[Any],
    *,
    forced: str | None,
    time_column: bool,
    file: str | None,
    rows: list[int],
    column: str,
) -> tuple[pd.Series, str, str]:
    """Infer the kind of a column (unless forced) and convert it; returns (values, kind, note)."""
    present = [(v, r) for v, r in zip(raw, rows) if not _is_missing(v)]
    if forced is not None:
        if forced not in TYPE_KINDS:
            raise ReaderError(
                f"types: unknown type {forced!r} for column {column!r}; expected one of {TYPE_KINDS}",
                file=file,
                column=column,
            )
        if forced == "datetime":
            return (
                _datetime(raw, file=file, rows=rows, column=column, strict=True),
                "datetime",
                "type set by types=",
            )
        kind = "category" if forced == "text" else forced
        return (
            _convert(raw, kind, file=file, rows=rows, column=column),
            forced,
            "type set by types=",
        )
    if not present:
        return pd.Series(np.full(len(raw), np.nan)), "empty", "no values"
    if time_column:
        try:
            return _datetime(raw, file=file, rows=rows, column=column, strict=False), "datetime", ""
        except ValueError:
            pass  # not parseable as times: typed like any other column below
    kinds = [_cell_kind(v) for v, _ in present]
    kset = set(kinds)
    if kset == {"datetime"}:
        return (
            pd.to_datetime(
                pd.Series([None if _is_missing(v) else v for v in raw], dtype=object), utc=True
            ),
            "datetime",
            "",
        )
    if kset == {"boolean"}:
        return _convert(raw, "boolean", file=file, rows=rows, column=column), "boolean", ""
    if kset <= {"integer"}:
        note = (
            "whole numbers with missing values stored as float" if len(present) < len(raw) else ""
        )
        return _convert(raw, "integer", file=file, rows=rows, column=column), "integer", note
    if kset <= {"integer", "number"}:
        return _convert(raw, "number", file=file, rows=rows, column=column), "number", ""
    numeric = [k in ("integer", "number") for k in kinds]
    note = ""
    if any(numeric):
        first_text = next(
            (v, r) for (v, r), k in zip(present, kinds) if k not in ("integer", "number")
        )
        note = (
            f"mixes numbers and text (first text {first_text[0]!r} in row {first_text[1]}); kept as category - "
            "fix the input or pass types="
        )
        where = f"{file}, " if file else ""
        warnings.warn(f"{where}column {column!r}: {note}", DataWarning, stacklevel=5)
    elif "boolean" in kset:
        note = "mixes true/false with text; kept as category"
    return _convert(raw, "category", file=file, rows=rows, column=column), "category", note


def _datetime(
    raw: list[Any], *, file: str | None, rows: list[int], column: str, strict: bool
) -> pd.Series:
    miss = [_is_missing(v) for v in raw]
    vals = [None if m else v for v, m in zip(raw, miss)]
    present = [v for v in vals if v is not None]
    numeric = all(_cell_kind(v) in ("integer", "number") for v in present) if present else False
    try:
        if numeric:  # MLflow stores epoch milliseconds
            return pd.to_datetime(
                pd.Series([np.nan if v is None else float(v) for v in vals]), unit="ms", utc=True
            )
        return pd.to_datetime(
            pd.Series([None if v is None else str(v) for v in vals], dtype=object),
            utc=True,
            format="ISO8601",
        )
    except (ValueError, TypeError, OverflowError) as exc:
        if strict:
            raise ReaderError(f"expected a date-time: {exc}", file=file, column=column) from None
        raise ValueError(str(exc)) from None


# --------------------------------------------------------------------------- names and roles
def _clean_name(name: str) -> str:
    """A formula-safe column name: [A-Za-z0-9_], not starting with a digit."""
    s = re.sub(r"[^0-9A-Za-z_]+", "_", str(name)).strip("_")
    s = re.sub(r"_+", "_", s)
    if not s:
        s = "column"
    if s[0].isdigit():
        s = "x_" + s
    return s


_LOG_NAME = re.compile(
    r"(^|_)(lr|learning_rate|learningrate|kl|kl_coef|kl_beta|beta|dpo_beta|weight_decay|wd|ent_coef|entropy_coef)(_|$)",
    re.IGNORECASE,
)
_ADAM_BETA = re.compile(r"(adam|beta[12]|betas)", re.IGNORECASE)


def _log_scaled_by_name(name: str) -> bool:
    n = name.lower()
    if "learning_rate" in n or "learningrate" in n:
        return True
    if _ADAM_BETA.search(n):
        return False
    return bool(_LOG_NAME.search(n))


def _log_range_ok(x: np.ndarray) -> tuple[bool, str]:
    x = x[~np.isnan(x)]
    if x.size == 0:
        return False, "no values"
    if np.any(x <= 0) or not np.all(np.isfinite(x)):
        return False, "not all values positive and finite: no log10 column"
    if x.max() > 10:
        return False, "values above 10: not treated as a log-scaled rate"
    if x.max() / x.min() >= 10 or x.max() <= 1e-2:
        return True, ""
    return False, "values span less than a factor of 10: no log10 column (pass log_scale= to force)"


def _guess_role(name: str) -> str:
    if name.startswith("_"):
        return "meta"
    if "/" in name or _METRIC_WORDS.search(name):
        return "metric"
    return "param"


# --------------------------------------------------------------------------- reading
def _display(path: Any) -> str | None:
    if isinstance(path, str | Path):
        return Path(path).name
    return getattr(path, "name", None) if not isinstance(path, io.StringIO | io.BytesIO) else None


def _read_table(src: Any, file: str | None) -> pd.DataFrame:
    """Read CSV/TSV (all cells as text), Parquet or JSON into a frame; check the header."""
    if isinstance(src, pd.DataFrame):
        return src.reset_index(drop=isinstance(src.index, pd.RangeIndex)).copy()
    suffix = Path(str(src)).suffix.lower() if isinstance(src, str | Path) else ""
    if isinstance(src, str | Path) and not Path(src).is_file():
        raise ReaderError("file not found", file=str(src))
    try:
        if suffix == ".parquet":
            try:
                from .tables import _read_parquet

                return _read_parquet(src)
            except Exception as exc:  # pyarrow raises OSError, ArrowInvalid, NotImplemented...
                raise ReaderError(f"not a readable Parquet file: {exc}", file=file) from None
        if suffix in (".json", ".jsonl", ".ndjson"):
            return _json_runs(Path(src), file, lines=suffix != ".json")
        sep = "\t" if suffix in (".tsv", ".tab") else ","
        if isinstance(src, str | Path):
            with open(src, newline="", encoding="utf-8-sig") as fh:
                text = fh.read()
        else:
            text = src.read()
            text = text.decode("utf-8-sig") if isinstance(text, bytes) else text
        if not text.strip():
            raise ReaderError("the file is empty", file=file)
        header = next(csv.reader(io.StringIO(text), delimiter=sep))
        seen: set[str] = set()
        for h in header:
            if h in seen and h != "":
                raise ReaderError("duplicated column name in the header", file=file, column=h)
            seen.add(h)
        return pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False
        )
    except ReaderError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ReaderError(f"cannot read the table: {exc}", file=file) from None


def _json_runs(path: Path, file: str | None, *, lines: bool) -> pd.DataFrame:
    """Runs from ``to_json(orient="records")`` (one array of objects) or JSON lines (one per line).

    Decoded with the readers' JSON functions, so errors name the line, and each run
    must be an object: anything else is a ReaderError, not a pandas exception.
    """
    from ._common import iter_json_lines, load_json

    if lines:
        recs = list(iter_json_lines(path))
    else:
        data = load_json(path)
        if not isinstance(data, list):
            raise ReaderError(
                f"expected a JSON array of run objects (to_json(orient='records')), got "
                f"{type(data).__name__}",
                file=file,
            )
        recs = list(enumerate(data, start=1))
    for row, rec in recs:
        if not isinstance(rec, dict):
            raise ReaderError(
                f"expected one object per run, got {type(rec).__name__}", file=file, row=row
            )
    return pd.DataFrame.from_records([rec for _, rec in recs])


def detect_sweep_format(frame: pd.DataFrame) -> str:
    """``"mlflow"``, ``"wandb"`` or ``"wide"`` from the column names (see the module docs)."""
    cols = [str(c) for c in frame.columns]
    if any(c.startswith(("params.", "metrics.")) for c in cols) or (
        "run_id" in cols and any(c.startswith("tags.") for c in cols)
    ):
        return "mlflow"
    if {"config", "summary"} <= set(cols) or _is_wandb_web(cols):
        return "wandb"
    return "wide"


def _is_wandb_web(cols: Iterable[str]) -> bool:
    """The web app's CSV: ``Name`` plus at least two other W&B run columns (``State`` is optional)."""
    cols = set(cols)
    return "Name" in cols and len(cols & (set(_WANDB_META) - {"Name"})) >= 2


def _drop_index_column(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop the unnamed index column written by ``DataFrame.to_csv`` (values 0..n-1)."""
    first = str(frame.columns[0]) if len(frame.columns) else None
    if first in ("", "Unnamed: 0", "index") and len(frame):
        vals = frame.iloc[:, 0].astype(str).str.strip()
        if vals.tolist() == [str(i) for i in range(len(frame))]:
            return frame.iloc[:, 1:]
    return frame


def _parse_dict(cell: Any, *, file: str | None, row: int, column: str) -> dict:
    """A W&B config/summary cell: JSON, or a Python literal (never evaluated as code)."""
    if _is_missing(cell):
        return {}
    if isinstance(cell, dict):
        return cell
    text = str(cell)
    if len(text) > _MAX_CELL:
        raise ReaderError(
            f"cell longer than {_MAX_CELL} characters", file=file, row=row, column=column
        )
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the stack allows
        try:
            # literal_eval parses literals only (dicts, lists, numbers, strings, True/None): no code runs.
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ReaderError(
                f"expected a dict of {column} values (JSON or Python literal), got {text[:60]!r}",
                file=file,
                row=row,
                column=column,
            ) from None
    if not isinstance(value, dict):
        raise ReaderError(
            f"expected a dict of {column} values, got {type(value).__name__}",
            file=file,
            row=row,
            column=column,
        )
    return value


def _flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            if (
                set(v) <= {"value", "desc"} and "value" in v
            ):  # raw W&B config entries {"value": x, "desc": ...}
                out[key] = v["value"]
            elif "_type" in v:  # W&B media / histogram object: keep as JSON text
                out[key] = json.dumps(v, sort_keys=True, default=str)
            else:
                out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _wandb_api_columns(
    frame: pd.DataFrame, file: str | None
) -> list[tuple[str, str, str, list[Any]]]:
    """(source name, output base name, role, raw values) for the W&B API shape."""
    n = len(frame)
    cols: list[tuple[str, str, str, list[Any]]] = []
    parsed: dict[str, list[dict]] = {}
    for part in ("config", "summary"):
        parsed[part] = [
            _flatten(_parse_dict(frame[part].iloc[i], file=file, row=i + 1, column=part))
            for i in range(n)
        ]
    for other in frame.columns:
        if other in ("config", "summary"):
            continue
        name = {"name": "run_name", "id": "run_id", "state": "status"}.get(str(other), str(other))
        cols.append((str(other), name, "meta", frame[other].tolist()))
    for part, role in (("config", "param"), ("summary", "metric")):
        keys = list(dict.fromkeys(k for d in parsed[part] for k in d))
        for k in keys:
            r = "meta" if part == "summary" and k.startswith("_") else role
            if part == "config" and k.startswith("_"):
                r = "meta"
            cols.append((f"{part}.{k}", k, r, [d.get(k) for d in parsed[part]]))
    return cols


def _columns(frame: pd.DataFrame, fmt: str, file: str | None, params: set[str], metrics: set[str]):
    """(source, output base name, role, role_source, raw values) per column, by format."""
    out = []
    if fmt == "wandb" and {"config", "summary"} <= set(map(str, frame.columns)):
        for src, name, role, raw in _wandb_api_columns(frame, file):
            out.append((src, name, role, "W&B config/summary", raw))
    else:
        for c in frame.columns:
            c = str(c)
            raw = frame[c].tolist()
            if fmt == "mlflow":
                if c.startswith("params."):
                    out.append((c, c[7:], "param", "prefix", raw))
                elif c.startswith("metrics."):
                    out.append((c, c[8:], "metric", "prefix", raw))
                elif c.startswith("tags."):
                    key = c[5:]
                    if key in _MLFLOW_TAG_META:
                        out.append((c, _MLFLOW_TAG_META[key], "meta", "MLflow tag", raw))
                    else:
                        out.append((c, key, "tag", "prefix", raw))
                else:
                    out.append(
                        (
                            c,
                            _MLFLOW_META.get(c, c),
                            "meta" if c in _MLFLOW_META else "value",
                            "name",
                            raw,
                        )
                    )
            elif fmt == "wandb":
                if c in _WANDB_META:
                    out.append((c, _WANDB_META[c], "meta", "W&B run column", raw))
                else:
                    out.append((c, c, _guess_role(c), "name heuristic", raw))
            else:
                out.append((c, c, "value", "default", raw))
    # user decisions win over every rule above
    final = []
    for src, name, role, rsrc, raw in out:
        if src in params or name in params or _clean_name(name) in params:
            role, rsrc = "param", "params="
        elif src in metrics or name in metrics or _clean_name(name) in metrics:
            role, rsrc = "metric", "metrics="
        final.append((src, name, role, rsrc, raw))
    return final


def read_sweep(
    path: str | Path | pd.DataFrame | io.IOBase,
    format: str = "auto",
    *,
    params: Iterable[str] | None = None,
    metrics: Iterable[str] | None = None,
    types: Mapping[str, str] | None = None,
    log_scale: str | Sequence[str] | None = "auto",
    finished_only: bool = False,
) -> pd.DataFrame:
    """Read a hyper-parameter sweep export into a typed run-level table.

    Parameters
    ----------
    path
        A CSV/TSV/Parquet/JSON file (or text buffer), or a DataFrame such as the
        return value of ``mlflow.search_runs()``.
    format
        ``"auto"`` (detect, see :func:`detect_sweep_format`), ``"mlflow"``,
        ``"wandb"`` or ``"wide"``.
    params, metrics
        Column names (original or cleaned) to treat as hyper-parameters / metrics,
        overriding the format's rules.
    types
        ``{column: kind}`` with kind in :data:`TYPE_KINDS`, overriding inference.
    log_scale
        ``"auto"`` (rules in the module docs), a list of columns to log10, or None.
    finished_only
        Drop runs whose status is not finished (``FINISHED``/``finished``); dropped
        runs are recorded in the drop log.  Otherwise unfinished runs are kept and
        a :class:`~rlmeta.errors.DataWarning` says how many there are.

    Returns
    -------
    pandas.DataFrame
        One row per run: run columns (``run_id, run_name, status, start_time, ...``),
        parameters (each followed by its ``log10_`` column when added), metrics, tags,
        and ``source, source_row``.  Column names are made formula-safe (``eval/acc``
        becomes ``eval_acc``).  ``attrs["rlmeta_sweep"]`` records the format and one
        record per column (see :func:`sweep_columns`).

    Raises
    ------
    ReaderError
        Unreadable file, duplicated or clashing column names, malformed W&B dict
        cells, values that do not fit ``types=`` (naming file, row and column).

    Examples
    --------
    >>> import io
    >>> csv_text = "lr,kl_beta,optimizer,acc\\n1e-6,0.01,adam,0.5\\n1e-5,0.1,adam,0.6\\n"
    >>> runs = read_sweep(io.StringIO(csv_text), params=["lr", "kl_beta", "optimizer"], metrics=["acc"])
    >>> list(runs.columns)
    ['lr', 'log10_lr', 'kl_beta', 'log10_kl_beta', 'optimizer', 'acc', 'source', 'source_row']
    """
    if format not in SWEEP_FORMATS:
        raise ReaderError(f"format must be one of {SWEEP_FORMATS}, got {format!r}")
    file = _display(path) if not isinstance(path, pd.DataFrame) else None
    frame = _read_table(path, file)
    if frame.shape[1] == 0:
        raise ReaderError("no columns found", file=file)
    # column names as text (JSON keys, DataFrames with integer labels); two that become the
    # same text would be silently merged, so they are an error
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ReaderError("duplicated column name", file=file, column=dup)
    frame.columns = names
    frame = _drop_index_column(frame)
    fmt = detect_sweep_format(frame) if format == "auto" else format
    if fmt == "wandb" and not (
        {"config", "summary"} <= set(map(str, frame.columns))
        or _is_wandb_web(map(str, frame.columns))
    ):
        raise ReaderError(
            "not a W&B export: expected 'Name' with W&B run columns such as 'State', 'Created', "
            "'Runtime' (web-app CSV) or 'config' and 'summary' columns (public-API CSV)",
            file=file,
        )
    if fmt == "mlflow" and not any(
        str(c).startswith(("params.", "metrics.", "tags.")) for c in frame.columns
    ):
        raise ReaderError(
            "not an MLflow search_runs export: no params./metrics./tags. columns", file=file
        )
    n = len(frame)
    rows = list(range(1, n + 1))
    params_set, metrics_set = set(params or ()), set(metrics or ())
    types = dict(types or {})
    specs = _columns(frame, fmt, file, params_set, metrics_set)

    # output names: cleaned; on a clash prefix the role; a remaining clash is an error
    base = [_clean_name(name) for _, name, _, _, _ in specs]
    counts = pd.Series(base).value_counts()
    names = [f"{role}_{b}" if counts[b] > 1 else b for b, (_, _, role, _, _) in zip(base, specs)]
    dup = pd.Series(names)[pd.Series(names).duplicated()]
    if len(dup):
        clash = [(src, b) for (src, *_), nm, b in zip(specs, names, base) if nm == dup.iloc[0]]
        raise ReaderError(
            f"columns {[c for c, _ in clash]} all map to the name {clash[0][1]!r}; rename one of them",
            file=file,
            column=clash[0][0],
        )
    known = set(names) | {s for s, *_ in specs}
    unknown = [k for k in types if k not in known]
    if unknown:
        raise ReaderError(f"types= names unknown column(s) {unknown}", file=file, column=unknown[0])

    typed: list[_Typed] = []
    for (src, _name, role, rsrc, raw), out in zip(specs, names):
        forced = types.get(out, types.get(src))
        vals, kind, note = _infer_and_convert(
            raw,
            forced=forced,
            time_column=role == "meta" and out in _TIME_COLUMNS,
            file=file,
            rows=rows,
            column=src,
        )
        typed.append(_Typed(out, src, role, rsrc, vals.reset_index(drop=True), kind, note))

    # log10 columns
    by_name = {t.name: t for t in typed}
    if log_scale == "auto":
        for t in typed:
            if (
                t.role in ("param", "value")
                and t.kind in ("number", "integer")
                and _log_scaled_by_name(t.name)
            ):
                ok, why = _log_range_ok(t.values.to_numpy(dtype=float))
                if ok:
                    t.log10 = f"log10_{t.name}"
                else:
                    t.note = "; ".join(p for p in (t.note, f"log-scale name but {why}") if p)
    elif log_scale is not None:
        for col in [log_scale] if isinstance(log_scale, str) else log_scale:
            t = by_name.get(_clean_name(col)) or next((x for x in typed if x.source == col), None)
            if t is None:
                raise ReaderError(f"log_scale names unknown column {col!r}", file=file, column=col)
            x = t.values.to_numpy(dtype=float) if t.kind in ("number", "integer") else None
            if x is None:
                raise ReaderError(
                    f"log_scale: column is {t.kind}, not numeric", file=file, column=t.source
                )
            bad = ~(x > 0) & ~np.isnan(x)
            if bad.any():
                raise ReaderError(
                    f"log_scale: expected positive values, got {x[bad][0]!r}",
                    file=file,
                    row=[r for r, b in zip(rows, bad) if b],
                    column=t.source,
                )
            t.log10 = f"log10_{t.name}"
    for t in typed:
        if t.log10 and t.log10 in by_name:
            raise ReaderError(
                f"the log10 column {t.log10!r} would replace an existing column",
                file=file,
                column=t.log10,
            )

    order = {"meta": 0, "param": 1, "value": 1, "metric": 2, "tag": 3}
    typed.sort(key=lambda t: order.get(t.role, 4))
    data: dict[str, pd.Series] = {}
    for t in typed:
        data[t.name] = t.values
        if t.log10:
            with np.errstate(divide="ignore", invalid="ignore"):
                data[t.log10] = pd.Series(np.log10(t.values.to_numpy(dtype=float)))
    out = pd.DataFrame(data)
    out["source"] = file if file is not None else "<DataFrame>"
    out["source_row"] = rows
    records = [t.record() for t in typed]
    for t in typed:
        if t.log10:
            records.append(
                {
                    "column": t.log10,
                    "source_column": t.source,
                    "role": t.role,
                    "role_source": "log_scale",
                    "kind": "number",
                    "dtype": "float64",
                    "n_missing": int(out[t.log10].isna().sum()),
                    "log10_column": None,
                    "note": f"log10 of {t.name}",
                }
            )
    out.attrs[_ATTR] = {"format": fmt, "file": file, "n_runs": n, "columns": records}

    if "status" in out.columns:
        status = out["status"].astype("string").str.lower()
        unfinished = (status.notna() & ~status.isin(list(_FINISHED))).to_numpy()
        if finished_only and unfinished.any():
            attrs = out.attrs[_ATTR]
            reasons = [f"run status {s!r} (finished_only=True)" for s in out["status"]]
            out = record_drops(out, unfinished, reason=reasons, step="read_sweep").reset_index(
                drop=True
            )
            out.attrs[_ATTR] = attrs
        elif unfinished.any():
            kinds = sorted(set(out.loc[unfinished, "status"].astype(str)))
            where = f"{file}: " if file else ""
            warnings.warn(
                f"{where}{int(unfinished.sum())} run(s) are not finished (status {', '.join(kinds)}); "
                "pass finished_only=True to exclude them",
                DataWarning,
                stacklevel=2,
            )
    return out


def sweep_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """How :func:`read_sweep` typed each column.

    Returns
    -------
    pandas.DataFrame
        ``column, source_column, role`` (meta/param/metric/tag/value),
        ``role_source`` (which rule decided the role), ``kind``
        (number/integer/boolean/category/datetime/empty), ``dtype``, ``n_missing``,
        ``log10_column`` and ``note``.
    """
    info = frame.attrs.get(_ATTR)
    if not info:
        raise ReaderError("this table was not produced by read_sweep (no typing record in attrs)")
    return pd.DataFrame(info["columns"])
