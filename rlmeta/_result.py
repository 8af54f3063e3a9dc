"""Shared behaviour of result objects: tidy frame, JSON-ready dict, text and HTML."""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ResultMixin", "jsonable", "fmt_p", "fmt_num"]


def jsonable(obj: Any) -> Any:
    """Convert numpy / pandas values (recursively) to plain JSON types; NaN -> None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.DataFrame):
        return [jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, pd.Series):
        return jsonable(obj.to_dict())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    return obj


def fmt_p(p: float) -> str:
    """Format a p-value as metafor does (``<.0001`` below 1e-4).

    >>> fmt_p(0.00002), fmt_p(0.0123)
    ('<.0001', '0.0123')
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "NA"
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


def fmt_num(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    return f"{x:.{digits}f}"


class ResultMixin:
    """Mixin giving ``to_json`` and ``_repr_html_`` from ``to_dict``/``to_frame``/``summary``."""

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_dict(self) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def summary(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_json(self, **kwargs) -> str:
        """``to_dict()`` serialised as JSON (NaN written as null)."""
        return json.dumps(jsonable(self.to_dict()), **kwargs)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        title = html.escape(type(self).__name__)
        text = html.escape(self.summary())
        try:
            table = self.to_frame().to_html(
                index=False, float_format=lambda v: f"{v:.4f}", escape=True
            )
        except Exception:  # a result without a tidy frame still shows its summary
            table = ""
        return f"<div><strong>{title}</strong><pre>{text}</pre>{table}</div>"
