"""lm-evaluation-harness readers: three layouts, own fixtures and the real files."""

from __future__ import annotations

import json
import math

import evalgen
import numpy as np
import pytest

import rlmeta as rm
from rlmeta.errors import ReaderError
from rlmeta.io import _common, lm_eval

DATA = __import__("pathlib").Path(__file__).parent / "data" / "evals"


def test_legacy_v03(tmp_path):
    p = evalgen.lm_eval_v03(tmp_path / "run-a" / "results.json", acc=0.3, acc_se=0.01)
    obs = rm.read(p)
    assert obs["metric"].tolist() == ["acc", "acc_norm"]
    assert obs["se"].tolist() == [0.01, 0.01]
    assert obs["filter"].isna().all()
    assert obs["layout"].astype(str).unique().tolist() == ["<=0.3"]
    # no model recorded in the file: the folder name, and the provenance says so
    assert obs["model"].astype(str).unique().tolist() == ["run-a"]
    assert obs["model_source"].astype(str).unique().tolist() == ["directory name"]
    assert len(obs["source_sha256"].astype(str).iloc[0]) == 64


def test_v042_results_groups_and_json_array_samples(tmp_path):
    res = evalgen.lm_eval_v042(
        tmp_path,
        "pretrained=org/model-1",
        {"wmdp_bio": [1, 0, 1], "wmdp_chem": [0, 0]},
        group="wmdp",
    )
    obs = rm.read(res)
    rows = obs.set_index("benchmark")
    assert bool(rows.loc["wmdp", "is_group"]) and not bool(rows.loc["wmdp_bio", "is_group"])
    assert rows.loc["wmdp_bio", "score"] == pytest.approx(2 / 3)
    assert rows.loc["wmdp_bio", "filter"] == "none"
    assert obs["layout"].astype(str).unique().tolist() == ["0.4.0-0.4.2"]
    assert obs["model"].astype(str).unique().tolist() == ["org/model-1"]
    # the "jsonl" samples are one JSON array; the results file beside it gives the model
    items = rm.read_items(tmp_path / "pretrained__org__model-1_wmdp_bio.jsonl")
    assert items["score"].tolist() == [1.0, 0.0, 1.0]
    assert items["item_id"].tolist() == ["0", "1", "2"]
    assert items["model"].astype(str).unique().tolist() == ["org/model-1"]
    assert items["n_shot"].astype(int).unique().tolist() == [0]


def test_v043_results_and_samples(tmp_path):
    res = evalgen.lm_eval_v043(
        tmp_path,
        "Org/RL-7B",
        {"gsm8k": [1, 0, 1, 1]},
        filters=("strict-match", "flexible-extract"),
        metric="exact_match",
        corpus_metric=True,
    )
    obs = rm.read(res)
    em = obs[obs["metric"] == "exact_match"]
    assert sorted(em["filter"].astype(str)) == ["flexible-extract", "strict-match"]
    assert em["n"].tolist() == [4.0, 4.0]
    assert (em["n_source"] == "sample_len").all()
    f1 = obs[obs["metric"] == "f1"].iloc[0]
    assert math.isnan(f1["se"]) and f1["se_flag"] == "stderr 'N/A' in file"
    assert em["higher_is_better"].tolist() == [True, True]
    # results file -> its samples (same date id)
    items = rm.read_items(res)
    assert len(items) == 8  # 4 docs x 2 filters; the corpus metric f1 is not an item score
    assert set(items["metric"].astype(str)) == {"exact_match"}
    log = rm.drop_log(items)
    assert log["metric"].tolist() == ["f1"]
    assert "[gold, pred]" in log["reason"].iloc[0]
    assert log["source_row"].iloc[0] == 1
    # item identity is the doc hash
    assert items["item_id"].iloc[0] == evalgen.doc_hash(
        {"question": "gsm8k question 0", "subject": "all"}
    )
    assert items["source_row"].tolist()[:4] == [1, 2, 3, 4]


def test_n_from_n_samples_without_sample_len(tmp_path):
    res = evalgen.lm_eval_v043(tmp_path, "m", {"arc": [1, 0, 1]}, head=False)
    obs = rm.read(res)
    assert obs["n"].tolist() == [3.0]
    assert obs["n_source"].tolist() == ["n-samples.effective"]


def test_metric_key_split_on_last_comma(tmp_path):
    doc = {
        "results": {
            "t": {
                "f1,macro,none": 0.5,
                "f1,macro_stderr,none": 0.1,
                "acc_stderr,none": 0.0,
                "acc,none": 1.0,
            }
        },
        "versions": {"t": 0},
        "n-shot": {"t": 0},
        "configs": {},
    }
    p = tmp_path / "r.json"
    p.write_text(json.dumps(doc))
    obs = rm.read(p).set_index("metric")
    assert obs.loc["f1,macro", "filter"] == "none"
    assert obs.loc["f1,macro", "se"] == 0.1
    assert math.isnan(obs.loc["acc", "se"]) and "0.0" in obs.loc["acc", "se_flag"]


def test_cluster_from_doc_field(tmp_path):
    res = evalgen.lm_eval_v043(
        tmp_path, "m", {"mmlu": [1, 0, 1, 0]}, subject_of=lambda i: f"s{i // 2}"
    )
    items = rm.read_items(res, cluster="subject")
    assert items["cluster"].tolist() == ["s0", "s0", "s1", "s1"]
    with pytest.raises(ReaderError, match=r"doc has no field 'topic'") as ei:
        rm.read_items(res, cluster="topic")
    assert ei.value.row == 1 and ei.value.column == "doc.topic"


def test_samples_without_results_use_model_folder(tmp_path):
    res = evalgen.lm_eval_v043(tmp_path, "Org/M", {"arc": [1, 1]})
    res.unlink()
    items = rm.read_items(tmp_path)
    assert items["model"].astype(str).unique().tolist() == ["Org__M"]
    assert items["model_source"].astype(str).unique().tolist() == ["directory name"]
    obs = rm.read(tmp_path)  # aggregated from the items
    assert obs["score"].tolist() == [1.0] and obs["se_method"].tolist() == [
        "clt from items (ddof 1)"
    ]


def test_results_only_has_no_items(tmp_path):
    res = evalgen.lm_eval_v043(tmp_path, "m", {"arc": [1, 0]})
    for f in res.parent.glob("samples_*"):
        f.unlink()
    with pytest.raises(ReaderError, match="--log_samples"):
        rm.read_items(res)


def test_truncated_line_names_the_line(tmp_path):
    res = evalgen.lm_eval_v043(tmp_path, "m", {"arc": [1, 0, 1]})
    s = next(res.parent.glob("samples_*"))
    text = s.read_text().splitlines()
    s.write_text("\n".join(text[:2] + [text[2][:40]]))
    with pytest.raises(ReaderError) as ei:
        rm.read_items(s)
    assert ei.value.row == 3 and str(s) in str(ei.value)
    assert "line 3" in str(ei.value) and "JSON" in str(ei.value)


def test_invalid_utf8_names_the_line(tmp_path):
    res = evalgen.lm_eval_v043(tmp_path, "m", {"arc": [1, 0, 1]})
    s = next(res.parent.glob("samples_*"))
    raw = s.read_bytes().split(b"\n")
    raw[1] = raw[1].replace(b"question 1", b"question \xff\xfe")
    s.write_bytes(b"\n".join(raw))
    with pytest.raises(ReaderError, match="UTF-8") as ei:
        rm.read_items(s)
    assert ei.value.row == 2


def test_record_without_doc_id(tmp_path):
    p = tmp_path / "samples_arc_2025-01-01T00-00-00.000001.jsonl"
    p.write_text('{"doc_id": 0, "doc": {}, "acc": 1.0}\n{"doc": {}, "acc": 0.0}\n')
    with pytest.raises(ReaderError, match="doc_id") as ei:
        rm.read_items(p)
    assert ei.value.row == 2 and ei.value.column == "doc_id"


def test_stdlib_json_fallback_gives_same_items(tmp_path, monkeypatch):
    res = evalgen.lm_eval_v043(tmp_path, "m", {"arc": [1, 0, 1, 1, 0]})
    fast = rm.read_items(res)
    monkeypatch.setattr(_common, "_orjson", None)
    slow = rm.read_items(res)
    assert fast["item_id"].tolist() == slow["item_id"].tolist()
    assert fast["score"].tolist() == slow["score"].tolist()


def test_streaming_many_lines_hash_and_counts(tmp_path):
    p = evalgen.big_lm_eval_samples(
        tmp_path / "m" / "samples_big_2025-01-01T00-00-00.000001.jsonl", 30_000
    )
    items = lm_eval.read_samples(p)
    assert len(items) == 30_000
    assert items["source_row"].iloc[-1] == 30_000
    # the hash computed while streaming equals a fresh hash of the file
    _common._HASH_CACHE.clear()
    import hashlib

    assert items["source_sha256"].astype(str).iloc[0] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert np.isin(items["score"].to_numpy(), [0.0, 1.0]).all()


def test_committed_fixture_pair(tmp_path):
    items = rm.read_items([DATA / "lm_eval" / "rl", DATA / "lm_eval" / "base"])
    assert set(items["model"].astype(str)) == {"org/rl-1b", "org/base-1b"}
    obs = rm.read([DATA / "lm_eval" / "rl", DATA / "lm_eval" / "base"])
    wide = rm.to_contrasts(obs, rl="org/rl-1b", baseline="org/base-1b")
    assert set(wide["benchmark"]) == {"arc_easy", "gsm8k"}


# --------------------------------------------------------------------------- real files
def test_real_legacy(shared_evals):
    d = shared_evals / "lm-evaluation-harness"
    obs = rm.read(d / "legacy_v0.3_tests_testdata_arc_challenge-v0-res.json")
    acc = obs.set_index("metric").loc["acc"]
    assert acc["score"] == pytest.approx(0.24488054607508533)
    assert acc["se"] == pytest.approx(0.012566273985131354)
    obs2 = rm.read(d / "legacy_v0.3_tests_testdata_arc_challenge-v2.0-res.json")
    assert obs2["task_version"].tolist() == ["2.0", "2.0"]


def test_real_v042(shared_evals):
    d = shared_evals / "lm-evaluation-harness"
    obs = rm.read(d / "pr1668_v0.4.2era_out_results.json")
    assert set(obs["benchmark"]) == {"wmdp", "wmdp_bio", "wmdp_chem", "wmdp_cyber"}
    assert obs["model"].astype(str).unique().tolist() == ["gpt-3.5-turbo-0125"]
    assert obs["se"].isna().all()  # every stderr is 0.0 (all scores 1): flagged, not used
    items = rm.read_items(
        [
            d / "pr1668_v0.4.2era_out_results.json",
            d / "pr1668_v0.4.2era_model__gpt-3.5-turbo-0125_wmdp_bio.first2.json_array.jsonl",
        ]
    )
    assert items["benchmark"].astype(str).unique().tolist() == ["wmdp_bio"]
    assert items["model"].astype(str).unique().tolist() == ["gpt-3.5-turbo-0125"]
    assert items["score"].tolist() == [1.0, 1.0]


def test_real_head(shared_evals):
    d = shared_evals / "lm-evaluation-harness"
    res = d / "pr3936_Qwen__Qwen3-8B_results_2026-07-08T18-15-33.115417.json"
    obs = rm.read(res)
    belief = obs[(obs["benchmark"] == "negotiationtom_belief")].iloc[0]
    assert (
        belief["score"] == 0.45
        and belief["n"] == 20
        and belief["se"] == pytest.approx(0.11413288653790232)
    )
    grp = obs[(obs["benchmark"] == "negotiationtom") & (obs["metric"] == "acc")].iloc[0]
    assert bool(grp["is_group"]) and grp["n"] == 60
    f1 = obs[(obs["benchmark"] == "negotiationtom_intention") & (obs["metric"] == "micro_f1")].iloc[
        0
    ]
    assert math.isnan(f1["se"])
    assert obs["tool_version"].astype(str).unique().tolist() == ["0.4.13.dev0"]
    samples = (
        d
        / "pr3936_Qwen__Qwen3-8B_samples_negotiationtom_intention_2026-07-08T18-15-33.115417.first3.jsonl"
    )
    items = rm.read_items(samples)
    assert items["model"].astype(str).unique().tolist() == ["Qwen/Qwen3-8B"]
    assert set(items["metric"].astype(str)) == {"exact_match"}
    assert set(rm.drop_log(items)["metric"]) == {"micro_f1", "macro_f1"}


def test_real_generative_samples(shared_evals):
    p = (
        shared_evals
        / "lm-evaluation-harness"
        / "pr3032_samples_truthfulqa_gen_2025-05-31T14-30-51.983293.first2.jsonl"
    )
    items = rm.read_items(p)
    assert items["benchmark"].astype(str).unique().tolist() == ["truthfulqa_gen"]
    bleu = items[items["metric"] == "bleu_max"]
    assert bleu["score"].tolist() == pytest.approx([41.11336169005198, 9.980099403873663])
    assert len(items) == 2 * 12


def test_same_file_twice_is_read_once(tmp_path):
    res = evalgen.lm_eval_v043(tmp_path, "m", {"arc": [1, 0, 1]})
    items = rm.read_items([res.parent, res.parent / "samples_arc_2025-03-04T05-06-07.123456.jsonl"])
    assert len(items) == 3
    assert "given more than once" in " ".join(rm.drop_log(items)["reason"])


def test_read_aggregates_samples_and_keeps_their_drop_log(tmp_path):
    res = evalgen.lm_eval_v043(tmp_path, "m", {"arc": [1, 0, 1, 1]}, corpus_metric=True)
    res.unlink()  # samples only: read() aggregates them
    obs = rm.read(tmp_path)
    assert obs["score"].tolist() == [0.75] and obs["n"].tolist() == [4.0]
    assert obs["score_scale"].tolist() == ["proportion"]
    assert rm.drop_log(obs)["metric"].tolist() == ["f1"]


def test_to_contrasts_leaves_out_group_rows(tmp_path):
    a = evalgen.lm_eval_v042(
        tmp_path / "a", "pretrained=rl", {"t1": [1, 1, 0], "t2": [1, 0]}, group="g"
    )
    b = evalgen.lm_eval_v042(
        tmp_path / "b", "pretrained=base", {"t1": [1, 0, 0], "t2": [0, 0]}, group="g"
    )
    obs = rm.read([a, b])
    wide = rm.to_contrasts(obs, rl="rl", baseline="base")
    assert sorted(wide["benchmark"]) == ["t1", "t2"]
    assert "group aggregate" in " ".join(rm.drop_log(wide)["reason"])
    assert sorted(rm.to_contrasts(obs, rl="rl", baseline="base", groups=True)["benchmark"]) == [
        "g",
        "t1",
        "t2",
    ]


def test_head_layout_with_json_output_path(tmp_path):
    # lm-eval --output_path out/run.json writes out/run_<date>.json and out/samples_<task>_<date>.jsonl
    res = evalgen.lm_eval_v043(tmp_path, "Org/M", {"arc": [1, 0, 1]})
    renamed = res.with_name(f"run_{evalgen.DATE}.json")
    res.rename(renamed)
    items = rm.read_items(renamed)
    assert len(items) == 3 and items["model"].unique().tolist() == ["Org/M"]
    items2 = rm.read_items(next(tmp_path.rglob("samples_*.jsonl")))
    assert items2["model_source"].astype(str).unique().tolist() == ["results.model_name"]


def test_invalid_utf8_in_results_json(tmp_path):
    p = tmp_path / "r.json"
    p.write_bytes(b'{"results": {"arc": {"acc": 0.5}},\n "versions": {"arc": "v\xff"}}')
    with pytest.raises(ReaderError, match="UTF-8") as ei:
        rm.read(p)
    assert ei.value.row == 2 and "line 2" in str(ei.value)
