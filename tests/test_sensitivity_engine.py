"""Sweeps give identical results locally and on Dask (same seed), and chunking bounds work."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import ConfigError
from rlmeta.sensitivity import gosh, permutation_test, pool_groups, specification_curve
from rlmeta.sensitivity._engine import check_engine, map_chunks

distributed = pytest.importorskip("dask.distributed")
pytestmark = pytest.mark.filterwarnings("ignore")

EFF = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
SMALL = EFF[EFF["study_id"].isin(EFF["study_id"].unique()[:4])].reset_index(drop=True)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as lc:
        with distributed.Client(lc) as c:
            yield c


def test_gosh_identical(client):
    res = rm.meta_analysis(SMALL.iloc[:14])
    a = gosh(res, max_subsets=3000, seed=4, chunk_size=700, quiet=True)
    b = gosh(res, max_subsets=3000, seed=4, chunk_size=700, engine=client, quiet=True)
    assert not a.exact and len(a.to_frame()) == 3000
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    np.testing.assert_array_equal(a.membership, b.membership)
    ex = gosh(rm.meta_analysis(SMALL.iloc[:9]), chunk_size=100, engine=client, quiet=True)
    ex_local = gosh(rm.meta_analysis(SMALL.iloc[:9]), chunk_size=100, quiet=True)
    pd.testing.assert_frame_equal(ex.to_frame(), ex_local.to_frame())


def test_permutation_identical(client):
    res = rm.meta_analysis(EFF, mods="~ log10_params_B")
    a = permutation_test(res, n=600, seed=9, chunk_size=250, quiet=True)
    b = permutation_test(res, n=600, seed=9, chunk_size=250, engine=client, quiet=True)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    np.testing.assert_array_equal(a.qm_dist, b.qm_dist)
    r0 = rm.meta_analysis(SMALL)
    a = permutation_test(r0, n=300, seed=2, chunk_size=100, quiet=True)
    b = permutation_test(r0, n=300, seed=2, chunk_size=100, engine=client, quiet=True)
    np.testing.assert_array_equal(a.stat_dist, b.stat_dist)


def test_speccurve_and_null_identical(client):
    ch = {
        "measure": ["RD", "AS"],
        "method": ["REML", "DL"],
        "test": ["z", "knha"],
        "judge_based": ["all", False],
        "outliers": ["none", "influential"],
    }
    data = rm.datasets.load_rl_llm_studies()
    a = specification_curve(data, ch, quiet=True)
    b = specification_curve(data, ch, engine=client, quiet=True)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    for kind in ("bootstrap", "sign-flip"):
        na = a.test_null(12, kind=kind, seed=3, chunk_size=5, quiet=True)
        nb = b.test_null(12, kind=kind, seed=3, chunk_size=5, engine=client, quiet=True)
        pd.testing.assert_frame_equal(na.null_stats, nb.null_stats)
        assert na.pval == nb.pval


def test_pool_groups_identical(client):
    a = pool_groups(EFF, "benchmark", chunk_size=5, quiet=True).to_frame()
    b = pool_groups(EFF, "benchmark", chunk_size=5, engine=client, quiet=True).to_frame()
    pd.testing.assert_frame_equal(a, b)


def _double(shared, t):
    return shared["x"] * t


def test_map_chunks_scheduler_address_and_errors(client):
    addr = client.scheduler.address
    assert map_chunks(_double, {"x": 2}, [1, 2, 3], engine=addr, quiet=True) == [2, 4, 6]
    assert map_chunks(_double, {"x": 2}, [1, 2, 3], engine="dask", quiet=True) == [
        2,
        4,
        6,
    ]  # current client
    with pytest.raises(ConfigError):
        check_engine("threads")


def test_repeated_sweeps_on_one_client(client, monkeypatch):
    """Back-to-back sweeps on the same data each scatter under their own key.

    With content-hashed keys the second sweep reused the first one's key while its
    release was in flight, and the scheduler dropped the data ("lost dependencies").
    """
    res = rm.meta_analysis(SMALL.iloc[:10])
    keys = []
    scatter = client.scatter

    def recording_scatter(*args, **kwargs):
        out = scatter(*args, **kwargs)
        keys.extend(f.key for f in out)
        return out

    monkeypatch.setattr(client, "scatter", recording_scatter)
    ref = gosh(res, chunk_size=100, quiet=True).to_frame()
    for _ in range(12):
        pd.testing.assert_frame_equal(
            gosh(res, chunk_size=100, engine=client, quiet=True).to_frame(), ref
        )
    assert len(keys) == 12 and len(set(keys)) == 12


@pytest.fixture(scope="module")
def process_client():
    """Two worker *processes*: chunks and results are pickled, as on a real cluster."""
    root = str(Path(__file__).resolve().parents[1])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [root, *([old] if old else [])]
    )  # workers import rlmeta
    try:
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as lc:
            with distributed.Client(lc) as c:
                yield c
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def test_worker_processes_identical(process_client):
    c = process_client
    res = rm.meta_analysis(SMALL.iloc[:12])
    a = gosh(res, max_subsets=1500, seed=5, chunk_size=400, quiet=True)
    b = gosh(res, max_subsets=1500, seed=5, chunk_size=400, engine=c, quiet=True)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    np.testing.assert_array_equal(a.membership, b.membership)
    reg = rm.meta_analysis(EFF, mods="~ log10_params_B")
    a = permutation_test(reg, n=300, seed=7, chunk_size=100, quiet=True)
    b = permutation_test(reg, n=300, seed=7, chunk_size=100, engine=c, quiet=True)
    np.testing.assert_array_equal(a.qm_dist, b.qm_dist)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    ch = {"measure": ["RD", "AS"], "method": ["REML", "DL"], "outliers": ["none", "influential"]}
    data = rm.datasets.load_rl_llm_studies()
    a = specification_curve(data, ch, quiet=True)
    b = specification_curve(data, ch, engine=c, quiet=True)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    na = a.test_null(6, seed=1, chunk_size=3, quiet=True)
    nb = b.test_null(6, seed=1, chunk_size=3, engine=c, quiet=True)
    pd.testing.assert_frame_equal(na.null_stats, nb.null_stats)
    pa = pool_groups(EFF, "benchmark", chunk_size=4, quiet=True).to_frame()
    pb = pool_groups(EFF, "benchmark", chunk_size=4, engine=c, quiet=True).to_frame()
    pd.testing.assert_frame_equal(pa, pb)
