"""Column contracts of rlmeta's tables and their validation.

rlmeta moves data through three tables (see ``docs/DESIGN``):

* **items** -- one row per model x benchmark x item (x sample),
* **observations** -- one row per arm x benchmark x metric (*long* layout) or one
  row per RL-vs-baseline contrast (*wide* layout, the layout of the bundled dataset),
* **effects** -- one row per contrast with ``yi`` (positive = RL better) and ``vi``.

This module is the one place that checks them.  Validation never coerces silently:
a value that is not what the contract says raises :class:`~rlmeta.errors.SchemaError`
naming the file, the row(s), the column and what was expected.

Row numbers in messages are 1-based *data-row* numbers of the original file (the
header is row 0); readers store them in the ``source_row`` column so that they
survive filtering and reshaping.

Examples
--------
>>> import pandas as pd
>>> wide = pd.DataFrame({"study_id": ["s1"], "benchmark": ["GSM8K"], "metric": ["acc"],
...                      "rl_score": [0.8], "baseline_score": [0.7], "n_items": [1319],
...                      "score_scale": ["proportion"]})
>>> validate_wide(wide)["comparison_id"].tolist()
['s1']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import SchemaError

__all__ = [
    "Column",
    "WIDE_COLUMNS",
    "LONG_COLUMNS",
    "EFFECT_COLUMNS",
    "ITEM_COLUMNS",
    "ARMS",
    "SCORE_SCALES",
    "validate_wide",
    "validate_long",
    "validate_effects",
    "validate_items",
    "find_problems",
    "row_numbers",
    "coerce_bool",
    "score_bounds",
]

#: Accepted arm labels of the long layout (lower-cased before the check).
ARMS = ("rl", "baseline")
#: Score scales with known bounds; any other label means raw scores (means).
SCORE_SCALES = {"proportion": (0.0, 1.0), "percent": (0.0, 100.0)}

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


@dataclass(frozen=True)
class Column:
    """One column of a table contract."""

    name: str
    kind: str  # "str", "num", "bool", "int"
    required: bool = False
    description: str = ""


WIDE_COLUMNS: tuple[Column, ...] = (
    Column("study_id", "str", True, "paper-level identifier"),
    Column("comparison_id", "str", False, "one RL-vs-baseline contrast (defaults to study_id)"),
    Column("benchmark", "str", True, "benchmark name"),
    Column("metric", "str", False, "metric name (defaults to 'score')"),
    Column("score_scale", "str", False, "'proportion', 'percent' or a label for raw scores"),
    Column("higher_is_better", "bool", False, "false flips the sign (defaults to true)"),
    Column("rl_score", "num", True, "RL arm: proportion, percent or mean"),
    Column("baseline_score", "num", True, "baseline arm: proportion, percent or mean"),
    Column("rl_sd", "num", False, "RL arm standard deviation (raw scores)"),
    Column("baseline_sd", "num", False, "baseline arm standard deviation (raw scores)"),
    Column("rl_se", "num", False, "RL arm standard error"),
    Column("baseline_se", "num", False, "baseline arm standard error"),
    Column("rl_n", "num", False, "RL arm sample size (defaults to n_items)"),
    Column("baseline_n", "num", False, "baseline arm sample size (defaults to n_items)"),
    Column("n_items", "num", False, "number of evaluated items of the benchmark"),
    Column("r", "num", False, "between-arm correlation for paired designs"),
)

LONG_COLUMNS: tuple[Column, ...] = (
    Column("study_id", "str", True, "paper-level identifier"),
    Column("comparison_id", "str", False, "one RL-vs-baseline contrast (defaults to study_id)"),
    Column("arm", "str", True, "'rl' or 'baseline'"),
    Column("model", "str", False, "model name"),
    Column("method", "str", False, "training method (PPO, DPO, GRPO, SFT, ...)"),
    Column("benchmark", "str", True, "benchmark name"),
    Column("metric", "str", False, "metric name (defaults to 'score')"),
    Column("score_scale", "str", False, "'proportion', 'percent' or a label for raw scores"),
    Column("higher_is_better", "bool", False, "false flips the sign (defaults to true)"),
    Column("score", "num", True, "proportion, percent or mean"),
    Column("sd", "num", False, "standard deviation"),
    Column("se", "num", False, "standard error"),
    Column("n", "num", False, "number of items / observations"),
    Column("n_seeds", "num", False, "number of training seeds"),
    Column("seed", "num", False, "training seed"),
)

EFFECT_COLUMNS: tuple[Column, ...] = (
    Column("yi", "num", True, "effect size, positive = RL better"),
    Column("vi", "num", True, "sampling variance of yi"),
)

ITEM_COLUMNS: tuple[Column, ...] = (
    Column("model", "str", True, "model (or run) that produced the score"),
    Column("benchmark", "str", True, "benchmark / task"),
    Column("item_id", "str", True, "item identity used for pairing"),
    Column("score", "num", True, "per-item score (0/1 for correctness)"),
    Column("sample_idx", "num", False, "repeat / epoch index"),
    Column("cluster", "str", False, "cluster key for clustered SEs"),
    Column("metric", "str", False, "metric name (one item may carry several)"),
    Column("filter", "str", False, "harness filter / extractor (lm-eval), part of the item key"),
    Column("arm", "str", False, "'rl' or 'baseline' when the table holds both arms"),
    Column("study_id", "str", False, "paper-level identifier"),
)


# --------------------------------------------------------------------------- helpers
def row_numbers(frame: pd.DataFrame, mask: Iterable[bool] | None = None) -> list[int]:
    """1-based data-row numbers of ``frame`` (from ``source_row`` when present)."""
    if "source_row" in frame.columns:
        nums = pd.to_numeric(frame["source_row"], errors="coerce")
        base = np.where(nums.notna(), nums, np.arange(1, len(frame) + 1))
    else:
        base = np.arange(1, len(frame) + 1)
    base = np.asarray(base, dtype=int)
    if mask is None:
        return base.tolist()
    return base[np.asarray(mask, dtype=bool)].tolist()


def _source(frame: pd.DataFrame, source: str | None) -> str | None:
    if source is not None:
        return source
    if "source" in frame.columns and frame["source"].notna().any():
        vals = frame["source"].dropna().unique()
        return str(vals[0]) if len(vals) == 1 else None
    return None


def coerce_bool(
    series: pd.Series, *, column: str, source: str | None, frame: pd.DataFrame
) -> pd.Series:
    """Convert a column of booleans written as bool, 0/1 or true/false/yes/no.

    Anything else raises :class:`SchemaError` listing the offending rows.
    """
    if series.dtype == bool:
        return series
    text = series.astype("string").str.strip().str.lower()
    is_true = text.isin(_TRUE)
    is_false = text.isin(_FALSE)
    missing = series.isna()
    bad = ~(is_true | is_false | missing)
    if bad.any():
        first = series[bad].iloc[0]
        raise SchemaError(
            f"expected a boolean (true/false, yes/no, 1/0), got {first!r}",
            file=source,
            row=row_numbers(frame, bad),
            column=column,
        )
    out = pd.Series(np.where(is_true, True, False), index=series.index, dtype=object)
    out[missing] = None
    return out


def _numeric(frame: pd.DataFrame, column: str, source: str | None) -> pd.Series:
    """A numeric column; non-numeric text raises (never coerced to NaN silently)."""
    raw = frame[column]
    if pd.api.types.is_bool_dtype(raw):
        raise SchemaError("expected a number, got a boolean column", file=source, column=column)
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype(float)
    num = pd.to_numeric(raw, errors="coerce")
    blank = raw.isna() | raw.astype("string").str.strip().isin(["", "NA", "NaN", "nan", "None"])
    bad = num.isna() & ~blank
    if bad.any():
        first = raw[bad].iloc[0]
        raise SchemaError(
            f"expected a number, got {first!r}",
            file=source,
            row=row_numbers(frame, bad),
            column=column,
        )
    return num.astype(float)


def _require(
    frame: pd.DataFrame, columns: Iterable[Column], source: str | None, layout: str
) -> None:
    missing = [c.name for c in columns if c.required and c.name not in frame.columns]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        have = ", ".join(map(str, list(frame.columns)[:12]))
        raise SchemaError(
            f"missing required column(s) {names} for the {layout} layout "
            f"(found: {have}); map your names with keyword arguments, e.g. "
            f"rm.read(path, {missing[0]}='your_column')",
            file=source,
            column=missing[0],
        )


def _strings(frame: pd.DataFrame, column: str, source: str | None, required: bool) -> pd.Series:
    col = frame[column]
    if required:
        bad = col.isna() | (col.astype("string").str.strip() == "")
        if bad.any():
            raise SchemaError(
                "expected a non-empty identifier, got an empty cell",
                file=source,
                row=row_numbers(frame, bad),
                column=column,
            )
    return col.map(lambda v: v if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))


def score_bounds(scale: str | None) -> tuple[float, float] | None:
    """Bounds of a score scale, or None for raw scores.

    >>> score_bounds("percent"), score_bounds("1-10")
    ((0.0, 100.0), None)
    """
    if scale is None or (isinstance(scale, float) and np.isnan(scale)):
        return None
    return SCORE_SCALES.get(str(scale).strip().lower())


def _check_bounds(frame: pd.DataFrame, score_cols: list[str], source: str | None) -> None:
    """Scores on a bounded scale must lie within its bounds."""
    if "score_scale" not in frame.columns:
        return
    scales = frame["score_scale"].astype("string").str.strip().str.lower()
    for scale, (lo, hi) in SCORE_SCALES.items():
        on_scale = (scales == scale).fillna(False).to_numpy()
        for col in score_cols:
            vals = frame[col].to_numpy(dtype=float)
            bad = on_scale & ~np.isnan(vals) & ((vals < lo) | (vals > hi))
            if bad.any():
                first = vals[bad][0]
                hint = (
                    " (looks like a percent: set score_scale='percent')"
                    if scale == "proportion" and first > 1
                    else ""
                )
                raise SchemaError(
                    f"score_scale is '{scale}' so expected a value in [{lo:g}, {hi:g}], got {first:g}{hint}",
                    file=source,
                    row=row_numbers(frame, bad),
                    column=col,
                )


def _check_positive(
    frame: pd.DataFrame, column: str, source: str | None, *, strict: bool, what: str
) -> None:
    vals = frame[column].to_numpy(dtype=float)
    bad = ~np.isnan(vals) & ((vals <= 0) if strict else (vals < 0))
    if bad.any():
        cmp = "> 0" if strict else ">= 0"
        raise SchemaError(
            f"expected {what} {cmp}, got {vals[bad][0]:g}",
            file=source,
            row=row_numbers(frame, bad),
            column=column,
        )


def _check_n(frame: pd.DataFrame, column: str, source: str | None) -> None:
    vals = frame[column].to_numpy(dtype=float)
    bad = ~np.isnan(vals) & (vals < 1)
    if bad.any():
        raise SchemaError(
            f"expected a sample size >= 1, got {vals[bad][0]:g}",
            file=source,
            row=row_numbers(frame, bad),
            column=column,
        )


def _check_unique(frame: pd.DataFrame, keys: list[str], source: str | None, what: str) -> None:
    keys = [k for k in keys if k in frame.columns]
    dup = frame.duplicated(keys, keep=False).to_numpy()
    if dup.any():
        rows = row_numbers(frame, dup)
        first = frame.loc[dup, keys].iloc[0].to_dict()
        raise SchemaError(
            f"duplicate {what}: {len(rows)} rows share {first}; each combination of "
            f"{', '.join(keys)} must appear once (add a distinguishing column such as "
            "'benchmark_setting', or remove the duplicates)",
            file=source,
            row=rows,
            column=keys[-1],
        )


def _defaults(frame: pd.DataFrame) -> pd.DataFrame:
    if "comparison_id" not in frame.columns:
        frame["comparison_id"] = frame["study_id"]
    else:
        frame["comparison_id"] = frame["comparison_id"].where(
            frame["comparison_id"].notna(), frame["study_id"]
        )
    if "metric" not in frame.columns:
        frame["metric"] = "score"
    if "higher_is_better" not in frame.columns:
        frame["higher_is_better"] = True
    return frame


def _contrast_keys(frame: pd.DataFrame) -> list[str]:
    keys = ["study_id", "comparison_id", "benchmark", "metric"]
    if "benchmark_setting" in frame.columns:
        keys.append("benchmark_setting")
    return keys


# --------------------------------------------------------------------------- validators
class _Problems:
    """Raise the first problem, or collect every problem (for ``rlmeta validate``)."""

    def __init__(self, collect: bool) -> None:
        self.collect = collect
        self.found: list[SchemaError] = []
        self.unparsed: dict[str, np.ndarray] = {}  # cells already reported as non-numeric

    def run(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SchemaError as exc:
            if not self.collect:
                raise
            self.found.append(exc)
            return None


def _layout_spec(layout: str) -> dict:
    if layout == "wide":
        return {
            "columns": WIDE_COLUMNS,
            "scores": ["rl_score", "baseline_score"],
            "sd": ["rl_sd", "baseline_sd"],
            "se": ["rl_se", "baseline_se"],
            "n": ["rl_n", "baseline_n", "n_items"],
            "what": "contrast rows",
        }
    return {
        "columns": LONG_COLUMNS,
        "scores": ["score"],
        "sd": ["sd"],
        "se": ["se"],
        "n": ["n"],
        "what": "arm rows",
    }


def _check_missing_scores(
    out: pd.DataFrame, col: str, src: str | None, skip: np.ndarray | None = None
) -> None:
    miss = out[col].isna().to_numpy()
    if skip is not None:
        miss = miss & ~skip
    if miss.any():
        raise SchemaError(
            "expected a score, got an empty cell", file=src, row=row_numbers(out, miss), column=col
        )


def _check_r(out: pd.DataFrame, src: str | None) -> None:
    vals = out["r"].to_numpy(dtype=float)
    bad = ~np.isnan(vals) & (np.abs(vals) > 1)
    if bad.any():
        raise SchemaError(
            f"expected a correlation in [-1, 1], got {vals[bad][0]:g}",
            file=src,
            row=row_numbers(out, bad),
            column="r",
        )


def _check_arms(out: pd.DataFrame, src: str | None) -> None:
    arms = out["arm"].astype("string").str.strip().str.lower()
    bad = ~arms.isin(ARMS).fillna(False).to_numpy()
    if bad.any():
        raise SchemaError(
            f"expected arm 'rl' or 'baseline', got {out['arm'][bad].iloc[0]!r}",
            file=src,
            row=row_numbers(out, bad),
            column="arm",
        )


def _validate(
    frame: pd.DataFrame, layout: str, source: str | None, problems: _Problems
) -> pd.DataFrame:
    spec = _layout_spec(layout)
    src = _source(frame, source)
    _require(frame, spec["columns"], src, layout)
    out = frame.copy()
    for col in spec["columns"]:
        if col.name not in out.columns:
            continue
        if col.kind == "num":
            num = problems.run(_numeric, out, col.name, src)
            if num is None:
                num = pd.to_numeric(out[col.name], errors="coerce").astype(float)
                problems.unparsed[col.name] = (num.isna() & out[col.name].notna()).to_numpy()
            out[col.name] = num
        elif col.kind == "str":
            text = problems.run(_strings, out, col.name, src, col.required)
            if text is not None:
                out[col.name] = text
    out = _defaults(out)
    if layout == "long":
        problems.run(_check_arms, out, src)
        out["arm"] = out["arm"].astype("string").str.strip().str.lower().astype(object)
    hib = problems.run(
        coerce_bool, out["higher_is_better"], column="higher_is_better", source=src, frame=out
    )
    if hib is not None:
        out["higher_is_better"] = hib.map(lambda v: True if v is None else bool(v)).astype(bool)
    for col in spec["scores"]:
        problems.run(_check_missing_scores, out, col, src, problems.unparsed.get(col))
    for col in spec["sd"]:
        if col in out.columns:
            problems.run(_check_positive, out, col, src, strict=True, what="a standard deviation")
    for col in spec["se"]:
        if col in out.columns:
            problems.run(_check_positive, out, col, src, strict=False, what="a standard error")
    for col in spec["n"]:
        if col in out.columns:
            problems.run(_check_n, out, col, src)
    if layout == "wide" and "r" in out.columns:
        problems.run(_check_r, out, src)
    problems.run(_check_bounds, out, spec["scores"], src)
    keys = _contrast_keys(out)
    if layout == "long":
        keys = keys + ["arm"] + (["seed"] if "seed" in out.columns else [])
    problems.run(_check_unique, out, keys, src, spec["what"])
    return out


def validate_wide(frame: pd.DataFrame, *, source: str | None = None) -> pd.DataFrame:
    """Validate a wide contrast table (one row per RL-vs-baseline contrast).

    Fills defaults (``comparison_id`` = ``study_id``, ``metric`` = "score",
    ``higher_is_better`` = True), converts numeric and boolean columns, and checks:
    required columns; numbers where numbers are expected; SD > 0, SE >= 0, n >= 1;
    correlations in [-1, 1]; scores within their ``score_scale``; one row per contrast.

    Returns a validated copy; raises :class:`SchemaError` on the first problem
    (:func:`find_problems` lists all of them).
    """
    return _validate(frame, "wide", source, _Problems(collect=False))


def validate_long(frame: pd.DataFrame, *, source: str | None = None) -> pd.DataFrame:
    """Validate a long observation table (one row per arm x benchmark x metric).

    Checks the same as :func:`validate_wide` per arm, plus the arm labels
    (``rl`` / ``baseline``, case-insensitive) and one row per arm and contrast.
    """
    return _validate(frame, "long", source, _Problems(collect=False))


def find_problems(
    frame: pd.DataFrame, *, source: str | None = None, layout: str | None = None
) -> list[SchemaError]:
    """Every problem of a wide or long table (empty list when it is valid).

    The layout is taken from the columns (``arm`` means long) unless given.

    >>> import pandas as pd
    >>> bad = pd.DataFrame({"study_id": ["a", "b"], "benchmark": ["x", "y"],
    ...                     "rl_score": ["0.5", "oops"], "baseline_score": [0.4, -1.0],
    ...                     "score_scale": "proportion"})
    >>> [str(p) for p in find_problems(bad, source="t.csv")]
    ["t.csv, row 2, column 'rl_score': expected a number, got 'oops'", "t.csv, row 2, column 'baseline_score': score_scale is 'proportion' so expected a value in [0, 1], got -1"]
    """
    if layout is None:
        layout = "long" if "arm" in frame.columns and "rl_score" not in frame.columns else "wide"
    problems = _Problems(collect=True)
    try:
        _validate(frame, layout, source, problems)
    except SchemaError as exc:  # missing required columns stop everything else
        problems.found.append(exc)
    return problems.found


def validate_effects(
    frame: pd.DataFrame, *, yi: str = "yi", vi: str = "vi", source: str | None = None
) -> pd.DataFrame:
    """Check an effects table: numeric ``yi`` and ``vi``, ``vi >= 0``.

    Missing values are allowed here (the model logs and drops them); text in a
    numeric column and negative variances are errors.
    """
    src = _source(frame, source)
    for name in (yi, vi):
        if name not in frame.columns:
            raise SchemaError(
                f"missing required column '{name}' of the effects table; compute it with "
                "rm.effect_sizes() or name your columns with yi=..., vi=...",
                file=src,
                column=name,
            )
    if all(frame[c].dtype == np.float64 for c in (yi, vi)):
        # already numeric: only the range check, and a shallow copy so callers own their frame
        _check_positive(frame, vi, src, strict=False, what="a sampling variance")
        return frame.copy(deep=False)
    out = frame.copy()
    out[yi] = _numeric(out, yi, src)
    out[vi] = _numeric(out, vi, src)
    _check_positive(out, vi, src, strict=False, what="a sampling variance")
    return out


def validate_items(frame: pd.DataFrame, *, source: str | None = None) -> pd.DataFrame:
    """Check an item table (per-item scores)."""
    src = _source(frame, source)
    _require(frame, ITEM_COLUMNS, src, "items")
    out = frame.copy()
    out["score"] = _numeric(out, "score", src)
    for name in ("model", "benchmark", "item_id"):
        out[name] = _strings(out, name, src, True)
    return out
