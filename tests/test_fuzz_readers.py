"""Fuzzing every reader: malformed, truncated, mistyped and hostile inputs.

Each reader, given any bytes or any mangled structure, must either return a table
or raise one of rlmeta's own exceptions (``RlmetaError``; in practice ReaderError,
DataError or SchemaError) with a message that names the problem: never a KeyError,
TypeError, pyarrow or zipfile error, a hang or a crash.

Inputs come from valid seed files (the shapes of ``tests/evalgen.py``) mutated by
Hypothesis: structure-aware edits (a value anywhere in a JSON document replaced by
a hostile one: wrong type, NaN/Infinity literal, huge or deeply nested value, or
deleted) and byte-level edits (truncation, flipped bytes, non-UTF-8, BOMs, NULs).
Campaign size: see ``tests/fuzzing.py`` (``RLMETA_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from functools import cache
from pathlib import Path

import evalgen
import numpy as np
import pandas as pd
import pytest
from fuzzing import HOSTILE, fuzz_settings, mutated_bytes, mutated_json, outcome, raw_json
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.utils.exceptions import IllegalCharacterError

import rlmeta as rm
from rlmeta.errors import RlmetaError
from rlmeta.io import detect_format, read_sweep

pytestmark = pytest.mark.filterwarnings("ignore")


# --------------------------------------------------------------------------- seeds
@cache
def seeds() -> dict:
    """Valid seed documents and files, written once per test process."""
    d = Path(tempfile.mkdtemp(prefix="rlmeta-fuzz-seeds-"))
    out: dict = {"dir": d}
    evalgen.lm_eval_v03(d / "v03.json")
    res043 = evalgen.lm_eval_v043(d / "v043", "org/rl-7b", {"arc": [1, 0, 1], "gsm": [0, 1]})
    evalgen.lm_eval_v042(d / "v042", "pretrained=org/base", {"t1": [1, 0], "t2": [1, 1]}, group="g")
    samples = sorted(res043.parent.glob("samples_arc_*.jsonl"))[0]
    samples_v042 = sorted((d / "v042").glob("*_t1.jsonl"))[0]
    ins = evalgen.inspect_samples(["a", "b", "c"], 2, lambda s, e: float(s != "b"))
    evalgen.inspect_json(d / "log.json", "m", "task", ins)
    evalgen.inspect_eval(d / "log.eval", "m", "task", ins)
    evalgen.lighteval_results(d / "le.json", "org/m", {"lighteval|gsm8k|0": (0.5, 0.01)})
    evalgen.lighteval_details(d / "details_gsm8k_2025-01-01T00-00-00.parquet", [1, 0, 1])
    evalgen.lighteval_details(d / "flat.parquet", [1, 0, 1], schema="flat")
    evalgen.eee_aggregate(
        d / "eee.json", "org/m", {"gsm": (0.5, 0.01, 100), "arc": (0.4, None, 50)}
    )
    evalgen.eee_instances(d / "eee.jsonl", "org/m", "gsm", [1, 0, 1, 1])
    evalgen.simple_evals(d / "mmlu_gpt-x_20250101_000000.json", 0.7, 0.4, n=100)
    run = evalgen.helm_run(d / "helm", "org/m", [1, 0, 1], perturbed=[0.0])
    out["json"] = {
        "lm_eval": json.loads((d / "v03.json").read_text()),
        "lm_eval_043": json.loads(res043.read_text()),
        "lm_eval_042": json.loads((d / "v042" / "results.json").read_text()),
        "inspect": json.loads((d / "log.json").read_text()),
        "lighteval": json.loads((d / "le.json").read_text()),
        "eee": json.loads((d / "eee.json").read_text()),
        "simple_evals": json.loads((d / "mmlu_gpt-x_20250101_000000.json").read_text()),
        "json_table": [
            {
                "study_id": "s1",
                "benchmark": "gsm",
                "rl_score": 0.6,
                "baseline_score": 0.5,
                "n_items": 100,
            },
            {
                "study_id": "s2",
                "benchmark": "arc",
                "rl_score": 0.4,
                "baseline_score": 0.45,
                "n_items": 50,
            },
        ],
    }
    out["jsonl"] = {
        "lm_eval_samples": [json.loads(x) for x in samples.read_text().splitlines() if x.strip()],
        "eee_instances": [
            json.loads(x) for x in (d / "eee.jsonl").read_text().splitlines() if x.strip()
        ],
        "jsonl_table": out["json"]["json_table"],
    }
    out["samples_name"] = samples.name
    out["v042_array"] = json.loads(samples_v042.read_text())
    out["helm"] = {
        name: json.loads((run / name).read_text())
        for name in ("run_spec.json", "per_instance_stats.json", "stats.json")
    }
    with zipfile.ZipFile(d / "log.eval") as zf:
        out["eval_members"] = {n: json.loads(zf.read(n)) for n in zf.namelist()}
    out["files"] = {
        p.name: p.read_bytes()
        for p in (
            d / "v03.json",
            res043,
            samples,
            d / "log.json",
            d / "log.eval",
            d / "le.json",
            d / "eee.json",
            d / "eee.jsonl",
            d / "details_gsm8k_2025-01-01T00-00-00.parquet",
            d / "flat.parquet",
        )
    }
    return out


@pytest.fixture
def workdir():
    d = Path(tempfile.mkdtemp(prefix="rlmeta-fuzz-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _fresh(base: Path) -> Path:
    """A new empty folder per Hypothesis example (the fixture is shared by examples)."""
    return Path(tempfile.mkdtemp(dir=base))


def _all_readers(p: Path, *formats: str) -> None:
    """Auto-detection, read and read_items (auto and with each explicit format)."""
    outcome(detect_format, p)
    outcome(rm.read, p)
    outcome(rm.read_items, p)
    for fmt in formats:
        outcome(rm.read, p, format=fmt)
        outcome(rm.read_items, p, format=fmt)


# --------------------------------------------------------------------------- JSON documents
JSON_KINDS = {
    "lm_eval": ("lm_eval", "r.json"),
    "lm_eval_043": ("lm_eval", "results_2025-03-04T05-06-07.123456.json"),
    "lm_eval_042": ("lm_eval", "results.json"),
    "inspect": ("inspect", "log.json"),
    "lighteval": ("lighteval", "le.json"),
    "eee": ("eee", "eee.json"),
    "simple_evals": ("simple_evals", "mmlu_gpt-x_20250101_000000.json"),
    "json_table": ("json", "table.json"),
}


@pytest.mark.parametrize("kind", sorted(JSON_KINDS))
@fuzz_settings(25)
@given(data=st.data())
def test_json_documents_with_hostile_values(workdir, kind, data):
    fmt, name = JSON_KINDS[kind]
    doc = data.draw(mutated_json(seeds()["json"][kind]))
    p = _fresh(workdir) / name
    p.write_bytes(raw_json(doc, indent=data.draw(st.sampled_from([None, 1]))))
    _all_readers(p, fmt)


@pytest.mark.parametrize("kind", ["lm_eval_043", "inspect", "eee", "json_table"])
@fuzz_settings(15)
@given(data=st.data())
def test_json_bytes_mangled(workdir, kind, data):
    fmt, name = JSON_KINDS[kind]
    raw = data.draw(mutated_bytes(raw_json(seeds()["json"][kind], indent=1)))
    p = _fresh(workdir) / name
    p.write_bytes(raw)
    _all_readers(p, fmt)


# --------------------------------------------------------------------------- JSON lines
@pytest.mark.parametrize("kind", ["lm_eval_samples", "eee_instances", "jsonl_table"])
@fuzz_settings(25)
@given(data=st.data())
def test_jsonl_records_with_hostile_values(workdir, kind, data):
    recs = data.draw(mutated_json(seeds()["jsonl"][kind]))
    p = _fresh(workdir) / (seeds()["samples_name"] if kind == "lm_eval_samples" else "x.jsonl")
    if isinstance(recs, list):
        text = b"\n".join(raw_json(r) for r in recs) + b"\n"
    else:
        text = raw_json(recs)
    p.write_bytes(text)
    fmt = {"jsonl_table": "jsonl"}.get(kind, kind)
    _all_readers(p, fmt)
    outcome(read_sweep, p)


@pytest.mark.parametrize("kind", ["lm_eval_samples", "eee_instances"])
@fuzz_settings(15)
@given(data=st.data())
def test_jsonl_bytes_mangled(workdir, kind, data):
    recs = seeds()["jsonl"][kind]
    raw = data.draw(mutated_bytes(b"\n".join(raw_json(r) for r in recs) + b"\n"))
    p = _fresh(workdir) / (seeds()["samples_name"] if kind == "lm_eval_samples" else "x.jsonl")
    p.write_bytes(raw)
    _all_readers(p, kind)


@fuzz_settings(20)
@given(data=st.data())
def test_lm_eval_v042_sample_array(workdir, data):
    """The v0.4.0-0.4.2 per-sample file: one JSON array in a .jsonl file."""
    arr = data.draw(mutated_json(seeds()["v042_array"]))
    folder = _fresh(workdir)
    res = json.loads(json.dumps(seeds()["json"]["lm_eval_042"]))
    (folder / "results.json").write_bytes(raw_json(res))
    p = folder / "pretrained__org__base_t1.jsonl"
    p.write_bytes(raw_json(arr, indent=1))
    _all_readers(p, "lm_eval_samples")
    outcome(rm.read_items, [folder / "results.json", p])


# --------------------------------------------------------------------------- Inspect .eval (ZIP)
def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


@fuzz_settings(30)
@given(data=st.data())
def test_eval_zip_members_with_hostile_values(workdir, data):
    members = seeds()["eval_members"]
    target = data.draw(st.sampled_from(sorted(members)))
    out = {n: raw_json(d) for n, d in members.items()}
    out[target] = raw_json(data.draw(mutated_json(members[target])))
    if data.draw(st.booleans()):  # also drop a member now and then
        out.pop(data.draw(st.sampled_from(sorted(out))))
    p = _fresh(workdir) / "log.eval"
    p.write_bytes(_zip(out))
    _all_readers(p, "inspect")
    outcome(rm.read_items, p, reduced=data.draw(st.sampled_from([None, True, False])))
    outcome(rm.read_items, p, cluster="subject")


@fuzz_settings(25)
@given(data=st.data())
def test_eval_zip_bytes_mangled(workdir, data):
    raw = data.draw(mutated_bytes(seeds()["files"]["log.eval"]))
    p = _fresh(workdir) / "log.eval"
    p.write_bytes(raw)
    _all_readers(p, "inspect")


# --------------------------------------------------------------------------- HELM run folders
@fuzz_settings(30)
@given(data=st.data())
def test_helm_run_with_hostile_values(workdir, data):
    files = seeds()["helm"]
    target = data.draw(st.sampled_from(sorted(files)))
    run = _fresh(workdir) / "mmlu-run"
    run.mkdir()
    for name, doc in files.items():
        body = data.draw(mutated_json(doc)) if name == target else doc
        (run / name).write_bytes(raw_json(body))
    _all_readers(run, "helm")
    outcome(
        rm.read_items,
        run,
        split=data.draw(st.sampled_from(["test", "valid"])),
        perturbation="typos",
    )


# --------------------------------------------------------------------------- Parquet
PARQUET_COLUMNS = {
    "struct": ["doc", "model_response", "metric"],
    "flat": ["example", "predictions", "metrics", "full_prompt", "gold"],
    "table": ["study_id", "benchmark", "rl_score", "baseline_score", "n_items", "score", "model"],
}
CELL = st.one_of(
    st.none(),
    st.integers(-(2**62), 2**62),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.booleans(),
)
#: Arrow-representable cell columns: one type per column (Arrow has no mixed columns).
COLUMN = st.one_of(
    st.lists(st.one_of(st.none(), st.integers(-(2**62), 2**62)), min_size=1, max_size=4),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=4),
    st.lists(st.one_of(st.none(), st.text(max_size=8)), min_size=1, max_size=4),
    st.lists(
        st.dictionaries(
            st.sampled_from(["em", "id", "query", "task_name", "x"]),
            st.floats(allow_nan=True),
            max_size=3,
        ),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.lists(st.text(max_size=3), max_size=2), min_size=1, max_size=4),
)


@pytest.mark.parametrize("schema", sorted(PARQUET_COLUMNS))
@fuzz_settings(20)
@given(data=st.data())
def test_parquet_with_wrong_types(workdir, schema, data):
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = data.draw(st.lists(st.sampled_from(PARQUET_COLUMNS[schema]), min_size=1, unique=True))
    n = data.draw(st.integers(1, 4))
    table = {}
    for c in cols:
        vals = data.draw(COLUMN)
        table[c] = (vals * n)[:n]
    folder = _fresh(workdir)
    p = folder / ("details_gsm8k_2025-01-01T00-00-00.parquet" if schema != "table" else "t.parquet")
    try:
        pq.write_table(pa.table(table), p)
    except pa.ArrowException:
        return  # not representable as Parquet (mixed or empty struct columns): nothing to read
    _all_readers(p, "parquet", "lighteval_details")
    outcome(read_sweep, p)


@pytest.mark.parametrize("name", ["details_gsm8k_2025-01-01T00-00-00.parquet", "flat.parquet"])
@fuzz_settings(15)
@given(data=st.data())
def test_parquet_bytes_mangled(workdir, name, data):
    raw = data.draw(mutated_bytes(seeds()["files"][name]))
    p = _fresh(workdir) / name
    p.write_bytes(raw)
    _all_readers(p, "parquet", "lighteval_details")
    outcome(read_sweep, p)


# --------------------------------------------------------------------------- CSV / TSV / Excel
HEADERS = [
    "study_id",
    "comparison_id",
    "benchmark",
    "metric",
    "rl_score",
    "baseline_score",
    "n_items",
    "rl_sd",
    "baseline_sd",
    "rl_n",
    "baseline_n",
    "score_scale",
    "higher_is_better",
    "arm",
    "score",
    "model",
    "item_id",
    "sd",
    "se",
    "n",
    "r",
    "year",
    "",
    "Unnamed: 0",
]
TEXT_CELL = st.one_of(
    st.sampled_from(
        [
            "",
            "NaN",
            "nan",
            "inf",
            "-inf",
            "Infinity",
            "1e400",
            "-1e400",
            "0",
            "1",
            "-1",
            "0.5",
            "abc",
            "TRUE",
            "=1+1",
            "@SUM(A1)",
            "\ufeff",
            "N/A",
            "proportion",
            "percent",
            "rl",
            "baseline",
            "99999999999999999999999",
        ]
    ),
    st.text(max_size=8),
)


@st.composite
def csv_text(draw, sep: str = ",") -> str:
    cols = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=9))
    nrows = draw(st.integers(0, 4))
    lines = [sep.join(cols)]
    for _ in range(nrows):
        width = len(cols) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        cells = [
            draw(TEXT_CELL).replace("\n", " ").replace("\r", " ") for _ in range(max(width, 0))
        ]
        if draw(st.booleans()) and cells:
            i = draw(st.integers(0, len(cells) - 1))
            cells[i] = '"' + cells[i]  # an unbalanced quote now and then
        lines.append(sep.join(cells))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
@fuzz_settings(40)
@given(data=st.data())
def test_delimited_tables(workdir, suffix, data):
    text = data.draw(csv_text("\t" if suffix == ".tsv" else ","))
    raw = text.encode("utf-8")
    if data.draw(st.booleans()):
        raw = data.draw(mutated_bytes(raw))
    p = _fresh(workdir) / f"t{suffix}"
    p.write_bytes(raw)
    fmt = suffix[1:]
    outcome(detect_format, p)
    outcome(rm.read, p, format=fmt)
    outcome(rm.read_items, p, format=fmt)
    outcome(rm.read, p, score_scale=data.draw(st.sampled_from(["proportion", "percent", "1-10"])))
    outcome(read_sweep, p)
    result = outcome(rm.read, p)
    if isinstance(result, pd.DataFrame):  # whatever was read must flow on or fail cleanly
        outcome(rm.effect_sizes, result, measure=data.draw(st.sampled_from(["RD", "SMD", "OR"])))


@fuzz_settings(15)
@given(data=st.data())
def test_excel_tables(workdir, data):
    cols = data.draw(st.lists(st.sampled_from(HEADERS[:20]), min_size=1, max_size=6, unique=True))
    nrows = data.draw(st.integers(0, 3))
    frame = pd.DataFrame({c: [data.draw(CELL) for _ in range(nrows)] for c in cols})
    p = _fresh(workdir) / "t.xlsx"
    try:
        frame.to_excel(p, index=False, engine="openpyxl")
    except IllegalCharacterError:
        return  # control characters cannot be stored in a workbook: nothing to read
    if data.draw(st.booleans()):
        p.write_bytes(data.draw(mutated_bytes(p.read_bytes())))
    outcome(detect_format, p)
    outcome(rm.read, p)
    outcome(rm.read, p, sheet=data.draw(st.sampled_from([None, 0, 3, "Sheet1", "nope"])))
    outcome(rm.read_items, p)


# --------------------------------------------------------------------------- sweeps
SWEEP_HEADERS = [
    "run_id",
    "status",
    "start_time",
    "end_time",
    "params.lr",
    "params.optimizer",
    "metrics.acc",
    "tags.mlflow.runName",
    "Name",
    "State",
    "Created",
    "Runtime",
    "Sweep",
    "config",
    "summary",
    "learning_rate",
    "kl_coef",
    "acc",
    "",
]


@fuzz_settings(40)
@given(data=st.data())
def test_sweep_exports(workdir, data):
    cols = data.draw(st.lists(st.sampled_from(SWEEP_HEADERS), min_size=1, max_size=7))
    rows = []
    for _ in range(data.draw(st.integers(0, 4))):
        row = []
        for c in cols:
            if c in ("config", "summary"):
                v = data.draw(
                    st.one_of(HOSTILE.map(lambda x: raw_json(x).decode()), st.text(max_size=20))
                )
            else:
                v = data.draw(TEXT_CELL)
            row.append(v)
        rows.append(row)
    buf = io.StringIO()
    import csv

    csv.writer(buf).writerows([cols, *rows])
    p = _fresh(workdir) / "runs.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    fmt = data.draw(st.sampled_from(["auto", "mlflow", "wandb", "wide"]))
    outcome(read_sweep, p, fmt, finished_only=data.draw(st.booleans()))
    outcome(
        read_sweep,
        p,
        types={
            cols[0]: data.draw(
                st.sampled_from(["number", "integer", "boolean", "datetime", "text", "bogus"])
            )
        },
    )
    outcome(read_sweep, p, log_scale=[cols[-1]])


@fuzz_settings(20)
@given(data=st.data())
def test_sweep_json_exports(workdir, data):
    recs = data.draw(
        st.one_of(
            HOSTILE,
            st.lists(st.dictionaries(st.sampled_from(SWEEP_HEADERS), CELL, max_size=4), max_size=4),
        )
    )
    suffix = data.draw(st.sampled_from([".json", ".jsonl"]))
    p = _fresh(workdir) / f"runs{suffix}"
    if suffix == ".jsonl" and isinstance(recs, list):
        p.write_bytes(b"\n".join(raw_json(r) for r in recs))
    else:
        p.write_bytes(raw_json(recs))
    outcome(read_sweep, p)


# --------------------------------------------------------------------------- whole folders
JUNK_NAMES = [
    "a.json",
    "b.jsonl",
    "c.eval",
    "d.parquet",
    "e.csv",
    "f.txt",
    ".hidden.json",
    "results_x.json",
    "samples_arc_2025-03-04T05-06-07.123456.jsonl",
    "run_spec.json",
    "per_instance_stats.json",
    "stats.json",
    "details_x_2025-01-01T00-00-00.parquet",
    "g.xlsx",
    "noext",
]


@fuzz_settings(25)
@given(data=st.data())
def test_folders_with_junk(workdir, data):
    root = _fresh(workdir)
    seeds_ = seeds()["files"]
    for _ in range(data.draw(st.integers(1, 6))):
        sub = root / data.draw(st.sampled_from(["", "x", "x/y", "Org__m"]))
        sub.mkdir(parents=True, exist_ok=True)
        name = data.draw(st.sampled_from(JUNK_NAMES))
        body = data.draw(
            st.one_of(
                st.binary(max_size=64),
                st.sampled_from(sorted(seeds_)).map(lambda k: seeds_[k]),
                HOSTILE.map(raw_json),
            )
        )
        (sub / name).write_bytes(body)
    if data.draw(st.booleans()):
        os.symlink(root / "missing-target", root / "dangling.json")
    if data.draw(st.booleans()):
        (root / "sub.json").mkdir()  # a folder named like a file
    outcome(rm.read, root)
    outcome(rm.read_items, root)
    outcome(rm.read, root, format=data.draw(st.sampled_from(["lm_eval", "inspect", "eee", "csv"])))


# --------------------------------------------------------------------------- regressions
# Inputs the fuzzers found; each used to escape as a foreign exception.
REGRESSIONS = {
    "lm_eval groups not an object": (
        "r.json",
        {"results": {"arc": {"acc": 0.5}}, "versions": {}, "groups": 5},
    ),
    "lm_eval group_subtasks a list": (
        "r.json",
        {"results": {"arc": {"acc": 0.5}}, "versions": [], "group_subtasks": [1]},
    ),
    "lm_eval config a string": (
        "r.json",
        {"results": {"arc": {"acc": 0.5}}, "n-shot": [], "configs": {"arc": 5}, "config": "x"},
    ),
    "lm_eval metric_list not a list": (
        "r.json",
        {
            "results": {"arc": {"acc,none": 0.5}},
            "n-shot": {},
            "configs": {"arc": {"metric_list": 5}},
        },
    ),
    "inspect score not an object": (
        "log.json",
        {"version": 2, "eval": {"model": "m", "task": "t"}, "results": {"scores": [5]}},
    ),
    "inspect generate config not an object": (
        "log.json",
        {
            "version": 2,
            "eval": {"model": "m", "task": "t", "model_generate_config": 5},
            "results": {"scores": [{"metrics": {"accuracy": {"value": 0.5}}}]},
        },
    ),
    "inspect plan not an object": (
        "log.json",
        {
            "version": 2,
            "eval": {"model": "m", "task": "t", "config": 5},
            "plan": 4,
            "results": {"scores": [{"metrics": {"accuracy": {"value": 0.5}}}]},
        },
    ),
    "inspect stderr not an object": (
        "log.json",
        {
            "version": 2,
            "eval": {"model": "m", "task": "t"},
            "results": {"scores": [{"metrics": {"accuracy": {"value": 0.5}, "stderr": 5}}]},
        },
    ),
    "eee uncertainty not an object": (
        "eee.json",
        {
            "schema_version": 1,
            "evaluation_results": [{"score_details": {"score": 0.5, "uncertainty": 5}}],
        },
    ),
    "eee confidence interval not an object": (
        "eee.json",
        {
            "schema_version": 1,
            "evaluation_results": [
                {"score_details": {"score": 0.5, "uncertainty": {"confidence_interval": 4}}}
            ],
        },
    ),
    "eee model_info a list": (
        "eee.json",
        {
            "schema_version": 1,
            "evaluation_results": [{"score_details": {"score": 0.5}, "metric_config": []}],
            "model_info": [],
        },
    ),
}
JSONL_REGRESSIONS = {
    "lm_eval sample metrics a string": b'{"doc_id": 1, "doc": {}, "acc": 1, "metrics": "acc"}\n',
    "lm_eval sample doc_hash a list": b'{"doc_id": 1, "doc": {}, "doc_hash": [1], "acc": 1}\n',
    "lm_eval sample doc_id a list": b'{"doc_id": [1], "doc": {}, "acc": 1}\n',
    "lm_eval sample NaN literal": b'{"doc_id": 1, "doc": {}, "acc": NaN}\n',
    "lm_eval sample array with a number": b'[{"doc_id": 1, "doc": {}, "acc": 1}, 5]',
    "eee instance evaluation a number": b'{"evaluation_id": 1, "sample_id": [1], "evaluation": 5}\n',
    "eee instance sample_id an object": b'{"evaluation_id": 1, "sample_id": {"a": 1}, "evaluation": {"score": 1}, "model_id": [1]}\n',
}


@pytest.mark.parametrize("case", sorted(REGRESSIONS))
def test_reader_regressions_json(tmp_path, case):
    name, doc = REGRESSIONS[case]
    p = tmp_path / name
    p.write_bytes(raw_json(doc))
    for fn in (rm.read, rm.read_items):
        result = outcome(fn, p)
        assert isinstance(result, pd.DataFrame | RlmetaError)


@pytest.mark.parametrize("case", sorted(JSONL_REGRESSIONS))
def test_reader_regressions_jsonl(tmp_path, case):
    p = tmp_path / "samples_arc_2025-03-04T05-06-07.123456.jsonl"
    p.write_bytes(JSONL_REGRESSIONS[case])
    for fn in (rm.read, rm.read_items, read_sweep):
        outcome(fn, p)


def test_eval_summaries_and_reductions_of_the_wrong_shape(tmp_path):
    header = json.dumps({"version": 2, "eval": {"model": "m", "task": "t"}}).encode()
    for members in (
        {"header.json": header, "_journal/summaries/1.json": b"5"},
        {
            "header.json": header,
            "summaries.json": b'[{"id": 1, "epoch": "x", "scores": {"s": {"value": "C"}}}]',
        },
        {"header.json": header, "summaries.json": b'[{"id": [1], "scores": 5}]'},
        {
            "header.json": header,
            "reductions.json": b'[{"scorer": "s", "samples": [5, {"value": 1}]}]',
        },
        {"header.json": header, "reductions.json": b"5"},
    ):
        p = tmp_path / "log.eval"
        p.write_bytes(_zip(members))
        for fn in (rm.read, rm.read_items):
            assert isinstance(outcome(fn, p), RlmetaError)


def test_nan_and_infinity_literals_are_read_as_missing_with_a_reason(tmp_path):
    # Python's json module writes NaN/Infinity for float('nan'/'inf'); harness files may hold them.
    doc = b'{"results": {"arc": {"acc": NaN, "acc_norm": Infinity, "f1": 0.5, "f1_stderr": NaN}}, "versions": {"arc": 0}}'
    p = tmp_path / "r.json"
    p.write_bytes(doc)
    obs = rm.read(p)
    assert obs["metric"].tolist() == ["f1"]
    assert obs["se"].isna().all() and obs["se_flag"].iloc[0] == "stderr nan in file"
    reasons = " | ".join(rm.drop_log(obs)["reason"])
    assert "acc: value nan is not a finite number" in reasons
    assert "acc_norm: value inf is not a finite number" in reasons
    assert np.isfinite(obs["score"]).all()


def test_last_resort_wrapper_names_the_file_and_keeps_the_cause(tmp_path, monkeypatch):
    """A reader bug that escapes as a foreign exception still reaches the user as a ReaderError."""
    from rlmeta.io import simple_evals

    p = evalgen.simple_evals(tmp_path / "mmlu_gpt-x_20250101_000000.json", 0.7, 0.4, n=100)

    def broken(*args, **kwargs):
        raise KeyError("score")

    monkeypatch.setattr(simple_evals, "read_metrics", broken)
    with pytest.raises(
        RlmetaError,
        match=r"mmlu_gpt-x_20250101_000000\.json: cannot read this file as "
        r"simple_evals: unexpected content \(KeyError: 'score'\)",
    ) as info:
        rm.read(p)
    assert info.value.unexpected is True
    assert isinstance(info.value.__cause__, KeyError)


def test_helm_stats_with_missing_or_mistyped_names(tmp_path):
    # regression (fuzz campaign): KeyError 'name' escaped from read_run_items
    run = evalgen.helm_run(tmp_path / "helm", "org/m", [1, 0, 1])
    per = json.loads((run / "per_instance_stats.json").read_text())
    del per[0]["stats"][0]["name"]  # a stat that names nothing belongs to no split: not read
    (run / "per_instance_stats.json").write_text(json.dumps(per))
    for fn in (rm.read, rm.read_items):
        assert isinstance(outcome(fn, run), pd.DataFrame)
    per[0]["stats"][0]["name"] = ["exact_match"]
    (run / "per_instance_stats.json").write_text(json.dumps(per))
    for fn in (rm.read, rm.read_items):
        err = outcome(fn, run)
        assert isinstance(err, RlmetaError) and "expected an object, got an array" in str(err)


@pytest.mark.parametrize("schema", ["flat", "struct"])
def test_parquet_with_invalid_utf8_strings_is_a_reader_error(tmp_path, schema):
    # regression (fuzz campaign): pyarrow accepts damaged string pages until a value is
    # converted, then raised UnicodeDecodeError / ArrowException deep inside pandas
    import pyarrow.parquet as pq

    src = evalgen.lighteval_details(tmp_path / "ok.parquet", [1, 0, 1], schema=schema)
    pq.write_table(pq.read_table(src), src, compression="NONE", use_dictionary=False)
    raw = src.read_bytes()
    # "Question 1" is neither the column minimum nor maximum, so it is only in the data page
    assert raw.count(b"Question 1") >= 1
    bad = tmp_path / ("details_gsm8k_2025-01-01T00-00-00.parquet")
    bad.write_bytes(raw.replace(b"Question 1", b"Que\xb0tion 1"))
    for fn in (rm.read, rm.read_items, read_sweep, lambda p: rm.read(p, format="parquet")):
        result = outcome(fn, bad)
        assert isinstance(result, RlmetaError), result


def test_atheris_harness_replays_inputs(tmp_path, monkeypatch):
    """scripts/fuzz_readers.py (the long, coverage-guided campaign) works without atheris too."""
    import importlib.util

    from rlmeta.io import simple_evals

    script = Path(__file__).parents[1] / "scripts" / "fuzz_readers.py"
    spec = importlib.util.spec_from_file_location("fuzz_script", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for i, (name, data) in enumerate(sorted(seeds()["files"].items())):
        head = bytes([mod.SUFFIXES.index(Path(name).suffix)])
        (tmp_path / f"in{i}").write_bytes(head + data[: len(data) // (i + 1)])  # some truncated
    (tmp_path / "junk").write_bytes(b"\x02PK\x03\x04garbage")
    assert mod.replay([str(tmp_path)]) == 0

    def broken(*args, **kwargs):
        raise KeyError("x")

    # an input that only the last-resort wrapper catches is reported as a finding
    monkeypatch.setattr(simple_evals, "read_metrics", broken)
    with pytest.raises(AssertionError, match="unexpected KeyError"):
        mod.one_input(bytes([0]) + json.dumps({"score": 0.5}).encode())
