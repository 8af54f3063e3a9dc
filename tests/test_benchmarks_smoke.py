"""The benchmark runner in --quick mode (the real runs are on demand: python -m benchmarks).

No timing is asserted: only that every kind of workload runs, that results, ratios
and targets are reported, and that a metafor run cut by its timeout is reported
with what it measured.
"""

from __future__ import annotations

import json
import math
import os
import stat

import pandas as pd
import pytest

from benchmarks.__main__ import main, render_markdown
from benchmarks.runner import Target, Workload, _parse_r, _time_r

pytest.importorskip("dask.distributed")

# one workload of each kind, at --quick sizes
KINDS = [
    "reml_k10",  # engine vs PyMARE / statsmodels
    "mv3_k200",  # multilevel
    "loo_influence_k20",
    "gosh_k8_all",
    "perm_100_k20",
    "speccurve_*",
    "ingest_lm_eval_*",
    "report_html",
    "dask_perm_*",  # local vs Dask LocalCluster
]


def test_runner_smoke(tmp_path, capsys):
    out = tmp_path / "b.json"
    md = tmp_path / "RESULTS.md"
    argv = [
        "--quick",
        "--only",
        ",".join(KINDS),
        "--no-r",
        "--out",
        str(out),
        "--markdown",
        str(md),
    ]
    assert main(argv) == 0
    payload = json.loads(out.read_text())
    res = pd.DataFrame(payload["results"])
    for glob in KINDS:
        names = res.loc[res["workload"].str.match(glob.replace("*", ".*") + "$"), "workload"]
        assert len(names), glob
    rl = res[res["tool"] == "rlmeta"]
    assert (rl["median_s"] > 0).all() and (rl["ratio_vs_rlmeta"] == 1.0).all(), rl
    assert not (res["tool"] == "metafor").any()  # --no-r
    # peers ran too
    assert {
        "PyMARE",
        "statsmodels",
        "json.loads loop",
        "rlmeta Dask LocalCluster (2 processes)",
    } <= set(res["tool"])
    dask = res[res["tool"].str.startswith("rlmeta Dask")]
    assert dask["median_s"].notna().all(), dask[
        "note"
    ].tolist()  # identical results were checked in setup
    targets = pd.DataFrame(payload["targets"])
    assert set(targets["workload"]) >= {"report_html"} and targets["status"].str.len().gt(0).all()
    assert payload["machine"]["cores"] >= 1 and payload["machine"]["versions"]["numpy"]
    text = capsys.readouterr().out
    assert "x rlmeta" in text and "Targets" in text
    assert "| workload | target (issue 12) | measured | status |" in md.read_text()


def test_list_and_from_json(tmp_path, capsys):
    assert main(["--quick", "--list", "--only", "gosh_*"]) == 0
    assert "gosh_k8_all" in capsys.readouterr().out
    payload = {
        "machine": {
            "date": "2026-01-01",
            "cpu": "cpu",
            "cores": 2,
            "versions": {"rlmeta": "0.1.0"},
        },
        "results": [
            {
                "workload": "w",
                "description": "d",
                "tool": "rlmeta",
                "median_s": 0.01,
                "ratio_vs_rlmeta": 1.0,
                "note": "",
            },
            {
                "workload": "w",
                "description": "d",
                "tool": "metafor",
                "median_s": None,
                "ratio_vs_rlmeta": None,
                "lower_bound_s": 5.0,
                "ratio_lower_bound": 500.0,
                "note": "timeout after 5 s",
            },
        ],
        "targets": [
            {"workload": "w", "target": "t", "measured": ">500x", "status": "met (lower bound)"}
        ],
    }
    src = tmp_path / "r.json"
    src.write_text(json.dumps(payload))
    md = tmp_path / "r.md"
    assert main(["--from-json", str(src), "--markdown", str(md), "--remark", "shared machine"]) == 0
    text = md.read_text()
    assert ">500x" in text and "shared machine" in text and "met (lower bound)" in text
    assert render_markdown(payload).splitlines()[0] == text.splitlines()[0]


def test_target_checks():
    ok = {"rlmeta": {"median_s": 0.01}, "metafor": {"median_s": 2.0}}
    assert Target.ratio("x", 100).check(ok) == ("met", "200x")
    assert Target.ratio("x", 300).check(ok)[0] == "NOT met"
    assert Target.under("t", 0.1).check(ok)[0] == "met"
    assert Target.under("t", 0.001).check(ok)[0] == "NOT met"
    cut = {"rlmeta": {"median_s": 0.01}, "metafor": {"median_s": math.nan, "lower_bound_s": 3.0}}
    assert Target.ratio("x", 100).check(cut) == ("met (lower bound)", ">300x")
    assert Target.ratio("x", 1000).check(cut)[0].startswith("n/a")
    assert Target.ratio("x", 10).check({"rlmeta": {"median_s": 0.01}})[0].startswith("n/a")
    assert Target.under("t", 1).check({"rlmeta": {"median_s": math.nan}})[0].startswith("n/a")


def test_parse_r_output():
    got = _parse_r("READY 0.5\nWARM 1.0 0.9\nRUN 2.0 1.5\nRUN 3.0 2.5\nDONE\n")
    assert got == {
        "ready": 0.5,
        "warm": [1.0],
        "runs": [2.0, 3.0],
        "warm_cpu": [0.9],
        "cpu": [1.5, 2.5],
        "done": True,
    }


def _fake_rscript(tmp_path, body: str, monkeypatch):
    exe = tmp_path / "bin" / "Rscript"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")


def test_r_timeout_gives_lower_bound(tmp_path, monkeypatch):
    """A metafor run cut by the timeout: lower bound from READY; finished runs are kept."""
    w = Workload("w", "d", lambda: {}, {}, r_code="1", r_warmup=False, r_scale=10)
    data = {"frame": pd.DataFrame({"yi": [0.1]})}
    _fake_rscript(tmp_path, "echo READY 0.0\nsleep 30\n", monkeypatch)
    out = _time_r(w, data, 1, timeout=1.0)
    assert math.isnan(out["median_s"]) and out["lower_bound_s"] >= 9.0  # >= 0.9 s x scale 10
    assert "timeout" in out["note"] and "scaled" in out["note"]
    (tmp_path / "bin" / "Rscript").unlink()
    (tmp_path / "bin").rmdir()
    _fake_rscript(tmp_path, "echo READY 0.0\necho RUN 0.2\nsleep 30\n", monkeypatch)
    out = _time_r(w, data, 3, timeout=1.0)
    assert out["median_s"] == pytest.approx(2.0) and "finished" in out["note"]
    (tmp_path / "bin" / "Rscript").unlink()
    (tmp_path / "bin").rmdir()
    _fake_rscript(
        tmp_path, "echo 'Error in rma(): cannot allocate vector' >&2\nexit 1\n", monkeypatch
    )
    out = _time_r(w, data, 1, timeout=5.0)
    assert out["note"].startswith("R error: Error in rma()")
