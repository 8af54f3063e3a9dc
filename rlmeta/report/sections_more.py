"""Report sections: subgroups, meta-regression, interaction, sensitivity, small-study effects, exploration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._result import fmt_p
from ..errors import ModelError
from .context import Context, Unavailable, effect_phrase, scale_effect
from .document import Section, note, table, text

__all__ = [
    "subgroups_section",
    "metareg_section",
    "interaction_section",
    "sensitivity_section",
    "bias_section",
    "exploration_section",
]


def _scaled(
    ctx: Context, frame: pd.DataFrame, cols=("estimate", "ci_low", "ci_high", "pi_low", "pi_high")
) -> pd.DataFrame:
    """Effect columns on the display scale (percentage points for RD, ratios for log measures)."""
    out = frame.copy()
    for c in cols:
        if c in out.columns:
            out[c] = [scale_effect(ctx.measure, float(v)) for v in out[c]]
    return out


def _unit(ctx: Context) -> str:
    return {"RD": " (percentage points)", "OR": " (odds ratio)", "RR": " (risk ratio)"}.get(
        ctx.measure, ""
    )


def _var_term(ctx: Context, col: str) -> str:
    """A column as a formula term: numeric as is, anything else as a factor."""
    s = ctx.effects[col]
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return f"C({col})"
    return col


def _robust_row(ctx: Context, mods: str, label: str) -> dict | None:
    """Wald test of the moderator terms in the multilevel model with cluster-robust inference."""
    try:
        ml = ctx.fit(random=ctx.random_spec, mods=mods, test="t")
        rob = ml.robust(cluster=ctx.config.robust_cluster, adjust=ctx.config.robust_adjust)
    except Unavailable:
        return None
    except ModelError as exc:
        return {
            "test": label,
            "stat": np.nan,
            "df": np.nan,
            "ddf": np.nan,
            "pval": np.nan,
            "note": str(exc),
        }
    w = rob.wald
    small = (
        " (few clusters: interpret with care)"
        if np.nanmin(np.atleast_1d(w.get("df2", np.nan))) < 4
        else ""
    )
    return {
        "test": label,
        "stat": w.get("stat"),
        "df": w.get("df1"),
        "ddf": w.get("df2"),
        "pval": w.get("pval"),
        "note": f"{rob.adjust} {w.get('test')} test, {rob.n_clusters} clusters{small}",
    }


# ------------------------------------------------------------------------------ subgroups
def subgroups_section(ctx: Context) -> Section:
    s = Section("subgroups", "Subgroups")
    eff = ctx.effects
    cols = [
        c for c in ctx.config.subgroups if c in eff.columns and eff[c].nunique(dropna=True) >= 2
    ]
    if not cols:
        raise Unavailable(
            f"none of the subgroup columns {list(ctx.config.subgroups)} has two or more levels in the data"
        )
    s.add(
        text(
            "Effects pooled within each subgroup (random effects, each subgroup with its own tau²). Differences between "
            "subgroups are tested three ways: the between-subgroup Q of the separate fits, a mixed-effects meta-regression "
            "with a common tau², and — accounting for dependent effects — the multilevel meta-regression with "
            "cluster-robust (HTZ) inference, which is the test to trust here."
        )
    )
    for col in cols:
        sg = ctx.fit(subgroup=col)
        tab = _scaled(ctx, sg.to_frame())[
            ["subgroup", "k", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2"]
        ]
        tab = tab.rename(columns={"estimate": f"estimate{_unit(ctx)}"})
        s.add(text(f"By {col}:"), table(tab, f"Pooled effect per {col}"))
        tests = sg.tests()
        tests["note"] = ""
        rob = _robust_row(
            ctx, f"~ C({col})", f"multilevel + {ctx.config.robust_adjust} robust Wald test"
        )
        if rob:
            tests = pd.concat([tests, pd.DataFrame([rob])], ignore_index=True)
        s.add(table(tests, f"Tests of differences between {col} subgroups"))
        frame = sg.to_frame()
        forest_frame = pd.DataFrame(
            {
                "label": [f"{g} (k = {k})" for g, k in zip(frame["subgroup"], frame["k"])],
                "estimate": frame["estimate"],
                "ci_low": frame["ci_low"],
                "ci_high": frame["ci_high"],
                "k": frame["k"],
            }
        )
        s.add(
            ctx.figure(
                lambda plots, f=forest_frame: plots.forest(
                    f, annotate=("k", "estimate [CI]"), pi=False, **ctx.forest_kwargs()
                ),
                f"Pooled effect per {col} with {ctx.naive.level:.0%} CIs (random effects within each subgroup).",
                f"subgroups-{col}",
            )
        )
        for name, why in sg.skipped.items():
            s.add(note(f"Subgroup {name!r} not pooled: {why}"))
    return s


# ------------------------------------------------------------------------------ meta-regression
def metareg_section(ctx: Context) -> Section:
    s = Section("metareg", "Meta-regression on moderators")
    eff = ctx.effects
    mods = [
        m
        for m in ctx.config.moderators
        if m in eff.columns
        and pd.api.types.is_numeric_dtype(eff[m])
        and eff[m].dropna().nunique() >= 3
    ]
    if not mods:
        raise Unavailable(
            f"none of the moderators {list(ctx.config.moderators)} has three or more distinct numeric values"
        )
    s.add(
        text(
            "One moderator at a time. The naive model treats effects as independent; the multilevel model with "
            "cluster-robust inference accounts for effects sharing comparisons and studies. Moderators vary between "
            "studies, so slopes describe associations across studies, not the effect of changing a hyper-parameter."
        )
    )
    rows = []
    for m in mods:
        res = ctx.fit(mods=f"~ {m}")
        row = res.to_frame().iloc[1]
        r = {
            "moderator": m,
            "k": res.k,
            "slope (naive)": row["estimate"] * (100 if ctx.measure == "RD" else 1),
            "ci_low": row["ci_low"] * (100 if ctx.measure == "RD" else 1),
            "ci_high": row["ci_high"] * (100 if ctx.measure == "RD" else 1),
            "p (naive)": row["pval"],
            "p (permutation)": _perm_p(ctx, res),
            "R2 (%)": res.pseudo_r2,
        }
        try:
            ml = ctx.fit(random=ctx.random_spec, mods=f"~ {m}", test="t")
            rob = (
                ml.robust(cluster=ctx.config.robust_cluster, adjust=ctx.config.robust_adjust)
                .to_frame()
                .iloc[1]
            )
            r.update(
                {
                    "slope (robust)": rob["estimate"] * (100 if ctx.measure == "RD" else 1),
                    "p (robust)": rob["pval"],
                    "df (robust)": rob["df"],
                }
            )
        except (Unavailable, ModelError) as exc:
            r["note"] = str(exc)
        rows.append(r)
        s.add(
            ctx.figure(
                lambda plots, res=res, m=m: plots.bubble(res, moderator=m),
                f"Effects against {m} (bubble area ∝ weight) with the meta-regression line, its {res.level:.0%} CI "
                "(dark band) and prediction interval (light band); naive random-effects model.",
                f"bubble-{m}",
            )
        )
    unit = " per unit, percentage points" if ctx.measure == "RD" else " per unit"
    s.add(table(pd.DataFrame(rows), f"Meta-regression slopes ({unit.strip(', ')})"))
    missing = {m: int(eff[m].isna().sum()) for m in mods if eff[m].isna().any()}
    if missing:
        s.add(
            note(
                "Effects without a moderator value are left out of that model (see k): "
                + ", ".join(f"{m}: {n}" for m, n in missing.items())
                + "."
            )
        )
    try:
        from ..sensitivity import hyperparameter_sweep

        mod = next((m for m in ("log10_learning_rate", "log10_params_B") if m in mods), None)
        if mod is not None:
            hs = hyperparameter_sweep(
                eff, moderator=mod, windows=4, method=ctx.config.method, test=ctx.config.test
            )
            hf = _scaled(ctx, hs.to_frame())
            s.add(table(hf, f"Pooled effect within bins of {mod} (hyper-parameter sensitivity)"))
    except Exception as exc:  # optional table; the reason is shown
        s.add(note(f"Hyper-parameter sweep not shown: {exc}"))
    return s


def _perm_p(ctx: Context, res) -> float:
    """Permutation p-value of the moderator slope (rows of the moderator permuted)."""
    from ..sensitivity import permutation_test

    try:
        pt = permutation_test(res, n=ctx.config.permutations, seed=ctx.config.seed, quiet=True)
    except (ModelError, ValueError):
        return float("nan")
    return float(pt.to_frame()["perm_pval"].iloc[1])


# ------------------------------------------------------------------------------ interaction
def interaction_section(ctx: Context) -> Section:
    a, b = ctx.config.interaction
    eff = ctx.effects
    miss = [c for c in (a, b) if c not in eff.columns]
    if miss:
        raise Unavailable(f"the data have no column(s) {miss} for the interaction model")
    s = Section("interaction", "Interaction model")
    formula = f"~ {_var_term(ctx, a)} * {_var_term(ctx, b)}"
    res = ctx.fit(mods=formula)
    s.add(
        text(
            f"Does the association of {a} with the effect depend on {b}? Model: yi {formula} (random effects, {res.test})."
        )
    )
    s.add(table(res.to_frame(), "Coefficients (naive random-effects meta-regression)"))
    om = res.wald_test(btt=[i for i, t in enumerate(res.terms) if ":" in t])
    s.add(
        text(
            f"Test of the interaction term(s): {om.test} statistic {om.stat:.3f} on {om.df} df, p = {om.pval:.3g}."
        )
    )
    rob = _robust_row(ctx, formula, "interaction, multilevel + robust")
    if rob:
        ml = ctx.fit(random=ctx.random_spec, mods=formula, test="t")
        robres = ml.robust(
            cluster=ctx.config.robust_cluster,
            adjust=ctx.config.robust_adjust,
            btt=[i for i, t in enumerate(ml.terms) if ":" in t],
        )
        s.add(
            table(
                robres.to_frame(),
                f"Coefficients of the multilevel model with {robres.adjust} inference",
            )
        )
        w = robres.wald
        s.add(
            text(
                f"Robust test of the interaction: F({w['df1']}, {w['df2']:.2f}) = {w['stat']:.3f}, p = {w['pval']:.3g} ({w['test']})."
            )
        )
    from ..interaction import interaction

    inter = interaction(res, x=a, moderator=b)
    slopes = inter.slopes.copy()
    s.add(table(slopes, f"Simple slopes of {a} at values of {b}"))
    if inter.jn is not None:
        s.add(text(f"Johnson–Neyman: {inter.jn}"))
    grid = inter.marginal.rename(columns={a: "x"})
    if ctx.measure == "RD":
        grid[["pred", "ci_low", "ci_high"]] = 100 * grid[["pred", "ci_low", "ci_high"]]
    s.add(
        ctx.figure(
            lambda plots: plots.interaction_plot(
                grid, x="x", moderator=b, xlabel=a, ylabel=f"predicted effect{_unit(ctx)}"
            ),
            f"Predicted effect against {a} for each value of {b} with {res.level:.0%} CI bands (naive model).",
            "interaction",
        )
    )
    return s


# ------------------------------------------------------------------------------ sensitivity
def sensitivity_section(ctx: Context) -> Section:
    from .. import sensitivity as sens

    s = Section("sensitivity", "Sensitivity analyses")
    res = ctx.naive
    cfg = ctx.config
    eff = ctx.effects
    # leave one study out
    s.add(text("Leave one study out: how much does any single paper move the pooled estimate?"))
    cluster = "study_id" if "study_id" in eff.columns else None
    loo = sens.leave_one_out(res, cluster=cluster)
    lf = loo.to_frame()
    span = (lf["estimate"].min(), lf["estimate"].max())
    s.add(
        text(
            f"Dropping one {'study' if cluster else 'effect'} at a time, the pooled estimate ranges from "
            f"{scale_effect(ctx.measure, span[0]):.3g} to {scale_effect(ctx.measure, span[1]):.3g}{_unit(ctx)}."
        )
    )
    s.add(
        ctx.figure(
            lambda plots: plots.leave_one_out(lf, full=res, **_transform(ctx)),
            "Pooled estimate with each study left out (naive model).",
            "loo",
        )
    )
    # influence
    inf = sens.influence(res)
    inff = inf.to_frame()
    n_inf = int(inff["influential"].sum())
    s.add(
        text(
            f"Influence diagnostics (Viechtbauer & Cheung 2010): {n_inf} of {len(inff)} effects meet metafor's rule for influential cases."
        )
    )
    if n_inf:
        cols = ["label", "rstudent", "dffits", "cooks_d", "hat", "weight", "tau2_del"]
        s.add(table(inff.loc[inff["influential"], cols], "Influential effects"))
    s.add(
        ctx.figure(
            lambda plots: plots.influence_panel(inff, full_tau2=res.tau2, full_q=res.q),
            "Influence diagnostics per effect; influential cases highlighted.",
            "influence",
        )
    )
    # estimator sweep
    sw = sens.estimator_sweep(eff, level=res.level)
    swf = sw.to_frame()
    cols = [
        c
        for c in ("method", "test", "estimate", "ci_low", "ci_high", "pval", "tau2", "i2")
        if c in swf.columns
    ]
    s.add(table(_scaled(ctx, swf[cols]), f"Every tau² estimator × test{_unit(ctx)}"))
    s.add(
        ctx.figure(
            lambda plots: plots.estimator_sweep(swf, **_transform(ctx)),
            "Pooled estimate and CI for every estimator and test.",
            "estimators",
        )
    )
    # rho sweep
    if ctx.measure == "RD" and "rl_score" in ctx.data.columns:
        rows = []
        for rho in cfg.rho_grid:
            naive = ctx.__class__(config=cfg, data=ctx.data, inputs=ctx.inputs, command=ctx.command)
            naive.__dict__["effects"] = ctx.effects_for("RD", rho)
            r = naive.naive.to_frame().iloc[0]
            rows.append(
                {
                    "rho": rho,
                    "model": "naive",
                    "estimate": r["estimate"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "tau2": naive.naive.tau2,
                }
            )
            try:
                rr = naive.robust.to_frame().iloc[0]
                rows.append(
                    {
                        "rho": rho,
                        "model": "multilevel + robust",
                        "estimate": rr["estimate"],
                        "ci_low": rr["ci_low"],
                        "ci_high": rr["ci_high"],
                        "tau2": np.nan,
                    }
                )
            except (Unavailable, ModelError):
                pass
        rf = _scaled(ctx, pd.DataFrame(rows))
        s.add(
            text(
                "rho sweep: the assumed correlation between the two arms' item-level results changes the sampling variances (not the estimates of each effect)."
            )
        )
        s.add(table(rf, f"Pooled estimate by assumed rho{_unit(ctx)}"))
        s.add(
            ctx.figure(
                lambda plots: plots.sweep_lines(
                    rf,
                    x="rho",
                    y="estimate",
                    hue="model",
                    ci=("ci_low", "ci_high"),
                    logx=False,
                    xlabel="assumed rho",
                    ylabel=f"pooled effect{_unit(ctx)}",
                ),
                "Pooled estimate and CI as the assumed item-level correlation rho varies.",
                "rho-sweep",
            )
        )
    if ctx.measure in ("RD", "OR", "RR", "AS") and "rl_score" in ctx.data.columns:
        s.add(
            text(
                "Effect measure: the same comparisons as risk differences, log odds ratios, log risk ratios and "
                "arcsine differences (each on its own scale; the last column states the multilevel robust "
                "estimate in words)."
            )
        )
        s.add(table(_measure_sweep(ctx), "Pooled estimate by effect measure (model scale)"))
    # GOSH
    g = sens.gosh(res, max_subsets=cfg.gosh_subsets, seed=cfg.seed, cluster=True, quiet=True)
    gf = g.to_frame()
    s.add(
        text(
            f"GOSH (Olkin et al. 2012): {len(gf):,} random subsets of the {res.k} effects, each pooled; clusters in the "
            "cloud point to groups of effects that drive heterogeneity."
        )
    )
    s.add(
        ctx.figure(
            lambda plots: plots.gosh(gf),
            "Pooled estimate against I² for random subsets of the effects, coloured by cluster.",
            "gosh",
        )
    )
    try:
        infl = g.effect_influence()
        if isinstance(infl, pd.DataFrame) and len(infl):
            s.add(table(infl.head(10), "Effects whose inclusion shifts the subsets most (GOSH)"))
    except Exception as exc:  # optional detail
        s.add(note(f"GOSH effect influence not shown: {exc}"))
    # specification curve
    choices = _spec_choices(ctx)
    sc = sens.specification_curve(
        ctx.data,
        choices,
        seed=cfg.seed,
        n_boot=cfg.spec_boot,
        quiet=True,
        random=_spec_random(ctx),
        cluster=cfg.robust_cluster if cfg.robust_cluster in ctx.data.columns else None,
        effect_kwargs={"assumed_sd": cfg.assumed_sd} if cfg.assumed_sd else None,
    )
    scf = sc.to_frame()
    ok = scf[scf["status"].eq("ok")] if "status" in scf.columns else scf
    share_pos = float((ok["estimate"] > 0).mean()) if len(ok) else float("nan")
    share_sig = (
        float(((ok["estimate"] > 0) & ok["significant"]).mean()) if len(ok) else float("nan")
    )
    s.add(
        text(
            f"Specification curve (Simonsohn et al. 2020): {len(ok):,} analyses over the choices "
            f"{', '.join(choices)}; {share_pos:.0%} give a positive estimate and {share_sig:.0%} a significantly positive one."
        )
    )
    nt = sc.null_test
    if nt is not None:
        s.add(
            text(
                f"Test of the whole curve under the null of no effect ({nt.kind}, {nt.n_iter} curves resampled by "
                f"{nt.unit}; Simonsohn et al. 2020): median estimate p = {fmt_p(nt.pval['median'])}, share of "
                f"significant specifications p = {fmt_p(nt.pval['share_significant'])}, Stouffer's Z p = "
                f"{fmt_p(nt.pval['stouffer_z'])}. The 3-level and CR2 specifications are not part of this test."
            )
        )
        s.add(table(nt.to_frame(), "Curve statistics against their null distribution"))
    else:
        s.add(note("The null test of the curve was not run (spec_boot = 0)."))
    if "status" in scf.columns:
        status = scf["status"].astype(str)
        na = status.str.startswith("failed: multilevel models")
        failed = ~status.eq("ok") & ~na
        if na.any():
            s.add(
                note(
                    f"{int(na.sum())} combinations do not apply (multilevel models are fitted by REML or ML and "
                    "tested with z or t) and were not fitted."
                )
            )
        if failed.any():
            s.add(
                note(
                    f"{int(failed.sum())} specification(s) could not be fitted: "
                    + "; ".join(sorted(set(status[failed])))[:400]
                )
            )
    choice_cols = [c for c in choices if c in scf.columns]
    s.add(
        ctx.figure(
            lambda plots: plots.specification_curve(ok, choices=choice_cols),
            "Every specification's estimate and CI (top, sorted; significant ones coloured) and its analytic choices (bottom).",
            "speccurve",
        )
    )
    return s


def _transform(ctx: Context) -> dict:
    """``transform=`` for figures of pooled estimates on the report's display scale."""
    kw = ctx.forest_kwargs()
    return {"transform": kw["transform"]} if "transform" in kw else {}


def _measure_sweep(ctx: Context) -> pd.DataFrame:
    """Pooled estimate under each effect measure (proportion data only)."""
    rows = []
    for m in ("RD", "OR", "RR", "AS"):
        sub = ctx.__class__(
            config=ctx.config, data=ctx.data, inputs=ctx.inputs, command=ctx.command
        )
        sub.__dict__["effects"] = ctx.effects_for(m, ctx.config.rho)
        r = sub.naive.to_frame().iloc[0]
        row = {
            "measure": m,
            "k": sub.naive.k,
            "naive estimate": r["estimate"],
            "naive ci_low": r["ci_low"],
            "naive ci_high": r["ci_high"],
            "naive pval": r["pval"],
        }
        try:
            rr = sub.robust.to_frame().iloc[0]
            row.update(
                {
                    "robust estimate": rr["estimate"],
                    "robust ci_low": rr["ci_low"],
                    "robust ci_high": rr["ci_high"],
                    "robust pval": rr["pval"],
                }
            )
        except (Unavailable, ModelError):
            pass
        row["as stated"] = effect_phrase(
            m,
            row.get("robust estimate", r["estimate"]),
            row.get("robust ci_low", r["ci_low"]),
            row.get("robust ci_high", r["ci_high"]),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _spec_random(ctx: Context) -> str:
    try:
        return ctx.random_spec
    except Unavailable:
        return ctx.config.random


def _spec_choices(ctx: Context) -> dict:
    eff = ctx.effects
    choices: dict = {
        "method": ["REML", "DL", "PM"],
        "test": ["z", "knha"],
        "outliers": ["none", f"rstudent>{ctx.config.outlier_z:g}"],
        "dependence": ["independent", "3-level", "CR2"],
    }
    # Effect measures live on different scales, so they cannot share one curve; the
    # measure is varied in its own table (measure_sweep) instead.
    if ctx.measure == "RD" and "rl_score" in ctx.data.columns:
        choices["rho"] = [0.0, 0.5]
    if "judge_based" in eff.columns:
        choices["judge_based"] = {"all": None, "no judge metrics": False}
    if "peer_reviewed_bool" in eff.columns:
        choices["peer_reviewed_bool"] = {"all": None, "peer reviewed only": True}
    if "baseline_family" in eff.columns:
        choices["baseline_family"] = {"all": None, "SFT baselines": "SFT"}
    # keep the number of specifications within spec_max: drop the least central choices first
    for name in (
        "baseline_family",
        "peer_reviewed_bool",
        "rho",
        "outliers",
        "judge_based",
        "measure",
        "dependence",
        "test",
    ):
        if _n_specs(choices) <= ctx.config.spec_max:
            break
        choices.pop(name, None)
    return choices


def _n_specs(choices: dict) -> int:
    n = 1
    for v in choices.values():
        n *= len(v)
    return n


# ------------------------------------------------------------------------------ small-study effects
def bias_section(ctx: Context) -> Section:
    from .. import bias

    s = Section("bias", "Small-study effects and publication bias")
    res = ctx.naive
    s.add(
        note(
            "Caveats: these methods assume independent effects and are easily confounded by heterogeneity; here effects "
            "are dependent, heterogeneity is large and most precision differences come from benchmark size, not from "
            "study size. Read asymmetry as small-benchmark effects, not proof of publication bias (Sterne et al. 2011)."
        )
    )
    eg = bias.egger_test(res)
    rk = bias.rank_test(res)
    tf = bias.trim_and_fill(res, test=res.test)
    pp = bias.pet_peese(res)
    rows = [
        {
            "analysis": "Egger regression test (sei as moderator)",
            "statistic": eg.stat,
            "pval": eg.pval,
            "estimate": scale_effect(ctx.measure, eg.limit_estimate),
            "detail": "limit estimate as SE → 0",
        },
        {
            "analysis": "Begg–Mazumdar rank correlation",
            "statistic": rk.tau if hasattr(rk, "tau") else np.nan,
            "pval": rk.pval,
            "estimate": np.nan,
            "detail": "Kendall's tau",
        },
    ]
    tff = tf.to_frame()
    n_fill = int(tff["filled"].sum())
    tf_est = tf.model.to_frame().iloc[0] if hasattr(tf, "model") else None
    rows.append(
        {
            "analysis": f"Trim-and-fill ({getattr(tf, 'estimator', 'L0')}, side {getattr(tf, 'side', '')})",
            "statistic": n_fill,
            "pval": tf_est["pval"] if tf_est is not None else np.nan,
            "estimate": scale_effect(ctx.measure, tf_est["estimate"])
            if tf_est is not None
            else np.nan,
            "detail": f"{n_fill} effects imputed; adjusted pooled estimate",
        }
    )
    rows.append(
        {
            "analysis": f"PET-PEESE (conditional: {pp.chosen} chosen)",
            "statistic": np.nan,
            "pval": pp.pval,
            "estimate": scale_effect(ctx.measure, pp.estimate),
            "detail": "95% CI "
            f"{scale_effect(ctx.measure, pp.ci_low):.3g} to {scale_effect(ctx.measure, pp.ci_high):.3g}",
        }
    )
    rob = _robust_row(
        ctx, "~ sei", "Egger-type test in the multilevel model (sei moderator), robust"
    )
    if rob:
        rows.append(
            {
                "analysis": rob["test"],
                "statistic": rob["stat"],
                "pval": rob["pval"],
                "estimate": np.nan,
                "detail": rob["note"],
            }
        )
    s.add(table(pd.DataFrame(rows), f"Small-study effect analyses{_unit(ctx)}"))
    s.add(
        ctx.figure(
            lambda plots: plots.funnel(
                res,
                trimfill=tff,
                trimfill_estimate=tf_est["estimate"] if tf_est is not None else None,
                egger=eg,
            ),
            "Contour-enhanced funnel plot (shaded: 90/95/99% significance regions around 0) with trim-and-fill imputed effects "
            "(open circles) and Egger's regression line.",
            "funnel",
        )
    )
    return s


# ------------------------------------------------------------------------------ exploration
def exploration_section(ctx: Context) -> Section:
    from ..explore import cluster, effect_matrix, pca

    s = Section("exploration", "Exploration: structure in the results")
    eff = ctx.effects
    if not {"comparison_id", "benchmark"} <= set(eff.columns):
        raise Unavailable("exploration needs comparison_id and benchmark columns")
    s.add(
        ctx.figure(
            lambda plots: plots.heatmap(
                eff,
                rows="comparison_id",
                cols="benchmark",
                values="yi",
                cbar_label=f"mean {ctx.measure}",
            ),
            "Effect of every comparison (rows) on every benchmark (columns); grey cells were not evaluated.",
            "heatmap",
        )
    )
    for by in [c for c in ("rl_family", "baseline_family", "benchmark_family") if c in eff.columns]:
        s.add(
            ctx.figure(
                lambda plots, by=by: plots.boxplot(eff, by=by),
                f"Distribution of effects by {by} (every effect shown).",
                f"box-{by}",
            )
        )
    # error bars: the comparison with the most benchmarks
    if {"rl_score", "baseline_score"} <= set(eff.columns):
        top = eff["comparison_id"].value_counts().index[0]
        sub = eff[eff["comparison_id"] == top]
        s.add(
            ctx.figure(
                lambda plots: plots.errorbars(plots.arms_long(sub)),
                f"RL model vs baseline on every benchmark of {top} with binomial {0.95:.0%} CIs.",
                "errorbars",
            )
        )
    mat = effect_matrix(eff, rows="comparison_id", cols="benchmark", value="yi", aggfunc="mean")
    cover = mat.notna().mean()
    keep = cover[cover >= 0.25].index
    sub = mat[keep]
    sub = sub[sub.notna().sum(axis=1) >= 2]
    if sub.shape[0] >= 4 and sub.shape[1] >= 3:
        p = pca(sub, missing="impute_mean")
        s.add(
            text(
                f"PCA of the comparison × benchmark effect matrix ({sub.shape[0]} comparisons × {sub.shape[1]} benchmarks evaluated "
                "by at least a quarter of the comparisons; missing cells imputed with the benchmark mean, an explicit choice "
                f"reported in the PCA's missing-value report). The first two components explain "
                f"{float(p.explained_variance_ratio.iloc[:2].sum()):.0%} of the variance."
            )
        )
        s.add(
            ctx.figure(
                lambda plots: plots.pca_scree(p),
                "Explained variance per principal component.",
                "pca-scree",
            )
        )
        s.add(
            ctx.figure(
                lambda plots: plots.pca_biplot(p),
                "Comparisons in the plane of the first two components with benchmark loadings.",
                "pca-biplot",
            )
        )
        cl = cluster(sub.fillna(sub.mean()), method="ward", seed=ctx.config.seed, n_boot=50)
        stab = cl.stability or {}
        s.add(
            text(
                f"Ward clustering chose k = {cl.k} by silhouette; bootstrap stability (adjusted Rand index, "
                f"{stab.get('n_valid', 0)} resamples): mean {stab.get('mean_ari', float('nan')):.2f} "
                f"(95% range {stab.get('ari_low', float('nan')):.2f} to {stab.get('ari_high', float('nan')):.2f})."
            )
        )
        if getattr(cl, "linkage", None) is not None:
            s.add(
                ctx.figure(
                    lambda plots: plots.dendrogram(cl.linkage, labels=list(sub.index)),
                    "Ward dendrogram of comparisons by their effect profile.",
                    "dendrogram",
                )
            )
    else:
        s.add(note("Too few comparisons share benchmarks for PCA and clustering."))
    return s
