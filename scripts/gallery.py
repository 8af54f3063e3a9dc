"""Regenerate every rlmeta figure from the bundled dataset into ``gallery/``.

Usage::

    python scripts/gallery.py [--out gallery] [--small] [--only forest,funnel]

Pooled results come from the engine (:func:`rlmeta.meta_analysis`).  The
sensitivity / bias / exploration frames are built here with the engine's batched
refits where that is easy; where it is not, the frame is a **synthetic stand-in**
(named ``*_synthetic``) with the documented columns, until the sensitivity, bias
and explore modules land.  ``--small`` also writes each figure re-laid-out at
3.5 inches wide (``*_small.png``) to check that nothing collides when space is short.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats
from scipy.cluster.hierarchy import fcluster, linkage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import rlmeta as rm
import rlmeta.plots as rp

warnings.filterwarnings("ignore", category=RuntimeWarning)


# ---------------------------------------------------------------------- data
def effects(measure: str = "RD") -> pd.DataFrame:
    return rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure=measure)


def loo_frame(res) -> pd.DataFrame:
    """Leave-one-out refits with the engine's batched fitter."""
    fit = res.refit(mask=~np.eye(res.k, dtype=bool))
    crit = fit.crit()
    est, se = fit.beta[:, 0], fit.se[:, 0]
    return pd.DataFrame(
        {
            "left_out": res.labels,
            "k": fit.k,
            "estimate": est,
            "se": se,
            "ci_low": est - crit * se,
            "ci_high": est + crit * se,
            "tau2": fit.tau2,
            "i2": fit.i2,
        }
    )


def cumulative_frame(res, order: str = "year") -> pd.DataFrame:
    d = res.data.reset_index(drop=True)
    idx = np.argsort(d[order].to_numpy(), kind="stable")
    k = res.k
    mask = np.zeros((k, k), bool)
    for i in range(k):
        mask[i, idx[: i + 1]] = True
    fit = res.refit(mask=mask)
    crit = fit.crit()
    est, se = fit.beta[:, 0], fit.se[:, 0]
    return pd.DataFrame(
        {
            "label": [res.labels[j] for j in idx],
            "order_value": d[order].to_numpy()[idx],
            "k": fit.k,
            "estimate": est,
            "se": se,
            "ci_low": est - crit * se,
            "ci_high": est + crit * se,
            "tau2": fit.tau2,
            "i2": fit.i2,
        }
    )


def influence_frame(res) -> pd.DataFrame:
    """metafor-style influence statistics from leave-one-out refits."""
    k = res.k
    fit = res.refit(mask=~np.eye(k, dtype=bool))
    b, vb = res.fit.beta[0], res.fit.vb[0]
    X = res.X
    h = res.hat()
    rst = res.residuals("studentized")["z"].to_numpy()
    pred_loo = np.einsum("ij,ij->i", X, fit.beta)
    dffits = (X @ b - pred_loo) / np.sqrt(h * (fit.tau2 + res.vi))
    diff = b[None, :] - fit.beta
    vinv = np.linalg.inv(vb)
    cooks = np.einsum("ij,jk,ik->i", diff, vinv, diff)
    cov_r = np.linalg.det(fit.vb) / np.linalg.det(vb)
    w = res.weights_percent()
    p = res.p
    infl = (
        (np.abs(dffits) > 3 * np.sqrt(p / (k - p)))
        | (cooks > stats.chi2.ppf(0.5, p))
        | (h > 3 * p / k)
        | (np.abs(rst) > 3)
    )
    return pd.DataFrame(
        {
            "label": res.labels,
            "rstudent": rst,
            "dffits": dffits,
            "cooks_d": cooks,
            "cov_r": cov_r,
            "tau2_del": fit.tau2,
            "qe_del": fit.qe,
            "hat": h,
            "weight": w,
            "influential": infl,
            "dfbetas_intercept": diff[:, 0] / np.sqrt(fit.vb[:, 0, 0]),
        }
    )


def baujat_frame(res) -> pd.DataFrame:
    fe = rm.meta_analysis(pd.DataFrame({"yi": res.yi, "vi": res.vi}), method="EE")
    b = fe.to_frame()["estimate"].iloc[0]
    fit = fe.refit(mask=~np.eye(fe.k, dtype=bool))
    x = (res.yi - b) ** 2 / res.vi
    y = (b - fit.beta[:, 0]) ** 2 / fit.vb[:, 0, 0]
    return pd.DataFrame({"label": res.labels, "x": x, "y": y})


def gosh_frame(res, n_effects: int = 20, seed: int = 0) -> pd.DataFrame:
    """Every subset (>= 2 effects) of ``n_effects`` effects: 2^20 - 21 = 1,048,555 DL fits."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(res.k, n_effects, replace=False))
    sub = rm.meta_analysis(pd.DataFrame({"yi": res.yi[pick], "vi": res.vi[pick]}), method="DL")
    codes = np.arange(1, 2**n_effects, dtype=np.int64)
    masks = ((codes[:, None] >> np.arange(n_effects)) & 1).astype(bool)
    masks = masks[masks.sum(1) >= 2]
    out = []
    for chunk in np.array_split(np.arange(len(masks)), 16):
        fit = sub.refit(mask=masks[chunk])
        out.append(
            pd.DataFrame(
                {
                    "estimate": fit.beta[:, 0],
                    "i2": fit.i2,
                    "tau2": fit.tau2,
                    "q": fit.qe,
                    "k": fit.k,
                }
            )
        )
    g = pd.concat(out, ignore_index=True)
    # clusters: which subsets contain the most outlying effect (as metafor's gosh examples)
    outl = int(np.argmax(np.abs(sub.yi - sub.to_frame()["estimate"].iloc[0]) / np.sqrt(sub.vi)))
    g["cluster"] = np.where(masks[:, outl], "with most outlying effect", "without it")
    return g


def spec_frame(eff: pd.DataFrame) -> pd.DataFrame:
    subsets = {
        "all effects": lambda d: d,
        "no LLM-judge metrics": lambda d: d[~d["judge_based"].astype(bool)],
        "peer-reviewed only": lambda d: d[d["peer_reviewed_bool"].astype(bool)],
        "same decoding": lambda d: d[~d["decoding_differs"].astype(bool)],
    }
    rows = []
    for (sname, sub), method, test in itertools.product(
        subsets.items(), ["REML", "DL", "PM", "EE"], ["z", "knha"]
    ):
        if method == "EE" and test == "knha":
            continue
        d = sub(eff)
        r = rm.meta_analysis(d, method=method, test=test)
        t = r.to_frame().iloc[0]
        rows.append(
            {
                "subset": sname,
                "tau2 estimator": method,
                "inference": test,
                "estimate": t["estimate"],
                "ci_low": t["ci_low"],
                "ci_high": t["ci_high"],
                "pval": t["pval"],
                "k": r.k,
                "significant": t["pval"] < 0.05,
            }
        )
    out = pd.DataFrame(rows)
    out.insert(0, "spec_id", range(len(out)))
    return out


def sweep_frame(eff: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for method in ("REML", "DL", "PM", "HE", "SJ", "ML", "EB"):
        for test in ("z", "knha"):
            r = rm.meta_analysis(eff, method=method, test=test)
            t = r.to_frame().iloc[0]
            rows.append(
                {
                    "method": method,
                    "test": {"z": "z (normal)", "knha": "Knapp-Hartung"}[test],
                    "estimate": t["estimate"],
                    "se": t["se"],
                    "ci_low": t["ci_low"],
                    "ci_high": t["ci_high"],
                    "tau2": r.tau2,
                    "i2": r.i2,
                }
            )
    return pd.DataFrame(rows)


def trimfill_synthetic(res, k0: int = 6) -> tuple[pd.DataFrame, float]:
    """SYNTHETIC stand-in for trim-and-fill: mirror the k0 largest effects around the estimate."""
    b = res.to_frame()["estimate"].iloc[0]
    order = np.argsort(res.yi - b)[::-1][:k0]
    fill = pd.DataFrame({"yi": 2 * b - res.yi[order], "vi": res.vi[order], "filled": True})
    frame = pd.concat(
        [pd.DataFrame({"yi": res.yi, "vi": res.vi, "filled": False}), fill], ignore_index=True
    )
    w = 1 / (frame["vi"] + res.tau2)
    return frame, float(np.sum(w * frame["yi"]) / np.sum(w))


def sweep_runs_synthetic(seed: int = 0) -> pd.DataFrame:
    """SYNTHETIC stand-in for a hyper-parameter sweep export (3 seeds per setting)."""
    rng = np.random.default_rng(seed)
    rows = []
    for method, peak, height in (("DPO", -6.3, 62), ("GRPO", -5.7, 66), ("PPO", -5.9, 60)):
        for lr in 10.0 ** np.arange(-7, -3.9, 0.5):
            for s in range(3):
                acc = height - 3.0 * (np.log10(lr) - peak) ** 2 + rng.normal(0, 1.2)
                rows.append({"method": method, "learning_rate": lr, "seed": s, "accuracy": acc})
    return pd.DataFrame(rows)


def pca_parts(eff: pd.DataFrame):
    cols = [
        "yi",
        "log10_params_B",
        "log10_learning_rate",
        "kl_coef_num",
        "year",
        "rl_score",
        "baseline_score",
        "judge_based",
        "peer_reviewed_bool",
    ]
    d = eff.assign(
        judge_based=eff["judge_based"].astype(float),
        peer_reviewed_bool=eff["peer_reviewed_bool"].astype(float),
    )
    d = d.groupby("comparison_id")[cols].mean()
    d = d.fillna(d.mean())
    z = (d - d.mean()) / d.std(ddof=1).replace(0, 1)
    u, s, vt = np.linalg.svd(z.to_numpy(float), full_matrices=False)
    names = [f"PC{i + 1}" for i in range(len(s))]
    scores = pd.DataFrame(u * s, index=d.index, columns=names)
    loadings = pd.DataFrame(vt.T, index=cols, columns=names)
    evr = s**2 / np.sum(s**2)
    return {"explained_variance_ratio": evr, "loadings": loadings, "scores": scores}


# ---------------------------------------------------------------------- figures
def figures(include_big: bool = True):
    eff = effects("RD")
    res = rm.meta_analysis(eff)
    yield (
        "forest_5",
        lambda: rp.forest(rm.meta_analysis(eff.head(5), slab="benchmark"), title="5 effects"),
    )
    sub40 = eff[eff["study_id"].isin(eff["study_id"].unique()[:4])].head(40)
    yield (
        "forest_40",
        lambda: rp.forest(
            rm.meta_analysis(sub40),
            sort_by="estimate",
            annotate=["benchmark", "n", "weight", "estimate [CI]"],
            label="comparison_id",
            title="40 effects, sorted",
        ),
    )
    yield (
        "forest_all_subgroups",
        lambda: rp.forest(res, subgroup="rl_family", title="All effects by RL family"),
    )
    yield (
        "forest_subgroup_result",
        lambda: rp.forest(
            rm.meta_analysis(eff, subgroup="benchmark_family"), annotate=["n", "estimate [CI]"]
        ),
    )
    eff_or = effects("OR")
    or_res = rm.meta_analysis(eff_or[eff_or["study_id"] == eff_or["study_id"].iloc[0]])
    yield (
        "forest_or_exp",
        lambda: rp.forest(or_res, transform=np.exp, title="Odds ratios (back-transformed)"),
    )
    yield (
        "forest_no_pi",
        lambda: rp.forest(rm.meta_analysis(eff.head(12), slab="benchmark"), pi=False),
    )
    yield "cumulative", lambda: rp.cumulative(cumulative_frame(rm.meta_analysis(eff.head(30))))
    yield (
        "funnel",
        lambda: rp.funnel(
            res, egger=tuple(rm.meta_analysis(eff.assign(sei_=np.sqrt(eff.vi)), mods="~ sei_").beta)
        ),
    )
    tf, tf_est = trimfill_synthetic(res)
    yield (
        "funnel_trimfill_synthetic",
        lambda: rp.funnel(res, trimfill=tf, trimfill_estimate=tf_est, hue="rl_family"),
    )
    yield "radial", lambda: rp.radial(res, labels=True)
    yield "labbe", lambda: rp.labbe(res, hue="rl_family")
    yield "boxplot", lambda: rp.boxplot(eff, by="rl_family")
    yield "boxplot_benchmark", lambda: rp.boxplot(eff, by="benchmark", hue="rl_family")
    yield "heatmap", lambda: rp.heatmap(eff, rows="benchmark", cols="rl_family")
    yield "heatmap_study", lambda: rp.heatmap(eff, rows="benchmark_family", cols="study_id")
    yield (
        "corr_heatmap",
        lambda: rp.corr_heatmap(
            eff,
            columns=[
                "yi",
                "vi",
                "log10_params_B",
                "log10_learning_rate",
                "kl_coef_num",
                "year",
                "rl_score",
                "baseline_score",
                "n_items",
            ],
        ),
    )
    raw = rm.datasets.load_rl_llm_studies()
    yield (
        "errorbars",
        lambda: rp.errorbars(
            raw[raw["comparison_id"] == "tulu3_8b_dpo_vs_sft"],
            ylabel="Score (%)",
            title="Tülu 3 8B: DPO vs SFT",
        ),
    )
    yield (
        "errorbars_few",
        lambda: rp.errorbars(
            raw[raw["comparison_id"] == "dsm_rl_vs_instruct_cot"], ylabel="Accuracy (%)"
        ),
    )
    yield (
        "sweep_lines_synthetic",
        lambda: rp.sweep_lines(
            sweep_runs_synthetic(),
            x="learning_rate",
            y="accuracy",
            hue="method",
            title="Synthetic sweep (3 seeds)",
        ),
    )
    mr = rm.meta_analysis(eff, mods="~ log10_params_B + C(rl_family)")
    yield "bubble", lambda: rp.bubble(mr, moderator="log10_params_B", hue="rl_family")
    mr2 = rm.meta_analysis(eff, mods="~ log10_params_B * C(judge_based)")
    yield (
        "interaction",
        lambda: rp.interaction_plot(mr2, x="log10_params_B", moderator="judge_based"),
    )
    yield (
        "leave_one_out",
        lambda: rp.leave_one_out(
            loo_frame(rm.meta_analysis(eff.head(25))), full=rm.meta_analysis(eff.head(25))
        ),
    )
    yield (
        "influence",
        lambda: rp.influence_panel(influence_frame(res), full_tau2=res.tau2, full_q=res.q),
    )
    yield "baujat", lambda: rp.baujat(baujat_frame(res))
    if include_big:
        yield (
            "gosh_1M",
            lambda: rp.gosh(gosh_frame(res), refline=res.to_frame()["estimate"].iloc[0]),
        )
    g_small = gosh_frame(rm.meta_analysis(eff.head(40)), n_effects=12)
    yield "gosh_small", lambda: rp.gosh(g_small)
    yield "specification_curve", lambda: rp.specification_curve(spec_frame(eff))
    yield (
        "estimator_sweep",
        lambda: rp.estimator_sweep(sweep_frame(eff), reference=("REML", "z (normal)")),
    )
    pca = pca_parts(eff)
    Z = linkage(pca["scores"].iloc[:, :4].to_numpy(), "ward")
    cl = fcluster(Z, 4, "maxclust")
    yield "pca_scree", lambda: rp.pca_scree(pca)
    yield (
        "pca_biplot",
        lambda: rp.pca_biplot(pca, hue=pd.Series(cl, name="cluster"), labels=pca["scores"].index),
    )
    yield "dendrogram", lambda: rp.dendrogram(Z, list(pca["scores"].index))
    yield "cluster_scatter", lambda: rp.cluster_scatter(pca["scores"], cl)
    yield "panels_with_ax", lambda: _panels(res, eff)


def _panels(res, eff):
    """Several functions drawing into Axes of one figure (the ``ax=`` path)."""
    with rp.theme():
        fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    rp.forest(rm.meta_analysis(eff.head(10), slab="benchmark"), ax=axes[0, 0])
    rp.funnel(res, ax=axes[0, 1], legend=False)
    rp.boxplot(eff, by="rl_family", ax=axes[1, 0])
    rp.specification_curve(spec_frame(eff), ax=axes[1, 1])
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "gallery"))
    ap.add_argument("--small", action="store_true", help="also write 3.5-inch-wide versions")
    ap.add_argument("--only", default=None, help="comma-separated figure names")
    ap.add_argument("--no-big", action="store_true", help="skip the 10^6-subset GOSH")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    for name, make in figures(include_big=not args.no_big):
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        fig = make()
        rp.save(fig, out / f"{name}.png", dpi=110)
        if args.small:
            rp.save(fig, out / f"{name}_small.png", width=3.5, dpi=110)
        w, h = fig.get_size_inches()
        print(f"{name:28s} {w:5.1f} x {h:5.1f} in  {time.perf_counter() - t0:6.2f} s")
        plt.close(fig)


if __name__ == "__main__":
    main()
