"""pair(): joining two runs on item identity and paired effect sizes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import rlmeta as rm
from rlmeta.effects import hedges_correction
from rlmeta.errors import DataError, EffectError
from rlmeta.evalstats import clustered_se

DATA = Path(__file__).parent / "data" / "evals"


def _items(rl_scores, base_scores, *, bench="b", clusters=None, repeats=None) -> pd.DataFrame:
    n = len(rl_scores)
    rows = []
    for model, sc in (("rl", rl_scores), ("base", base_scores)):
        df = pd.DataFrame(
            {
                "model": model,
                "benchmark": bench,
                "metric": "acc",
                "item_id": [f"q{i}" for i in range(n)],
                "score": np.asarray(sc, dtype=float),
            }
        )
        if clusters is not None:
            df["cluster"] = clusters
        rows.append(df)
    return pd.concat(rows, ignore_index=True)


def _correlated_binary(rng, n, p_rl, p_base, rho_latent=0.6, cluster_sd=0.0, n_clusters=None):
    z = rng.normal(size=n)
    if n_clusters:
        cl = rng.integers(0, n_clusters, n)
        z = z + rng.normal(0, cluster_sd, n_clusters)[cl]
    else:
        cl = None
    e1 = rho_latent * z + math.sqrt(1 - rho_latent**2) * rng.normal(size=n)
    e2 = rho_latent * z + math.sqrt(1 - rho_latent**2) * rng.normal(size=n)
    sd = math.sqrt(1 + (cluster_sd**2 if n_clusters else 0) * rho_latent**2)
    a = (e1 / sd < stats.norm.ppf(p_rl)).astype(float)
    b = (e2 / sd < stats.norm.ppf(p_base)).astype(float)
    return a, b, cl


def test_md_exact_formula_and_mcnemar():
    rng = np.random.default_rng(0)
    a, b, _ = _correlated_binary(rng, 300, 0.6, 0.5)
    eff = rm.pair(_items(a, b), rl="rl", baseline="base")
    r = eff.iloc[0]
    d = a - b
    assert r["yi"] == pytest.approx(d.mean())
    assert r["sei"] == pytest.approx(d.std(ddof=1) / math.sqrt(300))
    t = stats.t.ppf(0.975, 299)
    assert r["ci_high"] - r["yi"] == pytest.approx(t * r["sei"])
    T, U = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    assert (r["mcnemar_t"], r["mcnemar_u"]) == (T, U)
    assert r["mcnemar_p"] == pytest.approx(stats.binomtest(T, T + U).pvalue)
    # Bowyer et al.'s closed form for the paired variance of the difference of proportions
    var = ((T + U) - (T - U) ** 2 / 300) / (300 * 299)
    assert r["vi"] == pytest.approx(var)
    assert r["r"] == pytest.approx(np.corrcoef(a, b)[0, 1])


def test_paired_ci_coverage():
    rng = np.random.default_rng(1)
    hits = 0
    reps = 250
    true = 0.6 - 0.5
    for _ in range(reps):
        a, b, _ = _correlated_binary(rng, 200, 0.6, 0.5)
        r = rm.pair(_items(a, b), rl="rl", baseline="base").iloc[0]
        hits += r["ci_low"] <= true <= r["ci_high"]
    assert 0.92 <= hits / reps <= 0.98


def test_clustered_se_and_coverage():
    rng = np.random.default_rng(2)
    a, b, cl = _correlated_binary(rng, 400, 0.6, 0.5, cluster_sd=1.5, n_clusters=20)
    eff = rm.pair(_items(a, b, clusters=cl.astype(str)), rl="rl", baseline="base").iloc[0]
    ref = clustered_se(a - b, cl)
    assert eff["sei"] == pytest.approx(ref.se)
    assert eff["df"] == ref.df == 19 and eff["n_clusters"] == 20
    assert "clustered" in eff["se_method"]
    iid = rm.pair(
        _items(a, b, clusters=cl.astype(str)), rl="rl", baseline="base", cluster=None
    ).iloc[0]
    assert iid["df"] == 399
    # coverage with strongly clustered items stays near nominal with the clustered SE
    hits, reps = 0, 200
    for _ in range(reps):
        a, b, cl = _correlated_binary(rng, 300, 0.55, 0.5, cluster_sd=1.5, n_clusters=25)
        r = rm.pair(_items(a, b, clusters=cl.astype(str)), rl="rl", baseline="base").iloc[0]
        hits += r["ci_low"] <= 0.05 <= r["ci_high"]
    assert hits / reps >= 0.9


def test_repeats_averaged_within_item():
    rl = pd.DataFrame(
        {
            "model": "rl",
            "benchmark": "b",
            "item_id": np.repeat(["q1", "q2", "q3"], 3),
            "sample_idx": np.tile([0, 1, 2], 3),
            "score": [1, 1, 0, 0, 0, 1, 1, 1, 1.0],
        }
    )
    base = pd.DataFrame(
        {
            "model": "base",
            "benchmark": "b",
            "item_id": ["q1", "q2", "q3"],
            "sample_idx": 0,
            "score": [0, 0, 1.0],
        }
    )
    r = rm.pair(pd.concat([rl, base]), rl="rl", baseline="base").iloc[0]
    d = np.array([2 / 3, 1 / 3, 0.0])
    assert r["n"] == 3 and r["k_rl"] == 3 and r["k_baseline"] == 1
    assert r["yi"] == pytest.approx(d.mean()) and r["sei"] == pytest.approx(
        d.std(ddof=1) / math.sqrt(3)
    )
    assert not r["binary"] and pd.isna(r["mcnemar_p"])
    with pytest.raises(EffectError, match="PLOR needs binary items"):
        rm.pair(pd.concat([rl, base]), rl="rl", baseline="base", measure="PLOR")


def test_unmatched_and_duplicates_reported():
    items = _items([1, 0, 1, 1], [0, 0, 1, 0])
    extra_rl = pd.DataFrame(
        {"model": "rl", "benchmark": "b", "metric": "acc", "item_id": ["only_rl"], "score": [1.0]}
    )
    dup_base = items[(items["model"] == "base") & (items["item_id"] == "q0")]
    r = rm.pair(pd.concat([items, extra_rl, dup_base]), rl="rl", baseline="base")
    row = r.iloc[0]
    assert row["n"] == 4 and row["n_unmatched_rl"] == 1 and row["n_unmatched_baseline"] == 0
    assert row["n_duplicates"] == 1
    log = rm.drop_log(r)
    reasons = " | ".join(log["reason"])
    assert (
        "'only_rl' appears only in the rl arm" in reasons
        and "duplicated baseline item 'q0'" in reasons
    )


def test_standardised_measures_match_formulas():
    rng = np.random.default_rng(4)
    a = rng.normal(0.6, 0.2, 80)
    b = 0.5 * a + rng.normal(0.25, 0.15, 80)
    items = _items(a, b)
    d = a - b
    n = 80
    dz = rm.pair(items, rl="rl", baseline="base", measure="dz").iloc[0]
    yi = float(hedges_correction(n - 1)) * d.mean() / d.std(ddof=1)
    assert (
        dz["measure"] == "SMCC"
        and dz["yi"] == pytest.approx(yi)
        and dz["vi"] == pytest.approx(1 / n + yi**2 / (2 * n))
    )
    dav = rm.pair(items, rl="rl", baseline="base", measure="dav").iloc[0]
    r = np.corrcoef(a, b)[0, 1]
    yi = (
        float(hedges_correction(2 * (n - 1) / (1 + r**2)))
        * d.mean()
        / ((a.std(ddof=1) + b.std(ddof=1)) / 2)
    )
    assert dav["yi"] == pytest.approx(yi)
    assert dav["vi"] == pytest.approx(2 * (1 - r) / n + yi**2 * (1 + r**2) / (4 * n))
    with pytest.raises(EffectError, match="unknown paired measure"):
        rm.pair(items, rl="rl", baseline="base", measure="SMD")


def test_paired_log_odds_ratio_zero_cell_and_direction():
    a = np.array([1, 1, 1, 0, 1, 0])
    b = np.array([0, 0, 1, 0, 1, 0])
    r = rm.pair(_items(a, b), rl="rl", baseline="base", measure="PLOR").iloc[0]
    assert r["yi"] == pytest.approx(math.log(2.5 / 0.5)) and r["vi"] == pytest.approx(
        1 / 2.5 + 1 / 0.5
    )
    items = _items(a, b).assign(higher_is_better=False)
    flipped = rm.pair(items, rl="rl", baseline="base").iloc[0]
    assert flipped["yi"] == pytest.approx(-(a - b).mean()) and bool(flipped["direction_flipped"])
    assert (flipped["mcnemar_t"], flipped["mcnemar_u"]) == (0, 2)


def test_effects_feed_meta_analysis_and_arm_column():
    rng = np.random.default_rng(5)
    frames = []
    for bench in ("arc", "gsm8k", "math", "mmlu"):
        a, b, _ = _correlated_binary(rng, 150, 0.6, 0.5)
        frames.append(_items(a, b, bench=bench))
    items = pd.concat(frames)
    items["arm"] = np.where(items["model"] == "rl", "rl", "baseline")
    eff = rm.pair(items)  # arms from the 'arm' column
    assert sorted(eff["benchmark"]) == ["arc", "gsm8k", "math", "mmlu"]
    res = rm.meta_analysis(eff, test="knha")
    assert res.k == 4 and 0 < res.to_dict()["coefficients"][0]["estimate"] < 0.3


def test_errors_name_the_problem():
    items = _items([1, 0], [0, 0])
    with pytest.raises(DataError, match="rl='nope' matches no items"):
        rm.pair(items, rl="nope", baseline="base")
    with pytest.raises(DataError, match="'arm' column"):
        rm.pair(items)
    with pytest.raises(EffectError, match="variance is 0"):
        rm.pair(_items([1, 0, 1], [1, 0, 1]), rl="rl", baseline="base")  # identical arms
    other = _items([1, 0], [0, 0]).assign(item_id=lambda d: np.where(d["model"] == "rl", "x", "y"))
    with pytest.raises(DataError, match="no item is present in both arms"):
        rm.pair(other, rl="rl", baseline="base")


def test_lm_eval_fixtures_pair_on_doc_hash_and_fallback_to_doc_id(tmp_path):
    items = rm.read_items([DATA / "lm_eval" / "rl", DATA / "lm_eval" / "base"], cluster="subject")
    eff = rm.pair(items, rl="org/rl-1b", baseline="org/base-1b")
    assert sorted(eff["benchmark"]) == ["arc_easy", "gsm8k"]
    assert (
        (eff["pair_key"] == "item_id").all()
        and (eff["n"] == 40).all()
        and (eff["n_clusters"] == 8).all()
    )
    assert (eff["yi"] > 0).all()
    # a baseline run without doc hashes pairs on doc_id
    old = items[items["model"] == "org/base-1b"].assign(
        item_id=lambda d: d["doc_id"].astype(str), item_key="doc_id"
    )
    mixed = pd.concat([items[items["model"] == "org/rl-1b"], old])
    eff2 = rm.pair(mixed, rl="org/rl-1b", baseline="org/base-1b")
    assert (eff2["pair_key"] == "doc_id").all()
    assert eff2["yi"].tolist() == pytest.approx(eff["yi"].tolist())


def test_pair_by_source_path():
    items = rm.read_items([DATA / "lm_eval" / "rl", DATA / "lm_eval" / "base"])
    eff = rm.pair(
        items, rl=DATA / "lm_eval" / "rl", baseline=str(DATA / "lm_eval" / "base"), cluster=None
    )
    assert len(eff) == 2
    # a path names where the files are; the label is the model each arm holds
    models = items.groupby("source")["model"].first()
    rl_model = models[models.index.str.contains("/rl/")].iloc[0]
    base_model = models[models.index.str.contains("/base/")].iloc[0]
    assert set(eff["study_id"]) == {f"{rl_model} vs {base_model}"}
    assert str(DATA) not in eff["comparison_id"].iloc[0]


def test_real_samples_paired_against_a_perturbed_copy(shared_evals):
    p = (
        shared_evals
        / "lm-evaluation-harness"
        / "pr3936_Qwen__Qwen3-8B_samples_negotiationtom_belief_2026-07-08T18-15-33.115417.first3.jsonl"
    )
    items = rm.read_items(p)
    base = items.assign(model="base", score=1 - items["score"])
    eff = rm.pair(pd.concat([items, base]), rl="Qwen/Qwen3-8B", baseline="base").iloc[0]
    assert eff["n"] == 3 and eff["yi"] == pytest.approx(2 * items["score"].mean() - 1)


def test_two_runs_in_one_arm_are_refused():
    items = _items([1, 0, 1], [0, 0, 1])
    other = items[items["model"] == "rl"].assign(model="rl-2")
    with pytest.raises(DataError, match="the rl arm mixes 2 different model values"):
        rm.pair(pd.concat([items, other]), rl=["rl", "rl-2"], baseline="base")
