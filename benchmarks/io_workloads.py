"""Input/output workloads: ingesting a large lm-eval samples file, and the default report.

* ``ingest_lm_eval_*``: one lm-evaluation-harness ``samples_*.jsonl`` file of
  1,000,000 lines (about 830 MB), generated in a temporary folder and removed
  afterwards.  ``rlmeta.read_items`` (format detection, per-item scores, provenance
  with the file's SHA-256, validation) is compared with two plain baselines that
  only parse the lines: a ``json.loads`` loop keeping ``doc_id`` and ``acc``, and
  ``pandas.read_json(lines=True, engine="pyarrow")`` (the pyarrow engine; the
  default engine needs several GB for this file).
* ``report_default``: ``rlmeta report`` on the bundled dataset (HTML and PDF), wall
  time of the whole command in a fresh process (imports included), as a user runs it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from .runner import Target, Workload

__all__ = ["workloads", "write_lm_eval_samples"]

ROOT = Path(__file__).resolve().parents[1]


def write_lm_eval_samples(path: Path, n_lines: int) -> Path:
    """A large lm-eval (v0.4.3+) per-sample file of ``n_lines`` lines (about 830 bytes each).

    Uses the generator of the test suite (``tests/evalgen.py``), so the benchmark
    reads the same layout that the reader's tests check.
    """
    spec = importlib.util.spec_from_file_location("_rlmeta_evalgen", ROOT / "tests" / "evalgen.py")
    evalgen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evalgen)
    return evalgen.big_lm_eval_samples(path, n_lines)


def _ingest_data(n: int) -> dict:
    tmp = tempfile.mkdtemp(prefix="rlmeta-bench-")
    path = write_lm_eval_samples(
        Path(tmp) / "org__model" / "samples_gsm8k_2025-01-01T00-00-00.000001.jsonl", n
    )
    return {
        "frame": pd.DataFrame(),
        "path": path,
        "cleanup": lambda: shutil.rmtree(tmp, ignore_errors=True),
    }


def _read_items(d):
    import rlmeta as rm

    path = d["path"]

    def run():
        items = rm.read_items(path)
        assert len(items) > 0
        return items

    return run


def _json_loop(d):
    path = d["path"]

    def run():
        ids, acc = [], []
        with open(path, "rb") as fh:
            for line in fh:
                rec = json.loads(line)
                ids.append(rec["doc_id"])
                acc.append(rec["acc"])
        return pd.DataFrame({"item_id": ids, "score": acc})

    return run


def _pandas_read_json(d):
    path = d["path"]
    return lambda: pd.read_json(path, lines=True, engine="pyarrow")


def _report(html_only: bool):
    def setup(d):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        argv = [sys.executable, "-c", "from rlmeta.cli import main; main()", "report", "--quiet"]
        if html_only:
            argv.append("--html-only")

        def run():
            with tempfile.TemporaryDirectory(prefix="rlmeta-report-") as cwd:
                out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    raise RuntimeError(
                        f"rlmeta report failed ({out.returncode}): {out.stderr.strip()[-500:]}"
                    )
                written = sorted(p.name for p in (Path(cwd) / "reports").iterdir())
                want = (
                    ["rl_llm_studies.html"]
                    if html_only
                    else ["rl_llm_studies.html", "rl_llm_studies.pdf"]
                )
                if written != want:
                    raise RuntimeError(f"rlmeta report wrote {written}, expected {want}")

        return run

    return setup


def workloads(quick: bool = False) -> list[Workload]:
    n = 2_000 if quick else 1_000_000
    label = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
    return [
        Workload(
            name=f"ingest_lm_eval_{label}",
            description=f"read_items on one lm-eval samples JSONL file of {n:,} lines",
            make_data=lambda: _ingest_data(n),
            python={
                "rlmeta": _read_items,
                "json.loads loop": _json_loop,
                "pandas.read_json(pyarrow)": _pandas_read_json,
            },
            repeat=2 if quick else 3,
            warmup=quick,
            target=Target.under("ingest 1M lines well under 30 s", 30.0) if not quick else None,
            notes={
                "json.loads loop": "parses and keeps doc_id, acc only (no format detection, provenance, validation)",
                "pandas.read_json(pyarrow)": "parses every field into a frame; no item table",
            },
        ),
        Workload(
            name="report_default" if not quick else "report_html",
            description="`rlmeta report` on the bundled dataset"
            + (" (HTML only)" if quick else " (HTML and PDF), fresh process, wall time"),
            make_data=lambda: {"frame": pd.DataFrame()},
            python={"rlmeta": _report(html_only=quick)},
            repeat=1 if quick else 3,
            warmup=False,
            target=Target.under("default report < 60 s", 60.0),
        ),
    ]
