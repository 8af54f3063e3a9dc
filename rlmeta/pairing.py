"""Paired RL-vs-baseline effects from per-item scores of two runs on the same items.

:func:`pair` joins the two arms on item identity (lm-eval ``doc_hash``, else
``doc_id``; Inspect sample id; HELM instance id: the readers' ``item_id``),
averages K repeats within each item first, reports unmatched and duplicated
items (drop log and count columns), and returns one effect per benchmark x
metric (x filter), ready for :func:`rlmeta.meta_analysis` across benchmarks.

Measures (positive = RL better; ``higher_is_better == False`` flips the sign)
-------------------------------------------------------------------------------
``MD``
    Mean paired difference d̄ = mean(s_RL,i − s_B,i) (the risk difference for
    binary items) with the paired SE sd(d)/√n and a t(n−1) interval; with a
    cluster key the clustered SE √(C/(C−1)·Σ_c(Σ_{i∈c}(d_i − d̄))²)/n and t(C−1)
    (Miller 2024, App. A).
``SMCC`` (alias ``dz``)
    d_z = J·d̄/sd(d), J = Hedges' correction with n − 1 df, vi = 1/n + d_z²/(2n)
    (metafor's SMCC).
``DAV`` (alias ``dav``)
    d_av = J·d̄/((sd_RL + sd_B)/2) (Lakens 2013) with metafor's SMCRP variance
    vi = 2(1 − r)/n + d²(1 + r²)/(4n) and J with m = 2(n − 1)/(1 + r²) df
    (Cousineau 2020).
``PLOR``
    Paired (conditional) log odds ratio log(T/U) from the discordant cells
    (T: only RL correct, U: only the baseline correct), 1/2 added to both when
    one is 0; vi = 1/T + 1/U.  Binary items only.

With clusters, the variances of ``SMCC``, ``DAV`` and ``PLOR`` are multiplied by
the design effect observed for the mean difference (clustered / independent SE²).
Every row also carries the exact McNemar p-value for binary items.

Examples
--------
>>> import pandas as pd
>>> rl = pd.DataFrame({"model": "rl", "benchmark": "arc", "item_id": list("abcdef"),
...                    "score": [1, 1, 1, 0, 1, 1.0]})
>>> base = rl.assign(model="base", score=[1, 0, 0, 0, 1, 0.0])
>>> eff = pair(pd.concat([rl, base]), rl="rl", baseline="base")
>>> eff[["benchmark", "measure", "n", "mcnemar_t", "mcnemar_u"]].values.tolist()
[['arc', 'MD', 6, 3, 0]]
>>> round(float(eff["yi"][0]), 4), round(float(eff["sei"][0]), 4)
(0.5, 0.2236)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .droplog import extend_drop_log, with_drop_log
from .effects import hedges_correction
from .errors import DataError, EffectError
from .evalstats import mcnemar_exact

__all__ = ["pair", "PAIRED_MEASURES"]

#: Measures :func:`pair` computes (aliases: dz -> SMCC, dav -> DAV, RD -> MD).
PAIRED_MEASURES = ("MD", "SMCC", "DAV", "PLOR")
_ALIASES = {"DZ": "SMCC", "D_Z": "SMCC", "DAV": "DAV", "D_AV": "DAV", "RD": "MD", "LOR": "PLOR"}
_GROUP = ("benchmark", "metric", "filter", "split", "perturbation")


def _select(items: pd.DataFrame, spec: Any, label: str) -> np.ndarray:
    if spec is None:
        if "arm" not in items.columns:
            raise DataError(
                f"{label}= is required when the items have no 'arm' column", column="model"
            )
        return (items["arm"].astype(str).str.lower() == label).to_numpy()
    specs = [spec] if isinstance(spec, str | Path) else list(spec)
    models = (
        items["model"].astype(str) if "model" in items.columns else pd.Series([""] * len(items))
    )
    sources = (
        items["source"].astype(str) if "source" in items.columns else pd.Series([""] * len(items))
    )
    mask = np.zeros(len(items), dtype=bool)
    for s in map(str, specs):
        hit = (models == s).to_numpy()
        if not hit.any():
            prefix = s.rstrip("/") + "/"
            hit = ((sources == s) | sources.str.startswith(prefix)).to_numpy()
        mask |= hit
    if not mask.any():
        have = ", ".join(sorted(models.unique())[:10])
        raise DataError(
            f"{label}={spec!r} matches no items: give a model name (one of: {have}) or a path",
            column="model",
        )
    return mask


def _key(items: pd.DataFrame, a: np.ndarray, b: np.ndarray, by: str) -> str:
    if by != "auto":
        if by not in items.columns:
            raise DataError(f"by={by!r} is not a column of the items", column=by)
        return by
    sel = items.loc[a | b]
    if "item_key" in sel.columns and "doc_id" in sel.columns:
        # lm-eval: item_id is the doc_hash when both runs logged one, else fall back to doc_id
        keys = set(sel["item_key"].astype(str))
        if keys != {"doc_hash"} and sel["doc_id"].notna().all():
            return "doc_id"
    return "item_id"


def _numeric_scores(work: pd.DataFrame, log: list[dict]) -> pd.DataFrame:
    """Scores as floats: text is an error naming the row; missing or non-finite scores are
    dropped and logged (a NaN would otherwise turn the whole benchmark's effect into NaN)."""
    num = pd.to_numeric(work["score"], errors="coerce").astype(float)
    text = num.isna() & work["score"].notna()
    if text.any():
        first = work.loc[text].iloc[0]
        row = first.get("source_row")
        raise DataError(
            f"expected a numeric score, got {first['score']!r}",
            file=None if pd.isna(first.get("source")) else str(first.get("source")),
            row=None if row is None or pd.isna(row) else int(row),
            column="score",
        )
    bad = ~np.isfinite(num.to_numpy())
    if bad.any():
        log.extend(
            _records(
                work.loc[bad],
                lambda r: (
                    f"score {r['score']!r} is missing or not finite; item left out of pairing"
                ),
            )
        )
    out = work.loc[~bad].copy()
    out["score"] = num[~bad]
    return out


def _records(frame: pd.DataFrame, reason) -> list[dict]:
    """Drop-log records for the rows of ``frame`` (``reason`` maps a row dict to text)."""
    cols = [c for c in ("source", "source_row", "benchmark", "metric") if c in frame.columns]
    out = []
    for r in frame.to_dict("records"):
        rec = {"step": "pair", **{c: r.get(c) for c in cols}, "reason": reason(r)}
        out.append(rec)
    return out


def _per_item(
    part: pd.DataFrame, group: list[str], key: str, cluster: str | None, arm: str, log: list[dict]
) -> tuple[pd.DataFrame, pd.Series]:
    """Per-item means (K repeats averaged) and the number of duplicated rows per group."""
    sub = ["sample_idx"] if "sample_idx" in part.columns else []
    dup = part.duplicated(group + [key] + sub, keep="first").to_numpy()
    dups = part.loc[dup]
    log.extend(
        _records(
            dups, lambda r: f"duplicated {arm} item {r[key]!r} (same item and sample); first kept"
        )
    )
    ndup = (
        dups.groupby(group, sort=False, observed=True).size() if len(dups) else pd.Series(dtype=int)
    )
    part = part.loc[~dup]
    agg = {"score": ("score", "mean"), "k": ("score", "size")}
    if cluster:
        agg["cluster"] = (cluster, "first")
    for c in ("source", "source_row", "model", "higher_is_better"):
        if c in part.columns:
            agg[c] = (c, "first")
    out = (
        part.groupby(group + [key], sort=False, observed=True, dropna=False)
        .agg(**agg)
        .reset_index()
    )
    return out, ndup


def _one_run_per_arm(part: pd.DataFrame, group: list[str], arm: str) -> None:
    """Two models (or two files of one task) in one arm would be averaged as if they were repeats: refuse."""
    for col in ("model", "source"):
        if col not in part.columns:
            continue
        n = part.groupby(group, sort=False, observed=True)[col].nunique()
        if (n > 1).any():
            where = n[n > 1].index[0]
            vals = part.set_index(group).loc[[where], col].astype(str).unique().tolist()[:4]
            raise DataError(
                f"the {arm} arm mixes {int(n.max())} different {col} values for {where}: {vals}; "
                "select one run per arm (by model name or path)",
                column=col,
            )


def pair(
    items: pd.DataFrame,
    rl: str | Sequence[str] | None = None,
    baseline: str | Sequence[str] | None = None,
    *,
    measure: str = "MD",
    by: str = "auto",
    cluster: str | None = "auto",
    level: float = 0.95,
    study_id: str | None = None,
) -> pd.DataFrame:
    """Paired effects per benchmark (x metric x filter) from two runs' per-item scores.

    Parameters
    ----------
    items
        Items table (e.g. ``rm.read_items([rl_dir, base_dir])``).
    rl, baseline
        Model name(s) or path(s) identifying each arm; default: the ``arm``
        column (``"rl"`` / ``"baseline"``).
    measure
        ``"MD"``, ``"SMCC"`` (d_z), ``"DAV"`` (d_av) or ``"PLOR"`` (see module docstring).
    by
        Item identity column; ``"auto"`` uses ``item_id`` (lm-eval: the doc_hash),
        falling back to lm-eval's ``doc_id`` when a run logged no doc hashes.
    cluster
        Cluster column for clustered SEs; ``"auto"`` uses ``cluster`` when present,
        None disables clustering.
    level
        Level of the t interval.
    study_id
        ``study_id``/``comparison_id`` of the rows (default ``"<rl> vs <baseline>"``,
        each arm named by its model when it holds exactly one, else by ``rl``/``baseline``).

    Returns
    -------
    pandas.DataFrame
        One row per benchmark x metric (x filter): ``study_id, comparison_id,
        benchmark, metric, measure, yi, vi, sei, ci_low, ci_high, df, n,
        n_clusters, rl_mean, baseline_mean, rl_sd, baseline_sd, r, k_rl,
        k_baseline, binary, mcnemar_t, mcnemar_u, mcnemar_p, n_unmatched_rl,
        n_unmatched_baseline, n_duplicates, se_method, direction_flipped,
        rl_model, baseline_model, pair_key``.  Unmatched and duplicated items, and
        groups without a defined effect, are in the drop log.
    """
    m = str(measure).upper()
    m = _ALIASES.get(m, m)
    if m not in PAIRED_MEASURES:
        raise EffectError(
            f"unknown paired measure {measure!r}; expected one of {', '.join(PAIRED_MEASURES)} "
            "(or dz, dav)"
        )
    for col in ("item_id", "score"):
        if col not in items.columns:
            raise DataError(f"the items table has no '{col}' column", column=col)
    a = _select(items, rl, "rl")
    b = _select(items, baseline, "baseline")
    if (a & b).any():
        raise DataError(
            "some items match both rl= and baseline=; make the selections disjoint", column="model"
        )
    key = _key(items, a, b, by)
    group = [c for c in _GROUP if c in items.columns]
    if cluster == "auto":
        cluster = (
            "cluster" if "cluster" in items.columns and items["cluster"].notna().any() else None
        )
    elif cluster is not None and cluster not in items.columns:
        raise DataError(f"cluster={cluster!r} is not a column of the items", column=cluster)
    work = items.loc[a | b].copy()
    for c in group + [key]:
        work[c] = work[c].astype(object).where(work[c].notna(), "")
    log: list[dict] = []
    work["_rl"] = a[a | b]  # arm membership travels with the rows that survive the score check
    work = _numeric_scores(work, log)
    arms = {}
    ndup = {}
    for in_arm, arm in ((work["_rl"].to_numpy(), "rl"), (~work["_rl"].to_numpy(), "baseline")):
        part = work.loc[in_arm].drop(columns="_rl")
        _one_run_per_arm(part, group, arm)
        arms[arm], ndup[arm] = _per_item(part, group, key, cluster, arm, log)
    merged = arms["rl"].merge(
        arms["baseline"], on=group + [key], how="outer", suffixes=("_rl", "_b"), indicator=True
    )
    unmatched = merged[merged["_merge"] != "both"]
    for side, suf, flag in (("rl", "_rl", "left_only"), ("baseline", "_b", "right_only")):
        part = unmatched[unmatched["_merge"] == flag].rename(
            columns={f"source{suf}": "source", f"source_row{suf}": "source_row"}
        )
        log.extend(
            _records(part, lambda r, side=side: f"item {r[key]!r} appears only in the {side} arm")
        )
    um_counts = unmatched.groupby(group + ["_merge"], sort=False, observed=True).size()
    both = merged[merged["_merge"] == "both"]
    rows = []
    for gkey, g in both.groupby(group, sort=False, observed=True):
        gk = gkey if isinstance(gkey, tuple) else (gkey,)
        gvals = dict(zip(group, gk))
        row = _effect(g, m, cluster, level)
        row.update(gvals)
        row["n_unmatched_rl"] = int(um_counts.get((*gk, "left_only"), 0))
        row["n_unmatched_baseline"] = int(um_counts.get((*gk, "right_only"), 0))
        row["n_duplicates"] = int(ndup["rl"].get(gkey, 0)) + int(ndup["baseline"].get(gkey, 0))
        row["rl_model"] = _first(g, "model_rl")
        row["baseline_model"] = _first(g, "model_b")
        row["pair_key"] = key
        rows.append(row)
    if not rows:
        raise DataError(
            "no item is present in both arms: check that both runs used the same benchmark, metric "
            f"and item ids (pairing on {key!r})"
        )
    out = pd.DataFrame(rows)
    bad = out["reason"].notna().to_numpy()
    for _, r in out[bad].iterrows():
        log.append(
            {
                "step": "pair",
                "source": None,
                "source_row": None,
                "benchmark": r.get("benchmark"),
                "metric": r.get("metric"),
                "reason": r["reason"],
            }
        )
    if bad.all():
        why = "; ".join(f"{r['benchmark']}: {r['reason']}" for _, r in out.iterrows())
        raise EffectError(f"no benchmark yields a paired {m} effect ({why})")
    out = out.loc[~bad].drop(columns="reason").reset_index(drop=True)
    sid = study_id or f"{_label(rl, 'rl', items, a)} vs {_label(baseline, 'baseline', items, b)}"
    out.insert(0, "study_id", sid)
    out.insert(1, "comparison_id", sid)
    for c in group:
        out[c] = out[c].replace("", None)
    front = [
        "study_id",
        "comparison_id",
        *group,
        "measure",
        "yi",
        "vi",
        "sei",
        "ci_low",
        "ci_high",
        "df",
        "n",
    ]
    out = out[front + [c for c in out.columns if c not in front]]
    out.attrs = {}
    with_drop_log(out, [])
    extend_drop_log(out, items, [_complete(r) for r in log])
    out.attrs["rlmeta_measure"] = m
    return out


def _complete(rec: dict) -> dict:
    base = {
        "step": "pair",
        "source": None,
        "source_row": None,
        "row_id": None,
        "study_id": None,
        "comparison_id": None,
        "benchmark": None,
        "metric": None,
        "reason": "",
    }
    base.update(
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
    )
    for k in ("source", "benchmark", "metric"):
        if base[k] is not None:
            base[k] = str(base[k])
    if base["source_row"] is not None:
        base["source_row"] = int(base["source_row"])
    return base


def _first(g: pd.DataFrame, col: str) -> Any:
    return str(g[col].iloc[0]) if col in g.columns else None


def _label(spec: Any, default: str, items: pd.DataFrame, mask: np.ndarray) -> str:
    """How an arm is named in ``study_id``: its single model's name, else the spec itself.

    A path (``runs/rl/``) names where the files are, not what was evaluated; when the
    arm's items come from one model, that model's name is the better label.
    """
    if "model" in items.columns:
        models = items.loc[mask, "model"].dropna().astype(str).unique()
        if len(models) == 1 and models[0]:
            return models[0]
    if spec is None:
        return default
    return str(spec) if isinstance(spec, str | Path) else "+".join(map(str, spec))


def _hib(g: pd.DataFrame) -> bool:
    for col in ("higher_is_better_rl", "higher_is_better_b"):
        if col in g.columns:
            vals = g[col].dropna()
            if len(vals):
                return bool(vals.iloc[0])
    return True


def _effect(g: pd.DataFrame, m: str, cluster: str | None, level: float) -> dict:
    """Paired statistics of one benchmark group (arrays of per-item means)."""
    x = g["score_rl"].to_numpy(dtype=float)
    y = g["score_b"].to_numpy(dtype=float)
    n = len(x)
    flip = not _hib(g)
    d = (y - x) if flip else (x - y)
    row: dict[str, Any] = {
        "measure": m,
        "n": n,
        "rl_mean": x.mean(),
        "baseline_mean": y.mean(),
        "k_rl": float(g["k_rl"].mean()),
        "k_baseline": float(g["k_b"].mean()),
        "direction_flipped": flip,
        "reason": None,
    }
    binary = bool(np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all())
    row["binary"] = binary
    if binary:
        t = int(np.sum((x == 1) & (y == 0)))
        u = int(np.sum((x == 0) & (y == 1)))
        if flip:
            t, u = u, t
        row.update(mcnemar_t=t, mcnemar_u=u, mcnemar_p=mcnemar_exact(t, u))
    else:
        row.update(mcnemar_t=None, mcnemar_u=None, mcnemar_p=None)
    if n < 2:
        row.update(
            yi=np.nan, vi=np.nan, reason=f"only {n} paired item; a paired SE needs at least 2"
        )
        return row
    sx, sy = x.std(ddof=1), y.std(ddof=1)
    r = float(np.corrcoef(x, y)[0, 1]) if sx > 0 and sy > 0 else np.nan
    row.update(rl_sd=sx, baseline_sd=sy, r=r)
    dbar = float(d.mean())
    sd_d = float(d.std(ddof=1))
    se_iid = sd_d / math.sqrt(n)
    se, df, n_c, method = se_iid, n - 1, None, "paired (sd of differences, ddof 1)"
    if cluster:
        cl = (
            g["cluster_rl"]
            .where(g["cluster_rl"].notna(), g.get("cluster_b"))
            .astype(str)
            .to_numpy()
        )
        codes, _ = pd.factorize(cl)
        n_c = int(codes.max()) + 1
        if n_c >= 2:
            sums = np.bincount(codes, weights=d - dbar, minlength=n_c)
            se = math.sqrt(n_c / (n_c - 1) * float(np.sum(sums**2))) / n
            df, method = n_c - 1, f"clustered by {cluster} (C/(C-1), t(C-1))"
        else:
            method += "; one cluster only, not clustered"
            n_c = 1
    row.update(n_clusters=n_c, se_method=method, df=df)
    deff = (se / se_iid) ** 2 if se_iid > 0 else 1.0
    if m == "MD":
        yi, vi = dbar, se**2
    elif m == "SMCC":
        if sd_d == 0:
            row.update(yi=np.nan, vi=np.nan, reason="the differences have SD 0: d_z is undefined")
            return row
        yi = float(hedges_correction(n - 1)) * dbar / sd_d
        vi = (1 / n + yi**2 / (2 * n)) * deff
    elif m == "DAV":
        s_av = (sx + sy) / 2
        if s_av == 0 or np.isnan(r):
            row.update(yi=np.nan, vi=np.nan, reason="an arm has SD 0: d_av and r are undefined")
            return row
        mdf = 2 * (n - 1) / (1 + r**2)
        yi = float(hedges_correction(mdf)) * dbar / s_av
        vi = (2 * (1 - r) / n + yi**2 * (1 + r**2) / (4 * n)) * deff
    else:  # PLOR
        if not binary:
            row.update(
                yi=np.nan, vi=np.nan, reason="PLOR needs binary items (0/1 after averaging repeats)"
            )
            return row
        t, u = float(row["mcnemar_t"]), float(row["mcnemar_u"])
        if t == 0 or u == 0:
            t, u = t + 0.5, u + 0.5
        yi, vi = math.log(t / u), (1 / t + 1 / u) * deff
    if not (np.isfinite(vi) and np.isfinite(yi)):
        row.update(yi=yi, vi=vi, reason="the effect or its variance overflows (scores too large?)")
        return row
    if not vi > 0:
        row.update(
            yi=yi, vi=vi, reason="variance is 0: the arms differ by the same amount on every item"
        )
        return row
    sei = math.sqrt(vi)
    q = float(stats.t.ppf(0.5 + level / 2, df))
    row.update(
        yi=yi, vi=vi, sei=sei, ci_low=yi - q * sei, ci_high=yi + q * sei, ci_method=f"t({df})"
    )
    return row
