"""Subgroup analysis: per-subgroup pooled effects and tests of subgroup differences."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, fmt_p, jsonable
from ..droplog import drop_log
from ..errors import ModelError
from ._core import Control
from .results import MetaResult

__all__ = ["SubgroupResult", "subgroup_analysis"]


@dataclass(eq=False)
class SubgroupResult(ResultMixin):
    """Per-subgroup fits and two tests of subgroup differences.

    * **separate tau²**: each subgroup pooled on its own (own tau²); the between-
      subgroup Q is ``sum w_g (b_g - b_bar)²`` with ``w_g = 1/se_g²`` on ``G - 1`` df
      (the "random-effects" subgroup test of RevMan / R's meta);
    * **common tau²** (mixed-effects model): meta-regression on ``C(subgroup)``, whose
      omnibus QM is the test (metafor's recommended approach).
    """

    column: str
    groups: dict[str, MetaResult]
    mixed: MetaResult | None
    q_between: float
    q_between_df: int
    q_between_pval: float
    drop_log: pd.DataFrame = field(default_factory=pd.DataFrame)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per subgroup: k, estimate, se, CI, PI, tau2, I2, Q."""
        rows = []
        for name, res in self.groups.items():
            tab = res.to_frame().iloc[0]
            pi = res.pi if res.random else [np.nan, np.nan]
            rows.append(
                {
                    "subgroup": name,
                    "k": res.k,
                    "estimate": tab["estimate"],
                    "se": tab["se"],
                    "pval": tab["pval"],
                    "ci_low": tab["ci_low"],
                    "ci_high": tab["ci_high"],
                    "pi_low": pi[0],
                    "pi_high": pi[1],
                    "tau2": res.tau2,
                    "i2": res.i2,
                    "q": res.q,
                    "q_pval": res.q_pval,
                }
            )
        return pd.DataFrame(rows)

    def tests(self) -> pd.DataFrame:
        """The two tests of subgroup differences as a tidy frame."""
        rows = [
            {
                "test": "separate tau2 (between-subgroup Q)",
                "stat": self.q_between,
                "df": self.q_between_df,
                "ddf": np.nan,
                "pval": self.q_between_pval,
            }
        ]
        if self.mixed is not None:
            om = self.mixed._omnibus
            rows.append(
                {
                    "test": f"common tau2 (mixed-effects QM, {om.test})",
                    "stat": om.stat,
                    "df": om.df,
                    "ddf": om.ddf if om.ddf is not None else np.nan,
                    "pval": om.pval,
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        return jsonable(
            {
                "column": self.column,
                "subgroups": self.to_frame(),
                "tests": self.tests(),
                "skipped": self.skipped,
                "n_dropped": len(self.drop_log),
            }
        )

    def summary(self) -> str:
        lines = [f"Subgroup analysis by '{self.column}' ({len(self.groups)} subgroups)", ""]
        lines.append(self.to_frame().to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        lines.append("")
        lines.append("Tests of subgroup differences:")
        for _, r in self.tests().iterrows():
            lines.append(
                f"  {r['test']}: {r['stat']:.4f} on {int(r['df'])} df, p-val = {fmt_p(r['pval'])}"
            )
        for g, why in self.skipped.items():
            lines.append(f"Note: subgroup {g!r} not pooled: {why}")
        return "\n".join(lines)


def subgroup_analysis(
    data: pd.DataFrame,
    column: str,
    *,
    yi="yi",
    vi="vi",
    sei=None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    tau2: float | None = None,
    slab=None,
    control: Control | None = None,
    min_k: int = 1,
) -> SubgroupResult:
    """Pool within each level of ``column`` and test whether subgroups differ.

    Examples
    --------
    >>> import rlmeta as rm
    >>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    >>> sg = rm.meta_analysis(eff, subgroup="rl_family")
    >>> sorted(sg.groups)
    ['DPO', 'GRPO', 'PPO', 'SimPO']
    """
    from .fit import meta_analysis, prepare

    if not isinstance(data, pd.DataFrame) or column not in data.columns:
        raise ModelError(f"subgroup column {column!r} not found in the data")
    frame, yi_col, vi_col, _ = prepare(
        data, yi, vi, sei=sei, extra_columns=[column], step="subgroup"
    )
    groups: dict[str, MetaResult] = {}
    skipped: dict[str, str] = {}
    kw = {"method": method, "test": test, "level": level, "tau2": tau2, "control": control}
    for name, sub in frame.groupby(column, sort=True):
        if len(sub) < min_k:
            skipped[str(name)] = f"only {len(sub)} effect(s)"
            continue
        sub = sub.reset_index(drop=True)
        sub.attrs = {}
        m = method if len(sub) > 1 else "EE"
        try:
            groups[str(name)] = meta_analysis(sub, yi_col, vi_col, slab=slab, **{**kw, "method": m})
        except ModelError as exc:
            skipped[str(name)] = str(exc)
    if len(groups) < 2:
        raise ModelError(
            f"subgroup analysis needs at least two subgroups with effects; got {list(groups)}"
        )
    est = np.array([g.to_frame()["estimate"].iloc[0] for g in groups.values()])
    se = np.array([g.to_frame()["se"].iloc[0] for g in groups.values()])
    w = 1 / se**2
    bbar = np.sum(w * est) / np.sum(w)
    qb = float(np.sum(w * (est - bbar) ** 2))
    dfb = len(groups) - 1
    mixed = None
    kept = frame[frame[column].astype(str).isin(list(groups))].reset_index(drop=True)
    kept.attrs = {}
    try:
        mixed = meta_analysis(kept, yi_col, vi_col, mods=f"~ C({column})", slab=slab, **kw)
    except ModelError:
        mixed = None
    return SubgroupResult(
        column=column,
        groups=groups,
        mixed=mixed,
        q_between=qb,
        q_between_df=dfb,
        q_between_pval=float(stats.chi2.sf(qb, dfb)),
        drop_log=drop_log(frame),
        skipped=skipped,
    )
