"""A tiny run of the benchmark runner (the real runs are on demand: python -m benchmarks)."""

from __future__ import annotations

import json

from benchmarks.__main__ import main


def test_runner_smoke(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["--quick", "--only", "reml_k10", "--no-r", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    tools = {r["tool"] for r in payload["results"]}
    assert "rlmeta" in tools
    rl = next(r for r in payload["results"] if r["tool"] == "rlmeta")
    assert rl["median_s"] > 0 and rl["ratio_vs_rlmeta"] == 1.0
    assert payload["machine"]["cores"] >= 1
    assert "x rlmeta" in capsys.readouterr().out
