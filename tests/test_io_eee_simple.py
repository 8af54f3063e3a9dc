"""Every Eval Ever (read and export) and openai simple-evals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import evalgen
import pytest

import rlmeta as rm
from rlmeta.errors import ReaderError

DATA = Path(__file__).parent / "data" / "evals"


def test_eee_aggregate_and_instances():
    obs = rm.read(DATA / "eee" / "rl.json").set_index("benchmark")
    assert obs.loc["arc", "se"] == 0.02 and obs.loc["arc", "n"] == 500
    assert math.isnan(obs.loc["gsm8k", "se"])
    assert obs.loc["arc", "score_scale"] == "proportion" and bool(
        obs.loc["arc", "higher_is_better"]
    )
    items = rm.read_items(DATA / "eee" / "rl_samples.jsonl", cluster="subject")
    assert items["score"].tolist() == [1, 0, 1, 1]
    assert items["cluster"].tolist() == ["even", "odd", "even", "odd"]


def test_eee_export_roundtrip(tmp_path):
    obs = rm.read(DATA / "lm_eval" / "rl")
    out = rm.write(obs, tmp_path / "rl_eee.json", format="eee")
    back = rm.read(out)
    assert sorted(back["benchmark"]) == sorted(obs["benchmark"])
    merged = back.merge(obs, on="benchmark", suffixes=("", "_orig"))
    assert (merged["score"] == merged["score_orig"]).all()
    assert merged["se"].tolist() == pytest.approx(merged["se_orig"].tolist())
    items = rm.read_items(DATA / "lm_eval" / "rl")
    p = rm.write(items, tmp_path / "inst.jsonl", format="eee")
    again = rm.read_items(p)
    assert again["score"].tolist() == items["score"].tolist()
    # several models -> one file per model in a folder
    both = rm.read([DATA / "lm_eval" / "rl", DATA / "lm_eval" / "base"])
    folder = rm.write(both, tmp_path / "eee_out", format="eee")
    assert sorted(f.name for f in folder.iterdir()) == ["org__base-1b.json", "org__rl-1b.json"]


def test_eee_export_validates_against_schema(tmp_path, shared_evals):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((shared_evals / "every_eval_ever" / "eval.schema.json").read_text())
    obs = rm.read(DATA / "lm_eval" / "rl")
    doc = json.loads(rm.write(obs, tmp_path / "x.json", format="eee").read_text())
    jsonschema.validate(doc, schema)


def test_eee_real_files(shared_evals):
    d = shared_evals / "every_eval_ever"
    demo = rm.read(d / "demo_aggregate.json")
    assert demo["score"].tolist() == [0.75] and demo["model"].tolist() == ["demo-org/demo-model"]
    old = rm.read(d / "tests_data_98ea850e.json")
    assert len(old) == 6 and old["tool_version"].astype(str).unique().tolist() == ["0.2.0"]
    inst = rm.read_items(d / "demo_samples.jsonl")
    assert inst["item_id"].tolist() == ["demo_0001"] and inst["score"].tolist() == [1.0]


def test_eee_bad_instance_line(tmp_path):
    p = evalgen.eee_instances(tmp_path / "i.jsonl", "m", "arc", [1, 0])
    lines = p.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["evaluation"] = {"score": "high"}
    p.write_text(lines[0] + "\n" + json.dumps(rec) + "\n")
    with pytest.raises(ReaderError, match="evaluation.score") as ei:
        rm.read_items(p)
    assert ei.value.row == 2


def test_simple_evals_se_only_with_n(tmp_path):
    p = DATA / "simple_evals" / "mmlu_gpt-4o-mini_20250101_120000.json"
    obs = rm.read(p).set_index("metric")
    assert obs.loc["score", "model"] == "gpt-4o-mini" and obs.loc["score", "benchmark"] == "mmlu"
    n = 50  # len(convos) in the _allresults sibling
    assert obs.loc["score", "n"] == n
    assert obs.loc["score", "se"] == pytest.approx(0.4 / math.sqrt(n - 1))  # std is ddof 0
    assert obs.loc["score", "sd"] == pytest.approx(0.4 * math.sqrt(n / (n - 1)))
    q = evalgen.simple_evals(tmp_path / "gpqa_o1_20250101_120000.json", 0.5, 0.5)
    no_n = rm.read(q).set_index("metric")
    assert math.isnan(no_n.loc["score", "se"]) and "unknown" in no_n.loc["score", "se_flag"]
    r = evalgen.simple_evals(tmp_path / "gpqa_o1_20250102_120000.json", 0.5, 0.5, n=101)
    assert rm.read(r).set_index("metric").loc["score", "se"] == pytest.approx(0.05)
    with pytest.raises(ReaderError, match="aggregate"):
        rm.read_items(p)
