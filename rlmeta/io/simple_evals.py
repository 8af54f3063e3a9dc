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

from ._common import DEFAULT_LIMITS, Limits, add_provenance, as_path, fail, load_json, sha256_file

__all__ = ["looks_like_metrics", "looks_like_allresults", "read_metrics"]

_NAME = re.compile(
    r"^(?P<eval>[^_]+)_(?P<model>.+?)_(?P<ts>\d{8}_\d{6})(?:_DEBUG)?(?:_allresults)?$"
)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


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
        n_convos = len(data.get("convos") or []) or None
        flat = dict(data.get("metrics") or {})
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
                n_convos = len(other.get("convos") or []) or None
            except Exception:
                n_convos = None
    eval_name, model = _parse_name(p.stem.removesuffix("_allresults"))
    if model is None:  # a renamed file: keep the stem so rows stay identifiable
        eval_name = model = p.stem
    rows = []
    for key, value in data.items():
        if ":" in key or key == "n_samples" or not _is_num(value):
            continue
        std = data.get(f"{key}:std")
        n = data.get(f"{key}:n_samples", data.get("n_samples", n_convos))
        boot = data.get(f"{key}:bootstrap_std")
        se = sd = None
        method = flag = None
        if _is_num(boot):
            se, method = float(boot), "reported (bootstrap std of the mean)"
        elif _is_num(std) and _is_num(n) and n > 1:
            sd = float(std) * math.sqrt(n / (n - 1))
            se, method = sd / math.sqrt(n), "std (ddof 0) converted with n"
        elif _is_num(std):
            flag = "std is ddof 0 and n is unknown; no SE"
        rows.append(
            {
                "model": model,
                "benchmark": eval_name,
                "metric": key,
                "filter": None,
                "score": float(value),
                "se": se,
                "sd": sd,
                "sd_ddof0": float(std) if _is_num(std) else None,
                "n": float(n) if _is_num(n) else None,
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
    return frame
