"""Workloads of rlmeta's other parts (multilevel, sensitivity, readers, report).

Each is added once the part exists; a missing part is skipped with a note.
"""

from __future__ import annotations

from .runner import Workload


def workloads(quick: bool = False) -> list[Workload]:
    out: list[Workload] = []
    from . import multilevel_workloads  # multilevel models and cluster-robust inference

    out.extend(multilevel_workloads.workloads(quick))
    return out
