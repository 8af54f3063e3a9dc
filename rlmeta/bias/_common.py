"""Shared checks of the bias tools."""

from __future__ import annotations

from ..errors import ModelError
from ..meta import MetaResult

__all__ = ["check_result", "check_choice"]


def check_result(res, caller: str) -> MetaResult:
    if not isinstance(res, MetaResult):
        raise ModelError(
            f"{caller}() needs a fitted model from rlmeta.meta_analysis(), got {type(res).__name__}"
        )
    return res


def check_choice(value, allowed, name: str):
    if value not in allowed:
        raise ModelError(
            f"value for `{name}` must be one of {list(allowed)}, but {value!r} was passed"
        )
    return value
