"""Scale-out workloads: the same sweep locally and on a Dask ``LocalCluster``.

The sweeps of :mod:`rlmeta.sensitivity` cut their work into chunks and run them with
``engine="local"`` (in the calling process) or on Dask (``engine=client``).  Each
workload times the local run and the same call on three local clusters (2 worker
processes with one thread each, with Dask's default nanny settings and with the
nanny's ``MALLOC_TRIM_THRESHOLD_`` unset; 2 threads in the calling process), and
checks once, before timing, that every engine gives the same numbers as the local
run (same seed, same chunks).  Cluster start-up is not timed.  On a single 2-core
machine Dask can at best halve the time; the point of the engine is a real cluster
of many machines (see docs/scaling.md).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .runner import Workload
from .sensitivity_workloads import sens_data

__all__ = ["workloads"]

ROOT = Path(__file__).resolve().parents[1]


def _start_cluster(processes: bool, trim: bool = True):
    """A 2-worker LocalCluster; ``trim=False`` unsets the nanny's ``MALLOC_TRIM_THRESHOLD_``."""
    import dask
    from dask.distributed import Client, LocalCluster

    if processes:  # worker processes must import rlmeta from this checkout
        paths = [str(ROOT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    saved = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    if not trim:
        # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers: glibc then hands
        # freed memory back to the OS at once, and every large numpy temporary of a
        # chunk is page-faulted in anew (about 2x the CPU time of a GOSH chunk).  The
        # nanny also leaves the variable in this process's environment (a LocalCluster's
        # nannies live here), whence the workers would inherit it: remove it meanwhile.
        env["MALLOC_TRIM_THRESHOLD_"] = None
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
            cluster = LocalCluster(
                n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None
            )
    finally:
        if saved is not None:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = saved
    return cluster, Client(cluster)


def _same(a, b) -> None:
    """Raise unless two sweep results hold identical numbers."""
    fa, fb = a.to_frame(), b.to_frame()
    pd.testing.assert_frame_equal(fa, fb, check_exact=True)
    for attr in ("membership", "beta_dist", "stat_dist", "qm_dist"):
        if hasattr(a, attr):
            np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))


def _engine(call, engine: str):
    """``setup`` for one engine: ``call(res, engine)`` runs the sweep."""

    def setup(d):
        import rlmeta as rm

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = rm.meta_analysis(d["frame"])
        if engine == "local":
            return lambda: call(res, "local")
        cluster, client = _start_cluster(
            processes=engine != "threads", trim=engine != "processes-notrim"
        )
        try:
            _same(call(res, "local"), call(res, client))
        except Exception:
            client.close()
            cluster.close()
            raise

        def run():
            return call(res, client)

        def close():
            client.close()
            cluster.close()

        run.close = close
        return run

    return setup


def _gosh_call(n: int, chunk: int):
    def call(res, engine):
        import rlmeta as rm

        return rm.gosh(res, max_subsets=n, seed=0, chunk_size=chunk, engine=engine, quiet=True)

    return call


def _perm_call(n: int, chunk: int):
    def call(res, engine):
        import rlmeta as rm

        return rm.permutation_test(res, n=n, seed=1, chunk_size=chunk, engine=engine, quiet=True)

    return call


def workloads(quick: bool = False) -> list[Workload]:
    try:
        import dask.distributed  # noqa: F401
    except ImportError:  # optional dependency: pip install 'rlmeta[dask]'
        return []
    gk, gchunk = (10, 200) if quick else (18, 20_000)
    pn, pk, pchunk = (2_000, 20, 500) if quick else (200_000, 100, 20_000)
    gosh = _gosh_call(10**6, gchunk)
    perm = _perm_call(pn, pchunk)
    tools = {
        "local": "rlmeta",
        "processes": "rlmeta Dask LocalCluster (2 processes)",
        "processes-notrim": "rlmeta Dask LocalCluster (2 processes, no malloc trim)",
        "threads": "rlmeta Dask LocalCluster (2 threads)",
    }
    return [
        Workload(
            name=f"dask_gosh_k{gk}",
            description=f"GOSH, all {2**gk - 1:,} subsets of k = {gk}, chunks of {gchunk:,}: local vs Dask",
            make_data=lambda: sens_data(gk, 3),
            python={label: _engine(gosh, eng) for eng, label in tools.items()},
            repeat=2 if quick else 3,
            notes={
                label: "results checked identical to local before timing"
                for label in list(tools.values())[1:]
            },
        ),
        Workload(
            name=f"dask_perm_{pn}_k{pk}",
            description=f"permutation test, {pn:,} sign flips, k = {pk}, chunks of {pchunk:,}: local vs Dask",
            make_data=lambda: sens_data(pk, 4),
            python={label: _engine(perm, eng) for eng, label in tools.items()},
            repeat=2 if quick else 3,
            notes={
                label: "results checked identical to local before timing"
                for label in list(tools.values())[1:]
            },
        ),
    ]
