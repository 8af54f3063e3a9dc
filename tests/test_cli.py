"""The rlmeta command line: every command, exit codes and messages (CliRunner, no subprocess)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import rlmeta as rm
from rlmeta.cli import app
from rlmeta.cli._common import Exit

runner = CliRunner()


def flat(text: str) -> str:
    """Output without Rich's line wrapping and box drawing."""
    return " ".join(text.replace("│", " ").split())


@pytest.fixture
def bad_csv(tmp_path):
    df = (
        rm.datasets.load_rl_llm_studies(derived=False)
        .head(6)
        .drop(columns=["source", "source_row"])
    )
    df["rl_score"] = df["rl_score"].astype(object)
    df.loc[1, "rl_score"] = "abc"
    df.loc[3, "n_items"] = -5
    df.loc[4, "baseline_score"] = 140.0
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    return path


def test_help_lists_every_command():
    out = runner.invoke(app, ["--help"]).output
    for cmd in ("report", "ingest", "compare", "effects", "pool", "sensitivity", "validate"):
        assert cmd in out


def test_validate_lists_every_problem(bad_csv):
    res = runner.invoke(app, ["validate", str(bad_csv)])
    assert res.exit_code == Exit.VALIDATION
    out = flat(res.output)
    assert "3 problem(s)" in out
    assert "expected a number, got 'abc'" in out and "rl_score" in out
    assert "expected a sample size >= 1, got -5" in out
    assert "[0, 100], got 140" in out


def test_validate_ok_and_unreadable(tmp_path):
    good = tmp_path / "good.csv"
    rm.datasets.load_rl_llm_studies(derived=False).drop(columns=["source", "source_row"]).to_csv(
        good, index=False
    )
    res = runner.invoke(app, ["validate", str(good)])
    assert res.exit_code == 0 and "valid" in res.output
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    res = runner.invoke(app, ["validate", str(junk)])
    assert res.exit_code == Exit.DATA and "junk.json" in flat(res.output)


def test_effects_writes_table_and_drop_log(tmp_path):
    out = tmp_path / "eff.csv"
    res = runner.invoke(app, ["effects", "-o", str(out), "--measure", "RD"])
    assert res.exit_code == 0, res.output
    eff = pd.read_csv(out)
    assert len(eff) == 139 and {"yi", "vi", "measure"} <= set(eff.columns)
    assert "14 row(s) excluded" in flat(res.output)


def test_pool_json_matches_library(tmp_path):
    res = runner.invoke(app, ["pool", "--test", "knha", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)["model"]
    lib = rm.meta_analysis(
        rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD"), test="knha"
    )
    assert d["coefficients"][0]["estimate"] == pytest.approx(lib.beta.iloc[0], rel=1e-12)
    assert d["tau2"] == pytest.approx(lib.tau2, rel=1e-12) and d["converged"] is True


def test_pool_multilevel_robust_text():
    res = runner.invoke(
        app,
        [
            "pool",
            "--random",
            "study_id/comparison_id/effect_id",
            "--test",
            "t",
            "--robust",
            "study_id",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Multilevel" in res.output and "CR2" in res.output


def test_pool_bad_model_exit_code():
    res = runner.invoke(app, ["pool", "--mods", "~ __import__('os')"])
    assert res.exit_code == Exit.MODEL
    assert "not a column or an allowed function" in flat(res.output)


def test_sensitivity_subset_json():
    res = runner.invoke(app, ["sensitivity", "-a", "loo,estimators,bias", "--json", "-q"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert {"model", "leave_one_out", "estimator_sweep", "egger_test", "trim_and_fill"} <= set(d)
    res = runner.invoke(app, ["sensitivity", "-a", "nonsense"])
    assert res.exit_code == Exit.USAGE and "unknown analyses" in flat(res.output)


def test_report_usage_errors(tmp_path):
    res = runner.invoke(app, ["report", "-o", str(tmp_path / "x.docx")])
    assert res.exit_code == Exit.USAGE and "must end in .html or .pdf" in flat(res.output)
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[effects]\nmesure = 'RD'\n")
    res = runner.invoke(app, ["report", "--config", str(cfg), "-o", str(tmp_path / "x.html")])
    assert res.exit_code == Exit.CONFIG and "unknown key 'mesure'" in flat(res.output)
    assert not (tmp_path / "x.html").exists()
