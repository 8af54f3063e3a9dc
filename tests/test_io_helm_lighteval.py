"""HELM run folders, lighteval results/details, Open LLM Leaderboard v1/v2."""

from __future__ import annotations

import math
from pathlib import Path

import evalgen
import numpy as np
import pytest

import rlmeta as rm
from rlmeta.errors import ReaderError

DATA = Path(__file__).parent / "data" / "evals"


# --------------------------------------------------------------------------- HELM
def test_helm_items_split_and_perturbation(tmp_path):
    run = evalgen.helm_run(
        tmp_path, "org/m", [1, 0, 0, 1], valid_scores=[1, 1], perturbed=[0, 0, 0, 0]
    )
    items = rm.read_items(run)
    assert set(items["metric"]) == {
        "exact_match"
    }  # num_prompt_tokens and logprob are bookkeeping here
    assert items["item_id"].tolist() == [
        "id0",
        "id1",
        "id2",
        "id3",
    ]  # valid split and perturbed rows left out
    assert items["score"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert items["n_shot"].unique().tolist() == [5]
    pert = rm.read_items(run, perturbation="typos")
    assert pert["score"].tolist() == [0.0] * 4
    valid = rm.read_items(run, split="valid")
    assert valid["item_id"].tolist() == ["v0", "v1"]
    lp = rm.read_items(run, metrics=["logprob"])
    assert lp["score"].tolist() == [-1.0] * 4


def test_helm_aggregate_se_from_instances_never_stats_json(tmp_path):
    run = evalgen.helm_run(tmp_path, "org/m", [1, 0, 0, 1])
    obs = rm.read(run)
    row = obs.iloc[0]
    assert row["score"] == 0.5 and row["n"] == 4
    assert row["se"] == pytest.approx(np.std([1, 0, 0, 1], ddof=1) / 2)
    assert row["benchmark"] == "mmlu:subject=algebra,method=multiple_choice_joint"
    (run / "per_instance_stats.json").unlink()
    obs2 = rm.read(run)
    assert obs2["score"].tolist() == [0.5] and math.isnan(obs2["se"].iloc[0])
    assert obs2["n"].tolist() == [4.0]  # from num_instances, not from count (= train trials)
    assert "train trials" in obs2["se_flag"].iloc[0]
    with pytest.raises(ReaderError, match="per_instance_stats"):
        rm.read_items(run)


def test_helm_real_run(shared_evals):
    run = next((shared_evals / "helm").iterdir())
    items = rm.read_items(run, metrics=["exact_match"])
    assert len(items) == 9  # 9 test instances; the valid one is left out
    obs = rm.read(run).set_index("metric")
    assert obs.loc["exact_match", "score"] == pytest.approx(1 / 9)  # equals stats.json's mean
    assert obs.loc["exact_match", "n"] == 9
    assert obs.loc["exact_match", "se"] == pytest.approx(np.std([1] + [0] * 8, ddof=1) / 3)
    assert obs["model"].unique().tolist() == ["openai/gpt2"]


# --------------------------------------------------------------------------- lighteval
def test_lighteval_results_skip_averages_and_untrusted_stderr():
    obs = rm.read(DATA / "lighteval" / "results_2025-01-01T00-00-00.json")
    assert obs["benchmark"].unique().tolist() == ["lighteval|gsm8k"]
    em = obs.set_index("metric").loc["em"]
    assert em["score"] == 0.5 and em["se"] == 0.05 and em["n"] == 100 and em["n_shot"] == 0
    f1 = obs.set_index("metric").loc["f1"]
    assert math.isnan(f1["se"]) and "sqrt(B)" in f1["se_flag"]
    log = rm.drop_log(obs)
    assert sorted(log["benchmark"]) == ["all", "lighteval|mmlu:_average|0"]
    assert obs["tool"].astype(str).unique().tolist() == ["lighteval"]


def test_lighteval_details_struct_and_flat():
    d = DATA / "lighteval"
    s = rm.read_items(next((d / "details").rglob("*.parquet")))
    assert s["item_id"].tolist()[:4] == ["a", "a", "b", "b"]
    assert s["model"].unique().tolist() == ["org__rl-1b"]
    assert s["benchmark"].unique().tolist() == ["lighteval|gsm8k"]
    assert s[s["metric"] == "em"]["score"].tolist() == [1, 0, 1, 1]
    f = rm.read_items(next((d / "details_flat").rglob("*.parquet")))
    assert f["item_id"].str.startswith("sha256:").all() and f["item_id"].nunique() == 3
    assert f["n_shot"].unique().tolist() == [25]
    assert rm.detect_format(next((d / "details_flat").rglob("*.parquet"))) == "lighteval_details"


def test_lighteval_details_item_id_stable_across_models(tmp_path):
    a = evalgen.lighteval_details(
        tmp_path / "a" / "x" / "details_t|0_2025-01-01T00-00-00.parquet", [1, 0], schema="flat"
    )
    b = evalgen.lighteval_details(
        tmp_path / "b" / "x" / "details_t|0_2025-01-01T00-00-00.parquet", [1, 1], schema="flat"
    )
    ia, ib = rm.read_items(a, model="A"), rm.read_items(b, model="B")
    assert ia["item_id"].tolist() == ib["item_id"].tolist()


def test_oll_v1_and_v2():
    v1 = rm.read(DATA / "lighteval" / "oll_v1_results.json")
    assert v1["tool"].astype(str).unique().tolist() == ["oll_v1"]
    assert v1["benchmark"].unique().tolist() == ["harness|arc:challenge"]
    assert (~v1["normalized"]).all()
    v2 = rm.read(DATA / "oll_v2")
    assert v2["tool"].astype(str).unique().tolist() == ["oll_v2"]
    assert (~v2["normalized"].astype(bool)).all()
    assert set(v2["metric"]) == {"acc_norm"}
    items = rm.read_items(DATA / "oll_v2")
    assert set(items["benchmark"]) == {"leaderboard_musr_team_allocation", "leaderboard_gpqa_main"}


def test_lighteval_results_have_no_items():
    with pytest.raises(ReaderError, match="no per-item scores"):
        rm.read_items(DATA / "lighteval" / "results_2025-01-01T00-00-00.json")


def test_oll_v2_normalisation_kept_apart():
    raw = rm.read(DATA / "oll_v2")
    out = rm.io.normalize_oll(raw)
    assert len(out) == 2 * len(raw)
    norm = out[out["normalized"].astype(bool)].set_index("benchmark")
    rawi = raw.set_index("benchmark")
    # team allocation: 3 choices
    s = rawi.loc["leaderboard_musr_team_allocation", "score"]
    assert norm.loc["leaderboard_musr_team_allocation", "score"] == pytest.approx(
        max(0, (s - 1 / 3) / (2 / 3)) * 100
    )
    assert norm["se"].isna().all() and (norm["score_scale"] == "percent").all()
    bbh = raw.assign(benchmark="leaderboard_bbh_navigate")
    assert len(rm.drop_log(rm.io.normalize_oll(bbh))) == len(bbh)
    got = rm.io.normalize_oll(bbh, num_choices={"leaderboard_bbh_navigate": 2})
    assert got["normalized"].astype(bool).sum() == len(bbh)
