"""CLI: rlmeta ingest / rlmeta compare (exit codes and messages)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import rlmeta as rm
from rlmeta.cli import app
from rlmeta.cli._common import Exit

DATA = Path(__file__).parent / "data" / "evals"
runner = CliRunner()


def test_ingest_writes_tidy_parquet(tmp_path):
    out = tmp_path / "tidy.parquet"
    r = runner.invoke(
        app, ["ingest", str(DATA / "lm_eval" / "rl"), str(DATA / "lighteval"), "-o", str(out)]
    )
    assert r.exit_code == Exit.OK, r.output
    assert "observations read" in r.output and f"to {out}" in r.output
    assert "drop log (3 entries)" in r.output
    assert (
        "flags (standard errors not taken from the file)" in r.output
    )  # lighteval f1 bootstrap SE  # the two files' "all" rows and one "_average" row
    back = pd.read_parquet(out)
    assert {"lm_eval", "lighteval", "oll_v1"} <= set(back["tool"].astype(str))
    assert len(rm.drop_log(back)) == 3


def test_ingest_items_and_eee(tmp_path):
    out = tmp_path / "items.csv"
    r = runner.invoke(
        app,
        [
            "ingest",
            "--items",
            "--cluster",
            "subject",
            str(DATA / "lm_eval" / "base"),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == Exit.OK, r.output
    back = pd.read_csv(out)
    assert len(back) == 80 and back["cluster"].nunique() == 8
    r = runner.invoke(
        app,
        ["ingest", str(DATA / "lm_eval" / "base"), "-o", str(tmp_path / "e.json"), "--to", "eee"],
    )
    assert r.exit_code == Exit.OK, r.output
    assert json.loads((tmp_path / "e.json").read_text())["schema_version"] == "0.3.0"


def test_ingest_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": {"arc": {"acc": 0.5}}, "versions": {"arc": 0')
    r = runner.invoke(app, ["ingest", str(bad), "-o", str(tmp_path / "o.parquet")])
    assert r.exit_code == Exit.DATA
    assert "bad.json" in r.output and "line 1" in r.output and "truncated" in r.output
    assert not (tmp_path / "o.parquet").exists()
    r = runner.invoke(
        app, ["ingest", str(tmp_path / "missing.json"), "-o", str(tmp_path / "o.parquet")]
    )
    assert r.exit_code == Exit.DATA and "file not found" in r.output
    r = runner.invoke(app, ["ingest", str(DATA / "eee")])
    assert r.exit_code == Exit.USAGE


def test_compare_tables_and_json(tmp_path):
    args = [
        "compare",
        "--rl",
        str(DATA / "lm_eval" / "rl"),
        "--baseline",
        str(DATA / "lm_eval" / "base"),
    ]
    r = runner.invoke(app, args + ["--cluster", "subject"])
    assert r.exit_code == Exit.OK, r.output
    assert "paired effects" in r.output and "Knapp-Hartung" in r.output
    r = runner.invoke(app, args + ["--json"])
    assert r.exit_code == Exit.OK, r.output
    doc = json.loads(r.output)
    assert doc["measure"] == "MD" and len(doc["effects"]) == 2
    pooled = doc["pooled"][0]
    assert pooled["k"] == 2 and pooled["test"] == "knha"
    eff = rm.pair(
        rm.read_items([DATA / "lm_eval" / "rl", DATA / "lm_eval" / "base"]),
        rl="org/rl-1b",
        baseline="org/base-1b",
        cluster=None,
    )
    ref = rm.meta_analysis(eff, test="knha").to_dict()["coefficients"][0]["estimate"]
    assert abs(pooled["coefficients"][0]["estimate"] - ref) < 1e-12


def test_compare_errors(tmp_path):
    r = runner.invoke(
        app,
        [
            "compare",
            "--rl",
            str(DATA / "lm_eval" / "rl"),
            "--baseline",
            str(DATA / "eee" / "rl.json"),
        ],
    )
    assert r.exit_code == Exit.DATA and "no per-item scores" in r.output
    r = runner.invoke(
        app,
        [
            "compare",
            "--rl",
            str(DATA / "lm_eval" / "rl"),
            "--baseline",
            str(DATA / "lm_eval" / "base"),
            "--measure",
            "XYZ",
        ],
    )
    assert r.exit_code == Exit.DATA and "unknown paired measure" in r.output
    r = runner.invoke(app, ["compare", "--rl", str(DATA / "lm_eval" / "rl")])
    assert r.exit_code == Exit.USAGE
