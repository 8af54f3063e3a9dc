"""Benchmark: stream a large lm-eval per-sample file (default 1,000,000 lines).

    python benchmarks/bench_ingest.py [n_lines]

Prints generation time, file size, ingest time, rows and the peak resident memory.
The file is written to a temporary folder and removed afterwards (no committed data).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evalgen

import rlmeta as rm


def main(n: int = 1_000_000) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "org__model" / "samples_big_2025-01-01T00-00-00.000001.jsonl"
        t = time.perf_counter()
        evalgen.big_lm_eval_samples(p, n)
        print(
            f"generated {n} lines ({p.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s"
        )
        t = time.perf_counter()
        items = rm.read_items(p)
        dt = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"read_items: {len(items)} rows in {dt:.1f} s ({len(items) / dt:,.0f} lines/s); peak RSS {peak:.0f} MB"
        )
        t = time.perf_counter()
        obs = rm.read(p)
        print(f"read (aggregate from items): {len(obs)} rows in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
