"""Writers of small synthetic evaluation outputs shaped like the real tools' files.

Used by the reader tests (into tmp folders) and by ``tests/data/evals/make_fixtures.py``
(the committed examples).  Shapes follow the harness formats documented in the readers (``rlmeta/io``) and the real files
in ``../shared/fixtures/evals``; no content is copied from them.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

DATE = "2025-03-04T05-06-07.123456"


def _dump(path: Path, obj, indent: int | None = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=indent), encoding="utf-8")
    return path


def _stderr(scores: Sequence[float]) -> float:
    a = np.asarray(scores, dtype=float)
    return float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0


def doc_hash(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, indent=2, ensure_ascii=False).encode()).hexdigest()


# --------------------------------------------------------------------------- lm-eval
def lm_eval_v03(path: Path, acc: float = 0.25, acc_se: float = 0.0126) -> Path:
    return _dump(
        path,
        {
            "results": {
                "arc_challenge": {
                    "acc": acc,
                    "acc_stderr": acc_se,
                    "acc_norm": acc + 0.01,
                    "acc_norm_stderr": acc_se,
                }
            },
            "versions": {"arc_challenge": 0},
        },
        indent=None,
    )


def lm_eval_v042(
    folder: Path, model_args: str, tasks: Mapping[str, Sequence[float]], group: str | None = None
) -> Path:
    """v0.4.0-0.4.2: results.json + ``<model_args>_<task>.jsonl`` holding a JSON array."""
    res, cfg = {}, {}
    for task, scores in tasks.items():
        res[task] = {
            "exact_match,none": float(np.mean(scores)),
            "exact_match_stderr,none": _stderr(scores),
            "alias": f" - {task}" if group else task,
        }
        cfg[task] = {
            "task": task,
            "num_fewshot": 0,
            "metric_list": [
                {"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}
            ],
            "repeats": 1,
        }
    doc: dict = {
        "results": res,
        "configs": cfg,
        "versions": {t: 0 for t in tasks},
        "n-shot": {t: 0 for t in tasks},
        "config": {
            "model": "hf",
            "model_args": model_args,
            "limit": None,
            "bootstrap_iters": 100000,
        },
    }
    if group:
        allscores = [s for v in tasks.values() for s in v]
        grp = {
            "exact_match,none": float(np.mean(allscores)),
            "exact_match_stderr,none": _stderr(allscores),
            "alias": group,
        }
        doc["results"] = {group: grp, **res}
        doc["groups"] = {group: grp}
        doc["group_subtasks"] = {group: list(tasks)}
    _dump(folder / "results.json", doc)
    prefix = re.sub("/|=", "__", model_args)
    for task, scores in tasks.items():
        recs = [
            {
                "doc_id": i,
                "doc": {"question": f"q{i}"},
                "target": ["A", "B"],
                "arguments": [["ctx", {"until": "."}]],
                "resps": [["A"]],
                "filtered_resps": ["A"],
                "exact_match": float(s),
            }
            for i, s in enumerate(scores)
        ]
        _dump(folder / f"{prefix}_{task}.jsonl", recs)
    return folder / "results.json"


def lm_eval_v043(
    folder: Path,
    model: str,
    tasks: Mapping[str, Sequence[float]],
    *,
    date: str = DATE,
    filters: Sequence[str] = ("none",),
    metric: str = "acc",
    corpus_metric: bool = False,
    subject_of=None,
    head: bool = True,
    hib: bool = True,
) -> Path:
    """v0.4.3+/HEAD: ``<model_sanitized>/results_<date>.json`` + ``samples_<task>_<date>.jsonl``."""
    sub = folder / re.sub(r"[\"<>:/|\\?*\[\]]+", "__", model)
    res, hb, nsamp = {}, {}, {}
    for task, scores in tasks.items():
        block: dict = {"alias": task}
        if head:
            block.update(name=task, sample_len=len(scores))
        for f in filters:
            block[f"{metric},{f}"] = float(np.mean(scores))
            block[f"{metric}_stderr,{f}"] = _stderr(scores)
        if corpus_metric:
            block["f1,none"] = 0.5
            block["f1_stderr,none"] = "N/A"
        res[task] = block
        hb[task] = {metric: hib, **({"f1": True} if corpus_metric else {})}
        nsamp[task] = {"original": 10 * len(scores), "effective": len(scores)}
    doc = {
        "results": res,
        "group_subtasks": {t: [] for t in tasks},
        "configs": {t: {"task": t, "num_fewshot": 5, "repeats": 1} for t in tasks},
        "versions": {t: 1.0 for t in tasks},
        "n-shot": {t: 5 for t in tasks},
        "higher_is_better": hb,
        "n-samples": nsamp,
        "config": {
            "model": "hf",
            "model_args": {"pretrained": model, "dtype": "bfloat16"},
            "limit": None,
        },
        "lm_eval_version": "0.4.9",
        "model_name": model,
        "model_name_sanitized": sub.name,
        "total_evaluation_time_seconds": "12.5",
    }
    _dump(sub / f"results_{date}.json", doc)
    for task, scores in tasks.items():
        lines = []
        for i, s in enumerate(scores):
            d = {
                "question": f"{task} question {i}",
                "subject": subject_of(i) if subject_of else "all",
            }
            for f in filters:
                rec = {
                    "doc_id": i,
                    "doc": d,
                    "target": "1",
                    "arguments": {"gen_args_0": {"arg_0": "ctx", "arg_1": " 1"}},
                    "resps": [[["-1.5", "False"]]],
                    "filtered_resps": [["-1.5", "False"]],
                    "filter": f,
                    "metrics": [metric] + (["f1"] if corpus_metric else []),
                    "doc_hash": doc_hash(d),
                    "prompt_hash": "p" * 64,
                    "target_hash": "t" * 64,
                    metric: float(s),
                }
                if corpus_metric:
                    rec["f1"] = [["a"], ["b"]]
                lines.append(json.dumps(rec))
        (sub / f"samples_{task}_{date}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sub / f"results_{date}.json"


def big_lm_eval_samples(path: Path, n_lines: int, *, seed: int = 0, block: int = 10000) -> Path:
    """A large v0.4.3+ samples file (for streaming tests/benchmarks), written in blocks."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    pad = "x" * 300  # realistic line length (about 700 bytes)
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, n_lines, block):
            acc = rng.integers(0, 2, size=min(block, n_lines - start))
            out = []
            for j, a in enumerate(acc):
                i = start + j
                out.append(
                    f'{{"doc_id": {i}, "doc": {{"question": "q{i} {pad}", "choices": ["a", "b", "c", "d"]}}, '
                    '"target": "1", "arguments": {"gen_args_0": {"arg_0": "ctx", "arg_1": " 1"}}, '
                    '"resps": [[["-1.25", "False"]]], "filtered_resps": [["-1.25", "False"]], "filter": "none", '
                    f'"metrics": ["acc"], "doc_hash": "{i:064x}", "prompt_hash": "{i:064x}", '
                    f'"target_hash": "{i:064x}", "acc": {float(a):.1f}}}\n'
                )
            fh.write("".join(out))
    return path


# --------------------------------------------------------------------------- Inspect
def _inspect_header(model: str, task: str, scores: Sequence[float], old: bool = False) -> dict:
    acc = float(np.mean(scores)) if len(scores) else 0.0
    key = "options" if old else "params"
    return {
        "version": 2,
        "status": "success",
        "eval": {
            "run_id": "r1",
            "created": "2025-01-01T00:00:00+00:00",
            "task": task,
            "task_id": "t1",
            "task_version": 0,
            "dataset": {"name": task, "samples": len(scores)},
            "model": model,
            "model_generate_config": {"temperature": 0.7},
            "config": {"epochs": 1},
            "packages": {"inspect_ai": "0.3.99"},
        },
        "plan": {"name": "plan", "steps": [], "config": {}},
        "results": {
            "total_samples": len(scores),
            "completed_samples": len(scores),
            "scores": [
                {
                    "name": "match",
                    "scorer": "match",
                    "scored_samples": len(scores),
                    "unscored_samples": 0,
                    key: {},
                    "metrics": {
                        "accuracy": {"name": "accuracy", "value": acc, key: {}},
                        "stderr": {"name": "stderr", "value": _stderr(scores), key: {}},
                    },
                }
            ],
        },
        "stats": {"started_at": "", "completed_at": "", "model_usage": {}},
    }


def _letter(v: float) -> str:
    return {1.0: "C", 0.0: "I", 0.5: "P"}[float(v)]


def inspect_samples(ids: Sequence, epochs: int, score_of, subject_of=None) -> list[dict]:
    out = []
    for sid in ids:
        for e in range(1, epochs + 1):
            s = {
                "id": sid,
                "epoch": e,
                "input": f"question {sid}",
                "target": "A",
                "scores": {"match": {"value": _letter(score_of(sid, e)), "answer": "A"}},
                "metadata": {"subject": subject_of(sid) if subject_of else "all"},
            }
            out.append(s)
    return out


def inspect_json(
    path: Path, model: str, task: str, samples: list[dict], *, old: bool = False
) -> Path:
    per_item = {}
    for s in samples:
        per_item.setdefault(s["id"], []).append(
            {"C": 1.0, "I": 0.0, "P": 0.5}[s["scores"]["match"]["value"]]
        )
    reduced = [
        {"value": float(np.mean(v)), "answer": "A", "sample_id": k} for k, v in per_item.items()
    ]
    doc = _inspect_header(model, task, [r["value"] for r in reduced], old=old)
    doc["samples"] = samples
    if old:
        doc["results"]["sample_reductions"] = [{"scorer": "match", "samples": reduced}]
    else:
        doc["reductions"] = [{"scorer": "match", "reducer": "mean", "samples": reduced}]
    return _dump(path, doc)


def _zip_bytes(
    members: Mapping[str, bytes], method: int, *, names_override: Mapping[str, str] | None = None
) -> bytes:
    """A ZIP archive written by hand so that zstd (method 93) members can be produced on Python 3.11."""
    import zstandard

    out = bytearray()
    central = bytearray()
    for name, data in members.items():
        if method == 93:
            comp = zstandard.ZstdCompressor(level=3).compress(data)
        elif method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp = c.compress(data) + c.flush()
        else:
            comp = data
        stored_name = (names_override or {}).get(name, name).encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        out += (
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                63,
                0,
                method,
                0,
                0x21,
                crc,
                len(comp),
                len(data),
                len(stored_name),
                0,
            )
            + stored_name
            + comp
        )
        central += (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                63,
                63,
                0,
                method,
                0,
                0x21,
                crc,
                len(comp),
                len(data),
                len(stored_name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + stored_name
        )
    cd_offset = len(out)
    out += central
    out += struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), cd_offset, 0
    )
    return bytes(out)


def inspect_eval(
    path: Path,
    model: str,
    task: str,
    samples: list[dict],
    *,
    compression: str = "deflate",
    with_summaries: bool = True,
    with_samples: bool = True,
    extra: Mapping[str, bytes] | None = None,
    names_override: Mapping[str, str] | None = None,
) -> Path:
    """An ``.eval`` ZIP log with deflate (via zipfile) or zstd (hand-written ZIP) members."""
    per_item = {}
    for s in samples:
        per_item.setdefault(s["id"], []).append(
            {"C": 1.0, "I": 0.0, "P": 0.5}[s["scores"]["match"]["value"]]
        )
    reduced = [
        {"value": float(np.mean(v)), "answer": "A", "sample_id": k} for k, v in per_item.items()
    ]
    header = _inspect_header(model, task, [r["value"] for r in reduced])
    members: dict[str, bytes] = {
        "_journal/start.json": json.dumps(
            {"version": 2, "eval": header["eval"], "plan": header["plan"]}
        ).encode()
    }
    if with_samples:
        for s in samples:
            members[f"samples/{s['id']}_epoch_{s['epoch']}.json"] = json.dumps(s).encode()
    if with_summaries:
        summ = [{k: s[k] for k in ("id", "epoch", "input", "target", "scores")} for s in samples]
        members["summaries.json"] = json.dumps(summ).encode()
    members["reductions.json"] = json.dumps([{"scorer": "match", "samples": reduced}]).encode()
    members["header.json"] = json.dumps(header).encode()
    members.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    if compression == "zstd" or names_override:
        path.write_bytes(
            _zip_bytes(members, 93 if compression == "zstd" else 8, names_override=names_override)
        )
    else:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():  # fixed timestamps: regenerated files are identical
                info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
                zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


# --------------------------------------------------------------------------- HELM
def helm_run(
    folder: Path,
    model: str,
    test_scores: Sequence[float],
    valid_scores: Sequence[float] = (1.0,),
    perturbed: Sequence[float] = (),
) -> Path:
    name = f"mmlu:subject=algebra,method=multiple_choice_joint,model={model.replace('/', '_')}"
    run = folder / name.replace(":", "-")
    spec = {
        "name": name,
        "scenario_spec": {"class_name": "x.MMLUScenario", "args": {"subject": "algebra"}},
        "adapter_spec": {
            "method": "multiple_choice_joint",
            "model": model,
            "model_deployment": f"hf/{model}",
            "max_train_instances": 5,
            "num_train_trials": 1,
            "num_outputs": 1,
            "temperature": 0.0,
            "max_tokens": 1,
        },
        "metric_specs": [],
        "groups": ["mmlu"],
    }
    _dump(run / "run_spec.json", spec)

    def stat(metric, split, v, pert=None):
        nm = {"name": metric, "split": split}
        if pert:
            nm["perturbation"] = pert
        return {
            "name": nm,
            "count": 1,
            "sum": v,
            "sum_squared": v * v,
            "min": v,
            "max": v,
            "mean": v,
            "variance": 0.0,
            "stddev": 0.0,
        }

    per = []
    for i, v in enumerate(test_scores):
        per.append(
            {
                "instance_id": f"id{i}",
                "train_trial_index": 0,
                "stats": [
                    stat("exact_match", "test", v),
                    stat("num_prompt_tokens", "test", 300.0),
                    stat("logprob", "test", -1.0),
                ],
            }
        )
    for j, v in enumerate(valid_scores):
        per.append(
            {
                "instance_id": f"v{j}",
                "train_trial_index": 0,
                "stats": [stat("exact_match", "valid", v)],
            }
        )
    for i, v in enumerate(perturbed):
        per.append(
            {
                "instance_id": f"id{i}",
                "train_trial_index": 0,
                "perturbation": {
                    "name": "typos",
                    "robustness": True,
                    "fairness": False,
                    "computed_on": "perturbed",
                },
                "stats": [stat("exact_match", "test", v)],
            }
        )
    _dump(run / "per_instance_stats.json", per)
    mean = float(np.mean(test_scores))
    stats = [
        stat("exact_match", "test", mean),
        stat("num_instances", "test", float(len(test_scores))),
        stat(
            "exact_match",
            "test",
            0.0,
            {"name": "robustness", "robustness": True, "fairness": False, "computed_on": "worst"},
        ),
    ]
    _dump(run / "stats.json", stats)
    return run


# --------------------------------------------------------------------------- lighteval / OLL
def lighteval_results(
    path: Path, model: str, tasks: Mapping[str, tuple[float, float]], *, oll: bool = False
) -> Path:
    """``tasks``: {task_key: (em, stderr)}; keys like 'lighteval|gsm8k|0' or 'harness|arc:challenge|25'."""
    res = {}
    for key, (v, se) in tasks.items():
        metric = "acc_norm" if oll else "em"
        res[key] = {metric: v, f"{metric}_stderr": se, "f1": 0.4, "f1_stderr": 0.001}
    res["all"] = {"em": 0.0, "em_stderr": 0.0}
    if not oll:
        res["lighteval|mmlu:_average|0"] = {"em": 0.5, "em_stderr": 0.01}
    cfg = {}
    for key in tasks:
        base = "|".join(key.split("|")[:-1])
        cfg[base] = {
            "name": base,
            "effective_num_docs": 100,
            "original_num_docs": 1000,
            "metric": [
                {
                    "metric_name": "em" if not oll else "acc_norm",
                    "higher_is_better": True,
                    "corpus_level_fn": "mean",
                },
                {"metric_name": "f1", "higher_is_better": True, "corpus_level_fn": "f1_score"},
            ],
        }
    doc = {
        "config_general": {"lighteval_sha": "abc123", "model_name": model, "num_fewshot_seeds": 1},
        "results": res,
        "versions": {k: 0 for k in tasks},
        "config_tasks": cfg,
        "summary_tasks": {},
        "summary_general": {},
    }
    return _dump(path, doc)


def lighteval_details(
    path: Path, scores: Sequence[float], *, schema: str = "struct", ids: Sequence[str] | None = None
) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(scores)
    if schema == "struct":
        docs = [
            {
                "query": f"Question {i}?",
                "choices": ["a", "b"],
                "gold_index": 0,
                "id": (ids[i] if ids else ""),
                "task_name": "gsm8k",
            }
            for i in range(n)
        ]
        table = pa.table(
            {
                "doc": docs,
                "model_response": [{"text": ["a"], "input": "prompt"} for _ in range(n)],
                "metric": [{"em": float(s), "f1": float(s) / 2} for s in scores],
            }
        )
    else:
        table = pa.table(
            {
                "example": [f"Question {i}?" for i in range(n)],
                "full_prompt": [f"P Question {i}?" for i in range(n)],
                "predictions": [["a"] for _ in range(n)],
                "gold": [["a"] for _ in range(n)],
                "metrics": [{"em": float(s)} for s in scores],
                "specifics": [{"k": "v"} for _ in range(n)],
            }
        )
    pq.write_table(table, path)
    return path


# --------------------------------------------------------------------------- EEE / simple-evals
def eee_aggregate(
    path: Path, model: str, results: Mapping[str, tuple[float, float | None, int | None]]
) -> Path:
    ers = []
    for name, (score, se, n) in results.items():
        unc = {}
        if se is not None:
            unc["standard_error"] = {"value": se, "method": "analytic"}
        if n is not None:
            unc["num_samples"] = n
        ers.append(
            {
                "evaluation_result_id": f"{name}.acc",
                "evaluation_name": name,
                "source_data": {"dataset_name": name, "source_type": "other"},
                "metric_config": {
                    "metric_id": "accuracy",
                    "lower_is_better": False,
                    "metric_unit": "proportion",
                    "score_type": "continuous",
                    "min_score": 0.0,
                    "max_score": 1.0,
                },
                "score_details": {"score": score, **({"uncertainty": unc} if unc else {})},
            }
        )
    doc = {
        "schema_version": "0.3.0",
        "evaluation_id": f"test/{model}/1",
        "retrieved_timestamp": "1",
        "source_metadata": {
            "source_type": "evaluation_run",
            "source_organization_name": "t",
            "evaluator_relationship": "other",
        },
        "eval_library": {"name": "lm_eval", "version": "0.4.9"},
        "model_info": {
            "name": model,
            "id": model,
            "additional_details": {"deployment_type": "unknown", "model_availability": "unknown"},
        },
        "evaluation_results": ers,
    }
    return _dump(path, doc)


def eee_instances(path: Path, model: str, name: str, scores: Sequence[float]) -> Path:
    lines = [
        json.dumps(
            {
                "schema_version": "0.3.0",
                "evaluation_id": f"test/{model}/1",
                "model_id": model,
                "evaluation_name": name,
                "evaluation_result_id": f"{name}.acc",
                "sample_id": f"s{i}",
                "sample_hash": f"h{i}",
                "interaction_type": "single_turn",
                "input": {"raw": "q", "reference": ["a"]},
                "answer_attribution": [],
                "evaluation": {"score": float(s), "is_correct": bool(s)},
                "metadata": {"subject": "odd" if i % 2 else "even"},
            }
        )
        for i, s in enumerate(scores)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def simple_evals(
    path: Path, score: float, std: float, *, n: int | None = None, convos: int | None = None
) -> Path:
    doc = {"score": score, "score:std": std, "stem": score - 0.1, "stem:std": std}
    if n is not None:
        doc["score:n_samples"] = n
    _dump(path, dict(sorted(doc.items())))
    if convos is not None:
        _dump(
            path.with_name(path.stem + "_allresults.json"),
            {
                "score": score,
                "metrics": {},
                "htmls": [],
                "convos": [[{"role": "user", "content": "q"}]] * convos,
                "metadata": {},
            },
        )
    return path
