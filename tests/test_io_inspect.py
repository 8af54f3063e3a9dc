"""Inspect AI logs: .eval ZIP (deflate and zstd), .json (old and new names), safety limits."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import evalgen
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import ReaderError
from rlmeta.io import Limits
from rlmeta.io._zip import SafeZip

DATA = Path(__file__).parent / "data" / "evals" / "inspect"


def _samples(ids=(1, 2, 3, 4), epochs=2):
    return evalgen.inspect_samples(
        list(ids),
        epochs,
        lambda i, e: 1.0 if (i + e) % 2 else 0.0,
        subject_of=lambda i: f"s{i % 2}",
    )


@pytest.mark.parametrize("compression", ["deflate", "zstd"])
def test_eval_zip_items_and_aggregate(tmp_path, compression):
    p = evalgen.inspect_eval(
        tmp_path / "log.eval", "openai/m", "arc", _samples(), compression=compression
    )
    if compression == "zstd":
        with zipfile.ZipFile(p) as zf:
            assert {i.compress_type for i in zf.infolist()} == {93}
    items = rm.read_items(p)
    assert len(items) == 8  # 4 samples x 2 epochs
    assert sorted(items["sample_idx"].unique().tolist()) == [1, 2]
    assert items["item_level"].astype(str).unique().tolist() == ["epochs"]
    assert items["score"].sum() == 4
    obs = rm.read(p)
    row = obs.iloc[0]
    assert row["metric"] == "match/accuracy" and row["score_scale"] == "proportion"
    assert row["n"] == 4 and row["tool"] == "inspect_ai" and row["tool_version"] == "0.3.99"
    assert row["temperature"] == 0.7 and row["status"] == "success"


def test_reductions_and_cluster_from_sample_metadata(tmp_path):
    p = evalgen.inspect_eval(tmp_path / "log.eval", "m", "arc", _samples(), compression="zstd")
    red = rm.read_items(p, reduced=True)
    assert len(red) == 4 and red["sample_idx"].isna().all()
    assert red["score"].tolist() == [0.5] * 4
    cl = rm.read_items(
        p, cluster="subject"
    )  # needs the sample members (summaries have no metadata)
    assert sorted(cl["cluster"].unique()) == ["s0", "s1"]
    with pytest.raises(ReaderError, match="no key 'topic'"):
        rm.read_items(p, cluster="topic")


def test_only_reductions_stored(tmp_path):
    p = evalgen.inspect_eval(
        tmp_path / "log.eval", "m", "arc", _samples(), with_summaries=False, with_samples=False
    )
    items = rm.read_items(p)
    assert items["item_level"].astype(str).unique().tolist() == ["reductions"]
    with pytest.raises(ReaderError, match="no per-epoch"):
        rm.read_items(p, reduced=False)


@pytest.mark.parametrize("old", [False, True])
def test_json_logs_old_and_new_names(tmp_path, old):
    p = evalgen.inspect_json(tmp_path / "log.json", "m", "arc", _samples(epochs=1), old=old)
    obs = rm.read(p)
    assert obs["score"].tolist() == [0.5]
    assert obs["se"].iloc[0] == pytest.approx(((0.25 * 4 / 3) ** 0.5) / 2)
    red = rm.read_items(p, reduced=True)
    assert len(red) == 4
    assert rm.detect_format(p) == "inspect"


def test_value_mapping_and_unmappable_values(tmp_path):
    doc = json.loads(
        evalgen.inspect_json(tmp_path / "l.json", "m", "arc", _samples((1, 2, 3), 1)).read_text()
    )
    s = doc["samples"]
    s[0]["scores"]["match"]["value"] = "P"
    s[1]["scores"]["match"]["value"] = {"correct": "yes", "style": 0.25}
    s[2]["scores"]["match"]["value"] = "maybe"
    (tmp_path / "l.json").write_text(json.dumps(doc))
    items = rm.read_items(tmp_path / "l.json")
    got = dict(zip(items["metric"] + ":" + items["item_id"], items["score"]))
    assert got == {"match:1": 0.5, "match.correct:2": 1.0, "match.style:2": 0.25}
    log = rm.drop_log(items)
    assert len(log) == 1 and "'maybe'" in log["reason"].iloc[0]


def test_committed_fixtures():
    rl = rm.read_items(DATA / "rl.eval")
    base = rm.read_items(DATA / "base.eval")
    assert len(rl) == len(base) == 24
    eff = rm.pair(pd.concat([rl, base]), rl="hf/rl-1b", baseline="hf/base-1b")
    assert eff["n"].tolist() == [12] and eff["k_rl"].tolist() == [2.0]


# --------------------------------------------------------------------------- safety
def test_unsafe_member_paths(tmp_path):
    for bad in ("../evil.json", "/etc/passwd"):
        p = evalgen.inspect_eval(
            tmp_path / "bad.eval", "m", "arc", _samples(), names_override={"header.json": bad}
        )
        with pytest.raises(ReaderError, match="unsafe member path"):
            rm.read(p)


def test_member_size_limits(tmp_path):
    p = evalgen.inspect_eval(tmp_path / "log.eval", "m", "arc", _samples())
    with pytest.raises(ReaderError, match="per-member limit"):
        rm.read(p, limits=Limits(max_member=500))
    with pytest.raises(ReaderError, match="total uncompressed limit"):
        rm.read_items(p, limits=Limits(max_total_uncompressed=1000))


def test_compression_ratio_bomb(tmp_path):
    bomb = b"{" + b" " * (4 * 1024 * 1024) + b"}"
    p = evalgen.inspect_eval(
        tmp_path / "b.eval", "m", "arc", _samples(), extra={"header.json": bomb}
    )
    with pytest.raises(ReaderError, match="compression ratio"):
        rm.read(p)


def test_header_lying_about_size_and_crc(tmp_path):
    p = evalgen.inspect_eval(tmp_path / "log.eval", "m", "arc", _samples(), compression="zstd")
    raw = bytearray(p.read_bytes())
    # flip one byte inside the first member's compressed data -> CRC or zstd error
    raw[60] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(ReaderError, match="corrupt|CRC"):
        with SafeZip(p) as z:
            z.read(z.names()[0])


def test_not_a_zip_and_truncated_member(tmp_path):
    p = tmp_path / "x.eval"
    p.write_bytes(b"not a zip at all")
    with pytest.raises(ReaderError, match="ZIP"):
        rm.read(p)
    good = evalgen.inspect_eval(tmp_path / "g.eval", "m", "arc", _samples())
    data = good.read_bytes()
    (tmp_path / "t.eval").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReaderError):
        rm.read(tmp_path / "t.eval")


def test_invalid_json_member_names_member(tmp_path):
    p = evalgen.inspect_eval(
        tmp_path / "log.eval", "m", "arc", _samples(), extra={"header.json": b'{"version": 2,'}
    )
    with pytest.raises(ReaderError, match=r"header\.json.*line 1") as ei:
        rm.read(p)
    assert "truncated" in str(ei.value)


# --------------------------------------------------------------------------- real files
def test_real_eval_and_json_agree(shared_evals):
    d = shared_evals / "inspect_ai"
    a = rm.read(d / "log_formats.eval")
    b = rm.read(d / "log_formats.json")
    assert a["score"].tolist() == b["score"].tolist() == [0.0]
    assert a["model"].tolist() == ["ollama/llama3.1"]
    ia = rm.read_items(d / "log_formats.eval")
    ib = rm.read_items(d / "log_formats.json")
    assert ia["score"].tolist() == ib["score"].tolist() == [0.0]  # "I" -> 0
    assert ia["score_raw"].tolist() == ["I"]
    red = rm.read_items(
        d / "log_formats.json", reduced=True
    )  # results.sample_reductions (old name)
    assert red["item_id"].tolist() == ["1"]


def test_real_arc_qwen(shared_evals):
    p = shared_evals / "inspect_ai" / "eee_tests_data_arc_qwen.json"
    obs = rm.read(p)
    assert obs["score"].iloc[0] == pytest.approx(1 / 3)
    assert obs["se"].iloc[0] == pytest.approx(0.33333333333333337)
    items = rm.read_items(p)
    assert items["score_raw"].tolist() == ["C", "I", "I"]
    assert items["score"].mean() == pytest.approx(obs["score"].iloc[0])
