"""Tidy tables: CSV, TSV, Excel, Parquet, JSON / JSONL, in wide, long or items layout.

Reading adds ``source`` (the file) and ``source_row`` (1-based data-row number; the
header is row 0) so that every later error and every drop-log entry points back
to the file row.  The user's column names are mapped with keyword arguments
(``rl_score="acc_rl"`` renames the file's ``acc_rl`` to ``rl_score``).

Writing is atomic.  CSV, TSV and Excel output neutralises spreadsheet formula
injection: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading apostrophe, so a spreadsheet shows it as text
instead of evaluating it.  CSV and TSV rows end in CRLF (RFC 4180), so a cell that
holds a carriage return is quoted: unquoted, a spreadsheet would start a new row
there and read the rest of the cell (``=...``) as a formula.  Text that Excel
cannot store (control characters) is an error naming the cell, not a silent edit.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import atomic_path
from ..schema import (
    row_numbers,
    validate_effects,
    validate_items,
    validate_long,
    validate_wide,
)
from ._common import (
    DEFAULT_LIMITS,
    Limits,
    add_provenance,
    as_path,
    decode_utf8,
    fail,
    iter_json_lines,
    load_json,
)

__all__ = ["read_table", "write_table", "neutralise_formulas", "TABLE_FORMATS", "table_layout"]

TABLE_FORMATS = ("csv", "tsv", "excel", "parquet", "json", "jsonl")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMERIC_OBS = ("score", "se", "sd", "n")


def _load(path: Path, fmt: str, sheet: Any, limits: Limits) -> pd.DataFrame:
    if fmt in ("csv", "tsv"):
        text = decode_utf8(path, path.read_bytes())
        try:
            return pd.read_csv(io.StringIO(text), sep="\t" if fmt == "tsv" else ",")
        except pd.errors.EmptyDataError:
            raise fail(path, "empty file: expected a header row and data rows") from None
        except pd.errors.ParserError as exc:
            raise fail(path, f"malformed {fmt.upper()}: {exc}") from None
    if fmt == "excel":
        try:
            return pd.read_excel(path, sheet_name=0 if sheet is None else sheet, engine="openpyxl")
        except ValueError as exc:
            raise fail(path, f"cannot read the worksheet: {exc}") from None
        except Exception as exc:
            raise fail(path, f"not a readable Excel (.xlsx) file: {exc}") from None
    if fmt == "parquet":
        try:
            return _read_parquet(path)
        except Exception as exc:  # pyarrow raises OSError, ArrowInvalid, NotImplemented, ...
            raise fail(path, f"not a readable Parquet file: {exc}") from None
    if fmt == "jsonl":
        recs = []
        for lineno, rec in iter_json_lines(path):
            if not isinstance(rec, dict):
                raise fail(
                    path,
                    f"line {lineno}: expected one JSON object (a table row) per line",
                    row=lineno,
                )
            recs.append(rec)
        return pd.DataFrame.from_records(recs)
    if fmt == "json":
        data = load_json(path, limits=limits)
        if isinstance(data, list) and all(isinstance(r, dict) for r in data):
            return pd.DataFrame.from_records(data)
        if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
            lens = {len(v) for v in data.values()}
            if len(lens) != 1:
                raise fail(path, "columns of a JSON table must all have the same length")
            return pd.DataFrame(data)
        raise fail(
            path,
            "unknown JSON layout: expected a list of row objects or an object of equal-length "
            "column lists (or a harness log rlmeta recognises)",
        )
    raise fail(path, f"unknown table format {fmt!r}; expected one of {', '.join(TABLE_FORMATS)}")


def _read_parquet(path: Any) -> pd.DataFrame:
    """``pd.read_parquet`` after a full validation of the data (UTF-8, offsets).

    pyarrow trusts string pages until a value is converted, so a damaged file would
    otherwise fail later, deep inside pandas, with an ArrowException.
    """
    import pyarrow.parquet as pq

    pq.read_table(path).validate(full=True)
    return pd.read_parquet(path)


def _apply_mapping(frame: pd.DataFrame, mapping: Mapping[str, str], path: Path) -> pd.DataFrame:
    rename = {}
    for target, src in mapping.items():
        if not isinstance(src, str):
            raise fail(path, f"column mapping {target}= must name a column (a string), got {src!r}")
        if src not in frame.columns:
            have = ", ".join(map(str, frame.columns[:15]))
            raise fail(
                path,
                f"column {src!r} (mapped to {target!r}) is not in the file; found: {have}",
                column=src,
            )
        if target in frame.columns and target != src:
            raise fail(
                path,
                f"cannot map {src!r} to {target!r}: the file already has a column {target!r}",
                column=target,
            )
        rename[src] = target
    return frame.rename(columns=rename)


def table_layout(frame: pd.DataFrame) -> str:
    """``"wide"``, ``"long"``, ``"items"``, ``"observations"`` (long without arms) or
    ``"effects"`` (``yi``, ``vi``), else ``"unknown"``."""
    cols = set(frame.columns)
    if {"rl_score", "baseline_score"} <= cols:
        return "wide"
    if {"arm", "score"} <= cols and "item_id" not in cols:
        return "long"
    if {"item_id", "score"} <= cols:
        return "items"
    if {"score", "benchmark"} <= cols:
        return "observations"
    if {"yi", "vi"} <= cols:  # an effects table (e.g. computed elsewhere): pooled as it is
        return "effects"
    return "unknown"


def _check_numeric(frame: pd.DataFrame, cols: tuple[str, ...], path: Path) -> pd.DataFrame:
    for col in cols:
        if col not in frame.columns:
            continue
        raw = frame[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna() & (raw.astype("string").str.strip() != "")
        if bad.any():
            raise fail(
                path,
                f"expected a number, got {raw[bad].iloc[0]!r}",
                row=row_numbers(frame, bad)[0],
                column=col,
            )
        frame[col] = num.astype(float)
    return frame


def _apply_scale(frame: pd.DataFrame, score_scale: str | None, path: Path) -> pd.DataFrame:
    if score_scale is None:
        return frame
    if "score_scale" in frame.columns:
        have = frame["score_scale"]
        clash = have.notna() & (
            have.astype("string").str.strip().str.lower() != str(score_scale).lower()
        )
        if clash.any():
            raise fail(
                path,
                f"score_scale={score_scale!r} was passed but the file says "
                f"{have[clash].iloc[0]!r}; remove one of them",
                row=row_numbers(frame, clash)[0],
                column="score_scale",
            )
        frame["score_scale"] = have.where(have.notna(), score_scale)
    else:
        frame["score_scale"] = score_scale
    return frame


def load_raw_table(
    path: Any,
    fmt: str,
    *,
    mapping: Mapping[str, str] | None = None,
    score_scale: str | None = None,
    sheet: Any = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[pd.DataFrame, str]:
    """Load a table file with provenance columns and its layout, *before* validation.

    Used by :func:`read_table` and by ``rlmeta validate`` (which lists every problem
    instead of stopping at the first).
    """
    p = as_path(path)
    frame = _load(p, fmt, sheet, limits)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = _apply_mapping(frame, mapping or {}, p)
    if frame.empty:
        raise fail(p, "the table has no data rows")
    if "source_row" not in frame.columns:
        frame["source_row"] = np.arange(1, len(frame) + 1)
    if "source" not in frame.columns:
        frame["source"] = str(p)
    frame = _apply_scale(frame, score_scale, p)
    return frame, table_layout(frame)


def read_table(
    path: Any,
    fmt: str,
    *,
    mapping: Mapping[str, str] | None = None,
    score_scale: str | None = None,
    sheet: Any = None,
    want: str = "observations",
    limits: Limits = DEFAULT_LIMITS,
) -> pd.DataFrame:
    """Read and validate one table file.

    Parameters
    ----------
    want
        ``"observations"`` (wide, long, or long without arms) or ``"items"``.
    """
    p = as_path(path)
    frame, layout = load_raw_table(
        p, fmt, mapping=mapping, score_scale=score_scale, sheet=sheet, limits=limits
    )
    src = str(p)
    if want == "items":
        if layout != "items":
            raise fail(
                p,
                "not an items table: expected columns model, benchmark, item_id and score "
                "(map yours with keyword arguments, e.g. item_id='question')",
            )
        return validate_items(frame, source=src)
    if layout == "wide":
        return validate_wide(frame, source=src)
    if layout == "long":
        return validate_long(frame, source=src)
    if layout == "observations":
        return _check_numeric(frame, _NUMERIC_OBS, p)
    if layout == "effects":
        return validate_effects(frame, source=src)
    if layout == "items":
        raise fail(p, "this is an items table (item_id, score): read it with rm.read_items()")
    have = ", ".join(map(str, frame.columns[:15]))
    raise fail(
        p,
        "cannot tell the table layout: expected rl_score and baseline_score (wide), arm and score "
        f"(long), benchmark and score, or yi and vi (effects); found: {have}. Map your names with keyword arguments, "
        "e.g. rm.read(path, rl_score='acc_rl', baseline_score='acc_base')",
    )


# --------------------------------------------------------------------------- writing
def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` whose text cells cannot be run as spreadsheet formulas.

    >>> neutralise_formulas(pd.DataFrame({"x": ["=1+1", "ok", "-2"], "y": [-1, 2, 3]}))["x"].tolist()
    ["'=1+1", 'ok', "'-2"]
    """
    out = frame.copy()
    # header cells are cells too
    out.columns = [
        "'" + c if isinstance(c, str) and c.startswith(_FORMULA_START) else c for c in out.columns
    ]
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            continue
        out[col] = s.map(
            lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
        )
    return out


def _arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding several Python types (e.g. versions 0 and "2.0") become text."""
    out = frame.copy()
    # header cells are cells too
    out.columns = [
        "'" + c if isinstance(c, str) and c.startswith(_FORMULA_START) else c for c in out.columns
    ]
    for col in out.columns:
        s = out[col]
        if s.dtype != object:
            continue
        kinds = {type(v) for v in s.dropna().tolist()}
        kinds.discard(type(None))
        if len(kinds) > 1 and not kinds <= {int, float} and not kinds <= {bool, np.bool_}:
            out[col] = s.map(
                lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            )
        elif kinds <= {dict, list}:
            out[col] = s.map(lambda v: None if v is None else json.dumps(v, default=str))
    return out


def _check_excel_text(frame: pd.DataFrame, path: Path) -> None:
    """Refuse text a workbook cannot hold (control characters), naming the first such cell."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    for j, col in enumerate(frame.columns):
        if isinstance(col, str) and ILLEGAL_CHARACTERS_RE.search(col):
            raise fail(
                path,
                "the column name holds a control character that Excel cannot store; "
                "write CSV or Parquet instead",
                column=col,
            )
        s = frame.iloc[:, j]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            continue
        bad = s.map(lambda v: isinstance(v, str) and ILLEGAL_CHARACTERS_RE.search(v) is not None)
        if bad.any():
            raise fail(
                path,
                "the cell holds a control character that Excel cannot store; write CSV or "
                "Parquet instead",
                row=int(np.flatnonzero(bad.to_numpy())[0]) + 1,
                column=str(col),
            )


def write_table(frame: pd.DataFrame, path: Any, fmt: str) -> Path:
    """Write ``frame`` atomically as ``fmt`` (one of :data:`TABLE_FORMATS`)."""
    p = as_path(path)
    with atomic_path(p) as tmp:
        if fmt in ("csv", "tsv"):
            neutralise_formulas(frame).to_csv(
                tmp, index=False, sep="\t" if fmt == "tsv" else ",", lineterminator="\r\n"
            )
        elif fmt == "excel":
            safe = neutralise_formulas(frame)
            _check_excel_text(safe, p)
            safe.to_excel(tmp, index=False, engine="openpyxl")
        elif fmt == "parquet":
            _arrow_safe(frame).to_parquet(tmp, index=False)
        elif fmt == "json":
            frame.to_json(tmp, orient="records", indent=1, force_ascii=False, date_format="iso")
        elif fmt == "jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False, date_format="iso")
        else:
            raise fail(
                p,
                f"unknown output format {fmt!r}; expected one of {', '.join(TABLE_FORMATS)} or 'eee'",
            )
    return p


def provenance_for_table(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Add the file hash to a table read from ``path`` (tables have no tool)."""
    from ._common import sha256_file

    return add_provenance(frame, source_sha256=sha256_file(path))
