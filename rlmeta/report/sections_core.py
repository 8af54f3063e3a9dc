"""Report sections: provenance, data, effect sizes, headline result, forest plot, methods, limitations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._result import fmt_p
from .context import Context, Unavailable, effect_phrase, measure_label, scale_effect
from .document import Section, items, note, table, text

__all__ = [
    "provenance_section",
    "appendix_section",
    "data_section",
    "effects_section",
    "headline_section",
    "forest_section",
    "methods_section",
    "limitations_section",
]


def provenance_section(ctx: Context, prov: dict) -> Section:
    s = Section("provenance", "Provenance")
    inputs = (
        pd.DataFrame(ctx.inputs) if ctx.inputs else pd.DataFrame(columns=["path", "sha256", "rows"])
    )
    s.add(table(inputs, "Inputs (SHA-256 of each file)"))
    versions = ", ".join(f"{k} {v}" for k, v in sorted(prov["versions"].items()))
    s.add(
        items(
            [
                f"Command: {prov['command']}",
                f"Date: {prov['date']}; seed: {prov['seed']}",
                f"Software: Python {prov['python']}; {versions}",
                f"Platform: {prov['platform']}",
                "Every option used is listed in the appendix.",
            ]
        )
    )
    return s


def appendix_section(ctx: Context, prov: dict) -> Section:
    s = Section("appendix", "Appendix: all effect sizes and options")
    eff = ctx.effects
    cols = [
        c
        for c in (
            "comparison_id",
            "benchmark",
            "metric",
            "rl_score",
            "baseline_score",
            "n_items",
            "yi",
            "vi",
            "ci_low",
            "ci_high",
        )
        if c in eff.columns
    ]
    s.add(
        table(
            eff[cols],
            f"All {len(eff)} effect sizes ({ctx.measure}; yi and its CI on the model scale)",
        )
    )
    cfg = pd.DataFrame(
        [
            (k, ", ".join(map(str, v)) if isinstance(v, tuple | list) else str(v))
            for k, v in prov["config"].items()
        ],
        columns=["option", "value"],
    )
    s.add(table(cfg, "Options (defaults, the configuration file and command-line flags combined)"))
    return s


def data_section(ctx: Context) -> Section:
    s = Section("data", "Data summary and drop log")
    eff = ctx.effects
    log = ctx.drops
    # every row that came in was either used or excluded with a logged reason (reading, filters,
    # effect sizes), so the input count is used + excluded; tests check it against the files
    n_in = len(eff) + len(log)
    parts = [f"{n_in} input rows", f"{len(eff)} effect sizes used", f"{len(log)} excluded"]
    for col, name in (
        ("study_id", "studies"),
        ("comparison_id", "comparisons"),
        ("benchmark", "benchmarks"),
        ("metric", "metrics"),
    ):
        if col in eff.columns:
            parts.append(f"{eff[col].nunique()} {name}")
    s.add(text("The analysis uses " + ", ".join(parts) + "."))
    if "study_id" in eff.columns:
        agg = {"effects": ("yi", "size")}
        if "comparison_id" in eff.columns:
            agg["comparisons"] = ("comparison_id", "nunique")
        if "benchmark" in eff.columns:
            agg["benchmarks"] = ("benchmark", "nunique")
        if "year" in eff.columns:
            agg["year"] = ("year", "first")
        per = eff.groupby("study_id", sort=True).agg(**agg).reset_index()
        s.add(table(per, "Effects per study"))
    if len(log):
        s.add(
            text(
                f"{len(log)} input row(s) were excluded; each is listed with its reason. No row is dropped silently."
            )
        )
        show = log[
            [
                c
                for c in ("step", "source_row", "study_id", "benchmark", "metric", "reason")
                if c in log.columns
            ]
        ]
        s.add(table(show, "Drop log"))
        reasons = log["reason"].value_counts().rename_axis("reason").reset_index(name="rows")
        s.add(table(reasons, "Exclusions by reason"))
    else:
        s.add(text("No input row was excluded."))
    return s


def effects_section(ctx: Context) -> Section:
    s = Section("effects", "Effect-size choices")
    eff = ctx.effects
    m = ctx.measure
    lines = [
        f"Measure: {m}, {measure_label(m)}; positive values mean the RL-trained model is better."
    ]
    if m == "RD":
        lines.append(
            "Accuracy-type scores are converted to proportions and their binomial sampling variance uses the number of "
            "evaluated items (n_items). Both arms answered the same items, so the variance of the difference is "
            f"p1q1/n + p2q2/n − 2·rho·√(p1q1·p2q2)/n with an assumed item-level correlation rho = {ctx.config.rho:g} "
            "(rho = 0 is conservative; see the rho sweep in the sensitivity section)."
        )
    if "direction_flipped" in eff.columns:
        flipped = eff.loc[eff["direction_flipped"].astype(bool)]
        if len(flipped):
            who = ", ".join(sorted(set(flipped.get("benchmark", pd.Series(dtype=str)).astype(str))))
            lines.append(
                f"{len(flipped)} effect(s) on lower-is-better metrics ({who}) were sign-flipped so that positive still means RL better."
            )
    if "var_source" in eff.columns:
        src = eff["var_source"].value_counts()
        lines.append(
            "Sources of the sampling variances: "
            + "; ".join(f"{k}: {v}" for k, v in src.items())
            + "."
        )
    lines.append("Every effect size is listed in the appendix.")
    s.add(items(lines))
    return s


def _heterogeneity_words(ctx: Context, res, tau_label: str = "tau") -> str:
    m = ctx.measure
    pi = res.pi if hasattr(res, "pi") else None
    tau = getattr(res, "tau", None)
    if tau is None and getattr(res, "sigma2", None) is not None:
        tau = float(np.sqrt(np.sum(res.sigma2)))
        tau_label = "square root of the summed variance components"
    parts = []
    if tau is not None:
        shown, unit = (
            (100 * tau, " percentage points")
            if m == "RD"
            else (tau, f" on the {measure_label(m)} scale")
        )
        parts.append(
            f"The true effects vary between comparisons with a standard deviation of about {shown:.2f}{unit} ({tau_label})"
        )
    i2 = getattr(res, "i2", None)
    if i2 is not None and np.isfinite(i2):
        parts.append(
            f"I² = {i2:.0f}%: that share of the variability in the observed effects reflects real differences rather than sampling error"
        )
    if pi is not None:
        lo, hi = pi
        if m == "RD":
            parts.append(
                f"for a new comparison like these, the true effect is expected between {100 * lo:+.1f} and {100 * hi:+.1f} percentage points (95% prediction interval)"
            )
        else:
            parts.append(
                f"the 95% prediction interval for a new comparison is {scale_effect(m, lo):.3g} to {scale_effect(m, hi):.3g}"
            )
    return "; ".join(parts) + "."


def headline_section(ctx: Context) -> Section:
    s = Section("headline", "Headline result")
    naive = ctx.naive
    row = naive.to_frame().iloc[0]
    m = ctx.measure
    rows = [
        {
            "model": f"Naive random effects ({naive.method}, {naive.test}), effects independent",
            "k": naive.k,
            "estimate": scale_effect(m, row["estimate"]),
            "ci_low": scale_effect(m, row["ci_low"]),
            "ci_high": scale_effect(m, row["ci_high"]),
            "pval": row["pval"],
            "heterogeneity": f"tau2 = {naive.tau2:.4g}, I2 = {naive.i2:.1f}%",
        }
    ]
    headline_text = None
    try:
        ml = ctx.multilevel
        rob = ctx.robust
        rrow = rob.to_frame().iloc[0]
        sig = getattr(ml, "sigma2", None)
        rows.append(
            {
                "model": f"multilevel ({ctx.random_spec}), {ctx.config.robust_adjust} robust by {ctx.config.robust_cluster}",
                "k": ml.k,
                "estimate": scale_effect(m, rrow["estimate"]),
                "ci_low": scale_effect(m, rrow["ci_low"]),
                "ci_high": scale_effect(m, rrow["ci_high"]),
                "pval": rrow["pval"],
                "heterogeneity": "sigma2 = " + ", ".join(f"{v:.4g}" for v in np.atleast_1d(sig))
                if sig is not None
                else "",
            }
        )
        headline_text = (
            f"Accounting for effects nested in comparisons and studies (3-level model with {ctx.config.robust_adjust} "
            f"cluster-robust inference, {rob.to_frame()['df'].iloc[0]:.1f} degrees of freedom), the RL-trained models "
            f"differ from their baselines by {effect_phrase(m, rrow['estimate'], rrow['ci_low'], rrow['ci_high'])}."
        )
        s.add(text(headline_text))
        s.add(
            text(
                "The naive model below treats every benchmark result as an independent study; because several effects "
                "share a paper, a comparison and often a baseline, it overstates the information in the data and its "
                "interval is too narrow. The 3-level model with robust variance is the headline."
            )
        )
    except Unavailable as exc:
        s.add(
            note(
                f"The 3-level model with cluster-robust inference is not available ({exc}); the headline below is the naive random-effects model, which treats dependent effects as independent and is therefore too confident."
            )
        )
    if headline_text is None:
        s.add(
            text(
                f"Pooled over {naive.k} effects, the RL-trained models differ from their baselines by {effect_phrase(m, row['estimate'], row['ci_low'], row['ci_high'])}."
            )
        )
    try:
        het_model = ctx.multilevel
    except Unavailable:
        het_model = naive
    s.add(text("Heterogeneity: " + _heterogeneity_words(ctx, het_model)))
    unit = " (percentage points)" if m == "RD" else (" (ratio)" if m in ("OR", "RR", "ROM") else "")
    tab = pd.DataFrame(rows).rename(columns={"estimate": f"estimate{unit}"})
    s.add(table(tab, "Pooled estimates"))
    het = naive.confint()
    het = het.reset_index(names="quantity")[["quantity", "estimate", "ci_low", "ci_high"]]
    s.add(
        table(
            het,
            f"Heterogeneity of the naive model with Q-profile {naive.level:.0%} CIs (Q = {naive.q:.2f} on {naive.q_df} df, p {fmt_p(naive.q_pval) if naive.q_pval >= 1e-4 else '< .0001'})",
        )
    )
    for w in naive.warnings:
        s.add(note(f"Model note: {w}"))
    return s


def forest_section(ctx: Context) -> Section:
    s = Section("forest", "Forest plot")
    res = ctx.naive
    try:
        model = ctx.multilevel
        which = "3-level model (weights from the model's marginal covariance)"
    except Unavailable:
        model = res
        which = "naive random-effects model"
    sort_by = "benchmark_family" if "benchmark_family" in ctx.effects.columns else None
    s.add(
        ctx.figure(
            lambda plots, **kw: plots.forest(model, **ctx.forest_kwargs(), **kw),
            f"Every effect with its {res.level:.0%} CI; marker area is proportional to the weight in the {which}; the "
            "diamond is the pooled estimate and the bar beneath it the prediction interval.",
            "forest",
            **({"sort_by": sort_by} if sort_by else {}),
        )
    )
    return s


def methods_section(ctx: Context) -> Section:
    s = Section("methods", "Methods")
    cfg = ctx.config
    m = ctx.measure
    para = (
        f"Effect sizes were computed as {measure_label(m)} with rlmeta (formulas of metafor's escalc"
        f"{'; paired-item variance with assumed correlation rho = ' + format(cfg.rho, 'g') if m == 'RD' else ''}). "
        f"Effects were pooled with a random-effects model estimated by {cfg.method} (Viechtbauer 2005) with "
        f"{'Knapp–Hartung' if cfg.test == 'knha' else cfg.test} inference (Knapp & Hartung 2003); heterogeneity is "
        "reported as tau², I² and H² with Q-profile confidence intervals (Viechtbauer 2007) and a prediction interval "
        "(Riley et al. 2011). Because several effects come from the same comparison and study, the headline estimate "
        f"comes from a three-level model ({cfg.random}; Konstantopoulos 2011; Cheung 2014) with {cfg.robust_adjust} "
        "cluster-robust standard errors and Satterthwaite degrees of freedom (Pustejovsky & Tipton 2018). Subgroup "
        "differences were tested with mixed-effects meta-regression; moderators were examined by meta-regression. "
        "Sensitivity analyses comprise leave-one-out and influence diagnostics (Viechtbauer & Cheung 2010), an "
        "estimator sweep, GOSH plots (Olkin et al. 2012), a specification curve (Simonsohn et al. 2020) and a sweep "
        "over rho; small-study effects were examined with funnel plots, Egger's regression test (Egger et al. 1997), "
        "trim-and-fill (Duval & Tweedie 2000) and PET-PEESE (Stanley & Doucouliagos 2014). All numbers were computed "
        "with rlmeta, whose estimators are checked against metafor (Viechtbauer 2010)."
    )
    s.add(text(para))
    refs = [
        "Cheung MWL (2014). Modeling dependent effect sizes with three-level meta-analyses. Psychological Methods 19:211–229.",
        "Duval S, Tweedie R (2000). Trim and fill. Biometrics 56:455–463.",
        "Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected by a simple, graphical test. BMJ 315:629–634.",
        "Knapp G, Hartung J (2003). Improved tests for a random effects meta-regression with a single covariate. Statistics in Medicine 22:2693–2710.",
        "Konstantopoulos S (2011). Fixed effects and variance components estimation in three-level meta-analysis. Research Synthesis Methods 2:61–76.",
        "Miller E (2024). Adding error bars to evals: a statistical approach to language model evaluations. arXiv:2411.00640.",
        "Olkin I, Dahabreh IJ, Trikalinos TA (2012). GOSH – a graphical display of study heterogeneity. Research Synthesis Methods 3:214–223.",
        "Pustejovsky JE, Tipton E (2018). Small-sample methods for cluster-robust variance estimation and hypothesis testing in fixed effects models. JBES 36:672–683.",
        "Riley RD, Higgins JPT, Deeks JJ (2011). Interpretation of random effects meta-analyses. BMJ 342:d549.",
        "Simonsohn U, Simmons JP, Nelson LD (2020). Specification curve analysis. Nature Human Behaviour 4:1208–1214.",
        "Stanley TD, Doucouliagos H (2014). Meta-regression approximations to reduce publication selection bias. Research Synthesis Methods 5:60–78.",
        "Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the random-effects model. JEBS 30:261–293.",
        "Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in meta-analysis. Statistics in Medicine 26:37–52.",
        "Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. Journal of Statistical Software 36(3):1–48.",
        "Viechtbauer W, Cheung MWL (2010). Outlier and influence diagnostics for meta-analysis. Research Synthesis Methods 1:112–125.",
    ]
    s.add(text("References"), items(refs))
    return s


def limitations_section(ctx: Context) -> Section:
    s = Section("limitations", "Limitations")
    eff = ctx.effects
    lines = []
    if ctx.measure == "RD":
        lines.append(
            "Item-level results are not available for most published comparisons, so the correlation between the two "
            "arms' answers is assumed (rho); larger rho narrows every interval (see the rho sweep)."
        )
    if "n_seeds" in eff.columns and eff["n_seeds"].astype(str).str.contains("not reported").all():
        lines.append(
            "No study reports results over several training seeds, so seed-to-seed variance is not part of the sampling variance; true uncertainty is larger."
        )
    if "judge_based" in eff.columns and eff["judge_based"].any():
        lines.append(
            "LLM-judge metrics (AlpacaEval, Arena-Hard, MT-Bench) favour longer outputs and may overstate gains of preference-tuned models."
        )
    if "decoding_differs" in eff.columns and eff["decoding_differs"].any():
        lines.append(
            "In some comparisons decoding differs between arms (greedy baseline vs sampled RL model)."
        )
    lines.append(
        "Published comparisons are selected by their authors; small-study and publication-bias checks have low power with few studies and dependent effects."
    )
    lines.append(
        "Moderators (model size, learning rate, KL coefficient, year) vary between studies, not within them: meta-regression slopes are observational associations, not effects of changing the hyper-parameter."
    )
    drops = ctx.drops
    if len(drops):
        lines.append(
            f"{len(drops)} input rows could not be used (see the drop log); conclusions apply to the remaining effects only."
        )
    for w in ctx.warnings:
        lines.append(f"Warning raised during the analysis: {w}")
    s.add(items(lines))
    return s
