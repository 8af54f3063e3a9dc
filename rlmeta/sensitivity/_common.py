"""Small helpers shared by the sensitivity result classes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._result import fmt_num, fmt_p, jsonable
from ..errors import ModelError
from ..meta import MetaResult

__all__ = ["table_text", "frame_dict", "require_result", "require_intercept_only", "column_values"]


def table_text(
    title: str, lines: list[str], frame: pd.DataFrame, *, max_rows: int = 40, digits: int = 4
) -> str:
    """``title``, a few header lines and the frame formatted as metafor prints tables."""

    def fmt(col: str, v):
        if isinstance(v, bool | np.bool_):
            return "*" if v else ""
        if isinstance(v, float | np.floating):
            return fmt_p(float(v)) if col.endswith("pval") else fmt_num(float(v), digits)
        return str(v)

    show = frame.head(max_rows)
    shown = pd.DataFrame({c: [fmt(c, v) for v in show[c]] for c in show.columns})
    out = [title, *lines, "", shown.to_string(index=False)]
    if len(frame) > max_rows:
        out.append(f"... {len(frame) - max_rows} more rows (see to_frame())")
    return "\n".join(out)


def frame_dict(meta: dict, frame: pd.DataFrame, key: str = "rows") -> dict:
    """JSON-ready dict of ``meta`` plus the frame's records under ``key``."""
    out = dict(meta)
    out[key] = frame.to_dict(orient="records")
    return jsonable(out)


def require_result(res, caller: str) -> MetaResult:
    if not isinstance(res, MetaResult):
        raise ModelError(
            f"{caller}() needs a fitted univariate model from rlmeta.meta_analysis(), got {type(res).__name__}"
        )
    return res


def require_intercept_only(res: MetaResult, caller: str) -> None:
    if not res.intercept_only:
        raise ModelError(
            f"{caller}() applies to models without moderators (as metafor); this model has {res.terms[1:]}. "
            "Use rlmeta.influence() for meta-regression models."
        )


def column_values(res: MetaResult, spec, what: str) -> np.ndarray:
    """Values of a column of the model's data (name) or a sequence of length k."""
    if isinstance(spec, str):
        if spec not in res.data.columns:
            raise ModelError(
                f"{what}: column {spec!r} not found in the model's data (columns: {list(res.data.columns)})"
            )
        return res.data[spec].to_numpy()
    arr = np.asarray(spec)
    if arr.ndim != 1 or len(arr) != res.k:
        raise ModelError(f"{what}: expected a column name or {res.k} values, got shape {arr.shape}")
    return arr
