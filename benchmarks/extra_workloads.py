"""Workloads of rlmeta's other parts (multilevel, sensitivity, readers, report).

Each is added once the part exists; a missing part is skipped with a note.
"""

from __future__ import annotations

from .runner import Workload


def workloads(quick: bool = False) -> list[Workload]:
    return []
