"""Exceptions and warnings raised by rlmeta.

Every error about input data names *where* the problem is (file, row, column)
and *what was expected*, so that a user can fix the input without reading the
source.  All exceptions derive from :class:`RlmetaError`; data errors are also
:class:`ValueError` so that generic ``except ValueError`` code keeps working.

Examples
--------
>>> err = DataError("expected a number, got 'abc'", file="runs.csv", row=14, column="rl_score")
>>> print(err)
runs.csv, row 14, column 'rl_score': expected a number, got 'abc'
>>> isinstance(err, ValueError)
True
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "RlmetaError",
    "DataError",
    "SchemaError",
    "EffectError",
    "ReaderError",
    "ModelError",
    "ConfigError",
    "RlmetaWarning",
    "ConvergenceWarning",
    "DataWarning",
    "format_rows",
]


def format_rows(rows: int | Sequence[int] | None, limit: int = 8) -> str | None:
    """Render one row number or a list of them compactly.

    >>> format_rows([3, 4, 9])
    'rows 3, 4, 9'
    >>> format_rows(list(range(1, 20)), limit=3)
    'rows 1, 2, 3 and 16 more'
    >>> format_rows(7)
    'row 7'
    """
    if rows is None:
        return None
    if isinstance(rows, int | float) and not isinstance(rows, bool):
        return f"row {int(rows)}"
    rows = [int(r) for r in rows]
    if not rows:
        return None
    if len(rows) == 1:
        return f"row {rows[0]}"
    shown = ", ".join(str(r) for r in rows[:limit])
    more = len(rows) - limit
    return f"rows {shown}" + (f" and {more} more" if more > 0 else "")


class RlmetaError(Exception):
    """Base class of every exception raised on purpose by rlmeta."""


class DataError(RlmetaError, ValueError):
    """Bad input data.

    Parameters
    ----------
    message
        What was found and what was expected.
    file, row, column
        Where the problem is.  ``row`` may be a single 1-based data-row number
        or a sequence of them; the rendered message lists them compactly.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | Sequence[int] | None = None,
        column: str | None = None,
    ) -> None:
        self.file = None if file is None else str(file)
        if row is None or isinstance(row, int):
            self.rows = None if row is None else [row]
        else:
            self.rows = [int(r) for r in row]
        self.row = self.rows[0] if self.rows else None
        self.column = column
        self.reason = message
        where = [p for p in (self.file, format_rows(self.rows)) if p]
        if column is not None:
            where.append(f"column '{column}'")
        text = (", ".join(where) + ": " if where else "") + message
        super().__init__(text)


class SchemaError(DataError):
    """A table does not meet its column contract (see :mod:`rlmeta.schema`)."""


class EffectError(DataError):
    """An effect size or its variance cannot be computed from the given data."""


class ReaderError(DataError):
    """A file cannot be read: unknown layout, truncated or malformed content, unsafe archive."""


class ModelError(RlmetaError, ValueError):
    """A model cannot be fitted as specified (bad formula, too few studies, singular design)."""


class ConfigError(RlmetaError, ValueError):
    """A configuration file or option is invalid."""


class RlmetaWarning(UserWarning):
    """Base class of warnings issued by rlmeta."""


class ConvergenceWarning(RlmetaWarning):
    """An iterative estimator did not converge; the result says so too."""


class DataWarning(RlmetaWarning):
    """Something in the data deserves attention but is not an error (rows dropped, flips)."""
