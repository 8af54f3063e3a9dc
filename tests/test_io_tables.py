"""Tidy tables: formats, layouts, column mapping, score_scale, errors, writers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import ReaderError, SchemaError

DATA = Path(__file__).parent / "data" / "evals"

WIDE = pd.DataFrame(
    {
        "paper": ["s1", "s1", "s2"],
        "benchmark": ["GSM8K", "MATH", "GSM8K"],
        "acc_rl": [80.1, 40.2, 70.0],
        "acc_base": [75.0, 35.5, 69.0],
        "n_items": [1319, 500, 1319],
        "note": ["=cmd|' /C calc'!A0", "+1", "ok"],
    }
)


def _write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        df.to_csv(path, index=False, sep="\t")
    elif path.suffix == ".xlsx":
        df.to_excel(path, index=False)
    elif path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif path.suffix == ".json":
        path.write_text(df.to_json(orient="records"))
    elif path.suffix == ".jsonl":
        path.write_text(df.to_json(orient="records", lines=True))
    return path


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".xlsx", ".parquet", ".json", ".jsonl"])
def test_wide_every_format_with_mapping(tmp_path, ext):
    p = _write(WIDE, tmp_path / f"t{ext}")
    obs = rm.read(
        p, study_id="paper", rl_score="acc_rl", baseline_score="acc_base", score_scale="percent"
    )
    assert obs["rl_score"].tolist() == [80.1, 40.2, 70.0]
    assert obs["score_scale"].unique().tolist() == ["percent"]
    assert obs["source_row"].tolist() == [1, 2, 3]
    assert obs["source"].unique().tolist() == [str(p)]
    eff = rm.effect_sizes(obs, measure="RD")
    assert eff["yi"].iloc[0] == pytest.approx(0.051)


def test_long_layout_and_percent_hint(tmp_path):
    long = pd.DataFrame(
        {
            "study_id": ["s"] * 2,
            "benchmark": ["b"] * 2,
            "arm": ["RL", "baseline"],
            "score": [0.8, 0.7],
            "n": [100, 100],
            "score_scale": ["proportion"] * 2,
        }
    )
    obs = rm.read(_write(long, tmp_path / "l.csv"))
    assert obs["arm"].tolist() == ["rl", "baseline"]
    long.loc[1, "score"] = 70
    with pytest.raises(SchemaError, match="looks like a percent") as ei:
        rm.read(_write(long, tmp_path / "l2.csv"))
    assert (
        ei.value.row == 2
        and ei.value.column == "score"
        and str(tmp_path / "l2.csv") in str(ei.value)
    )


def test_score_scale_is_never_guessed(tmp_path):
    p = _write(WIDE.drop(columns="note"), tmp_path / "w.csv")
    obs = rm.read(p, study_id="paper", rl_score="acc_rl", baseline_score="acc_base")
    assert "score_scale" not in obs.columns  # raw scores unless told
    with pytest.raises(ReaderError, match="score_scale='proportion' was passed but the file says"):
        df = WIDE.assign(score_scale="percent")
        rm.read(
            _write(df, tmp_path / "w2.csv"),
            study_id="paper",
            rl_score="acc_rl",
            baseline_score="acc_base",
            score_scale="proportion",
        )


def test_bad_number_names_file_row_column(tmp_path):
    df = WIDE.copy()
    df["acc_rl"] = df["acc_rl"].astype(object)
    df.loc[2, "acc_rl"] = "n/a?"
    p = _write(df, tmp_path / "w.csv")
    with pytest.raises(SchemaError) as ei:
        rm.read(p, study_id="paper", rl_score="acc_rl", baseline_score="acc_base")
    msg = str(ei.value)
    assert str(p) in msg and "row 3" in msg and "'rl_score'" in msg and "expected a number" in msg


def test_mapping_errors(tmp_path):
    p = _write(WIDE, tmp_path / "w.csv")
    with pytest.raises(ReaderError, match="'acc_RL' .*not in the file"):
        rm.read(p, rl_score="acc_RL")
    with pytest.raises(ReaderError, match="cannot tell the table layout"):
        rm.read(p)
    with pytest.raises(ReaderError, match="already has a column 'benchmark'"):
        rm.read(p, benchmark="paper")
    lm = DATA / "lm_eval" / "rl"
    with pytest.raises(ReaderError, match="tables only"):
        rm.read(lm, rl_score="x")


def test_non_utf8_csv(tmp_path):
    p = tmp_path / "w.csv"
    p.write_bytes(
        b"study_id,benchmark,rl_score,baseline_score\ns1,GSM8K,0.8,0.7\ns\xe9,MATH,0.4,0.3\n"
    )
    with pytest.raises(ReaderError, match="UTF-8") as ei:
        rm.read(p)
    assert ei.value.row == 3 and "line 3" in str(ei.value)


def test_empty_and_malformed(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ReaderError, match="empty"):
        rm.read(tmp_path / "e.csv")
    (tmp_path / "j.json").write_text('{"a": 1, "b": 2}')
    with pytest.raises(ReaderError, match="unknown JSON layout"):
        rm.read(tmp_path / "j.json")
    (tmp_path / "t.json").write_text('[{"a": 1}, {"a": 2')
    with pytest.raises(ReaderError, match="line 1.*truncated"):
        rm.read(tmp_path / "t.json")
    (tmp_path / "x.xls").write_bytes(b"\xd0\xcf")
    with pytest.raises(ReaderError, match=".xls"):
        rm.read(tmp_path / "x.xls")
    with pytest.raises(FileNotFoundError):
        rm.read(tmp_path / "missing.csv")


def test_excel_sheet_by_name(tmp_path):
    p = tmp_path / "book.xlsx"
    with pd.ExcelWriter(p) as xw:
        pd.DataFrame({"x": [1]}).to_excel(xw, sheet_name="notes", index=False)
        WIDE.to_excel(xw, sheet_name="table2", index=False)
    obs = rm.read(p, sheet="table2", study_id="paper", rl_score="acc_rl", baseline_score="acc_base")
    assert len(obs) == 3
    with pytest.raises(ReaderError, match="worksheet"):
        rm.read(p, sheet="nope", study_id="paper")


def test_items_table(tmp_path):
    items = pd.DataFrame(
        {
            "model": ["a"] * 3,
            "benchmark": ["b"] * 3,
            "question": ["q1", "q2", "q3"],
            "correct": [1, 0, 1],
        }
    )
    p = _write(items, tmp_path / "i.csv")
    got = rm.read_items(p, item_id="question", score="correct")
    assert got["score"].tolist() == [1.0, 0.0, 1.0] and got["source_row"].tolist() == [1, 2, 3]
    with pytest.raises(ReaderError, match="rm.read_items"):
        rm.read(p, item_id="question", score="correct")


# --------------------------------------------------------------------------- writers
@pytest.mark.parametrize("ext", [".csv", ".tsv", ".xlsx"])
def test_writers_neutralise_formulas(tmp_path, ext):
    p = rm.write(WIDE, tmp_path / f"o{ext}")
    back = (
        pd.read_excel(p) if ext == ".xlsx" else pd.read_csv(p, sep="\t" if ext == ".tsv" else ",")
    )
    assert back["note"].tolist() == ["'=cmd|' /C calc'!A0", "'+1", "ok"]
    assert back["acc_rl"].tolist() == WIDE["acc_rl"].tolist()  # numbers untouched
    p2 = rm.write(pd.DataFrame({"=SUM(A1)": [1]}), tmp_path / f"h{ext}")
    head = (
        pd.read_excel(p2) if ext == ".xlsx" else pd.read_csv(p2, sep="\t" if ext == ".tsv" else ",")
    )
    assert list(head.columns) == ["'=SUM(A1)"]


def test_parquet_and_json_roundtrip_keep_values_and_drop_log(tmp_path):
    obs = rm.read(DATA / "lighteval" / "results_2025-01-01T00-00-00.json")
    for ext in (".parquet", ".json", ".jsonl"):
        p = rm.write(obs, tmp_path / f"o{ext}")
        back = rm.read(p)
        assert back["score"].tolist() == obs["score"].tolist()
    back = pd.read_parquet(tmp_path / "o.parquet")
    assert len(rm.drop_log(back)) == 2  # the drop log travels in the Parquet metadata


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "o.csv"
    p.write_text("old\n")

    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError, match="disk full"):
        rm.write(pd.DataFrame({"a": [1]}), p)
    assert p.read_text() == "old\n"
    assert [f.name for f in tmp_path.iterdir()] == ["o.csv"]  # no temp file left behind


def test_write_unknown_extension(tmp_path):
    with pytest.raises(ReaderError, match="format="):
        rm.write(pd.DataFrame({"a": [1]}), tmp_path / "x.dat")


def test_mixed_type_columns_survive_parquet(tmp_path):
    df = pd.DataFrame(
        {
            "benchmark": ["a", "b"],
            "score": [0.1, 0.2],
            "task_version": [0, "2.0"],
            "cfg": [{"k": 1}, None],
        }
    )
    p = rm.write(df, tmp_path / "m.parquet")
    back = pd.read_parquet(p)
    assert back["task_version"].tolist() == ["0", "2.0"]
    assert json.loads(back["cfg"][0]) == {"k": 1}


# --------------------------------------------------------------------------- detection and contrasts
def test_detect_unknown_layouts(tmp_path):
    (tmp_path / "a.json").write_text('{"hello": "world"}')
    with pytest.raises(ReaderError, match="unknown JSON layout.*top-level keys: hello"):
        rm.detect_format(tmp_path / "a.json")
    (tmp_path / "b.bin").write_bytes(b"\x00\x01")
    with pytest.raises(ReaderError, match="unknown file type"):
        rm.read(tmp_path / "b.bin")
    (tmp_path / "c.jsonl").write_text("[1, 2]\n")
    with pytest.raises(ReaderError):
        rm.read(tmp_path / "c.jsonl")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReaderError, match="no recognised evaluation files"):
        rm.read(empty)
    assert rm.detect_format(tmp_path) == "directory"


def test_folder_scan_reports_unreadable_files(tmp_path):
    import shutil

    shutil.copytree(DATA / "lm_eval" / "rl", tmp_path / "rl")
    (tmp_path / "rl" / "notes.json").write_text('{"hello": 1}')
    obs = rm.read(tmp_path / "rl")
    assert len(obs) == 2
    log = rm.drop_log(obs)
    assert (
        log["source"].str.endswith("notes.json").any()
        and "unknown JSON layout" in log["reason"].iloc[0]
    )


def test_to_contrasts_lonely_rows_and_duplicates():
    obs = rm.read([DATA / "lm_eval" / "rl", DATA / "lm_eval" / "base"])
    extra = obs[obs["model"] == "org/rl-1b"].iloc[:1].assign(benchmark="only_rl")
    wide = rm.to_contrasts(
        pd.concat([obs, extra]), rl="org/rl-1b", baseline="org/base-1b", study_id="s"
    )
    assert sorted(wide["benchmark"]) == ["arc_easy", "gsm8k"]
    assert (wide["n_items"] == 40).all() and (wide["score_scale"] == "proportion").all()
    assert "only the rl arm" in rm.drop_log(wide)["reason"].iloc[-1]
    eff = rm.effect_sizes(wide, measure="RD")
    assert len(eff) == 2
    with pytest.raises(ReaderError, match="rows for one contrast"):
        rm.to_contrasts(pd.concat([obs, obs]), rl="org/rl-1b", baseline="org/base-1b")
    with pytest.raises(ReaderError, match="matches no rows"):
        rm.to_contrasts(obs, rl="nope", baseline="org/base-1b")
    by_path = rm.to_contrasts(obs, rl=DATA / "lm_eval" / "rl", baseline=DATA / "lm_eval" / "base")
    assert len(by_path) == 2


def test_folder_with_explicit_format():
    items = rm.read_items(DATA / "inspect", format="inspect")
    assert set(items["model"]) == {"hf/rl-1b", "hf/base-1b"}
    with pytest.raises(ReaderError, match="no lighteval files in this folder"):
        rm.read(DATA / "inspect", format="lighteval")
