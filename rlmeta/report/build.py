"""Assemble and write the report: load inputs, run every section, render HTML and PDF."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

from ..datasets import add_derived_columns, dataset_path, load_rl_llm_studies
from ..droplog import extend_drop_log, record_drops
from ..errors import ConfigError, RlmetaWarning
from . import sections_core as core
from .config import ReportConfig
from .context import Context, Unavailable
from .document import Report, Section
from .render import render_html, write_html, write_pdf

__all__ = ["build_report", "write_report", "SECTION_ORDER"]

_VERSIONS = (
    "rlmeta",
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "scikit-learn",
    "matplotlib",
    "seaborn",
    "formulaic",
    "jinja2",
    "weasyprint",
)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _report_date() -> str:
    """Now, or ``SOURCE_DATE_EPOCH`` (UTC) when set: reruns then give byte-identical reports."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            when = _dt.datetime.fromtimestamp(int(epoch), tz=_dt.UTC)
        except (ValueError, OverflowError, OSError):
            raise ConfigError(
                f"SOURCE_DATE_EPOCH must be a whole number of seconds, got {epoch!r}"
            ) from None
        return when.strftime("%Y-%m-%d %H:%M UTC")
    return _dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def _versions() -> dict[str, str]:
    out = {}
    for name in _VERSIONS:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed" if name != "rlmeta" else "source tree"
    return out


def _load(inputs: Sequence[str], cfg: ReportConfig) -> tuple[pd.DataFrame, list[dict]]:
    if not inputs:
        path = dataset_path()
        df = load_rl_llm_studies()
        return df, [{"path": f"(bundled) {path.name}", "sha256": _sha256(path), "rows": len(df)}]
    from .. import io as rio

    frames, meta = [], []
    for p in inputs:
        path = Path(p)
        kw = {"score_scale": cfg.score_scale} if cfg.score_scale else {}
        df = rio.read(str(path), **kw)
        frames.append(df)
        digest = (
            _sha256(path)
            if path.is_file()
            else "(folder) "
            + hashlib.sha256(
                b"".join(_sha256(f).encode() for f in sorted(path.rglob("*")) if f.is_file())
            ).hexdigest()
        )
        meta.append({"path": str(path), "sha256": digest, "rows": len(df)})
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frames) > 1:
        extend_drop_log(data, *frames)
    if "rl_method" in data.columns or "learning_rate" in data.columns:
        data = extend_drop_log(add_derived_columns(data), data)
    return data, meta


def _load_pair(
    rl: str, baseline: str, inputs: Sequence[str], cfg: ReportConfig
) -> tuple[pd.DataFrame, list[dict]]:
    """Two evaluation runs: paired per-item effects when samples exist, else aggregate contrasts.

    ``rl`` / ``baseline`` are paths (files or folders) or, when ``inputs`` are given, the
    model names inside them.
    """
    from .. import io as rio
    from ..errors import ReaderError
    from ..pairing import pair

    paths = [p for p in (rl, baseline) if Path(p).exists()]
    sources = list(inputs) if inputs else paths
    meta = []
    for p in sources:
        path = Path(p)
        digest = (
            _sha256(path)
            if path.is_file()
            else "(folder) "
            + hashlib.sha256(
                b"".join(_sha256(f).encode() for f in sorted(path.rglob("*")) if f.is_file())
            ).hexdigest()
        )
        meta.append({"path": str(path), "sha256": digest, "rows": None})
    try:
        items = rio.read_items(sources)
    except ReaderError:
        items = None
    if items is not None and len(items):
        eff = pair(items, rl=rl, baseline=baseline, measure="MD")
        eff = extend_drop_log(eff, items)
        return eff, meta
    obs = rio.read(sources, **({"score_scale": cfg.score_scale} if cfg.score_scale else {}))
    wide = rio.to_contrasts(obs, rl=rl, baseline=baseline)
    return extend_drop_log(wide, obs), meta


def _filters(df: pd.DataFrame, cfg: ReportConfig) -> pd.DataFrame:
    for kind, spec in (("include", cfg.include), ("exclude", cfg.exclude)):
        for col, values in spec.items():
            if col not in df.columns:
                raise ConfigError(f"{kind} filter: column {col!r} is not in the data")
            vals = values if isinstance(values, list) else [values]
            hit = df[col].astype(str).isin([str(v) for v in vals]).to_numpy()
            mask = ~hit if kind == "include" else hit
            df = record_drops(df, mask, reason=f"{kind} filter on {col} = {vals}", step="filter")
    return df


def _run(builder: Callable[..., Section], ctx: Context, sid: str, title: str, *args) -> Section:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        section = _run_quietly(builder, ctx, sid, title, *args)
    # rlmeta's own warnings belong in the report (its limitations list), not on stderr
    # where a reader of the report never sees them; other libraries' warnings pass on
    for w in caught:
        if issubclass(w.category, RlmetaWarning):
            ctx.add_warning(str(w.message))
        else:
            try:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            except Warning as exc:  # a caller's "error" filter must not abort the whole report
                ctx.add_warning(f"{type(exc).__name__}: {exc}")
    return section


def _run_quietly(
    builder: Callable[..., Section], ctx: Context, sid: str, title: str, *args
) -> Section:
    try:
        return builder(ctx, *args)
    except Unavailable as exc:
        return Section(sid, title, status="unavailable", note=str(exc))
    except Exception as exc:  # a failed section is shown and reported, never hidden
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        ctx.add_warning(f"section '{title}' failed: {detail}")
        return Section(sid, title, status="failed", note=detail)


def _optional(module: str, func: str):
    """A section builder from a module that may be absent (merged later)."""

    def builder(ctx: Context) -> Section:
        import importlib

        try:
            mod = importlib.import_module(f"rlmeta.report.{module}")
        except ModuleNotFoundError as exc:
            raise Unavailable(
                f"this section is not part of this version of rlmeta ({exc.name})"
            ) from None
        return getattr(mod, func)(ctx)

    return builder


#: Section id, title and builder, in report order.
SECTION_ORDER: list[tuple[str, str, Callable]] = [
    ("headline", "Headline result", core.headline_section),
    ("data", "Data summary and drop log", core.data_section),
    ("effects", "Effect-size choices", core.effects_section),
    ("forest", "Forest plot", core.forest_section),
    ("subgroups", "Subgroups", _optional("sections_more", "subgroups_section")),
    ("metareg", "Meta-regression on moderators", _optional("sections_more", "metareg_section")),
    ("interaction", "Interaction model", _optional("sections_more", "interaction_section")),
    ("sensitivity", "Sensitivity analyses", _optional("sections_more", "sensitivity_section")),
    (
        "bias",
        "Small-study effects and publication bias",
        _optional("sections_more", "bias_section"),
    ),
    (
        "exploration",
        "Exploration: structure in the results",
        _optional("sections_more", "exploration_section"),
    ),
    ("methods", "Methods", core.methods_section),
    ("limitations", "Limitations", core.limitations_section),
]


def build_report(
    inputs: Sequence[str] = (),
    *,
    data: pd.DataFrame | None = None,
    rl: str | None = None,
    baseline: str | None = None,
    config: ReportConfig | None = None,
    command: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run the whole analysis and return the report content (not yet written).

    Parameters
    ----------
    inputs
        Files or folders that :func:`rlmeta.read` understands; empty means the
        bundled dataset.
    data
        A table (wide contrasts, long observations or effects) to use instead of
        ``inputs``.
    rl, baseline
        Two evaluation runs to compare (paths, or model names within ``inputs``):
        per-item scores are paired item by item (:func:`rlmeta.pair`); runs with
        aggregates only become contrasts (:func:`rlmeta.to_contrasts`).
    config
        A :class:`ReportConfig` (defaults when None).
    command
        The command line to record in the provenance section.
    progress
        Called with each section's title before it runs.
    """
    cfg = config or ReportConfig()
    np.random.seed(cfg.seed % 2**32)  # noqa: NPY002 - libraries that still use the global RNG stay reproducible
    t0 = time.perf_counter()
    if (rl is None) != (baseline is None):
        raise ConfigError("give both rl= and baseline= (the two runs to compare), or neither")
    if rl is not None:
        data, meta = _load_pair(rl, baseline, list(inputs or cfg.inputs), cfg)
    elif data is not None:
        meta = [
            {
                "path": "(DataFrame passed to build_report)",
                "sha256": hashlib.sha256(
                    pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes()
                ).hexdigest(),
                "rows": len(data),
            }
        ]
        if "rl_method" in data.columns or "learning_rate" in data.columns:
            data = extend_drop_log(add_derived_columns(data), data)
    else:
        data, meta = _load(list(inputs or cfg.inputs), cfg)
    data = _filters(data, cfg)
    if "effect_id" not in data.columns:
        # the lowest level of the multilevel model (kept through effect sizes and sweeps)
        data = data.assign(effect_id=np.arange(1, len(data) + 1))
    ctx = Context(config=cfg, data=data, inputs=meta, command=command or "rlmeta.build_report()")
    sections: list[Section] = []
    for sid, title, builder in SECTION_ORDER:
        if progress:
            progress(title)
        sections.append(_run(builder, ctx, sid, title))
    prov = {
        "rlmeta_version": _versions()["rlmeta"],
        "date": _report_date(),
        "seed": cfg.seed,
        "command": ctx.command,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": _versions(),
        "config": cfg.as_dict(),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    sections.insert(0, _run(core.provenance_section, ctx, "provenance", "Provenance", prov))
    sections.append(
        _run(core.appendix_section, ctx, "appendix", "Appendix: all effect sizes and options", prov)
    )
    n_eff = len(ctx.effects)
    n_st = ctx.effects["study_id"].nunique() if "study_id" in ctx.effects.columns else 0
    subtitle = f"{n_eff} effect sizes" + (
        f" from {n_st} {'study' if n_st == 1 else 'studies'}" if n_st else ""
    )
    return Report(title=cfg.title, subtitle=subtitle, sections=sections, provenance=prov)


def write_report(
    report: Report, output: str | Path, formats: Sequence[str] = ("html", "pdf")
) -> list[Path]:
    """Write the report in each format next to ``output`` (its suffix is replaced)."""
    out = Path(output)
    written = []
    html_text = render_html(report)
    if "html" in formats:
        written.append(write_html(report, out.with_suffix(".html")))
    if "pdf" in formats:
        written.append(write_pdf(report, out.with_suffix(".pdf"), html_text=html_text))
    return written
