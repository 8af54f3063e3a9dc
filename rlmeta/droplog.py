"""The drop log: every row excluded anywhere in rlmeta is recorded here with its reason.

A table produced by rlmeta (observations, effects) carries the rows excluded so
far in ``frame.attrs["rlmeta_drop_log"]`` as a list of plain records; results of
analyses carry the log of the data they were fitted on.  :func:`drop_log`
returns it as a DataFrame with the columns in :data:`DROP_LOG_COLUMNS`.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"study_id": ["a", "b"], "score": [1.0, None]})
>>> kept = record_drops(df, df["score"].isna(), reason="score missing", step="validate")
>>> len(kept), drop_log(kept)["reason"].tolist()
(1, ['score missing'])
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DROP_LOG_COLUMNS", "drop_log", "record_drops", "with_drop_log", "extend_drop_log"]

_KEY = "rlmeta_drop_log"

#: Columns of the drop-log DataFrame, in order.
DROP_LOG_COLUMNS = [
    "step",
    "source",
    "source_row",
    "row_id",
    "study_id",
    "comparison_id",
    "benchmark",
    "metric",
    "reason",
]
_IDENTIFYING = [
    "source",
    "source_row",
    "row_id",
    "study_id",
    "comparison_id",
    "benchmark",
    "metric",
]


def _clean(value: Any) -> Any:
    """Make a cell JSON-friendly (NaN -> None, numpy scalars -> Python)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class _Records(tuple):
    """Immutable record list stored in ``DataFrame.attrs``.

    pandas deep-copies ``attrs`` on almost every operation; with hundreds of records
    that copying dominated small model fits.  The records are never mutated (every
    change makes a new ``_Records``), so a deep copy can return the object itself.
    """

    __slots__ = ()

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self


def _store(frame: pd.DataFrame, records) -> None:
    frame.attrs[_KEY] = _Records(dict(r) for r in records)


def _records(frame: pd.DataFrame) -> list[dict]:
    raw = frame.attrs.get(_KEY, ())
    return list(raw)


def drop_log(frame_or_result: Any) -> pd.DataFrame:
    """Return the drop log of a table or of an analysis result.

    Parameters
    ----------
    frame_or_result
        A DataFrame produced by rlmeta, or any object with a ``drop_log``
        attribute (analysis results).

    Returns
    -------
    pandas.DataFrame
        One row per excluded input row with the columns in
        :data:`DROP_LOG_COLUMNS` (``step`` says which step excluded it).
    """
    if isinstance(frame_or_result, pd.DataFrame):
        records = _records(frame_or_result)
    else:
        log = frame_or_result.drop_log
        return log.copy() if isinstance(log, pd.DataFrame) else pd.DataFrame(log)
    out = pd.DataFrame.from_records(records, columns=DROP_LOG_COLUMNS) if records else None
    if out is None:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in DROP_LOG_COLUMNS})
    return out


def _rows_to_records(rows: pd.DataFrame, reasons: Iterable[str], step: str) -> list[dict]:
    records = []
    for (_, row), reason in zip(rows.iterrows(), reasons):
        rec = {"step": step}
        for col in _IDENTIFYING:
            rec[col] = _clean(row[col]) if col in rows.columns else None
        rec["reason"] = str(reason)
        records.append(rec)
    return records


def with_drop_log(frame: pd.DataFrame, records: Iterable[dict]) -> pd.DataFrame:
    """Attach drop-log records to ``frame`` (replacing any it had) and return it."""
    _store(frame, records)
    return frame


def extend_drop_log(frame: pd.DataFrame, *sources: pd.DataFrame | Iterable[dict]) -> pd.DataFrame:
    """Append the drop logs of ``sources`` (frames or record lists) to ``frame``'s log."""
    records = _records(frame)
    for src in sources:
        if isinstance(src, pd.DataFrame):
            records.extend(_records(src))
        else:
            records.extend(dict(r) for r in src)
    _store(frame, records)
    return frame


def record_drops(
    frame: pd.DataFrame,
    mask: pd.Series | np.ndarray,
    *,
    reason: str | pd.Series | Iterable[str],
    step: str,
) -> pd.DataFrame:
    """Remove the rows where ``mask`` is true and log them with ``reason``.

    Parameters
    ----------
    frame
        The table; its existing drop log is kept.
    mask
        Boolean, aligned with ``frame``; true rows are dropped.
    reason
        One reason for all rows, or one per row of ``frame`` (aligned).
    step
        Name of the processing step (``"read"``, ``"effect_sizes"``, ...).

    Returns
    -------
    pandas.DataFrame
        The kept rows, with the dropped ones appended to the drop log.
    """
    mask = np.asarray(mask, dtype=bool)
    previous = _records(frame)
    if not mask.any():
        out = frame.copy()
        _store(out, previous)
        return out
    dropped = frame.loc[mask]
    if isinstance(reason, str):
        reasons = [reason] * len(dropped)
    else:
        reasons = list(pd.Series(list(reason), index=frame.index).loc[mask])
    out = frame.loc[~mask].copy()
    _store(out, previous + _rows_to_records(dropped, reasons, step))
    return out
