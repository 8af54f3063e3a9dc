"""Workloads of rlmeta's other parts: multilevel, sensitivity, readers and report, Dask."""

from __future__ import annotations

from .runner import Workload


def workloads(quick: bool = False) -> list[Workload]:
    from . import dask_workloads, io_workloads, multilevel_workloads, sensitivity_workloads

    out: list[Workload] = []
    out.extend(multilevel_workloads.workloads(quick))  # 3-level models, CR2 robust inference
    out.extend(
        sensitivity_workloads.workloads(quick)
    )  # LOO, influence, GOSH, permutation, spec curve
    out.extend(io_workloads.workloads(quick))  # lm-eval ingest, the default report
    out.extend(dask_workloads.workloads(quick))  # local vs Dask LocalCluster
    return out
