"""openai/simple-evals metrics JSON (aggregate only) and ``_allresults.json``.

The metrics file is a flat object of numbers: ``score`` and per-metric means
under the bare name, with ``"<name>:std"`` (``np.std``, **ddof 0**, of the
per-sample scores), optionally ``"<name>:n_samples"`` and
``"<name>:bootstrap_std"`` (already a standard error).  Per-sample scores are not
stored, so only aggregates can be read.

An SE is computed only when n is known (``<name>:n_samples``, ``n_samples``, or
the number of ``convos`` in the sibling ``_allresults.json``):
``sd = std·√(n/(n−1))`` and ``se = sd/√n = std/√(n−1)``.  Without n the row
keeps ``sd_ddof0`` and no SE.

File names are ``<eval>_<model>_<YYYYmmdd_HHMMSS>[_DEBUG].json``; the eval name is
the part before the first underscore.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from ._common import (
    DEFAULT_LIMITS,
    Limits,
    add_provenance,
    as_dict,
    as_path,
    fail,
    is_number,
    load_json,
    sha256_file,
    short_repr,
)

__all__ = ["looks_like_metrics", "looks_like_allresults", "read_metrics"]

_NAME = re.compile(
    r"^(?P<eval>[^_]+)_(?P<model>.+?)_(?P<ts>\d{8}_\d{6})(?:_DEBUG)?(?:_allresults)?$"
)


def _is_num(v: Any) -> bool:
    """A JSON number, NaN included (detection only; rows use finite numbers)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def _finite(v: Any) -> float | None:
    return float(v) if is_number(v) else None


def looks_like_metrics(obj: Any) -> bool:
    """A flat object of numbers with ``score``."""
    return (
        isinstance(obj, dict)
        and _is_num(obj.get("score"))
        and bool(obj)
        and all(_is_num(v) for v in obj.values())
    )


def looks_like_allresults(obj: Any) -> bool:
    return isinstance(obj, dict) and "convos" in obj and "metrics" in obj and "score" in obj


def _parse_name(stem: str) -> tuple[str | None, str | None]:
    m = _NAME.match(stem)
    return (m.group("eval"), m.group("model")) if m else (None, None)


def read_metrics(
    path: Any, *, data: dict | None = None, limits: Limits = DEFAULT_LIMITS
) -> pd.DataFrame:
    """One row per metric of a simple-evals metrics (or ``_allresults``) file."""
    p = as_path(path)
    if data is None:
        data = load_json(p, limits=limits)
    n_convos = None
    if looks_like_allresults(data):
        convos = data.get("convos")
        n_convos = len(convos) if isinstance(convos, list) and convos else None
        flat = dict(as_dict(data.get("metrics"), p, "metrics"))
        flat.setdefault("score", data["score"])
        data = flat
    elif not looks_like_metrics(data):
        raise fail(
            p, "not a simple-evals metrics file: expected a flat object of numbers with 'score'"
        )
    else:
        sib = p.with_name(p.stem + "_allresults.json")
        if sib.is_file():
            try:
                other = load_json(sib, limits=limits)
            except ValueError:  # an unreadable sibling only means n is unknown
                other = None
            convos = other.get("convos") if isinstance(other, dict) else None
            n_convos = len(convos) if isinstance(convos, list) and convos else None
    eval_name, model = _parse_name(p.stem.removesuffix("_allresults"))
    if model is None:  # a renamed file: keep the stem so rows stay identifiable
        eval_name = model = p.stem
    rows, drops = [], []
    for key, value in data.items():
        if ":" in key or key == "n_samples":
            continue
        if not is_number(value):
            drops.append(
                {
                    "source": str(p),
                    "benchmark": eval_name,
                    "metric": key,
                    "reason": f"{key}: value {short_repr(value)} is not a finite number",
                }
            )
            continue
        std = _finite(data.get(f"{key}:std"))
        n = _finite(data.get(f"{key}:n_samples", data.get("n_samples", n_convos)))
        boot = _finite(data.get(f"{key}:bootstrap_std"))
        se = sd = None
        method = flag = None
        if boot is not None and boot > 0:
            se, method = boot, "reported (bootstrap std of the mean)"
        elif std is not None and n is not None and n > 1:
            sd = std * math.sqrt(n / (n - 1))
            se, method = sd / math.sqrt(n), "std (ddof 0) converted with n"
        elif std is not None:
            flag = "std is ddof 0 and n is unknown; no SE"
        if boot is None and data.get(f"{key}:bootstrap_std") is not None:
            flag = f"bootstrap_std {short_repr(data[f'{key}:bootstrap_std'])} in file; not used"
        rows.append(
            {
                "model": model,
                "benchmark": eval_name,
                "metric": key,
                "filter": None,
                "score": float(value),
                "se": se,
                "sd": sd,
                "sd_ddof0": std,
                "n": n,
                "higher_is_better": None,
                "score_scale": None,
                "se_method": method,
                "se_flag": flag,
                "task": eval_name,
                "source_location": key,
            }
        )
    if not rows:
        raise fail(p, "no metrics found")
    frame = pd.DataFrame(rows)
    for col in ("se", "sd", "sd_ddof0", "n"):
        frame[col] = frame[col].astype(float)
    add_provenance(
        frame,
        source=str(p),
        source_sha256=sha256_file(p),
        tool="simple_evals",
        tool_version=None,
        n_shot=None,
    )
    frame.attrs["rlmeta_pending_drops"] = drops
    return frame
