"""Regenerate the small committed evaluation fixtures in this folder.

Run from the repository root:  python tests/data/evals/make_fixtures.py

Every file is synthetic (seeded), shaped like the real tools' outputs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import evalgen  # noqa: E402


def main() -> None:
    rng = np.random.default_rng(2024)
    for sub in ("lm_eval", "inspect", "helm", "lighteval", "eee", "simple_evals", "oll_v2"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    n = 40
    base = {"arc_easy": rng.integers(0, 2, n), "gsm8k": rng.integers(0, 2, n)}
    # RL arm: the same items, each wrong answer fixed with probability 0.3
    rl = {t: np.where((s == 0) & (rng.random(n) < 0.3), 1, s) for t, s in base.items()}
    evalgen.lm_eval_v043(HERE / "lm_eval" / "rl", "org/rl-1b", rl, subject_of=lambda i: f"s{i % 8}")
    evalgen.lm_eval_v043(
        HERE / "lm_eval" / "base", "org/base-1b", base, subject_of=lambda i: f"s{i % 8}"
    )
    evalgen.lm_eval_v042(
        HERE / "lm_eval" / "v042", "pretrained=org/base-1b", {"wmdp_bio": [1, 0, 1]}, group="wmdp"
    )
    evalgen.lm_eval_v03(HERE / "lm_eval" / "v03" / "results.json")

    ids = list(range(1, 13))
    sb = {i: float(rng.integers(0, 2)) for i in ids}
    evalgen.inspect_eval(
        HERE / "inspect" / "base.eval",
        "hf/base-1b",
        "arc",
        evalgen.inspect_samples(ids, 2, lambda i, e: sb[i]),
    )
    evalgen.inspect_eval(
        HERE / "inspect" / "rl.eval",
        "hf/rl-1b",
        "arc",
        evalgen.inspect_samples(ids, 2, lambda i, e: 1.0 if e == 1 else sb[i]),
        compression="zstd",
    )
    evalgen.inspect_json(
        HERE / "inspect" / "base_old.json",
        "hf/base-1b",
        "arc",
        evalgen.inspect_samples(ids[:4], 1, lambda i, e: sb[i]),
        old=True,
    )

    evalgen.helm_run(HERE / "helm", "org/base-1b", [1, 0, 0, 1, 1], perturbed=[0, 0, 0, 0, 1])
    evalgen.lighteval_results(
        HERE / "lighteval" / "results_2025-01-01T00-00-00.json",
        "org/rl-1b",
        {"lighteval|gsm8k|0": (0.5, 0.05)},
    )
    evalgen.lighteval_results(
        HERE / "lighteval" / "oll_v1_results.json",
        "org/rl-1b",
        {"harness|arc:challenge|25": (0.55, 0.014)},
        oll=True,
    )
    evalgen.lighteval_details(
        HERE
        / "lighteval"
        / "details"
        / "org__rl-1b"
        / "2025-01-01T00-00-00"
        / "details_lighteval|gsm8k|0_2025-01-01T00-00-00.parquet",
        [1, 0, 1, 1],
        schema="struct",
        ids=["a", "b", "c", "d"],
    )
    evalgen.lighteval_details(
        HERE
        / "lighteval"
        / "details_flat"
        / "org__rl-1b"
        / "2024-01-01T00-00-00"
        / "details_harness|arc:challenge|25_2024-01-01T00-00-00.parquet",
        [1, 0, 0],
        schema="flat",
    )
    evalgen.eee_aggregate(
        HERE / "eee" / "rl.json", "org/rl-1b", {"arc": (0.6, 0.02, 500), "gsm8k": (0.4, None, None)}
    )
    evalgen.eee_instances(HERE / "eee" / "rl_samples.jsonl", "org/rl-1b", "arc", [1, 0, 1, 1])
    evalgen.simple_evals(
        HERE / "simple_evals" / "mmlu_gpt-4o-mini_20250101_120000.json", 0.8, 0.4, convos=50
    )
    evalgen.lm_eval_v043(
        HERE / "oll_v2",
        "org/rl-1b",
        {"leaderboard_musr_team_allocation": [1, 0, 1], "leaderboard_gpqa_main": [0, 0, 1]},
        metric="acc_norm",
    )


if __name__ == "__main__":
    main()
