"""Report configuration: a TOML file (safe to load) plus command-line overrides.

Every option has a default, so ``rlmeta report`` runs with no file at all.  The
example configuration ``examples/rlmeta.toml`` documents each key; unknown keys
are an error (a typo must not be silently ignored).

Examples
--------
>>> cfg = ReportConfig.from_mapping({"effects": {"measure": "LOR"}, "report": {"seed": 7}})
>>> cfg.measure, cfg.seed
('LOR', 7)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["ReportConfig", "load_config"]

_SECTIONS = {
    "data": {"inputs", "include", "exclude", "score_scale"},
    "effects": {"measure", "rho", "assumed_sd", "rho_grid"},
    "model": {
        "method",
        "test",
        "random",
        "robust_cluster",
        "robust_adjust",
        "moderators",
        "subgroups",
        "interaction",
    },
    "sensitivity": {"gosh_subsets", "spec_max", "spec_boot", "permutations", "outlier_z"},
    "report": {"seed", "title", "formats"},
}


@dataclass(frozen=True)
class ReportConfig:
    """Every choice the report makes (defaults shown in ``rlmeta report --help``)."""

    inputs: tuple[str, ...] = ()
    include: dict[str, list] = field(default_factory=dict)
    exclude: dict[str, list] = field(default_factory=dict)
    score_scale: str | None = None
    measure: str = "RD"
    rho: float = 0.0
    rho_grid: tuple[float, ...] = (0.0, 0.3, 0.5, 0.7)
    assumed_sd: dict[str, float] = field(default_factory=dict)
    method: str = "REML"
    test: str = "knha"
    random: str = "study_id/comparison_id/effect_id"
    robust_cluster: str = "study_id"
    robust_adjust: str = "CR2"
    moderators: tuple[str, ...] = ("log10_params_B", "year", "log10_learning_rate", "kl_coef_num")
    subgroups: tuple[str, ...] = ("rl_family", "baseline_family", "benchmark_family")
    interaction: tuple[str, str] = ("log10_params_B", "judge_based")
    gosh_subsets: int = 20_000
    spec_max: int = 2_000
    spec_boot: int = 100
    permutations: int = 1_000
    outlier_z: float = 2.5
    seed: int = 20_251_121
    title: str = "RL-trained LLMs vs. baselines: meta-analysis report"
    formats: tuple[str, ...] = ("html", "pdf")

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "configuration") -> ReportConfig:
        """Build from the nested TOML mapping (sections as in :data:`_SECTIONS`)."""
        flat: dict[str, Any] = {}
        for section, values in data.items():
            if section not in _SECTIONS:
                raise ConfigError(
                    f"{source}: unknown section [{section}]; known: {', '.join(sorted(_SECTIONS))}"
                )
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: [{section}] must be a table of keys")
            for key, val in values.items():
                if key not in _SECTIONS[section]:
                    raise ConfigError(
                        f"{source}: unknown key '{key}' in [{section}]; known: {', '.join(sorted(_SECTIONS[section]))}"
                    )
                flat[key] = val
        return cls().override(**flat, _source=source)

    def override(self, _source: str = "option", **values: Any) -> ReportConfig:
        """A copy with the given (non-None) values, each checked for type and range."""
        kinds = {f.name: f.type for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, val in values.items():
            if val is None:
                continue
            if key not in kinds:
                raise ConfigError(f"{_source}: unknown option '{key}'")
            clean[key] = _coerce(key, val, getattr(self, key), _source)
        out = replace(self, **clean)
        out.check(_source)
        return out

    def check(self, source: str = "configuration") -> None:
        from ..effects import MEASURES
        from ..meta import FIXED_METHODS, TAU2_METHODS, TESTS

        if self.measure.upper() not in {m.upper() for m in MEASURES}:
            raise ConfigError(
                f"{source}: measure must be one of {', '.join(MEASURES)}, got {self.measure!r}"
            )
        if self.method not in FIXED_METHODS + TAU2_METHODS:
            raise ConfigError(
                f"{source}: method must be one of {', '.join(FIXED_METHODS + TAU2_METHODS)}"
            )
        if self.test not in TESTS:
            raise ConfigError(f"{source}: test must be one of {', '.join(TESTS)}")
        for r in (self.rho, *self.rho_grid):
            if not -1 <= r <= 1:
                raise ConfigError(f"{source}: rho values must be in [-1, 1], got {r}")
        if self.robust_adjust not in ("CR0", "CR1", "CR2"):
            raise ConfigError(f"{source}: robust_adjust must be CR0, CR1 or CR2")
        bad = set(self.formats) - {"html", "pdf"}
        if bad or not self.formats:
            raise ConfigError(f"{source}: formats must be a non-empty subset of html, pdf")
        if (
            self.gosh_subsets < 1
            or self.spec_max < 1
            or self.permutations < 1
            or self.spec_boot < 0
        ):
            raise ConfigError(
                f"{source}: gosh_subsets, spec_max and permutations must be positive, spec_boot >= 0"
            )
        if len(self.interaction) != 2:
            raise ConfigError(f"{source}: interaction must name exactly two columns")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _coerce(key: str, val: Any, default: Any, source: str) -> Any:
    """Check a value against the type of the default (no silent conversions)."""
    if isinstance(default, tuple):
        if isinstance(val, str):
            val = [v.strip() for v in val.split(",") if v.strip()]
        if not isinstance(val, list | tuple):
            raise ConfigError(f"{source}: '{key}' must be a list, got {type(val).__name__}")
        if key in ("rho_grid",):
            try:
                return tuple(float(v) for v in val)
            except (TypeError, ValueError):
                raise ConfigError(f"{source}: '{key}' must be a list of numbers") from None
        return tuple(str(v) for v in val)
    if isinstance(default, dict):
        if not isinstance(val, dict):
            raise ConfigError(f"{source}: '{key}' must be a table, got {type(val).__name__}")
        return dict(val)
    if isinstance(default, bool):
        if not isinstance(val, bool):
            raise ConfigError(f"{source}: '{key}' must be true or false")
        return val
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(val, bool) or not isinstance(val, int):
            raise ConfigError(f"{source}: '{key}' must be an integer, got {val!r}")
        return val
    if isinstance(default, float):
        if isinstance(val, bool) or not isinstance(val, int | float):
            raise ConfigError(f"{source}: '{key}' must be a number, got {val!r}")
        return float(val)
    if default is None or isinstance(default, str):
        if not isinstance(val, str):
            raise ConfigError(f"{source}: '{key}' must be a string, got {val!r}")
        return val
    return val


def load_config(path: str | Path | None) -> ReportConfig:
    """Load a TOML configuration file (``tomllib``: data only, nothing is executed)."""
    if path is None:
        return ReportConfig()
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{p}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{p}: not valid TOML: arrays or tables nested too deeply") from None
    except OSError as exc:  # a folder, no permission, ...
        raise ConfigError(
            f"{p}: cannot read the configuration file: {exc.strerror or exc}"
        ) from None
    return ReportConfig.from_mapping(data, source=str(p))
