"""Shared pieces of the readers: JSON decoding, streaming lines, hashing, limits, errors.

Every reader raises :class:`~rlmeta.errors.ReaderError` (a ``DataError``) that
names the file, the line or data row where possible, the field, and what was
expected.  Nothing is half-ingested: a reader either returns the whole table or
raises.

JSON is decoded with ``orjson`` when it is installed (about 4x faster on the
large per-sample files of lm-evaluation-harness) and with the standard library
otherwise; both give the same Python objects for valid JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ReaderError

try:  # optional speed-up; the stdlib path below is the reference behaviour
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by monkeypatching in tests
    _orjson = None

__all__ = [
    "Limits",
    "DEFAULT_LIMITS",
    "PROVENANCE_COLUMNS",
    "loads",
    "load_json",
    "iter_json_lines",
    "sha256_file",
    "fail",
    "add_provenance",
    "as_path",
    "as_dict",
    "as_list",
    "as_text",
    "is_number",
    "short_repr",
    "to_float",
]

#: Provenance columns every harness-derived row carries.
PROVENANCE_COLUMNS = [
    "source",
    "source_sha256",
    "tool",
    "tool_version",
    "model",
    "task",
    "filter",
    "n_shot",
]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Size limits that protect against decompression bombs and runaway inputs.

    Parameters
    ----------
    max_total_uncompressed
        Sum of the uncompressed sizes of the ZIP members that are read (bytes).
    max_member
        Uncompressed size of any single ZIP member (bytes).
    max_ratio
        Largest accepted compression ratio (uncompressed / compressed) of a member
        bigger than ``ratio_floor`` bytes; JSON compresses about 5-20x, bombs
        1000x and more.
    ratio_floor
        Members smaller than this are exempt from the ratio check.
    max_json_document
        Largest single JSON document read whole (bytes); JSONL files are streamed
        and have no limit.
    max_members
        Most entries a ZIP archive may list; checked from the archive's end record
        before the central directory is parsed (each entry costs memory).

    Examples
    --------
    >>> Limits(max_member=1024).max_member
    1024
    """

    max_total_uncompressed: int = 512 * _MIB
    max_member: int = 256 * _MIB
    max_ratio: float = 200.0
    ratio_floor: int = 1 * _MIB
    max_json_document: int = 2048 * _MIB
    max_members: int = 100_000


DEFAULT_LIMITS = Limits()


def as_path(path: str | os.PathLike) -> Path:
    """A :class:`~pathlib.Path` for ``path`` (no resolution, so messages show what the user gave)."""
    return Path(os.fspath(path))


def fail(
    path: Any, reason: str, *, row: int | None = None, column: str | None = None
) -> ReaderError:
    """Build (not raise) a :class:`ReaderError` for ``path``.

    >>> print(fail("x.json", "expected an object", column="results"))
    x.json, column 'results': expected an object
    """
    return ReaderError(reason, file=None if path is None else str(path), row=row, column=column)


def loads(data: bytes | str) -> Any:
    """Decode one JSON value (orjson when available)."""
    if _orjson is not None:
        return _orjson.loads(data)
    return json.loads(data)


def _line_col(text: bytes, pos: int) -> tuple[int, int]:
    line = text.count(b"\n", 0, pos) + 1
    col = pos - (text.rfind(b"\n", 0, pos) + 1) + 1
    return line, col


def _utf8_error(
    path: Any, raw: bytes, exc: UnicodeDecodeError, line_offset: int = 0
) -> ReaderError:
    line, col = _line_col(raw, exc.start)
    bad = raw[exc.start : exc.start + 4]
    return fail(
        path,
        f"line {line + line_offset}, byte column {col}: expected UTF-8 text, found the bytes "
        f"{bad!r} (re-save the file as UTF-8)",
        row=line + line_offset,
    )


def decode_utf8(path: Any, raw: bytes, *, line_offset: int = 0) -> str:
    """Decode ``raw`` as strict UTF-8 (a BOM is allowed); errors name the line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _utf8_error(path, raw, exc, line_offset) from None


def _json_error(path: Any, raw: bytes, exc: Exception, line_offset: int = 0) -> ReaderError:
    """Turn a decoder error into a ReaderError naming line and column."""
    # Find the failing position: the stdlib error carries it; orjson's message does too,
    # but re-decoding with the stdlib gives one consistent, well-tested message.
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as uexc:
        return _utf8_error(path, raw, uexc, line_offset)
    try:
        json.loads(text)
    except json.JSONDecodeError as jexc:
        line = jexc.lineno + line_offset
        what = (
            "truncated JSON (the file ends early)"
            if jexc.pos >= len(text.rstrip())
            else "invalid JSON"
        )
        return fail(path, f"line {line}, column {jexc.colno}: {what}: {jexc.msg}", row=line)
    except RecursionError:
        return fail(path, "JSON nested too deeply")
    except ValueError as vexc:  # e.g. an integer literal longer than Python's 4300-digit limit
        return fail(path, f"invalid JSON: {vexc}")
    return fail(path, f"invalid JSON: {exc}")


def load_json(path: Any, raw: bytes | None = None, *, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Read and decode a whole JSON document; errors name line and column.

    Parameters
    ----------
    path
        File to read (also used in messages when ``raw`` is given).
    raw
        The bytes, when already in memory (e.g. a ZIP member).
    """
    if raw is None:
        p = as_path(path)
        size = p.stat().st_size
        if size > limits.max_json_document:
            raise fail(
                path,
                f"JSON document of {size} bytes exceeds the limit of {limits.max_json_document} bytes",
            )
        raw = p.read_bytes()
    if not raw.strip():
        raise fail(path, "empty file: expected a JSON document")
    try:
        return _decode(raw, path)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, ReaderError):
            raise
        raise _json_error(path, raw, exc) from None


def _decode(raw: bytes, path: Any, line_offset: int = 0) -> Any:
    """Decode one JSON value; orjson first, the standard library when orjson refuses.

    orjson rejects the ``NaN``/``Infinity`` literals and out-of-range numbers such as
    ``1e400`` that Python's own ``json.dumps`` writes (evaluation harnesses are Python
    tools, so their files can hold them).  The standard library reads them as float
    nan/inf, and the readers then treat non-finite numbers as missing, with a reason.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if _orjson is not None:
        try:
            return _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(decode_utf8(path, raw, line_offset=line_offset))


def iter_lines(
    path: Any, hasher: Any | None = None, chunk_size: int = 8 * _MIB
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, line_bytes)`` of a file, streaming in chunks.

    Memory stays bounded by ``chunk_size`` plus the longest line.  When
    ``hasher`` is given it is fed every byte of the file (so the SHA-256 costs
    no second pass).  Blank lines are skipped but counted.
    """
    lineno = 0
    rest = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            if not chunk:
                break
            if hasher is not None:
                hasher.update(chunk)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                lineno += 1
                # isspace() stops at the first non-blank byte; strip() would copy the line
                if line and not line.isspace():
                    yield lineno, line
    if rest and not rest.isspace():
        yield lineno + 1, rest


def iter_json_lines(path: Any, hasher: Any | None = None) -> Iterator[tuple[int, Any]]:
    """Stream a JSONL file: yield ``(line_number, record)``; a bad line raises with its number."""
    for lineno, line in iter_lines(path, hasher):
        try:
            rec = _decode(line, path, line_offset=lineno - 1)
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, ReaderError):
                raise
            raise _json_error(path, line, exc, line_offset=lineno - 1) from None
        yield lineno, rec


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Any) -> str:
    """SHA-256 hex digest of a file (cached by path, size and mtime)."""
    p = as_path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(8 * _MIB), b""):
                h.update(block)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def remember_hash(path: Any, digest: str) -> None:
    """Store a digest computed while streaming, so :func:`sha256_file` need not re-read."""
    p = as_path(path)
    st = p.stat()
    _HASH_CACHE[(str(p.resolve()), st.st_size, st.st_mtime_ns)] = digest


#: Long, constant-per-file text columns stored as categoricals (a SHA-256 or a path
#: repeated on a million rows would otherwise cost ~70 MB each).  Analysis columns
#: (model, benchmark, metric, filter) stay plain strings so string operations work.
CATEGORICAL_COLUMNS = (
    "source",
    "source_sha256",
    "results_source",
    "tool",
    "tool_version",
    "layout",
    "model_source",
    "task",
)


def add_provenance(frame: pd.DataFrame, **values: Any) -> pd.DataFrame:
    """Set constant provenance columns (existing columns are kept; None is stored as missing)."""
    n = len(frame)
    for name, value in values.items():
        if name in frame.columns:
            continue
        if value is None:
            frame[name] = pd.Series([None] * n, dtype=object, index=frame.index)
        elif name in CATEGORICAL_COLUMNS:
            frame[name] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[value])
        else:
            frame[name] = pd.Series([value] * n, index=frame.index)
    return frame


def compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Re-categorise the long provenance columns after concatenating many files."""
    for name in CATEGORICAL_COLUMNS:
        if name in frame.columns and not isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype("category")
    return frame


def str_or_none(value: Any) -> str | None:
    """``str(value)``, or None for None/NaN."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    return str(value)


def to_float(value: Any) -> float | None:
    """A JSON number (or numeric string) as a finite float; anything else -> None.

    ``"N/A"``, None, lists, dicts, NaN and infinities give None: callers record
    why the value is not used (drop log or ``se_flag``), so no NaN flows on silently.

    >>> to_float("0.5"), to_float("N/A"), to_float(True), to_float([1, 0]), to_float(float("nan"))
    (0.5, None, 1.0, None, None)
    """
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        try:
            f = float(value)
        except OverflowError:  # an integer beyond the float range
            return None
    elif isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def is_number(value: Any) -> bool:
    """A finite JSON number (bools are not numbers here).

    >>> is_number(0.5), is_number(True), is_number(float("inf")), is_number("1")
    (True, False, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _kind(value: Any) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "true/false"}
    kinds.update({int: "a number", float: "a number"})
    return kinds.get(type(value), "null" if value is None else f"a {type(value).__name__}")


def as_dict(value: Any, path: Any, where: str, *, row: int | None = None) -> dict:
    """A JSON object field: the dict, ``{}`` when absent (None), else a ReaderError naming it.

    >>> as_dict(None, "x.json", "eval.config")
    {}
    >>> as_dict(5, "x.json", "eval.config")
    Traceback (most recent call last):
    ...
    rlmeta.errors.ReaderError: x.json, column 'eval.config': expected an object, got a number (5)
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(
            path,
            f"expected an object, got {_kind(value)} ({short_repr(value)})",
            row=row,
            column=where,
        )
    return value


def as_list(value: Any, path: Any, where: str, *, row: int | None = None) -> list:
    """A JSON array field: the list, ``[]`` when absent (None), else a ReaderError naming it."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(
            path,
            f"expected an array, got {_kind(value)} ({short_repr(value)})",
            row=row,
            column=where,
        )
    return value


def as_text(value: Any, path: Any, where: str, *, row: int | None = None) -> str | None:
    """An identifier field (name, id, hash): text; whole numbers become text; None stays None.

    Objects, arrays, booleans and non-whole numbers are an error: an identifier that
    is really a structure means the file is not what the reader expects.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise fail(
        path,
        f"expected text or a whole number, got {_kind(value)} ({short_repr(value)})",
        row=row,
        column=where,
    )


def short_repr(value: Any, limit: int = 40) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def finish(frame: pd.DataFrame, drops: list[dict] | None = None) -> pd.DataFrame:
    """Attach drop-log records (step ``read``) to ``frame``."""
    from ..droplog import extend_drop_log

    recs = []
    for r in drops or []:
        rec = {
            "step": "read",
            "source_row": None,
            "row_id": None,
            "study_id": None,
            "comparison_id": None,
            "benchmark": None,
            "metric": None,
            "source": None,
        }
        rec.update(r)
        recs.append(rec)
    return extend_drop_log(frame, recs)
