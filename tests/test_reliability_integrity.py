"""No data loss: every excluded row is in the drop log; outputs are written atomically (a
SIGKILL leaves the old file or nothing, and only hidden, self-cleaning temporary files);
reruns give byte-identical outputs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import evalgen
import pandas as pd
import pytest
from typer.testing import CliRunner

import rlmeta as rm
from rlmeta._atomic import atomic_write_text, clean_stale

ROOT = Path(__file__).resolve().parents[1]

# 10 data rows: rows 3 and 4 have no number of items (RD cannot get a variance), row 5 has
# no moderator value, row 8 is excluded by the report's filter
TABLE = """\
study_id,comparison_id,benchmark,metric,rl_score,baseline_score,n_items,score_scale,x
s1,c1,gsm,acc,0.61,0.55,500,proportion,1
s1,c1,math,acc,0.42,0.40,500,proportion,1
s2,c2,gsm,acc,0.71,0.70,,proportion,2
s2,c2,math,acc,0.33,0.30,,proportion,2
s3,c3,gsm,acc,0.80,0.70,300,proportion,
s3,c3,math,acc,0.45,0.41,300,proportion,3
s4,c4,gsm,acc,0.66,0.60,400,proportion,4
s4,c4,skipme,acc,0.50,0.49,400,proportion,4
s5,c5,gsm,acc,0.52,0.52,250,proportion,5
s5,c5,math,acc,0.38,0.35,250,proportion,5
"""
N_ROWS = 10


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------- drop log
def test_every_row_is_used_or_logged_from_file_to_model(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(TABLE, encoding="utf-8")
    obs = rm.read(p)
    assert len(obs) + len(rm.drop_log(obs)) == N_ROWS
    eff = _quiet(rm.effect_sizes, obs, measure="RD")
    log = rm.drop_log(eff)
    assert len(eff) + len(log) == N_ROWS
    assert sorted(log["source_row"]) == [3, 4]
    assert set(log["step"]) == {"effect_sizes"}
    assert all("n_items" in r for r in log["reason"])
    res = _quiet(rm.meta_analysis, eff, mods="~ x")
    assert res.k + len(res.drop_log) == N_ROWS
    assert sorted(res.drop_log["source_row"]) == [3, 4, 5]
    assert res.drop_log.set_index("source_row").loc[5, "reason"] == "missing value in x"
    assert res.to_dict()["n_dropped"] == 3
    for measure in ("SMD", "OR", "AS"):
        e = _quiet(rm.effect_sizes, obs, measure=measure)
        assert len(e) + len(rm.drop_log(e)) == N_ROWS, measure


def test_report_accounts_for_every_input_row(tmp_path, monkeypatch):
    from rlmeta.report import ReportConfig, build, build_report

    monkeypatch.setattr(build, "SECTION_ORDER", [s for s in build.SECTION_ORDER if s[0] == "data"])
    p = tmp_path / "t.csv"
    p.write_text(TABLE, encoding="utf-8")
    cfg = ReportConfig().override(formats=["html"], exclude={"benchmark": ["skipme"]})
    rep = _quiet(build_report, [str(p)], config=cfg)
    data = next(s for s in rep.sections if s.id == "data")
    sentence = next(
        b.content for b in data.blocks if b.kind == "text" and "input rows" in str(b.content)
    )
    assert f"{N_ROWS} input rows, 7 effect sizes used, 3 excluded" in sentence
    droplog = next(
        b.content[0] for b in data.blocks if b.kind == "table" and b.caption == "Drop log"
    )
    assert sorted(droplog["source_row"]) == [3, 4, 8]
    assert sorted(droplog["step"]) == ["effect_sizes", "effect_sizes", "filter"]


def test_harness_metrics_and_contrasts_are_accounted_for(tmp_path):
    rl = evalgen.lm_eval_v043(
        tmp_path / "rl",
        "org/rl",
        {"arc": [1, 0, 1], "gsm": [1, 1, 0], "extra": [1, 0]},
        corpus_metric=True,
    )
    base = evalgen.lm_eval_v043(tmp_path / "base", "org/base", {"arc": [0, 0, 1], "gsm": [1, 0, 0]})
    n_metrics = 0
    for f in (rl, base):
        for block in json.loads(f.read_text())["results"].values():
            n_metrics += sum(1 for k in block if "," in k and "_stderr" not in k)
    obs = rm.read([rl, base])
    assert len(obs) + len(rm.drop_log(obs)) == n_metrics  # f1 "N/A"-style values are logged
    wide = rm.to_contrasts(obs, rl="org/rl", baseline="org/base")
    lonely = rm.drop_log(wide)
    lonely = lonely[lonely["step"] == "to_contrasts"]
    assert 2 * len(wide) + len(lonely) == len(obs)
    # "extra" exists in the RL run only; so do the f1 rows (corpus metric) of every RL task
    assert set(zip(lonely["benchmark"], lonely["metric"])) == {
        ("extra", "acc"),
        ("extra", "f1"),
        ("arc", "f1"),
        ("gsm", "f1"),
    }


def test_paired_items_are_accounted_for(tmp_path):
    rl = evalgen.lm_eval_v043(tmp_path / "rl", "org/rl", {"arc": [1, 0, 1, 1, 0]})
    base = evalgen.lm_eval_v043(tmp_path / "base", "org/base", {"arc": [0, 0, 1]})
    items = rm.read_items([rl, base])
    eff = rm.pair(items, rl="org/rl", baseline="org/base")
    unmatched = rm.drop_log(eff)
    unmatched = unmatched[unmatched["step"] == "pair"]
    assert int(eff["n"].iloc[0]) == 3 and len(unmatched) == 2
    assert int(eff["n_unmatched_rl"].iloc[0]) == 2


# --------------------------------------------------------------------------- atomic writes
_CHILD = textwrap.dedent(
    """
    import os, sys, time, warnings
    from pathlib import Path
    warnings.simplefilter("ignore")
    sys.path.insert(0, {root!r})
    import rlmeta._atomic as atomic
    from rlmeta.report import ReportConfig, build_report, write_report
    from rlmeta.report import build

    marker, out, fmt, pause_at = Path({marker!r}), Path({out!r}), {fmt!r}, {pause_at!r}
    real_replace, real_fsync = os.replace, os.fsync

    def hold(*args):
        marker.write_text("writing")  # the parent kills us now, mid-write
        time.sleep(120)

    if pause_at == "rename":
        atomic.os.replace = lambda a, b: (hold(), real_replace(a, b))
    else:
        atomic.os.fsync = lambda fd: (hold(), real_fsync(fd))
    build.SECTION_ORDER[:] = [s for s in build.SECTION_ORDER if s[0] in ("data", "headline", "forest")]
    import rlmeta as rm
    rep = build_report(data=rm.datasets.load_rl_llm_studies().head(12), config=ReportConfig().override(formats=[fmt]))
    write_report(rep, out, [fmt])
    """
)


@pytest.mark.parametrize("fmt,pause_at", [("html", "fsync"), ("html", "rename"), ("pdf", "rename")])
def test_sigkill_mid_write_leaves_the_previous_report(tmp_path, fmt, pause_at):
    out = tmp_path / f"report.{fmt}"
    out.write_bytes(b"previous complete report")
    marker = tmp_path / "marker"
    script = _CHILD.format(
        root=str(ROOT), marker=str(marker), out=str(out), fmt=fmt, pause_at=pause_at
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the child never reached the write"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert out.read_bytes() == b"previous complete report"  # never a partial file
    leftovers = [p for p in tmp_path.iterdir() if p.name not in (out.name, "marker")]
    # a killed process cannot clean up: what it leaves is hidden and named after the output
    assert all(
        p.name.startswith(f".{out.name}.{child.pid}.") and p.name.endswith(".tmp")
        for p in leftovers
    )
    assert leftovers, "the kill happened inside the atomic write"
    # the next write of the same output removes the dead writer's temporary file
    atomic_write_text(out, "new")
    assert out.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, "marker"])


def test_sigkill_before_any_output_leaves_nothing(tmp_path):
    out = tmp_path / "report.html"
    marker = tmp_path / "marker"
    script = _CHILD.format(
        root=str(ROOT), marker=str(marker), out=str(out), fmt="html", pause_at="fsync"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while not marker.exists() and child.poll() is None:
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["marker"]


def test_clean_stale_keeps_files_of_live_writers(tmp_path):
    out = tmp_path / "x[1].csv"
    mine = tmp_path / f".{out.name}.{os.getpid()}.abc.tmp"
    dead = tmp_path / f".{out.name}.999999999.abc.tmp"
    other = tmp_path / ".y.csv.999999999.abc.tmp"
    for p in (mine, dead, other):
        p.write_text("partial")
    assert clean_stale(out) == [dead]
    assert mine.exists() and other.exists() and not dead.exists()


@pytest.mark.parametrize("ext", ["csv", "xlsx", "parquet", "json", "jsonl"])
def test_failed_write_leaves_previous_table(tmp_path, ext, monkeypatch):
    out = tmp_path / f"t.{ext}"
    rm.write(pd.DataFrame({"a": [1, 2]}), out)
    before = out.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(
        pd.DataFrame,
        {
            "csv": "to_csv",
            "xlsx": "to_excel",
            "parquet": "to_parquet",
            "json": "to_json",
            "jsonl": "to_json",
        }[ext],
        boom,
    )
    with pytest.raises(OSError, match="disk full"):
        rm.write(pd.DataFrame({"a": [3]}), out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


# --------------------------------------------------------------------------- reruns
_RERUN = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, {root!r})
    import rlmeta as rm
    from rlmeta.report import ReportConfig, build_report, write_report
    cfg = ReportConfig().override(gosh_subsets=50, spec_max=10, permutations=10, formats=["html"], seed=7)
    rep = build_report(data=rm.datasets.load_rl_llm_studies().head(16), config=cfg, command="rlmeta report")
    write_report(rep, {out!r}, ["html"])
    """
)


@pytest.mark.slow
def test_reruns_with_the_same_seed_are_byte_identical(tmp_path):
    """Two processes (different hash seeds, different times) write the same report bytes."""
    outs = []
    for i, hashseed in enumerate(("1", "2")):
        out = tmp_path / f"r{i}.html"
        env = dict(
            os.environ, PYTHONHASHSEED=hashseed, SOURCE_DATE_EPOCH="1767225600", MPLBACKEND="Agg"
        )
        subprocess.run(
            [sys.executable, "-c", _RERUN.format(root=str(ROOT), out=str(out))],
            env=env,
            check=True,
            timeout=600,
            capture_output=True,
        )
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert b"Generated 2026-01-01 00:00 UTC" in outs[0]


def test_source_date_epoch_must_be_seconds(monkeypatch):
    from rlmeta.errors import ConfigError
    from rlmeta.report.build import _report_date

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert _report_date() == "1970-01-01 00:00 UTC"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ConfigError, match="SOURCE_DATE_EPOCH"):
        _report_date()


def test_cli_json_and_table_outputs_are_byte_identical(tmp_path, monkeypatch):
    from rlmeta.cli import app

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    src = tmp_path / "t.csv"
    src.write_text(TABLE, encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["pool", str(src), "--json", "--test", "knha"])
    second = runner.invoke(app, ["pool", str(src), "--json", "--test", "knha"])
    assert first.exit_code == 0 and first.stdout == second.stdout
    blobs = {}
    for name in ("a", "b"):
        for ext in ("csv", "parquet", "xlsx", "json"):
            assert (
                runner.invoke(
                    app, ["effects", str(src), "-o", str(tmp_path / f"{name}.{ext}")]
                ).exit_code
                == 0
            )
        assert (
            runner.invoke(
                app,
                [
                    "ingest",
                    str(evalgen.lm_eval_v03(tmp_path / "r.json")),
                    "-o",
                    str(tmp_path / f"{name}.eee.json"),
                    "--to",
                    "eee",
                ],
            ).exit_code
            == 0
        )
        blobs[name] = {
            ext: (tmp_path / f"{name}.{ext}").read_bytes()
            for ext in ("csv", "parquet", "json", "eee.json")
        }
    assert blobs["a"] == blobs["b"]
    assert json.loads(blobs["a"]["eee.json"])["retrieved_timestamp"] == "1767225600"
